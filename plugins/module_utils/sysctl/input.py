"""The sysctl module's input: parameter names as sysctl(8) reads them, and their values,
checked all at once.

sysctl(8) (procps) accepts two spellings. In the dotted one, `.` separates the levels and
a `/` inside a level stands for a literal `.`, which is how interface names with dots are
written: `net.ipv6.conf.flannel/1.accept_ra` is /proc/sys/net/ipv6/conf/flannel.1/accept_ra.
If the first separator in the name is a `/`, the name is a path instead: `/` separates
the levels and dots are literal (`net/ipv6/conf/flannel.1/accept_ra`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from .state import Sysctl, SysctlError, fold

PROC_SYS = "/proc/sys"


def sysctl_parts(name: str) -> list[str]:
    """The path levels under /proc/sys that `name` stands for.

    >>> sysctl_parts("net.ipv4.ip_forward")
    ['net', 'ipv4', 'ip_forward']
    >>> sysctl_parts("net.ipv6.conf.flannel/1.accept_ra")
    ['net', 'ipv6', 'conf', 'flannel.1', 'accept_ra']
    >>> sysctl_parts("net/ipv6/conf/flannel.1/accept_ra")
    ['net', 'ipv6', 'conf', 'flannel.1', 'accept_ra']
    """
    dot, slash = name.find("."), name.find("/")
    if slash != -1 and (dot == -1 or slash < dot):
        return name.split("/")
    return [part.replace("/", ".") for part in name.split(".")]


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a kernel parameter name, or None if it can.

    >>> name_problem("net..ipv4")
    'has an empty level: write it like net.ipv4.ip_forward'
    >>> name_problem("net/ipv4/../../etc")
    "has a level '.' or '..', which would leave /proc/sys"
    """
    if not name.strip() or name != name.strip():
        return "is empty or has surrounding spaces: write it like net.ipv4.ip_forward"
    parts = sysctl_parts(name)
    if any(part == "" for part in parts):
        return "has an empty level: write it like net.ipv4.ip_forward"
    if any(part in (".", "..") for part in parts):
        return "has a level '.' or '..', which would leave /proc/sys"
    return None


def parse_values(values: Mapping[str, Any], root: str = PROC_SYS) -> list[Sysctl]:
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
