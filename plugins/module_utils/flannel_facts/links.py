"""flannel's devices on a host, read back: names, kinds, VNIs, MACs and addresses.

flanneld names its devices `flannel.<VNI>` / `flannel-v6.<VNI>` (vxlan) and `flannel-wg` /
`flannel-wg-v6` (WireGuard), and gives each its lease's network address as a /32 (/128)
(reference sections 1.5 and 3.2). Where subnet.env is gone (a tmpfs /run after a flanneld
crash, or deleted), that address still says which subnet the node's pods use. The VXLAN
device's MAC is flannel's random one, which every peer has in its neighbour and FDB
entries: keeping it lets the fleet switch to podnet without any peer entry changing.
Read only; the caller opens the netlink handle (pyroute2's IPRoute) and passes it in.
"""

from __future__ import annotations

import re
from typing import Any

# Only flannel's names: a host's other devices are none of podnet's business.
FLANNEL_DEVICE = re.compile(r"^(flannel(-v6)?\.[0-9]+|flannel-wg(-v6)?)$")
RT_SCOPE_LINK = 253


def read_flannel_devices(ipr: Any) -> list[dict[str, Any]]:
    """Every flannel-named device: ifname, kind, vni (vxlan), mac, non-link-local addresses.

    Sorted by name, so the result is stable between runs.
    """
    devices = []
    for link in ipr.get_links():
        ifname = link.get("ifname")
        if not ifname or not FLANNEL_DEVICE.match(ifname):
            continue
        kind = link.get(("linkinfo", "kind"))
        data = link.get(("linkinfo", "data"))
        vni = data.get("vxlan_id") if kind == "vxlan" and data is not None else None
        addresses = sorted(
            f"{msg.get('address')}/{msg['prefixlen']}"
            for msg in ipr.get_addr(index=link["index"])
            if msg["scope"] != RT_SCOPE_LINK and msg.get("address")
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
