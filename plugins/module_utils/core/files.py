"""The one atomic, durable file write: a temporary file in the target's directory with its
mode set before any byte, fsynced, renamed over the target, and the directory fsynced.
A reader (the CNI plugin, a reboot half-way) sees the old content or the new, never a
part, and after a power cut the rename is not undone (an old WireGuard key coming back).
"""

from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomically(path: str, content: bytes, mode: int) -> None:
    """Replace `path` with `content`, permissions `mode`; the directory must exist."""
    directory = os.path.dirname(path) or "."
    fd, temporary = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=directory)
    try:
        os.fchmod(fd, mode)  # mkstemp makes 0600 under any umask; this is the wanted mode
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    fsync_directory(directory)


def fsync_directory(path: str) -> None:
    """Make a rename or unlink in `path` durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
