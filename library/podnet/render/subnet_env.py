"""flannel's ``/run/flannel/subnet.env``, byte for byte.

The flannel CNI plugin reads this file at every pod ADD (cni-plugin ``flannel.go``), and
so do tools built around flannel, so podnet writes exactly what flanneld writes
(flannel ``pkg/subnet/subnet.go`` ``WriteSubnetFile``): ``KEY=value`` lines, no quotes,
no blank line at the end, keys in flannel's order and only those of enabled families.
"""

from __future__ import annotations

from ..fields import IPNetwork
from ..plan import FleetPlan

# (network key, subnet key) per family; flannel writes IPv4's pair before IPv6's.
_KEYS: dict[int, tuple[str, str]] = {
    4: ("FLANNEL_NETWORK", "FLANNEL_SUBNET"),
    6: ("FLANNEL_IPV6_NETWORK", "FLANNEL_IPV6_SUBNET"),
}


def render_subnet_env(plan: FleetPlan, node: str, ip_masq: bool = True) -> str:
    """Render ``node``'s subnet.env as flanneld would write it.

    Args:
        plan: the fleet plan.
        node: the node whose file this is.
        ip_masq: whether the host masquerades pod traffic leaving the pod network
            (flanneld's ``--ip-masq``); written as ``FLANNEL_IPMASQ``.

    Returns:
        The file's text; every line ends with ``\\n``.

    Raises:
        KeyError: ``node`` is not in the plan.

    >>> from podnet import parse_net_conf, parse_nodes, plan_fleet
    >>> plan = plan_fleet(parse_net_conf({"Network": "10.244.0.0/16"}),
    ...                   parse_nodes([{"name": "n1", "public_ip": "192.0.2.1"}]))
    >>> print(render_subnet_env(plan, "n1"), end="")
    FLANNEL_NETWORK=10.244.0.0/16
    FLANNEL_SUBNET=10.244.1.1/24
    FLANNEL_MTU=1450
    FLANNEL_IPMASQ=true
    """
    me = plan.node(node)
    lines: list[str] = []
    for pool in plan.net_conf.pools:  # IPv4 first, as flannel writes them
        network_key, subnet_key = _KEYS[pool.family]
        subnet = me.subnet_of(pool.family)
        if subnet is None:  # plan_fleet gives every node a subnet of every enabled family
            raise ValueError(f"node {node!r} has no IPv{pool.family} subnet in the plan")
        lines.append(f"{network_key}={pool.network}")
        lines.append(f"{subnet_key}={gateway_interface(subnet)}")
    # One fleet-wide pod MTU (see podnet.mtu), where flanneld writes each node's own.
    lines.append(f"FLANNEL_MTU={plan.mtu.mtu}")
    lines.append(f"FLANNEL_IPMASQ={'true' if ip_masq else 'false'}")  # Go's %t
    return "".join(f"{line}\n" for line in lines)


def gateway_interface(subnet: IPNetwork) -> str:
    """The subnet's first host address with the subnet's prefix: FLANNEL_SUBNET's form.

    flannel writes the lease's network address + 1, not the network itself, because
    the value was made for ``docker --bip`` (the bridge's own address in CIDR form),
    and that .1 is also the address the CNI bridge takes as the pods' gateway
    (host-local's default gateway is the range's first address). Readers mask it back
    to the network: the flannel CNI plugin parses it with Go's ``net.ParseCIDR``.
    ``ipaddress`` prints IPv6 as RFC 5952 (compressed, lower case), like Go's
    ``net.IP.String()``.

    >>> import ipaddress
    >>> gateway_interface(ipaddress.ip_network("fd00:10:244:1::/64"))
    'fd00:10:244:1::1/64'
    """
    return f"{subnet.network_address + 1}/{subnet.prefixlen}"
