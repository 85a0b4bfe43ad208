"""The host's programs (`ip`, `wg`, `iptables-restore`, ...), as every entry reaches them.

A module passes `module_programs(module)` (AnsibleModule.run_command and get_bin_path); the
boot restore passes `SUBPROCESS`, which behaves the same with nothing of Ansible. Nothing
below `core` runs a program any other way, so unit tests hand in fakes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# get_bin_path's extra directories: a module finds ip/iptables there even when PATH lacks them.
SBIN = ("/sbin", "/usr/sbin", "/usr/local/sbin")

# run(args, data, env, binary_data) -> (rc, stdout, stderr)
Run = Callable[
    [Sequence[str], "str | None", "Mapping[str, str] | None", bool], tuple[int, str, str]
]


@dataclass(frozen=True)
class Programs:
    """How to find and run the host's programs, and how to keep a secret out of output.

    run: an argument list (never a shell), `data` on stdin (a newline appended unless
        `binary_data`), `env` over the inherited environment -> (rc, stdout, stderr).
    which: a program's absolute path, or None when it is not installed.
    hide: registers a secret that must never appear in output (Ansible's no_log values).
    """

    run: Run
    which: Callable[[str], str | None]
    hide: Callable[[str], object] = lambda _secret: None


def which(program: str) -> str | None:
    """AnsibleModule.get_bin_path(required=False): PATH, then the sbin directories."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    path += [directory for directory in SBIN if directory not in path]
    return shutil.which(program, path=os.pathsep.join(entry for entry in path if entry))


def run_command(
    args: Sequence[str],
    data: str | None = None,
    env: Mapping[str, str] | None = None,
    binary_data: bool = False,
) -> tuple[int, str, str]:
    """AnsibleModule.run_command with an argument list, through subprocess."""
    stdin_bytes = None
    if data:
        stdin_bytes = (data if binary_data else data + "\n").encode()
    done = subprocess.run(
        list(args),
        input=stdin_bytes,
        stdin=None if stdin_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, **dict(env or {})},
        check=False,
    )
    return done.returncode, _text(done.stdout), _text(done.stderr)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


SUBPROCESS = Programs(run_command, which)


def module_programs(module: Any) -> Programs:
    """The same, through an AnsibleModule (its run_command logs and honours no_log)."""

    def run(
        args: Sequence[str],
        data: str | None = None,
        env: Mapping[str, str] | None = None,
        binary_data: bool = False,
    ) -> tuple[int, str, str]:
        rc, out, err = module.run_command(
            list(args), data=data, binary_data=binary_data, environ_update=dict(env or {})
        )
        return rc, out, err

    return Programs(
        run=run,
        which=lambda name: module.get_bin_path(name, required=False),
        hide=module.no_log_values.add,
    )
