"""Kernel parameters through /proc/sys: read and write; core.reconcile runs read -> diff ->
(check mode stops here) -> write -> re-read -> verify.

Writes go in the order given (see diff.py). Runtime only: nothing here writes
/etc/sysctl.d.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.changes import Change
from ..core.reconcile import reconcile
from .diff import diff_sysctls
from .input import PROC_SYS, name_problem, parse_values, sysctl_parts
from .state import Sysctl, SysctlError, fold, view


def why_missing(parts: list[str], root: str = PROC_SYS) -> str:
    """The likely reasons a parameter's file is missing, most specific first."""
    if parts[:2] == ["net", "bridge"]:
        return "net.bridge.* appears when the br_netfilter module is loaded (modprobe br_netfilter)"
    if parts[:2] == ["net", "ipv6"] and not os.path.isdir(os.path.join(root, "net", "ipv6")):
        return "IPv6 is disabled in this kernel (ipv6.disable=1)"
    per_interface = len(parts) > 3 and parts[2] in ("conf", "neigh")
    if per_interface and not os.path.isdir(os.path.join(root, *parts[:4])):
        return f"there is no interface {parts[3]} (yet)"
    return "the kernel module that provides it may not be loaded, or the name is misspelt"


def read_current(
    wanted: list[Sysctl], ignore_missing: bool, root: str = PROC_SYS
) -> tuple[dict[str, str | None], list[str]]:
    """Current values by name (None where missing and ignored) and the names missing.

    Raises:
        SysctlError: parameters missing (unless ignored) or unreadable, all of them at once.
    """
    current: dict[str, str | None] = {}
    missing: list[str] = []
    problems: list[str] = []
    for item in wanted:
        where = f"values[{item.name}]"
        if os.path.isdir(item.path):
            problems.append(f"{where}: {item.path} is a directory, not a parameter")
            continue
        try:
            with open(item.path, encoding="utf-8") as handle:
                current[item.name] = fold(handle.read())
        except FileNotFoundError:
            missing.append(item.name)
            current[item.name] = None
            if not ignore_missing:
                reason = why_missing(sysctl_parts(item.name), root)
                problems.append(
                    f"{where}: {item.path} does not exist: {reason}; set ignore_missing: true "
                    "to skip parameters that are not there"
                )
        except OSError as exc:
            problems.append(f"{where}: cannot read {item.path}: {exc.strerror}")
    if problems:
        raise SysctlError(problems)
    return current, missing


def read_values(names: Sequence[str], root: str = PROC_SYS) -> dict[str, str | None]:
    """Each named parameter's value as compared (whitespace folded), None where it does not
    exist: for a caller that only reads (flannel_facts, before the plan).

    Raises:
        SysctlError: a malformed name, or a parameter that cannot be read; all at once.
    """
    problems = [f"sysctls[{name}]: the name {name_problem(name)}" for name in names
                if name_problem(name)]  # fmt: skip
    if problems:
        raise SysctlError(problems)
    wanted = [Sysctl(name, os.path.join(root, *sysctl_parts(name)), "") for name in names]
    current, _missing = read_current(wanted, ignore_missing=True, root=root)
    return current


def apply_sysctls(changes: list[Change]) -> None:
    """Write each value, in order; stop at the first the kernel refuses."""
    for change in changes:
        try:
            with open(change.spec["path"], "w", encoding="utf-8") as handle:
                handle.write(change.spec["value"] + "\n")
        except OSError as exc:
            hint = " (the value is out of range or malformed)" if exc.errno == errno.EINVAL else ""
            raise SysctlError(
                [
                    f"values[{change.key}]: the kernel refused {change.spec['value']!r} "
                    f"for {change.spec['path']}: {exc.strerror}{hint}"
                ]
            ) from exc


@dataclass
class SysctlResult:
    changes: list[Change]
    missing: list[str]
    before: str
    after: str


def sync_sysctls(
    values: Mapping[str, Any], ignore_missing: bool, check_mode: bool, root: str = PROC_SYS
) -> SysctlResult:
    """Check, read, diff, and unless in check mode write and verify."""
    wanted = parse_values(values, root)
    done = reconcile(
        read=lambda: read_current(wanted, ignore_missing, root),  # (values, names missing)
        want=lambda seen: wanted,
        diff=lambda want, seen: diff_sysctls(want, seen[0]),
        apply=lambda want, seen, changes: apply_sysctls(changes),
        check_mode=check_mode,
        differs=_differs,
    )
    current, missing = done.before
    after = {item.name: item.value for item in wanted if current.get(item.name) is not None}
    before_text, after_text = view(wanted, current), view(wanted, after)
    return SysctlResult(done.changes, missing, before_text, after_text)


def _differs(wanted: list[Sysctl], left: list[Change]) -> SysctlError:
    """The kernel took a write but reports another value."""
    return SysctlError(
        [
            f"values[{change.key}]: wrote {change.spec['value']!r} but the kernel reports "
            f"{change.spec['old']!r} (it may clamp or round the value)"
            for change in left
        ]
    )
