"""podnet.verify: the diagnosis from what the probes measured (pure; no host)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from podnet.verify import FAIL, OK, diagnose, peer_sample

NAMES = ("node1", "node2", "node3")
PUBLIC = {"node1": "192.0.2.11", "node2": "192.0.2.12", "node3": "192.0.2.13"}


def plan(backend: str = "vxlan", **extra: Any) -> dict[str, Any]:
    return {
        "mtu": 1450 if backend == "vxlan" else 1500 if backend == "host-gw" else 1440,
        "underlay_mtu": 1500,
        "backend": {"type": backend, "port": 0, "vni": 1, "direct_routing": False,
                    "wireguard_devices": ["flannel-wg"] if backend == "wireguard" else [],
                    **extra},
        "nodes": {n: {"iface": "eth0", "wireguard_public_key": f"key-{n}"} for n in NAMES},
        "peers": {"ipv4": [{"name": n, "public_ip": PUBLIC[n]} for n in NAMES]},
    }  # fmt: skip


def peer(dst: str, **checks: Any) -> dict[str, Any]:
    return {"name": dst, "family": 4, "address": f"10.244.{dst[-1]}.254",
            "public_ip": PUBLIC[dst], "reach": True, "underlay": True, "df_size": 1422,
            "df_crosses": True, "df_over_refused": True, "largest_crossing": None,
            **checks}  # fmt: skip


def healthy(backend: str = "vxlan") -> dict[str, dict[str, Any]]:
    overlay = {"vxlan": "flannel.1", "wireguard": "flannel-wg"}.get(backend)
    return {
        name: {
            "iface": "eth0",
            "public_ip": PUBLIC[name],
            "overlay": overlay,
            "before": {"overlay": {"rx": 10, "tx": 10}, "forward": {"policy": "ACCEPT",
                                                                   "jump_packets": 5}},
            "after": {"overlay": {"rx": 30, "tx": 30}, "forward": {"policy": "ACCEPT",
                                                                  "jump_packets": 25}},
            "sysctls": {"ip_forward": 1, "rp_filter": {"eth0": 2}},
            "iface_mtu": 1500,
            "handshakes": {f"key-{n}": 1700000000 for n in NAMES},
            "neighbours": {PUBLIC[n]: ["REACHABLE"] for n in NAMES},
            "peers": [peer(n) for n in NAMES if n != name],
            "drift": [],
        }
        for name in NAMES
    }  # fmt: skip


@pytest.mark.parametrize("backend", ["vxlan", "host-gw", "wireguard"])
def test_a_healthy_fleet_passes_clean(backend: str) -> None:
    report = diagnose(plan(backend), healthy(backend))
    assert report.ok, report.text()
    assert len(report.pairs) == 6
    assert all(set(p["checks"].values()) == {OK} for p in report.pairs)
    assert all(set(n["checks"].values()) == {OK} for n in report.nodes)
    assert report.text().splitlines()[-1] == "verify: 6 pairs, 3 nodes: all ok"
    assert json.loads(report.to_json())["ok"] is True


def test_vxlan_port_dropped_on_one_node_names_it_and_the_port() -> None:
    nodes = healthy()
    nodes["node2"]["after"]["overlay"]["rx"] = 10  # nothing arrived while the fleet pinged
    for name in NAMES:
        for each in nodes[name]["peers"]:
            if "node2" in (name, each["name"]):
                each["reach"] = False
    report = diagnose(plan(), nodes)
    assert not report.ok
    lost = [f for f in report.findings if "node1 -> node2" in f]
    assert lost == [
        "node1 -> node2 (IPv4): pods do not reach each other: VXLAN packets do not arrive on "
        "node2 (its flannel.1 received 0 packets while its peers sent to it): node2's "
        "firewall or the path drops UDP 8472; allow UDP 8472 from the fleet's addresses"
    ]
    assert not any("node1 -> node3" in f or "node3 -> node1" in f for f in report.findings)


def test_a_lower_mtu_on_one_path_gives_the_measured_figure_and_the_fix() -> None:
    nodes = healthy()
    nodes["node1"]["peers"][0].update(df_crosses=False, largest_crossing=1322)
    report = diagnose(plan(), nodes)
    assert report.findings == [
        "node1 -> node2: 1422-byte DF ping lost, 1322 passes: the path between them carries "
        "1400, not 1500 (eth0 says 1500): set podnet_mtu: 1400 on node2 or fix the link"
    ]
    row = next(p for p in report.pairs if (p["src"], p["dst"]) == ("node1", "node2"))
    assert row["checks"]["mtu"] == FAIL and row["checks"]["pods"] == OK


def test_forward_policy_drop_with_flannel_fwd_not_reached() -> None:
    nodes = healthy()
    nodes["node3"]["before"]["forward"] = {"policy": "DROP", "jump_packets": None}
    nodes["node3"]["after"]["forward"] = {"policy": "DROP", "jump_packets": None}
    for name in NAMES:
        for each in nodes[name]["peers"]:
            each["reach"] = "node3" not in (name, each["name"])
    report = diagnose(plan(), nodes)
    assert report.findings[0].startswith(
        "node3: the FORWARD policy is DROP and FLANNEL-FWD is not reached (FORWARD has no "
        "jump to it)"
    )
    assert any(f.startswith("node1 -> node3 (IPv4): pods do not reach each other: node3 "
                            "fails its forward_chain check") for f in report.findings)  # fmt: skip


def test_drift_is_listed_and_blamed_for_the_lost_pair() -> None:
    nodes = healthy()
    nodes["node1"]["drift"] = ["add route 10.244.2.0/24 (peer node2: missing)"]
    nodes["node1"]["peers"][0]["reach"] = False
    report = diagnose(plan(), nodes)
    assert report.findings[0] == (
        "node1: the kernel differs from the plan: site.yml would change 1 object(s) (add "
        "route 10.244.2.0/24 (peer node2: missing)): something removed or changed them; run "
        "site.yml, and look for what did (a network manager, a firewall service, a person)"
    )
    assert report.findings[1] == (
        "node1 -> node2 (IPv4): pods do not reach each other: node1 fails its drift check "
        "(see its line)"
    )


def test_underlay_and_forwarding_and_interface_mtu() -> None:
    nodes = healthy()
    nodes["node2"]["sysctls"]["ip_forward"] = 0
    nodes["node3"]["iface_mtu"] = 1400
    nodes["node1"]["peers"][0].update(reach=False, underlay=False)
    report = diagnose(plan(), nodes)
    text = "\n".join(report.findings)
    assert "node2: net.ipv4.ip_forward is 0" in text
    assert "node3: eth0 has MTU 1400, the plan used 1500" in text
    assert "set podnet_mtu: 1400" in text


def test_wireguard_without_handshake_and_host_gw_without_neighbour() -> None:
    nodes = healthy("wireguard")
    nodes["node1"]["handshakes"]["key-node3"] = 0
    nodes["node1"]["peers"][1]["reach"] = False
    report = diagnose(plan("wireguard"), nodes)
    assert report.findings == [
        "node1 -> node3 (IPv4): pods do not reach each other: no WireGuard handshake with "
        "node3: UDP to its ListenPort is blocked between them (a firewall), or the keys "
        "differ (run site.yml)"
    ]
    nodes = healthy("host-gw")
    nodes["node2"]["neighbours"][PUBLIC["node1"]] = ["FAILED"]
    nodes["node2"]["peers"][0]["reach"] = False
    report = diagnose(plan("host-gw"), nodes)
    assert "192.0.2.11 does not answer on the segment (neighbour FAILED)" in report.findings[0]


def test_strict_rp_filter_is_named_when_nothing_else_explains_a_loss() -> None:
    nodes = healthy()
    nodes["node2"]["sysctls"]["rp_filter"] = {"eth0": 1, "flannel.1": 1}
    nodes["node1"]["peers"][0]["reach"] = False
    report = diagnose(plan(direct_routing=True), copy.deepcopy(nodes))
    assert report.nodes[1]["checks"]["rp_filter"] == "strict!"
    assert report.findings == [
        "node1 -> node2 (IPv4): pods do not reach each other: rp_filter is strict (1) on "
        "node2 (eth0, flannel.1): a reply arriving on another device than the route back is "
        "dropped; set it to 2 (loose)"
    ]


def test_peer_sample_goes_round_so_each_node_is_probed_as_often_as_it_probes() -> None:
    names = [f"n{i}" for i in range(10)]
    chosen = {n: peer_sample(names, n, 3) for n in names}
    assert all(len(c) == 3 for c in chosen.values())
    probed = [p for c in chosen.values() for p in c]
    assert all(probed.count(n) == 3 for n in names)
    assert peer_sample(names, "n0", 0) == names[1:]
    report = diagnose(plan(), healthy(), sample_limit=1)
    assert report.notes == [
        "each node probed at most 1 peers (podnet_verify_max_peers): 6 of 6 pairs"
    ]
