"""flannel's device names, as the planner uses them. The host side builds and parses the
same names in plugins/module_utils/names.py (the collection ships without this library on
the hosts); tests/unit/test_names.py holds the two equal.

| backend   | IPv4 device      | IPv6 device          |
|-----------|------------------|----------------------|
| vxlan     | `flannel.<VNI>`  | `flannel-v6.<VNI>`   |
| wireguard | `flannel-wg`     | `flannel-wg-v6`      |
"""

from __future__ import annotations

# Linux keeps a device name in IFNAMSIZ (16) bytes with its NUL: 15 characters at most.
IFNAME_MAX = 15
VXLAN_PREFIX = {4: "flannel.", 6: "flannel-v6."}
WIREGUARD_DEVICES = {4: "flannel-wg", 6: "flannel-wg-v6"}


def vxlan_ifname(vni: int, family: int) -> str:
    """flanneld's VXLAN device name for a VNI and underlay family.

    >>> vxlan_ifname(1, 4), vxlan_ifname(7, 6)
    ('flannel.1', 'flannel-v6.7')
    """
    return f"{VXLAN_PREFIX[family]}{vni}"
