"""The kernel side of host-gw: read table main once, check, apply in batches, verify.

    plan_routes, then core.reconcile: read_host_gw -> check_before_writing -> diff_routes
                 -> (check mode stops) -> apply_routes -> read_host_gw -> diff must be empty

A run costs one `link get` for the underlay and one dump of table main, whatever the
fleet size (plus a `link get` per other device an owned or conflicting route is on,
usually none); an unchanged run then writes nothing. Writes go through `rtnl_wire` as
one batch, so 5,000 new peers cost one send per 512 routes rather than a pyroute2 call
each. Everything that can fail before a write (a missing `dev`, a foreign route in a
planned slot, a gateway off the segment) is checked before the first one.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.changes import DELETE, Change
from ..core.errors import required
from ..core.reconcile import reconcile
from ..kernel.handles import get_link
from ..kernel.routes import Route, TableMain, as_route, route_change_request, split_table_main
from ..kernel.wire import NetlinkFailure, Request, RouteMsg, RtnlWire, dump_routes
from .diff import diff_routes, slot_conflicts
from .input import DEV_REQUIRED, HostGwError, HostGwInputError, HostGwParams
from .want import off_segment, off_segment_problem, plan_routes

# What the kernel answers when a route's gateway is not on-link through its device
# (reference section 2): IPv4's fib_check_nh_v4_gw and IPv6's ip6_route_check_nh.
NOT_ON_LINK = (errno.ENETUNREACH, errno.EHOSTUNREACH)


@dataclass(frozen=True)
class Reading:
    """One read: table main (for the segment check), split, and the owned routes as the
    diff's model. `dev_index` is 0 when `dev` does not exist or was not needed."""

    dev_index: int
    main: tuple[RouteMsg, ...]
    table: TableMain
    routes: dict[str, Route]
    names: dict[int, str]  # ifindex -> name: `dev`, owned routes' and conflicting routes' devices


@dataclass(frozen=True)
class Result:
    changes: list[Change]
    before: dict[str, Route]
    after: dict[str, Route]


def reconcile_host_gw(
    ipr: Any, wire: RtnlWire, params: HostGwParams, check_mode: bool = False
) -> Result:
    """core.reconcile over this backend's steps. The plan comes from the parameters alone,
    before the read, which needs it to name the devices of foreign routes in its slots.

    `ipr` is the caller's pyroute2 handle (opened with groups=0) and `wire` the bulk
    channel on its socket: nothing here opens netlink, so tests pass their own.
    """
    desired = plan_routes(params)
    absent = params.state == "absent"

    def want(reading: Reading) -> dict[str, Route]:
        check_before_writing(params, reading, desired)
        return desired

    done = reconcile(
        read=lambda: read_host_gw(ipr, wire, params, desired),
        want=want,
        diff=lambda wanted, reading: diff_routes(wanted, reading.routes, absent),
        apply=lambda wanted, reading, changes: apply_routes(wire, params, reading, wanted, changes),
        check_mode=check_mode,
        differs=lambda wanted, leftover: differs(params, leftover),
    )
    before = done.before.routes
    planned = desired if done.changes else before
    after = done.after.routes if done.after is not None else planned
    return Result(done.changes, before, after)


# --- read ------------------------------------------------------------------------------


def read_host_gw(
    ipr: Any, wire: RtnlWire, params: HostGwParams, desired: Mapping[str, Route]
) -> Reading:
    """Table main, split; device names only where a message or the diff needs one: for
    owned routes, and for foreign routes in `desired`'s slots (the conflict error)."""
    names: dict[int, str] = {}
    dev_index = 0
    if params.state == "present" and params.dev:
        dev_index = _ifindex(ipr, params.dev)
        if dev_index:
            names[dev_index] = params.dev
    main = tuple(dump_routes(wire, params.af))
    table = split_table_main(main, params.network)  # no device of its own: direct routes
    in_slots = [msg for key, msg in table.foreign.items() if key in desired]
    for msg in (*table.owned.values(), *in_slots):
        if msg.oif and msg.oif not in names:
            names[msg.oif] = _ifname(ipr, msg.oif)
    routes = {key: as_route(msg, names.get(msg.oif, "")) for key, msg in table.owned.items()}
    return Reading(dev_index, main, table, routes, names)


