"""host-gw's routes: which routes of table main podnet owns, which it wants, and whether
the kernel would accept them. Pure: dumped `RouteMsg` records in, plain data out.

flanneld's host-gw route per peer (reference flannel-host-state.md section 2):
`<peer subnet> via <peer public IP> dev <underlay>`, table main, proto boot, scope
universe, no onlink. podnet owns every route of that class inside the cluster network -
table main, proto boot, dst inside `network`, one gateway, no onlink, on ANY device. That
is the vxlan module's class of direct routes too (DirectRouting), on purpose: switching
the backend between vxlan+DirectRouting and host-gw adopts these routes instead of
fighting over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..kernel.ipnet import Cidr, parse_cidr, parse_ip
from ..kernel.wire import RT_TABLE_MAIN, RTN_UNICAST, RTNH_F_ONLINK, RouteMsg
from ..vxlan.state import Route, default_priority, route_key
from .input import AF_INET, HostGwParams, HostGwPeer

RT_SCOPE_UNIVERSE = 0


@dataclass(frozen=True)
class TableMain:
    """Table main's routes inside `network`, split by owner and keyed by `route_key`
    (dst, plus the metric when it is not the family's default)."""

    owned: dict[str, RouteMsg]
    foreign: dict[str, RouteMsg]


def split_table_main(main: Iterable[RouteMsg], network: Cidr) -> TableMain:
    """Owned and foreign routes with a dst inside `network` (prefix at least as long).

    Routes elsewhere (the default route, the underlay's connected routes) are neither.
    """
    owned: dict[str, RouteMsg] = {}
    foreign: dict[str, RouteMsg] = {}
    for msg in main:
        if msg.table != RT_TABLE_MAIN or not parse_cidr(msg.dst).subnet_of(network):
            continue
        key = route_key(msg.dst, msg.priority, msg.family)
        (owned if msg.is_direct_route else foreign)[key] = msg
    return TableMain(owned, foreign)


def as_route(msg: RouteMsg, dev: str) -> Route:
    """A dumped route in the model the diff compares; `dev` is the name of its oif."""
    return Route(
        dst=msg.dst,
        gateway=msg.gateway,
        dev=dev,
        onlink=bool(msg.flags & RTNH_F_ONLINK),
        priority=msg.priority,
        proto=msg.proto,
        table=msg.table,
        scope=msg.scope,
        type=msg.type,
    )


def plan_routes(params: HostGwParams) -> dict[str, Route]:
    """The routes this host should have: one per peer, nothing for state=absent.

    >>> from .input import validate_host_gw
    >>> params = validate_host_gw({"network": "10.244.0.0/16", "dev": "eth0", "peers": [
    ...     {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12"}]})
    >>> route = plan_routes(params)["10.244.2.0/24"]
    >>> route.gateway, route.dev, route.onlink, route.proto, route.scope, route.peer
    ('192.0.2.12', 'eth0', False, 3, 0, 'node2')
    """
    if params.state != "present":
        return {}
    assert params.dev is not None  # validated
    priority = default_priority(params.af)  # no metric sent, as flanneld: the kernel's default
    routes = {}
    for peer in params.peers:
        dst = str(peer.subnet)
        routes[route_key(dst, priority, params.af)] = Route(
            dst=dst,
            gateway=peer.public_ip,
            dev=params.dev,
            onlink=False,
            priority=priority,
            scope=RT_SCOPE_UNIVERSE,
            peer=peer.name,
        )
    return routes


def connected_prefixes(main: Iterable[RouteMsg], dev_index: int) -> list[Cidr]:
    """The prefixes `dev` reaches without a gateway, from table main's connected routes.

    IPv4 needs scope link (or narrower): the kernel checks a new route's gateway with a
    lookup that skips scope-universe routes (fib_check_nh_v4_gw). IPv6 dumps report every
    route as scope universe, so for it a route on the device without a gateway is enough.
    """
    return [
        parse_cidr(msg.dst)
        for msg in main
        if msg.oif == dev_index
        and msg.gateway is None
        and msg.type == RTN_UNICAST
        and not msg.multipath
        and (msg.family != AF_INET or msg.scope != RT_SCOPE_UNIVERSE)
    ]


def off_segment(
    peers: Sequence[HostGwPeer], main: Iterable[RouteMsg], dev_index: int
) -> list[HostGwPeer]:
    """Peers whose public IP no connected route of the device holds, in input order.

    Such a gateway is not on-link, so the kernel would refuse the route (ENETUNREACH for
    IPv4, EHOSTUNREACH for IPv6) - flanneld finds out only then and retries forever.
    A host has a handful of connected routes, so this is O(peers x handful).
    """
    prefixes = connected_prefixes(main, dev_index)
    far = []
    for peer in peers:
        value = parse_ip(peer.public_ip)[1]
        if not any(prefix.contains(value) for prefix in prefixes):
            far.append(peer)
    return far


def off_segment_problem(peer: str, public_ip: str, dev: str) -> str:
    """The message for a gateway the kernel would refuse (or did refuse) as not on-link."""
    return (
        f"peer {peer}'s public IP {public_ip} is not on a segment of dev {dev} "
        f"(no connected route of {dev} in table main holds it): host-gw needs every node "
        "on one L2 segment; use Backend.Type vxlan with DirectRouting true"
    )
