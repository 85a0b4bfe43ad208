"""Each backend's share of a node's slice, and what travels (public keys) and what never
does (the PSK, private keys)."""

from __future__ import annotations

import ipaddress
import json

from conftest import BASE_CONF, DUAL_CONF
from plugins.action.plan import describe_node, public_keys_of

from podnet import Lease, parse_leases, parse_net_conf, parse_nodes, plan_fleet
from podnet.slices import plan_slices, records_of

KEY1, KEY2 = "A" * 43 + "=", "B" * 43 + "="
PSK = "C" * 43 + "="


def _plan(backend, base=BASE_CONF, count=2, v6=False):
    raw = [
        {"name": f"n{i}", "public_ip": f"192.0.2.{i}"}
        | ({"public_ipv6": f"2001:db8::{i}"} if v6 else {})
        for i in range(1, count + 1)
    ]
    return plan_fleet(parse_net_conf({**base, "Backend": backend}), parse_nodes(raw))


def test_host_gw_slices_route_every_family_and_build_no_tunnel() -> None:
    data = plan_slices(_plan({"Type": "host-gw"}), ip_masq=True, cni_mode="bridge")
    n1 = data["nodes"]["n1"]
    assert n1["vxlan"] == [] and n1["wireguard"] == []
    assert n1["host_gw"] == [{"family": 4, "network": "10.244.0.0/16", "state": "present"}]
    assert [p["public_ip"] for p in data["peers"]["ipv4"]] == ["192.0.2.1", "192.0.2.2"]
    assert data["mtu"] == 1500


def test_vxlan_owns_direct_routes_itself_so_host_gw_stays_out() -> None:
    data = plan_slices(_plan({"Type": "vxlan", "DirectRouting": True}), True, "bridge")
    assert data["nodes"]["n1"]["host_gw"] == [] and data["backend"]["direct_routing"]


def test_wireguard_separate_mode_has_a_device_per_family_with_its_port() -> None:
    plan = _plan({"Type": "wireguard"}, base={**DUAL_CONF, "Backend": {}}, v6=True)
    data = plan_slices(plan, True, "bridge", public_keys={"n1": KEY1, "n2": KEY2})
    n1 = data["nodes"]["n1"]
    assert n1["wireguard"] == [
        {"device": "flannel-wg", "listen_port": 51820, "addresses": ["10.244.1.0/32"],
         "routes": ["10.244.0.0/16"]},
        {"device": "flannel-wg-v6", "listen_port": 51821,
         "addresses": ["fd00:10:244:1::/128"], "routes": ["fd00:10:244::/56"]},
    ]  # fmt: skip
    # Under WireGuard, host-gw's routes must go (a switch from host-gw leaves none).
    assert {e["state"] for e in n1["host_gw"]} == {"absent"} and n1["vxlan"] == []
    assert data["peers"]["wireguard"]["flannel-wg-v6"][1] == {
        "name": "n2", "public_key": KEY2, "endpoint": "[2001:db8::2]:51821",
        "allowed_ips": ["fd00:10:244:2::/64"],
    }  # fmt: skip
    assert data["mtu"] == 1420  # 1500 - 80: flannel-wg-v6 runs over the IPv6 underlay


def test_wireguard_single_tunnel_mode_carries_both_families_on_listen_port() -> None:
    backend = {"Type": "wireguard", "Mode": "ipv6"}
    plan = _plan(backend, base={**DUAL_CONF, "Backend": {}}, v6=True)
    data = plan_slices(plan, True, "bridge", public_keys={"n1": KEY1, "n2": KEY2})
    (device,) = data["nodes"]["n2"]["wireguard"]
    assert device["addresses"] == ["10.244.2.0/32", "fd00:10:244:2::/128"]
    peer = data["peers"]["wireguard"]["flannel-wg"][0]
    # The single device listens on ListenPort, so that is where peers send (flannel: 51821).
    assert peer["endpoint"] == "[2001:db8::1]:51820"
    assert peer["allowed_ips"] == ["10.244.1.0/24", "fd00:10:244:1::/64"]


def test_a_peer_without_a_known_key_is_left_out_of_the_wireguard_table() -> None:
    data = plan_slices(_plan({"Type": "wireguard"}), True, "bridge", public_keys={"n1": KEY1})
    assert [p["name"] for p in data["peers"]["wireguard"]["flannel-wg"]] == ["n1"]
    assert data["nodes"]["n2"]["wireguard_public_key"] is None
    assert data["mtu"] == 1440  # 1500 - 60 over an IPv4 underlay


def test_the_psk_never_enters_the_plan() -> None:
    plan = _plan({"Type": "wireguard", "PSK": PSK})
    data = plan_slices(plan, True, "bridge", public_keys={"n1": KEY1, "n2": KEY2})
    assert PSK not in json.dumps(data) and data["backend"]["psk"] is True


def test_public_keys_come_from_this_runs_fact_else_the_lease_record() -> None:
    leases = parse_leases({"n2": {"subnet": "10.244.2.0/24", "wireguard_public_key": KEY2}})
    hostvars = {"n1": {"podnet_wireguard_public_key": KEY1}, "n2": {}, "n3": {}}
    problems: list[str] = []
    keys = public_keys_of(["n1", "n2", "n3"], hostvars, leases, False, problems)
    assert keys == {"n1": KEY1, "n2": KEY2} and problems == []
    public_keys_of(["n1", "n2", "n3"], hostvars, leases, True, problems)
    assert problems == [
        "n3.podnet_wireguard_public_key: unknown: n3 has no WireGuard key fact in this run"
        " (left out by --limit, or unreachable) and none in the lease file; run once with n3"
        " in the play"
    ]


def test_lease_records_carry_public_keys_only_under_wireguard() -> None:
    keys = {"n1": KEY1}
    assert records_of(_plan({"Type": "wireguard"}), keys)["n1"].wireguard_public_key == KEY1
    assert records_of(_plan({"Type": "vxlan"}), keys)["n1"].wireguard_public_key is None


def _facts(address: str = "192.0.2.11") -> dict:
    return {
        "default_ipv4": {"interface": "eth0"},
        "interfaces": ["eth0"],
        "eth0": {"device": "eth0", "mtu": 1500,
                 "ipv4": {"address": address, "network": "192.0.2.0", "netmask": "255.255.255.0"},
                 "ipv6": [{"address": "2001:db8::11", "prefix": "64", "scope": "global"}]},
    }  # fmt: skip


def test_facts_give_the_ipv6_segment() -> None:
    node = describe_node("n1", {"ansible_facts": _facts()}, None, frozenset({4, 6}), [])
    assert node["underlay_ipv6_subnet"] == "2001:db8::/64"
    assert parse_nodes([node])[0].underlay_ipv6_subnet == ipaddress.ip_network("2001:db8::/64")
    assert Lease() == Lease(None, None, None, None, None, None)


def test_the_peer_table_lists_every_node_of_the_family_in_the_peer_lists_order() -> None:
    data = plan_slices(_plan({"Type": "vxlan"}, count=3), True, "bridge")
    lines = data["peer_tables"]["ipv4"].splitlines()
    assert lines == [
        f"{p['name']} {p['subnet']} {p['public_ip']} {p['vtep_mac']}" for p in data["peers"]["ipv4"]
    ]
    assert len(lines) == 3
