"""The VXLAN reconciler against real netlink, in throwaway namespaces.

The reconciler runs in this process and drives the test's namespace through
`IPRoute(netns=..., flags=0)`; everything it leaves is read back independently, with
pyroute2's own decoder and with iproute2, never with podnet's reader, and compared with
flanneld's objects field by field (reference flannel-host-state.md §1.2-§1.9).
"""

from __future__ import annotations

import json
import socket
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ip

pyroute2 = pytest.importorskip("pyroute2")
from plugins.module_utils.core.changes import ADD, DELETE, REPLACE  # noqa: E402
from plugins.module_utils.kernel.proc import ProcNet  # noqa: E402
from plugins.module_utils.vxlan.host import (  # noqa: E402
    Host,
    VxlanHostError,
    reconcile_vxlan,
)
from plugins.module_utils.vxlan.input import VxlanInputError, validate_params  # noqa: E402
from pyroute2 import IPRoute  # noqa: E402

IFNAME = "flannel.1"
MAC = "0a:00:00:00:01:01"
MAC2, MAC3 = "0a:00:00:00:02:02", "0a:00:00:00:03:03"
PEER2 = {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12", "vtep_mac": MAC2}
PEER3 = {"name": "node3", "subnet": "10.244.3.0/24", "public_ip": "198.51.100.13", "vtep_mac": MAC3}
LEFT = "not in the plan (peer left the inventory)"
STRAY = "not in the plan (the device's one address in the network is the node's)"
FLUSHED = f"{IFNAME}'s MAC changes, which flushes its neighbours"
NUD_PERMANENT, NTF_SELF, RTNH_F_ONLINK, IFF_UP = 0x80, 0x02, 4, 0x1


def args(**changes: Any) -> dict[str, Any]:
    base = {
        "state": "present",
        "vni": 1,
        "family": 4,
        "port": 0,
        "gbp": False,
        "learning": False,
        "direct_routing": False,
        "dev": "eth0",
        "local": "192.0.2.11",
        "mtu": 1450,
        "vtep_mac": MAC,
        "subnet": "10.244.1.0/24",
        "network": "10.244.0.0/16",
        "peers": [PEER2, PEER3],
    }
    return {**base, **changes}


@pytest.fixture
def ns(underlay: tuple[str, str]) -> str:
    """The underlay namespace plus a default route, so peers off 192.0.2.0/24 need a gateway."""
    name = underlay[0]
    ip("route", "add", "default", "via", "192.0.2.1", netns=name)
    return name


@pytest.fixture
def ipr(ns: str) -> Iterator[Any]:
    with IPRoute(netns=ns, flags=0, groups=0) as handle:
        yield handle


@pytest.fixture
def host(ns: str, ipr: Any) -> Iterator[Host]:
    with Host(ipr, ProcNet(ns)) as opened:
        yield opened


def run(host: Host, check_mode: bool = False, **changes: Any) -> list[tuple[str, str, str, str]]:
    result = reconcile_vxlan(host, validate_params(args(**changes)), check_mode=check_mode)
    return [(c.op, c.kind, c.key, c.reason) for c in result.changes]


# --- independent read-back -------------------------------------------------------------


def link(ipr: Any, ifname: str = IFNAME) -> Any:
    return ipr.link("get", ifname=ifname)[0]


def neighbours(ipr: Any, family: int, ifname: str = IFNAME) -> dict[str, Any]:
    index = link(ipr, ifname)["index"]
    return {
        m.get("NDA_DST"): m
        for m in ipr.get_neighbours(family=family)
        if m["ifindex"] == index and m["state"] & NUD_PERMANENT
    }


def fdb(ipr: Any, ifname: str = IFNAME) -> dict[str, Any]:
    index = link(ipr, ifname)["index"]
    return {
        f"{m.get('NDA_LLADDR')} dst {m.get('NDA_DST')}": m
        for m in ipr.get_neighbours(family=socket.AF_BRIDGE)
        if m["ifindex"] == index
    }


def routes(ipr: Any, family: int = socket.AF_INET) -> dict[str, Any]:
    """Table main, keyed `dst/len`, from pyroute2's decoder."""
    return {
        f"{m.get('RTA_DST') or ('0.0.0.0' if family == socket.AF_INET else '::')}/{m['dst_len']}": m
        for m in ipr.get_routes(family=family, table=254)
    }


def proc(ns: str, path: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", ns, "cat", f"/proc/sys/net/{path}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class DenyWrites:
    """An IPRoute stand-in that fails the test on any call that would write."""

    WRITES = frozenset({"add", "set", "replace", "change", "append", "del", "delete", "remove"})

    def __init__(self, ipr: Any) -> None:
        self._ipr = ipr
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._ipr, name)
        if name not in ("link", "addr", "neigh", "fdb", "route"):
            return attr

        def guarded(command: str, *argv: Any, **kwarg: Any) -> Any:
            if command in self.WRITES:
                raise AssertionError(f"a writing netlink call: {name}({command!r}, {kwarg})")
            self.reads += 1
            return attr(command, *argv, **kwarg)

        return guarded


@pytest.fixture
def deny_writes(ns: str, ipr: Any) -> Iterator[Host]:
    """A Host whose every writing path fails the test: pyroute2 calls, the bulk channel,
    and /proc/sys writes. (Only this Host: the test's plain `host` still writes.)"""

    def no_transact(requests: Any) -> None:
        raise AssertionError(f"a writing netlink batch: {[r.label for r in requests][:5]}")

    def no_write(path: str, value: str) -> None:
        raise AssertionError(f"a /proc/sys write: {path} = {value}")

    guard = DenyWrites(ipr)
    with Host(guard, ProcNet(ns)) as guarded:
        guarded.wire.transact = no_transact  # type: ignore[method-assign]
        guarded.proc.write = no_write  # type: ignore[method-assign]
        yield guarded
    assert guard.reads > 0  # the guard was really in the path


# --- fresh apply: flanneld's objects ---------------------------------------------------


def test_fresh_apply_creates_flannels_objects_field_by_field(ns: str, ipr: Any, host: Host) -> None:
    changes = run(host)
    assert changes == [
        (ADD, "link", IFNAME, "missing"),
        (ADD, "addr", "10.244.1.0/32", "missing"),
        (ADD, "neigh", "10.244.2.0", "peer node2: missing"),
        (ADD, "neigh", "10.244.3.0", "peer node3: missing"),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", "peer node2: missing"),
        (ADD, "fdb", f"{MAC3} dst 198.51.100.13", "peer node3: missing"),
        (ADD, "route", "10.244.2.0/24", "peer node2: missing"),
        (ADD, "route", "10.244.3.0/24", "peer node3: missing"),
    ]
    # §1.2: the device.
    dev = link(ipr)
    data = dev.get(("linkinfo", "data"))
    eth0 = link(ipr, "eth0")["index"]
    assert dev.get(("linkinfo", "kind")) == "vxlan"
    assert (data.get("vxlan_id"), data.get("vxlan_link"), data.get("vxlan_local")) == (
        1,
        eth0,
        "192.0.2.11",
    )
    assert data.get("vxlan_port") == 8472  # the kernel default: flannel sends no port
    assert (data.get("vxlan_learning"), data.get("vxlan_ttl")) == (0, 0)
    assert data.get("vxlan_gbp") is None
    assert (dev.get("mtu"), dev.get("address"), dev.get("txqlen")) == (1450, MAC, 0)
    assert dev["flags"] & IFF_UP
    assert proc(ns, "ipv6/conf/flannel.1/accept_ra") == "0"
    # §1.5: exactly one IPv4 address, the subnet's network address /32, scope global.
    addrs = ipr.get_addr(family=socket.AF_INET, index=dev["index"])
    assert [(a.get("IFA_ADDRESS"), a["prefixlen"], a["scope"]) for a in addrs] == [
        ("10.244.1.0", 32, 0)
    ]
    assert addrs[0].get("IFA_BROADCAST") is None
    # §1.6: neighbour, FDB entry, route per peer.
    neigh = neighbours(ipr, socket.AF_INET)
    assert sorted(neigh) == ["10.244.2.0", "10.244.3.0"]
    assert neigh["10.244.2.0"].get("NDA_LLADDR") == MAC2
    assert (neigh["10.244.2.0"]["state"], neigh["10.244.2.0"]["ndm_type"]) == (NUD_PERMANENT, 1)
    entries = fdb(ipr)
    entry = entries[f"{MAC2} dst 192.0.2.12"]
    assert (entry["family"], entry["flags"], entry["state"]) == (
        socket.AF_BRIDGE,
        NTF_SELF,
        NUD_PERMANENT,
    )
    assert f"{MAC3} dst 198.51.100.13" in entries
    route = routes(ipr)["10.244.2.0/24"]
    assert route.get("RTA_GATEWAY") == "10.244.2.0"
    assert route.get("RTA_OIF") == dev["index"]
    assert (route["flags"], route["proto"], route["table"], route["scope"], route["type"]) == (
        RTNH_F_ONLINK,
        3,
        254,
        0,
        1,
    )
    assert route.get("RTA_PRIORITY") is None
    # iproute2 agrees (and prints no `proto boot`, as for flanneld's routes).
    shown = ip("route", "show", "10.244.2.0/24", netns=ns).strip()
    assert shown == "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink"
    assert f"{MAC2} dst 192.0.2.12 self permanent" in ip_bridge(ns, "fdb", "show", "dev", IFNAME)


def ip_bridge(ns: str, *argv: str) -> str:
    return subprocess.run(
        ["bridge", "-n", ns, *argv], check=True, capture_output=True, text=True
    ).stdout


def test_second_apply_changes_nothing_and_writes_nothing(host: Host, deny_writes: Host) -> None:
    assert run(host)
    assert run(deny_writes) == []
    assert run(deny_writes, check_mode=True) == []


def test_check_mode_reports_and_writes_nothing(ns: str, ipr: Any, deny_writes: Host) -> None:
    changes = run(deny_writes, check_mode=True)
    assert [c[:2] for c in changes] == [
        (ADD, "link"),
        (ADD, "addr"),
        (ADD, "neigh"),
        (ADD, "neigh"),
        (ADD, "fdb"),
        (ADD, "fdb"),
        (ADD, "route"),
        (ADD, "route"),
    ]
    assert IFNAME not in ip("-o", "link", "show", netns=ns)
    assert "10.244." not in ip("route", "show", netns=ns)


# --- drift ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        (
            [["link", "set", IFNAME, "mtu", "1400"]],
            [(REPLACE, "link", IFNAME, "mtu: 1400 vs 1450")],
        ),
        (
            # A new MAC flushes the neighbours (the injection's and the repair's alike).
            [["link", "set", IFNAME, "address", "0a:00:00:00:09:09", "txqueuelen", "1000"]],
            [
                (
                    REPLACE,
                    "link",
                    IFNAME,
                    f"address: 0a:00:00:00:09:09 vs {MAC}, txqlen: 1000 vs 0",
                ),
                (ADD, "neigh", "10.244.2.0", f"peer node2: {FLUSHED}"),
                (ADD, "neigh", "10.244.3.0", f"peer node3: {FLUSHED}"),
            ],
        ),
        (
            # Down flushes the device's neighbours and IPv4 routes; FDB entries stay.
            [["link", "set", IFNAME, "down"]],
            [
                (REPLACE, "link", IFNAME, "up: False vs True"),
                (ADD, "neigh", "10.244.2.0", "peer node2: missing"),
                (ADD, "neigh", "10.244.3.0", "peer node3: missing"),
                (ADD, "route", "10.244.2.0/24", "peer node2: missing"),
                (ADD, "route", "10.244.3.0/24", "peer node3: missing"),
            ],
        ),
        (
            [["link", "set", IFNAME, "type", "vxlan", "learning"]],
            [(REPLACE, "link", IFNAME, "learning: True vs False")],
        ),
        (
            [["neigh", "del", "10.244.2.0", "dev", IFNAME]],
            [(ADD, "neigh", "10.244.2.0", "peer node2: missing")],
        ),
        (
            [["neigh", "replace", "10.244.2.0", "lladdr", MAC3, "dev", IFNAME, "nud", "permanent"]],
            [(REPLACE, "neigh", "10.244.2.0", f"peer node2: lladdr: {MAC3} vs {MAC2}")],
        ),
        (
            [
                [
                    "route",
                    "replace",
                    "10.244.2.0/24",
                    "via",
                    "10.244.2.9",
                    "dev",
                    IFNAME,
                    "onlink",
                    "proto",
                    "boot",
                ]
            ],
            [(REPLACE, "route", "10.244.2.0/24", "peer node2: gateway: 10.244.2.9 vs 10.244.2.0")],
        ),
        (
            [["route", "del", "10.244.3.0/24"]],
            [(ADD, "route", "10.244.3.0/24", "peer node3: missing")],
        ),
        (
            [["addr", "add", "10.244.1.9/24", "dev", IFNAME]],
            [(DELETE, "addr", "10.244.1.9/24", STRAY)],
        ),
    ],
    ids=[
        "mtu",
        "mac-txqlen",
        "down",
        "learning",
        "neigh-gone",
        "neigh-mac",
        "route-gw",
        "route-gone",
        "stray-addr",
    ],
)
def test_drift_is_repaired_exactly(
    ns: str, host: Host, inject: list[list[str]], expected: list[Any]
) -> None:
    run(host)
    for command in inject:
        ip(*command, netns=ns)
    assert run(host) == expected
    assert run(host) == []


