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
