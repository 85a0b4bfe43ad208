"""The fleet plan: VTEP MACs, peers, shared underlays, overlaps and dual stack."""

from __future__ import annotations

import ipaddress
import re

import pytest
from conftest import (
    BASE_CONF,
    DUAL_CONF,
    backend_conf,
    conf,
    fleet,
    leases,
    node,
    one_problem,
    problems_of,
)

import podnet.plan
from podnet import Lease, plan_fleet
from podnet.vtep import derive_vtep_mac

NET = ipaddress.ip_network
MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


# --- VTEP MACs -----------------------------------------------------------------------------


def test_vtep_mac_is_a_pure_function_of_name_and_family() -> None:
    # Pinned: a change here renumbers every VTEP of every fleet on the next run.
    assert derive_vtep_mac("node1", 4) == "7a:28:b0:ea:0e:01"
    assert derive_vtep_mac("node1", 4) == derive_vtep_mac("node1", 4)
    assert derive_vtep_mac("node1", 4) != derive_vtep_mac("node2", 4)


@pytest.mark.parametrize(
    "name",
    ["node1", "a", "web-01.example.org", "k8s-worker-49999", "ñandú", "x" * 200],
    ids=["node1", "one-letter", "fqdn", "large-index", "non-ascii", "long"],
)
@pytest.mark.parametrize("family", [4, 6])
def test_vtep_mac_is_locally_administered_unicast(name, family) -> None:
    mac = derive_vtep_mac(name, family)
    assert MAC.match(mac), mac
    first_octet = int(mac[:2], 16)
    assert first_octet & 0b11 == 0b10  # multicast bit clear, locally administered bit set


@pytest.mark.parametrize("name", ["node1", "a", "web-01.example.org"])
def test_vtep_mac_differs_per_family(name) -> None:
    assert derive_vtep_mac(name, 4) != derive_vtep_mac(name, 6)


def test_vxlan_plans_carry_the_derived_macs() -> None:
    plan = plan_fleet(conf(DUAL_CONF), fleet(3, v6=True))
    for node_plan in plan.nodes:
        assert node_plan.vtep_mac == derive_vtep_mac(node_plan.name, 4)
        assert node_plan.vtep_mac_v6 == derive_vtep_mac(node_plan.name, 6)


def test_macs_do_not_depend_on_the_rest_of_the_fleet() -> None:
    alone = plan_fleet(conf(), [node("web1", 1)]).node("web1").vtep_mac
    crowded = plan_fleet(conf(), [*fleet(50), node("web1", 1)]).node("web1").vtep_mac
    assert alone == crowded


@pytest.mark.parametrize("backend", ["host-gw", "wireguard"])
def test_only_vxlan_has_vtep_macs(backend) -> None:
    plan = plan_fleet(backend_conf({"Type": backend}), fleet(2))
    assert all(p.vtep_mac is None and p.vtep_mac_v6 is None for p in plan.nodes)
    assert all(peer.vtep_mac is None for peer in plan.peers("node01"))


def test_a_mac_collision_is_an_error_naming_both_nodes(monkeypatch) -> None:
    # A real collision needs ~2**24 names; stand in for sha256 with a constant.
    monkeypatch.setattr(podnet.plan, "derive_vtep_mac", lambda name, family: "02:00:00:00:00:01")
    assert one_problem(lambda: plan_fleet(conf(), [node("b", 2), node("a", 1)])) == (
        "nodes[b]: its VTEP MAC 02:00:00:00:00:01 equals that of a; rename one of the two nodes"
    )


# --- nodes and peers -------------------------------------------------------------------------


def test_node_plans_are_sorted_and_addressable_by_name() -> None:
    plan = plan_fleet(conf(), [node("c", 3), node("a", 1), node("b", 2)])
    assert [p.name for p in plan.nodes] == ["a", "b", "c"]
    assert plan.node("b").node.public_ip == ipaddress.IPv4Address("192.0.2.2")
    assert plan.node("b").vtep_address() == ipaddress.IPv4Address("10.244.2.0")
    assert plan.node("b").vtep_address(6) is None


