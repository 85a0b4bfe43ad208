"""One lock per network namespace: podnet's changes to a host never run two at a time.

Two runs at once (a CI pipeline and an operator, two operators, a run and the boot restore)
would otherwise interleave read -> diff -> apply: both see a jump missing, both add it, and
the second's verify finds two. Every podnet module (core.shell.finish) and the boot restore
(the whole replay) hold this lock while they work, so the second waits for the first and
then finds nothing left to do.

The lock is the network namespace's, not the machine's: what is serialized is one kernel
network state (the lab's nodes share this machine's /run but not their namespaces). It is
an flock, so a process that dies lets go of it; the file says who holds it, for the message
of whoever waits too long.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .errors import PodnetError

LOCK_DIRS = ("/run/lock", "/run", "/tmp")
WAIT_SECONDS = 300.0
_POLL_SECONDS = 0.2


class HostBusyError(PodnetError):
    """Another podnet run kept the host's lock longer than this one would wait."""


def lock_path() -> str:
    """This network namespace's lock file (named by the namespace's inode)."""
    inode = os.stat("/proc/self/ns/net").st_ino
    directory = next((d for d in LOCK_DIRS if os.access(d, os.W_OK)), "/tmp")
    return os.path.join(directory, f"podnet-netns-{inode}.lock")


@contextmanager
def host_lock(who: str, wait: float = WAIT_SECONDS, path: str | None = None) -> Iterator[None]:
    """Hold the namespace's lock for the block, waiting up to `wait` seconds for it.

    Raises:
        HostBusyError: still held by another run after `wait` seconds; names the holder.
    """
    path = path or lock_path()
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise HostBusyError(_busy(fd, path, wait)) from None
                time.sleep(_POLL_SECONDS)
        holder = f"pid {os.getpid()} ({who}) since {time.strftime('%H:%M:%S')}\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, holder.encode(), 0)
        yield
    finally:
        os.close(fd)  # closing lets go of the flock


def _busy(fd: int, path: str, wait: float) -> str:
    holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "a process"
    return (
        f"another podnet run is changing this host: {holder} holds {path}, and this one "
        f"({os.path.basename(sys.argv[0]) or 'podnet'}) waited {wait:.0f} s for it. Let it "
        "finish (two runs at once on one fleet wait for each other, host by host), then run "
        "again; if that process is gone, the lock is free already."
    )
