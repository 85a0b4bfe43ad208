"""The host-gw reconciler against real netlink, in throwaway namespaces.

The reconciler runs in this process and drives the test's namespace through
`IPRoute(netns=..., flags=0, groups=0)` and the bulk channel on its socket. What it
leaves is read back independently - with iproute2 (`ip -d route show table main proto
boot`) and pyroute2's own decoder, never podnet's reader - and compared with flanneld's
host-gw route (reference flannel-host-state.md section 2).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import ip

pyroute2 = pytest.importorskip("pyroute2")
from plugins.module_utils.core.changes import ADD, DELETE, REPLACE  # noqa: E402
from plugins.module_utils.host_gw import host as hostgw_host  # noqa: E402
from plugins.module_utils.host_gw.host import reconcile_host_gw  # noqa: E402
from plugins.module_utils.host_gw.input import (  # noqa: E402
    HostGwError,
    HostGwInputError,
    validate_host_gw,
)
from plugins.module_utils.kernel.proc import ProcNet  # noqa: E402
from plugins.module_utils.kernel.wire import RtnlWire  # noqa: E402
from plugins.module_utils.vxlan.host import Host, reconcile_vxlan  # noqa: E402
from plugins.module_utils.vxlan.input import validate_params as validate_vxlan  # noqa: E402
from pyroute2 import IPRoute  # noqa: E402

PEER2 = {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12"}
PEER3 = {"name": "node3", "subnet": "10.244.3.0/24", "public_ip": "192.0.2.13"}
LEFT = "not in the plan (no peer has this subnet: it left the inventory or moved)"
OFF_SEGMENT = (
    "peer node3's public IP 198.51.100.13 is not on a segment of dev eth0 (no connected "
    "route of eth0 in table main holds it): host-gw needs every node on one L2 segment; "
    "use Backend.Type vxlan with DirectRouting true"
)


def args(**changes: Any) -> dict[str, Any]:
    base = {
        "state": "present",
        "family": 4,
        "network": "10.244.0.0/16",
        "dev": "eth0",
        "peers": [PEER2, PEER3],
    }
    return {**base, **changes}


@pytest.fixture
def ns(underlay: tuple[str, str]) -> str:
    """The underlay plus a default route (proto static, so `proto boot` listings show only
    what host_gw wrote) and a second underlay eth1 on 198.51.100.0/24."""
    name = underlay[0]
    ip("route", "add", "default", "via", "192.0.2.1", "proto", "static", netns=name)
    ip("link", "add", "eth1", "type", "veth", "peer", "name", "eth1-peer", netns=name)
    ip("addr", "add", "198.51.100.11/24", "dev", "eth1", netns=name)
    ip("link", "set", "eth1", "up", netns=name)
    ip("link", "set", "eth1-peer", "up", netns=name)
    return name


@pytest.fixture
def ipr(ns: str) -> Iterator[Any]:
    with IPRoute(netns=ns, flags=0, groups=0) as handle:
        yield handle


@pytest.fixture
def wire(ipr: Any) -> Iterator[RtnlWire]:
    with RtnlWire(ipr) as channel:
        yield channel


class Guard:
    """Stands in for both handles: passes reads through, fails the test on any write.

    The reconciler writes only through `wire.transact`; pyroute2 serves it `link get`.
    """

    def __init__(self, ipr: Any, wire: RtnlWire) -> None:
        self.ipr, self.wire = ipr, wire
        self.reads = 0

        def link(command: str, **kwarg: Any) -> Any:
            assert command == "get", f"a writing netlink call: link({command!r}, {kwarg})"
            self.reads += 1
            return ipr.link(command, **kwarg)

        def no_transact(requests: Any) -> None:
            raise AssertionError(f"a netlink write: {[r.label for r in requests][:5]}")

        self.guarded_ipr = type("GuardedIPRoute", (), {"link": staticmethod(link)})()
        self.guarded_wire = wire
        wire.transact = no_transact  # type: ignore[method-assign]


@pytest.fixture
def guard(ns: str) -> Iterator[Guard]:
    """A second pair of handles on `ns` whose writes fail the test (the plain `ipr` and
    `wire` fixtures still write)."""
    with IPRoute(netns=ns, flags=0, groups=0) as handle, RtnlWire(handle) as channel:
        yield Guard(handle, channel)


def run(ipr: Any, wire: Any, check_mode: bool = False, **changes: Any) -> list[tuple[str, ...]]:
    result = reconcile_host_gw(ipr, wire, validate_host_gw(args(**changes)), check_mode)
    return [(c.op, c.kind, c.key, c.reason) for c in result.changes]


def guarded(guard: Guard, check_mode: bool = False, **changes: Any) -> list[tuple[str, ...]]:
    return run(guard.guarded_ipr, guard.guarded_wire, check_mode, **changes)


def boot_routes(ns: str, family: str = "-4") -> list[str]:
    """`ip -d route show table main proto boot`, one stripped line per route."""
    shown = ip(family, "-d", "route", "show", "table", "main", "proto", "boot", netns=ns)
    return [line.strip() for line in shown.splitlines()]


def routes(ipr: Any, family: int = socket.AF_INET) -> dict[str, Any]:
    """Table main from pyroute2's decoder, keyed `dst/len`."""
    return {
        f"{m.get('RTA_DST')}/{m['dst_len']}": m
        for m in ipr.get_routes(family=family, table=254)
        if m.get("RTA_DST")
    }


