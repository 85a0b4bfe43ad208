"""The VXLAN reconciler's pure parts: diff, conflicts, validation, DirectRouting's lookup.

Both sides of every diff are built by hand (no kernel, no pyroute2) and every test states
the exact list of changes, in order: the order is the apply order, so it is part of the
contract (routes after neighbours, deletes first and in reverse).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.core.changes import ADD, DELETE, REPLACE  # noqa: E402
from plugins.module_utils.kernel.ipnet import parse_cidr  # noqa: E402
from plugins.module_utils.kernel.routes import Route  # noqa: E402
from plugins.module_utils.vxlan.diff import diff_vxlan, find_conflicts  # noqa: E402
from plugins.module_utils.vxlan.input import Peer, VxlanInputError, validate_params  # noqa: E402
from plugins.module_utils.vxlan.state import (  # noqa: E402
    AF_INET,
    AF_INET6,
    Address,
    Device,
    FdbEntry,
    Neighbour,
    VxlanState,
    view,
)
from plugins.module_utils.vxlan.want import Underlay, on_link_peers, plan_vxlan  # noqa: E402

IFNAME = "flannel.1"
MAC2, MAC3 = "0a:00:00:00:00:02", "0a:00:00:00:00:03"
STRAY = "not in the plan (the device's one address in the network is the node's)"


def device(**changes: Any) -> Device:
    base = Device(
        ifname=IFNAME,
        kind="vxlan",
        vni=1,
        link=2,
        local="192.0.2.11",
        port=8472,
        gbp=False,
        learning=False,
        ttl=0,
        mtu=1450,
        address="0a:00:00:00:00:01",
        txqlen=0,
        up=True,
        dev="eth0",
        accept_ra=0,
    )
    return dataclasses.replace(base, **changes)


def tunnel(n: int, mac: str, public_ip: str) -> dict[str, Any]:
    """The three objects of a tunnelled peer `node<n>` with subnet 10.244.<n>.0/24."""
    gw, dst, name = f"10.244.{n}.0", f"10.244.{n}.0/24", f"node{n}"
    return {
        "neighbours": {gw: Neighbour(gw, mac, peer=name)},
        "fdb": {f"{mac} dst {public_ip}": FdbEntry(mac, public_ip, peer=name)},
        "routes": {dst: Route(dst, gw, IFNAME, True, peer=name)},
    }


def direct(n: int, public_ip: str) -> dict[str, Any]:
    dst = f"10.244.{n}.0/24"
    return {"routes": {dst: Route(dst, public_ip, None, False, peer=f"node{n}")}}


def state(dev: Device | None = None, *parts: dict[str, Any], addr: bool = True) -> VxlanState:
    merged: dict[str, dict[str, Any]] = {"neighbours": {}, "fdb": {}, "routes": {}}
    for part in parts:
        for kind, objects in part.items():
            merged[kind].update(objects)
    addresses = {"10.244.1.0/32": Address("10.244.1.0", 32)} if addr and dev else {}
    return VxlanState(AF_INET, IFNAME, dev, addresses, **merged)


def ops(changes: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(c.op, c.kind, c.key, c.reason) for c in changes]


# --- diff ------------------------------------------------------------------------------


def test_fresh_host_gets_everything_routes_last() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    assert ops(diff_vxlan(want, state())) == [
        (ADD, "link", IFNAME, "missing"),
        (ADD, "addr", "10.244.1.0/32", "missing"),
        (ADD, "neigh", "10.244.2.0", "peer node2: missing"),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", "peer node2: missing"),
        (ADD, "route", "10.244.2.0/24", "peer node2: missing"),
    ]


def test_identical_states_need_nothing() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"), direct(3, "192.0.2.13"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"), direct(3, "192.0.2.13"))
    assert diff_vxlan(want, have) == []


def test_peer_names_do_not_count_as_drift() -> None:
    """`peer` is for messages: the kernel never reports it, so it must not cause a change."""
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = dataclasses.replace(
        have, routes={k: dataclasses.replace(r, peer="") for k, r in have.routes.items()}
    )
    assert diff_vxlan(want, have) == []


@pytest.mark.parametrize(
    ("drift", "reason", "changed"),
    [
        ({"mtu": 1500}, "mtu: 1500 vs 1450", ["mtu"]),
        ({"txqlen": 1000, "up": False}, "txqlen: 1000 vs 0, up: False vs True", ["txqlen", "up"]),
        ({"learning": True}, "learning: True vs False", ["learning"]),
        ({"local": "192.0.2.99"}, "local: 192.0.2.99 vs 192.0.2.11", ["local"]),
        ({"link": 7, "dev": "eth1"}, "dev: eth1 vs eth0 (ifindex 2)", ["link"]),
        ({"accept_ra": 1}, "accept_ra: 1 vs 0", ["accept_ra"]),
    ],
    ids=["mtu", "txqlen-and-up", "learning", "local", "underlay", "accept_ra"],
)
def test_mutable_attribute_is_changed_in_place(
    drift: dict[str, Any], reason: str, changed: list[str]
) -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(**drift), tunnel(2, MAC2, "192.0.2.12"))
    changes = diff_vxlan(want, have)
    assert ops(changes) == [(REPLACE, "link", IFNAME, reason)]
    assert changes[0].spec["recreate"] is False
    assert changes[0].spec["changed"] == changed


def test_new_mac_re_adds_neighbours_the_kernel_will_flush() -> None:
    """Changing a live device's MAC flushes its neighbours (permanent ones too); its FDB
    entries and routes stay, so only the neighbours are added again, after the link."""
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(address="0a:00:00:00:00:99"), tunnel(2, MAC2, "192.0.2.12"))
    assert ops(diff_vxlan(want, have)) == [
        (REPLACE, "link", IFNAME, "address: 0a:00:00:00:00:99 vs 0a:00:00:00:00:01"),
        (
            ADD,
            "neigh",
            "10.244.2.0",
            "peer node2: flannel.1's MAC changes, which flushes its neighbours",
        ),
    ]


def test_unreadable_accept_ra_is_not_drift() -> None:
    """None: the kernel has no IPv6 sysctls for the device, so there is nothing to set."""
    want = state(device())
    assert diff_vxlan(want, state(device(accept_ra=None))) == []


@pytest.mark.parametrize(
    ("drift", "reason"),
    [
        ({"vni": 2}, "vni: 2 vs 1"),
        ({"port": 4789}, "port: 4789 vs 8472"),
        ({"gbp": True}, "gbp: True vs False"),
        ({"kind": "bridge"}, "kind: bridge vs vxlan"),
        ({"local": "2001:db8::1"}, "local: 2001:db8::1 vs 192.0.2.11 (another address family)"),
    ],
    ids=["vni", "port", "gbp", "kind", "local-family"],
)
def test_immutable_attribute_recreates_device_and_its_objects(
    drift: dict[str, Any], reason: str
) -> None:
    """Re-creating takes neighbours, FDB, addresses and onlink routes along; direct routes
    live on another device and stay untouched."""
    objects = (tunnel(2, MAC2, "192.0.2.12"), direct(3, "192.0.2.13"))
    changes = diff_vxlan(state(device(), *objects), state(device(**drift), *objects))
    recreated = f"{IFNAME} is re-created"
    link_reason = changes[0].reason
    assert reason in link_reason and "cannot change this in place" in link_reason
    assert ops(changes)[1:] == [
        (ADD, "addr", "10.244.1.0/32", recreated),
        (ADD, "neigh", "10.244.2.0", f"peer node2: {recreated}"),
        (ADD, "fdb", f"{MAC2} dst 192.0.2.12", f"peer node2: {recreated}"),
        (ADD, "route", "10.244.2.0/24", f"peer node2: {recreated}"),
    ]
    assert (changes[0].op, changes[0].kind, changes[0].spec["recreate"]) == (
        REPLACE,
        "link",
        True,
    )


def test_peer_that_left_is_removed_route_first() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"), tunnel(3, MAC3, "192.0.2.13"))
    left = "not in the plan (peer left the inventory)"
    assert ops(diff_vxlan(want, have)) == [
        (DELETE, "route", "10.244.3.0/24", left),
        (DELETE, "fdb", f"{MAC3} dst 192.0.2.13", left),
        (DELETE, "neigh", "10.244.3.0", left),
    ]


def test_deletes_run_before_adds() -> None:
    """A peer leaving and one joining in the same run: every delete first, in reverse."""
    want = state(device(), tunnel(3, MAC3, "192.0.2.13"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    assert [(c.op, c.kind) for c in diff_vxlan(want, have)] == [
        (DELETE, "route"),
        (DELETE, "fdb"),
        (DELETE, "neigh"),
        (ADD, "neigh"),
        (ADD, "fdb"),
        (ADD, "route"),
    ]


def test_peer_mac_change_replaces_neighbour_and_moves_fdb_entry() -> None:
    """flanneld leaves the old MAC's FDB entry behind (§1.10); podnet removes it."""
    want = state(device(), tunnel(2, MAC3, "192.0.2.12"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    assert ops(diff_vxlan(want, have)) == [
        (DELETE, "fdb", f"{MAC2} dst 192.0.2.12", "not in the plan (peer left the inventory)"),
        (REPLACE, "neigh", "10.244.2.0", f"peer node2: lladdr: {MAC2} vs {MAC3}"),
        (ADD, "fdb", f"{MAC3} dst 192.0.2.12", "peer node2: missing"),
    ]


def test_route_drift_is_replaced_with_field_reasons() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have.routes["10.244.2.0/24"] = Route("10.244.2.0/24", "10.244.2.9", IFNAME, False)  # type: ignore[index]
    assert ops(diff_vxlan(want, have)) == [
        (
            REPLACE,
            "route",
            "10.244.2.0/24",
            "peer node2: gateway: 10.244.2.9 vs 10.244.2.0, onlink: False vs True",
        )
    ]


def test_peer_turning_direct_drops_its_tunnel_objects() -> None:
    """flanneld only replaces the route and leaves neighbour and FDB entry stale (§1.7)."""
    want = state(device(), direct(2, "192.0.2.12"))
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    now_direct = "not in the plan (peer node2 is routed directly now)"
    assert ops(diff_vxlan(want, have)) == [
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


def test_peer_turning_tunnelled_gets_neighbour_and_fdb_before_its_route() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    have = state(device(), direct(2, "192.0.2.12"))
    assert [(c.op, c.kind) for c in diff_vxlan(want, have)] == [
        (ADD, "neigh"),
        (ADD, "fdb"),
        (REPLACE, "route"),
    ]


def test_stray_address_inside_network_is_removed() -> None:
    want = state(device())
    have = state(device(), addr=False)
    have.addresses["10.244.1.5/24"] = Address("10.244.1.5", 24)  # type: ignore[index]
    assert ops(diff_vxlan(want, have)) == [
        (ADD, "addr", "10.244.1.0/32", "missing"),
        (DELETE, "addr", "10.244.1.5/24", STRAY),
    ]


def test_a_renumbered_node_gets_its_new_address_before_the_old_one_goes() -> None:
    """Deleting a device's last address flushes its neighbours and routes (the kernel's
    doing): the peers' objects would vanish after podnet made them."""
    peers = tunnel(2, MAC2, "192.0.2.12")
    want = state(device(), peers, addr=False)
    want.addresses["10.244.77.0/32"] = Address("10.244.77.0", 32)  # type: ignore[index]
    have = state(device(), peers)
    assert [(c.op, c.kind, c.key) for c in diff_vxlan(want, have)] == [
        (ADD, "addr", "10.244.77.0/32"),
        (DELETE, "addr", "10.244.1.0/32"),
    ]


def test_absent_deletes_direct_routes_then_the_device_only() -> None:
    """Neighbours, FDB entries, addresses and onlink routes go with the device."""
    want = VxlanState(AF_INET, IFNAME)
    have = state(device(), tunnel(2, MAC2, "192.0.2.12"), direct(3, "192.0.2.13"))
    assert ops(diff_vxlan(want, have)) == [
        (DELETE, "route", "10.244.3.0/24", "state=absent"),
        (DELETE, "link", IFNAME, "state=absent"),
    ]


def test_absent_and_gone_needs_nothing() -> None:
    assert diff_vxlan(VxlanState(AF_INET, IFNAME), VxlanState(AF_INET, IFNAME)) == []


def test_foreign_route_in_a_planned_slot_is_a_conflict() -> None:
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"), tunnel(3, MAC3, "192.0.2.13"))
    foreign = {"10.244.3.0/24": Route("10.244.3.0/24", None, IFNAME, False, proto=4)}
    assert find_conflicts(want, foreign) == [
        "route 10.244.3.0/24 (peer node3) is taken in table main by a route podnet does not "
        "own (10.244.3.0/24 dev flannel.1 proto 4); remove that route or change the peer's "
        "subnet"
    ]
    assert find_conflicts(want, {"10.244.9.0/24": foreign["10.244.3.0/24"]}) == []


def test_route_on_a_device_of_another_vni_hints_at_removing_it() -> None:
    """flanneld names devices after the VNI: after a VNI change the old device still holds
    the peers' routes, and the message says what to do about it."""
    want = state(device(), tunnel(2, MAC2, "192.0.2.12"))
    old = {"10.244.2.0/24": Route("10.244.2.0/24", "10.244.2.0", "flannel.7", True)}
    assert find_conflicts(want, old) == [
        "route 10.244.2.0/24 (peer node2) is taken in table main by a route podnet does not "
        "own (10.244.2.0/24 via 10.244.2.0 dev flannel.7 onlink proto 3); flannel.7 looks "
        "like the device of another VNI: remove it first (state=absent with that vni), then "
        "run again"
    ]


def test_view_is_one_line_per_object() -> None:
    shown = view(state(device(), tunnel(2, MAC2, "192.0.2.12")))
    assert shown["neighbours"] == {"10.244.2.0": f"lladdr {MAC2} permanent"}
    assert shown["fdb"] == {f"{MAC2} dst 192.0.2.12": "self permanent"}
    assert shown["routes"] == {"10.244.2.0/24": "via 10.244.2.0 dev flannel.1 onlink proto boot"}
    assert shown["addresses"] == ["10.244.1.0/32 scope 0"]
    assert shown["device"]["dev"] == "eth0"
    assert view(VxlanState(AF_INET, IFNAME))["device"] is None


# --- plan ------------------------------------------------------------------------------

ARGS: dict[str, Any] = {
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
    "vtep_mac": "0A:00:00:00:00:01",
    "subnet": "10.244.1.0/24",
    "network": "10.244.0.0/16",
    "peers": [
        {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12", "vtep_mac": MAC2},
        {
            "name": "node3",
            "subnet": "10.244.3.0/24",
            "public_ip": "198.51.100.13",
            "vtep_mac": MAC3,
        },
    ],
}
UNDERLAY = Underlay("eth0", 2, 1500)


def test_plan_builds_flannels_objects() -> None:
    params = validate_params(ARGS)
    have = plan_vxlan(params, UNDERLAY)
    assert have == state(
        device(accept_ra=0), tunnel(2, MAC2, "192.0.2.12"), tunnel(3, MAC3, "198.51.100.13")
    )
    assert have.device is not None and have.device.address == "0a:00:00:00:00:01"


def test_plan_skips_the_node_itself_among_peers() -> None:
    me = {"name": "me", "subnet": "10.244.1.0/24", "public_ip": "192.0.2.11", "vtep_mac": MAC3}
    params = validate_params({**ARGS, "peers": [*ARGS["peers"][:1], me]})
    assert [p.name for p in params.peers] == ["node2"]


def table_of(peers: list[dict[str, str]]) -> str:
    return "".join(f"{p['name']} {p['subnet']} {p['public_ip']} {p['vtep_mac']}\n" for p in peers)


def test_a_peer_table_gives_the_params_the_peer_list_gives() -> None:
    me = {"name": "me", "subnet": "10.244.1.0/24", "public_ip": "192.0.2.11", "vtep_mac": MAC3}
    table = "\n" + table_of([me, *ARGS["peers"]]) + "  \n"  # itself listed, blank lines
    assert validate_params({**ARGS, "peers": [], "peer_table": table}) == validate_params(ARGS)


def test_a_peer_table_fails_with_the_messages_of_the_peer_list() -> None:
    bad = [
        {**ARGS["peers"][0], "public_ip": "192.0.2.300"},
        {**ARGS["peers"][1], "subnet": "10.244.2.0/24", "vtep_mac": "xx"},
    ]
    with pytest.raises(VxlanInputError) as listed:
        validate_params({**ARGS, "peers": bad})
    with pytest.raises(VxlanInputError) as tabled:
        validate_params({**ARGS, "peers": [], "peer_table": table_of(bad)})
    assert tabled.value.problems == listed.value.problems
    assert "peers[node2].public_ip: '192.0.2.300' is not an IP address" in tabled.value.problems


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        pytest.param(
            {"peers": [], "peer_table": "node9 10.244.9.0/24 192.0.2.19\n"},
            "peer_table line 1: 'node9 10.244.9.0/24 192.0.2.19' has 3 fields, not 4 "
            "(one line per peer: name subnet public_ip vtep_mac)",
            id="short-line",
        ),
        pytest.param(
            {"peer_table": "node9 10.244.9.0/24 192.0.2.19 0a:00:00:00:00:09\n"},
            "peer_table: given together with peers; pass the peers one way",
            id="both-forms",
        ),
    ],
)
def test_a_peer_table_line_or_form_it_cannot_read_is_named(extra: dict, problem: str) -> None:
    with pytest.raises(VxlanInputError) as error:
        validate_params({**ARGS, **extra})
    assert error.value.problems == [problem]


def test_plan_direct_routing_uses_on_link_peers_only() -> None:
    params = validate_params({**ARGS, "direct_routing": True})
    main = [
        SimpleNamespace(dst="192.0.2.0/24", priority=0, type=1, gateway=None, multipath=False),
        SimpleNamespace(dst="0.0.0.0/0", priority=0, type=1, gateway="192.0.2.1", multipath=False),
    ]
    have = plan_vxlan(params, UNDERLAY, main)
    assert have == state(
        device(accept_ra=0), direct(2, "192.0.2.12"), tunnel(3, MAC3, "198.51.100.13")
    )


def test_plan_ipv6_uses_flannel_v6_names_128_and_metric_1024() -> None:
    args = {
        **ARGS,
        "family": 6,
        "local": "2001:db8::11",
        "mtu": 1430,
        "subnet": "fd00:10:244:1::/64",
        "network": "fd00:10:244::/56",
        "peers": [
            {
                "name": "n2",
                "subnet": "fd00:10:244:2::/64",
                "public_ip": "2001:db8::12",
                "vtep_mac": MAC2,
            }
        ],
    }
    have = plan_vxlan(validate_params(args), UNDERLAY)
    assert have.family == AF_INET6 and have.ifname == "flannel-v6.1"
    assert list(have.addresses) == ["fd00:10:244:1::/128"]
    assert have.routes == {
        "fd00:10:244:2::/64": Route(
            "fd00:10:244:2::/64", "fd00:10:244:2::", "flannel-v6.1", True, 1024
        )
    }


@pytest.mark.parametrize(
    ("underlay", "problem"),
    [
        (None, "dev: 'eth0' does not exist on this host (network namespace)"),
        (Underlay("eth0", 2, 1400), "mtu: 1450 does not fit eth0 (MTU 1400)"),
    ],
    ids=["missing-dev", "mtu-too-big"],
)
def test_plan_reports_what_only_the_host_reveals(underlay: Underlay | None, problem: str) -> None:
    with pytest.raises(VxlanInputError) as caught:
        plan_vxlan(validate_params(ARGS), underlay)
    assert problem in caught.value.problems[0]


def test_absent_plan_is_empty() -> None:
    params = validate_params({"state": "absent", "vni": 4, "family": 6})
    assert plan_vxlan(params, None) == VxlanState(AF_INET6, "flannel-v6.4")


# --- validation ------------------------------------------------------------------------


def test_every_problem_is_reported_at_once() -> None:
    bad = {
        **ARGS,
        "vni": 1 << 24,
        "local": "2001:db8::1",
        "vtep_mac": "01:00:5e:00:00:01",
        "subnet": "10.244.1.7/24",
        "mtu": 20,
        "peers": [
            {"name": "a", "subnet": "10.245.0.0/24", "public_ip": "192.0.2.12", "vtep_mac": MAC2},
            {"name": "b", "subnet": "10.244.2.0/24", "public_ip": "10.244.9.9", "vtep_mac": MAC2},
            {"name": "c", "subnet": "10.244.4.0/23", "public_ip": "192.0.2.14", "vtep_mac": "zz"},
            {"name": "d", "subnet": "10.244.4.0/24", "public_ip": "192.0.2.15", "vtep_mac": MAC3},
            {"name": "e", "subnet": "10.244.5.0/24", "public_ip": "192.0.2.16", "vtep_mac": MAC3},
            {"name": "f", "subnet": "10.244.6.0/24"},
        ],
    }
    with pytest.raises(VxlanInputError) as caught:
        validate_params(bad)
    assert caught.value.problems == [
        "vni: 16777216 is out of range: a VXLAN ID is 24 bits (0..16777215)",
        "local: 2001:db8::1 is not an IPv4 address (family=4)",
        "vtep_mac: 01:00:5e:00:00:01 is a multicast or all-zero MAC; a VTEP needs a unicast "
        "one (first octet even, e.g. 0a:...)",
        "subnet: 10.244.1.7/24 has host bits set; did you mean 10.244.1.0/24?",
        "mtu: 20 is out of range for an IPv4 device (68..65535)",
        "peers[a].subnet: 10.245.0.0/24 is not inside network 10.244.0.0/16",
        "peers[b].public_ip: 10.244.9.9 lies inside network 10.244.0.0/16; it must be the "
        "peer's underlay address",
        "peers[c].vtep_mac: 'zz' is not a MAC address (aa:bb:cc:dd:ee:ff)",
        "peers[f]: missing public_ip, vtep_mac",
        "peers[e].vtep_mac: 0a:00:00:00:00:03 is also peers[d]'s",
    ]


def test_overlapping_and_duplicate_peers() -> None:
    peers = [
        {"name": "a", "subnet": "10.244.4.0/23", "public_ip": "192.0.2.14", "vtep_mac": MAC2},
        {"name": "b", "subnet": "10.244.5.0/24", "public_ip": "192.0.2.15", "vtep_mac": MAC3},
        {
            "name": "a",
            "subnet": "10.244.8.0/24",
            "public_ip": "192.0.2.16",
            "vtep_mac": "0a:00:00:00:00:04",
        },
        {
            "name": "z",
            "subnet": "10.244.1.0/24",
            "public_ip": "192.0.2.99",
            "vtep_mac": "0a:00:00:00:00:05",
        },
    ]
    with pytest.raises(VxlanInputError) as caught:
        validate_params({**ARGS, "peers": peers})
    assert caught.value.problems == [
        "peers[z].subnet: 10.244.1.0/24 is this node's own subnet (peer public_ip "
        "192.0.2.99, local 192.0.2.11): two nodes share a lease",
        "peers[b].subnet: 10.244.5.0/24 overlaps peers[a]'s 10.244.4.0/23; every node needs "
        "its own lease",
        "peers[a].name: a is also peers[a]'s",
    ]


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("network", "10.244.0.0", "network: '10.244.0.0' is not a CIDR"),
        ("network", "fd00::/48", "network: fd00::/48 is not an IPv4 CIDR (family=4)"),
        ("subnet", "10.1.0.0/24", "subnet: 10.1.0.0/24 is not inside network 10.244.0.0/16"),
        ("local", "192.0.2.300", "local: '192.0.2.300' is not an IP address"),
        ("port", 70000, "port: 70000 is not a UDP port"),
        ("dev", None, "dev: required when state=present"),
    ],
    ids=["no-prefix", "wrong-family", "outside", "bad-ip", "port", "missing"],
)
def test_single_field_problems_name_field_and_value(field: str, value: Any, problem: str) -> None:
    with pytest.raises(VxlanInputError) as caught:
        validate_params({**ARGS, field: value})
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_validation_does_not_mutate_its_input() -> None:
    args = {**ARGS, "peers": [dict(p) for p in ARGS["peers"]]}
    snapshot = repr(args)
    validate_params(args)
    assert repr(args) == snapshot