def _ifindex(ipr: Any, ifname: str) -> int:
    """The device's index, 0 if there is no such device."""
    link = get_link(ipr, ifname=ifname)
    return int(link["index"]) if link is not None else 0


def _ifname(ipr: Any, index: int) -> str:
    """The device's name; one gone since the dump is named by index (a name only serves
    messages)."""
    link = get_link(ipr, index=index)
    return str(link.get("ifname")) if link is not None else f"ifindex {index}"


# --- checks before any write -----------------------------------------------------------


def check_before_writing(
    params: HostGwParams, reading: Reading, desired: Mapping[str, Route]
) -> None:
    """Fail, listing every problem, if applying the plan cannot work or would take over a
    route podnet does not own. state=absent only deletes owned routes: nothing to check."""
    if params.state != "present":
        return
    if not reading.dev_index:
        raise HostGwInputError(
            [
                f"dev: {params.dev!r} does not exist on this host (network namespace); name "
                "the underlay interface that carries this node's public IP"
            ]
        )
    dev = required(params.dev, DEV_REQUIRED, HostGwInputError)
    problems = slot_conflicts(desired, reading.table.foreign, reading.names)
    problems += [
        off_segment_problem(peer.name, peer.public_ip, dev)
        for peer in off_segment(params.peers, reading.main, reading.dev_index)
    ]
    if problems:
        raise HostGwError(
            problems, "host_gw cannot apply the plan on this host; nothing was changed"
        )


# --- apply and verify ------------------------------------------------------------------


def apply_routes(
    wire: RtnlWire,
    params: HostGwParams,
    reading: Reading,
    desired: Mapping[str, Route],
    changes: Sequence[Change],
) -> None:
    """All changes in one batched transaction, in the diff's order.

    A delete names the route as read (gateway, device, metric, proto), so it can only
    remove that route; an add or replace is `ip route replace` through `dev`.
    """
    requests: list[Request] = []
    by_label: dict[str, Change] = {}
    for change in changes:
        deleting = change.op == DELETE
        oif = reading.table.owned[change.key].oif if deleting else reading.dev_index
        request = route_change_request(change, params.family, oif, onlink=False)
        requests.append(request)
        by_label[request.label] = change
    try:
        wire.transact(requests)
    except NetlinkFailure as exc:
        raise HostGwError(
            [_refusal(label, code, by_label, desired, params) for label, code in exc.failures],
            f"the kernel refused {len(exc.failures)} route change(s)",
        ) from exc


def _refusal(
    label: str,
    code: int,
    by_label: Mapping[str, Change],
    desired: Mapping[str, Route],
    params: HostGwParams,
) -> str:
    change = by_label.get(label)
    want = desired.get(change.key) if change is not None else None
    if want is not None and code in NOT_ON_LINK and params.dev:
        return off_segment_problem(want.peer, str(want.gateway), params.dev)
    reason = f" (reason: {change.reason})" if change is not None else ""
    name = errno.errorcode.get(code, str(code))
    return f"{label}: {os.strerror(code)} ({name}){reason}"


def differs(params: HostGwParams, leftover: Sequence[Change]) -> HostGwError:
    """The error when the kernel does not hold what was applied, naming route and field."""
    return HostGwError(
        [f"{c.op} {c.kind} {c.key}: {c.reason}" for c in leftover],
        "after applying, the kernel still differs from the plan; something else manages "
        "these routes (flanneld, a routing daemon, NetworkManager?): stop it or make it "
        f"leave table main's routes inside {params.network} alone, then run again",
    )
