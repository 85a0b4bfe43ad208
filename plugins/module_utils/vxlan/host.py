"""The kernel side of the VXLAN backend: read what podnet owns, apply changes, verify.

    read_vxlan -> plan_vxlan -> diff_vxlan -> (check mode stops) -> apply_vxlan
               -> read_vxlan again -> diff must be empty, else fail naming the field

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
- routes of the family in table main, proto boot, dst inside `network`, either on the
  device or, on any device, with a gateway and without onlink (DirectRouting's routes).
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change
from ..kernel.ipnet import AF_BY_VERSION, Cidr
from ..kernel.proc import ProcNet
from ..kernel.wire import (
    AF_BRIDGE,
    NTF_SELF,
    NUD_PERMANENT,
    RTNH_F_ONLINK,
    NetlinkFailure,
    Request,
    RouteMsg,
    RtnlWire,
    dump_neighbours,
    dump_routes,
    neigh_request,
    route_request,
)
from .diff import diff_vxlan, find_conflicts
from .state import (
    AF_INET6,
    RTPROT_BOOT,
    VXLAN_DEFAULT_PORT,
    Address,
    Device,
    FdbEntry,
    Neighbour,
    Route,
    VxlanError,
    VxlanState,
    fdb_key,
    route_key,
)
from .want import Underlay, VxlanParams, plan_vxlan

IFF_UP = 0x1
ENODEV = 19
RT_SCOPE_LINK = 253


class VxlanHostError(VxlanError):
    """The host refused or undid a change, or holds something podnet must not overwrite."""


class Host:
    """The kernel handles of one run: the pyroute2 handle (opened by the caller, with
    `groups=0`), the bulk channel on the same socket, and /proc/sys/net.

    Nothing here opens netlink on its own, so a test passes `IPRoute(netns=...)`.
    """

    def __init__(self, ipr: Any, proc: ProcNet | None = None) -> None:
        self.ipr = ipr
        self.wire = RtnlWire(ipr)
        self.proc = proc or ProcNet()

    def close(self) -> None:
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
    # Table main's routes inside `network` that podnet does not own, with their oif: only
    # needed when one holds a planned route's slot, to say which device it is on.
    foreign_routes: dict[str, tuple[Route, int]] = field(default_factory=dict)


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
        msg = _get_link(host.ipr, ifname=params.dev)
        if msg is not None:
            underlay = Underlay(params.dev, msg["index"], msg.get("mtu"))
    link = _get_link(host.ipr, ifname=ifname)
    index = link["index"] if link is not None else 0
    inside = _Inside(params.network)
    device = _device(host, link, underlay) if link is not None else None
    on_device = _read_on_device(host, family, index, inside) if index else ({}, {}, {})
    main = dump_routes(host.wire, family)
    routes, foreign = _split_routes(main, family, ifname, index, inside)
    state = VxlanState(family, ifname, device, *on_device, routes)
    return Reading(state, underlay, index, tuple(main), foreign)


def _read_on_device(
    host: Host, family: int, index: int, inside: _Inside
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


def _split_routes(
    main: Sequence[RouteMsg], family: int, ifname: str, index: int, inside: _Inside
) -> tuple[dict[str, Route], dict[str, tuple[Route, int]]]:
    """Table main's routes inside `network`: podnet's, and the others (for conflicts)."""
    owned: dict[str, Route] = {}
    foreign: dict[str, tuple[Route, int]] = {}
    for msg in main:
        if not inside.route(msg.dst):
            continue
        route = Route(
            msg.dst,
            msg.gateway,
            ifname if index and msg.oif == index else None,
            bool(msg.flags & RTNH_F_ONLINK),
            msg.priority,
            msg.proto,
            msg.table,
            msg.scope,
            msg.type,
        )
        on_device = route.dev is not None and msg.proto == RTPROT_BOOT and not msg.multipath
        mine = on_device or msg.is_direct_route
        key = route_key(msg.dst, msg.priority, family)
        if mine:
            owned[key] = route
        else:
            foreign[key] = (route, msg.oif)
    return owned, foreign


def _get_link(ipr: Any, **match: Any) -> Any:
    try:
        return ipr.link("get", **match)[0]
    except Exception as exc:  # pyroute2's NetlinkError; pyroute2 may be absent in tests
        if getattr(exc, "code", None) == ENODEV:
            return None
        raise


def _device(host: Host, msg: Any, underlay: Underlay | None) -> Device:
    data = msg.get(("linkinfo", "data"))

    def vxlan(name: str, default: Any = None) -> Any:
        value = data.get(name) if data is not None else None
        return default if value is None else value

    link = vxlan("vxlan_link", 0)
    if underlay is not None and underlay.index == link:
        dev = underlay.name
    else:
        found = _get_link(host.ipr, index=link) if link else None
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


class _Inside:
    """Membership in `network` for address text (None: no network, nothing is inside)."""

    def __init__(self, network: Cidr | None) -> None:
        self.network = network
        if network is not None:
            self.af = AF_BY_VERSION[network.version]
            self.shift = network.max_prefixlen - network.prefixlen
            self.prefix = network.value >> self.shift

    def address(self, text: str | None) -> bool:
        if self.network is None or text is None:
            return False
        try:
            packed = socket.inet_pton(self.af, text)
        except OSError:  # the other family
            return False
        return int.from_bytes(packed, "big") >> self.shift == self.prefix

    def route(self, dst: str) -> bool:
        if self.network is None:
            return False
        text, _, plen = dst.partition("/")
        return int(plen) >= self.network.prefixlen and self.address(text)


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
            batch.append(_request(change, family, ifname, index))
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


def _request(change: Change, family: int, ifname: str, index: int) -> Request:
    spec, new = change.spec, change.op != DELETE
    if change.kind == "neigh":
        return neigh_request(
            op_new=new, family=family, ifindex=index, dst=spec["dst"], lladdr=spec["lladdr"]
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
    return route_request(
        op_new=new,
        family=family,
        dst=spec["dst"],
        gateway=spec["gateway"],
        oif=index if spec["dev"] == ifname else 0,
        onlink=spec["onlink"],
        priority=spec["priority"],
        table=spec["table"],
        proto=spec["proto"],
    )


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
    index = host.ipr.link("get", ifname=spec["ifname"])[0]["index"]
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
    """Read, plan, diff; then unless check mode apply, re-read and verify."""
    reading = read_vxlan(host, params)
    desired = plan_vxlan(params, reading.underlay, reading.main_routes)
    _check_conflicts(host, desired, reading)
    changes = diff_vxlan(desired, reading.state)
    if not changes:
        return Result(params.ifname, changes, reading.state, reading.state)
    if check_mode:
        return Result(params.ifname, changes, reading.state, desired)
    apply_vxlan(host, desired, changes, reading.device_index)
    after = read_vxlan(host, params)
    verify_vxlan(desired, after.state)
    return Result(params.ifname, changes, reading.state, after.state)


def _check_conflicts(host: Host, desired: VxlanState, reading: Reading) -> None:
    """Fail before any write if someone else's route holds a planned route's slot."""
    clash = desired.routes.keys() & reading.foreign_routes.keys()
    if not clash:
        return
    names = {msg["index"]: msg.get("ifname") for msg in host.ipr.get_links()}
    foreign = {}
    for key in clash:
        route, oif = reading.foreign_routes[key]
        foreign[key] = replace(route, dev=names.get(oif) if oif else None)
    raise VxlanHostError("\n".join(find_conflicts(desired, foreign)))


def verify_vxlan(desired: VxlanState, actual: VxlanState) -> None:
    """Fail, naming each field, if the kernel does not hold what was just applied."""
    leftover = diff_vxlan(desired, actual)
    if not leftover:
        return
    lines = [f"{c.op} {c.kind} {c.key}: {c.reason}" for c in leftover[:10]]
    if len(leftover) > 10:
        lines.append(f"... and {len(leftover) - 10} more")
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
    raise VxlanHostError(
        "after applying, the kernel still differs from the plan:\n- "
        + "\n- ".join(lines)
        + f"\n{hint}"
    )