def test_an_unknown_node_is_a_key_error_naming_the_known_ones() -> None:
    plan = plan_fleet(conf(), fleet(2))
    with pytest.raises(KeyError, match=r"node 'web9' is not in the inventory \(nodes: node01,"):
        plan.node("web9")
    with pytest.raises(KeyError, match="web9"):
        plan.peers("web9")


def test_peers_exclude_self_and_carry_subnet_address_and_mac() -> None:
    plan = plan_fleet(conf(), [node("c", 3), node("a", 1), node("b", 2)])
    peers = plan.peers("b")
    assert [peer.name for peer in peers] == ["a", "c"]
    a, c = peers
    assert a.public_ip == ipaddress.IPv4Address("192.0.2.1")
    assert a.subnet == NET("10.244.1.0/24")
    assert a.vtep_mac == derive_vtep_mac("a", 4)
    assert c.public_ip == ipaddress.IPv4Address("192.0.2.3")
    assert c.subnet == NET("10.244.3.0/24")
    assert c.vtep_mac == derive_vtep_mac("c", 4)
    assert a.ipv6_subnet is None and a.public_ipv6 is None and a.vtep_mac_v6 is None


def test_every_node_sees_every_other_node_once() -> None:
    plan = plan_fleet(conf(), fleet(20))
    for node_plan in plan.nodes:
        names = [peer.name for peer in plan.peers(node_plan.name)]
        assert node_plan.name not in names
        assert len(names) == len(set(names)) == 19


def test_a_single_node_has_no_peers() -> None:
    assert plan_fleet(conf(), [node("solo", 1)]).peers("solo") == ()


def test_shares_underlay_only_for_peers_inside_the_nodes_underlay_subnet() -> None:
    nodes = [
        node("a", public_ip="192.0.2.10", underlay_subnet="192.0.2.0/25"),
        node("b", public_ip="192.0.2.20", underlay_subnet="192.0.2.0/25"),
        node("c", public_ip="192.0.2.200", underlay_subnet="192.0.2.128/25"),
        node("d", public_ip="198.51.100.1"),
    ]
    plan = plan_fleet(conf(), nodes)
    shares = {
        me.name: {peer.name: peer.shares_underlay for peer in plan.peers(me.name)}
        for me in plan.nodes
    }
    assert shares == {
        "a": {"b": True, "c": False, "d": False},
        "b": {"a": True, "c": False, "d": False},
        "c": {"a": False, "b": False, "d": False},
        "d": {"a": False, "b": False, "c": False},  # d's own segment is unknown
    }


def test_shares_underlay_v6_uses_the_ipv6_segment() -> None:
    nodes = [
        node("a", 1, public_ipv6="2001:db8:1::1", underlay_ipv6_subnet="2001:db8:1::/64"),
        node("b", 2, public_ipv6="2001:db8:1::2"),
        node("c", 3, public_ipv6="2001:db8:2::3"),
    ]
    peers = {peer.name: peer for peer in plan_fleet(conf(DUAL_CONF), nodes).peers("a")}
    assert (peers["b"].shares_underlay_v6, peers["c"].shares_underlay_v6) == (True, False)
    assert not peers["b"].shares_underlay  # no IPv4 segment given for a


# --- checks across inputs ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nodes", "message"),
    [
        ([node("b", public_ip="10.244.3.4"), node("a", 1)], "Network: 10.244.0.0/16 overlaps the"
         " underlay of b (10.244.3.4): traffic to those hosts would be routed into the pod"
         " network; pick a Network outside the underlay"),
        ([node("c", public_ip="10.0.0.1", underlay_subnet="10.0.0.0/8")], "Network: 10.244.0.0/16"
         " overlaps the underlay of c (10.0.0.0/8): traffic to those hosts would be routed into"
         " the pod network; pick a Network outside the underlay"),
        ([node("c", public_ip="10.244.0.1", underlay_subnet="10.244.0.0/30"),
          node("b", public_ip="10.244.9.9")], "Network: 10.244.0.0/16 overlaps the underlay of"
         " b (10.244.9.9), c (10.244.0.1): traffic to those hosts would be routed into the pod"
         " network; pick a Network outside the underlay"),
    ],
    ids=["address-inside", "segment-contains-network", "named-once-in-name-order"],
)  # fmt: skip
def test_network_overlapping_the_underlay_is_an_error(nodes, message) -> None:
    assert one_problem(lambda: plan_fleet(conf(), nodes)) == message