# --- fresh apply: flanneld's routes ----------------------------------------------------


def test_fresh_apply_creates_exactly_flannels_routes(ns: str, ipr: Any, wire: RtnlWire) -> None:
    assert run(ipr, wire) == [
        (ADD, "route", "10.244.2.0/24", "peer node2: missing"),
        (ADD, "route", "10.244.3.0/24", "peer node3: missing"),
    ]
    # `ip route add 10.244.2.0/24 via 192.0.2.12 dev eth0`, proto boot, nothing more.
    assert boot_routes(ns) == [
        "unicast 10.244.2.0/24 via 192.0.2.12 dev eth0 scope global",
        "unicast 10.244.3.0/24 via 192.0.2.13 dev eth0 scope global",
    ]
    route = routes(ipr)["10.244.2.0/24"]
    eth0 = ipr.link("get", ifname="eth0")[0]["index"]
    assert (route.get("RTA_GATEWAY"), route.get("RTA_OIF")) == ("192.0.2.12", eth0)
    assert (route["flags"], route["proto"], route["table"], route["scope"], route["type"]) == (
        0,  # no onlink
        3,  # boot
        254,
        0,  # universe
        1,  # unicast
    )
    assert route.get("RTA_PRIORITY") is None  # no metric sent: the kernel's default


def test_second_run_changes_nothing_and_writes_nothing(
    ipr: Any, wire: RtnlWire, guard: Guard
) -> None:
    assert run(ipr, wire)
    assert guarded(guard) == []
    assert guarded(guard, check_mode=True) == []
    assert guard.reads > 0  # the guard really was in the path


def test_check_mode_reports_and_writes_nothing(ns: str, guard: Guard) -> None:
    assert [c[:3] for c in guarded(guard, check_mode=True)] == [
        (ADD, "route", "10.244.2.0/24"),
        (ADD, "route", "10.244.3.0/24"),
    ]
    assert boot_routes(ns) == []


# --- drift and peers leaving -----------------------------------------------------------


def test_peer_removed_loses_its_route_only(ns: str, ipr: Any, wire: RtnlWire) -> None:
    run(ipr, wire)
    assert run(ipr, wire, peers=[PEER2]) == [(DELETE, "route", "10.244.3.0/24", LEFT)]
    assert boot_routes(ns) == ["unicast 10.244.2.0/24 via 192.0.2.12 dev eth0 scope global"]
    assert run(ipr, wire, peers=[PEER2]) == []


@pytest.mark.parametrize(
    ("inject", "expected"),
    [
        (
            ["route", "replace", "10.244.2.0/24", "via", "192.0.2.99", "dev", "eth0"],
            [(REPLACE, "route", "10.244.2.0/24", "peer node2: gateway: 192.0.2.99 vs 192.0.2.12")],
        ),
        (
            # A route left on an old underlay is moved in place, not deleted and re-added.
            ["route", "replace", "10.244.2.0/24", "via", "198.51.100.12", "dev", "eth1"],
            [
                (
                    REPLACE,
                    "route",
                    "10.244.2.0/24",
                    "peer node2: gateway: 198.51.100.12 vs 192.0.2.12, dev: eth1 vs eth0",
                )
            ],
        ),
        (
            ["route", "del", "10.244.3.0/24"],
            [(ADD, "route", "10.244.3.0/24", "peer node3: missing")],
        ),
        (
            # An old route of the peer on eth1 under another metric: owned, not planned.
            ["route", "add", "10.244.2.0/24", "via", "198.51.100.12", "dev", "eth1", "metric", "9"],
            [
                (
                    DELETE,
                    "route",
                    "10.244.2.0/24 metric 9",
                    "not in the plan (peer node2's route has the default metric)",
                )
            ],
        ),
    ],
    ids=["gateway", "old-device", "gone", "second-metric"],
)
def test_drift_is_repaired_exactly(
    ns: str, ipr: Any, wire: RtnlWire, inject: list[str], expected: list[Any]
) -> None:
    run(ipr, wire)
    ip(*inject, "proto", "boot", netns=ns)
    assert run(ipr, wire) == expected
    assert run(ipr, wire) == []
    assert boot_routes(ns) == [
        "unicast 10.244.2.0/24 via 192.0.2.12 dev eth0 scope global",
        "unicast 10.244.3.0/24 via 192.0.2.13 dev eth0 scope global",
    ]


