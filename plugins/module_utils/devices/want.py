"""Which of the host's devices are stale: a flannel device (names.py) the plan does not keep.

A VXLAN device is kept when its VNI is the plan's, in either family: the vxlan task itself
removes the device of a family the plan dropped (its state=absent run), with the direct
routes it knows of. A WireGuard device is kept when the plan names it (its Mode's devices).
Everything else that flannel names goes, through its backend's state=absent arguments, so
its neighbours, FDB entries, on-device routes and wireguard-go go with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..names import is_wireguard_ifname, parse_vxlan_ifname, vxlan_ifname


@dataclass(frozen=True)
class Removal:
    """One stale device: its backend (`vxlan` | `wireguard`) and that entry's arguments."""

    backend: str
    ifname: str
    params: dict[str, Any]


def compute_removals(
    present: Iterable[str], vni: int | None, wireguard_devices: Iterable[str]
) -> list[Removal]:
    """The stale devices among `present`, VXLAN first (main.yml's old order), by name.

    vni: the plan's VXLAN VNI, None when the backend is not vxlan (no VXLAN device kept).
    wireguard_devices: the WireGuard devices the plan uses (none unless the backend is
    wireguard).

    >>> [r.ifname for r in compute_removals(
    ...     ["eth0", "flannel.1", "flannel.2", "flannel-v6.1", "flannel-wg-v6", "wg0"],
    ...     vni=1, wireguard_devices=["flannel-wg"])]
    ['flannel.2', 'flannel-wg-v6']
    >>> compute_removals(["flannel-v6.7"], vni=None, wireguard_devices=[])[0].params
    {'state': 'absent', 'family': 6, 'vni': 7}
    """
    keep = set(wireguard_devices)
    if vni is not None:
        keep.update(vxlan_ifname(vni, family) for family in (4, 6))
    names = sorted(set(present) - keep)
    removals = []
    for ifname in names:
        parsed = parse_vxlan_ifname(ifname)
        if parsed is not None:
            family, device_vni = parsed
            params = {"state": "absent", "family": family, "vni": device_vni}
            removals.append(Removal("vxlan", ifname, params))
    removals.extend(
        Removal("wireguard", ifname, {"state": "absent", "device": ifname})
        for ifname in names
        if is_wireguard_ifname(ifname)
    )
    return removals
