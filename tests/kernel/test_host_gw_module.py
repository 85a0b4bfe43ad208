"""podnet.fabric.host_gw as Ansible runs it: its `main()`, arguments as JSON, in a process
under `ip netns exec`, so the module opens its own netlink handle inside the test's
namespace, exactly as on a node. The kernel is read back with iproute2.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from conftest import ip, run_module

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test run's interpreter has ansible-core and pyroute2
# The role passes vxlan's peer table: vtep_mac (and whatever else) must be ignored.
PEER2 = {
    "name": "node2",
    "subnet": "10.244.2.0/24",
    "public_ip": "192.0.2.12",
    "vtep_mac": "0a:00:00:00:02:02",
}
PRESENT = {"network": "10.244.0.0/16", "dev": "eth0", "peers": [PEER2]}
ROUTE = "10.244.2.0/24 via 192.0.2.12 dev eth0"


def module(netns: str, args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_module(netns, "host_gw", args, env)


def boot_routes(ns: str) -> str:
    return ip("-d", "route", "show", "table", "main", "proto", "boot", netns=ns)


def test_apply_then_nothing_with_diff(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    first = module(ns, {**PRESENT, "_ansible_diff": True})
    assert first["changed"] is True, first
    assert first["changes"] == [
        {"op": "add", "kind": "route", "key": "10.244.2.0/24", "reason": "peer node2: missing"}
    ]
    assert first["diff"] == {
        "before": {"routes": {}},
        "after": {"routes": {"10.244.2.0/24": "via 192.0.2.12 dev eth0 proto boot"}},
    }
    assert boot_routes(ns).strip() == f"unicast {ROUTE} scope global"

    second = module(ns, {**PRESENT, "_ansible_diff": True})
    assert (second["changed"], second["changes"]) == (False, [])
    assert second["diff"]["before"] == second["diff"]["after"] == first["diff"]["after"]


def test_check_mode_writes_nothing(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(ns, {**PRESENT, "_ansible_check_mode": True, "_ansible_diff": True})
    assert result["changed"] is True and len(result["changes"]) == 1
    assert result["diff"]["after"]["routes"] == {
        "10.244.2.0/24": "via 192.0.2.12 dev eth0 proto boot"
    }
    assert boot_routes(ns) == ""


def test_absent_removes_owned_routes_only(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    module(ns, PRESENT)
    ip("route", "add", "10.244.9.0/24", "via", "192.0.2.1", "proto", "static", netns=ns)
    result = module(ns, {"state": "absent", "network": "10.244.0.0/16"})
    assert [(c["op"], c["key"], c["reason"]) for c in result["changes"]] == [
        ("delete", "10.244.2.0/24", "state=absent")
    ]
    assert "10.244.2.0/24" not in ip("route", netns=ns)
    assert "10.244.9.0/24 via 192.0.2.1 dev eth0 proto static" in ip("route", netns=ns)
    assert module(ns, {"state": "absent", "network": "10.244.0.0/16"})["changed"] is False


def test_bad_input_fails_naming_fields_and_changes_nothing(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(
        ns,
        {
            **PRESENT,
            "peers": [
                {**PEER2, "public_ip": "192.0.2.300"},
                {"name": "node3", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.13"},
                {"name": "node4", "subnet": "10.99.4.0/24", "public_ip": "192.0.2.14"},
            ],
        },
    )
    assert result["failed"] is True
    assert result["problems"] == [
        "peers[node2].public_ip: '192.0.2.300' is not an IP address",
        "peers[node4].subnet: 10.99.4.0/24 is not inside network 10.244.0.0/16: every node's "
        "subnet comes from the cluster network of the family",
    ]
    assert boot_routes(ns) == ""


def test_duplicate_subnets_fail(underlay: tuple[str, str]) -> None:
    twin = {"name": "node3", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.13"}
    result = module(underlay[0], {**PRESENT, "peers": [PEER2, twin]})
    assert result["problems"] == [
        "peers[node3].subnet: 10.244.2.0/24 overlaps peers[node2]'s 10.244.2.0/24; every node "
        "needs its own subnet"
    ]


def test_missing_options_are_ansibles_shape_checks(underlay: tuple[str, str]) -> None:
    no_network = module(underlay[0], {"dev": "eth0"})
    assert no_network["failed"] is True
    assert "missing required arguments: network" in no_network["msg"]
    no_dev = module(underlay[0], {"network": "10.244.0.0/16"})
    assert no_dev["failed"] is True
    assert "state is present but all of the following are missing: dev" in no_dev["msg"]


def test_off_segment_peer_fails_naming_it_and_the_fix(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    far = {"name": "node3", "subnet": "10.244.3.0/24", "public_ip": "198.51.100.13"}
    result = module(ns, {**PRESENT, "peers": [PEER2, far]})
    assert result["failed"] is True
    assert result["problems"] == [
        "peer node3's public IP 198.51.100.13 is not on a segment of dev eth0 (no connected "
        "route of eth0 in table main holds it): host-gw needs every node on one L2 segment; "
        "use Backend.Type vxlan with DirectRouting true"
    ]
    assert boot_routes(ns) == ""  # node2's route was not written either


def test_without_pyroute2_fails_cleanly(underlay: tuple[str, str], tmp_path: Path) -> None:
    shadow = tmp_path / "pyroute2"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('pyroute2 is not installed here')\n")
    result = module(underlay[0], PRESENT, env={"PYTHONPATH": str(tmp_path)})
    assert result["failed"] is True
    assert "Failed to import the required Python library (pyroute2)" in result["msg"]
