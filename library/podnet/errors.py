"""Errors raised by the podnet library.

Every check collects all the problems it finds and raises one
`ValidationError` listing them, so a user fixes an inventory in one pass
instead of one error per run (ansible-core's arg_spec does the same).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence


class PodnetError(Exception):
    """Base class of every error podnet raises on purpose."""


class ValidationError(PodnetError, ValueError):
    """One or more problems in the user's input; nothing was planned or changed.

    Attributes:
        problems: each problem as one line: path, offending value, rule, fix.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: tuple[str, ...] = tuple(problems)
        super().__init__("\n".join(self.problems))


def list_names(names: Sequence[str], limit: int = 10) -> str:
    """Names for a message, cut after `limit` so a 50,000-node fleet stays readable.

    >>> list_names(["a", "b", "c"], limit=2)
    'a, b and 1 more'
    """
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def raise_if(problems: list[str]) -> None:
    """Raise a `ValidationError` when any problem was collected."""
    if problems:
        raise ValidationError(problems)
