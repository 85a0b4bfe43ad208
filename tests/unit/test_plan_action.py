"""The controller side of planning: hosts' variables and facts -> nodes -> per-node slices."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BASE_CONF, DUAL_CONF, problems_of
from plugins.action.plan import describe_node, plan_hosts, plan_slices, records_of

from podnet import Lease, parse_net_conf, parse_nodes, plan_fleet

V4 = frozenset({4})


def facts(address: str = "192.0.2.11", mtu: int = 1500, iface: str = "eth0") -> dict:
    """The network facts `setup` gathers, trimmed to what the planner reads."""
    return {
        "default_ipv4": {"interface": iface, "address": address},
        "interfaces": [iface, "lo"],
        iface: {
            "mtu": mtu,
            "ipv4": {"address": address, "network": "192.0.2.0", "netmask": "255.255.255.0"},
            "ipv6": [
                {"address": "fe80::1", "scope": "link"},
                {"address": "fd00::11", "scope": "global"},
            ],
        },
    }  # fmt: skip


def test_facts_give_the_default_interface_its_address_mtu_and_segment() -> None:
    problems: list[str] = []
    node = describe_node("n1", {"ansible_facts": facts(mtu=9000)}, None, V4, problems)
    assert problems == []
    assert node == {
        "name": "n1",
        "iface": "eth0",
        "public_ip": "192.0.2.11",
        "mtu": 9000,
        "underlay_subnet": "192.0.2.0/255.255.255.0",
    }
    assert parse_nodes([node])[0].underlay_subnet == ipaddress.ip_network("192.0.2.0/24")


def test_inventory_variables_win_over_facts() -> None:
    host = {
        "ansible_facts": facts(),
        "podnet_public_ip": "198.51.100.7",
        "podnet_mtu": "1400",
        "podnet_subnet": "10.244.9.0/24",
    }
    node = describe_node("n1", host, None, V4, [])
    assert (node["public_ip"], node["mtu"], node["subnet"]) == (
        "198.51.100.7",
        1400,
        "10.244.9.0/24",
    )


def test_a_host_outside_the_play_is_placed_by_its_lease_record() -> None:
    lease = Lease(
        ipaddress.ip_network("10.244.2.0/24"),
        public_ip=ipaddress.ip_address("192.0.2.12"),
        mtu=1500,
    )
    node = describe_node("n2", {}, lease, V4, [])
    assert (node["public_ip"], node["mtu"]) == ("192.0.2.12", 1500)


def test_a_host_nobody_can_place_is_an_error_naming_it_and_the_fix() -> None:
    problems: list[str] = []
    describe_node("n3", {}, None, V4, problems)
    assert problems == [
        "n3.podnet_public_ip: unknown: n3 has no facts in this run (left out by --limit, or"
        " unreachable) and no record in the lease file; set podnet_public_ip for n3, or run"
        " once with n3 in the play"
    ]


def test_a_wrong_podnet_iface_names_the_interfaces_the_host_has() -> None:
    problems: list[str] = []
    describe_node("n1", {"ansible_facts": facts(), "podnet_iface": "bond0"}, None, V4, problems)
    assert problems[0] == (
        "n1.podnet_iface: 'bond0' is not an interface of the host (it has: eth0, lo);"
        " set podnet_iface to the underlay interface"
    )


def test_ipv6_address_comes_from_the_global_scope_only_when_the_fleet_uses_ipv6() -> None:
    host = {"ansible_facts": facts()}
    assert "public_ipv6" not in describe_node("n1", host, None, V4, [])
    assert describe_node("n1", host, None, frozenset({4, 6}), [])["public_ipv6"] == "fd00::11"


NAT_HOST = {"ansible_facts": facts(), "podnet_public_ip": "203.0.113.7"}
NAT_MESSAGE = (
    "n1.podnet_public_ip: 203.0.113.7 is not an address of 'eth0': your PublicIP differs"
    " from interface IP, meaning that probably you're on a NAT, which is not supported by"
    " host-gw backend; drop the variable, or use the vxlan or wireguard backend"
)


def test_host_gw_refuses_a_public_ip_that_is_not_the_interfaces_as_flannel_does() -> None:
    # Moved from test_slices: the rule is the library's now (podnet.plan), fed by the
    # interface's addresses that describe_node passes under host-gw.
    host_gw = parse_net_conf({**BASE_CONF, "Backend": {"Type": "host-gw"}})
    problems = problems_of(lambda: plan_hosts(host_gw, ["n1"], {"n1": NAT_HOST}, {}, []))
    assert problems == (NAT_MESSAGE,)
    # A secondary address of the interface is its own: no NAT.
    secondary = facts()
    secondary["eth0"]["ipv4_secondaries"] = [{"address": "192.0.2.99"}]
    host = {"ansible_facts": secondary, "podnet_public_ip": "192.0.2.99"}
    plan_hosts(host_gw, ["n1"], {"n1": host}, {}, [])
    # vxlan and wireguard work behind NAT; the NAT address's segment is not the interface's
    for backend in ("vxlan", "wireguard"):
        net_conf = parse_net_conf({**BASE_CONF, "Backend": {"Type": backend}})
        plan, _ = plan_hosts(net_conf, ["n1"], {"n1": NAT_HOST}, {}, [])
        assert plan.node("n1").node.underlay_subnet is None


def test_interface_addresses_travel_only_under_host_gw() -> None:
    host = {"ansible_facts": facts()}
    assert "iface_addresses" not in describe_node("n1", host, None, V4, [])
    node = describe_node("n1", host, None, V4, [], host_gw=True)
    assert node["iface_addresses"] == ["192.0.2.11", "fe80::1", "fd00::11"]
    assert describe_node("n1", host, None, V4, [], read=True)["read"] is True


def _plan(raw_conf=BASE_CONF, count=3):
    nodes = parse_nodes(
        [
            {"name": f"n{i}", "public_ip": f"192.0.2.{i}", "iface": "eth0"}
            for i in range(1, count + 1)
        ]
    )
    return plan_fleet(parse_net_conf(raw_conf), nodes)


def test_slices_give_each_node_its_tunnel_files_and_one_shared_peer_table() -> None:
    plan = _plan()
    data = plan_slices(plan, ip_masq=True, cni_mode="bridge")
    n2 = data["nodes"]["n2"]
    assert n2["vxlan"] == [
        {"family": 4, "state": "present", "network": "10.244.0.0/16", "subnet": "10.244.2.0/24",
         "local": "192.0.2.2", "vtep_mac": plan.node("n2").vtep_mac},
        {"family": 6, "state": "absent"},
    ]  # fmt: skip
    assert n2["masquerade"] == [{"network": "10.244.0.0/16", "subnet": "10.244.2.0/24"}]
    assert "FLANNEL_SUBNET=10.244.2.1/24\n" in n2["subnet_env"]
    assert json.loads(n2["cni_conflist"])["plugins"][0]["ipam"]["ranges"] == [
        [{"subnet": "10.244.2.0/24"}]
    ]
    assert [peer["name"] for peer in data["peers"]["ipv4"]] == ["n1", "n2", "n3"]
    assert data["peers"]["ipv4"][0] == {
        "name": "n1", "subnet": "10.244.1.0/24", "public_ip": "192.0.2.1",
        "vtep_mac": plan.node("n1").vtep_mac,
    }  # fmt: skip
    assert (data["mtu"], data["backend"]["vni"], data["families"]) == (1450, 1, [4])
    json.dumps(data)  # task results must be plain data


def test_dual_stack_slices_have_both_tunnels_and_peer_tables() -> None:
    nodes = parse_nodes(
        [
            {"name": f"n{i}", "public_ip": f"192.0.2.{i}", "public_ipv6": f"fd00::{i}"}
            for i in (1, 2)
        ]
    )
    data = plan_slices(
        plan_fleet(parse_net_conf(DUAL_CONF), nodes), ip_masq=False, cni_mode="flannel"
    )
    states = [(t["family"], t["state"]) for t in data["nodes"]["n1"]["vxlan"]]
    assert states == [(4, "present"), (6, "present")]
    assert data["peers"]["ipv6"][1]["public_ip"] == "fd00::2"
    assert "FLANNEL_IPMASQ=false\n" in data["nodes"]["n1"]["subnet_env"]


def test_records_keep_departed_leases_and_note_where_nodes_were_seen() -> None:
    nodes = parse_nodes([{"name": "n1", "public_ip": "192.0.2.1", "mtu": 9000}])
    gone = {"old": Lease(ipaddress.ip_network("10.244.7.0/24"))}
    records = records_of(plan_fleet(parse_net_conf(BASE_CONF), nodes, leases=gone))
    assert records["old"] == gone["old"]
    assert (records["n1"].public_ip, records["n1"].mtu) == (ipaddress.ip_address("192.0.2.1"), 9000)


@pytest.mark.parametrize("mode", ["bridge", "flannel"])
def test_every_cni_mode_renders(mode) -> None:
    assert plan_slices(_plan(count=1), ip_masq=True, cni_mode=mode)["nodes"]["n1"]["cni_conflist"]


def test_a_podnet_found_earlier_on_the_path_does_not_shadow_the_bundled_library(
    tmp_path: Path,
) -> None:
    """An unrelated `podnet` first on the controller's path (another project, an old pip
    install) must not be what the action plugin plans with: the collection's own wins."""
    impostor = tmp_path / "podnet"
    impostor.mkdir()
    (impostor / "__init__.py").write_text("# another project's podnet: it imports fine\n")
    repo = Path(__file__).resolve().parents[2]
    code = "import plugins.action.plan, podnet; print(podnet.__file__)"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=repo,
        env={**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{repo}"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(repo / "library" / "podnet" / "__init__.py")


def test_a_node_nobody_can_place_and_one_whose_subnet_is_unknown_are_both_named() -> None:
    """Every problem at once: n3 (no address anywhere) stops the plan, and so does n2 (an
    address, but not read and no lease line), in the same message."""
    from podnet.adopt import OBSERVED_FACT  # noqa: PLC0415

    hostvars = {
        "n1": {"ansible_facts": facts(), OBSERVED_FACT: {"devices": []}},
        "n2": {"podnet_public_ip": "192.0.2.12"},
        "n3": {},
    }
    conf = parse_net_conf(BASE_CONF)
    problems = problems_of(lambda: plan_hosts(conf, ["n1", "n2", "n3"], hostvars, {}, []))
    assert [problem.split(":")[0] for problem in problems] == ["n3.podnet_public_ip", "n2"]
    assert "n2: its IPv4 subnet is unknown" in problems[1]
