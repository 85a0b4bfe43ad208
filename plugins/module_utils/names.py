"""flannel's device names and the constants the host side shares, built and parsed here
only. The role learns them from module return values (`ifname`, `devices`), never from
Jinja regexes; the planner (library/podnet) keeps its own copy of the names, which
tests/unit/test_names.py holds equal to these.

| backend   | IPv4 device      | IPv6 device          |
|-----------|------------------|----------------------|
| vxlan     | `flannel.<VNI>`  | `flannel-v6.<VNI>`   |
| wireguard | `flannel-wg`     | `flannel-wg-v6`      |
"""

from __future__ import annotations

import re

# Linux keeps a device name in IFNAMSIZ (16) bytes with its NUL: 15 characters at most.
IFNAME_MAX = 15
VXLAN_PREFIX = {4: "flannel.", 6: "flannel-v6."}
WIREGUARD_DEVICES = {4: "flannel-wg", 6: "flannel-wg-v6"}
_VXLAN_NAME = re.compile(r"^flannel(-v6)?\.([0-9]+)$")


def vxlan_ifname(vni: int, family: int) -> str:
    """flanneld's VXLAN device name for a VNI and underlay family.

    >>> vxlan_ifname(1, 4), vxlan_ifname(7, 6)
    ('flannel.1', 'flannel-v6.7')
    """
    return f"{VXLAN_PREFIX[family]}{vni}"


def parse_vxlan_ifname(ifname: str) -> tuple[int, int] | None:
    """(family, vni) of a flannel VXLAN device name, None for any other name.

    >>> parse_vxlan_ifname("flannel-v6.1"), parse_vxlan_ifname("flannel.x")
    ((6, 1), None)
    """
    found = _VXLAN_NAME.match(ifname)
    if found is None:
        return None
    return (6 if found.group(1) else 4), int(found.group(2))


def is_wireguard_ifname(ifname: str) -> bool:
    """Whether `ifname` is one of flannel's WireGuard devices.

    >>> is_wireguard_ifname("flannel-wg-v6"), is_wireguard_ifname("wg0")
    (True, False)
    """
    return ifname in WIREGUARD_DEVICES.values()


def is_flannel_ifname(ifname: str) -> bool:
    """Whether `ifname` is a device flannel (or podnet) names: VXLAN or WireGuard."""
    return parse_vxlan_ifname(ifname) is not None or is_wireguard_ifname(ifname)
