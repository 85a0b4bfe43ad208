"""The files module's read of the host and its writes (core.files: atomic and durable)."""

from __future__ import annotations

import os
import stat

from ..core.changes import ADD, DELETE, Change
from ..core.errors import PodnetError
from ..core.files import fsync_directory, write_atomically
from .diff import Entry, Seen, Wanted


def read_paths(wanted: Wanted) -> Seen:
    """What each wanted path holds now (a file's content only for the files written)."""
    contents = set(wanted.file_paths)
    seen: Seen = {}
    for path in wanted.all_paths:
        entry = read_entry(path, content=path in contents)
        if entry is not None:
            seen[path] = entry
    return seen


def read_entry(path: str, content: bool) -> Entry | None:
    """What `path` holds (a regular file's content too, when asked); None if nothing.

    Also flannel_facts' read of the role's paths before the plan, so both read alike.
    """
    try:
        info = os.lstat(path)
        kind = "dir" if stat.S_ISDIR(info.st_mode) else "file"
        if not stat.S_ISDIR(info.st_mode) and not stat.S_ISREG(info.st_mode):
            kind = "other"
        data = None
        if kind == "file" and content:
            with open(path, "rb") as handle:
                data = handle.read()
    except (FileNotFoundError, NotADirectoryError):  # a parent that is no directory
        return None
    except OSError as exc:
        raise PodnetError(f"{path}: {exc.strerror}") from None
    return Entry(kind, stat.S_IMODE(info.st_mode), data)


def check_kinds(wanted: Wanted, seen: Seen) -> None:
    """Refuse, before any write, a path that holds another kind of object than wanted."""
    problems = [
        f"{path}: is not a directory; move it away, podnet wants a directory there"
        for path in wanted.directory_paths
        if path in seen and seen[path].kind != "dir"
    ]
    problems += [
        f"{path}: is not a regular file; move it away, podnet writes a file there"
        for path in [*wanted.file_paths, *wanted.absent]
        if path in seen and seen[path].kind != "file"
    ]
    if problems:
        raise PodnetError("; ".join(problems), problems)


def apply_files(changes: list[Change]) -> None:
    """In the diff's order: directories, files, removals."""
    for change in changes:
        try:
            if change.kind == "directory":
                if change.op == ADD:
                    os.makedirs(change.key, mode=change.spec["mode"])
                os.chmod(change.key, change.spec["mode"])  # makedirs' mode is under umask
            elif change.op == DELETE:
                os.unlink(change.key)
                fsync_directory(os.path.dirname(change.key) or ".")
            else:
                write_atomically(change.key, change.spec["content"], change.spec["mode"])
        except OSError as exc:
            raise PodnetError(f"{exc.filename or change.key}: {exc.strerror}") from None
