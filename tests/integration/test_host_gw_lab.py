"""host-gw on the flat lab, and switching a live fleet between backends.

One lab, tests in file order: a fresh host-gw install (the reference state), a second
run, then vxlan installed over it and back, each switched state compared with the
state of a fresh install of the target backend (the fresh vxlan reference comes from a
rebuilt lab, so no earlier backend can leak into it).
"""

from __future__ import annotations

import pytest
from conftest import (
    converge,
    labkit,
    leases,
    node_json,
    node_text,
    pod_network_state,
    with_backend,
)

NODES = ("node1", "node2", "node3")
HOST_GW = with_backend({"Type": "host-gw"})
VXLAN = with_backend({"Type": "vxlan"})
FOREIGN_ROUTE = ["ip", "route", "add", "198.18.5.0/24", "via", "192.0.2.13", "dev", "eth0"]
# Inside the pod network, but proto static: a route a person made, never podnet's.
FOREIGN_IN_NETWORK = ["ip", "route", "add", "10.244.200.0/24", "via", "192.0.2.13", "proto",
                      "static"]  # fmt: skip
REFERENCE: dict[str, dict[str, dict[str, object]]] = {}


def state() -> dict[str, dict[str, object]]:
    return {node: pod_network_state(node) for node in NODES}


def reach_and_mtu(mtu: int) -> None:
    # A pod's MTU is set when it starts: after a switch that changes the pod MTU
    # (host-gw 1500, vxlan 1450) pods must be restarted, as under flannel.
    for node in NODES:
        labkit.detach_pod(node)
        labkit.attach_pod(node)
    report = labkit.check(expected_mtu=mtu)
    assert report.ok, report


def test_host_gw_routes_pods_at_the_full_underlay_mtu(lab) -> None:
    labkit.node_run("node1", FOREIGN_ROUTE)
    labkit.node_run("node1", FOREIGN_IN_NETWORK)
    converge("-e", HOST_GW)
    reach_and_mtu(1500)
    target = labkit.read_pod("node2")["ip"]
    assert labkit.ping("node1", target, size=1472, dont_fragment=True)
    assert not labkit.ping("node1", target, size=1473, dont_fragment=True)
    for node in NODES:
        links = [link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])]
        assert not [name for name in links if name.startswith("flannel")], links
        routes = node_json(node, ["ip", "-j", "-d", "route", "show", "proto", "boot"])
        pod_routes = [r for r in routes if r["dst"].startswith("10.244.")]
        assert sorted((r["dst"], r["gateway"], r["dev"], r["scope"]) for r in pod_routes) == sorted(
            (subnet(peer), ip_of(peer), "eth0", "global") for peer in NODES if peer != node
        )
    REFERENCE["host-gw"] = state()


def test_a_second_host_gw_run_changes_nothing_and_keeps_foreign_routes(lab) -> None:
    result = converge("-e", HOST_GW)
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]
    routes = node_text("node1", ["ip", "route", "show"])
    assert "198.18.5.0/24 via 192.0.2.13 dev eth0" in routes
    assert "10.244.200.0/24 via 192.0.2.13 dev eth0 proto static" in routes


def test_switch_host_gw_to_vxlan_equals_a_fresh_vxlan_install(lab) -> None:
    converge("-e", VXLAN)
    switched = state()
    reach_and_mtu(1450)
    labkit.fresh_lab(3)
    labkit.node_run("node1", FOREIGN_ROUTE)
    labkit.node_run("node1", FOREIGN_IN_NETWORK)
    converge("-e", VXLAN)
    REFERENCE["vxlan"] = state()
    assert switched == REFERENCE["vxlan"]


def test_switch_vxlan_to_host_gw_equals_a_fresh_host_gw_install(lab) -> None:
    converge("-e", HOST_GW)
    assert state() == REFERENCE["host-gw"]
    reach_and_mtu(1500)


def test_switch_back_to_vxlan_equals_a_fresh_vxlan_install(lab) -> None:
    converge("-e", VXLAN)
    assert state() == REFERENCE["vxlan"]
    reach_and_mtu(1450)
    result = converge("-e", VXLAN)
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]
    assert "10.244.200.0/24 via 192.0.2.13" in node_text("node1", ["ip", "route", "show"])


def subnet(node: str) -> str:
    record = leases()[node]
    return str(record["subnet"] if isinstance(record, dict) else record)


def ip_of(node: str) -> str:
    return str(labkit.layout.node(node).ip)


@pytest.fixture(autouse=True)
def _reference_needs_order(request) -> None:
    # The tests build on each other's state; run alone, a later one has no reference.
    needs = {"test_switch_vxlan_to_host_gw_equals_a_fresh_host_gw_install": "host-gw"}
    wanted = needs.get(request.node.name)
    if wanted and wanted not in REFERENCE:
        pytest.fail(f"run the whole module: the {wanted} reference comes from an earlier test")


def test_direct_routing_then_host_gw_adopts_the_direct_routes(lab) -> None:
    # On one segment DirectRouting routes every peer directly: the device stays, with no
    # neighbour or FDB entry left on it.
    converge("-e", with_backend({"Type": "vxlan", "DirectRouting": True}))
    for node in NODES:
        assert node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"]) == []
        fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
        assert [f for f in fdb if f["mac"] != "00:00:00:00:00:00"] == []
    direct = {node: pod_network_state(node)["routes"] for node in NODES}
    assert direct == {node: REFERENCE["host-gw"][node]["routes"] for node in NODES}
    result = converge("-e", HOST_GW)
    assert state() == REFERENCE["host-gw"]
    # Only the device went: the routes were already host-gw's, so its task changed nothing.
    section = result.output.split("TASK [podnet.fabric.node : Host-gw routes]")[1]
    assert "changed:" not in section.split("TASK [")[0], section[:2000]
