"""The networking part of a kubeadm ClusterConfiguration (``kubeadm.k8s.io/v1beta4``).

Written as text, not through a YAML library, so the output is the same bytes on
every run and carries the comments that say why each setting is there.
"""

from __future__ import annotations

import json
import re

from ..plan import FleetPlan

KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4"
# What YAML may carry unquoted and still read as the same string: CIDR lists start with a
# digit or hex letter and hold only these characters; the "/" keeps YAML 1.1 resolvers
# (sexagesimal ints such as 1:30) away. Anything else is written double-quoted.
_PLAIN = re.compile(r"(?=.*/)[0-9a-fA-F][0-9a-fA-F.:/,]*")


def render_kubeadm(plan: FleetPlan) -> str:
    """Render a ClusterConfiguration fragment with the fleet's pod (and service) subnets.

    Args:
        plan: the fleet plan; its Network (and IPv6Network) become ``podSubnet``, and
            its service ranges (checked by plan_fleet) ``serviceSubnet`` when it has any
            (kubeadm's default is 10.96.0.0/12).

    Returns:
        YAML text: one ClusterConfiguration document to merge into the file given to
        ``kubeadm init --config``.

    >>> import ipaddress
    >>> from podnet import parse_net_conf, parse_nodes, plan_fleet
    >>> plan = plan_fleet(parse_net_conf({"Network": "10.244.0.0/16"}),
    ...                   parse_nodes([{"name": "n1", "public_ip": "192.0.2.1"}]),
    ...                   service_cidrs=[ipaddress.ip_network("10.96.0.0/12")])
    >>> text = render_kubeadm(plan)
    >>> print("\\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    apiVersion: kubeadm.k8s.io/v1beta4
    kind: ClusterConfiguration
    networking:
      podSubnet: 10.244.0.0/16
      serviceSubnet: 10.96.0.0/12
    controllerManager:
      extraArgs:
        - name: allocate-node-cidrs
          value: "false"
    """
    pools = plan.net_conf.pools
    services = plan.service_cidrs  # IPv4 first
    # Dual-stack is one comma-separated value, IPv4 first (kubeadm's own convention).
    pod_subnet = ",".join(str(pool.network) for pool in pools)
    lines = [
        "# kubeadm networking for the podnet fleet (rendered by podnet): merge it into the",
        "# ClusterConfiguration given to `kubeadm init --config`.",
        f"apiVersion: {KUBEADM_API_VERSION}",
        "kind: ClusterConfiguration",
        "networking:",
        f"  podSubnet: {_scalar(pod_subnet)}",
    ]
    if services:
        lines.append(f"  serviceSubnet: {_scalar(','.join(str(cidr) for cidr in services))}")
    lines += [
        "controllerManager:",
        "  extraArgs:",
        "    # podnet, not kube-controller-manager, gives each node its pod subnet (the lease",
        "    # file, written to subnet.env and the CNI config). With podSubnet set, kubeadm",
        "    # turns --allocate-node-cidrs on, and the controller would then fill",
        "    # node.spec.podCIDR with subnets of its own choosing that disagree with podnet's.",
        "    # v1beta4 takes extraArgs as a list of name/value; the value is a string, so",
        '    # "false" is quoted (a bare false is a YAML boolean and fails kubeadm\'s decoding).',
        "    - name: allocate-node-cidrs",
        '      value: "false"',
    ]
    return "".join(f"{line}\n" for line in lines)


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when unambiguous, else double-quoted (JSON is YAML)."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text)
