"""Sticky allocation: pins, then the lease file, then what hosts run, then lowest free by name."""

from __future__ import annotations

import copy
import ipaddress
import time

import pytest
from conftest import DUAL_CONF, conf, fleet, leases, node, one_problem, problems_of, subnets_of

from podnet import Lease, leases_to_data, parse_leases, plan_fleet
from podnet.allocate import allocate_family

NET = ipaddress.ip_network
V4 = ipaddress.IPv4Address


def _subnets(plan, family: int = 4) -> dict[str, str]:
    return {name: str(subnet) for name, subnet in subnets_of(plan, family).items()}


# --- order of sources ----------------------------------------------------------------------


def test_lowest_free_subnet_in_name_order_whatever_the_input_order() -> None:
    plan = plan_fleet(conf(), [node("c", 3), node("a", 1), node("b", 2)])
    assert _subnets(plan) == {"a": "10.244.1.0/24", "b": "10.244.2.0/24", "c": "10.244.3.0/24"}
    assert [p.name for p in plan.nodes] == ["a", "b", "c"]


def test_name_order_is_plain_string_order() -> None:
    plan = plan_fleet(conf(), [node("node10", 1), node("node9", 2), node("Node1", 3)])
    assert _subnets(plan) == {
        "Node1": "10.244.1.0/24",
        "node10": "10.244.2.0/24",
        "node9": "10.244.3.0/24",
    }


@pytest.mark.parametrize(
    ("pins", "lease_file", "observed", "expected"),
    [
        ({}, {}, {}, {"a": "10.244.1.0/24", "b": "10.244.2.0/24", "c": "10.244.3.0/24"}),
        ({"c": "10.244.9.0/24"}, {}, {},
         {"a": "10.244.1.0/24", "b": "10.244.2.0/24", "c": "10.244.9.0/24"}),
        ({}, {"c": "10.244.1.0/24"}, {},
         {"a": "10.244.2.0/24", "b": "10.244.3.0/24", "c": "10.244.1.0/24"}),
        ({}, {}, {"b": "10.244.1.0/24"},
         {"a": "10.244.2.0/24", "b": "10.244.1.0/24", "c": "10.244.3.0/24"}),
        ({"a": "10.244.5.0/24"}, {"a": "10.244.6.0/24"}, {"a": "10.244.7.0/24"},
         {"a": "10.244.5.0/24", "b": "10.244.1.0/24", "c": "10.244.2.0/24"}),
        ({}, {"a": "10.244.6.0/24"}, {"a": "10.244.7.0/24"},
         {"a": "10.244.6.0/24", "b": "10.244.1.0/24", "c": "10.244.2.0/24"}),
        ({"b": "10.244.1.0/24"}, {"c": "10.244.2.0/24"}, {"a": "10.244.3.0/24"},
         {"a": "10.244.3.0/24", "b": "10.244.1.0/24", "c": "10.244.2.0/24"}),
    ],
    ids=["lowest-free", "pin", "lease-file", "observed", "pin-beats-lease-and-observed",
         "lease-beats-observed", "each-source-once"],
)  # fmt: skip
def test_sources_in_order_of_strength(pins, lease_file, observed, expected) -> None:
    nodes = [node(name, i, subnet=pins.get(name)) for i, name in enumerate("abc", 1)]
    plan = plan_fleet(conf(), nodes, leases=leases(lease_file), observed=leases(observed))
    assert _subnets(plan) == expected


def test_a_pin_that_replaces_a_lease_warns() -> None:
    plan = plan_fleet(
        conf(), [node("a", 1, subnet="10.244.5.0/24")], leases=leases({"a": "10.244.6.0/24"})
    )
    assert (
        "a: pinned 10.244.5.0/24 replaces its lease 10.244.6.0/24; its pods get new addresses"
        in plan.warnings
    )


