# Copyright: podnet authors
# Apache License 2.0 (see LICENSE)
"""podnet.fabric.files: skip the module run where an earlier read shows nothing to write.

The node role's first module (flannel_facts) reads every path its files call writes, before
the plan: kind, mode and SHA-256 (`paths`). Given that as `read_before`, this decides on the
controller, with the module's own comparison (module_utils/files/diff.py: `wanted_of`,
`seen_from_states`, `diff_files`), whether every path already holds what is wanted; then the
task reports no change and nothing runs on the host. Anything it cannot tell (a path not
read, a bad argument, another kind of object there) runs the module, which decides, writes
and reports as always.
"""

from __future__ import annotations

from typing import Any

from ansible.plugins.action import ActionBase

from ..module_utils.core.errors import PodnetError
from ..module_utils.core.shell import MASKED
from ..module_utils.files.diff import diff_files, seen_from_states
from ..module_utils.files.entry import wanted_of


def unchanged_as_read(args: dict[str, Any], read_before: Any) -> bool:
    """Whether `read_before` shows every path of `args` holding what is wanted."""
    if not isinstance(read_before, dict):
        return False
    try:
        wanted = wanted_of(args)
    except PodnetError:  # the module words it
        return False
    seen = seen_from_states(wanted, read_before)
    return seen is not None and not diff_files(wanted, seen)


def masked(args: dict[str, Any]) -> dict[str, Any]:
    """The arguments as the module would return them: secret contents masked."""
    secrets = [{**item, "content": MASKED} for item in args.get("secret_files") or []]
    return {**args, "secret_files": secrets}


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible-core ships no type information
    TRANSFERS_FILES = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        self._supports_check_mode = True
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = dict(self._task.args)
        read_before = args.pop("read_before", None)
        if read_before is not None and unchanged_as_read(args, read_before):
            result.update(changed=False, changes=[], args=masked(args), matched_read_before=True)
            return result
        result.update(self._execute_module(module_args=args, task_vars=task_vars))
        return result