def test_ipv6_network_overlapping_the_underlay_is_an_error() -> None:
    nodes = [node("a", 1, public_ipv6="fd00:10:244:7::1")]
    assert one_problem(lambda: plan_fleet(conf(DUAL_CONF), nodes)) == (
        "IPv6Network: fd00:10:244::/56 overlaps the underlay of a (fd00:10:244:7::1): traffic to"
        " those hosts would be routed into the pod network; pick a IPv6Network outside the"
        " underlay"
    )


@pytest.mark.parametrize(
    ("services", "expected"),
    [
        (["10.96.0.0/12"], ()),
        (["10.244.128.0/17"], ("Network: 10.244.0.0/16 overlaps the service CIDR 10.244.128.0/17;"
                               " pick ranges that do not overlap (kubeadm's default service CIDR"
                               " is 10.96.0.0/12)",)),
        (["10.0.0.0/8"], ("Network: 10.244.0.0/16 overlaps the service CIDR 10.0.0.0/8; pick"
                          " ranges that do not overlap (kubeadm's default service CIDR is"
                          " 10.96.0.0/12)",)),
        (["fd00:10:244::/108"], ()),
    ],
    ids=["kubeadm-default", "inside", "around", "other-family-ignored"],
)  # fmt: skip
def test_service_cidr_overlap(services, expected) -> None:
    service_cidrs = [NET(s) for s in services]
    if expected:
        assert problems_of(lambda: plan_fleet(conf(), fleet(2), service_cidrs=service_cidrs)) == (
            expected
        )
    else:
        plan_fleet(conf(), fleet(2), service_cidrs=service_cidrs)


def test_ipv6_service_cidr_overlap_in_dual_stack() -> None:
    service_cidrs = [NET("10.96.0.0/12"), NET("fd00:10:244:80::/108")]
    assert one_problem(
        lambda: plan_fleet(conf(DUAL_CONF), fleet(2, v6=True), service_cidrs=service_cidrs)
    ).startswith("IPv6Network: fd00:10:244::/56 overlaps the service CIDR fd00:10:244:80::/108;")


@pytest.mark.parametrize(
    ("net_conf", "nodes", "message"),
    [
        (conf(DUAL_CONF), [node("b", 2), node("a", 1)], "nodes[a, b].public_ipv6: missing; the"
         " vxlan backend needs it to reach the nodes"),
        (backend_conf({"Type": "wireguard", "Mode": "ipv6"}), [node("a", 1)], "nodes[a]"
         ".public_ipv6: missing; the wireguard backend needs it to reach the node"),
        (backend_conf({"Type": "wireguard", "Mode": "auto"}, DUAL_CONF),
         [node("a", public_ipv6="2001:db8::1"), node("b")], "nodes[b].public_ip or public_ipv6:"
         " missing; the wireguard backend needs it to reach the node"),
        (conf(), [node("a", 1), node("b", public_ipv6="2001:db8::2")], "nodes[b].public_ip:"
         " missing; the vxlan backend needs it to reach the node"),
    ],
    ids=["dual-vxlan-needs-v6", "wireguard-ipv6-mode", "wireguard-auto-either", "v4-needs-v4"],
)  # fmt: skip
def test_nodes_need_the_underlay_address_their_tunnels_use(net_conf, nodes, message) -> None:
    assert one_problem(lambda: plan_fleet(net_conf, nodes)) == message


def test_an_empty_inventory_is_an_error() -> None:
    assert one_problem(lambda: plan_fleet(conf(), [])) == (
        "nodes: the inventory is empty; list at least one node"
    )


def test_problems_from_every_stage_come_in_one_error() -> None:
    nodes = [node("a", public_ip="10.244.0.9", mtu=600, subnet="10.245.1.0/24")]
    problems = problems_of(lambda: plan_fleet(conf(), nodes, service_cidrs=[NET("10.240.0.0/12")]))
    assert [problem.split(" ")[0] for problem in problems] == [
        "Network:",  # underlay overlap
        "Network:",  # service overlap
        "pod",  # MTU
        "nodes[a].subnet:",  # pin outside
    ]