def test_a_pin_equal_to_the_lease_is_silent() -> None:
    plan = plan_fleet(
        conf(), [node("a", 1, subnet="10.244.5.0/24")], leases=leases({"a": "10.244.5.0/24"})
    )
    assert plan.warnings == ()


RENUMBER_B = (
    "to renumber b instead (its pods get new addresses), set podnet_subnet for it, or run"
    " reset.yml on b first"
)


@pytest.mark.parametrize(
    ("pins", "lease_file", "observed", "message"),
    [
        ({}, {}, {"a": "10.244.4.0/24", "b": "10.244.4.0/24"},
         "hosts[b] current subnet: 10.244.4.0/24 is also the current subnet of a, and two nodes"
         " cannot share one: find which host really uses it (its /run/flannel/subnet.env); to"
         " renumber the other instead (its pods get new addresses), set podnet_subnet for it,"
         " or run reset.yml on it first"),
        ({}, {"a": "10.244.2.0/24"}, {"b": "10.244.2.0/24"},
         "hosts[b] current subnet: 10.244.2.0/24 is held in the lease file by a, and two nodes"
         f" cannot share one; {RENUMBER_B}"),
        ({"a": "10.244.9.0/24"}, {}, {"b": "10.244.9.0/24"},
         "hosts[b] current subnet: 10.244.9.0/24 is pinned by a, and two nodes cannot share"
         f" one: pin a elsewhere; {RENUMBER_B}"),
        ({}, {"gone": "10.244.1.0/24"}, {"b": "10.244.1.0/24"},
         "hosts[b] current subnet: 10.244.1.0/24 is held in the lease file by gone, a node no"
         " longer in the inventory: if b is gone renamed, delete gone's line (b keeps its pods'"
         f" addresses); otherwise, {RENUMBER_B}"),
        ({}, {}, {"b": "10.245.0.0/24"},
         "hosts[b] current subnet: 10.245.0.0/24 is outside Network 10.244.0.0/16 /24 range"
         " 10.244.1.0..10.244.255.0; b's pods use it now: to keep their addresses, set Network"
         f" to the running cluster's (flannel's net-conf.json); {RENUMBER_B}"),
        ({}, {}, {"b": "10.244.0.0/24"},
         "hosts[b] current subnet: 10.244.0.0/24 is outside Network 10.244.0.0/16 /24 range"
         " 10.244.1.0..10.244.255.0; b's pods use it now: to keep their addresses, set SubnetMin"
         " 10.244.0.0 (Kubernetes gives nodes subnets from the whole cluster CIDR, which"
         f" flannel's kube mode accepts); {RENUMBER_B}"),
        ({}, {}, {"b": "10.244.0.0/16"},
         "hosts[b] current subnet: 10.244.0.0/16 is not a /24 (SubnetLen); b's pods use it now:"
         f" to keep their addresses, set SubnetLen 16; {RENUMBER_B}"),
    ],
    ids=["two-hosts-one-subnet", "held-by-a-lease", "pinned-by-another", "held-by-a-departed",
         "outside-network", "kubernetes-first-subnet", "wrong-length"],
)  # fmt: skip
def test_a_current_subnet_podnet_cannot_keep_is_an_error_naming_both_nodes(
    pins, lease_file, observed, message
) -> None:
    # The host's pods hold addresses of it: renumbering them must be a decision.
    nodes = [node(name, i, subnet=pins.get(name)) for i, name in enumerate("ab", 1)]
    plan = lambda: plan_fleet(  # noqa: E731
        conf(), nodes, leases=leases(lease_file), observed=leases(observed)
    )
    assert one_problem(plan) == message


def test_the_kubernetes_first_subnet_is_kept_once_subnet_min_allows_it() -> None:
    plan = plan_fleet(
        conf(SubnetMin="10.244.0.0"),
        [node("a", 1), node("b", 2)],
        observed=leases({"b": "10.244.0.0/24"}),
    )
    assert _subnets(plan) == {"a": "10.244.1.0/24", "b": "10.244.0.0/24"}


