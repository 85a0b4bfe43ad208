"""The node inventory: who is in the fleet, where they are, and what they pin.

Shape checks only; whether a node fits the net-conf (family, range, MTU) is the
planner's business, because it needs both inputs.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import ValidationError, raise_if
from .fields import (
    Family,
    IPAddress,
    IPNetwork,
    check_node_address,
    host_name_rule,
    read_address,
    read_bool,
    read_int,
    read_network,
    read_str,
)

NODE_KEYS = (
    "name",
    "public_ip",
    "public_ipv6",
    "iface",
    "mtu",
    "subnet",
    "ipv6_subnet",
    "underlay_subnet",
    "underlay_ipv6_subnet",
    "iface_addresses",
    "host_addresses",
    "public_ip_nat",
    "read",
)
DEFAULT_MTU = 1500
# Linux: IFNAMSIZ is 16 with the NUL; '/' and whitespace are refused by dev_valid_name().
_IFNAME = re.compile(r"^(?!\.{1,2}$)[^/\s:]{1,15}$")
# The smallest underlay worth carrying pods: RFC 791's 576-byte datagram.
MIN_UNDERLAY_MTU = 576
# IFLA_MTU is 32 bits, but no Ethernet device goes past a 64 KiB jumbo frame.
MAX_UNDERLAY_MTU = 65535
_NETWORK_KEYS: tuple[tuple[str, Family], ...] = (
    ("subnet", 4),
    ("ipv6_subnet", 6),
    ("underlay_subnet", 4),
    ("underlay_ipv6_subnet", 6),
)


@dataclass(frozen=True, slots=True)
class Node:
    """One host of the fleet.

    Attributes:
        public_ip, public_ipv6: the underlay addresses peers send to (flannel's
            ExtAddr / ExtV6Addr).
        mtu: the underlay interface's MTU.
        subnet, ipv6_subnet: a pinned pod subnet, or None to let podnet allocate.
        underlay_subnet, underlay_ipv6_subnet: the connected subnet of the public
            address, when known; peers inside it are on the same L2 segment.
        iface_addresses: every address `iface` holds, when known (from facts); host-gw
            refuses a public address that is not one of them (NAT), as flanneld does.
        host_addresses: every address the host holds, any interface, when known (from
            facts); a public address outside them is a typo unless `public_ip_nat`
            (podnet.validate.check_on_host).
        public_ip_nat: the user declares that the public addresses are not the host's
            own (NAT: peers reach the node at an address a router forwards).
        read: the node's host was read in this run, so what it uses now is known. Once
            any node is read, a node that is not, with neither a pin nor a lease line,
            stops the plan (adopt.check_unknown_subnets).
    """

    name: str
    public_ip: ipaddress.IPv4Address | None = None
    public_ipv6: ipaddress.IPv6Address | None = None
    iface: str | None = None
    mtu: int = DEFAULT_MTU
    subnet: ipaddress.IPv4Network | None = None
    ipv6_subnet: ipaddress.IPv6Network | None = None
    underlay_subnet: ipaddress.IPv4Network | None = None
    underlay_ipv6_subnet: ipaddress.IPv6Network | None = None
    iface_addresses: frozenset[IPAddress] | None = None
    host_addresses: frozenset[IPAddress] | None = None
    public_ip_nat: bool = False
    read: bool = False

    def public_address(self, family: int) -> IPAddress | None:
        return self.public_ip if family == 4 else self.public_ipv6

    def pinned(self, family: int) -> IPNetwork | None:
        return self.subnet if family == 4 else self.ipv6_subnet

    def underlay(self, family: int) -> IPNetwork | None:
        return self.underlay_subnet if family == 4 else self.underlay_ipv6_subnet


def parse_nodes(raw: object) -> tuple[Node, ...]:
    """Parse the inventory: a list of mappings, one per node.

    Raises:
        ValidationError: every problem of every node, each naming the node and field.

    >>> parse_nodes([{"name": "web1", "public_ip": "192.0.2.11"}])[0].public_ip
    IPv4Address('192.0.2.11')
    """
    if not isinstance(raw, Sequence) or isinstance(raw, str | bytes):
        raise ValidationError(
            [f"nodes: {type(raw).__name__} given; a list of node mappings is needed"]
        )
    problems: list[str] = []
    nodes = read_nodes(raw, problems)
    raise_if(problems)
    return nodes


def read_nodes(raw: Sequence[object], problems: list[str]) -> tuple[Node, ...]:
    """The nodes of `raw` that are valid, every problem of the others added to `problems`.

    The fleet-wide checks (podnet.validate) go on with the valid nodes, so that one run
    reports a bad field of one node with a bad pin of another.
    """
    _check_unique_names(raw, problems)
    nodes = [_parse_node(index, item, problems) for index, item in enumerate(raw)]
    parsed = [node for node in nodes if node is not None]
    _check_unique(parsed, problems)
    return tuple(parsed)


def _parse_node(index: int, raw: object, problems: list[str]) -> Node | None:
    if not isinstance(raw, Mapping):
        problems.append(f"nodes[{index}]: {raw!r} is not a mapping with name and public_ip")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        problems.append(f"nodes[{index}].name: {name!r} is not a node name; give a non-empty word")
        return None
    rule = host_name_rule(name)
    if rule is not None:
        problems.append(
            f"nodes[{index}].name: {name!r} is not a name a host can carry: {rule}; use the"
            " host's own name"
        )
        return None
    path = f"nodes[{name}]"
    before = len(problems)
    for key in raw:
        if key not in NODE_KEYS:
            problems.append(f"{path}: unknown key {key!r}; known keys: {', '.join(NODE_KEYS)}")
    public_ip = _address(raw, "public_ip", path, problems, 4)
    public_ipv6 = _address(raw, "public_ipv6", path, problems, 6)
    if public_ip is None and public_ipv6 is None and "public_ip" not in raw:
        problems.append(f"{path}.public_ip: missing; give the node's underlay address")
    iface = _iface(raw, path, problems)
    mtu = DEFAULT_MTU
    if raw.get("mtu") is not None:
        mtu = _mtu(raw["mtu"], f"{path}.mtu", problems) or mtu
    networks: dict[str, IPNetwork | None] = {
        key: _network(raw, key, path, problems, family) for key, family in _NETWORK_KEYS
    }
    for address, key, address_key in (
        (public_ip, "underlay_subnet", "public_ip"),
        (public_ipv6, "underlay_ipv6_subnet", "public_ipv6"),
    ):
        underlay = networks[key]
        if address is None and raw.get(address_key) is not None:
            continue  # the address itself is wrong and already reported; "(None)" would mislead
        if underlay is not None and (address is None or address not in underlay):
            problems.append(
                f"{path}.{key}: {underlay} does not contain the node's public address"
                f" ({address}); give the subnet of the interface that holds it"
            )
    iface_addresses = _iface_addresses(raw, path, problems)
    host_addresses = _addresses(raw, "host_addresses", path, problems)
    nat = raw.get("public_ip_nat") is not None and bool(
        read_bool(raw["public_ip_nat"], f"{path}.public_ip_nat", problems)
    )
    read = raw.get("read") is not None and bool(read_bool(raw["read"], f"{path}.read", problems))
    if len(problems) > before:
        return None
    return Node(
        name=name,
        public_ip=public_ip,  # type: ignore[arg-type]
        public_ipv6=public_ipv6,  # type: ignore[arg-type]
        iface=iface,
        mtu=mtu,
        **networks,  # type: ignore[arg-type]
        iface_addresses=iface_addresses,
        host_addresses=host_addresses,
        public_ip_nat=nat,
        read=read,
    )


def _mtu(value: object, path: str, problems: list[str]) -> int | None:
    """The underlay MTU; the fix is said, as a typo here shrinks every pod's MTU."""
    before = len(problems)
    mtu = read_int(value, path, problems, MIN_UNDERLAY_MTU, MAX_UNDERLAY_MTU)
    if len(problems) > before and "whole number" in problems[-1]:
        problems[-1] += (
            "; give the underlay interface's MTU in bytes"
            f" ({MIN_UNDERLAY_MTU}..{MAX_UNDERLAY_MTU}), or leave it out to use the interface's"
        )
    return mtu


