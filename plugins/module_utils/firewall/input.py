"""What the masquerade module is asked for: per-family facts and the checked `networks` list.

IPv4 and IPv6 share every code path; a `Family` carries the few things that differ (tool
names, the multicast range the masquerade rule skips, the nftables family and table name).
`parse_networks` checks the user's list and `prepare` the whole request (and that the tools
it needs are installed); both report every problem at once, each naming the field, the
value and the fix, without changing their input.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Union

from ..core.errors import PodnetError

if TYPE_CHECKING:  # an alias for annotations only
    # Union, not `X | Y`: an alias is an expression, and hosts run Python 3.9.
    IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class Tools(Protocol):
    """What validation asks of the host: where a tool is (None: not installed)."""

    def path(self, tool: str) -> str | None: ...


IPTABLES = "iptables"
NFTABLES = "nftables"


@dataclass(frozen=True)
class Family:
    """What differs between IPv4 and IPv6 in flannel's rules.

    Attributes:
        version: 4 or 6.
        label: "IPv4" or "IPv6", for messages.
        iptables: the iptables command of the family; `-save`/`-restore` are derived.
        multicast: the destination flannel's masquerade rule excludes (7.1 of the reference).
        nft_family: the nftables family of flannel's table, also its address keyword.
        nft_table: flannel's nftables table name.
    """

    version: int
    label: str
    iptables: str
    multicast: str
    nft_family: str
    nft_table: str

    @property
    def iptables_save(self) -> str:
        return self.iptables + "-save"

    @property
    def iptables_restore(self) -> str:
        return self.iptables + "-restore"


IPV4 = Family(4, "IPv4", "iptables", "224.0.0.0/4", "ip", "flannel-ipv4")
IPV6 = Family(6, "IPv6", "ip6tables", "ff00::/8", "ip6", "flannel-ipv6")
FAMILIES: tuple[Family, ...] = (IPV4, IPV6)

# Debian package that ships each tool, for "not installed" messages.
PACKAGE_OF_TOOL = {
    "iptables": "iptables",
    "iptables-save": "iptables",
    "iptables-restore": "iptables",
    "ip6tables": "iptables",
    "ip6tables-save": "iptables",
    "ip6tables-restore": "iptables",
    "nft": "nftables",
}


@dataclass(frozen=True)
class FamilyNetwork:
    """One family's input: the cluster Network and this node's pod subnet inside it."""

    family: Family
    network: IPNetwork
    subnet: IPNetwork


class FirewallInputError(PodnetError):
    """Bad input; `problems` lists every one, each a complete sentence with its fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid input: " + "; ".join(problems), problems)


@dataclass(frozen=True)
class MasqueradeRequest:
    """The module's options, checked."""

    state: str
    backend: str
    networks: tuple[FamilyNetwork, ...]
    ip_masq: bool = True
    forward: bool = True
    random_fully: bool = True

    def network_of(self, family: Family) -> FamilyNetwork | None:
        for net in self.networks:
            if net.family == family:
                return net
        return None

    def wants(self, backend: str, family: Family) -> bool:
        """Whether anything of `backend` should exist for `family`."""
        return (
            self.state == "present"
            and self.backend == backend
            and self.network_of(family) is not None
            and (self.ip_masq or self.forward)
        )


def prepare(params: Mapping[str, Any], host: Tools) -> MasqueradeRequest:
    """Check the options and the tools they need; raise once with every problem.

    Raises:
        FirewallInputError: bad networks, or a needed tool not installed.
    """
    networks, problems = parse_networks(params.get("networks") or [])
    request = MasqueradeRequest(
        state=params["state"],
        backend=params["backend"],
        networks=networks,
        ip_masq=params["ip_masq"],
        forward=params["forward"],
        random_fully=params["random_fully"],
    )
    if request.state == "present" and not params.get("networks"):
        problems.append(
            "networks: empty, but state is present: give the cluster Network and this "
            "node's subnet for each enabled family, or state: absent"
        )
    problems += missing_tools(f"backend {request.backend}", required_tools(request.wants), host)
    if problems:
        raise FirewallInputError(problems)
    return request


def family_tools(family: Family) -> list[str]:
    return [family.iptables, family.iptables_save, family.iptables_restore]


def required_tools(wants: Callable[[str, Family], bool]) -> list[str]:
    """The tools a request needs: `wants(mode, family)` says what it asks for."""
    tools: list[str] = []
    for family in FAMILIES:
        if wants(IPTABLES, family):
            tools.extend(family_tools(family))
        if wants(NFTABLES, family) and "nft" not in tools:
            tools.append("nft")
    return tools


def missing_tools(who: str, tools: list[str], host: Tools) -> list[str]:
    """A problem, with its package, for each of `tools` not installed; `who` needs them."""
    problems = []
    for tool in tools:
        if host.path(tool) is None:
            package = PACKAGE_OF_TOOL[tool]
            problems.append(
                f"{who} needs {tool}, which is not installed: install the Debian package "
                f"{package} (apt-get install {package})"
            )
    return problems


def _parse_cidr(path: str, value: Any, problems: list[str]) -> IPNetwork | None:
    try:
        return ipaddress.ip_network(str(value), strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            problems.append(f"{path}: {value!r} is not an IPv4 or IPv6 CIDR ({exc})")
        else:
            problems.append(f"{path}: {value!r} has host bits set: use {loose}")
    return None


def parse_networks(raw: list[dict[str, Any]]) -> tuple[tuple[FamilyNetwork, ...], list[str]]:
    """Check the `networks` option; return the good entries and every problem found.

    Problems are returned rather than raised so that the caller can add its own (missing
    tools, say) and fail once with all of them.

    >>> nets, problems = parse_networks([{"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}])
    >>> (nets[0].family.label, str(nets[0].subnet), problems)
    ('IPv4', '10.244.1.0/24', [])
    >>> parse_networks([{"network": "10.244.0.0/16", "subnet": "10.245.1.0/24"}])[1]
    ["networks[0].subnet: 10.245.1.0/24 is not inside network 10.244.0.0/16: use this node's \
pod subnet from the plan (its FLANNEL_SUBNET)"]
    """
    problems: list[str] = []
    found: dict[int, FamilyNetwork] = {}
    for index, entry in enumerate(raw):
        where = f"networks[{index}]"
        network = _parse_cidr(f"{where}.network", entry.get("network"), problems)
        subnet = _parse_cidr(f"{where}.subnet", entry.get("subnet"), problems)
        if network is None or subnet is None:
            continue
        if network.version != subnet.version:
            problems.append(
                f"{where}: network {network} is IPv{network.version} but subnet {subnet} is "
                f"IPv{subnet.version}: give one entry per family, each with its own subnet"
            )
            continue
        if not subnet.subnet_of(network):  # type: ignore[arg-type]
            problems.append(
                f"{where}.subnet: {subnet} is not inside network {network}: use this node's "
                "pod subnet from the plan (its FLANNEL_SUBNET)"
            )
            continue
        family = IPV4 if network.version == 4 else IPV6
        if family.version in found:
            problems.append(
                f"{where}: a second {family.label} entry ({network}) after "
                f"{found[family.version].network}: give one entry per family "
                "(IPv4 and/or IPv6)"
            )
            continue
        found[family.version] = FamilyNetwork(family, network, subnet)
    ordered = tuple(found[f.version] for f in FAMILIES if f.version in found)
    return ordered, problems
