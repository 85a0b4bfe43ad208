"""stale_devices: which flannel devices are stale, and their removal through the backends'
entries (fakes here: the entries' own removal is tested with them, in the kernel tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from plugins.module_utils.core.changes import DELETE, Change
from plugins.module_utils.core.errors import PodnetError
from plugins.module_utils.core.programs import SUBPROCESS, Programs
from plugins.module_utils.core.shell import Applied
from plugins.module_utils.devices import entry
from plugins.module_utils.devices.want import compute_removals

HOST = ["lo", "eth0", "cni0", "flannel.1", "flannel-v6.1", "flannel.7", "flannel-wg", "wg0"]


@pytest.mark.parametrize(
    ("vni", "wireguard", "stale"),
    [
        (1, [], ["flannel.7", "flannel-wg"]),
        (7, [], ["flannel-v6.1", "flannel.1", "flannel-wg"]),
        (None, ["flannel-wg"], ["flannel-v6.1", "flannel.1", "flannel.7"]),
        (None, ["flannel-wg-v6"], ["flannel-v6.1", "flannel.1", "flannel.7", "flannel-wg"]),
        (None, [], ["flannel-v6.1", "flannel.1", "flannel.7", "flannel-wg"]),
    ],
    ids=["vxlan-vni-1", "vxlan-vni-7", "wireguard-ipv4", "wireguard-ipv6-only", "host-gw"],
)
def test_stale_devices_are_flannels_not_in_the_plan_vxlan_first(
    vni: int | None, wireguard: list[str], stale: list[str]
) -> None:
    assert [r.ifname for r in compute_removals(HOST, vni, wireguard)] == stale


def test_removals_carry_the_backends_absent_arguments() -> None:
    removals = compute_removals(["flannel-v6.3", "flannel-wg-v6", "flannelx.1"], None, [])
    assert [(r.backend, r.params) for r in removals] == [
        ("vxlan", {"state": "absent", "family": 6, "vni": 3}),
        ("wireguard", {"state": "absent", "device": "flannel-wg-v6"}),
    ]


def test_foreign_names_are_never_stale() -> None:
    names = ["flannel", "flannel.", "flannel.x", "flannel-wg0", "flannel.1a", "vxlan.1"]
    assert compute_removals(names, None, []) == []


class FakeBackend:
    """An entry that records its calls and deletes the named device (or fails)."""

    def __init__(self, fail: str | None = None) -> None:
        self.calls: list[tuple[dict[str, Any], bool]] = []
        self.fail = fail

    def __call__(self, params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
        self.calls.append((dict(params), check_mode))
        name = params.get("device") or f"flannel.{params['vni']}"
        if name == self.fail:
            raise PodnetError(f"{name}: busy", [f"{name}: busy"])
        change = Change(DELETE, "link", name, "not in the plan")
        return Applied([change], before={"device": name}, after={"device": None})


def run(names: list[str], params: dict[str, Any], check_mode: bool = False, **fakes: Any):
    backends = {"vxlan": FakeBackend(), "wireguard": FakeBackend(), **fakes}
    applied = entry.run(
        params, check_mode, SUBPROCESS, read=lambda: names, entries=lambda: backends
    )
    return applied, backends


@pytest.mark.parametrize("check_mode", [False, True], ids=["apply", "check"])
def test_each_stale_device_goes_through_its_backend(check_mode: bool) -> None:
    applied, backends = run(HOST, {"vni": 1, "wireguard_devices": []}, check_mode)
    assert backends["vxlan"].calls == [({"state": "absent", "family": 4, "vni": 7}, check_mode)]
    assert backends["wireguard"].calls == [
        ({"state": "absent", "device": "flannel-wg"}, check_mode)
    ]
    output = applied.output(diff=True)
    assert output["changed"] is True
    assert output["stale"] == ["flannel.7", "flannel-wg"]
    assert [c["key"] for c in output["changes"]] == ["flannel.7", "flannel-wg"]
    assert output["diff"] == {
        "before": {"flannel.7": {"device": "flannel.7"}, "flannel-wg": {"device": "flannel-wg"}},
        "after": {"flannel.7": {"device": None}, "flannel-wg": {"device": None}},
    }


def test_nothing_stale_calls_no_backend() -> None:
    def no_entries() -> dict[str, Any]:
        raise AssertionError("no backend is needed")

    applied = entry.run(
        {"vni": 1, "wireguard_devices": []},
        False,
        SUBPROCESS,
        read=lambda: ["eth0", "flannel.1", "flannel-v6.1"],
        entries=no_entries,
    )
    assert applied.output(diff=False) == {"changed": False, "changes": [], "stale": []}


def test_every_failure_is_reported_and_the_other_devices_still_go() -> None:
    names = ["flannel.2", "flannel.3", "flannel-wg"]
    vxlan = FakeBackend(fail="flannel.2")
    with pytest.raises(PodnetError) as raised:
        run(
            names,
            {"vni": None, "wireguard_devices": []},
            vxlan=vxlan,
            wireguard=FakeBackend(fail="flannel-wg"),
        )
    assert [params["vni"] for params, _ in vxlan.calls] == [2, 3]
    assert raised.value.problems == ["flannel.2: flannel.2: busy", "flannel-wg: flannel-wg: busy"]
    assert str(raised.value).startswith("cannot remove the devices not in the plan:\n- ")
