"""The restore's file step: put back a file the role wrote (`subnet.env`, the CNI
conflist) through the files module's own entry, so a replay writes, compares and reports a
file exactly as `podnet.fabric.files` does in a run.

    {"path": "/run/flannel/subnet.env", "mode": "0644", "content": "FLANNEL_NETWORK=..."}

At boot the file's directory may be gone with the rest of /run: it is made first (0755,
as the role makes it), only where it is missing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied, step_label
from ..files import entry as files_entry


def label(spec: Mapping[str, Any]) -> str:
    return step_label(f"file {spec.get('path')}", spec)


def run(spec: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make `path` hold `content` with `mode`; its directory is made where missing."""
    if not check_mode:
        parent = os.path.dirname(str(spec["path"])) or "."
        try:
            os.makedirs(parent, mode=0o755, exist_ok=True)
        except OSError as exc:
            raise PodnetError(f"{exc.filename or parent}: {exc.strerror}") from None
    applied = files_entry.run({"files": [dict(spec)]}, check_mode, programs)
    return Applied(applied.changes)
