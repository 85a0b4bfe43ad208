"""The kernel side of the VXLAN backend: read what podnet owns, apply changes, verify.

    core.reconcile: read_vxlan -> plan_vxlan (+ slot conflicts) -> diff_vxlan
                    -> (check mode stops) -> apply_vxlan -> read_vxlan -> diff must be empty

Reading costs one call per object kind whatever the fleet size: the device and the
underlay (`link get` each), the device's addresses (one dump), its neighbours and FDB
entries (one kernel-filtered dump each) and table main (one dump), so an unchanged run
of n peers is O(n) parsing and no writes at all. The link and address calls go through
pyroute2; the three per-peer kinds through `rtnl_wire`, which is what keeps n = 5,000
fast (see there).

Ownership is decided here, while reading, so nothing foreign ever reaches the diff:
- addresses of the family on the device inside `network`;
- permanent neighbours of the family on the device whose dst lies inside `network`;
- FDB entries on the device with NTF_SELF, NUD_PERMANENT and a unicast, non-zero MAC
  (the all-zeros BUM entry and learned entries belong to others);
- routes: `kernel.routes.owns`, the rule every backend shares (inside `network`, proto
  boot, on the device or of the direct class that host-gw owns too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change
from ..core.errors import SHOWN, listing
from ..core.reconcile import reconcile
from ..kernel.handles import get_link
from ..kernel.ipnet import VERSION_BY_AF, Inside
from ..kernel.proc import ProcNet
from ..kernel.routes import as_route, route_change_request, split_table_main
from ..kernel.wire import (
    AF_BRIDGE,
    NTF_SELF,
    NUD_PERMANENT,
    NetlinkFailure,
    Request,
    RouteMsg,
    RtnlWire,
    dump_neighbours,
    dump_routes,
    neigh_request,
)
from .diff import diff_vxlan, find_conflicts
from .input import VxlanParams
from .state import (
    AF_INET6,
    VXLAN_DEFAULT_PORT,
    Address,
    Device,
    FdbEntry,
    Neighbour,
    VxlanError,
    VxlanState,
    fdb_key,
)
from .want import Underlay, plan_vxlan

IFF_UP = 0x1
RT_SCOPE_LINK = 253


class VxlanHostError(VxlanError):
    """The host refused or undid a change, or holds something podnet must not overwrite."""


class Host:
    """The kernel handles of one run: the pyroute2 handle (opened by the caller, with
    `groups=0`), the bulk channel on the same socket (the caller's, or one of its own,
    closed with the Host), and /proc/sys/net.

    Nothing here opens netlink on its own, so a test passes `IPRoute(netns=...)`.
    """

    def __init__(self, ipr: Any, proc: ProcNet | None = None, wire: RtnlWire | None = None) -> None:
        self.ipr = ipr
        self._own_wire = wire is None
        self.wire = wire or RtnlWire(ipr)
        self.proc = proc or ProcNet()

    def close(self) -> None:
        if self._own_wire:
            self.wire.close()

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Reading:
    """One read of the host: owned objects plus the facts the plan needs."""

    state: VxlanState
    underlay: Underlay | None
    device_index: int
    main_routes: tuple[RouteMsg, ...] = ()
    # Table main's routes inside `network` that podnet does not own: a conflict when one
    # holds a planned route's slot.
    foreign_routes: dict[str, RouteMsg] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    ifname: str
    changes: list[Change]
    before: VxlanState
    after: VxlanState


# --- read ------------------------------------------------------------------------------


def read_vxlan(host: Host, params: VxlanParams) -> Reading:
    """Everything podnet owns for `params`' device and family, and the plan's host facts."""
    family, ifname = params.af, params.ifname
    underlay = None
    if params.dev:
        msg = get_link(host.ipr, ifname=params.dev)
        if msg is not None:
            underlay = Underlay(params.dev, msg["index"], msg.get("mtu"))
    link = get_link(host.ipr, ifname=ifname)
    index = link["index"] if link is not None else 0
    inside = Inside(params.network)
    device = _device(host, link, underlay) if link is not None else None
    on_device = _read_on_device(host, family, index, inside) if index else ({}, {}, {})
    main = dump_routes(host.wire, family)
    table = split_table_main(main, params.network, index)
    # The model names only podnet's device: a direct route's device is the kernel's choice.
    routes = {
        key: as_route(msg, ifname if index and msg.oif == index else None)
        for key, msg in table.owned.items()
    }
    state = VxlanState(family, ifname, device, *on_device, routes)
    return Reading(state, underlay, index, tuple(main), table.foreign)


def _read_on_device(
    host: Host, family: int, index: int, inside: Inside
) -> tuple[dict[str, Address], dict[str, Neighbour], dict[str, FdbEntry]]:
    """The device's owned addresses, neighbours and FDB entries."""
    addresses: dict[str, Address] = {}
    for msg in host.ipr.get_addr(family=family, index=index):
        address = msg.get("address")
        if msg["scope"] != RT_SCOPE_LINK and inside.address(address):
            found = Address(address, msg["prefixlen"], msg["scope"])
            addresses[found.key] = found
    neighbours = {
        entry.dst: Neighbour(entry.dst, entry.lladdr, entry.state)
        for entry in dump_neighbours(host.wire, family, index)
        if entry.dst is not None and entry.lladdr and inside.address(entry.dst)
    }
    fdb = {
        fdb_key(entry.lladdr, entry.dst): FdbEntry(entry.lladdr, entry.dst, entry.state)
        for entry in dump_neighbours(host.wire, AF_BRIDGE, index)
        if entry.flags & NTF_SELF and entry.dst and entry.lladdr and _unicast(entry.lladdr)
    }
    return addresses, neighbours, fdb


