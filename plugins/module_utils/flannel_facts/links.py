"""flannel's devices on a host, read back: names, kinds, VNIs, MACs and addresses.

flanneld names its devices `flannel.<VNI>` / `flannel-v6.<VNI>` (vxlan) and `flannel-wg` /
`flannel-wg-v6` (WireGuard), and gives each its lease's network address as a /32 (/128)
(reference sections 1.5 and 3.2). Where subnet.env is gone (a tmpfs /run after a flanneld
crash, or deleted), that address still says which subnet the node's pods use. The VXLAN
device's MAC is flannel's random one, which every peer has in its neighbour and FDB
entries: keeping it lets the fleet switch to podnet without any peer entry changing.

Read from `ip -d -j addr show` (iproute2, one call), not pyroute2: this runs before the
plan, on hosts whose pyroute2 may be missing or too old, and must change nothing there.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any

from ..names import is_flannel_ifname, parse_vxlan_ifname


def read_flannel_devices(ip_json: str) -> list[dict[str, Any]]:
    """Every flannel-named device in `ip -d -j addr show`'s output: ifname, kind, vni
    (vxlan), mac (vxlan), addresses other than link-local ones. Sorted by name.

    >>> text = json.dumps([
    ...     {"ifname": "eth0", "address": "02:00:00:00:00:01", "addr_info": []},
    ...     {"ifname": "flannel.1", "address": "5e:2d:81:0c:3b:7a",
    ...      "linkinfo": {"info_kind": "vxlan", "info_data": {"id": 1}},
    ...      "addr_info": [{"local": "10.244.7.0", "prefixlen": 32, "scope": "global"},
    ...                    {"local": "fe80::1", "prefixlen": 64, "scope": "link"}]}])
    >>> read_flannel_devices(text)
    [{'ifname': 'flannel.1', 'kind': 'vxlan', 'vni': 1, 'mac': '5e:2d:81:0c:3b:7a', 'addresses': ['10.244.7.0/32']}]
    """  # noqa: E501 - a doctest's output line
    devices = []
    for link in json.loads(ip_json or "[]"):
        ifname = link.get("ifname", "")
        if not is_flannel_ifname(ifname):
            continue
        info = link.get("linkinfo") or {}
        kind = info.get("info_kind")
        vni = (info.get("info_data") or {}).get("id") if kind == "vxlan" else None
        if kind == "vxlan" and vni is None:  # an iproute2 that prints no info_data
            vni = (parse_vxlan_ifname(ifname) or (0, None))[1]
        addresses = sorted(
            f"{entry['local']}/{entry['prefixlen']}"
            for entry in link.get("addr_info", ())
            if entry.get("scope") != "link" and entry.get("local")
        )
        devices.append(
            {
                "ifname": ifname,
                "kind": kind,
                "vni": vni,
                # A WireGuard device is layer 3: no MAC.
                "mac": link.get("address") if kind == "vxlan" else None,
                "addresses": addresses,
            }
        )
    return sorted(devices, key=lambda device: device["ifname"])


def bridge_networks(ip_json: str, bridge: str) -> list[str]:
    """The networks of the CNI bridge's addresses (link-local ones aside), sorted; none
    when there is no such bridge. The role runs podnet.fabric.cni_bridge only where one of
    them is not the node's subnet (an old gateway after a subnet change).

    >>> text = json.dumps([{"ifname": "cni0", "addr_info": [
    ...     {"family": "inet", "local": "10.244.1.1", "prefixlen": 24, "scope": "global"},
    ...     {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"}]}])
    >>> bridge_networks(text, "cni0"), bridge_networks(text, "cni1")
    (['10.244.1.0/24'], [])
    """
    return sorted(
        str(ipaddress.ip_interface(f"{entry['local']}/{entry['prefixlen']}").network)
        for link in json.loads(ip_json or "[]")
        if link.get("ifname") == bridge
        for entry in link.get("addr_info", ())
        if entry.get("scope") != "link" and entry.get("local")
    )
