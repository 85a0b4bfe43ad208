"""Kernel tests: real netlink in throwaway network namespaces (root only).

A skip here is loud on purpose: `make test` runs as root on the CI machine, so a skipped
kernel test there means a feature went untested, and pytest's summary says so.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# Every namespace a test makes carries this prefix, so a crashed run's leftovers are
# recognisable (and removed by `make lab-down`).
NETNS_PREFIX = "podnet-test-"


def _root_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: kernel tests need root (network namespaces)")


def run_module(
    netns: str, name: str, args: dict[str, Any], env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run podnet.fabric.<name> as Ansible runs it: its main(), the arguments as JSON, in a
    process inside `netns`, so it opens its own netlink handle and /proc/sys there."""
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
    done = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-m", f"plugins.modules.{name}", payload],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
    )
    try:
        result: dict[str, Any] = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(f"no JSON from the module: {done.stdout}{done.stderr}") from None
    return result


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    """Run iproute2's `ip`, in `netns` if given; return stdout."""
    command = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(command, check=check, capture_output=True, text=True).stdout


@pytest.fixture
def netns() -> Iterator[str]:
    """A fresh, empty network namespace with `lo` up; removed afterwards."""
    _root_or_skip()
    name = NETNS_PREFIX + uuid.uuid4().hex[:8]
    ip("netns", "add", name)
    try:
        ip("link", "set", "lo", "up", netns=name)
        yield name
    finally:
        ip("netns", "del", name, check=False)


@pytest.fixture
def underlay(netns: str) -> Iterator[tuple[str, str]]:
    """`netns` with an `eth0` carrying 192.0.2.11/24, MTU 1500, up: the underlay.

    eth0 is one end of a veth pair whose other end stays in the same namespace (the
    kernel here has no dummy devices).

    Yields (netns, interface name).
    """
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer", netns=netns)
    ip("addr", "add", "192.0.2.11/24", "dev", "eth0", netns=netns)
    ip("link", "set", "eth0", "up", netns=netns)
    ip("link", "set", "eth0-peer", "up", netns=netns)
    yield netns, "eth0"
