"""The vxlan module's parameters, checked: every problem at once, before any kernel call.

Pure: a mapping in, `VxlanParams` out, or `VxlanInputError` listing each problem as
`<field>: <value> <rule>[; <fix>]` (the field, the value, the rule and the fix). The input
is never modified. What only the host can reveal (a missing `dev`, an MTU the underlay
cannot carry) is checked by `want.plan_vxlan`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import listing
from ..kernel.ipnet import AF_BY_VERSION, Cidr, HostBitsError, parse_cidr, parse_ip
from ..names import IFNAME_MAX, vxlan_ifname
from .state import VxlanError

# flannel-v6.<VNI> fits VNIs up to 9999 in a device name, flannel.<VNI> up to 9999999.
# Below 1280 the kernel disables IPv6 on a device (RFC 8200 minimum link MTU).
IPV6_MIN_MTU = 1280
_MAC = re.compile(r"^[0-9a-f]{2}([:-])[0-9a-f]{2}(\1[0-9a-f]{2}){4}$")
PEER_KEYS = ("name", "subnet", "public_ip", "vtep_mac")
PEER_TABLE_LINE = "one line per peer: " + " ".join(PEER_KEYS)


class VxlanInputError(VxlanError, ValueError):
    """Bad module input: every problem found, each naming the field, value and fix."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(listing("invalid vxlan parameters", problems), problems)


@dataclass(frozen=True)
class Peer:
    name: str
    subnet: Cidr
    public_ip: str
    vtep_mac: str


@dataclass(frozen=True)
class VxlanParams:
    """Validated parameters; addresses canonical (inet_ntop's text, lower-case MACs)."""

    state: str
    family: int  # 4 | 6, as the module option
    vni: int
    port: int  # 0: not sent, the kernel default applies
    gbp: bool
    learning: bool
    direct_routing: bool
    dev: str | None = None
    local: str | None = None
    mtu: int | None = None
    vtep_mac: str | None = None
    subnet: Cidr | None = None
    network: Cidr | None = None
    peers: tuple[Peer, ...] = ()

    @property
    def ifname(self) -> str:
        """flanneld's device names: flannel.<VNI> and flannel-v6.<VNI>."""
        return vxlan_ifname(self.vni, self.family)

    @property
    def af(self) -> int:
        """The netlink address family (AF_INET, AF_INET6) of `family`."""
        return AF_BY_VERSION[self.family]


def missing_problem(key: str) -> str:
    """The problem of a field that state=present requires and the input lacks."""
    return f"{key}: required when state=present"


# --- validation ------------------------------------------------------------------------


