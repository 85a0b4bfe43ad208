"""The one read of the host that reset's decisions need: which of podnet's paths exist,
the entries of the directories podnet may remove, subnet.env, the conflist, the boot unit
and its enablement links, whether systemd runs, the mount points and the devices.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..devices.host import read_ifnames
from .decide import conflist_path

UNIT = "podnet-restore.service"
# sd_booted(3): systemd runs this host (never in the lab, whose nodes share the host's /run
# but keep their unit in a private directory).
SYSTEMD_RUNS = "/run/systemd/system"
MOUNTINFO = "/proc/self/mountinfo"


def read_host(params: Mapping[str, Any]) -> dict[str, Any]:
    """What decide() reads, as plain data."""
    subnet_env = params["subnet_env_path"]
    entries = {
        directory: sorted(os.path.join(directory, name) for name in os.listdir(directory))
        for directory in (params["state_dir"], os.path.dirname(subnet_env))
        if os.path.isdir(directory)
    }
    unit_files = find_units(params["unit_dir"])
    unit = os.path.join(params["unit_dir"], UNIT)
    return {
        "entries": entries,
        "subnet_env": read_text(subnet_env)
        if subnet_env in entries.get(os.path.dirname(subnet_env), [])
        else None,
        "conflist": read_text(conflist_path(params)),
        "unit_files": unit_files,
        "systemd_runs": unit in unit_files and os.path.lexists(SYSTEMD_RUNS),
        "mountinfo": read_text(MOUNTINFO) or "",
        "ifnames": read_ifnames(),
    }


def find_units(unit_dir: str) -> list[str]:
    """The unit and its enablement links (any kind of entry named so) under `unit_dir`,
    sorted; symbolic links to directories are not followed."""
    found: list[str] = []
    for root, dirs, files in os.walk(unit_dir):
        found.extend(os.path.join(root, name) for name in [*dirs, *files] if name == UNIT)
    return sorted(found)


def read_text(path: str) -> str | None:
    """The file's text (undecodable bytes replaced), or None when there is none."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