def _iface(raw: Mapping[str, object], path: str, problems: list[str]) -> str | None:
    if raw.get("iface") is None:
        return None
    iface = read_str(raw["iface"], f"{path}.iface", problems)
    if iface is not None and not _IFNAME.match(iface):
        problems.append(
            f"{path}.iface: {iface!r} is not a Linux interface name (1-15 characters,"
            " no '/', ':' or spaces); give the underlay interface as `ip link` lists it"
        )
    return iface


def _iface_addresses(
    raw: Mapping[str, object], path: str, problems: list[str]
) -> frozenset[IPAddress] | None:
    """Addresses of either family; the interface must be named, as messages name it."""
    if raw.get("iface_addresses") is not None and raw.get("iface") is None:
        problems.append(
            f"{path}.iface_addresses: given without iface; name the interface that holds them"
        )
    return _addresses(raw, "iface_addresses", path, problems)


def _addresses(
    raw: Mapping[str, object], field: str, path: str, problems: list[str]
) -> frozenset[IPAddress] | None:
    """A list of addresses of either family, as facts list them."""
    value = raw.get(field)
    if value is None:
        return None
    key = f"{path}.{field}"
    if not isinstance(value, Sequence) or isinstance(value, str | bytes):
        owner = "the interface's" if field == "iface_addresses" else "the host's"
        problems.append(f"{key}: {value!r} is not a list of {owner} addresses")
        return None
    addresses: set[IPAddress] = set()
    for index, item in enumerate(value):
        try:
            if not isinstance(item, str):
                raise ValueError(item)
            addresses.add(ipaddress.ip_address(item.strip()))
        except ValueError:
            problems.append(f"{key}[{index}]: {item!r} is not an IP address")
    return frozenset(addresses)