# --- ownership ------------------------------------------------------------------------

# Routes host_gw must never touch: `ip route add <command>`, and the line `ip -4 -d route
# show table all proto all` prints for it.
FOREIGN = [
    # `ip route add` defaults to proto boot, podnet's own mark: say static explicitly.
    (
        "10.244.50.0/24 via 192.0.2.1 dev eth0 proto static",
        "unicast 10.244.50.0/24 via 192.0.2.1 dev eth0 table main proto static scope global",
    ),
    (
        "198.18.0.0/15 via 192.0.2.1 dev eth0",
        "unicast 198.18.0.0/15 via 192.0.2.1 dev eth0 table main proto boot scope global",
    ),
    (
        "10.244.51.0/24 via 192.0.2.1 dev eth0 table 100",
        "unicast 10.244.51.0/24 via 192.0.2.1 dev eth0 table 100 proto boot scope global",
    ),
    (
        "10.244.60.0/24 via 10.244.60.0 dev flannel.1 onlink",
        "unicast 10.244.60.0/24 via 10.244.60.0 dev flannel.1 table main proto boot "
        "scope global onlink",
    ),
    (
        "10.244.70.0/24 dev flannel-wg scope link",
        "unicast 10.244.70.0/24 dev flannel-wg table main proto boot scope link",
    ),
    (
        "10.244.80.0/24 dev eth0",
        "unicast 10.244.80.0/24 dev eth0 table main proto boot scope link",
    ),
]


def add_foreign(ns: str) -> None:
    """vxlan devices stand in for flannel.1 and flannel-wg (the kernel has no dummy)."""
    for name, vni in (("flannel.1", "1"), ("flannel-wg", "2")):
        ip("link", "add", name, "type", "vxlan", "id", vni, "dev", "eth0", "dstport", "0", netns=ns)
        ip("link", "set", name, "up", netns=ns)
    for command, _shown in FOREIGN:
        ip("route", "add", *command.split(), netns=ns)


def all_routes(ns: str) -> list[str]:
    shown = ip("-4", "-d", "route", "show", "table", "all", "proto", "all", netns=ns)
    return [line.strip() for line in shown.splitlines()]


def test_foreign_routes_survive_peers_leaving_and_absent(ns: str, ipr: Any, wire: RtnlWire) -> None:
    run(ipr, wire)
    add_foreign(ns)
    before = all_routes(ns)
    assert run(ipr, wire, peers=[PEER2]) == [(DELETE, "route", "10.244.3.0/24", LEFT)]
    assert run(ipr, wire, peers=[PEER2]) == []
    result = reconcile_host_gw(ipr, wire, validate_host_gw({**args(), "state": "absent"}))
    assert [(c.op, c.key, c.reason) for c in result.changes] == [
        (DELETE, "10.244.2.0/24", "state=absent")
    ]
    after = all_routes(ns)
    for _command, shown in FOREIGN:
        assert shown in before, shown
        assert shown in after, shown
    assert [line for line in after if "10.244.2.0/" in line or "10.244.3.0/" in line] == []
    assert "unicast default via 192.0.2.1 dev eth0 table main proto static scope global" in after


