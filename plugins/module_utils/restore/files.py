"""The restore's file step: put back a file the role wrote with ansible.builtin.copy
(`subnet.env`, the CNI conflist), with the same skeleton as every backend:
read (content and mode) -> want -> diff -> apply (one atomic write) -> re-read -> verify.

    {"path": "/run/flannel/subnet.env", "mode": "0644", "content": "FLANNEL_NETWORK=..."}
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Optional

from ..core.changes import ADD, REPLACE, Change
from ..core.errors import PodnetError
from ..core.files import write_atomically
from ..core.programs import Programs
from ..core.reconcile import reconcile
from ..core.shell import Applied

# (content, mode): what is there (None, None when the file is missing) or what is wanted.
# Optional, not `X | None`: this alias is evaluated at import, and hosts run Python 3.9.
FileState = tuple[Optional[bytes], Optional[int]]


def label(spec: Mapping[str, Any]) -> str:
    return f"file {spec.get('path')}"


def run(spec: Mapping[str, Any], check_mode: bool, programs: Programs | None = None) -> Applied:
    """Make `path` hold `content` with `mode`, as ansible.builtin.copy would."""
    path, content = str(spec["path"]), str(spec["content"]).encode()
    mode = int(str(spec["mode"]), 8)

    def read() -> FileState:
        try:
            with open(path, "rb") as handle:
                current = handle.read()
            return current, os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            return None, None
        except OSError as exc:
            raise PodnetError(f"{path}: {exc.strerror}") from None

    def apply(_wanted: FileState, _seen: FileState, _changes: list[Change]) -> None:
        try:
            os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
            write_atomically(path, content, mode)
        except OSError as exc:
            raise PodnetError(f"{exc.filename or path}: {exc.strerror}") from None

    result = reconcile(
        read=read,
        want=lambda _seen: (content, mode),
        diff=lambda wanted, seen: diff_file(path, wanted, seen),
        apply=apply,
        check_mode=check_mode,
        differs=lambda _wanted, left: PodnetError(
            f"{path}: still differs after writing it ({left[0].reason}): something else "
            "rewrites it; stop that, then run again"
        ),
    )
    return Applied(result.changes)


def diff_file(path: str, wanted: FileState, seen: FileState) -> list[Change]:
    """One change at most: the file is added, or replaced for its content or its mode.

    >>> diff_file("/f", (b"A=1", 0o644), (b"A=1", 0o600))[0].reason
    'mode: 0600 vs 0644'
    """
    (content, mode), (current, current_mode) = wanted, seen
    if current is None:
        return [Change(ADD, "file", path, "missing")]
    if current != content:
        return [Change(REPLACE, "file", path, "content differs")]
    if current_mode != mode:
        return [Change(REPLACE, "file", path, f"mode: {current_mode:04o} vs {mode:04o}")]
    return []