def _device(host: Host, msg: Any, underlay: Underlay | None) -> Device:
    data = msg.get(("linkinfo", "data"))

    def vxlan(name: str, default: Any = None) -> Any:
        value = data.get(name) if data is not None else None
        return default if value is None else value

    link = vxlan("vxlan_link", 0)
    if underlay is not None and underlay.index == link:
        dev = underlay.name
    else:
        found = get_link(host.ipr, index=link) if link else None
        dev = found.get("ifname") if found is not None else ""
    ifname = msg.get("ifname")
    accept_ra = host.proc.read(f"ipv6/conf/{ifname}/accept_ra")
    return Device(
        ifname=ifname,
        kind=msg.get(("linkinfo", "kind")) or "",
        vni=vxlan("vxlan_id", 0),
        link=link,
        local=vxlan("vxlan_local") or vxlan("vxlan_local6") or "",
        port=vxlan("vxlan_port", 0),
        gbp=bool(vxlan("vxlan_gbp", False)),
        learning=bool(vxlan("vxlan_learning", 0)),
        ttl=vxlan("vxlan_ttl", 0),
        mtu=msg.get("mtu"),
        address=msg.get("address"),
        txqlen=msg.get("txqlen"),
        up=bool(msg["flags"] & IFF_UP),
        dev=dev,
        accept_ra=int(accept_ra) if accept_ra not in (None, "") else None,
    )


def _unicast(mac: str) -> bool:
    """Not the all-zeros (BUM) entry and not a group address (I/G bit of octet 0)."""
    return mac != "00:00:00:00:00:00" and not int(mac[:2], 16) & 1


# --- apply -----------------------------------------------------------------------------


