"""Wanted vs owned VXLAN objects -> the changes, in the order the apply step runs them.

Pure: two VxlanState values in, a list of `Change` out; no kernel, so the unit tests build
both sides by hand. The order of the list is the apply order:

1. deletes, in reverse dependency order: routes, FDB entries, neighbours, addresses, and
   the device last (its neighbours, FDB entries, addresses and onlink routes go with it,
   so they get no delete of their own);
2. then adds and replaces in dependency order: the device, its attributes, addresses,
   neighbours, FDB entries, and routes last: a route through `<peer .0> onlink` that exists
   before the peer's permanent neighbour makes the kernel ARP for the gateway on the
   tunnel, where nobody answers, and the failed entry then has to age out.

A device that must be re-created (an attribute the kernel cannot change) takes its
on-device objects with it, so they are diffed against nothing and re-added; likewise its
neighbours when its MAC changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change, field_reasons
from .state import IMMUTABLE, Address, Device, Neighbour, Route, VxlanState

LEFT = "not in the plan (peer left the inventory)"
# flanneld's EnsureV4AddressOnLink: the device holds one address from the network.
STRAY_ADDRESS = "not in the plan (the device's one address in the network is the node's)"


def diff_vxlan(desired: VxlanState, actual: VxlanState) -> list[Change]:
    """Every change that turns `actual` (owned objects) into `desired`, in apply order.

    `desired.device is None` means state=absent: the device goes, and so does every owned
    object that would outlive it (direct routes on other devices).
    """
    link_change, recreated = _diff_device(desired.device, actual.device, actual.ifname)
    device_goes = desired.device is None or recreated
    ifname = actual.ifname
    # A new MAC on a live device makes the kernel flush the device's neighbours, permanent
    # ones included (NETDEV_CHANGEADDR -> neigh_changeaddr); FDB entries and routes stay.
    mac_changes = (
        link_change is not None
        and not recreated
        and "address" in link_change.spec.get("changed", ())
    )

    # Objects on a device that is deleted (or re-created) vanish with it; only routes on
    # other devices (direct routes) outlive it.
    if device_goes:
        have_routes = {k: r for k, r in actual.routes.items() if r.dev != ifname}
        have_fdb, have_neigh, have_addr = {}, {}, {}
    else:
        have_routes, have_fdb, have_addr = actual.routes, actual.fdb, actual.addresses
        have_neigh = {} if mac_changes else actual.neighbours
    context = _Context(desired, recreated, mac_changes)

    deletes: list[Change] = []
    adds: list[Change] = []
    for kind, want, have in (
        ("addr", desired.addresses, have_addr),
        ("neigh", desired.neighbours, have_neigh),
        ("fdb", desired.fdb, have_fdb),
        ("route", desired.routes, have_routes),
    ):
        kind_deletes, kind_adds = _diff_objects(kind, want, have, context)
        deletes = kind_deletes + deletes  # reverse kind order for deletes
        adds.extend(kind_adds)
    if link_change is not None and link_change.op == DELETE:
        return [*deletes, link_change]
    return deletes + ([link_change] if link_change is not None else []) + adds


class _Context:
    """Words for reasons: which peer an object belongs to, and why it is being re-added."""

    def __init__(self, desired: VxlanState, recreated: bool, mac_changes: bool) -> None:
        self.recreated = recreated
        self.mac_changes = mac_changes
        self.ifname = desired.ifname
        self.absent = desired.device is None
        # A peer's tunnel objects are deleted when it becomes direct-routed: say so. Its
        # neighbour is keyed by the subnet's .0 and its FDB entry by the public IP (which
        # is the direct route's gateway); the two never collide, public IPs lie outside
        # the network.
        self.direct: dict[str, str] = {}
        for route in desired.routes.values():
            if route.dev is None and route.peer and route.gateway:
                self.direct[route.dst.partition("/")[0]] = route.peer
                self.direct[route.gateway] = route.peer

    def delete_reason(self, obj: Any) -> str:
        if self.absent:
            return "state=absent"
        if isinstance(obj, Address):
            return STRAY_ADDRESS
        peer = self.direct.get(getattr(obj, "dst", ""))
        if peer is not None:
            return f"not in the plan (peer {peer} is routed directly now)"
        return LEFT

    def add_reason(self, obj: Any) -> str:
        what = "missing"
        if self.recreated:
            what = f"{self.ifname} is re-created"
        elif self.mac_changes and isinstance(obj, Neighbour):
            what = f"{self.ifname}'s MAC changes, which flushes its neighbours"
        peer = getattr(obj, "peer", "")
        return f"peer {peer}: {what}" if peer else what


def _diff_objects(
    kind: str, want: Mapping[str, Any], have: Mapping[str, Any], context: _Context
) -> tuple[list[Change], list[Change]]:
    deletes = [
        Change(DELETE, kind, key, context.delete_reason(obj), _spec(obj))
        for key, obj in have.items()
        if key not in want
    ]
    adds = []
    for key, obj in want.items():
        current = have.get(key)
        if current is None:
            adds.append(Change(ADD, kind, key, context.add_reason(obj), _spec(obj)))
        elif current != obj:
            reasons = _reasons(obj, current)
            peer = getattr(obj, "peer", "")
            adds.append(
                Change(
                    REPLACE, kind, key, f"peer {peer}: {reasons}" if peer else reasons, _spec(obj)
                )
            )
    return deletes, adds


def _diff_device(
    want: Device | None, have: Device | None, ifname: str
) -> tuple[Change | None, bool]:
    """The link change, if any, and whether the device is re-created."""
    if want is None:
        if have is None:
            return None, False
        return Change(DELETE, "link", ifname, "state=absent", _spec(have)), False
    if have is None:
        return Change(ADD, "link", ifname, "missing", _spec(want)), False
    differ = _device_differences(want, have)
    if not differ:
        return None, False
    immutable = [text for name, text in differ if name in IMMUTABLE]
    if _family(want.local) != _family(have.local):
        immutable.append(f"local: {have.local} vs {want.local} (another address family)")
    spec = _spec(want)
    if immutable:
        spec["recreate"] = True
        reason = ", ".join(immutable) + " (the kernel cannot change this in place: re-create)"
        return Change(REPLACE, "link", ifname, reason, spec), True
    spec["recreate"] = False
    spec["changed"] = [name for name, _text in differ]
    return Change(REPLACE, "link", ifname, ", ".join(text for _n, text in differ), spec), False


def _device_differences(want: Device, have: Device) -> list[tuple[str, str]]:
    """(field, reason) for each managed attribute that differs."""
    differ = []
    for name in _compared_names(want):
        old, new = getattr(have, name), getattr(want, name)
        if old == new:
            continue
        if name == "link":  # ifindexes say little to a reader: name the underlay too
            differ.append((name, f"dev: {have.dev or old} vs {want.dev} (ifindex {new})"))
        else:
            differ.append((name, f"{name}: {old} vs {new}"))
    # accept_ra: None means the kernel has no such sysctl for the device: nothing to do.
    if have.accept_ra is not None and have.accept_ra != want.accept_ra:
        differ.append(("accept_ra", f"accept_ra: {have.accept_ra} vs {want.accept_ra}"))
    return differ


def _family(address: str) -> int:
    return 6 if ":" in address else 4


_FIELDS: dict[type, tuple[str, ...]] = {}
_COMPARED: dict[type, tuple[str, ...]] = {}


def _spec(obj: Any) -> dict[str, Any]:
    """All of the object's fields as a plain dict: Change.spec, read by apply and --diff."""
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


