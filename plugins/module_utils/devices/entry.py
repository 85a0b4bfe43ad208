"""The stale_devices module's one adapter: find the flannel devices the plan does not keep
and remove each through its backend's own entry (vxlan or wireguard, state=absent), so a
device goes exactly as its module would remove it.

    run(params, check_mode, programs) -> Applied (the backends' changes in order, a --diff
    view per device, `stale`: the devices removed, or that would be in check mode)

Every backend's failure is collected and raised once, naming each device.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ..core.changes import Change
from ..core.errors import PodnetError, listing
from ..core.programs import Programs
from ..core.shell import Applied
from ..vxlan import entry as vxlan_entry
from ..wireguard import entry as wireguard_entry
from .host import read_ifnames
from .want import compute_removals

# A backend's entry: run(params, check_mode, programs) -> Applied.
Entry = Callable[[Mapping[str, Any], bool, Programs], Applied]


def backend_entries() -> dict[str, Entry]:
    """The backends' entries (a function, so that tests hand in fakes)."""
    return {"vxlan": vxlan_entry.run, "wireguard": wireguard_entry.run}


def run(
    params: Mapping[str, Any],
    check_mode: bool,
    programs: Programs,
    read: Callable[[], list[str]] = read_ifnames,
    entries: Callable[[], Mapping[str, Entry]] = backend_entries,
) -> Applied:
    """Remove the flannel devices not in `params` (vni, wireguard_devices)."""
    removals = compute_removals(read(), params.get("vni"), params.get("wireguard_devices") or [])
    if not removals:
        return Applied([], before={}, after={}, fields={"stale": []})
    backends = entries()
    changes: list[Change] = []
    warnings: list[str] = []
    problems: list[str] = []
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for removal in removals:
        try:
            applied = backends[removal.backend](removal.params, check_mode, programs)
        except PodnetError as exc:
            problems.extend(f"{removal.ifname}: {problem}" for problem in exc.problems)
            continue
        changes.extend(applied.changes)
        warnings.extend(applied.warnings)
        before[removal.ifname] = applied.before
        after[removal.ifname] = applied.after
    if problems:
        raise PodnetError(listing("cannot remove the devices not in the plan", problems), problems)
    return Applied(
        changes,
        before=before,
        after=after,
        fields={"stale": [removal.ifname for removal in removals]},
        warnings=warnings,
    )
