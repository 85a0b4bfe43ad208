"""File input and output for the command line: the only place podnet reads or writes files."""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..errors import ValidationError
from ..leases import Lease, leases_to_data

LEASE_FILE_HEADER = """\
# podnet lease file: node name -> pod subnet (IPv4, IPv6 or both), and where the node
# was last seen (public_ip, mtu) when site.yml recorded it. Written by site.yml and by
# `podnet plan --write-leases`; commit it with the inventory.
# An entry stays after its node leaves the inventory, reserving the subnet;
# delete it to free the subnet (a returning node then gets a new one).
"""


def load_json(path: Path, label: str) -> object:
    """Decode a JSON file; a problem names the option, the file and the position."""
    text = _read(path, label)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        raise ValidationError([f"{label} {path}: not valid JSON at {where}: {error.msg}"]) from None


def load_yaml(path: Path, label: str) -> object:
    """Decode a YAML file (safe loader: no tags, no code)."""
    text = _read(path, label)
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        where = getattr(error, "problem_mark", None)
        position = f" at line {where.line + 1} column {where.column + 1}" if where else ""
        reason = getattr(error, "problem", None) or str(error)
        raise ValidationError([f"{label} {path}: not valid YAML{position}: {reason}"]) from None


def _read(path: Path, label: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValidationError([f"{label} {path}: no such file"]) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ValidationError([f"{label} {path}: cannot be read: {error}"]) from None


def render_lease_file(leases: dict[str, Lease]) -> str:
    """The lease file's text: a commented header and a mapping sorted by node name."""
    data = leases_to_data(leases)
    # Already sorted by node name; a record keeps its fields in LEASE_KEYS order (subnet first).
    body = yaml.safe_dump(data, default_flow_style=False, sort_keys=False) if data else "{}\n"
    return LEASE_FILE_HEADER + body


def write_atomically(path: Path, text: str) -> bool:
    """Replace `path` with `text` in one rename; return False when it already held it.

    The temporary file lives in the same directory (rename is atomic only within a
    file system) and is fsynced first, so a crash leaves the old or the new file,
    never half of one. An existing file keeps its mode.
    """
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
        mode = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mode = 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return True


LEASE_LOCK_WAIT = 300.0


@contextmanager
def lease_lock(path: Path, wait: float = LEASE_LOCK_WAIT) -> Iterator[None]:
    """Hold the lease file's lock from reading it to writing it: two runs planning at once
    take turns, so the second plans from what the first recorded.

    The lock is an flock on the file's directory, not on the file, which is replaced by a
    rename at every write (a lock on the old file would guard nothing), and not a file of
    its own, which would end up committed with the inventory. No directory yet: nothing to
    guard.

    Raises:
        ValidationError: another run held it for `wait` seconds.
    """
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        yield
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ValidationError(
                        [
                            f"podnet_lease_file: {path}: another run has been planning with "
                            f"it for {wait:.0f} s (it holds the lock on {directory}); let it "
                            "finish, then run again"
                        ]
                    ) from None
                time.sleep(0.2)
        yield
    finally:
        os.close(fd)
