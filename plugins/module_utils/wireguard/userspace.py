"""wireguard-go, the userspace WireGuard: start it for a device, and make sure it is gone.

`wireguard-go <dev>` creates a TUN device and the UAPI socket /var/run/wireguard/<dev>.sock
(which `wg` talks to), then daemonizes: the command returns once both exist, and the
daemon runs with /dev/null as stdin, stdout and stderr, so nothing keeps the module's
pipes open. On Linux it refuses to start unless WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1
is set (upstream's nudge towards the kernel module); podnet sets it only where the module's
`userspace` option allows wireguard-go and the kernel has no WireGuard.

It exits by itself when its TUN device is deleted, after closing its socket (measured:
about 1.5 s), which is why `stop` waits, and only then signals and cleans up after it.
The process is found by what it is: a wireguard-go whose last argument is the device, in
this network namespace (the lab runs one per node namespace, all named flannel-wg).
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from .keys import WgError

if TYPE_CHECKING:
    from .commands import Commands

SOCKET_DIR = "/var/run/wireguard"
ENVIRONMENT = {"WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1"}
EXIT_WAIT = 10.0  # seconds wireguard-go gets to exit after its device is deleted
TERM_WAIT = 5.0


def socket_path(ifname: str) -> str:
    return f"{SOCKET_DIR}/{ifname}.sock"


def start_wireguard_go(commands: Commands, program: str, ifname: str) -> None:
    """Create `ifname` as wireguard-go's TUN device; fail unless its UAPI socket appears."""
    commands.run(program, ifname, env=ENVIRONMENT)
    if not os.path.exists(socket_path(ifname)):
        raise WgError(
            f"{program} {ifname} returned but {socket_path(ifname)} does not exist, so wg "
            f"cannot configure it (is {SOCKET_DIR} writable and private to this namespace?)"
        )
    # The launcher makes the TUN and the socket, then returns while its daemon child takes
    # them over and sets the TUN's MTU to its own default (1420) once more. The child
    # answers on the socket only after that, so one answered query means an MTU set from
    # now on stays (seen in the lab: the plan's 1440 undone right after being set).
    commands.wg("show", ifname, "listen-port")


def is_wireguard_go_of(cmdline: Sequence[str], ifname: str, names: Iterable[str]) -> bool:
    """Whether a process's argument list is a wireguard-go serving `ifname`.

    >>> is_wireguard_go_of(["wireguard-go", "flannel-wg"], "flannel-wg", ["wireguard-go"])
    True
    >>> is_wireguard_go_of(["/usr/bin/wireguard-go", "-f", "flannel-wg-v6"], "flannel-wg",
    ...                    ["wireguard-go"])
    False
    """
    return (
        len(cmdline) >= 2 and cmdline[-1] == ifname and os.path.basename(cmdline[0]) in set(names)
    )


def find_wireguard_go(ifname: str, program: str, proc: str = "/proc") -> list[int]:
    """PIDs of the wireguard-go processes of `ifname` in this network namespace."""
    try:
        own_net = os.readlink(f"{proc}/self/ns/net")
    except OSError:
        return []
    names = {"wireguard-go", os.path.basename(program)}
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(f"{proc}/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().decode(errors="replace").rstrip("\0").split("\0")
            if not is_wireguard_go_of(cmdline, ifname, names):
                continue
            if os.readlink(f"{proc}/{entry}/ns/net") != own_net:
                continue
        except OSError:  # it exited while we looked, or is not ours to inspect
            continue
        found.append(int(entry))
    return found


def stop_wireguard_go(ifname: str, program: str, pids: Sequence[int]) -> None:
    """After `ifname` was deleted: wait for its wireguard-go `pids` to exit (SIGTERM the
    ones that do not), then remove the socket file if one was left behind."""
    alive = _wait(pids, EXIT_WAIT)
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    alive = _wait(alive, TERM_WAIT)
    if alive:
        raise WgError(
            f"{program} for {ifname} (pid {', '.join(map(str, alive))}) did not exit after "
            "its device was deleted and SIGTERM"
        )
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path(ifname))


def _wait(pids: Sequence[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    alive = list(pids)
    while alive:
        alive = [pid for pid in alive if _running(pid)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return alive


def _running(pid: int) -> bool:
    """Alive and not a zombie (a zombie has exited; only its parent's wait is missing)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            state = handle.read().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
