"""File input and output for the command line: the only place podnet reads or writes files."""

from __future__ import annotations

import json
import os
import tempfile
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