@pytest.mark.parametrize(
    ("family", "vni", "ok"),
    [(4, 9_999_999, True), (4, 10_000_000, False), (6, 9_999, True), (6, 10_000, False)],
    ids=["v4-longest", "v4-too-long", "v6-longest", "v6-too-long"],
)
def test_device_name_must_fit_ifnamsiz(family: int, vni: int, ok: bool) -> None:
    args = {"state": "absent", "family": family, "vni": vni}
    if ok:
        assert len(validate_params(args).ifname) == 15
    else:
        with pytest.raises(VxlanInputError, match=r"longer than the kernel's 15 characters"):
            validate_params(args)


def test_absent_ignores_peers() -> None:
    params = validate_params({"state": "absent", "peers": [{"name": "x", "subnet": "bad"}]})
    assert params.peers == ()


def test_ipv6_mtu_floor() -> None:
    with pytest.raises(VxlanInputError, match=r"mtu: 1200 is out of range for an IPv6 device"):
        validate_params({"state": "absent", "family": 6, "mtu": 1200})


# --- DirectRouting's lookup ------------------------------------------------------------


def _route(dst: str, gateway: str | None = None, **kw: Any) -> SimpleNamespace:
    base = {"dst": dst, "gateway": gateway, "priority": 0, "type": 1, "multipath": False}
    return SimpleNamespace(**{**base, **kw})


