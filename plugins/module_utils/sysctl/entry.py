"""The sysctl module's one adapter: what its main() and the boot restore both run.

run(params, check_mode, programs) -> Applied (changes, the --diff listings, `missing`).
It runs no program: /proc/sys is read and written directly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied
from .host import sync_sysctls


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label."""
    return "sysctl"


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the kernel parameters in `params["values"]` hold their values."""
    result = sync_sysctls(dict(params["values"]), bool(params["ignore_missing"]), check_mode)
    return Applied(
        result.changes,
        before=result.before,
        after=result.after,
        fields={"missing": result.missing},
    )