def apply_vxlan(host: Host, desired: VxlanState, changes: Sequence[Change], index: int) -> None:
    """Run `changes` (diff_vxlan's order) against the kernel; `index`: the device's ifindex.

    Consecutive neighbour, FDB or route changes go to the kernel as one batch per kind;
    a kind is finished (and checked) before the next starts, so a refused neighbour stops
    the run before its route is added.
    """
    family, ifname = desired.family, desired.ifname
    batch: list[Request] = []
    batch_kind = ""

    def flush() -> None:
        if batch:
            try:
                host.wire.transact(batch)
            except NetlinkFailure as exc:
                raise VxlanHostError(f"{ifname}: {exc}") from exc
            batch.clear()

    for change in changes:
        if change.kind in ("neigh", "fdb", "route"):
            if change.kind != batch_kind:
                flush()
                batch_kind = change.kind
            batch.append(_request(change, desired, index))
            continue
        flush()
        batch_kind = ""
        try:
            if change.kind == "link":
                index = _apply_link(host, change, family, index)
            elif change.kind == "addr":
                _apply_addr(host, change, index)
        except VxlanError:
            raise
        except Exception as exc:  # pyroute2's NetlinkError and OSError, with context
            raise VxlanHostError(
                f"{change.op} {change.kind} {change.key}: {exc} (reason: {change.reason})"
            ) from exc
    flush()


def _request(change: Change, desired: VxlanState, index: int) -> Request:
    spec, new = change.spec, change.op != DELETE
    if change.kind == "neigh":
        return neigh_request(
            op_new=new, family=desired.family, ifindex=index, dst=spec["dst"], lladdr=spec["lladdr"]
        )
    if change.kind == "fdb":
        return neigh_request(
            op_new=new,
            family=AF_BRIDGE,
            ifindex=index,
            dst=spec["dst"],
            lladdr=spec["lladdr"],
            state=NUD_PERMANENT,
            flags=NTF_SELF,
            ndm_type=0,
        )
    # A route on the device goes through its ifindex; a direct route names no device.
    onlink = new and desired.routes[change.key].onlink
    oif = index if spec["dev"] == desired.ifname else 0
    return route_change_request(change, VERSION_BY_AF[desired.family], oif, onlink)


def _apply_link(host: Host, change: Change, family: int, index: int) -> int:
    """One link change; returns the device's ifindex afterwards (0: gone)."""
    ipr, spec = host.ipr, change.spec
    if change.op == DELETE:
        ipr.link("del", index=index)
        return 0
    if change.op == ADD:
        return _create_link(host, spec, family)
    if spec["recreate"]:
        ipr.link("del", index=index)
        return _create_link(host, spec, family)
    # In place: vxlan attributes through IFLA_INFO_DATA (the kernel's changelink), the
    # generic ones through plain IFLA_* attributes.
    changed = set(spec["changed"])
    vxlan: dict[str, Any] = {}
    if "local" in changed:
        vxlan["vxlan_local6" if family == AF_INET6 else "vxlan_local"] = spec["local"]
    if "link" in changed:
        vxlan["vxlan_link"] = spec["link"]
    if "learning" in changed:
        vxlan["vxlan_learning"] = int(spec["learning"])
    if "ttl" in changed:
        vxlan["vxlan_ttl"] = spec["ttl"]
    if vxlan:
        ipr.link("set", index=index, kind="vxlan", **vxlan)
    generic = {name: spec[name] for name in ("mtu", "address", "txqlen") if name in changed}
    if "up" in changed:
        generic["state"] = "up"
    if generic:
        ipr.link("set", index=index, **generic)
    if "accept_ra" in changed:
        _write_accept_ra(host, spec["ifname"])
    return index


def _create_link(host: Host, spec: dict[str, Any], family: int) -> int:
    """flanneld's device (reference §1.2): only the attributes it sends, port only if set."""
    attrs: dict[str, Any] = {
        "ifname": spec["ifname"],
        "kind": "vxlan",
        "vxlan_id": spec["vni"],
        "vxlan_link": spec["link"],
        "vxlan_learning": int(spec["learning"]),
        "vxlan_ttl": spec["ttl"],
        "address": spec["address"],
        "mtu": spec["mtu"],
        "txqlen": spec["txqlen"],
    }
    attrs["vxlan_local6" if family == AF_INET6 else "vxlan_local"] = spec["local"]
    if spec["port"] != VXLAN_DEFAULT_PORT:
        attrs["vxlan_port"] = spec["port"]
    if spec["gbp"]:
        attrs["vxlan_gbp"] = True  # a flag attribute: present means on
    host.ipr.link("add", **attrs)
    index = int(host.ipr.link("get", ifname=spec["ifname"])[0]["index"])
    _write_accept_ra(host, spec["ifname"])
    if spec["up"]:
        host.ipr.link("set", index=index, state="up")
    return index


