"""The wireguard module's one adapter: what its main() and the boot restore both run.

    run(params, check_mode, programs): validate -> the host's commands -> reconcile ->
    Applied (changes, the --diff views, ifname/implementation/public_key)

Every failure leaves as a PodnetError (WgError), so the module's shell and the restore
report the same text.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied, step_label
from .commands import commands_of
from .host import WgHost, reconcile_wireguard
from .input import validate_params
from .keys import WgError
from .state import view


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label: `wireguard flannel-wg`, `... (absent)` for state=absent."""
    text = f"wireguard {params.get('device')}"
    return step_label(text, params)


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the host's WireGuard device match `params` (the module's arguments)."""
    device = params.get("device")
    try:
        valid = validate_params(params)
        device = valid.device
        host = WgHost(commands_of(programs), hide=programs.hide)
        result = reconcile_wireguard(host, valid, check_mode=check_mode)
    except OSError as exc:  # a file podnet reads or writes (key file, PSK file, /proc)
        raise WgError(f"{exc.filename or device}: {exc.strerror}") from exc
    link = result.after.link
    return Applied(
        result.changes,
        before=view(result.before),
        after=view(result.after),
        fields={
            "ifname": valid.device,
            "implementation": link.implementation if link is not None else None,
            "public_key": result.public_key,
        },
    )
