"""Two underlay segments joined by a router (the routed lab): host-gw is refused before
any host changes, and vxlan with DirectRouting routes directly inside a segment and
tunnels across it."""

from __future__ import annotations

import os

import pytest
from conftest import (
    converge,
    labkit,
    leases,
    node_json,
    node_text,
    pod_network_state,
    run_playbook,
    with_backend,
)

from podnet.vtep import derive_vtep_mac

NODES = ("node1", "node2", "node3", "node4")  # node1, node2 on segment a; node3, node4 on b
DIRECT = with_backend({"Type": "vxlan", "DirectRouting": True})
FOREIGN_ROUTE = ["ip", "route", "add", "198.18.7.0/24", "via", "192.0.2.1", "dev", "eth0"]


@pytest.fixture(scope="module")
def routed_lab():
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: integration tests need root (network namespaces)")
    labkit.fresh_lab(topology="routed")
    try:
        assert labkit.node_names() == list(NODES)
        yield NODES
    finally:
        labkit.down()


def whole_node(node: str) -> dict[str, object]:
    """Everything a failed play could have touched: links, all routes, firewall, files."""
    return {
        "pod network": pod_network_state(node),
        "links": sorted(link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])),
        # The kernel's own routes come with a fresh link's IPv6 address, run or no run.
        "routes": [
            route
            for route in node_json(node, ["ip", "-j", "route", "show", "table", "all"])
            if route.get("protocol") != "kernel"
        ],
        "iptables": node_text(node, ["sh", "-c", "iptables-save | grep -v '^#' || true"]),
        "files": node_text(node, ["find", "/run/flannel", "/etc/cni/net.d", "/etc/podnet"]),
    }


def test_host_gw_across_the_router_fails_before_any_host_changes(routed_lab) -> None:
    before = {node: whole_node(node) for node in NODES}
    result = run_playbook("-e", with_backend({"Type": "host-gw"}))
    assert result.rc != 0
    assert "nothing was changed on any host" in result.output
    message = result.output[result.output.index("host-gw needs every node") :]
    assert "node1-node3, node1-node4, node2-node3, node2-node4" in message
    assert "192.0.2.0/24 (node1, node2); 198.51.100.0/24 (node3, node4)" in message
    assert '"DirectRouting": true' in message
    assert not any(result.changed().values())
    assert {node: whole_node(node) for node in NODES} == before


def test_direct_routing_routes_inside_a_segment_and_tunnels_across(routed_lab) -> None:
    labkit.node_run("node1", FOREIGN_ROUTE)
    converge("-e", DIRECT)
    for node in NODES:
        segment = labkit.node(node).segment
        same = [p for p in NODES if p != node and labkit.node(p).segment == segment]
        across = [p for p in NODES if labkit.node(p).segment != segment]
        routes = node_json(node, ["ip", "-j", "-d", "route", "show", "proto", "boot"])
        pod_routes = {r["dst"]: r for r in routes if r["dst"].startswith("10.244.")}
        assert set(pod_routes) == {subnet(p) for p in same + across}
        for peer in same:
            route = pod_routes[subnet(peer)]
            assert (route["gateway"], route["dev"]) == (ip_of(peer), "eth0")
            assert "onlink" not in route.get("flags", [])
        for peer in across:
            route = pod_routes[subnet(peer)]
            assert (route["gateway"], route["dev"]) == (subnet(peer)[:-3], "flannel.1")
            assert "onlink" in route["flags"]
        neigh = node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"])
        assert sorted(n["lladdr"] for n in neigh) == sorted(derive_vtep_mac(p, 4) for p in across)
        fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
        assert sorted((f["mac"], f["dst"]) for f in fdb if f["mac"] != "00:00:00:00:00:00") == (
            sorted((derive_vtep_mac(p, 4), ip_of(p)) for p in across)
        )
    for node in NODES:
        labkit.attach_pod(node)
    report = labkit.check(expected_mtu=1450)  # VXLAN's MTU: a pod's packet may take either path
    assert report.ok, report


def test_a_second_run_changes_nothing_and_keeps_foreign_routes(routed_lab) -> None:
    result = converge("-e", DIRECT)
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]
    assert "198.18.7.0/24 via 192.0.2.1 dev eth0" in node_text("node1", ["ip", "route"])


def subnet(node: str) -> str:
    record = leases()[node]
    return str(record["subnet"] if isinstance(record, dict) else record)


def ip_of(node: str) -> str:
    return str(labkit.node(node).ip)
