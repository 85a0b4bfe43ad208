"""The overlay_filter module's one adapter: what its main() and the boot restore both run.

run(params, check_mode, programs): the host's tools -> prepare_overlay (options and tools,
every problem at once) -> sync_overlay -> Applied (changes, the --diff listings, the
warnings about what could not be read)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.programs import Programs
from ...core.shell import Applied, step_label
from ..host import FirewallError, firewall_host
from .host import sync_overlay
from .input import prepare_overlay


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label: `overlay filter iptables`, `... (absent)` for state=absent."""
    return step_label(f"overlay filter {params.get('backend')}", params)


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the host accept VXLAN from the fleet's nodes only, as `params` say."""

    host = firewall_host(programs)
    try:
        request = prepare_overlay(params, host)
        result = sync_overlay(request, host, check_mode)
    except OSError as exc:
        raise FirewallError(str(exc)) from exc
    return Applied(
        result.changes,
        before=result.before,
        after=result.after,
        fields={"backend": request.backend, "port": request.port},
        warnings=result.warnings,
    )
