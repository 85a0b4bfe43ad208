"""A kernel parameter as podnet wants it, how values are compared, and the --diff view.

Values are compared as the kernel prints them with runs of whitespace folded, so
`32768 60999` matches the kernel's `32768\\t60999`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..core.errors import PodnetError


class SysctlError(PodnetError):
    """Bad input, a missing parameter, or a write the kernel refused; `problems` lists all."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems), problems)


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


def view(wanted: list[Sysctl], values: Mapping[str, str | None]) -> str:
    """`name = value` lines for --diff, in the order given; missing parameters left out."""
    lines = [f"{item.name} = {values[item.name]}" for item in wanted if values.get(item.name)]
    return "".join(line + "\n" for line in lines)