def _write_accept_ra(host: Host, ifname: str) -> None:
    """accept_ra = 0, as flanneld does after creating the device, errors ignored like it.

    Written only when it differs, so a run with nothing to do writes nothing.
    """
    path = f"ipv6/conf/{ifname}/accept_ra"
    try:
        if host.proc.read(path) not in (None, "0"):
            host.proc.write(path, "0")
    except OSError:
        pass  # no IPv6 sysctls for the device (ipv6.disable=1): nothing to turn off


def _apply_addr(host: Host, change: Change, index: int) -> None:
    """Add, delete, or replace (delete + add: the kernel has no in-place change of scope)."""
    spec = change.spec
    where = {"index": index, "address": spec["address"], "prefixlen": spec["prefixlen"]}
    if change.op in (DELETE, REPLACE):
        host.ipr.addr("del", **where)
    if change.op in (ADD, REPLACE):
        host.ipr.addr("add", scope=spec["scope"], **where)


# --- the whole run ---------------------------------------------------------------------


def reconcile_vxlan(host: Host, params: VxlanParams, check_mode: bool = False) -> Result:
    """core.reconcile over this backend's steps. `after` is what the host holds after the
    run: read back when written, the plan in check mode, the reading when unchanged."""

    def want(reading: Reading) -> VxlanState:
        desired = plan_vxlan(params, reading.underlay, reading.main_routes)
        _check_conflicts(host, desired, reading)
        return desired

    done = reconcile(
        read=lambda: read_vxlan(host, params),
        want=want,
        diff=lambda desired, reading: diff_vxlan(desired, reading.state),
        apply=lambda desired, reading, changes: apply_vxlan(
            host, desired, changes, reading.device_index
        ),
        check_mode=check_mode,
        differs=differs,
    )
    before = done.before.state
    planned = done.wanted if done.changes else before
    after = done.after.state if done.after is not None else planned
    return Result(params.ifname, done.changes, before, after)


def _check_conflicts(host: Host, desired: VxlanState, reading: Reading) -> None:
    """Fail before any write if someone else's route holds a planned route's slot."""
    clash = desired.routes.keys() & reading.foreign_routes.keys()
    if not clash:
        return
    names = {msg["index"]: msg.get("ifname") for msg in host.ipr.get_links()}
    foreign = {}
    for key in clash:
        msg = reading.foreign_routes[key]
        foreign[key] = as_route(msg, names.get(msg.oif) if msg.oif else None)
    problems = find_conflicts(desired, foreign)
    raise VxlanHostError("\n".join(problems), problems)


def differs(desired: VxlanState, leftover: Sequence[Change]) -> VxlanHostError:
    """The error when the kernel does not hold what was just applied, naming each field."""
    lines = [f"{c.op} {c.kind} {c.key}: {c.reason}" for c in leftover]
    hint = (
        "something else on this host manages these objects (flanneld, NetworkManager, "
        "systemd-networkd?): stop it or make it ignore the device, then run again"
    )
    link = next((c for c in leftover if c.kind == "link"), None)
    if link is not None and "address:" in link.reason:
        hint = (
            f"the kernel changed {desired.ifname}'s MAC after podnet set it; udev's "
            "MACAddressPolicy=persistent does this: add a systemd .link file matching "
            "OriginalName=flannel* with MACAddressPolicy=none, then run again"
        )
    headline = "after applying, the kernel still differs from the plan"
    return VxlanHostError(f"{listing(headline, lines, SHOWN)}\n{hint}", lines)


def verify_vxlan(desired: VxlanState, actual: VxlanState) -> None:
    """Fail, naming each field, if `actual` does not hold `desired` (the benchmark's verify
    step; reconcile_vxlan verifies through core.reconcile)."""
    leftover = diff_vxlan(desired, actual)
    if leftover:
        raise differs(desired, leftover)
