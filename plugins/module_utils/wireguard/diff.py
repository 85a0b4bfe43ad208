"""Wanted vs owned WireGuard objects -> the changes, in the order the apply step runs them.

Pure: two WgState values in, a list of `Change` out. The list's order is the apply order:

1. deletes, the reverse of the build order: routes, peers, addresses; a device that goes
   takes everything on it along, so then the device's delete is the only change;
2. then the build order: the device, its attributes (MTU, txqueuelen, up), wg's
   settings (private key, listen port, fwmark), addresses, peers, and routes last, once
   the device is up with its address (the kernel refuses a route through a device that
   is down).

A device that is re-created (a device of that name that is not WireGuard) or new has
nothing on it yet, so everything on it is diffed against nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change, field_reasons
from ..kernel.routes import Route, diff_routes
from .state import NONE_WORD, Interface, Link, Peer, WgState

LEFT = "not in the plan (peer left the inventory)"
NOT_PLANNED_ADDRESS = "not in the plan (every address of the device is podnet's)"
NOT_PLANNED_ROUTE = "not in the plan (no longer a cluster network)"
ABSENT = "state=absent"


def diff_wireguard(desired: WgState, actual: WgState) -> list[Change]:
    """Every change that turns `actual` (what podnet owns) into `desired`, in apply order.

    `desired.link is None` means state=absent.
    """
    ifname = desired.ifname
    if desired.link is None:
        if actual.link is None:
            return []
        return [Change(DELETE, "link", ifname, ABSENT, {"ifname": ifname})]
    link_change = _diff_link(desired.link, actual.link)
    fresh = link_change is not None and (
        link_change.op == ADD or bool(link_change.spec.get("recreate"))
    )
    have = WgState(ifname) if fresh else actual
    why_missing = "missing" if not fresh else f"{ifname} is new"

    route_deletes, route_adds = _diff_routes(desired.routes, have.routes, why_missing)
    peer_deletes, peer_adds = _diff_peers(desired.peers, have.peers, why_missing)
    address_deletes = [
        Change(DELETE, "addr", key, NOT_PLANNED_ADDRESS, {"address": key})
        for key in have.addresses
        if key not in desired.addresses
    ]
    address_adds = [
        Change(ADD, "addr", key, why_missing, {"address": key})
        for key in desired.addresses
        if key not in have.addresses
    ]
    wg_change = _diff_interface(ifname, desired.interface, have.interface)
    device = [change for change in (link_change, wg_change) if change is not None]
    return [
        *route_deletes,
        *peer_deletes,
        *address_deletes,
        *device,
        *address_adds,
        *peer_adds,
        *route_adds,
    ]


def _diff_link(want: Link, have: Link | None) -> Change | None:
    spec = _plain(want)
    if have is None:
        return Change(ADD, "link", want.ifname, "missing", spec)
    if have.implementation is None:
        spec["recreate"] = True
        return Change(
            REPLACE,
            "link",
            want.ifname,
            f"{want.ifname} exists but is not a WireGuard device: re-create",
            spec,
        )
    reasons = _reasons(_compared(want), _compared(have))
    if not reasons:
        return None
    spec["recreate"] = False
    spec["changed"] = [
        name for name, value in _compared(want).items() if getattr(have, name) != value
    ]
    return Change(REPLACE, "link", want.ifname, ", ".join(reasons), spec)


def _diff_interface(ifname: str, want: Interface | None, have: Interface | None) -> Change | None:
    if want is None:
        return None
    # A new device has no private key, a random listen port and no fwmark.
    fresh = {"public_key": None, "listen_port": None, "fwmark": 0}
    current = asdict(have) if have is not None else fresh
    wanted = asdict(want)
    reasons = _reasons(wanted, current)
    changed = [name for name, value in wanted.items() if current.get(name) != value]
    if not changed:
        return None
    op = REPLACE if have is not None else ADD
    if "public_key" in changed:  # the public key stands for the private key
        reasons = [r.replace("public_key:", "private key (its public key):") for r in reasons]
    return Change(op, "wg", ifname, ", ".join(reasons), {**wanted, "changed": changed})


def _diff_peers(
    want: Mapping[str, Peer], have: Mapping[str, Peer], why_missing: str
) -> tuple[list[Change], list[Change]]:
    # A wanted peer that shares allowed IPs with a stale key is that node after a key
    # rotation: say so, it is the usual reason a peer's key disappears.
    owner = {ip: peer.name for peer in want.values() for ip in peer.allowed_ips}
    deletes = []
    for key, peer in have.items():
        if key in want:
            continue
        renamed = next((owner[ip] for ip in peer.allowed_ips if ip in owner), None)
        reason = (
            f"not in the plan (peer {renamed}'s previous key: its key changed)" if renamed else LEFT
        )
        deletes.append(Change(DELETE, "peer", key, reason, {"public_key": key}))
    adds = []
    for key, peer in want.items():
        current = have.get(key)
        if current is None:
            adds.append(Change(ADD, "peer", key, f"peer {peer.name}: {why_missing}", _plain(peer)))
        elif current != peer:
            reasons = ", ".join(_reasons(_compared(peer), _compared(current)))
            adds.append(Change(REPLACE, "peer", key, f"peer {peer.name}: {reasons}", _plain(peer)))
    return deletes, adds


def _diff_routes(
    want: Mapping[str, Route], have: Mapping[str, Route], why_missing: str
) -> tuple[list[Change], list[Change]]:
    return diff_routes(want, have, lambda _r: NOT_PLANNED_ROUTE, lambda _r: why_missing)


def _plain(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _compared(obj: Any) -> dict[str, Any]:
    """The fields podnet manages (names and implementations only label things)."""
    return {f.name: getattr(obj, f.name) for f in fields(obj) if f.compare}


def _reasons(wanted: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """field_reasons in wg's words: lists joined with commas, nothing as `(none)`.

    >>> _reasons({"allowed_ips": ("10.244.2.0/24",)}, {"allowed_ips": ()})
    ['allowed_ips: (none) vs 10.244.2.0/24']
    """
    return field_reasons(_shown(wanted), _shown(current))


def _shown(values: dict[str, Any]) -> dict[str, Any]:
    def show(value: Any) -> Any:
        if isinstance(value, tuple):
            return ",".join(value) or NONE_WORD
        return NONE_WORD if value is None else value

    return {name: show(value) for name, value in values.items()}