# --- dual stack, leases, equality ----------------------------------------------------------


def test_a_dual_stack_plan() -> None:
    plan = plan_fleet(conf(DUAL_CONF), fleet(2, v6=True))
    node01, node02 = plan.nodes
    assert (str(node01.subnet), str(node01.ipv6_subnet)) == ("10.244.1.0/24", "fd00:10:244:1::/64")
    assert (str(node02.subnet), str(node02.ipv6_subnet)) == ("10.244.2.0/24", "fd00:10:244:2::/64")
    assert node02.vtep_address(6) == ipaddress.IPv6Address("fd00:10:244:2::")
    (peer,) = plan.peers("node01")
    assert peer.name == "node02"
    assert peer.ipv6_subnet == node02.ipv6_subnet and peer.public_ipv6 == node02.node.public_ipv6
    assert peer.vtep_mac_v6 == derive_vtep_mac("node02", 6)
    assert plan.mtu.mtu == 1430
    assert plan.leases() == {
        "node01": Lease(NET("10.244.1.0/24"), NET("fd00:10:244:1::/64")),
        "node02": Lease(NET("10.244.2.0/24"), NET("fd00:10:244:2::/64")),
    }


def test_an_ipv6_only_plan() -> None:
    v6 = conf(EnableIPv4=False, EnableIPv6=True, IPv6Network="fd00::/48", Network=None)
    plan = plan_fleet(v6, [node("a", public_ipv6="2001:db8::1")])
    (only,) = plan.nodes
    assert only.subnet is None and str(only.ipv6_subnet) == "fd00:0:0:1::/64"
    assert only.vtep_mac is None and only.vtep_mac_v6 == derive_vtep_mac("a", 6)
    assert plan.leases() == {"a": Lease(None, NET("fd00:0:0:1::/64"))}


def test_dual_stack_keeps_each_familys_departed_lease() -> None:
    lease_file = leases({"gone": ("10.244.9.0/24", "fd00:10:244:9::/64")})
    plan = plan_fleet(conf(DUAL_CONF), fleet(1, v6=True), leases=lease_file)
    assert plan.kept_leases == lease_file
    assert plan.leases()["gone"] == lease_file["gone"]


def test_feeding_the_leases_back_reproduces_the_plan() -> None:
    nodes = fleet(5)
    first = plan_fleet(conf(), nodes, leases=leases({"old": "10.244.2.0/24"}))
    again = plan_fleet(conf(), list(reversed(nodes)), leases=first.leases())
    assert again == first
    assert again.leases() == first.leases()


def test_the_plan_carries_the_conf_and_its_warnings() -> None:
    net_conf = conf(Extra=1)
    plan = plan_fleet(net_conf, fleet(1))
    assert plan.net_conf is net_conf
    assert plan.warnings == ("Extra: not a flannel net-conf key; ignored",)


# --- host-gw: one L2 segment -----------------------------------------------------------------

HOST_GW = {"Type": "host-gw"}


def test_host_gw_on_one_segment_plans_with_the_full_underlay_mtu() -> None:
    nodes = [node(n, i, underlay_subnet="192.0.2.0/24") for i, n in enumerate("abc", 1)]
    assert plan_fleet(backend_conf(HOST_GW), nodes).mtu.mtu == 1500


def test_host_gw_across_a_router_names_every_broken_pair_and_the_fix() -> None:
    nodes = [
        node("a", public_ip="192.0.2.11", underlay_subnet="192.0.2.0/24"),
        node("b", public_ip="192.0.2.12", underlay_subnet="192.0.2.0/24"),
        node("c", public_ip="198.51.100.13", underlay_subnet="198.51.100.0/24"),
        node("d", public_ip="198.51.100.14", underlay_subnet="198.51.100.0/24"),
    ]
    message = one_problem(lambda: plan_fleet(backend_conf(HOST_GW), nodes))
    assert message == (
        "Backend.Type: host-gw needs every node on one L2 segment, but these node pairs are on"
        " different IPv4 segments: a-c, a-d, b-c, b-d (segments: 192.0.2.0/24 (a, b);"
        " 198.51.100.0/24 (c, d)); host-gw routes between them would silently fail. Use"
        ' {"Type": "vxlan", "DirectRouting": true}: direct routes inside a segment, VXLAN across'
    )
    # The same fleet is fine with vxlan + DirectRouting.
    plan_fleet(backend_conf({"Type": "vxlan", "DirectRouting": True}), nodes)


