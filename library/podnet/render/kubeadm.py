"""The networking part of a kubeadm ClusterConfiguration (``kubeadm.k8s.io/v1beta4``).

Written as text, not through a YAML library, so the output is the same bytes on
every run and carries the comments that say why each setting is there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from ..errors import raise_if
from ..fields import IPNetwork
from ..plan import FleetPlan

KUBEADM_API_VERSION = "kubeadm.k8s.io/v1beta4"
# What YAML may carry unquoted and still read as the same string: CIDR lists start with a
# digit or hex letter and hold only these characters; the "/" keeps YAML 1.1 resolvers
# (sexagesimal ints such as 1:30) away. Anything else is written double-quoted.
_PLAIN = re.compile(r"(?=.*/)[0-9a-fA-F][0-9a-fA-F.:/,]*")


def render_kubeadm(plan: FleetPlan, service_cidrs: Sequence[IPNetwork] = ()) -> str:
    """Render a ClusterConfiguration fragment with the fleet's pod (and service) subnets.

    Args:
        plan: the fleet plan; its Network (and IPv6Network) become ``podSubnet``.
        service_cidrs: the cluster's service ranges, at most one per family; written
            as ``serviceSubnet`` when given (kubeadm's default is 10.96.0.0/12).

    Returns:
        YAML text: one ClusterConfiguration document to merge into the file given to
        ``kubeadm init --config``.

    Raises:
        ValidationError: two service ranges of one family, or one that overlaps a
            pod network.

    >>> import ipaddress
    >>> from podnet import parse_net_conf, parse_nodes, plan_fleet
    >>> plan = plan_fleet(parse_net_conf({"Network": "10.244.0.0/16"}),
    ...                   parse_nodes([{"name": "n1", "public_ip": "192.0.2.1"}]))
    >>> text = render_kubeadm(plan, [ipaddress.ip_network("10.96.0.0/12")])
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
    services = sorted(service_cidrs, key=lambda cidr: cidr.version)  # stable: v4 first
    _check_services(services, [pool.network for pool in pools])
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


def _check_services(services: Sequence[IPNetwork], pod_networks: Sequence[IPNetwork]) -> None:
    problems: list[str] = []
    for family in (4, 6):
        same = [str(cidr) for cidr in services if cidr.version == family]
        if len(same) > 1:
            problems.append(
                f"service_cidrs: {', '.join(same)} are all IPv{family}; kube-apiserver takes"
                " at most one service range per family, keep one"
            )
    for cidr in services:
        for network in pod_networks:
            if cidr.version == network.version and cidr.overlaps(network):
                problems.append(
                    f"service_cidrs: {cidr} overlaps the pod network {network}; pick ranges"
                    " that do not overlap (kubeadm's default service CIDR is 10.96.0.0/12)"
                )
    raise_if(problems)


def _scalar(text: str) -> str:
    """``text`` as a YAML scalar: plain when unambiguous, else double-quoted (JSON is YAML)."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text)