def test_fdb_entry_gone_or_moved(ns: str, host: Host) -> None:
    run(host)
    subprocess.run(
        ["bridge", "-n", ns, "fdb", "del", MAC2, "dev", IFNAME, "dst", "192.0.2.12", "self"],
        check=True,
    )
    subprocess.run(
        [
            "bridge",
            "-n",
            ns,
            "fdb",
            "append",
            MAC2,
            "dev",
            IFNAME,
            "dst",
            "192.0.2.99",
            "self",
            "permanent",
        ],
        check=True,
    )
    assert run(host) == [
        (DELETE, "fdb", f"{MAC2} dst 192.0.2.99", LEFT),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", "peer node2: missing"),
    ]
    assert run(host) == []


def test_peer_removed_from_plan_loses_route_fdb_and_neighbour(ipr: Any, host: Host) -> None:
    run(host)
    assert run(host, peers=[PEER2]) == [
        (DELETE, "route", "10.244.3.0/24", LEFT),
        (DELETE, "fdb", f"{MAC3} dst 198.51.100.13", LEFT),
        (DELETE, "neigh", "10.244.3.0", LEFT),
    ]
    assert "10.244.3.0/24" not in routes(ipr)
    assert sorted(neighbours(ipr, socket.AF_INET)) == ["10.244.2.0"]
    assert list(fdb(ipr)) == [f"{MAC2} dst 192.0.2.12"]


