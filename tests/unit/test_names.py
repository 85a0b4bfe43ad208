"""flannel's device names: the planner's (library/podnet/names.py) and the host side's
(plugins/module_utils/names.py) are one convention in two packages that never ship
together (hosts get no planner), so they are held equal here, name by name."""

from __future__ import annotations

import pytest
from plugins.module_utils import names as host

from podnet import names as planner


@pytest.mark.parametrize("family", [4, 6])
@pytest.mark.parametrize("vni", [1, 7, 4096, 16777215])
def test_vxlan_device_names_agree_and_parse_back(vni: int, family: int) -> None:
    name = planner.vxlan_ifname(vni, family)
    assert host.vxlan_ifname(vni, family) == name
    assert host.parse_vxlan_ifname(name) == (family, vni)


def test_wireguard_device_names_agree() -> None:
    assert planner.WIREGUARD_DEVICES == host.WIREGUARD_DEVICES
    assert all(host.is_wireguard_ifname(name) for name in planner.WIREGUARD_DEVICES.values())


@pytest.mark.parametrize("name", ["flannel.x", "flannel-v6.", "flannel", "cni0", "flannel.1.2"])
def test_other_names_are_not_flannels(name: str) -> None:
    assert host.parse_vxlan_ifname(name) is None
    assert not host.is_flannel_ifname(name)
