"""The node's WireGuard private key file: read it, write it atomically, derive its public key.

The file holds the base64 key and a newline, as `wg genkey` prints it (`wg set
private-key` and `wg pubkey` read either form; flannel writes it without the newline).
It is 0600 from the moment it exists: the temporary file is created 0600 and fchmod-ed
to 0600 again (a umask can only take bits away, but a strange one could take the owner's
write bit), written, fsync-ed, then renamed over the key file, so a crash leaves either
the old key or the new one, never half a key or a key others could read. A missing
parent directory is created 0700.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

from ..core.files import fsync_directory, write_atomically
from .commands import Commands
from .keys import KEY_RULE, Secret, WgError, is_wireguard_key

KEY_MODE = 0o600
DIR_MODE = 0o700


@dataclass(frozen=True)
class KeyFile:
    """A key file as found: its key (None: the file holds no key) and permission bits."""

    key: Secret | None
    mode: int


def read_key_file(path: str) -> KeyFile | None:
    """What `path` holds, or None when there is no file. Reading never quotes the content."""
    try:
        with open(path, encoding="ascii", errors="replace") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            text = handle.read(200).strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise WgError(f"key_file: cannot read {path}: {exc.strerror}") from None
    return KeyFile(Secret(text) if is_wireguard_key(text) else None, mode)


def require_key(found: KeyFile, path: str) -> Secret:
    """The key of a file that must hold one; WgError (without the content) otherwise."""
    if found.key is None:
        raise WgError(
            f"key_file: {path} does not hold a WireGuard private key ({KEY_RULE}); "
            "move it away or run podnet.fabric.wireguard_key with state=rotated"
        )
    return found.key


def write_key_file(path: str, key: Secret) -> bool:
    """Write `key` to `path` atomically, 0600; returns whether the parent was created."""
    parent = os.path.dirname(path) or "."
    created = not os.path.isdir(parent)
    if created:
        os.makedirs(parent, mode=DIR_MODE, exist_ok=True)
        os.chmod(parent, DIR_MODE)  # makedirs' mode is subject to the umask
    write_atomically(path, (key.reveal() + "\n").encode("ascii"), KEY_MODE)
    return created


def fix_mode(path: str) -> None:
    os.chmod(path, KEY_MODE)


def remove_key_file(path: str) -> None:
    os.unlink(path)
    fsync_directory(os.path.dirname(path) or ".")


def generate_key(commands: Commands) -> Secret:
    """A new private key from `wg genkey` (the kernel's CSPRNG, clamped for Curve25519)."""
    text = commands.wg("genkey").strip()
    if not is_wireguard_key(text):
        raise WgError("`wg genkey` printed something that is not a key")
    return Secret(text)


def public_key_of(commands: Commands, key: Secret) -> str:
    """The public key of `key`, from `wg pubkey` reading the private key on stdin."""
    text = commands.wg("pubkey", stdin=key).strip()
    if not is_wireguard_key(text):
        raise WgError("`wg pubkey` printed something that is not a key")
    return text