def test_wrong_vni_recreates_the_device_with_the_reason(ns: str, ipr: Any, host: Host) -> None:
    """A flannel.1 with VNI 7 (left by someone else): the kernel cannot change a VNI, so the
    device is deleted and re-created, and everything on it is added again."""
    ip("link", "add", IFNAME, "type", "vxlan", "id", "7", "dev", "eth0", "dstport", "0", netns=ns)
    ip("link", "set", IFNAME, "up", netns=ns)
    ip("addr", "add", "10.244.1.0/32", "dev", IFNAME, netns=ns)
    ip("neigh", "add", "10.244.2.0", "lladdr", MAC2, "dev", IFNAME, "nud", "permanent", netns=ns)
    old_index = link(ipr)["index"]
    changes = run(host)
    assert changes[0][:3] == (REPLACE, "link", IFNAME)
    assert "vni: 7 vs 1" in changes[0][3] and "re-create" in changes[0][3]
    again = f"{IFNAME} is re-created"
    assert changes[1:] == [
        (ADD, "addr", "10.244.1.0/32", again),
        (ADD, "neigh", "10.244.2.0", f"peer node2: {again}"),
        (ADD, "neigh", "10.244.3.0", f"peer node3: {again}"),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", f"peer node2: {again}"),
        (ADD, "fdb", f"{MAC3} dst 198.51.100.13", f"peer node3: {again}"),
        (ADD, "route", "10.244.2.0/24", f"peer node2: {again}"),
        (ADD, "route", "10.244.3.0/24", f"peer node3: {again}"),
    ]
    dev = link(ipr)
    assert dev["index"] != old_index
    assert dev.get(("linkinfo", "data", "vxlan_id")) == 1
    assert run(host) == []


