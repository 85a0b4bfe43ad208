"""The wireguard module's input, checked all at once, into canonical values.

Every problem is collected and reported together, each naming the field, the value and
the rule, before the host is read or written. Values come out canonical (what `wg show
dump` and `ip -j` print: inet_ntop text, allowed IPs sorted), so the diff compares text
with text. A preshared key is checked but never quoted.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import listing
from ..kernel.ipnet import Cidr, HostBitsError, parse_cidr, parse_ip
from ..names import IFNAME_MAX
from .keys import KEY_RULE, Secret, WgError, is_wireguard_key

PEER_KEYS = ("name", "public_key", "endpoint", "allowed_ips")
IPV6_MIN_MTU = 1280  # RFC 8200; below it the kernel turns IPv6 off on the device
IPV4_MIN_MTU = 68
KEY_FILE_REQUIRED = "key_file: required when state=present"


class WgInputError(WgError):
    """Bad module input: every problem found."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(listing("invalid wireguard parameters", problems), problems)


@dataclass(frozen=True)
class PeerParams:
    """One peer, canonical: endpoint `ip:port` or `[ip6]:port`, allowed IPs sorted."""

    name: str
    public_key: str
    endpoint: str
    allowed_ips: tuple[str, ...]


@dataclass(frozen=True)
class WgParams:
    state: str
    device: str
    key_file: str | None = None
    listen_port: int = 51820
    mtu: int = 1420
    addresses: tuple[str, ...] = ()
    routes: tuple[Cidr, ...] = ()
    psk: Secret | None = None
    persistent_keepalive: int = 0
    userspace: bool = False
    wireguard_go: str = "wireguard-go"
    peers: tuple[PeerParams, ...] = ()


def validate_params(args: Mapping[str, Any]) -> WgParams:
    """Check the module's arguments; raise WgInputError listing every problem.

    >>> p = validate_params({"state": "absent", "device": "flannel-wg"})
    >>> p.device, p.peers
    ('flannel-wg', ())
    """
    problems: list[str] = []
    state = args.get("state") or "present"
    device = _device(problems, args.get("device", "flannel-wg"))
    userspace = bool(args.get("userspace"))
    wireguard_go = str(args.get("wireguard_go") or "wireguard-go")
    if state == "absent":  # only the device matters: the rest describes a device that stays
        if problems:
            raise WgInputError(problems)
        return WgParams(state, device, userspace=userspace, wireguard_go=wireguard_go)

    key_file = args.get("key_file")
    if not key_file:
        problems.append(KEY_FILE_REQUIRED)
    elif not os.path.isabs(str(key_file)):
        problems.append(f"key_file: {key_file!r} is not an absolute path")
    listen_port = _int_in(problems, "listen_port", args.get("listen_port", 51820), 1, 65535)
    keepalive = _int_in(
        problems, "persistent_keepalive", args.get("persistent_keepalive") or 0, 0, 65535
    )
    addresses = _addresses(problems, args.get("addresses") or [])
    routes = _cidrs(problems, "routes", args.get("routes") or [])
    has_v6 = any(":" in a for a in addresses) or any(r.version == 6 for r in routes)
    low = IPV6_MIN_MTU if has_v6 else IPV4_MIN_MTU
    mtu = _int_in(problems, "mtu", args.get("mtu", 1420), low, 65535)
    psk = args.get("psk")
    if psk not in (None, "") and not is_wireguard_key(psk):
        problems.append(f"psk: the value given (not shown: it is secret) is not {KEY_RULE}")
    peers = _peers(problems, args.get("peers") or [])
    # _int_in returns None only after listing its problem.
    if problems or listen_port is None or mtu is None or keepalive is None:
        raise WgInputError(problems)
    return WgParams(
        state=state,
        device=device,
        key_file=str(key_file),
        listen_port=listen_port,
        mtu=mtu,
        addresses=addresses,
        routes=routes,
        psk=Secret(psk) if psk else None,
        persistent_keepalive=keepalive,
        userspace=userspace,
        wireguard_go=wireguard_go,
        peers=peers,
    )


def _device(problems: list[str], value: Any) -> str:
    text = str(value or "")
    if (
        not text
        or len(text) > IFNAME_MAX
        or text in (".", "..")
        or any(c in text for c in "/: \t\n")
    ):
        problems.append(
            f"device: {value!r} is not an interface name (1..{IFNAME_MAX} characters, "
            "no '/', ':' or white space)"
        )
    return text


