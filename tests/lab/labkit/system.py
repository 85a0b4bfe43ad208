"""Running commands, reading the mount table, preflight checks and the lab lock.

The lab drives the kernel through the same tools a person would type (ip, nsenter,
unshare, mount), so every step can be replayed by hand from an error message.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .errors import LabError
from .layout import CNI_BIN_DIR, LOCK_FILE, VENV_PYTHON


class CommandFailed(LabError, subprocess.CalledProcessError):
    """A command exited non-zero; also a CalledProcessError, for callers that expect one."""

    def __init__(self, proc: subprocess.CompletedProcess[str], where: str = "") -> None:
        subprocess.CalledProcessError.__init__(
            self, proc.returncode, proc.args, proc.stdout, proc.stderr
        )
        self.where = where

    def __str__(self) -> str:
        argv = self.cmd if isinstance(self.cmd, str) else " ".join(map(str, self.cmd))
        detail = (self.stderr or self.stdout or "").strip()
        where = f"{self.where}: " if self.where else ""
        return f"{where}`{argv}` exited {self.returncode}" + (f": {detail}" if detail else "")


def run(
    argv: Sequence[str | os.PathLike[str]],
    *,
    check: bool = True,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    where: str = "",
) -> subprocess.CompletedProcess[str]:
    """Run `argv`, capturing text output; raise CommandFailed (with stderr) if `check`."""
    proc = subprocess.run(
        [str(a) for a in argv],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=None if env is None else dict(env),
    )
    if check and proc.returncode != 0:
        raise CommandFailed(proc, where)
    return proc


def ip_json(*args: str, netns: str | None = None) -> list[dict[str, Any]]:
    """`ip -j <args>`, parsed; [] when the object does not exist."""
    proc = run(["ip", *(["-n", netns] if netns else []), "-j", *args], check=False)
    if proc.returncode != 0 or not proc.stdout.strip():
        return []
    result: list[dict[str, Any]] = json.loads(proc.stdout)
    return result


def link_exists(name: str) -> bool:
    """Whether a link of that name exists in the host namespace (no process spawned)."""
    return Path("/sys/class/net", name).exists()


def link_master(name: str) -> str | None:
    """The bridge a host link is a port of, None if it is none's or does not exist."""
    master = Path("/sys/class/net", name, "master")
    return os.path.basename(os.readlink(master)) if master.is_symlink() else None


def _unescape(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def mounts() -> list[tuple[str, str]]:
    """The host's mount table as (mount point, fstype), in mount order."""
    table = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        table.append((_unescape(left.split()[4]), right.split()[0]))
    return table


def is_mounted(path: Path, fstype: str | None = None) -> bool:
    """Whether `path` is a mount point (of `fstype`, if given)."""
    return any(p == str(path) and fstype in (None, t) for p, t in mounts())


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path`, deepest first (the order to unmount them)."""
    inside = {p for p, _ in mounts() if p == str(path) or p.startswith(f"{path}/")}
    return sorted(inside, key=lambda p: p.count("/"), reverse=True)


def unmount_all(path: Path) -> None:
    """Unmount everything at or below `path`, stacked mounts included."""
    for _ in range(100):  # a crashed `up` may have stacked the same bind several times
        points = mounts_under(path)
        if not points:
            return
        for point in points:
            # Lazy as a fallback only: a plain umount failing means someone still uses it.
            if run(["umount", point], check=False).returncode != 0:
                run(["umount", "-l", point], where=f"unmounting {point}")
    raise LabError(f"{path}: mounts keep reappearing below it; check `findmnt -R {path}`")


# tool -> the Debian package that ships it (the hint in the error).
_TOOLS = {
    "ip": "iproute2",
    "nsenter": "util-linux",
    "unshare": "util-linux",
    "mount": "mount",
    "umount": "mount",
    "ping": "iputils-ping",
    "sysctl": "procps",
}


def require_root() -> None:
    """Fail early, with the fix, when not root: every step needs CAP_SYS_ADMIN/NET_ADMIN."""
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network and mount namespaces): run it as root")


def preflight() -> None:
    """Check root, tools and the venv before touching anything, reporting every gap."""
    require_root()
    problems = [
        f"missing `{tool}`: apt-get install {package}"
        for tool, package in _TOOLS.items()
        if shutil.which(tool) is None
    ]
    if not VENV_PYTHON.exists():
        problems.append(f"missing {VENV_PYTHON}: run `make bootstrap` in {VENV_PYTHON.parents[2]}")
    if problems:
        raise LabError("cannot build the lab:\n  " + "\n  ".join(problems))


def require_cni_plugins(types: Sequence[str], bin_dir: Path = CNI_BIN_DIR) -> None:
    """Every plugin a conflist names must be in bin_dir; say which package has it."""
    missing = [t for t in types if not (bin_dir / t).exists()]
    if not missing:
        return
    hints = []
    for plugin in missing:
        if plugin == "flannel":
            hints.append(
                f"missing {CNI_BIN_DIR}/flannel: Debian does not ship flannel's CNI binary; "
                "use podnet_cni_mode: bridge in the lab"
            )
        else:
            hints.append(
                f"missing {CNI_BIN_DIR}/{plugin}: apt-get install containernetworking-plugins"
            )
    raise LabError("\n".join(hints))


# The lock is per process and re-entrant (fresh_lab = down + up under one lock); the flock
# serialises processes: two `up`s at once would race on the same bridge and namespaces.
_lock_depth = threading.local()


@contextmanager
def lab_lock() -> Iterator[None]:
    """Hold the lab's lock (flock on LOCK_FILE) for the duration of a change."""
    depth = getattr(_lock_depth, "n", 0)
    if depth:
        _lock_depth.n = depth + 1
        try:
            yield
        finally:
            _lock_depth.n = depth
        return
    LOCK_FILE.parent.mkdir(parents=True, exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        _lock_depth.n = 1
        try:
            yield
        finally:
            _lock_depth.n = 0
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_atomic(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `path` via a temporary file and rename, so readers never see half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(mode)
    tmp.replace(path)
