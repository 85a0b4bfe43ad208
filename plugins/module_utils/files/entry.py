"""The files module's one adapter.

run(params, check_mode, programs) -> Applied (changes in apply order, the --diff views)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.reconcile import reconcile
from ..core.shell import Applied
from .diff import Seen, Wanted, diff_files, planned, view
from .host import apply_files, check_kinds, read_paths


def wanted_of(params: Mapping[str, Any]) -> Wanted:
    """The module's arguments as a Wanted; every bad mode at once.

    >>> wanted_of({"directories": [{"path": "/d", "mode": "0700"}],
    ...            "files": [], "secret_files": [], "absent": ["/d/x"]}).directories
    (('/d', 448),)
    """
    problems: list[str] = []

    def mode(where: str, text: str) -> int:
        try:
            value = int(str(text), 8)
        except ValueError:
            value = -1
        if not 0 <= value <= 0o7777:
            problems.append(f"{where}.mode: {text!r} is not an octal mode such as '0644'")
        return value

    directories = tuple(
        (d["path"], mode(f"directories[{i}]", d["mode"]))
        for i, d in enumerate(params.get("directories") or [])
    )
    plain = list(params.get("files") or [])
    secret = list(params.get("secret_files") or [])
    files = tuple(
        (f["path"], str(f["content"]).encode(), mode(f"{where}[{i}]", f["mode"]))
        for where, group in (("files", plain), ("secret_files", secret))
        for i, f in enumerate(group)
    )
    if problems:
        raise PodnetError("; ".join(problems), problems)
    return Wanted(
        directories,
        files,
        tuple(params.get("absent") or []),
        frozenset(f["path"] for f in secret),
    )


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the files and directories of `params` hold what is wanted."""
    del programs  # files only
    wanted = wanted_of(params)

    def want(seen: Seen) -> Wanted:
        check_kinds(wanted, seen)
        return wanted

    result = reconcile(
        read=lambda: read_paths(wanted),
        want=want,
        diff=diff_files,
        apply=lambda _wanted, _seen, changes: apply_files(changes),
        check_mode=check_mode,
        differs=lambda _wanted, left: PodnetError(
            f"{left[0].key}: still differs after writing it ({left[0].reason}): something "
            "else rewrites it; stop that, then run again"
        ),
    )
    after = result.after if result.after is not None else planned(wanted, result.before)
    return Applied(result.changes, before=view(wanted, result.before), after=view(wanted, after))
