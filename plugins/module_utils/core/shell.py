"""The thin shell between a backend's entry and Ansible: the one place where podnet's
errors become a failed task, and where every module returns its normalised arguments.

    def main():
        module = AnsibleModule(argument_spec=..., supports_check_mode=True)
        finish(module, lambda: entry.run(module.params, module.check_mode,
                                         module_programs(module)))

Nothing here imports Ansible: `module` is whatever has fail_json/exit_json/warn.
"""

from __future__ import annotations

import os
import platform
import sys
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from .changes import Change, describe
from .errors import PodnetError
from .hostlock import host_lock

# What AnsibleModule returns in place of a no_log option's value (a recorded PSK reads so;
# the files action masks a secret file's content with it too).
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"

# A module's result lists at most this many changes; past it, the first ones and a count per
# op and kind of all of them (`changes_omitted`, `changes_by_kind`). A 5,000-peer node's
# first run makes 15,002 changes: as dictionaries they cost the module and the controller
# ~0.4 s per host (README "Scale"), for a list nobody reads; the counts say the same.
CHANGES_LISTED = 1000


@dataclass(frozen=True)
class Applied:
    """What one entry run did, in the words a module returns and the restore prints.

    changes: in the order applied. before/after: the --diff views (None: no diff view).
    fields: the module's other return values (ifname, public_key, ...).
    """

    changes: list[Change]
    before: Any = None
    after: Any = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def output(self, diff: bool) -> dict[str, Any]:
        """The module's result. Past CHANGES_LISTED changes, the list is cut and counted:

        >>> from .changes import Change
        >>> many = [Change("add", "neigh", f"10.1.{i}.0", "missing") for i in range(1002)]
        >>> result = Applied(many).output(diff=False)
        >>> len(result["changes"]), result["changes_omitted"], result["changes_by_kind"]
        (1000, 2, {'add neigh': 1002})
        >>> sorted(Applied(many[:3]).output(diff=False))
        ['changed', 'changes']
        """
        result: dict[str, Any] = {
            "changed": bool(self.changes),
            "changes": describe(self.changes[:CHANGES_LISTED]),
            **self.fields,
        }
        if len(self.changes) > CHANGES_LISTED:
            result["changes_omitted"] = len(self.changes) - CHANGES_LISTED
            result["changes_by_kind"] = dict(
                Counter(f"{change.op} {change.kind}" for change in self.changes)
            )
        if diff and (self.before is not None or self.after is not None):
            result["diff"] = {"before": self.before, "after": self.after}
        return result


def finish(module: Any, run: Callable[[], Applied]) -> NoReturn:
    """Run the entry; exit with its result, or fail naming every problem.

    The entry runs under the host's lock (core/hostlock.py): two runs at once take turns.
    The result carries `args`: the module's arguments as Ansible normalised them (defaults
    filled, types converted; no_log values masked by Ansible on the way out), which is
    what the boot restore records and replays.
    """
    try:
        with host_lock(f"podnet module {getattr(module, '_name', '?')}"):
            applied = run()
    except PodnetError as exc:
        module.fail_json(msg=str(exc), problems=exc.problems)
    for warning in applied.warnings:
        module.warn(warning)
    module.exit_json(
        **applied.output(bool(module._diff)), args=dict(module.params), runtime=runtime()
    )
    raise AssertionError("exit_json returned")  # pragma: no cover - it exits


def runtime() -> dict[str, Any]:
    """The Python this module ran with and the pyroute2 it imported (None: it needed none):
    on a fleet of several releases, which one a host used is otherwise a guess."""
    pyroute2 = sys.modules.get("pyroute2")
    where = getattr(pyroute2, "__file__", None)
    return {
        "python": platform.python_version(),
        "python_path": sys.executable,
        "pyroute2": getattr(pyroute2, "__version__", None) if pyroute2 else None,
        "pyroute2_path": os.path.dirname(where) if where else None,
    }


def step_label(what: str, params: Mapping[str, Any]) -> str:
    """An entry's label for the restore's report: `what`, and ` (absent)` when it goes.

    >>> step_label("vxlan flannel.1", {"state": "absent"}), step_label("sysctl", {})
    ('vxlan flannel.1 (absent)', 'sysctl')
    """
    return f"{what} (absent)" if params.get("state") == "absent" else what