def validate_params(args: Mapping[str, Any]) -> VxlanParams:
    """Check the module's arguments; raise VxlanInputError listing every problem.

    >>> p = validate_params({"state": "absent", "vni": 1, "family": 4})
    >>> p.ifname, p.network
    ('flannel.1', None)
    """
    problems: list[str] = []
    state = args.get("state") or "present"
    family = args.get("family") or 4
    if family not in (4, 6):
        problems.append(f"family: {family!r} is not 4 or 6")
        family = 4
    vni = args.get("vni", 1)
    if not isinstance(vni, int) or not 0 <= vni < 1 << 24:
        problems.append(f"vni: {vni!r} is out of range: a VXLAN ID is 24 bits (0..16777215)")
    else:
        name = vxlan_ifname(vni, family)
        if len(name) > IFNAME_MAX:
            problems.append(
                f"vni: {vni} makes the device name {name}, longer than the kernel's "
                f"{IFNAME_MAX} characters; use a smaller VNI"
            )
    port = args.get("port") or 0
    if not isinstance(port, int) or not 0 <= port <= 65535:
        problems.append(f"port: {port!r} is not a UDP port (0..65535; 0 = kernel default 8472)")
    network = _network(problems, "network", args.get("network"), family)
    present = state == "present"
    if present:
        required = ("dev", "local", "mtu", "vtep_mac", "subnet", "network")
        missing = [key for key in required if args.get(key) in (None, "")]
        problems.extend(missing_problem(key) for key in missing)
    local = _address(problems, "local", args.get("local"), family)
    vtep_mac = _mac(problems, "vtep_mac", args.get("vtep_mac"))
    subnet = _network(problems, "subnet", args.get("subnet"), family)
    if subnet is not None and network is not None and not subnet.subnet_of(network):
        problems.append(
            f"subnet: {subnet} is not inside network {network}: the node's pod subnet "
            "must come from the cluster network of the same family"
        )
    mtu = args.get("mtu")
    if mtu is not None:
        low = IPV6_MIN_MTU if family == 6 else 68
        if not isinstance(mtu, int) or not low <= mtu <= 65535:
            problems.append(
                f"mtu: {mtu!r} is out of range for an IPv{family} device ({low}..65535)"
            )
    # Peers matter only to a device that stays; state=absent ignores them.
    peers = (
        _peers(
            problems,
            raw=_raw_peers(problems, args),
            family=family,
            network=network,
            own_subnet=subnet,
            local=local,
            own_mac=vtep_mac,
        )
        if present
        else []
    )
    if problems:
        raise VxlanInputError(problems)
    return VxlanParams(
        state=state,
        family=family,
        vni=vni,
        port=port,
        gbp=bool(args.get("gbp")),
        learning=bool(args.get("learning")),
        direct_routing=bool(args.get("direct_routing")),
        dev=args.get("dev") or None,
        local=local,
        mtu=mtu,
        vtep_mac=vtep_mac,
        subnet=subnet,
        network=network,
        peers=tuple(peers),
    )


def _address(problems: list[str], where: str, value: Any, family: int) -> str | None:
    if value in (None, ""):
        return None
    try:
        version, _value, text = parse_ip(str(value))
    except ValueError:
        problems.append(f"{where}: {value!r} is not an IP address")
        return None
    if version != family:
        problems.append(f"{where}: {value} is not an IPv{family} address (family={family})")
        return None
    return text


def _network(problems: list[str], where: str, value: Any, family: int) -> Cidr | None:
    if value in (None, ""):
        return None
    try:
        network = parse_cidr(str(value))
    except HostBitsError as exc:
        problems.append(f"{where}: {value} has host bits set; did you mean {exc.suggestion}?")
        return None
    except ValueError:
        problems.append(f"{where}: {value!r} is not a CIDR (address/prefix, e.g. 10.244.1.0/24)")
        return None
    if network.version != family:
        problems.append(f"{where}: {value} is not an IPv{family} CIDR (family={family})")
        return None
    return network


def _mac(problems: list[str], where: str, value: Any) -> str | None:
    if value in (None, ""):
        return None
    text = str(value).lower()
    if not _MAC.match(text):
        problems.append(f"{where}: {value!r} is not a MAC address (aa:bb:cc:dd:ee:ff)")
        return None
    text = text.replace("-", ":")
    first = int(text[:2], 16)
    if first & 1 or text == "00:00:00:00:00:00":
        problems.append(
            f"{where}: {value} is a multicast or all-zero MAC; a VTEP needs a unicast one "
            "(first octet even, e.g. 0a:...)"
        )
        return None
    return text


def _raw_peers(problems: list[str], args: Mapping[str, Any]) -> list[Any]:
    """The peers as dicts, from `peers` or from the compact `peer_table` (not both)."""
    listed = args.get("peers") or []
    table = args.get("peer_table")
    if table in (None, ""):
        return list(listed)
    if listed:
        problems.append("peer_table: given together with peers; pass the peers one way")
        return []
    return parse_peer_table(problems, table)


