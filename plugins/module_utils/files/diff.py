"""The files module's wanted state against the host's, as changes in apply order:
directories first (a file needs its directory), then files, then the files that must go.

Only the paths given are compared: podnet owns nothing else in these directories.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..core.changes import ADD, DELETE, REPLACE, Change


@dataclass(frozen=True)
class Wanted:
    """directories: (path, mode); files: (path, content, mode); absent: paths.
    secrets: the paths whose content must never be shown."""

    directories: tuple[tuple[str, int], ...] = ()
    files: tuple[tuple[str, bytes, int], ...] = ()
    absent: tuple[str, ...] = ()
    secrets: frozenset[str] = frozenset()

    @property
    def directory_paths(self) -> list[str]:
        return [path for path, _mode in self.directories]

    @property
    def file_paths(self) -> list[str]:
        return [path for path, _content, _mode in self.files]

    @property
    def all_paths(self) -> list[str]:
        """Every path named: directories, files, then the files that must go."""
        return [*self.directory_paths, *self.file_paths, *self.absent]


@dataclass(frozen=True)
class Entry:
    """What a path holds: kind `dir` | `file` | `other`, a file's content, the mode."""

    kind: str
    mode: int
    content: bytes | None = None


# path -> Entry; a missing path is not in it.
Seen = dict[str, Entry]


def diff_files(wanted: Wanted, seen: Seen) -> list[Change]:
    """The changes that make `seen` hold `wanted`.

    >>> w = Wanted(directories=(("/d", 0o700),), files=(("/d/f", b"A=1", 0o644),),
    ...            absent=("/d/psk",))
    >>> [(c.op, c.key, c.reason) for c in diff_files(w, {"/d/psk": Entry("file", 0o600, b"x")})]
    [('add', '/d', 'missing'), ('add', '/d/f', 'missing'), ('delete', '/d/psk', 'not wanted')]
    >>> seen = {"/d": Entry("dir", 0o755), "/d/f": Entry("file", 0o644, b"A=2")}
    >>> [(c.op, c.key, c.reason) for c in diff_files(w, seen)]
    [('replace', '/d', 'mode: 0755 vs 0700'), ('replace', '/d/f', 'content differs')]
    """
    changes = []
    for path, mode in wanted.directories:
        entry = seen.get(path)
        if entry is None:
            changes.append(Change(ADD, "directory", path, "missing", {"mode": mode}))
        elif entry.mode != mode:
            reason = f"mode: {entry.mode:04o} vs {mode:04o}"
            changes.append(Change(REPLACE, "directory", path, reason, {"mode": mode}))
    for path, content, mode in wanted.files:
        entry = seen.get(path)
        spec = {"mode": mode, "content": content}
        if entry is None:
            changes.append(Change(ADD, "file", path, "missing", spec))
        elif entry.content != content:
            changes.append(Change(REPLACE, "file", path, "content differs", spec))
        elif entry.mode != mode:
            reason = f"mode: {entry.mode:04o} vs {mode:04o}"
            changes.append(Change(REPLACE, "file", path, reason, spec))
    changes.extend(
        Change(DELETE, "file", path, "not wanted") for path in wanted.absent if path in seen
    )
    return changes


def seen_from_states(wanted: Wanted, states: Mapping[str, Any]) -> Seen | None:
    """The host as an earlier read described it (flannel_facts' `paths`: kind, mode and a
    file's SHA-256 by path), for diff_files; None when that read cannot tell: a path it did
    not read, or one holding another kind of object than wanted (the module refuses it).
    A file whose checksum is the wanted content's is taken to hold that content.

    >>> w = Wanted(directories=(("/d", 0o700),), files=(("/d/f", b"A=1", 0o644),),
    ...            absent=("/d/psk",))
    >>> sha = hashlib.sha256(b"A=1").hexdigest()
    >>> states = {"/d": {"kind": "dir", "mode": "0700", "sha256": None},
    ...           "/d/f": {"kind": "file", "mode": "0644", "sha256": sha}, "/d/psk": None}
    >>> diff_files(w, seen_from_states(w, states))
    []
    >>> [c.reason for c in diff_files(w, seen_from_states(w, {**states, "/d/f": {
    ...     "kind": "file", "mode": "0644", "sha256": "0" * 64}}))]
    ['content differs']
    >>> seen_from_states(w, {"/d": states["/d"]}) is None  # /d/f was not read
    True
    >>> seen_from_states(w, {**states, "/d": {"kind": "file", "mode": "0700", "sha256": sha}})
    """
    kinds = {path: "dir" for path in wanted.directory_paths}
    contents = {path: content for path, content, _mode in wanted.files}
    kinds.update({path: "file" for path in [*contents, *wanted.absent]})
    seen: Seen = {}
    for path, kind in kinds.items():
        if path not in states:
            return None
        state = states[path]
        if state is None:
            continue
        if state.get("kind") != kind:
            return None
        content = None
        if path in contents:
            digest = hashlib.sha256(contents[path]).hexdigest()
            content = contents[path] if state.get("sha256") == digest else None
        seen[path] = Entry(kind, int(str(state.get("mode")), 8), content)
    return seen


def planned(wanted: Wanted, seen: Seen) -> Seen:
    """What the host holds once `wanted` is applied over `seen` (check mode's `after`).

    >>> planned(Wanted(directories=(("/d", 0o700),), absent=("/d/x",)),
    ...         {"/d/x": Entry("file", 0o600, None)})
    {'/d': Entry(kind='dir', mode=448, content=None)}
    """
    result = {path: entry for path, entry in seen.items() if path not in wanted.absent}
    result.update({path: Entry("dir", mode) for path, mode in wanted.directories})
    result.update({path: Entry("file", mode, data) for path, data, mode in wanted.files})
    return result


def view(wanted: Wanted, seen: Seen | None) -> dict[str, str | None]:
    """The --diff view: each path's mode and text (a secret's text hidden), None if missing.

    >>> view(Wanted(files=(("/k", b"s", 0o600),), secrets=frozenset({"/k"})),
    ...      {"/k": Entry("file", 0o600, b"s")})
    {'/k': '0600 (secret)'}
    """
    shown: dict[str, str | None] = {}
    for path in wanted.all_paths:
        entry = (seen or {}).get(path)
        if entry is None:
            shown[path] = None
        elif entry.content is None or path in wanted.secrets:
            shown[path] = f"{entry.mode:04o}" + (" (secret)" if path in wanted.secrets else "")
        else:
            text = entry.content.decode("utf-8", "replace")
            shown[path] = f"{entry.mode:04o}\n{text}"
    return shown
