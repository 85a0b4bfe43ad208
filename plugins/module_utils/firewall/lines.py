"""Why two rule listings differ, in one line: the reason of a firewall `Change`.

Both backends compare listings line by line (iptables-save rules, `nft list table` lines),
so both explain a difference the same way: the lines that are there but should not be,
the lines that should be there but are not, or, when the sets agree, the order.
"""

from __future__ import annotations

from collections.abc import Sequence

# A reason is one line in the module's output; a few examples say enough.
_SHOWN = 3


def _sample(lines: Sequence[str]) -> str:
    shown = "; ".join(repr(line) for line in lines[:_SHOWN])
    more = len(lines) - _SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def explain_difference(current: Sequence[str], wanted: Sequence[str]) -> str:
    """Say how `current` differs from `wanted`; "" if they are equal.

    Duplicates count: a line present twice where once is wanted is one unexpected line.

    >>> explain_difference(["a", "b"], ["a", "c"])
    "unexpected 'b'; missing 'c'"
    >>> explain_difference(["b", "a"], ["a", "b"])
    'same lines in another order'
    >>> explain_difference(["a", "a"], ["a"])
    "unexpected 'a'"
    """
    if list(current) == list(wanted):
        return ""
    unexpected = _minus(current, wanted)
    missing = _minus(wanted, current)
    parts: list[str] = []
    if unexpected:
        parts.append("unexpected " + _sample(unexpected))
    if missing:
        parts.append("missing " + _sample(missing))
    return "; ".join(parts) or "same lines in another order"


def _minus(left: Sequence[str], right: Sequence[str]) -> list[str]:
    """`left` without one occurrence of each line of `right` (multiset difference)."""
    remaining = list(right)
    result = []
    for line in left:
        if line in remaining:
            remaining.remove(line)
        else:
            result.append(line)
    return result
