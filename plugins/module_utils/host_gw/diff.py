"""Wanted vs owned host-gw routes -> the changes; the error for a foreign route in a
planned slot; the --diff view. Pure: no kernel, so unit tests build both sides by hand.

Routes are keyed by `route_key` (dst, plus a non-default metric): the kernel's identity
of a route in one table, so a key present on both sides is a replace (`ip route replace`
rewrites gateway and device in place) and never a delete + add, which would cut the
peer's traffic for a moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change, field_reasons
from ..kernel.wire import RTNH_F_ONLINK, RouteMsg
from ..vxlan.state import Route, default_priority, describe_route

# What a host-gw route is made of beyond its key. proto, table and onlink are not here:
# a route that differs in those is not owned, so it never reaches the diff.
MANAGED = ("gateway", "dev", "scope", "type")
PROTOCOLS = {2: "kernel", 3: "boot", 4: "static", 16: "dhcp"}


def diff_routes(
    desired: Mapping[str, Route], owned: Mapping[str, Route], absent: bool = False
) -> list[Change]:
    """Deletes first (owned routes outside the plan), then adds and replaces, each in the
    order of its input. With `absent` (and so an empty `desired`) every owned route goes.

    Nothing depends on anything else here (no device, no neighbour), so the order only
    makes runs read the same; deleting first also means a failed add leaves no stale route.
    """
    planned_dsts = {route.dst: route.peer for route in desired.values()}
    changes = [
        Change(DELETE, "route", key, _delete_reason(route, planned_dsts, absent), _spec(route))
        for key, route in owned.items()
        if key not in desired
    ]
    for key, want in desired.items():
        have = owned.get(key)
        if have is None:
            changes.append(Change(ADD, "route", key, f"peer {want.peer}: missing", _spec(want)))
            continue
        reasons = field_reasons(_managed(want), _managed(have))
        if reasons:
            reason = f"peer {want.peer}: {', '.join(reasons)}"
            changes.append(Change(REPLACE, "route", key, reason, _spec(want)))
    return changes


def _delete_reason(route: Route, planned_dsts: Mapping[str, str], absent: bool) -> str:
    if absent:
        return "state=absent"
    peer = planned_dsts.get(route.dst)
    if peer is not None:  # the same dst with another metric: a second route to the peer
        return f"not in the plan (peer {peer}'s route has the default metric)"
    return "not in the plan (no peer has this subnet: it left the inventory or moved)"


def _managed(route: Route) -> dict[str, Any]:
    return {name: getattr(route, name) for name in MANAGED}


def _spec(route: Route) -> dict[str, Any]:
    """What the apply step needs to write or name the route exactly."""
    return {
        "dst": route.dst,
        "gateway": route.gateway,
        "dev": route.dev,
        "priority": route.priority,
        "proto": route.proto,
        "table": route.table,
    }


def view(routes: Mapping[str, Route]) -> dict[str, Any]:
    """The --diff view, as the vxlan module shows its routes: one line per route.

    >>> view({"10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.12", "eth0", False)})
    {'routes': {'10.244.2.0/24': 'via 192.0.2.12 dev eth0 proto boot'}}
    """
    return {"routes": {key: describe_route(route) for key, route in routes.items()}}


def slot_conflicts(
    desired: Mapping[str, Route], foreign: Mapping[str, RouteMsg], names: Mapping[int, str]
) -> list[str]:
    """Planned routes whose slot (dst and metric in table main) a foreign route holds.

    `ip route replace` would silently take such a route over, and podnet never touches
    what it does not own, so each one is a problem for a human, with the way out.
    `names`: interface names by ifindex, for the message.
    """
    problems = []
    for key, want in desired.items():
        other = foreign.get(key)
        if other is None:
            continue
        dev = names.get(other.oif, "") if other.oif else ""
        problems.append(
            f"route {key} (peer {want.peer}) is taken in table main by a route podnet does not "
            f"own ({_describe(other, dev)}); {_way_out(other, dev)}"
        )
    return problems


def _describe(msg: RouteMsg, dev: str) -> str:
    words = [msg.dst]
    if msg.gateway:
        words.append(f"via {msg.gateway}")
    if dev:
        words.append(f"dev {dev}")
    if msg.flags & RTNH_F_ONLINK:
        words.append("onlink")
    words.append(f"proto {PROTOCOLS.get(msg.proto, msg.proto)}")
    if msg.priority != default_priority(msg.family):
        words.append(f"metric {msg.priority}")
    return " ".join(words)


def _way_out(msg: RouteMsg, dev: str) -> str:
    if dev.startswith(("flannel.", "flannel-v6.")):
        return (
            f"{dev} is a VXLAN device of flannel or podnet: remove it first "
            "(podnet.fabric.vxlan with state=absent), then run again"
        )
    if dev.startswith("flannel-wg"):
        return f"{dev} is a WireGuard device of flannel or podnet: remove it first, then run again"
    return f"delete it (ip route del {_describe(msg, dev)}) or change the peer's subnet"