def test_a_foreign_route_in_a_peers_slot_is_an_error_and_nothing_is_written(
    ns: str, guard: Guard
) -> None:
    ip("route", "add", "10.244.3.0/24", "via", "192.0.2.1", "proto", "static", netns=ns)
    with pytest.raises(HostGwError) as caught:
        guarded(guard)  # a write would fail the test with AssertionError instead
    assert caught.value.problems == [
        "route 10.244.3.0/24 (peer node3) is taken in table main by a route podnet does not "
        "own (10.244.3.0/24 via 192.0.2.1 dev eth0 proto static); delete it (ip route del "
        "10.244.3.0/24 via 192.0.2.1 dev eth0 proto static) or change the peer's subnet"
    ]
    assert "nothing was changed" in str(caught.value)
    assert boot_routes(ns) == []


def test_vxlans_onlink_route_in_a_slot_says_remove_vxlan_first(ns: str, guard: Guard) -> None:
    add_foreign(ns)
    peer = {"name": "node6", "subnet": "10.244.60.0/24", "public_ip": "192.0.2.16"}
    with pytest.raises(HostGwError, match=r"flannel\.1 is a VXLAN device of flannel or podnet"):
        guarded(guard, peers=[PEER2, peer])


# --- backends switch cleanly ------------------------------------------------------------


def vxlan_args(**changes: Any) -> dict[str, Any]:
    macs = {"node2": "0a:00:00:00:02:02", "node3": "0a:00:00:00:03:03"}
    return {
        "state": "present",
        "vni": 1,
        "family": 4,
        "dev": "eth0",
        "local": "192.0.2.11",
        "mtu": 1450,
        "vtep_mac": "0a:00:00:00:01:01",
        "subnet": "10.244.1.0/24",
        "network": "10.244.0.0/16",
        "direct_routing": True,
        "peers": [{**p, "vtep_mac": macs[p["name"]]} for p in (PEER2, PEER3)],
        **changes,
    }


def test_vxlan_direct_routes_are_adopted_without_churn(
    ns: str, ipr: Any, wire: RtnlWire, guard: Guard
) -> None:
    """vxlan with DirectRouting routes on-segment peers exactly as host-gw does, and both
    modules own that class, so host_gw takes them over with no write at all."""
    with Host(ipr, ProcNet(ns)) as host:
        vxlan = reconcile_vxlan(host, validate_vxlan(vxlan_args()))
    assert [c.key for c in vxlan.changes if c.kind == "route"] == [
        "10.244.2.0/24",
        "10.244.3.0/24",
    ]
    assert guarded(guard) == []
    # And back: vxlan finds its direct routes as host_gw left them.
    with Host(ipr, ProcNet(ns)) as host:
        again = reconcile_vxlan(host, validate_vxlan(vxlan_args()))
    assert again.changes == []


def test_host_gw_routes_are_vxlans_direct_routes(ns: str, ipr: Any, wire: RtnlWire) -> None:
    run(ipr, wire)
    with Host(ipr, ProcNet(ns)) as host:
        vxlan = reconcile_vxlan(host, validate_vxlan(vxlan_args()))
    assert [(c.op, c.kind) for c in vxlan.changes] == [(ADD, "link"), (ADD, "addr")]


# --- failures before any write ---------------------------------------------------------


def test_gateway_off_the_segment_fails_before_any_write(ns: str, guard: Guard) -> None:
    """node3's public IP sits on eth1's segment (and behind the default route), not eth0's."""
    far = {**PEER3, "public_ip": "198.51.100.13"}
    with pytest.raises(HostGwError) as caught:
        guarded(guard, peers=[PEER2, far])
    assert caught.value.problems == [OFF_SEGMENT]
    with pytest.raises(HostGwError):
        guarded(guard, check_mode=True, peers=[PEER2, far])  # check mode says so too
    assert boot_routes(ns) == []


@pytest.mark.parametrize("family", [4, 6])
def test_kernel_refusing_an_off_link_gateway_gets_the_same_message(
    ns: str, ipr: Any, wire: RtnlWire, monkeypatch: pytest.MonkeyPatch, family: int
) -> None:
    """Should the pre-check miss a case, the kernel's ENETUNREACH (IPv4) or EHOSTUNREACH
    (IPv6) is reported as the same segment problem, not as a bare errno."""
    monkeypatch.setattr(hostgw_host, "off_segment", lambda *_: [])
    if family == 4:
        far = {**PEER3, "public_ip": "198.51.100.13"}
        changes: dict[str, Any] = {"peers": [far]}
        expected = OFF_SEGMENT
    else:
        ip("addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad", netns=ns)
        far = {"name": "node3", "subnet": "fd00:10:244:3::/64", "public_ip": "2001:db9::13"}
        changes = {"family": 6, "network": "fd00:10:244::/56", "peers": [far]}
        expected = OFF_SEGMENT.replace("198.51.100.13", "2001:db9::13")
    with pytest.raises(HostGwError) as caught:
        run(ipr, wire, **changes)
    assert caught.value.problems == [expected]


