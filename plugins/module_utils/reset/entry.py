"""The reset_facts module's one adapter: read the host, decide, change nothing.

run(params, check_mode, programs) -> Applied (no changes; the answers as fields)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied
from .decide import decide
from .host import read_host


def run(
    params: Mapping[str, Any],
    check_mode: bool,
    programs: Programs,
    read: Callable[[Mapping[str, Any]], dict[str, Any]] = read_host,
) -> Applied:
    """reset.yml's answers for this host (check mode changes nothing: nothing is written)."""
    return Applied([], fields=decide(params, read(params)))
