"""The one skeleton every podnet module runs: read -> want -> diff -> (check mode stops
here) -> apply -> re-read -> verify.

A backend supplies the four steps as functions; this file owns the order, the check-mode
stop, the re-read and the verification, so no backend can skip one. A change is data
(`changes.Change`), so check mode, `--diff` and the `changes` return value all come from
the same list, and `changed` is `bool(changes)`.

    read()                   -> Seen     what the host holds (owned objects, and the facts
                                          the plan needs: the underlay, table main, ...)
    want(seen)               -> Wanted   the objects the plan wants; raises PodnetError for
                                          anything that must stop the run before a write
    diff(wanted, seen)       -> changes  in apply order
    apply(wanted, seen, changes)         writes; raises PodnetError on a refusal
    differs(wanted, leftover) -> error   the backend's words for "the kernel still differs"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .changes import Change
from .errors import PodnetError

Seen = TypeVar("Seen")
Wanted = TypeVar("Wanted")


@dataclass(frozen=True)
class Reconciled(Generic[Wanted, Seen]):
    """One run's result. `after` is the host read back after applying; None when nothing
    was written (no change, or check mode)."""

    changes: list[Change]
    wanted: Wanted
    before: Seen
    after: Seen | None = None

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def reconcile(
    read: Callable[[], Seen],
    want: Callable[[Seen], Wanted],
    diff: Callable[[Wanted, Seen], list[Change]],
    apply: Callable[[Wanted, Seen, list[Change]], None],
    *,
    check_mode: bool,
    differs: Callable[[Wanted, list[Change]], PodnetError],
) -> Reconciled[Wanted, Seen]:
    """Make the host hold what `want` asks for, and prove it by reading it back.

    >>> host = {"mtu": 1500}
    >>> def set_all(wanted, seen, changes):
    ...     host.update(wanted)
    >>> result = reconcile(
    ...     read=lambda: dict(host),
    ...     want=lambda seen: {"mtu": 1450},
    ...     diff=lambda w, s: [Change("replace", "link", "mtu", "1500 vs 1450")] if w != s else [],
    ...     apply=set_all,
    ...     check_mode=False,
    ...     differs=lambda w, left: PodnetError(f"{len(left)} left"),
    ... )
    >>> result.changed, result.after
    (True, {'mtu': 1450})
    """
    seen = read()
    wanted = want(seen)
    changes = diff(wanted, seen)
    if check_mode or not changes:
        return Reconciled(changes, wanted, seen)
    apply(wanted, seen, changes)
    after = read()
    leftover = diff(wanted, after)
    if leftover:
        raise differs(wanted, leftover)
    return Reconciled(changes, wanted, seen, after)
