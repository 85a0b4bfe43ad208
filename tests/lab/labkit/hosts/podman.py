"""podman as this machine can run it: one place for the flags every call needs.

runc, not crun (crun refuses this machine's hybrid cgroup layout); cgroupfs and a file for
events, because systemd is not PID 1 here (no D-Bus, no journald for podman to talk to).
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence

from ..system import CommandFailed, LabError, run

PODMAN_FLAGS = ("--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file")


def podman(*argv: str, check: bool = True, stdin: str | None = None, where: str = "") -> str:
    """Run `podman <flags> argv`; its stdout, stripped."""
    if shutil.which("podman") is None:
        raise LabError("the hosts lab needs podman: apt-get install podman runc debootstrap")
    return run(
        ["podman", *PODMAN_FLAGS, *argv], check=check, stdin=stdin, where=where
    ).stdout.strip()


def exists(kind: str, name: str) -> bool:
    """Whether the container or image `name` exists (kind: "container" or "image")."""
    if shutil.which("podman") is None:
        return False
    try:
        podman(kind, "exists", name)
    except CommandFailed:
        return False
    return True


def names(kind: str, prefix: str, fmt: str = "{{.Names}}") -> list[str]:
    """Containers (kind "ps") or images ("images") whose name starts with `prefix`."""
    if shutil.which("podman") is None:
        return []
    argv: Sequence[str] = (
        ("ps", "-a", "--format", fmt)
        if kind == "ps"
        else ("images", "--format", "{{.Repository}}:{{.Tag}}")
    )
    return [n for n in podman(*argv).splitlines() if n.startswith(prefix)]
