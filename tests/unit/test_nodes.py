"""The node inventory: shapes, uniqueness, and messages that name the node, value and fix."""

from __future__ import annotations

import copy
import ipaddress

import pytest
from conftest import problems_of

from podnet import Node, parse_nodes
from podnet.nodes import DEFAULT_MTU


def test_a_full_node_is_parsed_into_typed_fields() -> None:
    (node,) = parse_nodes(
        [
            {
                "name": "web1",
                "public_ip": "192.0.2.11",
                "public_ipv6": "2001:DB8::11",
                "iface": "eth0.100",
                "mtu": 9000,
                "subnet": "10.244.7.0/24",
                "ipv6_subnet": "fd00:0:0:7::/64",
                "underlay_subnet": "192.0.2.0/24",
                "underlay_ipv6_subnet": "2001:db8::/64",
            }
        ]
    )
    assert node == Node(
        name="web1",
        public_ip=ipaddress.IPv4Address("192.0.2.11"),
        public_ipv6=ipaddress.IPv6Address("2001:db8::11"),
        iface="eth0.100",
        mtu=9000,
        subnet=ipaddress.IPv4Network("10.244.7.0/24"),
        ipv6_subnet=ipaddress.IPv6Network("fd00:0:0:7::/64"),
        underlay_subnet=ipaddress.IPv4Network("192.0.2.0/24"),
        underlay_ipv6_subnet=ipaddress.IPv6Network("2001:db8::/64"),
    )
    assert node.public_address(6) == node.public_ipv6 and node.pinned(4) == node.subnet
    assert node.underlay(4) == node.underlay_subnet


def test_interface_addresses_and_read_are_parsed() -> None:
    raw = {"name": "web1", "public_ip": "192.0.2.11", "iface": "eth0",
           "iface_addresses": ["192.0.2.11", "2001:DB8::11"], "read": True}  # fmt: skip
    (node,) = parse_nodes([raw])
    assert node.iface_addresses == frozenset(
        {ipaddress.ip_address("192.0.2.11"), ipaddress.ip_address("2001:db8::11")}
    )
    assert node.read is True
    assert (Node("web1").iface_addresses, Node("web1").read) == (None, False)


def test_defaults_and_input_order_are_kept() -> None:
    nodes = parse_nodes(
        [{"name": "b", "public_ip": "192.0.2.2"}, {"name": "a", "public_ipv6": "2001:db8::1"}]
    )
    assert [node.name for node in nodes] == ["b", "a"]
    assert nodes[0].mtu == DEFAULT_MTU == 1500
    assert nodes[0].iface is None and nodes[0].subnet is None and nodes[1].public_ip is None


def test_the_input_is_not_mutated() -> None:
    raw = [{"name": "a", "public_ip": " 192.0.2.1 ", "mtu": 1500}, {"name": "b", "bad": 1}]
    before = copy.deepcopy(raw)
    problems_of(lambda: parse_nodes(raw))
    assert raw == before


