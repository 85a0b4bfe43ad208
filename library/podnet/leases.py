"""The lease file: which node holds which pod subnet.

It is the lock file of the allocation, committed with the inventory and read by
people, so its data form is a plain mapping sorted by node name: one CIDR per
node, or a list of two (IPv4 first) in a dual-stack fleet.

Like flannel's lease, which carries the node's PublicIP, an entry may also record
where the node was last seen on the underlay (public address, underlay MTU) and,
with WireGuard, its public key (flannel's backend-data; the private key never leaves
the host), and with VXLAN a VTEP MAC that is not podnet's derived one (flannel's
random MAC, kept when a running flannel is adopted). Then the entry is a mapping.
Playbooks record it so that a run limited to some hosts (`--limit`) still knows every
peer's address, key, MAC and the fleet's smallest MTU without reaching the others.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ValidationError, raise_if
from .fields import IPNetwork, is_wireguard_key, read_address, read_int, read_mac
from .nodes import MAX_UNDERLAY_MTU, MIN_UNDERLAY_MTU

# The mapping form's keys, in the order the file lists them.
LEASE_KEYS = (
    "subnet",
    "ipv6_subnet",
    "public_ip",
    "public_ipv6",
    "mtu",
    "vtep_mac",
    "vtep_mac_v6",
    "wireguard_public_key",
)


@dataclass(frozen=True, slots=True)
class Lease:
    """The subnets one node holds, per family, and where it was last seen.

    Attributes:
        public_ip, public_ipv6, mtu: the node's underlay address(es) and underlay MTU
            when they were last known (None when never recorded).
        wireguard_public_key: the node's WireGuard public key, when it has one.
        vtep_mac, vtep_mac_v6: the MAC of the node's VXLAN device per family, when it is
            not the one podnet derives from the name (an adopted flannel's random MAC);
            it is then used instead of the derived one.
    """

    subnet: ipaddress.IPv4Network | None = None
    ipv6_subnet: ipaddress.IPv6Network | None = None
    public_ip: ipaddress.IPv4Address | None = None
    public_ipv6: ipaddress.IPv6Address | None = None
    mtu: int | None = None
    wireguard_public_key: str | None = None
    vtep_mac: str | None = None
    vtep_mac_v6: str | None = None

    def of(self, family: int) -> IPNetwork | None:
        return self.subnet if family == 4 else self.ipv6_subnet

    def mac_of(self, family: int) -> str | None:
        return self.vtep_mac if family == 4 else self.vtep_mac_v6

    @property
    def has_underlay(self) -> bool:
        return (self.public_ip, self.public_ipv6, self.mtu) != (None, None, None)

    @property
    def is_record(self) -> bool:
        """Whether the file needs the mapping form (more than subnets to say)."""
        return (
            self.has_underlay
            or self.wireguard_public_key is not None
            or (self.vtep_mac, self.vtep_mac_v6) != (None, None)
        )


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
        if isinstance(value, Mapping):
            leases[str(name)] = _parse_record(path, value, problems)
            continue
        found = _parse_subnets(path, value if isinstance(value, list) else [value], problems)
        leases[str(name)] = Lease(found.get(4), found.get(6))  # type: ignore[arg-type]
    raise_if(problems)
    return leases


def _parse_subnets(path: str, items: list[object], problems: list[str]) -> dict[int, IPNetwork]:
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
    return found


def _parse_record(path: str, raw: Mapping[object, object], problems: list[str]) -> Lease:
    for key in raw:
        if key not in LEASE_KEYS:
            problems.append(f"{path}: unknown key {key!r}; known keys: {', '.join(LEASE_KEYS)}")
    subnets = [raw[key] for key in ("subnet", "ipv6_subnet") if raw.get(key) is not None]
    found = _parse_subnets(path, subnets, problems)
    public_ip = raw.get("public_ip")
    if public_ip is not None:
        public_ip = read_address(public_ip, f"{path}.public_ip", problems, 4)
    public_ipv6 = raw.get("public_ipv6")
    if public_ipv6 is not None:
        public_ipv6 = read_address(public_ipv6, f"{path}.public_ipv6", problems, 6)
    mtu = raw.get("mtu")
    if mtu is not None:
        mtu = read_int(mtu, f"{path}.mtu", problems, MIN_UNDERLAY_MTU, MAX_UNDERLAY_MTU)
    key = raw.get("wireguard_public_key")
    if key is not None and not (isinstance(key, str) and is_wireguard_key(key)):
        problems.append(
            f"{path}.wireguard_public_key: {key!r} is not a base64 WireGuard key of 32 bytes;"
            " delete the line (the next run records the node's key again)"
        )
        key = None
    macs = {
        name: _read_recorded_mac(raw.get(name), f"{path}.{name}", problems)
        for name in ("vtep_mac", "vtep_mac_v6")
    }
    return Lease(
        found.get(4),  # type: ignore[arg-type]
        found.get(6),  # type: ignore[arg-type]
        public_ip,  # type: ignore[arg-type]
        public_ipv6,  # type: ignore[arg-type]
        mtu,
        key,
        vtep_mac=macs["vtep_mac"],
        vtep_mac_v6=macs["vtep_mac_v6"],
    )


def _read_recorded_mac(value: object, path: str, problems: list[str]) -> str | None:
    if value is None:
        return None
    found: list[str] = []
    mac = read_mac(value, path, found)
    # Without the line the node falls back to its device's MAC, then to the derived one.
    problems.extend(f"{problem}; fix or delete the line" for problem in found)
    return mac


def leases_to_data(leases: Mapping[str, Lease]) -> dict[str, object]:
    """The lease file's data form, sorted by node name.

    >>> leases_to_data({"b": Lease(ipaddress.ip_network("10.244.2.0/24")), "a": Lease()})
    {'b': '10.244.2.0/24'}
    >>> leases_to_data({"c": Lease(ipaddress.ip_network("10.244.3.0/24"), mtu=1500)})
    {'c': {'subnet': '10.244.3.0/24', 'mtu': 1500}}
    """
    data: dict[str, object] = {}
    for name in sorted(leases):
        lease = leases[name]
        if lease.is_record:
            values = zip(LEASE_KEYS, (getattr(lease, key) for key in LEASE_KEYS), strict=True)
            data[name] = {
                key: value if isinstance(value, int) else str(value)
                for key, value in values
                if value is not None
            }
            continue
        subnets = [str(s) for s in (lease.subnet, lease.ipv6_subnet) if s is not None]
        if subnets:
            data[name] = subnets[0] if len(subnets) == 1 else subnets
    return data
