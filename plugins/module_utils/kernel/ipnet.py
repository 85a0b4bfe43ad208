"""IP addresses and CIDRs as plain integers, parsed with inet_pton.

A host of a 5,000-node fleet checks 5,000 peer subnets and public IPs on every run;
`ipaddress.ip_network` costs ~30 us each (its pure-Python octet parser), inet_pton plus
int.from_bytes ~2 us. Text is canonical: what inet_ntop prints, which is also what the
kernel's dumps are turned into, so keys built from either side compare equal.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass

AF_BY_VERSION = {4: socket.AF_INET, 6: socket.AF_INET6}
# netlink speaks address families (AF_INET, AF_INET6); podnet's parameters and keys speak
# versions (4, 6). The conversion happens where a netlink message is read or written.
VERSION_BY_AF: dict[int, int] = {socket.AF_INET: 4, socket.AF_INET6: 6}
BITS = {4: 32, 6: 128}


@dataclass(frozen=True)
class Cidr:
    """A network: version 4|6, network address as int and as text, prefix length.

    >>> net = parse_cidr("10.244.0.0/16")
    >>> str(net), net.contains(parse_ip("10.244.3.1")[1])
    ('10.244.0.0/16', True)
    >>> parse_cidr("10.244.3.0/24").subnet_of(net), parse_cidr("10.245.0.0/24").subnet_of(net)
    (True, False)
    """

    version: int
    value: int
    prefixlen: int
    address: str

    def __str__(self) -> str:
        return f"{self.address}/{self.prefixlen}"

    @property
    def max_prefixlen(self) -> int:
        return BITS[self.version]

    @property
    def last(self) -> int:
        """The highest address inside, as int."""
        return self.value | ((1 << (BITS[self.version] - self.prefixlen)) - 1)

    def contains(self, value: int) -> bool:
        return value >> (BITS[self.version] - self.prefixlen) == self.value >> (
            BITS[self.version] - self.prefixlen
        )

    def subnet_of(self, other: Cidr) -> bool:
        return (
            self.version == other.version
            and self.prefixlen >= other.prefixlen
            and other.contains(self.value)
        )


class HostBitsError(ValueError):
    """A CIDR with bits set right of the prefix; `suggestion` is the network it meant."""

    def __init__(self, text: str, suggestion: Cidr) -> None:
        self.suggestion = suggestion
        super().__init__(f"{text} has host bits set")


def parse_ip(text: str) -> tuple[int, int, str]:
    """(version, value, canonical text); ValueError if `text` is not an IP address.

    >>> parse_ip("10.0.0.1"), parse_ip("fd00:0:0::1")[::2]
    ((4, 167772161, '10.0.0.1'), (6, 'fd00::1'))
    """
    version = 6 if ":" in text else 4
    try:
        packed = socket.inet_pton(AF_BY_VERSION[version], text)
    except OSError:
        raise ValueError(f"{text!r} is not an IP address") from None
    return version, int.from_bytes(packed, "big"), socket.inet_ntop(AF_BY_VERSION[version], packed)


def parse_cidr(text: str) -> Cidr:
    """A network from `address/prefix`; HostBitsError if the address is not its start."""
    address, slash, length = text.partition("/")
    if not slash or not length.isdigit():
        raise ValueError(f"{text!r} is not a CIDR (address/prefix)")
    version, value, canonical = parse_ip(address)
    prefixlen = int(length)
    bits = BITS[version]
    if prefixlen > bits:
        raise ValueError(f"{text!r}: prefix length {prefixlen} exceeds {bits}")
    network = value >> (bits - prefixlen) << (bits - prefixlen)
    if network != value:
        raise HostBitsError(text, Cidr(version, network, prefixlen, format_ip(version, network)))
    return Cidr(version, value, prefixlen, canonical)


def format_ip(version: int, value: int) -> str:
    return socket.inet_ntop(AF_BY_VERSION[version], value.to_bytes(BITS[version] // 8, "big"))


class Inside:
    """Membership in `network` for address and route text as the kernel's dumps give it
    (None: no network, nothing is inside). A 5,000-peer host asks this 15,000 times per
    run, so it compares shifted integers and builds no Cidr.

    >>> inside = Inside(parse_cidr("10.244.0.0/16"))
    >>> inside.address("10.244.3.1"), inside.address("fd00::1"), inside.address(None)
    (True, False, False)
    >>> inside.route("10.244.3.0/24"), inside.route("10.0.0.0/8"), inside.route("10.245.0.0/24")
    (True, False, False)
    """

    def __init__(self, network: Cidr | None) -> None:
        self.network = network
        if network is not None:
            self.af = AF_BY_VERSION[network.version]
            self.shift = network.max_prefixlen - network.prefixlen
            self.prefix = network.value >> self.shift

    def address(self, text: str | None) -> bool:
        if self.network is None or text is None:
            return False
        try:
            packed = socket.inet_pton(self.af, text)
        except OSError:  # the other family
            return False
        return int.from_bytes(packed, "big") >> self.shift == self.prefix

    def route(self, dst: str) -> bool:
        """A route's `dst/len` lies inside: its prefix is at least as long, its start inside."""
        if self.network is None:
            return False
        text, _slash, plen = dst.partition("/")
        return int(plen) >= self.network.prefixlen and self.address(text)
