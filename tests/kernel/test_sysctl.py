"""podnet.fabric.sysctl against a real /proc/sys, in throwaway namespaces.

`net.*` parameters are per network namespace, so the module runs as a process under
`ip netns exec` and only ever changes the test's namespace. Values are read back straight
from /proc/sys inside the namespace, not from the module's report.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import run_module
from plugins.module_utils.sysctl import entry  # pytest's pythonpath holds the checkout

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test run's interpreter has ansible-core


def read(netns: str, path: str) -> str:
    """A /proc/sys file as the namespace sees it."""
    return subprocess.run(
        ["ip", "netns", "exec", netns, "cat", f"/proc/sys/{path}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture
def sysctl(netns: str) -> Callable[..., dict[str, Any]]:
    """Run the module in `netns`: sysctl(values, check=False, **options) -> result."""
    # A new namespace copies the IPv4 settings of the host's (devconf_inherit_init_net=0):
    # on a host where a container engine turned forwarding on, it would start at 1.
    subprocess.run(
        ["ip", "netns", "exec", netns, "sysctl", "-qw", "net.ipv4.ip_forward=0"], check=True
    )

    def run(values: dict[str, Any], check: bool = False, **options: Any) -> dict[str, Any]:
        args = {"values": values, **options, "_ansible_check_mode": check, "_ansible_diff": True}
        return run_module(netns, "sysctl", args)

    return run


def test_sets_then_changes_nothing(netns, sysctl):
    assert read(netns, "net/ipv4/ip_forward") == "0"

    first = sysctl({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": "1"})

    assert first["changed"] is True, first
    assert first["changes"] == [
        {
            "op": "replace",
            "kind": "sysctl",
            "key": "net.ipv4.ip_forward",
            "reason": "value: 0 vs 1",
        },
        {
            "op": "replace",
            "kind": "sysctl",
            "key": "net.ipv6.conf.all.forwarding",
            "reason": "value: 0 vs 1",
        },
    ]
    assert read(netns, "net/ipv4/ip_forward") == "1"
    assert read(netns, "net/ipv6/conf/all/forwarding") == "1"

    second = sysctl({"net.ipv4.ip_forward": 1, "net.ipv6.conf.all.forwarding": "1"})
    assert second["changed"] is False
    assert second["changes"] == []


def test_check_mode_reports_and_writes_nothing(netns, sysctl):
    result = sysctl({"net.ipv4.ip_forward": 1}, check=True)

    assert result["changed"] is True
    assert result["diff"] == {
        "before": "net.ipv4.ip_forward = 0\n",
        "after": "net.ipv4.ip_forward = 1\n",
    }
    assert read(netns, "net/ipv4/ip_forward") == "0"


def test_interface_with_a_dot_in_both_spellings(netns, sysctl):
    # flannel's VXLAN device name has a dot; veth stands in (this kernel has no dummy).
    subprocess.run(
        ["ip", "-n", netns, "link", "add", "flannel.1", "type", "veth", "peer", "flannel-peer"],
        check=True,
    )
    assert read(netns, "net/ipv6/conf/flannel.1/accept_ra") == "1"

    result = sysctl({"net.ipv6.conf.flannel/1.accept_ra": 0})

    assert [c["key"] for c in result["changes"]] == ["net.ipv6.conf.flannel/1.accept_ra"]
    assert read(netns, "net/ipv6/conf/flannel.1/accept_ra") == "0"
    # The path spelling names the same file: nothing left to change.
    assert sysctl({"net/ipv6/conf/flannel.1/accept_ra": "0"})["changed"] is False


def test_whitespace_in_values_is_folded(netns, sysctl):
    sysctl({"net.ipv4.ip_local_port_range": "20000 30000"})
    assert read(netns, "net/ipv4/ip_local_port_range") == "20000\t30000"

    result = sysctl({"net.ipv4.ip_local_port_range": " 20000   30000 "})

    assert result["changed"] is False, result["changes"]


def test_missing_key_fails_with_why_unless_ignored(netns, sysctl):
    values = {"net.ipv6.conf.flannel/1.accept_ra": 0, "net.ipv4.ip_forward": 1}

    failed = sysctl(values)

    assert failed["failed"] is True
    assert failed["msg"] == (
        "values[net.ipv6.conf.flannel/1.accept_ra]: /proc/sys/net/ipv6/conf/flannel.1/accept_ra "
        "does not exist: there is no interface flannel.1 (yet); set ignore_missing: true to skip "
        "parameters that are not there"
    )
    assert read(netns, "net/ipv4/ip_forward") == "0"  # nothing written before failing

    skipped = sysctl(values, ignore_missing=True)

    assert skipped["missing"] == ["net.ipv6.conf.flannel/1.accept_ra"]
    assert [c["key"] for c in skipped["changes"]] == ["net.ipv4.ip_forward"]
    assert read(netns, "net/ipv4/ip_forward") == "1"


def test_bad_input_and_refused_values(netns, sysctl):
    bad = sysctl({"net.ipv4.ip_forward": True, "net..ipv4": 1, "net/ipv4/../../x": 1})

    assert bad["problems"] == [
        "values[net.ipv4.ip_forward]: True is a boolean: write 1 or 0",
        "values[net..ipv4]: the name has an empty level: write it like net.ipv4.ip_forward",
        "values[net/ipv4/../../x]: the name has a level '.' or '..', which would leave /proc/sys",
    ]

    refused = sysctl({"net.ipv4.ip_forward": "yes"})

    assert refused["failed"] is True
    assert refused["msg"].startswith(
        "values[net.ipv4.ip_forward]: the kernel refused 'yes' for /proc/sys/net/ipv4/ip_forward"
    )
    assert read(netns, "net/ipv4/ip_forward") == "0"


def test_the_restore_labels_the_step_sysctl() -> None:
    assert entry.label({"values": {"net.ipv4.ip_forward": 1}, "ignore_missing": False}) == "sysctl"