def test_missing_dev_fails_before_any_write(guard: Guard) -> None:
    with pytest.raises(HostGwInputError, match="dev: 'eth9' does not exist on this host"):
        guarded(guard, dev="eth9")


def test_kernel_not_holding_a_write_fails_verification(ns: str, ipr: Any, wire: RtnlWire) -> None:
    """Stand-in for another route manager: the second route is dropped before the kernel."""
    send = wire.transact

    def drop_last(requests: Any) -> None:
        send(requests[:-1])

    wire.transact = drop_last  # type: ignore[method-assign]
    with pytest.raises(HostGwError) as caught:
        run(ipr, wire)
    assert caught.value.problems == ["add route 10.244.3.0/24: peer node3: missing"]
    assert "after applying, the kernel still differs from the plan" in str(caught.value)


# --- IPv6 -----------------------------------------------------------------------------


def test_ipv6_routes_and_peer_removal(ns: str, ipr: Any, wire: RtnlWire) -> None:
    ip("addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad", netns=ns)
    peer2 = {"name": "node2", "subnet": "fd00:10:244:2::/64", "public_ip": "2001:db8::12"}
    peer3 = {"name": "node3", "subnet": "fd00:10:244:3::/64", "public_ip": "2001:db8::13"}
    v6 = {"family": 6, "network": "fd00:10:244::/56", "peers": [peer2, peer3]}
    assert run(ipr, wire, **v6) == [
        (ADD, "route", "fd00:10:244:2::/64", "peer node2: missing"),
        (ADD, "route", "fd00:10:244:3::/64", "peer node3: missing"),
    ]
    assert boot_routes(ns, "-6") == [
        "unicast fd00:10:244:2::/64 via 2001:db8::12 dev eth0 scope global metric 1024 pref medium",
        "unicast fd00:10:244:3::/64 via 2001:db8::13 dev eth0 scope global metric 1024 pref medium",
    ]
    route = routes(ipr, socket.AF_INET6)["fd00:10:244:2::/64"]
    assert (route["flags"], route["proto"], route.get("RTA_PRIORITY")) == (0, 3, 1024)
    assert run(ipr, wire, **v6) == []
    assert run(ipr, wire, **{**v6, "peers": [peer2]}) == [
        (DELETE, "route", "fd00:10:244:3::/64", LEFT)
    ]
    assert len(boot_routes(ns, "-6")) == 1
    assert boot_routes(ns) == []  # the IPv4 table was never touched


# --- scale ----------------------------------------------------------------------------


def test_five_thousand_peers_one_dump_one_batch_then_no_writes(
    ns: str, ipr: Any, wire: RtnlWire, guard: Guard
) -> None:
    """A 5k-node fleet: the peers' public IPs on eth0's 198.18.0.0/15 (benchmark range)."""
    ip("addr", "add", "198.18.0.1/15", "dev", "eth0", netns=ns)
    peers = [
        {
            "name": f"node{i}",
            "subnet": f"10.{i // 256}.{i % 256}.0/24",
            "public_ip": f"198.18.{i // 250}.{i % 250 + 2}",
        }
        for i in range(1, 5001)
    ]
    big = {"network": "10.0.0.0/8", "peers": peers}
    batches: list[int] = []
    send = wire.transact

    def count(requests: Any) -> None:
        batches.append(len(requests))
        send(requests)

    wire.transact = count  # type: ignore[method-assign]
    started = time.monotonic()
    assert len(run(ipr, wire, **big)) == 5000
    first = time.monotonic() - started
    assert batches == [5000]  # one transaction (chunked on the wire by rtnl_wire)
    assert len(routes(ipr)) >= 5000

    dumps = []
    dump = guard.wire.dump

    def counted_dump(*argv: Any) -> Any:
        dumps.append(argv[0])
        return dump(*argv)

    guard.wire.dump = counted_dump  # type: ignore[method-assign]
    started = time.monotonic()
    assert guarded(guard, **big) == []
    second = time.monotonic() - started
    assert len(dumps) == 1  # table main, once
    # Generous bounds (measured ~0.3 s and ~0.1 s): they catch a per-peer netlink call.
    assert first < 10 and second < 5, (first, second)
