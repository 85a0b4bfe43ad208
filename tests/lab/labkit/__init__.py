"""labkit: the built-in namespace lab, as a Python API (DESIGN.md "The lab").

The lab is a fleet of nodes on this machine: each node is a network namespace
(podnet-lab-<node>) with an eth0 on the bridge podnet-lab-br0 (192.0.2.(10+i)/24) and its
own mount namespace, in which /run/flannel, /etc/cni/net.d, /etc/podnet and /var/lib/cni
are the node's own. Ansible reaches a node through /run/podnet-lab/<node>/python, and
pods are attached by the real CNI plugins from /usr/lib/cni, called as a runtime calls
them. Everything needs root.

Import it with tests/lab on sys.path (pytest does this for tests/lab itself)::

    sys.path.insert(0, str(REPO / "tests" / "lab"))
    import labkit

    labkit.fresh_lab(3)                     # down + up: node1..node3, nothing else
    ...                                     # ansible-playbook site.yml
    ip1 = labkit.attach_pod("node1")
    labkit.attach_pod("node2")
    assert labkit.ping("node2", ip1)
    result = labkit.check()                 # figures + .ok + .report()
    labkit.down()
"""

from __future__ import annotations

from .check import CheckResult, PodFigures, check, flannel_mtu
from .cni import CniError
from .layout import Node, node
from .machine import down, fresh_lab, leftover_namespaces, node_names, up
from .nodes import node_run
from .pods import attach_pod, detach_pod, ping, pod_mtu, pod_run, read_pod
from .status import status
from .system import CommandFailed, LabError

__all__ = [
    "CheckResult",
    "CniError",
    "CommandFailed",
    "LabError",
    "Node",
    "PodFigures",
    "attach_pod",
    "check",
    "detach_pod",
    "down",
    "flannel_mtu",
    "fresh_lab",
    "leftover_namespaces",
    "node",
    "node_names",
    "node_run",
    "ping",
    "pod_mtu",
    "pod_run",
    "read_pod",
    "status",
    "up",
]
