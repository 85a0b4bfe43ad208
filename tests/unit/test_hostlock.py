"""The host lock: a second holder waits, then gets it; one that waits too long is told who
holds it. Real flocks between two processes, on a file in a temporary directory."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from plugins.module_utils.core.hostlock import HostBusyError, host_lock, lock_path

from podnet.cli.files import lease_lock
from podnet.errors import ValidationError

HOLD = """
import sys, time
from plugins.module_utils.core.hostlock import host_lock
with host_lock("podnet module vxlan", path=sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""
REPO = Path(__file__).resolve().parents[2]


def holder(path: Path, seconds: float) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_run_waits_for_the_first_then_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "host.lock"
    first = holder(path, 1.0)
    started = time.monotonic()
    with host_lock("podnet module masquerade", wait=10, path=str(path)):
        waited = time.monotonic() - started
    first.wait(timeout=10)
    assert 0.5 < waited < 5, waited


def test_one_that_waits_too_long_is_told_who_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "host.lock"
    first = holder(path, 5.0)
    try:
        with (
            pytest.raises(HostBusyError) as caught,
            host_lock("podnet module masquerade", wait=0.5, path=str(path)),
        ):
            raise AssertionError("got a held lock")
    finally:
        first.kill()
        first.wait()
    message = str(caught.value)
    assert "(podnet module vxlan) since" in message and str(path) in message
    assert "waited 0 s" in message or "waited 1 s" in message
    with host_lock("after", wait=2, path=str(path)):  # a dead holder holds nothing
        pass


def test_the_lock_is_the_network_namespaces() -> None:
    assert lock_path().endswith(f"podnet-netns-{Path('/proc/self/ns/net').stat().st_ino}.lock")


LEASE_HOLD = """
import sys, time
from pathlib import Path
from podnet.cli.files import lease_lock
with lease_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_the_lease_file_is_planned_by_one_run_at_a_time(tmp_path: Path) -> None:
    lease_file = tmp_path / "podnet-leases.yml"
    argv = [sys.executable, "-c", LEASE_HOLD, str(lease_file), "3"]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as first:
        assert first.stdout is not None and first.stdout.readline().strip() == "held"
        with pytest.raises(ValidationError) as caught, lease_lock(lease_file, wait=0.5):
            raise AssertionError("got a held lock")
        assert caught.value.problems[0].startswith(f"podnet_lease_file: {lease_file}: another")
        started = time.monotonic()
        with lease_lock(lease_file, wait=10):
            assert time.monotonic() - started > 1  # it waited for the first run
    assert list(tmp_path.iterdir()) == []  # no lock file next to the lease file
