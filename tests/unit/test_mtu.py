"""One pod MTU for the fleet: the smallest underlay minus the backend's overhead."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import BASE_CONF, DUAL_CONF, backend_conf, fleet, node, one_problem, problems_of

from podnet import plan_fleet
from podnet.mtu import OVERHEAD, compute_mtu

V6_CONF: dict[str, Any] = {"EnableIPv4": False, "EnableIPv6": True, "IPv6Network": "fd00::/48"}
STACKS: dict[str, dict[str, Any]] = {"v4": BASE_CONF, "v6": V6_CONF, "dual": DUAL_CONF}


def _pod_mtu(backend: dict[str, Any], stack: str, mtu: int, *, v6_nodes: bool = True) -> int:
    nodes = fleet(3, v6=v6_nodes, mtu=mtu)  # v6 addresses: harmless where unused
    return plan_fleet(backend_conf(backend, STACKS[stack]), nodes).mtu.mtu


@pytest.mark.parametrize(
    ("backend", "stack", "underlay", "pod_mtu"),
    [
        ({"Type": "vxlan"}, "v4", 1500, 1450),
        ({"Type": "vxlan"}, "v4", 9000, 8950),
        ({"Type": "vxlan"}, "v6", 1500, 1430),
        ({"Type": "vxlan"}, "dual", 1500, 1430),
        ({"Type": "wireguard"}, "v4", 1500, 1440),
        ({"Type": "wireguard"}, "v6", 1500, 1420),
        ({"Type": "wireguard"}, "dual", 1500, 1420),
        ({"Type": "wireguard", "Mode": "ipv4"}, "dual", 1500, 1440),
        ({"Type": "wireguard", "Mode": "ipv6"}, "v4", 1500, 1420),
        ({"Type": "wireguard", "Mode": "auto"}, "dual", 1500, 1420),
        ({"Type": "host-gw"}, "v4", 1500, 1500),
        ({"Type": "host-gw"}, "v4", 9000, 9000),
        ({"Type": "host-gw"}, "dual", 1500, 1500),
    ],
    ids=[
        "vxlan-1500", "vxlan-9000", "vxlan-v6-underlay", "vxlan-dual-takes-v6",
        "wireguard-v4", "wireguard-v6", "wireguard-dual-separate", "wireguard-mode-ipv4",
        "wireguard-mode-ipv6", "wireguard-auto-with-v6", "host-gw", "host-gw-jumbo",
        "host-gw-dual",
    ],
)  # fmt: skip
def test_pod_mtu_per_backend_and_underlay(backend, stack, underlay, pod_mtu) -> None:
    assert _pod_mtu(backend, stack, underlay) == pod_mtu


def test_wireguard_auto_without_ipv6_endpoints_uses_the_ipv4_overhead() -> None:
    backend = {"Type": "wireguard", "Mode": "auto"}
    assert _pod_mtu(backend, "dual", 1500, v6_nodes=False) == 1440


def test_the_overhead_table_is_the_header_arithmetic() -> None:
    # outer IP + UDP 8 + VXLAN 8 + inner Ethernet 14; outer IP + UDP 8 + WG 16 + tag 16.
    assert OVERHEAD == {
        ("vxlan", 4): 20 + 8 + 8 + 14,
        ("vxlan", 6): 40 + 8 + 8 + 14,
        ("wireguard", 4): 20 + 8 + 16 + 16,
        ("wireguard", 6): 40 + 8 + 16 + 16,
        ("host-gw", 4): 0,
        ("host-gw", 6): 0,
    }


def test_the_decision_records_where_the_mtu_came_from() -> None:
    decision = plan_fleet(backend_conf({"Type": "wireguard"}), fleet(2, mtu=9000)).mtu
    assert (decision.mtu, decision.underlay, decision.overhead) == (8940, 9000, 60)


# --- mixed fleets --------------------------------------------------------------------------


def test_a_mixed_fleet_gets_the_smallest_with_a_warning_naming_the_small_hosts() -> None:
    nodes = [
        node("jumbo1", 1, mtu=9000),
        node("small2", 2, mtu=1500),
        node("jumbo3", 3, mtu=9000),
        node("small1", 4, mtu=1500),
        node("mid", 5, mtu=4000),
    ]
    plan = plan_fleet(backend_conf({"Type": "vxlan"}), nodes)
    assert plan.mtu.mtu == 1450
    assert plan.warnings == (
        "pod MTU 1450 is set by the smallest underlay MTU 1500 on small1, small2; 3 other node(s)"
        " have up to 9000 and run their pods below it (flannel would drop packets there instead)",
    )


def test_the_warning_shows_ten_small_hosts_and_counts_the_rest() -> None:
    nodes = [*fleet(12, "small", mtu=1500), node("big", 99, mtu=9000)]
    (warning,) = plan_fleet(backend_conf({"Type": "vxlan"}), nodes).warnings
    assert (
        "on small01, small02, small03, small04, small05, small06, small07, small08, small09,"
        " small10 and 2 more; 1 other node(s) have up to 9000" in warning
    )
    assert "small11" not in warning


def test_a_uniform_fleet_does_not_warn() -> None:
    assert plan_fleet(backend_conf({"Type": "vxlan"}), fleet(5, mtu=9000)).warnings == ()


# --- explicit Backend.MTU ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "pod_mtu"),
    [
        ({"Type": "vxlan", "MTU": 1400}, 1350),
        ({"Type": "vxlan", "MTU": 1500}, 1450),
        ({"Type": "wireguard", "MTU": 1420}, 1360),
    ],
    ids=["vxlan-below", "vxlan-equal-to-smallest", "wireguard"],
)
def test_an_explicit_mtu_is_honoured_without_a_mixed_fleet_warning(backend, pod_mtu) -> None:
    nodes = [node("a", 1, mtu=9000), node("b", 2, mtu=1500)]
    plan = plan_fleet(backend_conf(backend), nodes)
    assert (plan.mtu.mtu, plan.mtu.underlay) == (pod_mtu, backend["MTU"])
    assert plan.warnings == ()


def test_host_gw_has_no_mtu_key_as_in_flannel() -> None:
    plan = plan_fleet(backend_conf({"Type": "host-gw", "MTU": 1400}), fleet(2))
    assert plan.mtu.mtu == 1500
    assert plan.warnings == ("Backend.MTU: not used by the host-gw backend; ignored",)


def test_an_explicit_mtu_above_a_nodes_underlay_names_those_nodes() -> None:
    nodes = [node("a", 1, mtu=9000), node("c", 2, mtu=1500), node("b", 3, mtu=1400)]
    problem = one_problem(lambda: plan_fleet(backend_conf({"Type": "vxlan", "MTU": 9000}), nodes))
    assert problem == (
        "Backend.MTU: 9000 is larger than the underlay MTU of b, c: their interfaces would drop"
        " full-size tunnel packets; set Backend.MTU to 1400 or less, or remove it"
    )


# --- too small -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("backend", "stack", "underlay", "message"),
    [
        ({"Type": "vxlan"}, "v4", 600, "pod MTU 550 (600 - 50 vxlan overhead) is below 576"),
        ({"Type": "wireguard"}, "v4", 635,
         "pod MTU 575 (635 - 60 wireguard overhead) is below 576"),
        ({"Type": "vxlan"}, "dual", 1349, "pod MTU 1279 (1349 - 70 vxlan overhead) is below 1280"),
        ({"Type": "host-gw"}, "v6", 1279, "pod MTU 1279 (1279 - 0 host-gw overhead) is below 1280"),
        ({"Type": "vxlan", "MTU": 1000}, "dual", 9000,
         "pod MTU 930 (1000 - 70 vxlan overhead) is below 1280"),
    ],
    ids=["vxlan-v4", "wireguard-v4", "vxlan-dual", "host-gw-v6", "explicit"],
)  # fmt: skip
def test_a_pod_mtu_below_the_family_minimum_is_rejected(backend, stack, underlay, message) -> None:
    nodes = fleet(2, v6=stack != "v4", mtu=underlay)
    problem = one_problem(lambda: plan_fleet(backend_conf(backend, STACKS[stack]), nodes))
    assert problem == (
        f"{message}, the least the pod network's address families need; raise the underlay MTU"
    )


@pytest.mark.parametrize(
    ("backend", "stack", "underlay", "pod_mtu"),
    [
        ({"Type": "vxlan"}, "v4", 626, 576),
        ({"Type": "wireguard"}, "v4", 636, 576),
        ({"Type": "vxlan"}, "v6", 1350, 1280),
        ({"Type": "host-gw"}, "v4", 576, 576),
    ],
    ids=["vxlan-v4", "wireguard-v4", "vxlan-v6", "host-gw"],
)
def test_the_minimum_itself_is_accepted(backend, stack, underlay, pod_mtu) -> None:
    assert _pod_mtu(backend, stack, underlay) == pod_mtu


def test_compute_mtu_collects_problems_instead_of_raising() -> None:
    conf = backend_conf({"Type": "vxlan", "MTU": 2000})
    problems: list[str] = []
    warnings: list[str] = []
    decision = compute_mtu(conf, [node("a", 1, mtu=1500)], problems, warnings)
    assert decision.mtu == 1950
    assert len(problems) == 1 and problems[0].startswith("Backend.MTU: 2000 is larger")
    assert warnings == []


def test_mtu_and_allocation_problems_come_together() -> None:
    nodes = fleet(300, mtu=600)
    problems = problems_of(lambda: plan_fleet(backend_conf({"Type": "vxlan"}), nodes))
    assert len(problems) == 2
    assert problems[0].startswith("pod MTU 550") and problems[1].startswith("Network 10.244.0.0/16")
