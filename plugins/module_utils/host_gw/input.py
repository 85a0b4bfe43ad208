"""The host_gw module's parameters, checked: every problem at once, before any kernel call.

Pure: a mapping in, `HostGwParams` out, or `HostGwInputError` listing each problem as
`<field>: <value> <rule>[; <fix>]`. The input is never modified.

A peer dict may carry keys this module does not use (the role passes the same peer table
to vxlan, whose peers also have `vtep_mac`); they are ignored, not rejected.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.errors import SHOWN, PodnetError, listing
from ..kernel.ipnet import AF_BY_VERSION, Cidr, HostBitsError, parse_cidr, parse_ip
from ..names import IFNAME_MAX

PEER_KEYS = ("name", "subnet", "public_ip")
DEV_REQUIRED = "dev: required when state=present (the underlay interface)"


class HostGwError(PodnetError):
    """Anything host_gw reports to the user. `problems`: one line per problem."""

    def __init__(self, problems: Iterable[str], headline: str) -> None:
        listed = list(problems)
        super().__init__(listing(headline, listed, SHOWN), listed)


class HostGwInputError(HostGwError, ValueError):
    """Bad module input."""

    def __init__(self, problems: Iterable[str]) -> None:
        super().__init__(problems, "invalid host_gw parameters")


@dataclass(frozen=True)
class HostGwPeer:
    """Another node: its pod subnet is routed via its public IP (canonical text)."""

    name: str
    subnet: Cidr
    public_ip: str


@dataclass(frozen=True)
class HostGwParams:
    state: str  # present | absent
    family: int  # 4 | 6
    network: Cidr
    dev: str | None
    peers: tuple[HostGwPeer, ...]

    @property
    def af(self) -> int:
        """The netlink address family (AF_INET, AF_INET6) of `family`."""
        return AF_BY_VERSION[self.family]


class _Fields:
    """Parses one field at a time, noting what is wrong instead of raising, so the caller
    can go on and report every problem in one error."""

    def __init__(self, family: int) -> None:
        self.family = family
        self.problems: list[str] = []

    def cidr(self, where: str, value: Any) -> Cidr | None:
        try:
            parsed = parse_cidr(str(value))
        except HostBitsError as exc:
            self._wrong(where, value, f"has host bits set; did you mean {exc.suggestion}?")
            return None
        except ValueError:
            self._wrong(where, repr(value), "is not a CIDR (address/prefix, e.g. 10.244.0.0/16)")
            return None
        if parsed.version != self.family:
            self._wrong(where, value, f"is not an IPv{self.family} CIDR (family={self.family})")
            return None
        return parsed

    def ip(self, where: str, value: Any) -> tuple[int, str] | None:
        """(value as int, canonical text) of an address of the family."""
        try:
            version, number, text = parse_ip(str(value))
        except ValueError:
            self._wrong(where, repr(value), "is not an IP address")
            return None
        if version != self.family:
            self._wrong(where, value, f"is not an IPv{self.family} address (family={self.family})")
            return None
        return number, text

    def _wrong(self, where: str, shown: Any, rule: str) -> None:
        self.problems.append(f"{where}: {shown} {rule}")


def validate_host_gw(args: Mapping[str, Any]) -> HostGwParams:
    """Check the module's arguments; raise HostGwInputError listing every problem.

    >>> p = validate_host_gw({"network": "10.244.0.0/16", "dev": "eth0", "peers": [
    ...     {"name": "n2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12", "x": 1}]})
    >>> p.state, p.family, str(p.network), [(q.name, q.public_ip) for q in p.peers]
    ('present', 4, '10.244.0.0/16', [('n2', '192.0.2.12')])
    """
    state = args.get("state") or "present"
    family = args.get("family") or 4
    checks = _Fields(family if family in (4, 6) else 4)
    if state not in ("present", "absent"):
        checks.problems.append(f"state: {state!r} is not present or absent")
    if family not in (4, 6):
        checks.problems.append(f"family: {family!r} is not 4 or 6")
    raw_network = args.get("network")
    network = None
    if raw_network in (None, ""):
        checks.problems.append(
            "network: required: the cluster network of the family bounds the routes "
            "host_gw owns (both states)"
        )
    else:
        network = checks.cidr("network", raw_network)
    dev = args.get("dev") or None
    present = state == "present"
    if present and dev is None:
        checks.problems.append(DEV_REQUIRED)
    if dev is not None and (len(dev) > IFNAME_MAX or "/" in dev or dev.strip() != dev):
        checks.problems.append(
            f"dev: {dev!r} is not an interface name (at most {IFNAME_MAX} characters, "
            "no '/' or spaces)"
        )
    # state=absent deletes everything owned in `network`, so peers do not matter to it.
    peers = _peers(checks, args.get("peers") or [], network) if present else []
    # A missing or bad network is one of the problems (checks.cidr lists it).
    if checks.problems or network is None:
        raise HostGwInputError(checks.problems)
    return HostGwParams(state, family, network, dev, tuple(peers))


def _peers(checks: _Fields, raw: Iterable[Any], network: Cidr | None) -> list[HostGwPeer]:
    """Each peer on its own (unknown keys ignored), then across peers: one subnet each."""
    found: list[HostGwPeer] = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping):
            checks.problems.append(
                f"peers[{index}]: {item!r} is not a dict with {', '.join(PEER_KEYS)}"
            )
            continue
        where = f"peers[{item['name']}]" if item.get("name") else f"peers[{index}]"
        missing = [key for key in PEER_KEYS if item.get(key) in (None, "")]
        if missing:
            checks.problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        subnet = checks.cidr(f"{where}.subnet", item["subnet"])
        gateway = checks.ip(f"{where}.public_ip", item["public_ip"])
        if subnet is None or gateway is None or network is None:
            continue
        if not subnet.subnet_of(network):
            checks.problems.append(
                f"{where}.subnet: {subnet} is not inside network {network}: every node's "
                "subnet comes from the cluster network of the family"
            )
            continue
        if network.contains(gateway[0]):
            checks.problems.append(
                f"{where}.public_ip: {gateway[1]} lies inside network {network}; it must be "
                "the peer's underlay address"
            )
            continue
        found.append(HostGwPeer(str(item["name"]), subnet, gateway[1]))
    checks.problems.extend(overlapping_subnets(found))
    checks.problems.extend(repeated_names(found))
    return found


def overlapping_subnets(peers: Iterable[HostGwPeer]) -> list[str]:
    """One problem per peer whose subnet overlaps an earlier one (in address order).

    After sorting by start address, a subnet overlaps some earlier one exactly when it
    starts at or before the highest end seen so far: O(n log n) for a 5k-node fleet.

    >>> wide = HostGwPeer("a", parse_cidr("10.0.0.0/16"), "192.0.2.1")
    >>> inner = HostGwPeer("b", parse_cidr("10.0.2.0/24"), "192.0.2.2")
    >>> [problem.split(";")[0] for problem in overlapping_subnets([inner, wide])]
    ["peers[b].subnet: 10.0.2.0/24 overlaps peers[a]'s 10.0.0.0/16"]
    """
    problems = []
    widest: HostGwPeer | None = None  # the peer whose subnet ends highest so far
    for peer in sorted(peers, key=lambda p: (p.subnet.value, p.subnet.prefixlen)):
        if widest is not None and peer.subnet.value <= widest.subnet.last:
            problems.append(
                f"peers[{peer.name}].subnet: {peer.subnet} overlaps peers[{widest.name}]'s "
                f"{widest.subnet}; every node needs its own subnet"
            )
        if widest is None or peer.subnet.last > widest.subnet.last:
            widest = peer
    return problems


def repeated_names(peers: Iterable[HostGwPeer]) -> list[str]:
    """Messages name peers, so two peers of one name would make them ambiguous."""
    first: dict[str, HostGwPeer] = {}
    problems = []
    for peer in peers:
        earlier = first.setdefault(peer.name, peer)
        if earlier is not peer:
            problems.append(
                f"peers[{peer.name}].name: {peer.name} names two peers ({earlier.subnet} and "
                f"{peer.subnet}); every node has its own name"
            )
    return problems
