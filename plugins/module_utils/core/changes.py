"""A change to a host, as data: what the diff step produces and the apply step consumes.

Every podnet module follows read -> diff -> (check mode stops here) -> apply -> re-read ->
verify. The diff is a list of `Change` values, so check mode, `--diff` output and the
module's `changes` return value all come from the same objects, and `changed` is simply
`bool(changes)`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ADD = "add"
REPLACE = "replace"
DELETE = "delete"


@dataclass(frozen=True)
class Change:
    """One operation on one kernel or firewall object.

    Attributes:
        op: add | replace | delete.
        kind: the object's kind in pyroute2's words: link, addr, neigh, fdb, route, rule, ...
        key: what identifies the object, e.g. "10.244.2.0/24" or "flannel.1".
        reason: why, e.g. "vni: 1 vs 2" or "peer node3 left the inventory".
        spec: the object's wanted fields (add/replace) or its current ones (delete), as
            plain data; the apply step reads it, --diff shows it.
    """

    op: str
    kind: str
    key: str
    reason: str
    spec: dict[str, Any] = field(default_factory=dict, compare=False)

    def as_dict(self) -> dict[str, Any]:
        return {"op": self.op, "kind": self.kind, "key": self.key, "reason": self.reason}


def describe(changes: Iterable[Change]) -> list[dict[str, Any]]:
    """The `changes` return value of a module: op, kind, key and reason of each change."""
    return [change.as_dict() for change in changes]


def field_reasons(wanted: dict[str, Any], current: dict[str, Any] | None) -> list[str]:
    """`name: current vs wanted` for every managed field that differs, in wanted's order.

    >>> field_reasons({"mtu": 1450, "vni": 1}, {"mtu": 1500, "vni": 1})
    ['mtu: 1500 vs 1450']
    """
    if current is None:
        return []
    return [
        f"{name}: {current.get(name)} vs {value}"
        for name, value in wanted.items()
        if current.get(name) != value
    ]
