"""Kernel parameters through /proc/sys: check, read, diff, write, re-read and verify.

Values are compared as the kernel prints them with runs of whitespace folded, so
`32768 60999` matches the kernel's `32768\\t60999`. Writes go in the order given: some
parameters act on others (writing net.ipv6.conf.all.forwarding rewrites every
interface's forwarding), so the caller's order is the one that means something.
Runtime only: nothing here writes /etc/sysctl.d.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Any

from ..core.changes import REPLACE, Change
from .names import name_problem, sysctl_parts

PROC_SYS = "/proc/sys"


class SysctlError(ValueError):
    """Bad input, a missing parameter, or a write the kernel refused; `problems` lists all."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class Sysctl:
    """One wanted parameter: its name as given, its file, its value as text."""

    name: str
    path: str
    value: str


def fold(text: str) -> str:
    """A value as compared: whitespace runs folded to one space, ends stripped.

    >>> fold("32768\\t60999\\n")
    '32768 60999'
    """
    return " ".join(text.split())


def parse_values(values: dict[str, Any], root: str = PROC_SYS) -> list[Sysctl]:
    """Check names and values; raise once with every problem.

    >>> parse_values({"net.ipv4.ip_forward": 1})
    [Sysctl(name='net.ipv4.ip_forward', path='/proc/sys/net/ipv4/ip_forward', value='1')]
    >>> try:
    ...     parse_values({"net.ipv4.ip_forward": True, "net..x": 1})
    ... except SysctlError as exc:
    ...     print(*exc.problems, sep="\\n")
    values[net.ipv4.ip_forward]: True is a boolean: write 1 or 0
    values[net..x]: the name has an empty level: write it like net.ipv4.ip_forward
    """
    problems: list[str] = []
    wanted = []
    for name, value in values.items():
        where = f"values[{name}]"
        problem = name_problem(name)
        if problem:
            problems.append(f"{where}: the name {problem}")
            continue
        if isinstance(value, bool):
            problems.append(f"{where}: {value} is a boolean: write 1 or 0")
            continue
        if not isinstance(value, (str, int, float)) or not fold(str(value)):
            problems.append(f"{where}: {value!r} is not a value: give a number or a string")
            continue
        wanted.append(Sysctl(name, os.path.join(root, *sysctl_parts(name)), fold(str(value))))
    if problems:
        raise SysctlError(problems)
    return wanted


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


def _listing(wanted: list[Sysctl], values: dict[str, str | None]) -> str:
    """`name = value` lines for --diff, in the order given; missing parameters left out."""
    lines = [f"{item.name} = {values[item.name]}" for item in wanted if values.get(item.name)]
    return "".join(line + "\n" for line in lines)


def sync_sysctls(
    values: dict[str, Any], ignore_missing: bool, check_mode: bool, root: str = PROC_SYS
) -> SysctlResult:
    """Read, diff, and unless in check mode write and verify."""
    wanted = parse_values(values, root)
    current, missing = read_current(wanted, ignore_missing, root)
    changes = diff_sysctls(wanted, current)
    after = {item.name: item.value for item in wanted if current.get(item.name) is not None}
    result = SysctlResult(changes, missing, _listing(wanted, current), _listing(wanted, after))
    if check_mode or not changes:
        return result
    apply_sysctls(changes)
    reread, _ = read_current(wanted, ignore_missing, root)
    problems = [
        f"values[{change.key}]: wrote {change.spec['value']!r} but the kernel reports "
        f"{reread[change.key]!r} (it may clamp or round the value)"
        for change in changes
        if reread[change.key] != change.spec["value"]
    ]
    if problems:
        raise SysctlError(problems)
    return result