@pytest.mark.parametrize(
    ("pins", "lease_file", "warning"),
    [
        ({"a": "10.244.5.0/24"}, {},
         "a: pinned 10.244.5.0/24 replaces the subnet the host uses now, 10.244.7.0/24; its pods"
         " get new addresses"),
        ({}, {"a": "10.244.6.0/24"},
         "a: its lease 10.244.6.0/24 replaces the subnet the host uses now, 10.244.7.0/24; its"
         " pods get new addresses"),
        ({"a": "10.244.5.0/24"}, {"a": "10.244.6.0/24"},
         "a: pinned 10.244.5.0/24 replaces its lease 10.244.6.0/24; its pods get new addresses"),
    ],
    ids=["pin", "lease", "pin-over-lease-warns-once"],
)  # fmt: skip
def test_a_pin_or_lease_that_replaces_the_current_subnet_warns(pins, lease_file, warning) -> None:
    nodes = [node("a", 1, subnet=pins.get("a"))]
    plan = plan_fleet(
        conf(), nodes, leases=leases(lease_file), observed=leases({"a": "10.244.7.0/24"})
    )
    assert plan.warnings == (warning,)


def test_a_current_subnet_equal_to_the_lease_is_silent() -> None:
    plan = plan_fleet(
        conf(),
        [node("a", 1)],
        leases=leases({"a": "10.244.7.0/24"}),
        observed=leases({"a": "10.244.7.0/24"}),
    )
    assert plan.warnings == ()


# --- pins ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pins", "message"),
    [
        ({"a": "10.244.0.0/24"}, "nodes[a].subnet: 10.244.0.0/24 is outside Network 10.244.0.0/16"
         " /24 range 10.244.1.0..10.244.255.0; pin a subnet inside it or unpin the node"),
        ({"a": "10.245.0.0/24"}, "nodes[a].subnet: 10.245.0.0/24 is outside Network 10.244.0.0/16"
         " /24 range 10.244.1.0..10.244.255.0; pin a subnet inside it or unpin the node"),
        ({"a": "10.244.5.0/25"}, "nodes[a].subnet: 10.244.5.0/25 is not a /24 (SubnetLen); pin a"
         " subnet inside it or unpin the node"),
        ({"a": "10.244.9.0/24", "b": "10.244.9.0/24"}, "nodes[b].subnet: 10.244.9.0/24 is also"
         " pinned by a; pin another subnet"),
    ],
    ids=["first-block-skipped", "outside-network", "wrong-length", "two-pins-one-subnet"],
)  # fmt: skip
def test_bad_pins_are_errors(pins, message) -> None:
    nodes = [node(name, i, subnet=pins.get(name)) for i, name in enumerate("ab", 1)]
    assert one_problem(lambda: plan_fleet(conf(), nodes)) == message


def test_pins_are_checked_against_a_narrowed_range() -> None:
    narrowed = conf(SubnetMin="10.244.10.0", SubnetMax="10.244.20.0")
    problem = one_problem(lambda: plan_fleet(narrowed, [node("a", 1, subnet="10.244.21.0/24")]))
    assert problem == (
        "nodes[a].subnet: 10.244.21.0/24 is outside Network 10.244.0.0/16 /24 range"
        " 10.244.10.0..10.244.20.0; pin a subnet inside it or unpin the node"
    )


@pytest.mark.parametrize(
    ("pin", "inside"),
    [("10.244.9.0/24", False), ("10.244.10.0/24", True), ("10.244.20.0/24", True),
     ("10.244.21.0/24", False)],
    ids=["below-min", "min", "max", "above-max"],
)  # fmt: skip
@pytest.mark.parametrize("source", ["pin", "lease"])
def test_subnet_min_and_max_are_inclusive_bounds(pin, inside, source) -> None:
    narrowed = conf(SubnetMin="10.244.10.0", SubnetMax="10.244.20.0")
    nodes = [node("a", 1, subnet=pin if source == "pin" else None)]
    lease_file = leases({"a": pin} if source == "lease" else {})
    if inside:
        assert _subnets(plan_fleet(narrowed, nodes, leases=lease_file)) == {"a": pin}
    else:
        assert "is outside Network 10.244.0.0/16 /24 range 10.244.10.0..10.244.20.0" in (
            one_problem(lambda: plan_fleet(narrowed, nodes, leases=lease_file))
        )