def parse_peer_table(problems: list[str], table: Any) -> list[Any]:
    r"""`peer_table`'s lines as the dicts `peers` holds, so one validation serves both.

    The compact form exists for scale: one string per run instead of a dict per peer
    through Ansible's argument spec (5,000 peers: one 300 kB string, not 5,000
    suboption checks). Blank lines are skipped.

    >>> parse_peer_table([], "node2 10.244.2.0/24 192.0.2.12 0a:58:0a:f4:02:00\n")[0]["vtep_mac"]
    '0a:58:0a:f4:02:00'
    >>> problems = []
    >>> parse_peer_table(problems, "node2 10.244.2.0/24\n")
    []
    >>> print(problems[0].split(" (")[0])
    peer_table line 1: 'node2 10.244.2.0/24' has 2 fields, not 4
    """
    if not isinstance(table, str):
        problems.append(f"peer_table: {table!r} is not a string ({PEER_TABLE_LINE})")
        return []
    raw: list[Any] = []
    for number, line in enumerate(table.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != len(PEER_KEYS):
            problems.append(
                f"peer_table line {number}: {line.strip()!r} has {len(fields)} fields, "
                f"not {len(PEER_KEYS)} ({PEER_TABLE_LINE})"
            )
            continue
        raw.append(dict(zip(PEER_KEYS, fields)))
    return raw


def _peers(
    problems: list[str],
    *,
    raw: Iterable[Any],
    family: int,
    network: Cidr | None,
    own_subnet: Cidr | None,
    local: str | None,
    own_mac: str | None,
) -> list[Peer]:
    """Each peer checked on its own, then the set: no overlaps, no shared MACs or names."""
    peers: list[Peer] = []
    for index, item in enumerate(raw):
        where = f"peers[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: {item!r} is not a dict with {', '.join(PEER_KEYS)}")
            continue
        if item.get("name"):
            where = f"peers[{item['name']}]"
        unknown = sorted(set(item) - set(PEER_KEYS))
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(map(str, unknown))}")
        missing = [key for key in PEER_KEYS if item.get(key) in (None, "")]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        subnet = _network(problems, f"{where}.subnet", item["subnet"], family)
        public_ip = _address(problems, f"{where}.public_ip", item["public_ip"], family)
        mac = _mac(problems, f"{where}.vtep_mac", item["vtep_mac"])
        if subnet is None or public_ip is None or mac is None:
            continue
        if network is not None:
            if not subnet.subnet_of(network):
                problems.append(f"{where}.subnet: {subnet} is not inside network {network}")
                continue
            if network.contains(parse_ip(public_ip)[1]):
                problems.append(
                    f"{where}.public_ip: {public_ip} lies inside network {network}; "
                    "it must be the peer's underlay address"
                )
                continue
        if subnet == own_subnet:
            if public_ip == local:
                continue  # this node itself; flanneld skips its own lease too
            problems.append(
                f"{where}.subnet: {subnet} is this node's own subnet "
                f"(peer public_ip {public_ip}, local {local}): two nodes share a lease"
            )
            continue
        if mac == own_mac:
            problems.append(f"{where}.vtep_mac: {mac} is this node's own vtep_mac")
            continue
        peers.append(Peer(str(item["name"]), subnet, public_ip, mac))
    _check_unique(problems, peers)
    return peers


def _check_unique(problems: list[str], peers: Sequence[Peer]) -> None:
    """Overlapping subnets and shared MACs or names: sorted sweeps, O(n log n)."""
    ordered = sorted(peers, key=lambda p: (p.subnet.value, p.subnet.prefixlen))
    previous: Peer | None = None
    for peer in ordered:
        if previous is not None and peer.subnet.value <= previous.subnet.last:
            problems.append(
                f"peers[{peer.name}].subnet: {peer.subnet} overlaps peers[{previous.name}]'s "
                f"{previous.subnet}; every node needs its own lease"
            )
            continue
        previous = peer
    for attr, what in (("vtep_mac", "vtep_mac"), ("name", "name")):
        seen: dict[str, str] = {}
        for peer in peers:
            value = getattr(peer, attr)
            if value in seen:
                problems.append(
                    f"peers[{peer.name}].{what}: {value} is also peers[{seen[value]}]'s"
                )
            else:
                seen[value] = peer.name