def test_host_gw_judges_a_node_of_unknown_segment_from_the_others_side() -> None:
    # c has no facts in this run (--limit): a's segment still shows c is off-link.
    nodes = [
        node("a", public_ip="192.0.2.11", underlay_subnet="192.0.2.0/24"),
        node("c", public_ip="198.51.100.13"),
    ]
    assert "a-c" in one_problem(lambda: plan_fleet(backend_conf(HOST_GW), nodes))
    # Nobody's segment known: nothing to judge here (the module checks on the host).
    plan_fleet(backend_conf(HOST_GW), [node("a", 1), node("c", public_ip="198.51.100.13")])


NAT_MESSAGE = (
    "{name}.podnet_public_ip{v6}: {address} is not an address of 'eth0': your PublicIP differs"
    " from interface IP, meaning that probably you're on a NAT, which is not supported by"
    " host-gw backend; drop the variable, or use the vxlan or wireguard backend"
)


@pytest.mark.parametrize(
    ("base", "fields", "message"),
    [
        (BASE_CONF, {"public_ip": "203.0.113.7", "iface_addresses": ["192.0.2.11", "fd00::11"]},
         NAT_MESSAGE.format(name="a", v6="", address="203.0.113.7")),
        (DUAL_CONF, {"public_ip": "192.0.2.11", "public_ipv6": "2001:db8::7",
                     "iface_addresses": ["192.0.2.11", "fe80::1", "fd00::11"]},
         NAT_MESSAGE.format(name="a", v6="v6", address="2001:db8::7")),
        (BASE_CONF, {"public_ip": "192.0.2.11", "iface_addresses": []},
         NAT_MESSAGE.format(name="a", v6="", address="192.0.2.11")),
    ],
    ids=["v4-behind-nat", "v6-behind-nat", "interface-without-address"],
)  # fmt: skip
def test_host_gw_refuses_a_public_address_its_interface_does_not_hold(
    base, fields, message
) -> None:
    net_conf = backend_conf(HOST_GW, base)
    nodes = [node("a", iface="eth0", **fields), node("b", 12, public_ipv6="fd00::12")]
    assert one_problem(lambda: plan_fleet(net_conf, nodes)) == message


@pytest.mark.parametrize(
    ("backend", "fields"),
    [
        (HOST_GW, {"public_ip": "192.0.2.11", "iface_addresses": ["192.0.2.11"]}),
        (HOST_GW, {"public_ip": "192.0.2.11", "iface_addresses": ["192.0.2.9", "192.0.2.11"]}),
        (HOST_GW, {"public_ip": "203.0.113.7"}),
        ({"Type": "vxlan"}, {"public_ip": "203.0.113.7", "iface_addresses": ["192.0.2.11"]}),
        ({"Type": "wireguard"}, {"public_ip": "203.0.113.7", "iface_addresses": ["192.0.2.11"]}),
    ],
    ids=["own-address", "secondary-address", "addresses-unknown", "vxlan-nat", "wireguard-nat"],
)  # fmt: skip
def test_a_public_address_elsewhere_is_fine_unless_host_gw_knows_the_interface(
    backend, fields
) -> None:
    plan_fleet(backend_conf(backend), [node("a", iface="eth0", **fields), node("b", 12)])


def test_host_gw_lists_at_most_ten_pairs() -> None:
    nodes = [node(f"n{i:02}", public_ip=f"198.18.{i}.1", underlay_subnet=f"198.18.{i}.0/24")
             for i in range(12)]  # fmt: skip
    message = one_problem(lambda: plan_fleet(backend_conf(HOST_GW), nodes))
    assert message.count("-n") == 10 and "and more" in message
