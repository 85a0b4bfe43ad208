"""Table main's routes, once for every backend: the model, the key, who owns a route, the
wanted routes of peers reached directly, the diff, and the error for a foreign route in a
planned slot.

Families are IP versions here (4 | 6), as in the modules' parameters; netlink's address
families (AF_INET, AF_INET6) are converted where a message is read (`VERSION_BY_AF`) or
written (`route_change_request`).

Ownership (one rule for every backend): podnet owns a route of table main, proto boot,
with one next hop (no multipath, no nexthop object) and dst inside the cluster network
(prefix at least as long), that is either
- on the backend's own device (vxlan's `flannel.1` onlink routes), or
- a direct route: one gateway, no onlink, on any device. That is flanneld's host-gw route
  and vxlan's DirectRouting route alike, on purpose: switching the backend between
  vxlan+DirectRouting and host-gw adopts these routes instead of fighting over them.
Everything else (proto static or kernel routes, other tables, routes outside the network,
another VNI's device) is foreign: never changed, and an error when it holds a planned slot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..core.changes import DELETE, Change
from .ipnet import AF_BY_VERSION, VERSION_BY_AF, Cidr, Inside
from .keyed import diff_keyed
from .wire import (
    RT_TABLE_MAIN,
    RTN_UNICAST,
    RTNH_F_ONLINK,
    RTPROT_BOOT,
    Request,
    RouteMsg,
    route_request,
)

# The metric the kernel gives a route sent without one (flanneld sends none).
DEFAULT_METRIC = {4: 0, 6: 1024}
# rtnetlink.h's RTPROT_* by iproute2's names (/etc/iproute2/rt_protos).
PROTOCOLS = {1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
             10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk",
             16: "dhcp", 17: "mrouted", 18: "keepalived", 42: "babel", 99: "openr",
             186: "bgp", 187: "isis", 188: "ospf", 189: "rip", 192: "eigrp"}  # fmt: skip
# rtnetlink.h's route types and scopes, by iproute2's words (`ip -j route` prints these).
TYPES = {"unicast": 1, "local": 2, "broadcast": 3, "anycast": 4, "multicast": 5,
         "blackhole": 6, "unreachable": 7, "prohibit": 8, "throw": 9, "nat": 10}  # fmt: skip
TYPES_BY_NUMBER = {number: word for word, number in TYPES.items()}
PROTOCOL_NUMBERS = {word: number for number, word in PROTOCOLS.items()}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
SCOPE_WORDS = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}


def default_priority(family: int) -> int:
    """The kernel's metric for a route sent without one: 0 for IPv4, 1024 for IPv6.

    >>> default_priority(4), default_priority(6)
    (0, 1024)
    """
    return DEFAULT_METRIC[family]


def route_key(dst: str, priority: int, family: int) -> str:
    """A route's identity in one table: `dst`, plus ` metric N` for a non-default metric.

    >>> route_key("10.244.2.0/24", 0, 4), route_key("fd00::/64", 1024, 6)
    ('10.244.2.0/24', 'fd00::/64')
    >>> route_key("10.244.2.0/24", 5, 4)
    '10.244.2.0/24 metric 5'
    """
    if priority == DEFAULT_METRIC[family]:
        return dst
    return f"{dst} metric {priority}"


@dataclass(frozen=True)
class Route:
    """A route in table main. `dev` names its device; None: any device (the kernel picks).

    vxlan's tunnelled route is `dst via <peer .0> dev flannel.1 onlink`; a direct route
    (host-gw's, vxlan DirectRouting's) is `dst via <peer public IP>`, on `dev` for host-gw
    and on no named device for vxlan. `peer` only labels messages.
    """

    dst: str
    gateway: str | None
    dev: str | None
    onlink: bool
    priority: int = 0
    proto: int = RTPROT_BOOT
    table: int = RT_TABLE_MAIN
    scope: int = 0
    type: int = RTN_UNICAST
    peer: str = field(default="", compare=False)


def describe_route(route: Route) -> str:
    """The --diff view's line, in iproute2's words (the key holds dst and metric).

    >>> describe_route(Route("10.244.2.0/24", "10.244.2.0", "flannel.1", True))
    'via 10.244.2.0 dev flannel.1 onlink proto boot'
    """
    words = _next_hop(route)
    words.append("proto boot" if route.proto == RTPROT_BOOT else f"proto {route.proto}")
    if route.type != RTN_UNICAST:
        words.append(f"type {route.type}")
    if route.scope:
        words.append(f"scope {route.scope}")
    return " ".join(words)


def _next_hop(route: Route) -> list[str]:
    """`via <gateway> dev <dev> onlink`, each part only where the route has it."""
    words = [f"via {route.gateway}"] if route.gateway else []
    if route.dev:
        words.append(f"dev {route.dev}")
    if route.onlink:
        words.append("onlink")
    return words


# --- what podnet owns ------------------------------------------------------------------


def owns(msg: RouteMsg, device_index: int = 0, direct: bool = True) -> bool:
    """The ownership rule (see the top of this file), but for the network bound.

    `device_index`: the backend's own device (0: none), on which every proto boot unicast
    route with one next hop is the backend's. `direct`: whether the backend also owns the
    direct class (vxlan and host-gw do; WireGuard routes only through its device, and the
    role's host-gw step with state=absent removes direct routes under WireGuard).
    """
    if (
        msg.table != RT_TABLE_MAIN
        or msg.proto != RTPROT_BOOT
        or msg.multipath
        or msg.type != RTN_UNICAST
    ):
        return False
    if device_index and msg.oif == device_index:
        return True
    return direct and msg.gateway is not None and not msg.flags & RTNH_F_ONLINK


@dataclass(frozen=True)
class TableMain:
    """Table main's routes inside the network, split by owner and keyed by `route_key`."""

    owned: dict[str, RouteMsg]
    foreign: dict[str, RouteMsg]


def split_table_main(
    main: Iterable[RouteMsg], network: Cidr | None, device_index: int = 0
) -> TableMain:
    """Owned and foreign routes with a dst inside `network`; routes elsewhere (the default
    route, the underlay's connected routes, other tables) are neither."""
    inside = Inside(network)
    owned: dict[str, RouteMsg] = {}
    foreign: dict[str, RouteMsg] = {}
    for msg in main:
        if msg.table != RT_TABLE_MAIN or not inside.route(msg.dst):
            continue
        key = route_key(msg.dst, msg.priority, VERSION_BY_AF[msg.family])
        (owned if owns(msg, device_index) else foreign)[key] = msg
    return TableMain(owned, foreign)


def as_route(msg: RouteMsg, dev: str | None) -> Route:
    """A dumped route in the model the diff compares; `dev` is how the backend names its
    device (the name of `oif`, or None where the backend does not manage the device)."""
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


# --- what podnet wants -----------------------------------------------------------------


class DirectPeer(Protocol):
    """A peer as both backends' parameters carry it."""

    @property
    def name(self) -> str: ...
    @property
    def subnet(self) -> Cidr: ...
    @property
    def public_ip(self) -> str: ...


def direct_routes(peers: Iterable[DirectPeer], family: int, dev: str | None) -> dict[str, Route]:
    """flanneld's direct route per peer: `<subnet> via <public IP> [dev <dev>]`, proto
    boot, scope universe, no onlink, no metric sent (so the kernel's default).

    >>> from types import SimpleNamespace as Peer
    >>> from .ipnet import parse_cidr
    >>> peer = Peer(name="node2", subnet=parse_cidr("10.244.2.0/24"), public_ip="192.0.2.12")
    >>> direct_routes([peer], 4, "eth0")["10.244.2.0/24"]
    Route(dst='10.244.2.0/24', gateway='192.0.2.12', dev='eth0', onlink=False, priority=0, proto=3, table=254, scope=0, type=1, peer='node2')
    """  # noqa: E501
    priority = DEFAULT_METRIC[family]
    routes = {}
    for peer in peers:
        dst = str(peer.subnet)
        routes[route_key(dst, priority, family)] = Route(
            dst, peer.public_ip, dev, False, priority, peer=peer.name
        )
    return routes


# --- diff and apply --------------------------------------------------------------------


def route_spec(route: Route) -> dict[str, Any]:
    """A route change's spec: what names the route exactly (a delete carries it as read)."""
    return {
        "dst": route.dst,
        "gateway": route.gateway,
        "dev": route.dev,
        "priority": route.priority,
        "proto": route.proto,
        "table": route.table,
    }


def diff_routes(
    want: Mapping[str, Route],
    have: Mapping[str, Route],
    delete_reason: Callable[[Route], str],
    add_reason: Callable[[Route], str],
) -> tuple[list[Change], list[Change]]:
    """(deletes, adds and replaces) by `route_key`: a key on both sides is `ip route
    replace`, never delete + add. Only routes podnet owns are in `have`, so the fields
    compared (gateway, dev, onlink, scope, type; dst and metric are the key) are the
    ones podnet manages.

    >>> want = {"10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.12", "eth0", False, peer="n2")}
    >>> have = {"10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.99", "eth0", False)}
    >>> _, upserts = diff_routes(want, have, lambda r: "gone", lambda r: "missing")
    >>> [(c.op, c.reason) for c in upserts]
    [('replace', 'peer n2: gateway: 192.0.2.99 vs 192.0.2.12')]
    """
    return diff_keyed(
        "route", want, have, delete_reason, add_reason, spec=route_spec, shown=route_word
    )


def route_word(name: str, value: Any) -> Any:
    """A route field's value in iproute2's words, for a reason: `scope: site vs global`.

    >>> route_word("scope", 253), route_word("type", 6), route_word("proto", 4)
    ('link', 'blackhole', 'static')
    """
    words = {"scope": SCOPE_WORDS, "type": TYPES_BY_NUMBER, "proto": PROTOCOLS}.get(name)
    return words.get(value, value) if words is not None else value


def route_change_request(change: Change, family: int, oif: int, onlink: bool) -> Request:
    """The netlink write of one route change: `ip route replace` for an add or replace,
    an exact delete (gateway, device, metric, proto as read) for a delete."""
    spec = change.spec
    return route_request(
        op_new=change.op != DELETE,
        family=AF_BY_VERSION[family],
        dst=spec["dst"],
        gateway=spec["gateway"],
        oif=oif,
        onlink=onlink,
        priority=spec["priority"],
        table=spec["table"],
        proto=spec["proto"],
    )


# --- a foreign route in a planned slot -------------------------------------------------


def slot_conflicts(
    want: Mapping[str, Route],
    foreign: Mapping[str, Route],
    way_out: Callable[[Route, str], str],
    numeric_proto: bool = False,
    subject: Callable[[str, Route], str] | None = None,
) -> list[str]:
    """Planned routes whose slot (dst and metric in table main) a foreign route holds.

    `ip route replace` would silently take such a route over, and podnet never touches
    what it does not own, so each is a problem for a human: the route, the foreign one
    (with its device's name in `dev`), and `way_out(foreign, its description)`. The
    vxlan module words the protocol as a number (`numeric_proto`), host_gw by name;
    `subject(key, wanted)` names the planned route (default `route <key> (peer <name>)`;
    the wireguard module names its `routes` field).

    >>> want = {"10.244.3.0/24": Route("10.244.3.0/24", "192.0.2.13", "eth0", False, peer="n3")}
    >>> other = Route("10.244.3.0/24", "192.0.2.1", "eth0", False, proto=4)
    >>> slot_conflicts(want, {"10.244.3.0/24": other}, lambda r, shown: "delete it")
    ['route 10.244.3.0/24 (peer n3) is taken in table main by a route podnet does not own (10.244.3.0/24 via 192.0.2.1 dev eth0 proto static); delete it']
    """  # noqa: E501
    problems = []
    for key, route in want.items():
        other = foreign.get(key)
        if other is None:
            continue
        shown = describe_foreign(other, numeric_proto)
        named = subject(key, route) if subject else f"route {key} (peer {route.peer})"
        problems.append(
            f"{named} is taken in table main by a route podnet does not own ({shown}); "
            f"{way_out(other, shown)}"
        )
    return problems


def describe_foreign(route: Route, numeric_proto: bool = False) -> str:
    """`10.244.3.0/24 via 192.0.2.1 dev eth0 proto static [metric 5]`: enough to find it,
    and, with names, a valid `ip route del` argument list."""
    kind = [TYPES_BY_NUMBER.get(route.type, str(route.type))] if route.type != RTN_UNICAST else []
    words = [*kind, route.dst, *_next_hop(route)]
    proto = route.proto if numeric_proto else PROTOCOLS.get(route.proto, route.proto)
    words.append(f"proto {proto}")
    family = 6 if ":" in route.dst else 4
    if route.priority != DEFAULT_METRIC[family]:
        words.append(f"metric {route.priority}")
    return " ".join(words)


# --- routes as `ip -j route` prints them -------------------------------------------------


def route_from_json(msg: Mapping[str, Any], family: int, device: str) -> RouteMsg | None:
    """One route of `ip -d -j -<family> route show table main` as the dump record netlink
    gives (for backends that read through `ip`): `oif` is 1 on `device` and 0 elsewhere,
    which is all `owns(..., device_index=1)` asks. None for a route with no destination.

    >>> msg = route_from_json({"dst": "10.244.0.0/16", "dev": "flannel-wg",
    ...                        "protocol": "boot", "scope": "link"}, 4, "flannel-wg")
    >>> msg.dst, msg.oif, msg.proto, msg.scope, owns(msg, 1, direct=False)
    ('10.244.0.0/16', 1, 3, 253, True)
    """
    dst = msg.get("dst", "")
    if dst == "default":
        dst = "0.0.0.0/0" if family == 4 else "::/0"
    elif not dst:
        return None
    elif "/" not in dst:
        dst = f"{dst}/{32 if family == 4 else 128}"
    protocol = str(msg.get("protocol", "boot"))
    proto = int(protocol) if protocol.isdigit() else PROTOCOL_NUMBERS.get(protocol, -1)
    return RouteMsg(
        family=AF_BY_VERSION[family],
        dst=dst,
        table=RT_TABLE_MAIN,
        proto=proto,
        scope=SCOPES.get(str(msg.get("scope", "global")), 0),
        type=TYPES.get(str(msg.get("type", "unicast")), 0),
        flags=RTNH_F_ONLINK if "onlink" in msg.get("flags", ()) else 0,
        oif=1 if msg.get("dev") == device else 0,
        gateway=msg.get("gateway"),
        priority=int(msg.get("metric", 0)),
        multipath="nexthops" in msg,
    )
