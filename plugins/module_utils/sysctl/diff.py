"""Wanted vs current kernel parameters -> the changes, in the order given.

Pure. Some parameters act on others (writing net.ipv6.conf.all.forwarding rewrites every
interface's forwarding), so the caller's order is the one that means something, and the
changes keep it.
"""

from __future__ import annotations

from ..core.changes import REPLACE, Change
from .state import Sysctl


def diff_sysctls(wanted: list[Sysctl], current: dict[str, str | None]) -> list[Change]:
    """One replace per parameter whose value differs; missing (ignored) ones are skipped."""
    changes = []
    for item in wanted:
        old = current.get(item.name)
        if old is not None and old != item.value:
            spec = {"path": item.path, "value": item.value, "old": old}
            reason = f"value: {old} vs {item.value}"
            changes.append(Change(REPLACE, "sysctl", item.name, reason, spec))
    return changes
