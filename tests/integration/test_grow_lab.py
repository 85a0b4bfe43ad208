"""Growing and shrinking the fleet on the namespace lab: subnets never move.

The tests run in file order, as an operator would go: a fleet of node1 and node3, node2
added between the two names with --limit (its peers are known from the lease file), then
told to the others by a full run, a node nobody can know stopping the plan, and a node
taken out of the inventory vanishing from every peer's kernel.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from conftest import (
    converge,
    inventory_without,
    labkit,
    leases,
    node_json,
    pod_network_state,
    run_playbook,
)

NODES = ("node1", "node2", "node3")
POD_MTU = 1450
FIRST = {"node1": "10.244.1.0/24", "node3": "10.244.2.0/24"}


def subnet_of(node: str) -> str:
    record = leases()[node]  # a departed node's line keeps only its subnet
    return record if isinstance(record, str) else record["subnet"]


def routes_on_device(node: str) -> list[str]:
    return sorted(r["dst"] for r in node_json(node, ["ip", "-j", "route", "show", "dev",
                                                     "flannel.1"]))  # fmt: skip


def reaches(src: str, dst: str) -> bool:
    return labkit.ping(src, labkit.read_pod(dst)["ip"])


def test_a_fleet_of_node1_and_node3_gets_the_lowest_subnets(lab, tmp_path: Path) -> None:
    converge(inventory=inventory_without(tmp_path, "node2"))
    assert {node: subnet_of(node) for node in FIRST} == FIRST
    assert "node2" not in leases()
    for node in ("node1", "node3"):
        labkit.attach_pod(node)
    assert reaches("node1", "node3") and reaches("node3", "node1")


def test_a_new_node_between_two_names_joins_with_limit_and_moves_nobody(lab) -> None:
    before = {node: pod_network_state(node) for node in FIRST}
    # Only node2 is in the play: node1 and node3 are placed from their lease records.
    result = converge("--limit", "node2")
    assert set(result.recap) == {"node2"}
    assert {node: subnet_of(node) for node in FIRST} == FIRST
    assert subnet_of("node2") == "10.244.3.0/24", "the lowest free subnet"
    assert {node: pod_network_state(node) for node in FIRST} == before, "untouched"
    assert routes_on_device("node2") == sorted(FIRST.values())


def test_a_full_run_tells_the_others_and_every_pod_reaches_every_other(lab) -> None:
    converge()
    assert {node: subnet_of(node) for node in NODES} == {**FIRST, "node2": "10.244.3.0/24"}
    labkit.attach_pod("node2")
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report
    for node in NODES:
        assert routes_on_device(node) == sorted(subnet_of(p) for p in NODES if p != node)


def test_a_node_whose_subnet_cannot_be_known_stops_the_plan_naming_it(lab, tmp_path: Path) -> None:
    # node4 and node5 are new to the inventory and left out of the play: nothing says
    # which subnet they may already use. node4's address is given, node5's is not.
    path = inventory_without(tmp_path)
    inventory = yaml.safe_load(path.read_text())
    inventory["podnet_nodes"]["hosts"].update(
        {"node4": {"podnet_public_ip": "192.0.2.14"}, "node5": None}
    )
    path.write_text(yaml.safe_dump(inventory))
    before = {node: pod_network_state(node) for node in NODES}
    recorded = leases()
    result = run_playbook("--limit", ",".join(NODES), inventory=path)
    assert result.rc != 0
    assert "nothing was changed on any host" in result.output
    assert (
        "node4: its IPv4 subnet is unknown: node4 has no line in the lease file and was not"
        " read in this run (left out by --limit, unreachable, or its flannel_facts task"
        " failed), so the subnet it may already use (a running flannel's) cannot be known;"
        " run once with node4 in the play (or set podnet_subnet for it)"
    ) in result.output
    assert "node5.podnet_public_ip: unknown: node5 has no facts in this run" in result.output
    assert not any(result.changed().values())
    assert {node: pod_network_state(node) for node in NODES} == before
    assert leases() == recorded


def test_a_removed_node_vanishes_from_every_peer_and_keeps_its_lease(lab, tmp_path: Path) -> None:
    gone = subnet_of("node3")
    converge(inventory=inventory_without(tmp_path, "node3"))
    for node in ("node1", "node2"):
        assert routes_on_device(node) == [subnet_of("node1" if node == "node2" else "node2")]
        neighbours = node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"])
        assert gone.split("/")[0] not in [n["dst"] for n in neighbours]
        fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
        assert "192.0.2.13" not in [f.get("dst") for f in fdb]
    assert reaches("node1", "node2") and reaches("node2", "node1")
    assert subnet_of("node3") == gone, "reserved until its line is deleted"
    assert {node: subnet_of(node) for node in ("node1", "node2")} == {
        "node1": "10.244.1.0/24",
        "node2": "10.244.3.0/24",
    }
