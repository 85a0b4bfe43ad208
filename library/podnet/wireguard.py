"""WireGuard's shape of the plan: which devices a node has, and how it reaches each peer.

flannel's Mode decides the devices: `separate` gives one device per pod family
(`flannel-wg` for IPv4, `flannel-wg-v6` for IPv6, each on its own listen port); the
single-tunnel modes (`ipv4`, `ipv6`, `auto`) carry both families in `flannel-wg`.

Where podnet differs from flannel: in the single-tunnel modes a peer's endpoint
always uses ListenPort, the one port the single device listens on (flannel sends
IPv6 endpoints to ListenPortV6, which only works when both ports are equal).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from .config import NetConf, WireguardMode
from .fields import IPAddress
from .names import WIREGUARD_DEVICES
from .nodes import Node

DEVICE_NAMES = WIREGUARD_DEVICES


@dataclass(frozen=True, slots=True)
class WireguardDevice:
    """One WireGuard device of every node.

    Attributes:
        families: the pod families it carries (addresses, routes, allowed IPs).
        listen_port: the UDP port it listens on, the same on every node.
        endpoint_family: the underlay family peers are reached over; None in `auto`
            mode, where it is chosen per peer.
    """

    name: str
    families: tuple[int, ...]
    listen_port: int
    endpoint_family: int | None


def wireguard_devices(conf: NetConf) -> tuple[WireguardDevice, ...]:
    """The devices of the fleet's Mode, IPv4's first."""
    backend = conf.backend
    families = tuple(pool.family for pool in conf.pools)
    if backend.mode is WireguardMode.SEPARATE:
        ports = {4: backend.listen_port, 6: backend.listen_port_v6}
        return tuple(
            WireguardDevice(DEVICE_NAMES[family], (family,), ports[family], family)
            for family in families
        )
    endpoint_family = {WireguardMode.IPV4: 4, WireguardMode.IPV6: 6}.get(backend.mode)
    return (WireguardDevice(DEVICE_NAMES[4], families, backend.listen_port, endpoint_family),)


def endpoint(device: WireguardDevice, peer: Node) -> str | None:
    """`address:port` of `peer` for `device`, or None when the peer has no such address."""
    family = device.endpoint_family or auto_endpoint_family(peer)
    address = peer.public_address(family)
    if address is None:
        return None
    host = str(address) if family == 4 else f"[{address}]"
    return f"{host}:{device.listen_port}"


def auto_endpoint_family(peer: Node) -> int:
    """flannel's `auto` choice, judged on the peer (every node of a fleet is assumed to
    have the same families): IPv4 unless the peer's IPv4 is private and its IPv6 is
    globally routed.

    >>> auto_endpoint_family(Node("p", ipaddress.IPv4Address("192.168.1.2"),
    ...                           ipaddress.IPv6Address("2001:db8::2")))
    6
    """
    if peer.public_ipv6 is None:
        return 4
    if peer.public_ip is not None and not _private(peer.public_ip):
        return 4
    return 6 if not _private(peer.public_ipv6) else 4


def _private(address: IPAddress) -> bool:
    # flannel's tests: RFC 1918 for IPv4, ULA (fc00::/7) for IPv6.
    if isinstance(address, ipaddress.IPv4Address):
        return any(address in net for net in _RFC1918)
    return address in _ULA


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_ULA = ipaddress.ip_network("fc00::/7")