@pytest.mark.parametrize(
    ("node", "message"),
    [
        ({"public_ip": "10.0.0.300"}, "nodes[web3].public_ip: '10.0.0.300' is not an IPv4 address;"
         " give the address peers reach the node at"),
        ({"public_ip": "2001:db8::1"}, "nodes[web3].public_ip: '2001:db8::1' is an IPv6 address;"
         " an IPv4 address is needed here"),
        ({"public_ip": 167772161}, "nodes[web3].public_ip: 167772161 is not an IPv4 address;"
         " give the address peers reach the node at"),
        ({"public_ip": "192.0.2.1", "public_ipv6": "10.0.0.1"}, "nodes[web3].public_ipv6:"
         " '10.0.0.1' is an IPv4 address; an IPv6 address is needed here"),
        ({"public_ip": "192.0.2.1", "public_ipv6": "2001:db8::g"}, "nodes[web3].public_ipv6:"
         " '2001:db8::g' is not an IPv6 address; give the address peers reach the node at"),
        ({}, "nodes[web3].public_ip: missing; give the node's underlay address"),
        ({"public_ip": "192.0.2.1", "iface": "eth0/1"}, "nodes[web3].iface: 'eth0/1' is not a"
         " Linux interface name (1-15 characters, no '/', ':' or spaces);"
         " give the underlay interface as `ip link` lists it"),
        ({"public_ip": "192.0.2.1", "iface": "a-very-long-name"}, "nodes[web3].iface:"
         " 'a-very-long-name' is not a Linux interface name (1-15 characters, no '/', ':' or"
         " spaces); give the underlay interface as `ip link` lists it"),
        ({"public_ip": "192.0.2.1", "iface": "eth0:1"}, "nodes[web3].iface: 'eth0:1' is not a"
         " Linux interface name (1-15 characters, no '/', ':' or spaces);"
         " give the underlay interface as `ip link` lists it"),
        ({"public_ip": "192.0.2.1", "iface": ".."}, "nodes[web3].iface: '..' is not a Linux"
         " interface name (1-15 characters, no '/', ':' or spaces);"
         " give the underlay interface as `ip link` lists it"),
        ({"public_ip": "192.0.2.1", "iface": 0}, "nodes[web3].iface: 0 is not a string"),
        ({"public_ip": "192.0.2.1", "mtu": 575}, "nodes[web3].mtu: 575 is out of range;"
         " use 576..65535"),
        ({"public_ip": "192.0.2.1", "mtu": 65536}, "nodes[web3].mtu: 65536 is out of range;"
         " use 576..65535"),
        ({"public_ip": "192.0.2.1", "mtu": "9000"}, "nodes[web3].mtu: '9000' is not a whole"
         " number; give the underlay interface's MTU in bytes (576..65535), or leave it out"
         " to use the interface's"),
        ({"public_ip": "192.0.2.1", "mtu": True}, "nodes[web3].mtu: True is not a whole number;"
         " give the underlay interface's MTU in bytes (576..65535), or leave it out to use the"
         " interface's"),
        ({"public_ip": "192.0.2.1", "subnet": "10.244.1.1/24"}, "nodes[web3].subnet:"
         " '10.244.1.1/24' has host bits set; did you mean 10.244.1.0/24?"),
        ({"public_ip": "192.0.2.1", "ipv6_subnet": "fd00::1/64"}, "nodes[web3].ipv6_subnet:"
         " 'fd00::1/64' has host bits set; did you mean fd00::/64?"),
        ({"public_ip": "192.0.2.1", "subnet": "10.244.1.0"}, "nodes[web3].subnet: '10.244.1.0'"
         " is not an IPv4 CIDR (address/prefix); pin a subnet of the network (address/prefix),"
         " or drop it"),
        ({"public_ip": "192.0.2.1", "subnet": "fd00::/64"}, "nodes[web3].subnet: 'fd00::/64' is"
         " an IPv6 CIDR; an IPv4 CIDR is needed here"),
        ({"public_ip": "192.0.2.1", "underlay_subnet": "198.51.100.0/24"},
         "nodes[web3].underlay_subnet: 198.51.100.0/24 does not contain the node's public"
         " address (192.0.2.1); give the subnet of the interface that holds it"),
        ({"public_ip": "192.0.2.1", "underlay_ipv6_subnet": "2001:db8::/64"},
         "nodes[web3].underlay_ipv6_subnet: 2001:db8::/64 does not contain the node's public"
         " address (None); give the subnet of the interface that holds it"),
        ({"public_ip": "192.0.2.1", "colour": "red"}, "nodes[web3]: unknown key 'colour'; known"
         " keys: name, public_ip, public_ipv6, iface, mtu, subnet, ipv6_subnet, underlay_subnet,"
         " underlay_ipv6_subnet, iface_addresses, host_addresses, public_ip_nat, read"),
        ({"public_ip": "192.0.2.1", "Public_IP": "192.0.2.1"}, "nodes[web3]: unknown key"
         " 'Public_IP'; known keys: name, public_ip, public_ipv6, iface, mtu, subnet, ipv6_subnet,"
         " underlay_subnet, underlay_ipv6_subnet, iface_addresses, host_addresses,"
         " public_ip_nat, read"),
        ({"public_ip": "192.0.2.1", "iface": "eth0", "iface_addresses": "192.0.2.1"},
         "nodes[web3].iface_addresses: '192.0.2.1' is not a list of the interface's addresses"),
        ({"public_ip": "192.0.2.1", "iface": "eth0", "iface_addresses": ["192.0.2.1", "x"]},
         "nodes[web3].iface_addresses[1]: 'x' is not an IP address"),
        ({"public_ip": "192.0.2.1", "iface_addresses": ["192.0.2.1"]},
         "nodes[web3].iface_addresses: given without iface; name the interface that holds them"),
        ({"public_ip": "192.0.2.1", "read": "yes"},
         "nodes[web3].read: 'yes' is not a boolean; use true or false"),
    ],
    ids=[
        "octet-300", "v6-as-v4", "integer-address", "v4-as-v6", "bad-v6", "no-address",
        "iface-slash", "iface-16-chars", "iface-colon", "iface-dotdot", "iface-not-string",
        "mtu-below-576", "mtu-above-65535", "mtu-string", "mtu-bool", "pin-host-bits",
        "v6-pin-host-bits", "pin-no-prefix", "pin-wrong-family", "underlay-misses-address",
        "underlay-v6-without-address", "unknown-key", "keys-are-case-sensitive",
        "iface-addresses-not-a-list", "iface-address-bad", "iface-addresses-without-iface",
        "read-not-boolean",
    ],
)  # fmt: skip
def test_bad_node_fields_name_the_node_value_and_rule(node, message) -> None:
    assert problems_of(lambda: parse_nodes([{"name": "web3", **node}])) == (message,)


