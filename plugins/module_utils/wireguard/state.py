"""The objects a WireGuard device is made of, as plain data; the parsers that build them
from `wg show <dev> dump` and `ip -j`; and their --diff view.

One `WgState` is either what the plan wants or what podnet owns on the host now (the
device and everything on it; routes only where they are `proto boot` on the device):

| kind  | key                     | compared                                             |
|-------|-------------------------|------------------------------------------------------|
| link  | the device name         | mtu, txqlen, up (and being a WireGuard device at all) |
| wg    | the device name         | public key (stands for the private key), listen port, fwmark |
| addr  | `10.244.1.0/32`         | presence (link-local addresses are the kernel's)     |
| peer  | the peer's public key   | endpoint, allowed IPs, keepalive, whether the PSK matches |
| route | `10.244.0.0/16`         | scope; the key adds ` metric N` when not the default |

Secrets: `wg show dump` prints the device's private key and every peer's preshared key.
`parse_dump` never keeps either: the device is known by its public key (which `wg`
derives from the private key), and a peer's preshared key becomes one word, whether it
is the wanted one (`set`), another one (`other`) or missing (`none`).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..kernel.ipnet import HostBitsError, parse_cidr
from ..kernel.routes import (
    SCOPE_WORDS,
    SCOPES,
    Route,
    as_route,
    owns,
    route_from_json,
    route_key,
)
from .keys import Secret, WgError

PSK_NONE = "none"
PSK_SET = "set"  # the wanted preshared key
PSK_OTHER = "other"  # a preshared key, but not the wanted one
NONE_WORD = "(none)"  # what `wg show dump` prints for an empty field
# flanneld asks for scope link; the kernel keeps it for IPv4 but stores every IPv6 route
# with scope universe ("global"), so that is what an IPv6 route is compared with.
ROUTE_SCOPE = {4: SCOPES["link"], 6: SCOPES["global"]}


@dataclass(frozen=True)
class Link:
    """The network device. implementation: `kernel`, `userspace` (wireguard-go's TUN),
    or None for a device of that name that is not WireGuard at all."""

    ifname: str
    mtu: int
    txqlen: int
    up: bool
    implementation: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Interface:
    """wg's device settings; public_key None: no private key set."""

    public_key: str | None
    listen_port: int
    fwmark: int


@dataclass(frozen=True)
class Peer:
    public_key: str
    endpoint: str | None
    allowed_ips: tuple[str, ...]
    persistent_keepalive: int
    psk: str  # PSK_NONE | PSK_SET | PSK_OTHER
    name: str = field(default="", compare=False)


@dataclass(frozen=True)
class WgState:
    """Everything podnet manages for one device; link None: no device (nor anything on it)."""

    ifname: str
    link: Link | None = None
    interface: Interface | None = None
    addresses: tuple[str, ...] = ()
    peers: Mapping[str, Peer] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)


def sort_cidrs(texts: Iterable[str]) -> tuple[str, ...]:
    """Canonical text, ordered by family, address, prefix: how both sides are compared.

    >>> sort_cidrs(["fd00::/64", "10.244.2.0/24", "10.0.0.0/8"])
    ('10.0.0.0/8', '10.244.2.0/24', 'fd00::/64')
    """
    cidrs = []
    for text in texts:
        try:
            cidrs.append(parse_cidr(text))
        except HostBitsError as exc:  # the kernel masks; keep what it routes
            cidrs.append(exc.suggestion)
    cidrs.sort(key=lambda c: (c.version, c.value, c.prefixlen))
    return tuple(str(c) for c in cidrs)


# --- `wg show <dev> dump` ----------------------------------------------------------------