def test_ipv6_pins_use_the_ipv6_keys() -> None:
    nodes = [node("a", 1, public_ipv6="2001:db8::1", ipv6_subnet="fd00:10:244::/64")]
    assert one_problem(lambda: plan_fleet(conf(DUAL_CONF), nodes)) == (
        "nodes[a].ipv6_subnet: fd00:10:244::/64 is outside IPv6Network fd00:10:244::/56 /64 range"
        " fd00:10:244:1::..fd00:10:244:ff::; pin a subnet inside it or unpin the node"
    )


# --- the lease file ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"a": "10.244.1.1/24"},
         "leases[a]: '10.244.1.1/24' is not a subnet in CIDR form; fix or delete the line"),
        ({"a": "garbage"},
         "leases[a]: 'garbage' is not a subnet in CIDR form; fix or delete the line"),
        ({"a": None}, "leases[a]: None is not a subnet in CIDR form; fix or delete the line"),
        ({"a": ["10.244.1.0/24", "10.244.2.0/24"]},
         "leases[a]: two IPv4 subnets (10.244.1.0/24, 10.244.2.0/24); keep the one the node uses"),
        (["a"], "leases: list given; a mapping of node name to subnet is needed"),
    ],
    ids=["host-bits", "garbage", "empty-line", "two-v4", "not-a-mapping"],
)  # fmt: skip
def test_bad_lease_lines_are_errors(raw, message) -> None:
    assert one_problem(lambda: parse_leases(raw)) == message


def test_every_bad_lease_line_is_reported_at_once() -> None:
    problems = problems_of(lambda: parse_leases({"a": "x", "b": "10.244.1.0/24", "c": "y"}))
    assert [p.split(":")[0] for p in problems] == ["leases[a]", "leases[c]"]


def test_lease_file_round_trip() -> None:
    data = {"b": ["10.244.2.0/24", "fd00::/64"], "a": "10.244.1.0/24", "c": "fd00:0:0:1::/64"}
    before = copy.deepcopy(data)
    parsed = parse_leases(data)
    assert data == before
    assert parsed["b"] == Lease(NET("10.244.2.0/24"), NET("fd00::/64"))
    assert parsed["c"] == Lease(None, NET("fd00:0:0:1::/64"))
    assert leases_to_data(parsed) == {
        "a": "10.244.1.0/24",
        "b": ["10.244.2.0/24", "fd00::/64"],
        "c": "fd00:0:0:1::/64",
    }
    assert list(leases_to_data(parsed)) == ["a", "b", "c"]
    assert parse_leases(None) == {}


@pytest.mark.parametrize(
    ("lease_file", "message"),
    [
        ({"a": "10.245.3.0/24"}, "leases[a]: 10.245.3.0/24 is outside Network 10.244.0.0/16 /24"
         " range 10.244.1.0..10.244.255.0; restore the old Network, or delete the line to give"
         " the node a new subnet (its pods get new addresses)"),
        ({"a": "10.244.0.0/25"}, "leases[a]: 10.244.0.0/25 is not a /24 (SubnetLen); restore the"
         " old Network, or delete the line to give the node a new subnet (its pods get new"
         " addresses)"),
        ({"a": "10.244.4.0/24", "b": "10.244.4.0/24"}, "leases[b]: 10.244.4.0/24 is also held by"
         " a; delete one of the two lease lines"),
    ],
    ids=["outside", "wrong-length", "two-nodes-one-subnet"],
)  # fmt: skip
def test_unusable_lease_lines_are_errors(lease_file, message) -> None:
    nodes = [node("a", 1), node("b", 2)]
    assert one_problem(lambda: plan_fleet(conf(), nodes, leases=leases(lease_file))) == message


