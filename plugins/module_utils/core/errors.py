"""The one error type every podnet module reports with, carrying every problem at once.

Each module's `main()` and the boot restore map this one type to a failure (fail_json, or
a failed step); nothing else reaches them. Subclasses only choose how the problems read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

# A message lists this many problems, then counts the rest: ten lines are enough to act on.
SHOWN = 10

T = TypeVar("T")


class PodnetError(Exception):
    """What a module tells its user. `problems`: one complete sentence each, all of them.

    >>> str(PodnetError("dev: eth9 does not exist"))
    'dev: eth9 does not exist'
    >>> PodnetError("bad", ["a", "b"]).problems
    ['a', 'b']
    """

    def __init__(self, message: str, problems: Iterable[str] | None = None) -> None:
        super().__init__(message)
        listed = list(problems) if problems is not None else []
        self.problems = listed or [message]


def listing(headline: str, problems: Iterable[str], limit: int | None = None) -> str:
    """`headline:` then one `- problem` line each (the first `limit`, then a count).

    >>> print(listing("invalid parameters", ["vni: 0", "port: -1"]))
    invalid parameters:
    - vni: 0
    - port: -1
    >>> listing("h", ["a", "b", "c"], limit=2).splitlines()[-1]
    '- ... and 1 more'
    """
    items = list(problems)
    shown = items if limit is None else items[:limit]
    if limit is not None and len(items) > limit:
        shown = [*shown, f"... and {len(items) - limit} more"]
    return headline + ":\n- " + "\n- ".join(shown)


def required(value: T | None, problem: str, error: Callable[[list[str]], PodnetError]) -> T:
    """`value`, which the module's validation already required; if None all the same,
    `error([problem])`.

    The check stays a failed task naming the field, not an `assert` (which `python -O`
    drops, and which ansible-test refuses in module_utils).

    >>> required(1450, "mtu: required when state=present", lambda p: PodnetError(p[0], p))
    1450
    >>> try:
    ...     required(None, "mtu: required when state=present", lambda p: PodnetError(p[0], p))
    ... except PodnetError as exc:
    ...     print(exc.problems)
    ['mtu: required when state=present']
    """
    if value is None:
        raise error([problem])
    return value
