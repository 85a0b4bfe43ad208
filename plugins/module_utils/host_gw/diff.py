"""Wanted vs owned host-gw routes -> the changes, and the error for a foreign route in a
planned slot: `kernel.routes`' keyed diff and conflict check, in host-gw's words. Pure:
no kernel, so unit tests build both sides by hand.

Nothing depends on anything else here (no device, no neighbour), so the order only makes
runs read the same: deletes first (a failed add then leaves no stale route), then adds
and replaces, each in the order of its input.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..core.changes import Change
from ..kernel import routes
from ..kernel.routes import Route, as_route
from ..kernel.wire import RouteMsg
from ..names import is_wireguard_ifname, parse_vxlan_ifname

LEFT = "not in the plan (no peer has this subnet: it left the inventory or moved)"


def diff_routes(
    desired: Mapping[str, Route], owned: Mapping[str, Route], absent: bool = False
) -> list[Change]:
    """Every change turning `owned` into `desired`. With `absent` (and so an empty
    `desired`) every owned route goes.

    >>> want = {"10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.12", "eth0", False, peer="n2")}
    >>> have = {"10.244.9.0/24": Route("10.244.9.0/24", "192.0.2.19", "eth0", False)}
    >>> [(c.op, c.key, c.reason) for c in diff_routes(want, have)]  # doctest: +NORMALIZE_WHITESPACE
    [('delete', '10.244.9.0/24', 'not in the plan (no peer has this subnet: it left the
      inventory or moved)'), ('add', '10.244.2.0/24', 'peer n2: missing')]
    """
    planned_dsts = {route.dst: route.peer for route in desired.values()}

    def delete_reason(route: Route) -> str:
        if absent:
            return "state=absent"
        peer = planned_dsts.get(route.dst)
        if peer is not None:  # the same dst with another metric: a second route to the peer
            return f"not in the plan (peer {peer}'s route has the default metric)"
        return LEFT

    deletes, upserts = routes.diff_routes(
        desired, owned, delete_reason, lambda route: f"peer {route.peer}: missing"
    )
    return deletes + upserts


def slot_conflicts(
    desired: Mapping[str, Route], foreign: Mapping[str, RouteMsg], names: Mapping[int, str]
) -> list[str]:
    """Planned routes whose slot a foreign route holds (`kernel.routes.slot_conflicts`),
    with host-gw's way out. `names`: interface names by ifindex, for the message."""
    held = {
        key: as_route(msg, names.get(msg.oif, "") if msg.oif else None)
        for key, msg in foreign.items()
        if key in desired
    }
    return routes.slot_conflicts(desired, held, _way_out)


def _way_out(other: Route, shown: str) -> str:
    dev = other.dev or ""
    if parse_vxlan_ifname(dev) is not None:
        return (
            f"{dev} is a VXLAN device of flannel or podnet: remove it first "
            "(podnet.fabric.vxlan with state=absent), then run again"
        )
    if is_wireguard_ifname(dev):
        return f"{dev} is a WireGuard device of flannel or podnet: remove it first, then run again"
    return f"delete it (ip route del {shown}) or change the peer's subnet"
