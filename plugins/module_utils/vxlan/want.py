"""From validated parameters and three facts read from the host to the VxlanState the host
should have. Pure: no kernel.

The facts: the underlay's ifindex and MTU (`Underlay`), and table main (DirectRouting:
which peers' public IPs are reachable without a gateway). Direct routes are built by
`kernel.routes.direct_routes`, the function host-gw builds its routes with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import required
from ..kernel.ipnet import parse_ip
from ..kernel.routes import Route, default_priority, direct_routes, route_key
from ..kernel.wire import RTN_UNICAST
from .input import Peer, VxlanInputError, VxlanParams, missing_problem
from .state import (
    NUD_PERMANENT,
    VXLAN_DEFAULT_PORT,
    Address,
    Device,
    FdbEntry,
    Neighbour,
    VxlanState,
    fdb_key,
)

# VXLAN encapsulation overhead per underlay family: outer Ethernet 14 + IP (20 | 40)
# + UDP 8 + VXLAN 8. The kernel refuses a device MTU above underlay MTU minus this.
OVERHEAD = {4: 50, 6: 70}


@dataclass(frozen=True)
class Underlay:
    """What the read step found about the `dev` interface."""

    name: str
    index: int
    mtu: int


# --- the wanted state ------------------------------------------------------------------


def plan_vxlan(
    params: VxlanParams,
    underlay: Underlay | None,
    main_routes: Sequence[Any] = (),
) -> VxlanState:
    """The objects this host should have. `main_routes`: table main (for DirectRouting).

    Raises VxlanInputError for problems only the host can reveal (a missing `dev`, an MTU
    the underlay cannot carry).
    """
    family, ifname = params.af, params.ifname
    if params.state != "present":
        return VxlanState(family, ifname)
    # validate_vxlan requires these with state=present.
    subnet = required(params.subnet, missing_problem("subnet"), VxlanInputError)
    vtep_mac = required(params.vtep_mac, missing_problem("vtep_mac"), VxlanInputError)
    local = required(params.local, missing_problem("local"), VxlanInputError)
    mtu = required(params.mtu, missing_problem("mtu"), VxlanInputError)
    dev = required(params.dev, missing_problem("dev"), VxlanInputError)
    problems = []
    if underlay is None:
        problems.append(
            f"dev: {dev!r} does not exist on this host (network namespace); "
            "name the underlay interface that carries local"
        )
    elif mtu > underlay.mtu - OVERHEAD[params.family]:
        problems.append(
            f"mtu: {mtu} does not fit {underlay.name} (MTU {underlay.mtu}): VXLAN over "
            f"IPv{params.family} needs {OVERHEAD[params.family]} bytes, so at most "
            f"{underlay.mtu - OVERHEAD[params.family]}"
        )
    if problems or underlay is None:  # a missing underlay is one of the problems
        raise VxlanInputError(problems)
    device = Device(
        ifname=ifname,
        kind="vxlan",
        vni=params.vni,
        link=underlay.index,
        local=local,
        port=params.port or VXLAN_DEFAULT_PORT,
        gbp=params.gbp,
        learning=params.learning,
        ttl=0,
        mtu=mtu,
        address=vtep_mac,
        txqlen=0,
        up=True,
        dev=underlay.name,
        accept_ra=0,
    )
    own = Address(subnet.address, subnet.max_prefixlen)
    on_link = on_link_peers(params.peers, main_routes) if params.direct_routing else set()
    # A direct peer gets host-gw's route (on no named device: the kernel picks the
    # underlay) and no tunnel objects; the others a neighbour, an FDB entry and an onlink
    # route through the device. Routes keep the peers' order: it is the apply order.
    direct = direct_routes(
        (peer for peer in params.peers if peer.name in on_link), params.family, None
    )
    priority = default_priority(params.family)
    neighbours: dict[str, Neighbour] = {}
    fdb: dict[str, FdbEntry] = {}
    routes: dict[str, Route] = {}
    for peer in params.peers:
        dst = str(peer.subnet)
        key = route_key(dst, priority, params.family)
        if peer.name in on_link:
            routes[key] = direct[key]
            continue
        gateway = peer.subnet.address
        neighbours[gateway] = Neighbour(gateway, peer.vtep_mac, NUD_PERMANENT, peer.name)
        fdb[fdb_key(peer.vtep_mac, peer.public_ip)] = FdbEntry(
            peer.vtep_mac, peer.public_ip, NUD_PERMANENT, peer.name
        )
        routes[key] = Route(dst, gateway, ifname, True, priority, peer=peer.name)
    return VxlanState(family, ifname, device, {own.key: own}, neighbours, fdb, routes)


def on_link_peers(peers: Iterable[Peer], main_routes: Sequence[Any]) -> set[str]:
    """Names of peers whose public IP table main reaches without a gateway.

    flanneld asks the kernel (`ip route get <public ip>`) once per peer; this answers the
    same question for every peer from one dump: longest prefix first, the lowest metric
    among equals, and only a plain unicast route with no gateway counts as on-link
    (blackhole/unreachable/multipath/nexthop-object routes do not).

    >>> from types import SimpleNamespace as R
    >>> routes = [R(dst="192.0.2.0/24", priority=0, type=1, gateway=None, multipath=False),
    ...           R(dst="0.0.0.0/0", priority=0, type=1, gateway="192.0.2.1", multipath=False)]
    >>> from ..kernel.ipnet import parse_cidr as net
    >>> peers = [Peer("a", net("10.0.1.0/24"), "192.0.2.12", "0a:00:00:00:00:01"),
    ...          Peer("b", net("10.0.2.0/24"), "198.51.100.7", "0a:00:00:00:00:02")]
    >>> sorted(on_link_peers(peers, routes))
    ['a']
    """
    by_length: dict[int, dict[int, Any]] = {}
    for route in main_routes:
        text, _slash, length = route.dst.partition("/")
        plen = int(length)
        net = parse_ip(text)[1]
        best = by_length.setdefault(plen, {}).get(net)
        if best is None or route.priority < best.priority:
            by_length[plen][net] = route
    lengths = sorted(by_length, reverse=True)
    found = set()
    for peer in peers:
        version, value, _text = parse_ip(peer.public_ip)
        bits = 32 if version == 4 else 128
        for plen in lengths:
            route = by_length[plen].get(value >> (bits - plen) << (bits - plen))
            if route is not None:
                if route.type == RTN_UNICAST and route.gateway is None and not route.multipath:
                    found.add(peer.name)
                break
    return found