def test_a_lease_taken_by_a_pin_names_the_pin_not_a_second_lease_line() -> None:
    nodes = [node("a", 1, subnet="10.244.3.0/24"), node("b", 2)]
    lease_file = leases({"a": "10.244.1.0/24", "b": "10.244.3.0/24"})
    assert one_problem(lambda: plan_fleet(conf(), nodes, leases=lease_file)) == (
        "leases[b]: 10.244.3.0/24 is pinned by a; pin a elsewhere, or delete the line to give the"
        " node a new subnet (its pods get new addresses)"
    )


# --- departed nodes ------------------------------------------------------------------------


def test_departed_nodes_keep_their_leases_reserved() -> None:
    lease_file = leases({"gone": "10.244.1.0/24", "a": "10.244.2.0/24"})
    plan = plan_fleet(conf(), [node("a", 1), node("b", 2)], leases=lease_file)
    assert _subnets(plan) == {"a": "10.244.2.0/24", "b": "10.244.3.0/24"}
    assert plan.kept_leases == {"gone": Lease(NET("10.244.1.0/24"))}
    assert plan.leases()["gone"] == Lease(NET("10.244.1.0/24"))
    assert set(plan.leases()) == {"a", "b", "gone"}


@pytest.mark.parametrize(
    ("lease_file", "warning"),
    [
        ({"gone": "10.245.1.0/24"}, "leases[gone]: 10.245.1.0/24 is outside Network 10.244.0.0/16"
         " /24 range 10.244.1.0..10.244.255.0; dropped"),
        ({"gone": "10.244.1.0/24", "a": "10.244.1.0/24"}, "leases[gone]: 10.244.1.0/24 now belongs"
         " to a; dropped"),
    ],
    ids=["outside", "taken"],
)  # fmt: skip
def test_unusable_departed_leases_are_dropped_with_a_warning(lease_file, warning) -> None:
    plan = plan_fleet(conf(), [node("a", 1)], leases=leases(lease_file))
    assert warning in plan.warnings
    assert plan.kept_leases == {}


def test_exhaustion_names_the_departed_nodes_that_hold_subnets() -> None:
    small = conf(Network="10.244.0.0/28")  # /30 subnets: 3 in SubnetMin..SubnetMax
    lease_file = leases({"gone1": "10.244.0.4/30", "gone2": "10.244.0.8/30"})
    assert one_problem(lambda: plan_fleet(small, fleet(2), leases=lease_file)) == (
        "Network 10.244.0.0/28 holds 3 /30 subnets (SubnetMin..SubnetMax) but the inventory has"
        " 2 nodes and the lease file keeps 2 for nodes no longer in it (gone1, gone2); delete"
        " their lines to free them, or widen Network to /27"
    )


def test_exhaustion_lists_at_most_ten_departed_nodes() -> None:
    pool_conf = conf(Network="10.244.0.0/24", SubnetLen=28)  # 15 subnets
    lease_file = leases({f"gone{i:02d}": f"10.244.0.{16 * i}/28" for i in range(1, 13)})
    problem = one_problem(lambda: plan_fleet(pool_conf, fleet(4), leases=lease_file))
    assert "keeps 12 for nodes no longer in it (gone01, gone02" in problem
    assert "gone10 and 2 more);" in problem and "gone11" not in problem


# --- exhaustion ----------------------------------------------------------------------------


def test_the_seed_case_300_nodes_in_a_slash_16() -> None:
    assert one_problem(lambda: plan_fleet(conf(), fleet(300))) == (
        "Network 10.244.0.0/16 holds 255 /24 subnets (SubnetMin..SubnetMax) but the inventory has"
        " 300 nodes: widen Network to /15 or set SubnetLen 25"
    )


