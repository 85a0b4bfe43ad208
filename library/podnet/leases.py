"""The lease file: which node holds which pod subnet.

It is the lock file of the allocation, committed with the inventory and read by
people, so its data form is a plain mapping sorted by node name: one CIDR per
node, or a list of two (IPv4 first) in a dual-stack fleet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ValidationError, raise_if
from .fields import IPNetwork


@dataclass(frozen=True, slots=True)
class Lease:
    """The subnets one node holds, per family."""

    subnet: ipaddress.IPv4Network | None = None
    ipv6_subnet: ipaddress.IPv6Network | None = None

    def of(self, family: int) -> IPNetwork | None:
        return self.subnet if family == 4 else self.ipv6_subnet


def parse_leases(raw: object) -> dict[str, Lease]:
    """Parse lease-file data (decoded YAML). An empty file (None) holds no leases.

    Raises:
        ValidationError: every malformed entry, naming the node and the value.

    >>> parse_leases({"web1": "10.244.1.0/24"})["web1"].subnet
    IPv4Network('10.244.1.0/24')
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValidationError(
            [f"leases: {type(raw).__name__} given; a mapping of node name to subnet is needed"]
        )
    problems: list[str] = []
    leases: dict[str, Lease] = {}
    for name, value in raw.items():
        path = f"leases[{name}]"
        items = value if isinstance(value, list) else [value]
        found: dict[int, IPNetwork] = {}
        for item in items:
            try:
                network = ipaddress.ip_network(str(item), strict=True)
            except ValueError:
                problems.append(
                    f"{path}: {item!r} is not a subnet in CIDR form; fix or delete the line"
                )
                continue
            if network.version in found:
                problems.append(
                    f"{path}: two IPv{network.version} subnets"
                    f" ({found[network.version]}, {network}); keep the one the node uses"
                )
            found[network.version] = network
        leases[str(name)] = Lease(found.get(4), found.get(6))  # type: ignore[arg-type]
    raise_if(problems)
    return leases


def leases_to_data(leases: Mapping[str, Lease]) -> dict[str, str | list[str]]:
    """The lease file's data form, sorted by node name.

    >>> leases_to_data({"b": Lease(ipaddress.ip_network("10.244.2.0/24")), "a": Lease()})
    {'b': '10.244.2.0/24'}
    """
    data: dict[str, str | list[str]] = {}
    for name in sorted(leases):
        subnets = [str(s) for s in (leases[name].subnet, leases[name].ipv6_subnet) if s is not None]
        if subnets:
            data[name] = subnets[0] if len(subnets) == 1 else subnets
    return data
