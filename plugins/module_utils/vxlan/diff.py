"""Wanted vs owned VXLAN objects -> the changes, in the order the apply step runs them.

Pure: two VxlanState values in, a list of `Change` out; no kernel, so the unit tests build
both sides by hand. The order of the list is the apply order:

1. deletes, in reverse dependency order: routes, FDB entries, neighbours, and the device
   last (its neighbours, FDB entries, addresses and onlink routes go with it, so they get
   no delete of their own);
2. then adds and replaces in dependency order: the device, its attributes, addresses (the
   new one before the old one goes: a device left without an address loses every
   neighbour and route on it), neighbours, FDB entries, and routes last: a route through
   `<peer .0> onlink` that exists before the peer's permanent neighbour makes the kernel
   ARP for the gateway on the tunnel, where nobody answers, and the failed entry then has
   to age out.

A device that must be re-created (an attribute the kernel cannot change) takes its
on-device objects with it, so they are diffed against nothing and re-added; likewise its
neighbours when its MAC changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change
from ..kernel.keyed import all_fields, compared_fields, diff_keyed
from ..kernel.routes import Route, diff_routes, slot_conflicts
from ..names import parse_vxlan_ifname
from .state import IMMUTABLE, Address, Device, FdbEntry, Neighbour, VxlanState

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
    have_routes: Mapping[str, Route]
    have_fdb: Mapping[str, FdbEntry]
    have_neigh: Mapping[str, Neighbour]
    have_addr: Mapping[str, Address]
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
    ):
        kind_deletes, kind_adds = diff_keyed(
            kind, want, have, context.delete_reason, context.add_reason
        )
        if kind == "addr":
            # A renumbered node's address is replaced new-first: deleting a device's last
            # address makes the kernel flush the device's neighbours and routes, the
            # permanent ones too, so the old one goes once the new one is there.
            adds.extend(kind_adds + kind_deletes)
            continue
        deletes = kind_deletes + deletes  # reverse kind order for deletes
        adds.extend(kind_adds)
    route_deletes, route_adds = diff_routes(
        desired.routes, have_routes, context.delete_reason, context.add_reason
    )
    deletes = route_deletes + deletes
    adds.extend(route_adds)
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


def _diff_device(
    want: Device | None, have: Device | None, ifname: str
) -> tuple[Change | None, bool]:
    """The link change, if any, and whether the device is re-created."""
    if want is None:
        if have is None:
            return None, False
        return Change(DELETE, "link", ifname, "state=absent", all_fields(have)), False
    if have is None:
        return Change(ADD, "link", ifname, "missing", all_fields(want)), False
    differ = _device_differences(want, have)
    if not differ:
        return None, False
    immutable = [text for name, text in differ if name in IMMUTABLE]
    if _family(want.local) != _family(have.local):
        immutable.append(f"local: {have.local} vs {want.local} (another address family)")
    spec = all_fields(want)
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
    for name in compared_fields(want):
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


def find_conflicts(desired: VxlanState, foreign: Mapping[str, Route]) -> list[str]:
    """Wanted routes whose slot in table main a route podnet does not own already holds
    (`kernel.routes.slot_conflicts`, in the vxlan module's words). `foreign` routes carry
    the name of their device in `dev` (None: no device)."""

    def way_out(other: Route, _shown: str) -> str:
        dev = other.dev or ""
        if dev != desired.ifname and parse_vxlan_ifname(dev) is not None:
            # flanneld names devices after the VNI, so a VNI change leaves the old one.
            return (
                f"{dev} looks like the device of another VNI: remove it first "
                f"(state=absent with that vni), then run again"
            )
        return "remove that route or change the peer's subnet"

    return slot_conflicts(desired.routes, foreign, way_out, numeric_proto=True)