def _address(
    raw: Mapping[str, object], key: str, path: str, problems: list[str], family: Family
) -> IPAddress | None:
    value = raw.get(key)
    if value is None:
        return None
    before = len(problems)
    address = read_address(value, f"{path}.{key}", problems, family)
    _add_fix(problems, before, "give the address peers reach the node at")
    if address is not None and not check_node_address(address, f"{path}.{key}", problems):
        return None
    return address


def _network(
    raw: Mapping[str, object], key: str, path: str, problems: list[str], family: Family
) -> IPNetwork | None:
    value = raw.get(key)
    if value is None:
        return None
    before = len(problems)
    network = read_network(value, f"{path}.{key}", problems, family)
    _add_fix(problems, before, "pin a subnet of the network (address/prefix), or drop it")
    return network


def _add_fix(problems: list[str], before: int, fix: str) -> None:
    """Add the fix to a reader's problem that says none (only the rule)."""
    if len(problems) > before and ";" not in problems[-1]:
        problems[-1] += f"; {fix}"


def _check_unique_names(raw: Sequence[object], problems: list[str]) -> None:
    """Checked on the raw list so that a duplicate is reported even when a copy is invalid."""
    seen: set[str] = set()
    for item in raw:
        name = item.get("name") if isinstance(item, Mapping) else None
        if not isinstance(name, str):  # reported by _parse_node; may be unhashable (a list)
            continue
        if name in seen:
            problems.append(
                f"nodes[{name}].name: {name!r} appears twice; node names must be unique"
            )
        seen.add(name)


def _check_unique(nodes: Sequence[Node], problems: list[str]) -> None:
    """Public addresses identify a node on the underlay: two nodes may not share one."""
    for label, family in (("public_ip", 4), ("public_ipv6", 6)):
        seen: dict[IPAddress, str] = {}
        for node in nodes:
            value = node.public_address(family)
            if value is None:
                continue
            if value in seen:
                problems.append(
                    f"nodes[{node.name}].{label}: {str(value)!r} is also the {label} of"
                    f" {seen[value]}; each node needs its own"
                )
            else:
                seen[value] = node.name
