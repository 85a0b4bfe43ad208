"""The one keyed diff of kernel objects: wanted vs owned, each a mapping key -> object.

A key is the kernel's identity of the object (a route's dst and metric, a neighbour's
dst, an FDB entry's MAC and remote), so a key on both sides whose managed fields differ
is a `replace` (the kernel rewrites it in place: `ip route replace`, `ip neigh replace`)
and never a delete + add, which would cut traffic for a moment. A key only owned is a
`delete`, a key only wanted an `add`.

Objects are frozen dataclasses: fields with `compare=False` (a peer's name, a device name
kept for messages) label them and never count as drift.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import fields
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change, field_reasons

_FIELDS: dict[type, tuple[str, ...]] = {}
_COMPARED: dict[type, tuple[str, ...]] = {}


def diff_keyed(
    kind: str,
    want: Mapping[str, Any],
    have: Mapping[str, Any],
    delete_reason: Callable[[Any], str],
    add_reason: Callable[[Any], str],
    *,
    spec: Callable[[Any], dict[str, Any]] | None = None,
    shown: Callable[[str, Any], Any] | None = None,
) -> tuple[list[Change], list[Change]]:
    """(deletes, adds and replaces), each in its input's order.

    A replace's reason lists each managed field that differs, after `peer <name>: ` when
    the wanted object names its peer. `spec` (default: every field) is Change.spec;
    `shown(field, value)` words a value for the reason (a route's scope 253 as `link`).

    >>> from dataclasses import dataclass, field
    >>> @dataclass(frozen=True)
    ... class Neigh:
    ...     dst: str
    ...     lladdr: str
    ...     peer: str = field(default="", compare=False)
    >>> deletes, upserts = diff_keyed(
    ...     "neigh",
    ...     {"10.0.2.0": Neigh("10.0.2.0", "0a:02", "n2"), "10.0.3.0": Neigh("10.0.3.0", "0a:03")},
    ...     {"10.0.2.0": Neigh("10.0.2.0", "0a:99"), "10.0.4.0": Neigh("10.0.4.0", "0a:04")},
    ...     delete_reason=lambda obj: "not in the plan",
    ...     add_reason=lambda obj: "missing",
    ... )
    >>> [(c.op, c.key, c.reason) for c in deletes + upserts]
    [('delete', '10.0.4.0', 'not in the plan'), ('replace', '10.0.2.0', 'peer n2: lladdr: 0a:99 vs 0a:02'), ('add', '10.0.3.0', 'missing')]
    """  # noqa: E501
    spec = spec or all_fields
    deletes = [
        Change(DELETE, kind, key, delete_reason(obj), spec(obj))
        for key, obj in have.items()
        if key not in want
    ]
    upserts = []
    for key, obj in want.items():
        current = have.get(key)
        if current is None:
            upserts.append(Change(ADD, kind, key, add_reason(obj), spec(obj)))
        elif current != obj:
            reasons = differences(obj, current, shown)
            peer = getattr(obj, "peer", "")
            reason = f"peer {peer}: {reasons}" if peer else reasons
            upserts.append(Change(REPLACE, kind, key, reason, spec(obj)))
    return deletes, upserts


def all_fields(obj: Any) -> dict[str, Any]:
    """Every field of a dataclass object as a plain dict."""
    names = _FIELDS.get(type(obj))
    if names is None:
        names = _FIELDS[type(obj)] = tuple(f.name for f in fields(obj))
    return {name: getattr(obj, name) for name in names}


def compared_fields(obj: Any) -> tuple[str, ...]:
    """The fields podnet manages (`peer`, `dev` names and the like only label things)."""
    names = _COMPARED.get(type(obj))
    if names is None:
        names = _COMPARED[type(obj)] = tuple(f.name for f in fields(obj) if f.compare)
    return names


def differences(want: Any, have: Any, shown: Callable[[str, Any], Any] | None = None) -> str:
    """`gateway: 10.244.2.9 vs 10.244.2.0, onlink: False vs True` over managed fields."""
    names = compared_fields(want)

    def word(name: str, value: Any) -> Any:
        return shown(name, value) if shown is not None else value

    return ", ".join(
        field_reasons(
            {name: word(name, getattr(want, name)) for name in names},
            {name: word(name, getattr(have, name)) for name in names},
        )
    )
