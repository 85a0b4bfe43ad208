"""Processes living inside the lab's network namespaces, found through /proc.

A process keeps its network namespace alive after `ip netns del` removes the name, with
every device in it. wireguard-go is the one the lab expects: the role starts it inside a
node (userspace WireGuard where the kernel has none), it daemonizes, and its TUN device
flannel-wg and control socket /run/wireguard/flannel-wg.sock belong to that node. So
removing a node stops the wireguard-go processes inside it first. Any other process
found there (a shell someone opened with `lab.py exec`) is shown by `status` and named
by `down`, but not killed: it is not the lab's.

A process is inside a namespace when /proc/<pid>/ns/net is the same nsfs inode as the
namespace's file under /run/netns (which `ip netns add` bind-mounts from that inode).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

WIREGUARD_GO = "wireguard-go"  # its comm (at most 15 characters, so not truncated)
_STOP_WAIT = 3.0  # seconds between SIGTERM and SIGKILL; wireguard-go exits in milliseconds


@dataclass(frozen=True, slots=True)
class LabProcess:
    """A process inside one of the lab's network namespaces."""

    pid: int
    comm: str
    netns: str  # the namespace's name, e.g. podnet-lab-node1

    def __str__(self) -> str:
        return f"{self.comm}[{self.pid}] in {self.netns}"


def processes_in(netns_paths: Iterable[Path]) -> list[LabProcess]:
    """Every process whose network namespace is one of `netns_paths`, by pid."""
    wanted: dict[tuple[int, int], str] = {}
    for path in netns_paths:
        try:
            st = os.stat(path)
        except FileNotFoundError:
            continue
        wanted[(st.st_dev, st.st_ino)] = path.name
    if not wanted:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
        except OSError:  # exited meanwhile
            continue
        netns = wanted.get((st.st_dev, st.st_ino))
        if netns is not None:
            found.append(LabProcess(int(entry), comm, netns))
    return sorted(found, key=lambda p: p.pid)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    # "pid (comm) S ...": a zombie (Z) has let go of its namespaces already.
    return status.rpartition(")")[2].split()[0] != "Z"


def stop(processes: Iterable[LabProcess]) -> list[LabProcess]:
    """SIGTERM each, SIGKILL whatever is left after a few seconds; return those stopped."""
    targets = list(processes)
    for each in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(each.pid, signal.SIGTERM)
    deadline = time.monotonic() + _STOP_WAIT
    while any(_alive(p.pid) for p in targets) and time.monotonic() < deadline:
        time.sleep(0.02)
    for each in targets:
        if _alive(each.pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(each.pid, signal.SIGKILL)
    deadline = time.monotonic() + 1.0  # SIGKILL cannot be refused; the exit is asynchronous
    while any(_alive(p.pid) for p in targets) and time.monotonic() < deadline:
        time.sleep(0.02)
    return targets


def stop_wireguard_go(netns_paths: Iterable[Path]) -> list[LabProcess]:
    """Stop every wireguard-go inside `netns_paths`; return what was stopped."""
    return stop(p for p in processes_in(netns_paths) if p.comm == WIREGUARD_GO)
