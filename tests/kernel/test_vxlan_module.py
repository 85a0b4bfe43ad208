"""podnet.fabric.vxlan as Ansible runs it: its `main()`, arguments as JSON, in a process
under `ip netns exec`, so the module opens its own netlink handle and /proc/sys inside the
test's namespace, exactly as on a node. The kernel is read back with iproute2.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ip, run_module

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test run's interpreter has ansible-core and pyroute2
MAC, MAC2 = "0a:00:00:00:01:01", "0a:00:00:00:02:02"
PEER2 = {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12", "vtep_mac": MAC2}
PRESENT = {
    "dev": "eth0",
    "local": "192.0.2.11",
    "mtu": 1450,
    "vtep_mac": MAC,
    "subnet": "10.244.1.0/24",
    "network": "10.244.0.0/16",
    "peers": [PEER2],
}


def module(netns: str, args: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    return run_module(netns, "vxlan", args, env)


def test_apply_then_nothing_with_diff(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    first = module(ns, {**PRESENT, "_ansible_diff": True})
    assert first["changed"] is True, first
    assert first["ifname"] == "flannel.1"
    assert [(c["op"], c["kind"], c["key"]) for c in first["changes"]] == [
        ("add", "link", "flannel.1"),
        ("add", "addr", "10.244.1.0/32"),
        ("add", "neigh", "10.244.2.0"),
        ("add", "fdb", f"{MAC2} dst 192.0.2.12"),
        ("add", "route", "10.244.2.0/24"),
    ]
    assert first["diff"]["before"]["device"] is None
    after = first["diff"]["after"]
    assert after["device"]["mtu"] == 1450 and after["device"]["dev"] == "eth0"
    assert after["routes"] == {"10.244.2.0/24": "via 10.244.2.0 dev flannel.1 onlink proto boot"}
    assert after["fdb"] == {f"{MAC2} dst 192.0.2.12": "self permanent"}
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in ip("route", netns=ns)
    accept_ra = subprocess.run(
        ["ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv6/conf/flannel.1/accept_ra"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert accept_ra == "0"

    second = module(ns, {**PRESENT, "_ansible_diff": True})
    assert (second["changed"], second["changes"]) == (False, [])
    assert second["diff"]["before"] == second["diff"]["after"] == after


def test_a_renumbered_node_converges_in_one_run_and_keeps_its_peers(
    underlay: tuple[str, str],
) -> None:
    """The node's own subnet changes (a pin): one run, and its peers' objects stay."""
    ns = underlay[0]
    module(ns, PRESENT)
    renumbered = module(ns, {**PRESENT, "subnet": "10.244.77.0/24"})
    assert not renumbered.get("failed"), renumbered.get("msg")
    assert [(c["op"], c["kind"], c["key"]) for c in renumbered["changes"]] == [
        ("add", "addr", "10.244.77.0/32"),
        ("delete", "addr", "10.244.1.0/32"),
    ]
    assert "10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink" in ip("route", netns=ns)
    assert "10.244.2.0 lladdr" in ip("neigh", "show", "dev", "flannel.1", netns=ns)
    assert not module(ns, {**PRESENT, "subnet": "10.244.77.0/24"})["changed"]


def test_check_mode_writes_nothing(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(ns, {**PRESENT, "_ansible_check_mode": True})
    assert result["changed"] is True and len(result["changes"]) == 5
    assert "flannel.1" not in ip("-o", "link", netns=ns)
    assert "10.244." not in ip("route", netns=ns)


def test_absent(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    module(ns, PRESENT)
    result = module(ns, {"state": "absent", "network": "10.244.0.0/16"})
    assert [(c["op"], c["kind"]) for c in result["changes"]] == [("delete", "link")]
    assert "flannel.1" not in ip("-o", "link", netns=ns)
    assert module(ns, {"state": "absent"})["changed"] is False


def test_bad_input_fails_naming_fields_and_changes_nothing(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(
        ns,
        {
            **PRESENT,
            "subnet": "10.244.1.1/24",
            "vtep_mac": "nope",
            "peers": [{**PEER2, "public_ip": "192.0.2.300"}],
        },
    )
    assert result["failed"] is True
    assert result["problems"] == [
        "vtep_mac: 'nope' is not a MAC address (aa:bb:cc:dd:ee:ff)",
        "subnet: 10.244.1.1/24 has host bits set; did you mean 10.244.1.0/24?",
        "peers[node2].public_ip: '192.0.2.300' is not an IP address",
    ]
    assert "flannel.1" not in ip("-o", "link", netns=ns)


def test_missing_required_option_is_ansibles_shape_check(underlay: tuple[str, str]) -> None:
    result = module(underlay[0], {"local": "192.0.2.11"})
    assert result["failed"] is True
    assert "state is present but all of the following are missing" in result["msg"]
    assert "dev" in result["msg"] and "vtep_mac" in result["msg"]


def test_missing_underlay_fails_before_any_write(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(ns, {**PRESENT, "dev": "eth9"})
    assert result["failed"] is True
    assert "dev: 'eth9' does not exist on this host" in result["msg"]
    assert "flannel.1" not in ip("-o", "link", netns=ns)


def test_without_pyroute2_fails_cleanly(underlay: tuple[str, str], tmp_path: Path) -> None:
    shadow = tmp_path / "pyroute2"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('pyroute2 is not installed here')\n")
    result = module(underlay[0], PRESENT, env={"PYTHONPATH": str(tmp_path)})
    assert result["failed"] is True
    assert "Failed to import the required Python library (pyroute2)" in result["msg"]


def test_a_peer_table_builds_what_the_peer_list_builds(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    me = f"node1 10.244.1.0/24 192.0.2.11 {MAC}\n"  # the node itself: skipped
    table = me + f"node2 10.244.2.0/24 192.0.2.12 {MAC2}\n"
    first = module(ns, {**PRESENT, "peers": [], "peer_table": table})
    assert [c["key"] for c in first["changes"]][-1] == "10.244.2.0/24"
    assert first["args"]["peer_table"] == table  # what the boot restore records
    # The list form of the same peers finds nothing to do: same objects, either way.
    assert module(ns, PRESENT)["changed"] is False


def test_a_bad_peer_table_fails_with_the_peer_lists_messages(underlay: tuple[str, str]) -> None:
    ns = underlay[0]
    result = module(
        ns, {**PRESENT, "peers": [], "peer_table": f"node2 10.244.2.0/24 192.0.2.300 {MAC2}\n"}
    )
    assert result["failed"] is True
    assert result["problems"] == ["peers[node2].public_ip: '192.0.2.300' is not an IP address"]
    assert "flannel.1" not in ip("-o", "link", netns=ns)
