"""One pod MTU for the whole fleet.

A pod's packet may cross any two nodes, so the only safe pod MTU is the smallest
underlay MTU in the fleet minus the encapsulation overhead. flannel computes it
per node (each node from its own interface), so in a mixed jumbo/1500 fleet the
jumbo nodes' pods send frames the 1500 nodes drop.

Overhead, header by header (the inner Ethernet header travels inside the tunnel):
- VXLAN over IPv4: outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 50.
- VXLAN over IPv6: outer IPv6 40 + UDP 8 + VXLAN 8 + inner Ethernet 14 = 70
  (the kernel clamps flannel-v6.<VNI> to this; flannel still writes MTU-50).
- WireGuard over IPv4: outer IPv4 20 + UDP 8 + message header 16 (type 4,
  receiver 4, counter 8) + Poly1305 tag 16 = 60; no inner Ethernet (layer 3).
- WireGuard over IPv6: 40 + 8 + 16 + 16 = 80 (flannel uses 80 for both).
- host-gw: nothing is added.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .config import BackendType, NetConf, WireguardMode
from .errors import list_names
from .nodes import Node

OVERHEAD: dict[tuple[BackendType, int], int] = {
    (BackendType.VXLAN, 4): 50,
    (BackendType.VXLAN, 6): 70,
    (BackendType.WIREGUARD, 4): 60,
    (BackendType.WIREGUARD, 6): 80,
    (BackendType.HOST_GW, 4): 0,
    (BackendType.HOST_GW, 6): 0,
}
# IPv6 needs links of at least 1280 bytes (RFC 8200 section 5); 576 is IPv4's
# smallest datagram every host must accept (RFC 791).
MIN_POD_MTU = {4: 576, 6: 1280}


@dataclass(frozen=True, slots=True)
class MtuDecision:
    """The pod MTU and how it came about.

    Attributes:
        mtu: the pod (and tunnel device) MTU for every node.
        underlay: the underlay MTU it was derived from (Backend.MTU or the fleet's smallest).
        overhead: bytes of encapsulation subtracted.
    """

    mtu: int
    underlay: int
    overhead: int


def underlay_families(conf: NetConf, nodes: Sequence[Node]) -> frozenset[int]:
    """The address families tunnels travel over.

    Each pod family rides on the same underlay family (flannel.<VNI> over IPv4,
    flannel-v6.<VNI> over IPv6), except WireGuard's single-tunnel modes, whose
    endpoints are chosen by Mode.
    """
    pods = frozenset(pool.family for pool in conf.pools)
    backend = conf.backend
    if backend.type is not BackendType.WIREGUARD or backend.mode is WireguardMode.SEPARATE:
        return pods
    if backend.mode is WireguardMode.IPV4:
        return frozenset({4})
    if backend.mode is WireguardMode.IPV6:
        return frozenset({6})
    # auto: IPv6 endpoints are used when both ends have IPv6, so count it if anyone has.
    return frozenset({4} | ({6} if any(n.public_ipv6 for n in nodes) else set()))


def compute_mtu(
    conf: NetConf, nodes: Sequence[Node], problems: list[str], warnings: list[str]
) -> MtuDecision:
    """Pod MTU = smallest underlay MTU (or an explicit Backend.MTU) minus the overhead.

    >>> from podnet.config import parse_net_conf
    >>> conf = parse_net_conf({"Network": "10.244.0.0/16"})
    >>> compute_mtu(conf, [Node("a", mtu=9000), Node("b", mtu=1500)], [], []).mtu
    1450
    """
    backend_type = conf.backend.type
    overhead = max(OVERHEAD[backend_type, family] for family in underlay_families(conf, nodes))
    smallest = min((node.mtu for node in nodes), default=1500)
    explicit = conf.backend.mtu
    if explicit:
        too_small = [node for node in nodes if node.mtu < explicit]
        if too_small:
            problems.append(
                f"Backend.MTU: {explicit} is larger than the underlay MTU of {_names(too_small)}:"
                f" their interfaces would drop full-size tunnel packets; set Backend.MTU to"
                f" {smallest} or less, or remove it"
            )
        underlay = explicit
    else:
        underlay = smallest
        small = [node for node in nodes if node.mtu == smallest]
        if len(small) < len(nodes):
            largest = max(node.mtu for node in nodes)
            warnings.append(
                f"pod MTU {smallest - overhead} is set by the smallest underlay MTU {smallest} on"
                f" {_names(small)}; {len(nodes) - len(small)} other node(s) have up to {largest}"
                f" and run their pods below it (flannel would drop packets there instead)"
            )
    pod_mtu = underlay - overhead
    floor = max(MIN_POD_MTU[pool.family] for pool in conf.pools)
    if pod_mtu < floor:
        problems.append(
            f"pod MTU {pod_mtu} ({underlay} - {overhead} {backend_type} overhead) is below"
            f" {floor}, the least the pod network's address families need; raise the underlay MTU"
        )
    return MtuDecision(mtu=pod_mtu, underlay=underlay, overhead=overhead)


def _names(nodes: Sequence[Node]) -> str:
    return list_names(sorted(node.name for node in nodes))