def _peer(name: str, public_ip: str) -> Peer:
    return Peer(name, parse_cidr("10.244.9.0/24"), public_ip, MAC2)


@pytest.mark.parametrize(
    ("routes", "expected"),
    [
        ([_route("192.0.2.0/24")], True),
        ([_route("0.0.0.0/0", "192.0.2.1")], False),
        ([], False),
        ([_route("192.0.2.0/24"), _route("192.0.2.12/32", "192.0.2.1")], False),
        ([_route("192.0.2.0/24", "192.0.2.1"), _route("192.0.2.0/25")], True),
        ([_route("192.0.2.0/24", type=6)], False),
        ([_route("192.0.2.0/24", multipath=True)], False),
        ([_route("192.0.2.0/24", priority=10), _route("192.0.2.0/24", "192.0.2.1")], False),
        ([_route("192.0.2.0/24", "192.0.2.1", priority=10), _route("192.0.2.0/24")], True),
    ],
    ids=[
        "connected",
        "default-gw",
        "no-route",
        "host-route-wins",
        "longer-connected-wins",
        "blackhole",
        "multipath",
        "lower-metric-gw-wins",
        "lower-metric-connected-wins",
    ],
)
def test_on_link_is_the_longest_prefix_without_gateway(routes: list[Any], expected: bool) -> None:
    assert (on_link_peers([_peer("p", "192.0.2.12")], routes) == {"p"}) is expected


def test_on_link_ipv6() -> None:
    routes = [_route("2001:db8::/64"), _route("::/0", "2001:db8::1")]
    peers = [_peer("near", "2001:db8::12"), _peer("far", "2001:db8:1::12")]
    assert on_link_peers(peers, routes) == {"near"}
