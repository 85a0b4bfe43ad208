"""Adopting a running flannel: what a host uses now (subnet, VTEP MAC) becomes its observed
lease, the plan keeps it, and the lease file records the MACs podnet would not derive."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from conftest import (
    BASE_CONF,
    DUAL_CONF,
    backend_conf,
    conf,
    leases,
    node,
    one_problem,
    problems_of,
)
from plugins.action.plan import observed_leases, plan_hosts, records_of
from plugins.module_utils.flannel_facts.env import SubnetEnvError, parse_subnet_env

from podnet import Lease, leases_to_data, parse_leases, plan_fleet
from podnet.adopt import OBSERVED_FACT, read_observed
from podnet.vtep import derive_vtep_mac

NET = ipaddress.ip_network
FLANNEL_MAC = "5e:2d:81:0c:3b:7a"  # flannel's kind: random, locally administered, unicast
FLANNEL_MAC_V6 = "7a:11:22:33:44:55"


def vxlan_device(ifname: str = "flannel.1", address: str = "10.244.7.0/32", **extra: Any) -> dict:
    vni = int(ifname.rsplit(".", 1)[-1])
    return {"ifname": ifname, "kind": "vxlan", "vni": vni, "mac": FLANNEL_MAC,
            "addresses": [address], **extra}  # fmt: skip


def wg_device(ifname: str, *addresses: str) -> dict:
    return {"ifname": ifname, "kind": "wireguard", "vni": None, "mac": None,
            "addresses": list(addresses)}  # fmt: skip


def observe(facts: dict, net_conf: Any = None) -> tuple[Lease, list[str]]:
    problems: list[str] = []
    lease = read_observed("n1", facts, net_conf or conf(), problems)
    return lease, problems


# --- subnet.env as flanneld writes it -----------------------------------------------------

FLANNEL_SUBNET_ENV = (
    "FLANNEL_NETWORK=10.244.0.0/16\n"
    "FLANNEL_SUBNET=10.244.7.1/24\n"
    "FLANNEL_IPV6_NETWORK=fd00:10:244::/56\n"
    "FLANNEL_IPV6_SUBNET=fd00:10:244:7::1/64\n"
    "FLANNEL_MTU=1450\n"
    "FLANNEL_IPMASQ=true\n"
)


def test_subnet_env_gives_the_lease_as_a_network() -> None:
    env = parse_subnet_env(FLANNEL_SUBNET_ENV, "/run/flannel/subnet.env")
    assert (env["subnet"], env["ipv6_subnet"]) == ("10.244.7.0/24", "fd00:10:244:7::/64")
    assert (env["network"], env["ipv6_network"]) == ("10.244.0.0/16", "fd00:10:244::/56")
    assert env["values"]["FLANNEL_MTU"] == "1450"


def test_an_empty_or_v4_only_subnet_env_gives_no_lease_of_the_missing_family() -> None:
    assert parse_subnet_env("", "f")["subnet"] is None
    env = parse_subnet_env("# written by hand\nFLANNEL_SUBNET=10.244.7.1/24\nnoise\n", "f")
    assert (env["subnet"], env["ipv6_subnet"]) == ("10.244.7.0/24", None)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("FLANNEL_SUBNET=10.244.7.1", "f: FLANNEL_SUBNET='10.244.7.1' is not an IPv4"
         " address/prefix as flannel writes it; fix or delete the file (podnet writes it again)"),
        ("FLANNEL_SUBNET=fd00::1/64", "f: FLANNEL_SUBNET='fd00::1/64' is not an IPv4"
         " address/prefix as flannel writes it; fix or delete the file (podnet writes it again)"),
        ("FLANNEL_IPV6_NETWORK=banana", "f: FLANNEL_IPV6_NETWORK='banana' is not an IPv6"
         " address/prefix as flannel writes it; fix or delete the file (podnet writes it again)"),
    ],
    ids=["no-prefix", "wrong-family", "garbage"],
)  # fmt: skip
def test_a_malformed_subnet_env_names_the_file_key_and_value(line, message) -> None:
    with pytest.raises(SubnetEnvError) as caught:
        parse_subnet_env(line + "\n", "f")
    assert str(caught.value) == message


# --- facts -> observed lease ---------------------------------------------------------------


def test_subnet_env_wins_over_the_device_address() -> None:
    facts = {"subnet": "10.244.9.0/24", "devices": [vxlan_device()]}
    lease, problems = observe(facts)
    assert (lease.subnet, lease.vtep_mac, problems) == (NET("10.244.9.0/24"), FLANNEL_MAC, [])


@pytest.mark.parametrize(
    ("net_conf", "devices", "expected"),
    [
        (BASE_CONF, [vxlan_device()], ("10.244.7.0/24", None)),
        ({**BASE_CONF, "SubnetLen": 26}, [vxlan_device(address="10.244.7.64/32")],
         ("10.244.7.64/26", None)),
        # The plan's VNI first, then another VNI's device, then WireGuard's.
        ({**BASE_CONF, "Backend": {"Type": "vxlan", "VNI": 2}},
         [vxlan_device("flannel.1", "10.244.1.0/32"), vxlan_device("flannel.2", "10.244.2.0/32")],
         ("10.244.2.0/24", None)),
        (BASE_CONF, [wg_device("flannel-wg", "10.244.4.0/32"), vxlan_device("flannel.3")],
         ("10.244.7.0/24", None)),
        ({**DUAL_CONF, "Backend": {"Type": "wireguard", "Mode": "auto"}},
         [wg_device("flannel-wg", "10.244.4.0/32", "fd00:10:244:4::/128")],
         ("10.244.4.0/24", "fd00:10:244:4::/64")),
        ({**DUAL_CONF, "Backend": {"Type": "vxlan"}},
         [vxlan_device(), vxlan_device("flannel-v6.1", "fd00:10:244:7::/128")],
         ("10.244.7.0/24", "fd00:10:244:7::/64")),
        # A prefix other than /32 is not flannel's device address.
        (BASE_CONF, [vxlan_device(address="10.244.7.0/24")], (None, None)),
        (BASE_CONF, [], (None, None)),
    ],
    ids=["vxlan", "subnet-len", "plan-vni-first", "vxlan-before-wireguard", "wireguard-single",
         "dual-stack", "not-a-host-address", "nothing"],
)  # fmt: skip
def test_without_subnet_env_the_device_address_and_subnet_len_give_the_lease(
    net_conf, devices, expected
) -> None:
    lease, problems = observe({"subnet": None, "devices": devices}, conf(net_conf))
    assert problems == []
    assert tuple(str(s) if s else None for s in (lease.subnet, lease.ipv6_subnet)) == expected


def test_a_device_address_that_is_no_subnet_start_is_a_problem_not_a_guess() -> None:
    lease, problems = observe({"devices": [vxlan_device(address="10.244.7.128/32")]})
    assert lease.subnet is None
    assert problems == [
        f"hosts[n1].{OBSERVED_FACT}: flannel.1 has 10.244.7.128/32, which is not the network"
        " address of a /24 (SubnetLen), so the subnet the host uses is unknown; set SubnetLen"
        " to the running cluster's, or restore the host's /run/flannel/subnet.env"
    ]


def test_the_vtep_mac_comes_from_the_plans_vxlan_device_only() -> None:
    devices = [vxlan_device("flannel.2"), vxlan_device("flannel-v6.1", "fd00:10:244:7::/128",
                                                      mac=FLANNEL_MAC_V6)]  # fmt: skip
    lease, _ = observe({"devices": devices}, conf(DUAL_CONF, Backend={"Type": "vxlan"}))
    assert (lease.vtep_mac, lease.vtep_mac_v6) == (None, FLANNEL_MAC_V6)


@pytest.mark.parametrize("backend", ["host-gw", "wireguard"])
def test_other_backends_take_no_mac(backend) -> None:
    lease, _ = observe({"devices": [vxlan_device()]}, backend_conf({"Type": backend}))
    assert (lease.subnet, lease.vtep_mac) == (NET("10.244.7.0/24"), None)


def test_a_bad_fact_is_a_problem_naming_the_host() -> None:
    _, problems = observe({"subnet": "10.244.7.1/24", "devices": [vxlan_device(mac="01:02")]})
    assert problems == [
        f"hosts[n1].{OBSERVED_FACT}.subnet: '10.244.7.1/24' has host bits set; did you mean"
        " 10.244.7.0/24?",
        f"hosts[n1].{OBSERVED_FACT}.flannel.1.mac: '01:02' is not a MAC address (six hex"
        " pairs, colon-separated)",
    ]


# --- the plan keeps what hosts use ----------------------------------------------------------


def mac_plan(lease_file: dict[str, Lease] | None = None, observed: dict | None = None):
    return plan_fleet(conf(), [node("a", 1), node("b", 2)], leases=lease_file,
                      observed=observed)  # fmt: skip


def test_an_adopted_node_keeps_its_subnet_and_mac_and_peers_see_them() -> None:
    seen = {"b": Lease(NET("10.244.7.0/24"), vtep_mac=FLANNEL_MAC)}
    plan = mac_plan(observed=seen)
    b = plan.node("b")
    assert (str(b.subnet), b.vtep_mac) == ("10.244.7.0/24", FLANNEL_MAC)
    assert plan.node("a").vtep_mac == derive_vtep_mac("a", 4)
    [peer] = plan.peers("a")
    assert (str(peer.subnet), peer.vtep_mac) == ("10.244.7.0/24", FLANNEL_MAC)


def test_the_lease_files_mac_wins_over_the_hosts() -> None:
    recorded = {"b": Lease(NET("10.244.7.0/24"), vtep_mac="0a:00:00:00:00:0b")}
    plan = mac_plan(recorded, {"b": Lease(NET("10.244.7.0/24"), vtep_mac=FLANNEL_MAC)})
    assert plan.node("b").vtep_mac == "0a:00:00:00:00:0b"


def test_records_and_leases_keep_only_macs_podnet_would_not_derive() -> None:
    plan = mac_plan(observed={
        "a": Lease(vtep_mac=derive_vtep_mac("a", 4)),
        "b": Lease(NET("10.244.7.0/24"), vtep_mac=FLANNEL_MAC),
    })  # fmt: skip
    for recorded in (records_of(plan), plan.leases()):
        assert (recorded["a"].vtep_mac, recorded["b"].vtep_mac) == (None, FLANNEL_MAC)
    data = leases_to_data(plan.leases())
    assert data == {"a": "10.244.1.0/24", "b": {"subnet": "10.244.7.0/24", "vtep_mac": FLANNEL_MAC}}
    # Read back, it gives the same plan with no host to look at: the MAC is sticky.
    again = mac_plan(parse_leases(data))
    assert again.nodes == plan.nodes


def test_the_lease_file_records_macs_in_their_place_among_the_keys() -> None:
    record = Lease(NET("10.244.7.0/24"), public_ip=ipaddress.ip_address("192.0.2.2"), mtu=1500,
                   vtep_mac=FLANNEL_MAC, vtep_mac_v6=FLANNEL_MAC_V6)  # fmt: skip
    assert list(leases_to_data({"b": record})["b"]) == [
        "subnet", "public_ip", "mtu", "vtep_mac", "vtep_mac_v6"
    ]  # fmt: skip
    assert parse_leases(leases_to_data({"b": record})) == {"b": record}


def test_a_non_vxlan_fleet_records_no_mac() -> None:
    seen = {"b": Lease(NET("10.244.7.0/24"), vtep_mac=FLANNEL_MAC)}
    plan = plan_fleet(backend_conf({"Type": "host-gw"}), [node("b", 2)], observed=seen)
    assert plan.node("b").vtep_mac is None
    assert records_of(plan)["b"].vtep_mac is None


@pytest.mark.parametrize(
    ("lease_file", "observed", "message"),
    [
        ({}, {"a": FLANNEL_MAC, "b": FLANNEL_MAC},
         f"nodes[b]: its VTEP MAC {FLANNEL_MAC} (the IPv4 VXLAN device on b) equals that of a"
         " (the IPv4 VXLAN device on a); set another vtep_mac for one of the two in the lease"
         " file (the lease file's MAC wins over the host's and the derived one)"),
        ({"a": derive_vtep_mac("b", 4)}, {},
         f"nodes[b]: its VTEP MAC {derive_vtep_mac('b', 4)} (derived from its name) equals that"
         " of a (leases[a].vtep_mac); set another vtep_mac for one of the two in the lease file"
         " (the lease file's MAC wins over the host's and the derived one)"),
    ],
    ids=["two-hosts", "recorded-vs-derived"],
)  # fmt: skip
def test_two_nodes_with_one_mac_is_an_error_naming_both_and_where_each_came_from(
    lease_file, observed, message
) -> None:
    recorded = {name: Lease(vtep_mac=mac) for name, mac in lease_file.items()}
    seen = {name: Lease(vtep_mac=mac) for name, mac in observed.items()}
    assert one_problem(lambda: mac_plan(recorded, seen)) == message


# --- which hosts were read, and who cannot be known ------------------------------------------

UNKNOWN_N2 = (
    "n2: its IPv4 subnet is unknown: n2 has no line in the lease file and was not read in"
    " this run (left out by --limit, unreachable, or its flannel_facts task failed), so"
    " the subnet it may already use (a running flannel's) cannot be known; run once with"
    " n2 in the play (or set podnet_subnet for it)"
)
UNKNOWN_N2_V6 = UNKNOWN_N2.replace("IPv4", "IPv6").replace("podnet_subnet", "podnet_ipv6_subnet")


def raw(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "public_ip": f"192.0.2.{name[-1]}", **extra}


def test_hosts_read_in_this_run_give_observed_leases() -> None:
    hostvars = {"n1": {OBSERVED_FACT: {"subnet": "10.244.7.0/24", "devices": []}},
                "n2": {OBSERVED_FACT: {"subnet": None, "devices": []}}}  # fmt: skip
    problems: list[str] = []
    observed = observed_leases(["n1", "n2"], hostvars, conf(), problems)
    assert problems == []
    assert observed == {"n1": Lease(NET("10.244.7.0/24")), "n2": Lease()}


@pytest.mark.parametrize(
    ("net_conf", "n2", "lease_file", "expected"),
    [
        (BASE_CONF, {}, {}, [UNKNOWN_N2]),
        (BASE_CONF, {"subnet": "10.244.9.0/24"}, {}, []),
        (BASE_CONF, {}, {"n2": "10.244.4.0/24"}, []),
        (BASE_CONF, {"read": True}, {}, []),
        (DUAL_CONF, {}, {"n2": "10.244.4.0/24"}, [UNKNOWN_N2_V6]),
        (DUAL_CONF, {"ipv6_subnet": "fd00:10:244:9::/64"}, {"n2": "10.244.4.0/24"}, []),
        (DUAL_CONF, {}, {}, [UNKNOWN_N2]),
    ],
    ids=["not-read", "pinned", "leased", "read", "v6-unknown", "both-known",
         "one-problem-per-node"],
)  # fmt: skip
def test_once_a_host_was_read_a_node_not_read_needs_a_pin_or_a_lease_line(
    net_conf, n2, lease_file, expected
) -> None:
    nodes = [node("n1", 1, public_ipv6="fd00::1", read=True),
             node("n2", 2, public_ipv6="fd00::2", **n2)]  # fmt: skip
    run = lambda: plan_fleet(conf(net_conf), nodes, leases=leases(lease_file))  # noqa: E731
    if expected:
        assert list(problems_of(run)) == expected
    else:
        run()


def test_without_any_host_read_the_planner_stands_alone() -> None:
    # The CLI, or the action used outside the role (no flannel_facts task): nothing required.
    plan_fleet(conf(), [node("n1", 1), node("n2", 2)])
    problems: list[str] = []
    skipped = {"skipped": True, "changed": False}
    assert observed_leases(["n1", "n2"], {"n1": {OBSERVED_FACT: skipped}, "n2": {}},
                           conf(), problems) == {}  # fmt: skip
    assert problems == []


def test_the_action_stops_a_node_not_read_naming_it() -> None:
    hostvars = {"n1": {OBSERVED_FACT: {"devices": []}, "podnet_public_ip": "192.0.2.1"},
                "n2": {"podnet_public_ip": "192.0.2.2"},
                "n3": {"podnet_public_ip": "192.0.2.3", "podnet_subnet": "10.244.9.0/24"},
                "n4": {"podnet_public_ip": "192.0.2.4"}}  # fmt: skip
    lease_file = leases({"n4": "10.244.4.0/24"})
    plan = lambda: plan_hosts(conf(), list(hostvars), hostvars, lease_file, [])  # noqa: E731
    assert one_problem(plan) == UNKNOWN_N2


def test_a_node_already_reported_unplaced_is_not_reported_twice() -> None:
    hostvars = {"n1": {OBSERVED_FACT: {"devices": []}, "podnet_public_ip": "192.0.2.1"}, "n2": {}}
    message = one_problem(lambda: plan_hosts(conf(), ["n1", "n2"], hostvars, {}, []))
    assert message.startswith("n2.podnet_public_ip: unknown: n2 has no facts in this run")