def _int_in(problems: list[str], where: str, value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        problems.append(f"{where}: {value!r} is out of range ({low}..{high})")
        return None
    return value


def _cidr(problems: list[str], where: str, value: Any) -> Cidr | None:
    try:
        return parse_cidr(str(value))
    except HostBitsError as exc:
        problems.append(f"{where}: {value} has host bits set; did you mean {exc.suggestion}?")
    except ValueError:
        problems.append(f"{where}: {value!r} is not a CIDR (address/prefix, e.g. 10.244.0.0/16)")
    return None


def _cidrs(problems: list[str], where: str, values: Any) -> tuple[Cidr, ...]:
    if not isinstance(values, (list, tuple)):
        problems.append(f"{where}: {values!r} is not a list of CIDRs")
        return ()
    found: dict[str, Cidr] = {}
    for index, value in enumerate(values):
        cidr = _cidr(problems, f"{where}[{index}]", value)
        if cidr is None:
            continue
        if str(cidr) in found:
            problems.append(f"{where}[{index}]: {cidr} is listed twice")
        found[str(cidr)] = cidr
    return tuple(sorted(found.values(), key=_order))


def _order(cidr: Cidr) -> tuple[int, int, int]:
    return (cidr.version, cidr.value, cidr.prefixlen)


def _addresses(problems: list[str], values: Any) -> tuple[str, ...]:
    """The device's addresses: each a /32 or /128, as flanneld gives the device."""
    if not values:
        problems.append(
            "addresses: required when state=present (the node subnet's network address, "
            "e.g. 10.244.1.0/32)"
        )
        return ()
    cidrs = _cidrs(problems, "addresses", values)
    good = []
    for cidr in cidrs:
        if cidr.prefixlen != cidr.max_prefixlen:
            problems.append(
                f"addresses: {cidr} is not a /{cidr.max_prefixlen}: the device carries the "
                f"node subnet's network address alone (e.g. {cidr.address}/{cidr.max_prefixlen})"
            )
            continue
        good.append(str(cidr))
    return tuple(good)


def parse_endpoint(text: str) -> str:
    """`ip:port` or `[ip6]:port`, canonical; ValueError naming the rule.

    >>> parse_endpoint("192.0.2.12:51820"), parse_endpoint("[2001:DB8:0::2]:51821")
    ('192.0.2.12:51820', '[2001:db8::2]:51821')
    """
    if text.startswith("["):
        host, bracket, port = text[1:].partition("]:")
        if not bracket or ":" not in host:
            raise ValueError("an IPv6 endpoint is [address]:port")
    else:
        host, colon, port = text.rpartition(":")
        if not colon or ":" in host:
            raise ValueError("an endpoint is address:port, or [address]:port for IPv6")
    try:
        version, _value, canonical = parse_ip(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (a host name is not accepted)") from None
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(f"port {port!r} is not 1..65535")
    return f"[{canonical}]:{int(port)}" if version == 6 else f"{canonical}:{int(port)}"


def _peers(problems: list[str], raw: Iterable[Any]) -> tuple[PeerParams, ...]:
    peers: list[PeerParams] = []
    cidrs_of: list[tuple[str, tuple[Cidr, ...]]] = []
    for index, item in enumerate(raw):
        where = f"peers[{index}]"
        if not isinstance(item, Mapping):
            problems.append(f"{where}: {item!r} is not a dict with {', '.join(PEER_KEYS)}")
            continue
        if item.get("name"):
            where = f"peers[{item['name']}]"
        unknown = sorted(str(key) for key in set(item) - set(PEER_KEYS))
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)}")
        missing = [key for key in PEER_KEYS[:3] if item.get(key) in (None, "")]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        before = len(problems)
        key = item["public_key"]
        endpoint = ""
        if not is_wireguard_key(key):
            problems.append(f"{where}.public_key: {key!r} is not {KEY_RULE}")
        try:
            endpoint = parse_endpoint(str(item["endpoint"]))
        except ValueError as exc:
            problems.append(f"{where}.endpoint: {item['endpoint']!r}: {exc}")
        cidrs = _cidrs(problems, f"{where}.allowed_ips", item.get("allowed_ips") or [])
        if len(problems) > before:
            continue
        cidrs_of.append((str(item["name"]), cidrs))
        peers.append(PeerParams(str(item["name"]), key, endpoint, tuple(str(c) for c in cidrs)))
    _check_unique(problems, peers)
    _check_overlaps(problems, cidrs_of)
    return tuple(peers)


def _check_unique(problems: list[str], peers: Sequence[PeerParams]) -> None:
    for attr in ("name", "public_key"):
        seen: dict[str, str] = {}
        for peer in peers:
            value = getattr(peer, attr)
            if value in seen:
                problems.append(
                    f"peers[{peer.name}].{attr}: {value} is also peers[{seen[value]}]'s"
                )
            else:
                seen[value] = peer.name


def _check_overlaps(problems: list[str], cidrs_of: Sequence[tuple[str, tuple[Cidr, ...]]]) -> None:
    """WireGuard routes a packet to the one peer whose allowed IPs hold its destination, so
    two peers may not share addresses (the later one would silently take them over). A
    sorted sweep: O(n log n)."""
    spans = sorted(
        ((cidr, name) for name, cidrs in cidrs_of for cidr in cidrs),
        key=lambda item: _order(item[0]),
    )
    previous: tuple[Cidr, str] | None = None
    for cidr, name in spans:
        if previous is not None:
            other, other_name = previous
            if other.version == cidr.version and cidr.value <= other.last:
                problems.append(
                    f"peers[{name}].allowed_ips: {cidr} overlaps peers[{other_name}]'s {other}; "
                    "each address belongs to one peer"
                )
                continue
        previous = (cidr, name)


def own_address_problems(addresses: Sequence[str], peers: Iterable[PeerParams]) -> list[str]:
    """Peers whose allowed IPs hold one of this node's addresses: two nodes with one subnet.

    Checked once this node is known (by its key) and left out of `peers`: the fleet's peer
    table lists this node too, with the subnet its address comes from.

    >>> p = PeerParams("node2", "K", "192.0.2.12:1", ("10.244.1.0/24",))
    >>> own_address_problems(["10.244.1.0/32"], [p])  # doctest: +NORMALIZE_WHITESPACE
    ["peers[node2].allowed_ips: 10.244.1.0/24 holds this node's own address 10.244.1.0/32:
      two nodes share a subnet"]
    """
    problems = []
    for peer in peers:
        for text in peer.allowed_ips:
            cidr = parse_cidr(text)
            for address in addresses:
                version, value, _text = parse_ip(address.partition("/")[0])
                if cidr.version == version and cidr.contains(value):
                    problems.append(
                        f"peers[{peer.name}].allowed_ips: {cidr} holds this node's own address "
                        f"{address}: two nodes share a subnet"
                    )
    return problems