def parse_dump(text: str, psk: Secret | None) -> tuple[Interface, dict[str, Peer]]:
    """The device line and the peer lines of `wg show <dev> dump` (wg(8) gives the fields).

    Device: private-key public-key listen-port fwmark. Peer: public-key preshared-key
    endpoint allowed-ips latest-handshake transfer-rx transfer-tx persistent-keepalive.
    A malformed line is reported by number only: the text may hold keys.

    >>> dump = ("PRIV=\\tPUB=\\t51820\\toff\\n"
    ...         "PEER=\\t(none)\\t192.0.2.12:51820\\t10.244.2.0/24\\t0\\t0\\t0\\toff\\n")
    >>> interface, peers = parse_dump(dump, None)
    >>> interface
    Interface(public_key='PUB=', listen_port=51820, fwmark=0)
    >>> peers["PEER="].psk, peers["PEER="].allowed_ips
    ('none', ('10.244.2.0/24',))
    """
    lines = text.splitlines()
    if not lines:
        raise WgError("`wg show dump` printed nothing")
    device = lines[0].split("\t")
    if len(device) != 4:
        raise WgError(f"`wg show dump` line 1 has {len(device)} fields, not 4")
    # device[0] is the private key: not kept, not even under a name.
    try:
        interface = Interface(
            public_key=None if device[1] == NONE_WORD else device[1],
            listen_port=int(device[2]),
            fwmark=0 if device[3] == "off" else int(device[3], 0),
        )
        peers = {}
        for number, line in enumerate(lines[1:], start=2):
            fields = line.split("\t")
            if len(fields) != 8:
                raise WgError(f"`wg show dump` line {number} has {len(fields)} fields, not 8")
            peer = Peer(
                public_key=fields[0],
                endpoint=None if fields[2] == NONE_WORD else fields[2],
                allowed_ips=() if fields[3] == NONE_WORD else sort_cidrs(fields[3].split(",")),
                persistent_keepalive=0 if fields[7] == "off" else int(fields[7]),
                psk=_psk_word(fields[1], psk),
            )
            peers[peer.public_key] = peer
    except ValueError:
        raise WgError("`wg show dump` printed a field that is not a number") from None
    return interface, peers


def _psk_word(field_text: str, wanted: Secret | None) -> str:
    if field_text == NONE_WORD:
        return PSK_NONE
    if wanted is not None and hmac.compare_digest(field_text, wanted.reveal()):
        return PSK_SET
    return PSK_OTHER


# --- `ip -j` -----------------------------------------------------------------------------


def parse_link(text: str) -> tuple[str, Link]:
    """(linkinfo kind, Link) from `ip -d -j link show dev <dev>`; implementation unset.

    iproute2 omits `txqlen` when it is 0 (as flanneld sets it).
    """
    (data,) = json.loads(text)
    kind = (data.get("linkinfo") or {}).get("info_kind") or ""
    link = Link(
        ifname=data["ifname"],
        mtu=int(data["mtu"]),
        txqlen=int(data.get("txqlen", 0)),
        up="UP" in data.get("flags", ()),
    )
    return kind, link


def parse_addresses(text: str) -> tuple[str, ...]:
    """`address/prefixlen` of every address on the device but link-local ones (the kernel
    gives wireguard-go's TUN an fe80:: address of its own)."""
    found = []
    for link in json.loads(text or "[]"):
        for info in link.get("addr_info", ()):
            if info.get("scope") != "link" and "local" in info:
                found.append(f"{info['local']}/{info['prefixlen']}")
    return sort_cidrs(found)


def parse_routes(text: str, family: int, ifname: str) -> tuple[dict[str, Route], dict[str, Route]]:
    """Table main from `ip -d -j -<family> route show table main`, split by the one
    ownership rule (kernel/routes.py): podnet's routes here are those on the device
    (proto boot, unicast, one next hop); every other route, by the same keys, is foreign
    (to refuse a planned route whose slot it holds)."""
    owned: dict[str, Route] = {}
    foreign: dict[str, Route] = {}
    for raw in json.loads(text or "[]"):
        msg = route_from_json(raw, family, ifname)
        if msg is None:
            continue
        key = route_key(msg.dst, msg.priority, family)
        mine = owns(msg, device_index=1, direct=False)
        (owned if mine else foreign)[key] = as_route(msg, raw.get("dev"))
    return owned, foreign


# --- --diff ------------------------------------------------------------------------------


def describe_peer(peer: Peer) -> str:
    """`node2: endpoint 192.0.2.12:51820, allowed-ips 10.244.2.0/24, keepalive off, psk none`."""
    allowed = ",".join(peer.allowed_ips) or NONE_WORD
    keepalive = peer.persistent_keepalive or "off"
    return (
        f"{peer.name or '(not in the plan)'}: endpoint {peer.endpoint or NONE_WORD}, "
        f"allowed-ips {allowed}, keepalive {keepalive}, psk {peer.psk}"
    )


def view(state: WgState) -> dict[str, Any]:
    """The --diff view: the device's attributes, addresses, peers by public key, routes."""
    device: dict[str, Any] | None = None
    if state.link is not None:
        link, interface = state.link, state.interface
        device = {
            "ifname": link.ifname,
            "implementation": link.implementation,
            "mtu": link.mtu,
            "txqlen": link.txqlen,
            "up": link.up,
            "public_key": interface.public_key if interface else None,
            "listen_port": interface.listen_port if interface else None,
            "fwmark": interface.fwmark if interface else None,
        }
    return {
        "device": device,
        "addresses": list(state.addresses),
        "peers": {key: describe_peer(peer) for key, peer in state.peers.items()},
        "routes": {
            key: f"dev {state.ifname} scope {SCOPE_WORDS[route.scope]} proto boot"
            for key, route in state.routes.items()
        },
    }