def test_a_bad_address_does_not_also_blame_its_underlay_subnet() -> None:
    raw = [{"name": "web3", "public_ip": "10.0.0.300", "underlay_subnet": "10.0.0.0/24"}]
    assert problems_of(lambda: parse_nodes(raw)) == (
        "nodes[web3].public_ip: '10.0.0.300' is not an IPv4 address;"
        " give the address peers reach the node at",
    )


@pytest.mark.parametrize(
    "iface", ["eth0", "eth0.100", "enp3s0f1", "bond0-vlan", "x" * 15],
    ids=["eth0", "vlan", "pci", "dash", "15-chars"],
)  # fmt: skip
def test_valid_interface_names(iface) -> None:
    assert parse_nodes([{"name": "n", "public_ip": "192.0.2.1", "iface": iface}])[0].iface == iface


@pytest.mark.parametrize("mtu", [576, 1280, 1500, 9000, 65535])
def test_mtu_range(mtu) -> None:
    assert parse_nodes([{"name": "n", "public_ip": "192.0.2.1", "mtu": mtu}])[0].mtu == mtu


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"name": "", "public_ip": "192.0.2.1"},
         "nodes[0].name: '' is not a node name; give a non-empty word"),
        ({"name": "web 1", "public_ip": "192.0.2.1"},
         "nodes[0].name: 'web 1' is not a node name; give a non-empty word"),
        ({"public_ip": "192.0.2.1"},
         "nodes[0].name: None is not a node name; give a non-empty word"),
        ({"name": ["web1"], "public_ip": "192.0.2.1"},
         "nodes[0].name: ['web1'] is not a node name; give a non-empty word"),
        ("web1", "nodes[0]: 'web1' is not a mapping with name and public_ip"),
    ],
    ids=["empty", "space", "missing", "list", "not-a-mapping"],
)  # fmt: skip
def test_bad_names_are_reported_by_position(item, message) -> None:
    assert problems_of(lambda: parse_nodes([item])) == (message,)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("web1", "nodes: str given; a list of node mappings is needed"),
        ({"web1": {}}, "nodes: dict given; a list of node mappings is needed"),
        (None, "nodes: NoneType given; a list of node mappings is needed"),
    ],
    ids=["string", "mapping", "none"],
)
def test_the_inventory_must_be_a_list(raw, message) -> None:
    assert problems_of(lambda: parse_nodes(raw)) == (message,)


def test_duplicate_names_are_reported_even_when_a_copy_is_invalid() -> None:
    raw = [
        {"name": "web1", "public_ip": "192.0.2.1"},
        {"name": "web1", "public_ip": "not-an-ip"},
    ]
    assert problems_of(lambda: parse_nodes(raw)) == (
        "nodes[web1].name: 'web1' appears twice; node names must be unique",
        "nodes[web1].public_ip: 'not-an-ip' is not an IPv4 address;"
        " give the address peers reach the node at",
    )


@pytest.mark.parametrize(
    ("field", "first", "second", "shown"),
    [
        ("public_ip", "192.0.2.1", " 192.0.2.1", "192.0.2.1"),
        ("public_ipv6", "2001:db8::1", "2001:DB8:0::1", "2001:db8::1"),
    ],
    ids=["ipv4", "ipv6-spelled-differently"],
)
def test_duplicate_public_addresses_name_both_nodes(field, first, second, shown) -> None:
    raw = [
        {"name": "a", "public_ip": "192.0.2.10", field: first},
        {"name": "b", "public_ip": "192.0.2.11", field: second},
    ]
    assert problems_of(lambda: parse_nodes(raw)) == (
        f"nodes[b].{field}: {shown!r} is also the {field} of a; each node needs its own",
    )


def test_every_problem_of_every_node_is_reported_at_once() -> None:
    raw = [
        {"name": "a", "public_ip": "192.0.2.300", "mtu": 10},
        {"name": "b", "public_ip": "192.0.2.2", "subnet": "10.244.1.1/24"},
        {"name": "c", "public_ip": "192.0.2.3"},
        {"name": "c", "public_ip": "192.0.2.2", "iface": "a/b"},
    ]
    problems = problems_of(lambda: parse_nodes(raw))
    assert [problem.split(":")[0] for problem in problems] == [
        "nodes[c].name",
        "nodes[a].public_ip",
        "nodes[a].mtu",
        "nodes[b].subnet",
        "nodes[c].iface",
    ]


def test_an_empty_inventory_parses_to_nothing() -> None:
    assert parse_nodes([]) == ()
