"""host-gw's wanted routes, and whether the kernel would accept them. Pure: validated
parameters and dumped `RouteMsg` records in, plain data out.

flanneld's host-gw route per peer (reference flannel-host-state.md section 2):
`<peer subnet> via <peer public IP> dev <underlay>`, table main, proto boot, scope
universe, no onlink: `kernel.routes.direct_routes`, which vxlan's DirectRouting routes
come from too. Which routes podnet owns is `kernel.routes.owns`, the rule both backends
share, so switching between vxlan+DirectRouting and host-gw adopts these routes instead
of fighting over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ..core.errors import required
from ..kernel.ipnet import AF_BY_VERSION, Cidr, parse_cidr, parse_ip
from ..kernel.routes import Route, direct_routes
from ..kernel.wire import RT_SCOPE_UNIVERSE, RTN_UNICAST, RouteMsg
from .input import DEV_REQUIRED, HostGwInputError, HostGwParams, HostGwPeer


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
    dev = required(params.dev, DEV_REQUIRED, HostGwInputError)
    return direct_routes(params.peers, params.family, dev)


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
        and (msg.family != AF_BY_VERSION[4] or msg.scope != RT_SCOPE_UNIVERSE)
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
