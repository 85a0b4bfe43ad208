"""podnet.fabric.stale_devices in a throwaway namespace, run as Ansible runs it: the
VXLAN device of another VNI goes (through the vxlan entry), the plan's VNI and a foreign
VXLAN device stay; check mode removes nothing; a second run changes nothing."""

from __future__ import annotations

from conftest import ip, run_module


def links(netns: str) -> set[str]:
    return {
        line.split(":")[1].strip().split("@")[0]
        for line in ip("-o", "link", "show", netns=netns).splitlines()
    }


def test_another_vnis_device_goes_and_the_plans_and_foreign_ones_stay(netns: str) -> None:
    # A foreign device of the same VNI needs its own port: the kernel refuses two alike.
    for name, vni, port in (("flannel.1", "1", "8472"), ("flannel.7", "7", "8472"),
                            ("vxlan7", "7", "4789")):  # fmt: skip
        ip("link", "add", name, "type", "vxlan", "id", vni, "dstport", port, netns=netns)

    checked = run_module(netns, "stale_devices", {"vni": 1, "_ansible_check_mode": True})
    assert not checked.get("failed"), checked
    assert checked["changed"] is True and checked["stale"] == ["flannel.7"]
    assert {"flannel.1", "flannel.7", "vxlan7"} <= links(netns)

    applied = run_module(netns, "stale_devices", {"vni": 1, "_ansible_diff": True})
    assert not applied.get("failed"), applied
    assert applied["stale"] == ["flannel.7"]
    first = applied["changes"][0]
    assert (first["op"], first["kind"], first["key"]) == ("delete", "link", "flannel.7")
    assert applied["args"] == {"vni": 1, "wireguard_devices": []}
    assert set(applied["diff"]["before"]) == {"flannel.7"}
    assert "flannel.7" not in links(netns)
    assert {"flannel.1", "vxlan7"} <= links(netns)

    again = run_module(netns, "stale_devices", {"vni": 1})
    assert (again["changed"], again["stale"]) == (False, [])
