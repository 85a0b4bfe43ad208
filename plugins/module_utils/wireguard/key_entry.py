"""The wireguard_key module's one adapter: probe the host, then keep the key file.

    run(params, check_mode, programs): probe (reads only) -> reconcile_key -> Applied
    (changes, the --diff lines, key_file/public_key/key_created/implementation/missing)

The private key reaches only `programs.hide`, the key file and `wg pubkey`'s stdin.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied
from .commands import commands_of
from .keys import WgError
from .keystate import reconcile_key
from .probe import probe_host


def label(params: Mapping[str, Any]) -> str:
    """`wireguard_key /etc/podnet/wireguard.key`."""
    return f"wireguard_key {params.get('key_file')}"


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Probe which WireGuard the host can run and make the key file what `state` asks."""
    commands = commands_of(programs)
    key_file = str(params["key_file"])
    try:
        probe = probe_host(
            commands,
            userspace=bool(params.get("userspace")),
            wireguard_go=str(params.get("wireguard_go") or "wireguard-go"),
        )
        result = reconcile_key(
            commands,
            key_file,
            str(params.get("state") or "present"),
            check_mode=check_mode,
            hide=programs.hide,
        )
    except OSError as exc:
        raise WgError(f"key_file: {key_file}: {exc.strerror}") from exc
    return Applied(
        result.changes,
        before=result.before,
        after=result.after,
        fields={
            "key_file": key_file,
            "public_key": result.public_key,
            "key_created": result.key_created,
            "implementation": probe.implementation,
            "missing": probe.missing,
        },
    )
