"""/proc/sys/net files of the network namespace a netlink handle talks to.

A module runs inside its host's (or the lab node's) namespace, so plain file I/O is
right there. Tests and the benchmark instead drive a namespace from outside with
`IPRoute(netns=...)`, and /proc/sys/net always shows the namespace of the *thread* that
opens the file; for them `ProcNet(netns=name)` does each read or write on a short-lived
thread that first joins the namespace with setns(2), so the calling thread never moves.
"""

from __future__ import annotations

import ctypes
import os
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"


class ProcNet:
    """Read and write files under /proc/sys/net, in `netns` (a name under /run/netns)."""

    def __init__(self, netns: str | None = None) -> None:
        self.netns = netns

    def read(self, path: str) -> str | None:
        """The file's stripped text, or None if it does not exist or cannot be read."""

        def read() -> str | None:
            try:
                with open(f"/proc/sys/net/{path}", encoding="ascii") as handle:
                    return handle.read().strip()
            except OSError:
                return None

        return self._run(read)

    def write(self, path: str, value: str) -> None:
        def write() -> None:
            with open(f"/proc/sys/net/{path}", "w", encoding="ascii") as handle:
                handle.write(value)

        self._run(write)

    def _run(self, func: Callable[[], T]) -> T:
        if self.netns is None:
            return func()
        outcome: dict[str, object] = {}

        def in_namespace() -> None:
            try:
                _setns(os.path.join(NETNS_RUN_DIR, self.netns or ""))
                outcome["value"] = func()
            except BaseException as exc:  # handed to the calling thread below
                outcome["error"] = exc

        # setns(2) moves only the calling thread; this one ends right after, so no other
        # code ever runs in the wrong namespace.
        thread = threading.Thread(target=in_namespace, name="podnet-netns")
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]  # type: ignore[misc]
        return outcome["value"]  # type: ignore[return-value]


def _setns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.setns(fd, CLONE_NEWNET) != 0:
            code = ctypes.get_errno()
            raise OSError(code, f"setns({path}): {os.strerror(code)}")
    finally:
        os.close(fd)