def test_255_nodes_fill_a_slash_16_exactly() -> None:
    plan = plan_fleet(conf(), fleet(255))
    subnets = [p.subnet for p in plan.nodes]
    assert str(subnets[0]) == "10.244.1.0/24" and str(subnets[-1]) == "10.244.255.0/24"
    assert len(set(subnets)) == 255


@pytest.mark.parametrize(
    ("changes", "count", "message"),
    [
        ({"SubnetMax": "10.244.10.0"}, 11, "Network 10.244.0.0/16 holds 10 /24 subnets"
         " (SubnetMin..SubnetMax) but the inventory has 11 nodes: widen SubnetMin..SubnetMax"
         " (the whole Network holds 255)"),
        ({"SubnetMax": "10.244.10.0"}, 300, "Network 10.244.0.0/16 holds 10 /24 subnets"
         " (SubnetMin..SubnetMax) but the inventory has 300 nodes: remove SubnetMin..SubnetMax"
         " and widen Network to /15 or remove SubnetMin..SubnetMax and set SubnetLen 25"),
        ({"Network": "10.244.0.0/28"}, 4, "Network 10.244.0.0/28 holds 3 /30 subnets"
         " (SubnetMin..SubnetMax) but the inventory has 4 nodes: widen Network to /27"),
    ],
    ids=["narrowed-range", "narrowed-range-and-network-full", "no-longer-subnet-len"],
)  # fmt: skip
def test_exhaustion_suggests_the_fixes_that_work(changes, count, message) -> None:
    assert one_problem(lambda: plan_fleet(conf(**changes), fleet(count))) == message


def test_ipv6_exhaustion_uses_the_ipv6_keys() -> None:
    v6 = conf(EnableIPv4=False, EnableIPv6=True, IPv6Network="fd00::/124", Network=None)
    assert one_problem(lambda: plan_fleet(v6, fleet(4, v6=True))) == (
        "IPv6Network fd00::/124 holds 3 /126 subnets (IPv6SubnetMin..IPv6SubnetMax) but the"
        " inventory has 4 nodes: widen IPv6Network to /123"
    )


def test_an_ipv6_pool_of_2_to_the_32_subnets_allocates_instantly() -> None:
    huge = conf(EnableIPv4=False, EnableIPv6=True, IPv6Network="fd00::/32", Network=None)
    assert huge.ipv6 is not None and huge.ipv6.size == 2**32 - 1
    gone = leases({"gone": "fd00:0:ffff:ffff::/64"})  # the top of the pool
    started = time.perf_counter()
    plan = plan_fleet(huge, fleet(1000, v6=True), leases=gone)
    elapsed = time.perf_counter() - started
    assert str(plan.nodes[0].ipv6_subnet) == "fd00:0:0:1::/64"
    assert str(plan.nodes[-1].ipv6_subnet) == "fd00:0:0:3e8::/64"
    assert plan.kept_leases["gone"].ipv6_subnet == NET("fd00:0:ffff:ffff::/64")
    # Enumerating 2**32 subnets would take hours; 1,000 nodes take milliseconds.
    assert elapsed < 5, elapsed


# --- dual stack and the family-level function ------------------------------------------------


def test_dual_stack_allocates_each_family_independently() -> None:
    nodes = fleet(3, v6=True)
    plan = plan_fleet(
        conf(DUAL_CONF), nodes, leases=leases({"node02": ("10.244.9.0/24", "fd00:10:244:5::/64")})
    )
    assert _subnets(plan, 4) == {
        "node01": "10.244.1.0/24",
        "node02": "10.244.9.0/24",
        "node03": "10.244.2.0/24",
    }
    assert _subnets(plan, 6) == {
        "node01": "fd00:10:244:1::/64",
        "node02": "fd00:10:244:5::/64",
        "node03": "fd00:10:244:2::/64",
    }


