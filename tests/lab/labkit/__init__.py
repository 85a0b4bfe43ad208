"""labkit: the built-in namespace lab, as a Python API (DESIGN.md "The lab").

The lab is a fleet of nodes on this machine: each node is a network namespace
(podnet-lab-<node>) with an eth0 on an underlay bridge and its own mount namespace, in
which /run/flannel, /etc/cni/net.d, /etc/podnet, /var/lib/cni and /run/wireguard are the
node's own. Flat (the default): every eth0 on podnet-lab-br0, 192.0.2.(10+i)/24. Routed:
the first half of the nodes there, the rest on podnet-lab-br1, 198.51.100.(10+i)/24, and
the router namespace podnet-lab-router between the two. Ansible reaches a node through
/run/podnet-lab/<node>/python, and pods are attached by the real CNI plugins from
/usr/lib/cni, called as a runtime calls them. Everything needs root.

Import it with tests/lab on sys.path (pytest does this for tests/lab itself)::

    sys.path.insert(0, str(REPO / "tests" / "lab"))
    import labkit

    labkit.fresh_lab(3)                     # down + up: node1..node3, nothing else
    # or labkit.fresh_lab(topology="routed")  # node1,node2 on segment a, node3,node4 on b
    labkit.node("node3").ip, labkit.node("node3").segment.name   # 192.0.2.13, "a" (flat)
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
from .layout import SEGMENT_A, SEGMENT_B, Node, Segment, Topology, current_topology, node
from .machine import (
    DEFAULT_NODES,
    down,
    fresh_lab,
    lab_processes,
    leftover_namespaces,
    node_names,
    up,
)
from .nodes import node_run
from .pods import attach_pod, detach_pod, ping, pod_mtu, pod_run, read_pod
from .procs import LabProcess
from .router import router_run
from .status import status
from .system import CommandFailed, LabError

__all__ = [
    "DEFAULT_NODES",
    "SEGMENT_A",
    "SEGMENT_B",
    "CheckResult",
    "CniError",
    "CommandFailed",
    "LabError",
    "LabProcess",
    "Node",
    "PodFigures",
    "Segment",
    "Topology",
    "attach_pod",
    "check",
    "current_topology",
    "detach_pod",
    "down",
    "flannel_mtu",
    "fresh_lab",
    "lab_processes",
    "leftover_namespaces",
    "node",
    "node_names",
    "node_run",
    "ping",
    "pod_mtu",
    "pod_run",
    "read_pod",
    "router_run",
    "status",
    "up",
]