def _compared_names(obj: Any) -> tuple[str, ...]:
    """The fields podnet manages (`peer`, `dev` and the like only label things)."""
    names = _COMPARED.get(type(obj))
    if names is None:
        names = _COMPARED[type(obj)] = tuple(f.name for f in fields(obj) if f.compare)
    return names


def _reasons(want: Any, have: Any) -> str:
    """`gateway: 10.244.2.9 vs 10.244.2.0, onlink: False vs True` over managed fields."""
    names = _compared_names(want)
    return ", ".join(
        field_reasons(
            {name: getattr(want, name) for name in names},
            {name: getattr(have, name) for name in names},
        )
    )


def count_by_kind(changes: Iterable[Change]) -> dict[str, int]:
    """`{"add route": 3, ...}`: a short summary for messages."""
    summary: dict[str, int] = {}
    for change in changes:
        key = f"{change.op} {change.kind}"
        summary[key] = summary.get(key, 0) + 1
    return summary


def find_conflicts(desired: VxlanState, foreign: Mapping[str, Route]) -> list[str]:
    """Wanted routes whose slot in table main a route podnet does not own already holds.

    `ip route replace` would silently overwrite such a route (same dst and metric), and
    podnet never touches what it does not own, so this is an error for a human to settle.
    `foreign` routes carry the name of their device in `dev` (None: no device).
    """
    problems = []
    for key, route in desired.routes.items():
        other = foreign.get(key)
        if other is None:
            continue
        problem = (
            f"route {key} (peer {route.peer}) is taken in table main by a route podnet does "
            f"not own ({other.dst} {_describe_foreign(other)}); "
        )
        dev = other.dev or ""
        if dev != desired.ifname and dev.startswith(("flannel.", "flannel-v6.")):
            # flanneld names devices after the VNI, so a VNI change leaves the old one.
            problem += (
                f"{dev} looks like the device of another VNI: remove it first "
                f"(state=absent with that vni), then run again"
            )
        else:
            problem += "remove that route or change the peer's subnet"
        problems.append(problem)
    return problems


def _describe_foreign(route: Route) -> str:
    words = [f"via {route.gateway}"] if route.gateway else []
    if route.dev:
        words.append(f"dev {route.dev}")
    if route.onlink:
        words.append("onlink")
    words.append(f"proto {route.proto}")
    return " ".join(words)
