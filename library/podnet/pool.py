"""The pool of pod subnets of one address family: Network cut into SubnetLen pieces.

Subnets are handled by index (0 = the first SubnetLen block of Network) so that
allocation is integer arithmetic: an IPv6 pool of 2**32 subnets costs no more
than an IPv4 one of 255.
"""

from __future__ import annotations

from dataclasses import dataclass

from .fields import IPAddress, IPNetwork


@dataclass(frozen=True, slots=True)
class SubnetPool:
    """Network, SubnetLen and the inclusive index range [first, last] podnet may hand out.

    >>> import ipaddress
    >>> pool = SubnetPool(ipaddress.ip_network("10.244.0.0/16"), 24, 1, 255)
    >>> pool.size, str(pool.subnet(1)), pool.index_of(ipaddress.ip_network("10.244.7.0/24"))
    (255, '10.244.1.0/24', 7)
    """

    network: IPNetwork
    subnet_len: int
    first: int
    last: int

    @property
    def family(self) -> int:
        return self.network.version

    @property
    def size(self) -> int:
        """How many subnets lie in [SubnetMin, SubnetMax]."""
        return max(0, self.last - self.first + 1)

    @property
    def _host_bits(self) -> int:
        return self.network.max_prefixlen - self.subnet_len

    def subnet(self, index: int) -> IPNetwork:
        """The subnet at `index` (0 is the network's first SubnetLen block)."""
        start = int(self.network.network_address) + (index << self._host_bits)
        # Build with the pool's own class: ip_network(int) would guess IPv4 for any
        # value below 2**32, which a pool inside ::/96 produces.
        return type(self.network)((start, self.subnet_len))

    def address(self, index: int) -> IPAddress:
        """The network address of the subnet at `index` (SubnetMin/SubnetMax are given so)."""
        start = int(self.network.network_address) + (index << self._host_bits)
        return type(self.network.network_address)(start)

    def index_of(self, subnet: IPNetwork) -> int | None:
        """Index of `subnet` in this pool, or None when it is not one of its blocks."""
        if (
            subnet.version != self.family
            or subnet.prefixlen != self.subnet_len
            or not subnet.subnet_of(self.network)  # type: ignore[arg-type]
        ):
            return None
        offset = int(subnet.network_address) - int(self.network.network_address)
        return offset >> self._host_bits

    def index_in_range(self, subnet: IPNetwork) -> int | None:
        """Index of `subnet` when it is one of the blocks in [SubnetMin, SubnetMax], else None."""
        index = self.index_of(subnet)
        return index if index is not None and self.first <= index <= self.last else None

    def describe_range(self) -> str:
        """SubnetMin..SubnetMax as addresses, for messages."""
        return f"{self.address(self.first)}..{self.address(self.last)}"