def test_port_and_gbp_are_sent_when_set_and_recreate_when_changed(ipr: Any, host: Host) -> None:
    assert run(host, port=4789, gbp=True)[0] == (ADD, "link", IFNAME, "missing")
    data = link(ipr).get(("linkinfo", "data"))
    assert (data.get("vxlan_port"), data.get("vxlan_gbp")) == (4789, True)
    assert run(host, port=4789, gbp=True) == []
    changes = run(host)
    assert changes[0][:3] == (REPLACE, "link", IFNAME)
    assert changes[0][3].startswith("port: 4789 vs 8472, gbp: True vs False")
    data = link(ipr).get(("linkinfo", "data"))
    assert (data.get("vxlan_port"), data.get("vxlan_gbp")) == (8472, None)
    assert run(host) == []


def test_fdb_state_is_set_to_flannels_permanent(ns: str, ipr: Any, host: Host) -> None:
    """`bridge fdb replace ... permanent` stores NOARP|PERMANENT (0xc0); flanneld's entry is
    PERMANENT alone (0x80), and podnet puts it back."""
    run(host)
    replace = ["fdb", "replace", MAC2, "dev", IFNAME, "dst", "192.0.2.12", "self", "permanent"]
    subprocess.run(["bridge", "-n", ns, *replace], check=True)
    assert fdb(ipr)[f"{MAC2} dst 192.0.2.12"]["state"] == 0xC0
    assert run(host) == [
        (REPLACE, "fdb", f"{MAC2} dst 192.0.2.12", "peer node2: state: 192 vs 128")
    ]
    assert fdb(ipr)[f"{MAC2} dst 192.0.2.12"]["state"] == NUD_PERMANENT