def test_a_v4_only_lease_gets_a_new_v6_subnet_when_ipv6_is_enabled() -> None:
    nodes = fleet(2, v6=True)
    plan = plan_fleet(conf(DUAL_CONF), nodes, leases=leases({"node02": "10.244.7.0/24"}))
    assert _subnets(plan, 4)["node02"] == "10.244.7.0/24"
    assert _subnets(plan, 6) == {"node01": "fd00:10:244:1::/64", "node02": "fd00:10:244:2::/64"}


def test_allocate_family_appends_instead_of_raising() -> None:
    pool = conf(Network="10.244.0.0/28").ipv4
    assert pool is not None
    problems: list[str] = []
    warnings: list[str] = []
    allocation = allocate_family(
        pool,
        fleet(4),
        leases={"gone": NET("10.244.0.4/30")},
        observed={},
        problems=problems,
        warnings=warnings,
    )
    assert allocation.assigned == {}
    assert allocation.kept == {"gone": NET("10.244.0.4/30")}
    assert len(problems) == 1 and problems[0].startswith("Network 10.244.0.0/28 holds 3 /30")


def test_lease_records_round_trip_with_where_the_node_was_seen() -> None:
    data = {
        "a": {"subnet": "10.244.1.0/24", "public_ip": "192.0.2.1", "mtu": 9000},
        "b": "10.244.2.0/24",
    }
    parsed = parse_leases(data)
    assert parsed["a"] == Lease(NET("10.244.1.0/24"), None, V4("192.0.2.1"), None, 9000)
    assert parsed["a"].has_underlay and not parsed["b"].has_underlay
    assert leases_to_data(parsed) == data
    # A record's fields come out in the file's order, subnet first.
    assert list(leases_to_data(parsed)["a"]) == ["subnet", "public_ip", "mtu"]  # type: ignore[arg-type]


def test_a_wireguard_public_key_alone_makes_a_record() -> None:
    key = "x" * 43 + "="  # base64 of 32 bytes
    data = {"a": {"subnet": "10.244.1.0/24", "wireguard_public_key": key}}
    parsed = parse_leases(data)
    assert parsed["a"].wireguard_public_key == key and not parsed["a"].has_underlay
    assert leases_to_data(parsed) == data


@pytest.mark.parametrize(
    ("record", "message"),
    [
        ({"subnet": "10.244.1.0/24", "mtu": 100},
         "leases[a].mtu: 100 is out of range; use 576..65535"),
        ({"subnet": "10.244.1.0/24", "public_ip": "fd00::1"},
         "leases[a].public_ip: 'fd00::1' is an IPv6 address; an IPv4 address is needed here"),
        ({"subnet": "10.244.1.0/24", "colour": "red"},
         "leases[a]: unknown key 'colour'; known keys: subnet, ipv6_subnet, public_ip,"
         " public_ipv6, mtu, vtep_mac, vtep_mac_v6, wireguard_public_key"),
        ({"subnet": "10.244.1.0/24", "vtep_mac": "01:00:5e:00:00:01"},
         "leases[a].vtep_mac: '01:00:5e:00:00:01' is a multicast MAC; a unicast one is needed;"
         " fix or delete the line"),
        ({"subnet": "10.244.1.0/24", "vtep_mac_v6": "not-a-mac"},
         "leases[a].vtep_mac_v6: 'not-a-mac' is not a MAC address (six hex pairs,"
         " colon-separated); fix or delete the line"),
        ({"subnet": "10.244.1.0/24", "wireguard_public_key": "c2hvcnQ="},
         "leases[a].wireguard_public_key: 'c2hvcnQ=' is not a base64 WireGuard key of 32"
         " bytes; delete the line (the next run records the node's key again)"),
    ],
    ids=["small-mtu", "wrong-family", "unknown-key", "short-key", "multicast-mac", "bad-mac"],
)  # fmt: skip
def test_bad_lease_records_are_errors(record, message) -> None:
    assert one_problem(lambda: parse_leases({"a": record})) == message