def test_vni_change_in_the_plan_names_the_old_device(ns: str, ipr: Any, host: Host) -> None:
    """The device is named after the VNI, so a new VNI means a new device; the old one's
    routes are not podnet's to take over, and the error says what to do."""
    run(host)
    with pytest.raises(VxlanHostError) as caught:
        run(host, vni=2)
    assert "flannel.1 looks like the device of another VNI: remove it first" in str(caught.value)
    assert "flannel.2" not in ip("-o", "link", netns=ns)  # nothing was written
    absent = {"state": "absent", "vni": 1, "family": 4, "network": "10.244.0.0/16"}
    reconcile_vxlan(host, validate_params(absent))
    assert [c[:3] for c in run(host, vni=2)][:1] == [(ADD, "link", "flannel.2")]
    assert link(ipr, "flannel.2").get(("linkinfo", "data", "vxlan_id")) == 2


# --- ownership ------------------------------------------------------------------------


def test_foreign_objects_survive(ns: str, ipr: Any, host: Host) -> None:
    run(host)
    foreign = [
        # `ip route add` defaults to proto boot, podnet's own mark: say static explicitly.
        ["route", "add", "10.244.50.0/24", "via", "192.0.2.1", "dev", "eth0", "proto", "static"],
        ["route", "add", "198.51.100.0/24", "via", "192.0.2.1", "proto", "boot"],  # outside network
        [
            "route",
            "add",
            "10.244.60.0/24",
            "via",
            "10.244.60.0",
            "dev",
            IFNAME,
            "onlink",
            "proto",
            "static",
        ],
        [
            "route",
            "add",
            "10.244.70.0/24",
            "dev",
            IFNAME,
            "proto",
            "boot",
            "metric",
            "0",
            "table",
            "100",
        ],
        [
            "neigh",
            "add",
            "192.0.2.77",
            "lladdr",
            "0a:bb:00:00:00:01",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
        [
            "neigh",
            "add",
            "10.244.80.0",
            "lladdr",
            "0a:bb:00:00:00:02",
            "dev",
            "eth0",
            "nud",
            "permanent",
        ],
        [
            "neigh",
            "add",
            "192.168.7.1",
            "lladdr",
            "0a:bb:00:00:00:03",
            "dev",
            IFNAME,
            "nud",
            "permanent",
        ],
        ["addr", "add", "192.168.9.1/24", "dev", IFNAME],
    ]
    for command in foreign:
        ip(*command, netns=ns)
    bum = [
        "fdb",
        "append",
        "00:00:00:00:00:00",
        "dev",
        IFNAME,
        "dst",
        "192.0.2.50",
        "self",
        "permanent",
    ]
    subprocess.run(["bridge", "-n", ns, *bum], check=True)
    before = snapshot(ns)

    # Peer node3 leaves: only its objects go, and nothing foreign.
    assert [c[:3] for c in run(host, peers=[PEER2])] == [
        (DELETE, "route", "10.244.3.0/24"),
        (DELETE, "fdb", f"{MAC3} dst 198.51.100.13"),
        (DELETE, "neigh", "10.244.3.0"),
    ]
    assert run(host, peers=[PEER2]) == []
    after = snapshot(ns)
    for line in (
        "10.244.50.0/24 via 192.0.2.1 dev eth0 proto static",
        "198.51.100.0/24 via 192.0.2.1 dev eth0",
        "10.244.60.0/24 via 10.244.60.0 dev flannel.1 proto static onlink",
        "10.244.70.0/24 dev flannel.1",  # table 100
        "192.0.2.77 dev eth0 lladdr 0a:bb:00:00:00:01 PERMANENT",
        "10.244.80.0 dev eth0 lladdr 0a:bb:00:00:00:02 PERMANENT",
        "192.168.7.1 dev flannel.1 lladdr 0a:bb:00:00:00:03 PERMANENT",
        "inet 192.168.9.1/24",
        "00:00:00:00:00:00 dst 192.0.2.50 self permanent",
    ):
        assert line in before, line
        assert line in after, line


def snapshot(ns: str) -> str:
    return "\n".join(
        [
            ip("route", "show", "proto", "all", netns=ns),
            ip("-d", "route", "show", "table", "100", netns=ns),
            ip("neigh", "show", "nud", "permanent", netns=ns),
            ip("addr", "show", netns=ns),
            ip_bridge(ns, "fdb", "show", "dev", IFNAME),
        ]
    ).replace("proto boot ", "")


def test_someone_elses_route_in_a_planned_slot_is_an_error(ns: str, host: Host) -> None:
    ip("route", "add", "10.244.3.0/24", "via", "192.0.2.1", "proto", "static", netns=ns)
    with pytest.raises(VxlanHostError, match=r"route 10\.244\.3\.0/24 \(peer node3\) is taken"):
        run(host)
    assert IFNAME not in ip("-o", "link", "show", netns=ns)  # nothing was written


# --- DirectRouting --------------------------------------------------------------------


def test_direct_routing_routes_on_link_peers_via_their_public_ip(
    ns: str, ipr: Any, host: Host
) -> None:
    """node2 (192.0.2.12) is on eth0's subnet; node3 is behind the default gateway."""
    changes = run(host, direct_routing=True)
    assert [c[:3] for c in changes] == [
        (ADD, "link", IFNAME),
        (ADD, "addr", "10.244.1.0/32"),
        (ADD, "neigh", "10.244.3.0"),
        (ADD, "fdb", f"{MAC3} dst 198.51.100.13"),
        (ADD, "route", "10.244.2.0/24"),
        (ADD, "route", "10.244.3.0/24"),
    ]
    route = routes(ipr)["10.244.2.0/24"]
    assert route.get("RTA_GATEWAY") == "192.0.2.12"
    assert route.get("RTA_OIF") == link(ipr, "eth0")["index"]  # the kernel picked it
    assert (route["flags"], route["proto"]) == (0, 3)
    assert "10.244.2.0" not in neighbours(ipr, socket.AF_INET)
    assert not [k for k in fdb(ipr) if k.startswith(MAC2)]
    assert run(host, direct_routing=True) == []

    # Off: node2 becomes tunnelled; its neighbour and FDB entry come before the route.
    assert run(host) == [
        (ADD, "neigh", "10.244.2.0", "peer node2: missing"),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", "peer node2: missing"),
        (
            REPLACE,
            "route",
            "10.244.2.0/24",
            "peer node2: gateway: 192.0.2.12 vs 10.244.2.0, dev: None vs flannel.1, "
            "onlink: False vs True",
        ),
    ]
    # On again: the tunnel objects of node2 go (flanneld would leave them).
    now_direct = "not in the plan (peer node2 is routed directly now)"
    assert run(host, direct_routing=True) == [
        (DELETE, "fdb", f"{MAC2} dst 192.0.2.12", now_direct),
        (DELETE, "neigh", "10.244.2.0", now_direct),
        (
            REPLACE,
            "route",
            "10.244.2.0/24",
            "peer node2: gateway: 10.244.2.0 vs 192.0.2.12, dev: flannel.1 vs None, "
            "onlink: True vs False",
        ),
    ]
    assert run(host, direct_routing=True) == []


# --- state absent ---------------------------------------------------------------------


def test_absent_removes_device_and_direct_routes_only(ns: str, ipr: Any, host: Host) -> None:
    run(host, direct_routing=True)
    ip("route", "add", "10.244.50.0/24", "via", "192.0.2.1", "proto", "static", netns=ns)
    absent = {"state": "absent", "vni": 1, "family": 4, "network": "10.244.0.0/16"}
    changes = reconcile_vxlan(host, validate_params(absent)).changes
    assert [(c.op, c.kind, c.key, c.reason) for c in changes] == [
        (DELETE, "route", "10.244.2.0/24", "state=absent"),
        (DELETE, "link", IFNAME, "state=absent"),
    ]
    assert IFNAME not in ip("-o", "link", "show", netns=ns)
    left = ip("route", "show", netns=ns)
    assert "10.244.2.0/24" not in left and "10.244.3.0/24" not in left
    assert "10.244.50.0/24 via 192.0.2.1 dev eth0 proto static" in left
    assert reconcile_vxlan(host, validate_params(absent)).changes == []


# --- failures before any write ---------------------------------------------------------


def test_bad_input_names_the_field_before_any_change(ns: str) -> None:
    with pytest.raises(VxlanInputError) as caught:
        validate_params(args(subnet="10.244.1.7/24", peers=[{**PEER2, "vtep_mac": "xx"}]))
    assert caught.value.problems == [
        "subnet: 10.244.1.7/24 has host bits set; did you mean 10.244.1.0/24?",
        "peers[node2].vtep_mac: 'xx' is not a MAC address (aa:bb:cc:dd:ee:ff)",
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"dev": "eth9"}, "dev: 'eth9' does not exist on this host"),
        ({"mtu": 1480}, r"mtu: 1480 does not fit eth0 \(MTU 1500\)"),
    ],
    ids=["missing-dev", "mtu-too-big"],
)
def test_host_facts_are_checked_before_any_write(
    ns: str, deny_writes: Host, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(VxlanInputError, match=message):
        run(deny_writes, **changes)


def test_kernel_undoing_a_change_fails_verification_with_the_field(
    ns: str, ipr: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stand-in for udev rewriting the MAC: the device is created with another one."""

    class RewriteMac:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def link(self, command: str, **kwarg: Any) -> Any:
            if command == "add":
                kwarg["address"] = "0a:00:00:00:0e:0e"
            return self._inner.link(command, **kwarg)

    with Host(RewriteMac(ipr), ProcNet(ns)) as host, pytest.raises(VxlanHostError) as caught:
        run(host)
    message = str(caught.value)
    assert f"replace link {IFNAME}: address: 0a:00:00:00:0e:0e vs {MAC}" in message
    assert "MACAddressPolicy=none" in message


# --- IPv6 -----------------------------------------------------------------------------


def test_ipv6_device_128_and_peers(ns: str, ipr: Any, host: Host) -> None:
    ip("addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad", netns=ns)
    peer = {
        "name": "node2",
        "subnet": "fd00:10:244:2::/64",
        "public_ip": "2001:db8::12",
        "vtep_mac": MAC2,
    }
    v6 = {
        "family": 6,
        "local": "2001:db8::11",
        "mtu": 1430,
        "subnet": "fd00:10:244:1::/64",
        "network": "fd00:10:244::/56",
        "peers": [peer],
    }
    name = "flannel-v6.1"
    assert run(host, **v6) == [
        (ADD, "link", name, "missing"),
        (ADD, "addr", "fd00:10:244:1::/128", "missing"),
        (ADD, "neigh", "fd00:10:244:2::", "peer node2: missing"),
        (ADD, "fdb", f"{MAC2} dst 2001:db8::12", "peer node2: missing"),
        (ADD, "route", "fd00:10:244:2::/64", "peer node2: missing"),
    ]
    dev = link(ipr, name)
    assert dev.get(("linkinfo", "data", "vxlan_local6")) == "2001:db8::11"
    assert dev.get(("linkinfo", "data", "vxlan_local")) is None
    assert (dev.get("mtu"), dev.get("txqlen")) == (1430, 0)
    global_addrs = [
        (a.get("IFA_ADDRESS"), a["prefixlen"])
        for a in ipr.get_addr(family=socket.AF_INET6, index=dev["index"])
        if a["scope"] == 0
    ]
    assert global_addrs == [("fd00:10:244:1::", 128)]
    neigh = neighbours(ipr, socket.AF_INET6, name)["fd00:10:244:2::"]
    assert (neigh.get("NDA_LLADDR"), neigh["state"]) == (MAC2, NUD_PERMANENT)
    assert f"{MAC2} dst 2001:db8::12" in fdb(ipr, name)
    route = routes(ipr, socket.AF_INET6)["fd00:10:244:2::/64"]
    assert (route.get("RTA_GATEWAY"), route.get("RTA_OIF"), route["flags"], route["proto"]) == (
        "fd00:10:244:2::",
        dev["index"],
        RTNH_F_ONLINK,
        3,
    )
    assert proc(ns, f"ipv6/conf/{name}/accept_ra") == "0"
    assert run(host, **v6) == []

    # The peer leaves: IPv6 deletes name their objects exactly too (metric 1024 included).
    left = "not in the plan (peer left the inventory)"
    assert run(host, **{**v6, "peers": []}) == [
        (DELETE, "route", "fd00:10:244:2::/64", left),
        (DELETE, "fdb", f"{MAC2} dst 2001:db8::12", left),
        (DELETE, "neigh", "fd00:10:244:2::", left),
    ]
    assert "fd00:10:244:2::/64" not in routes(ipr, socket.AF_INET6)
    assert neighbours(ipr, socket.AF_INET6, name) == {}
    assert fdb(ipr, name) == {}


def test_json_view_of_iproute2_matches(ns: str, host: Host) -> None:
    """iproute2's own JSON: the device as `ip -d link` shows flanneld's."""
    run(host)
    shown = json.loads(ip("-d", "-j", "link", "show", IFNAME, netns=ns))[0]
    info = shown["linkinfo"]["info_data"]
    assert (info["id"], info["local"], info["port"], info["learning"], info["ttl"]) == (
        1,
        "192.0.2.11",
        8472,
        False,
        0,
    )
    assert shown.get("txqlen", 0) == 0 and "UP" in shown["flags"]  # ip omits a zero qlen
