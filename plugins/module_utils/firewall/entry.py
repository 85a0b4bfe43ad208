"""The masquerade module's one adapter: what its main() and the boot restore both run.

run(params, check_mode, programs): the host's tools -> prepare (options and tools,
every problem at once) -> sync_masquerade -> Applied (changes, the --diff listings,
random_fully/backend, the warnings about what could not be read)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied, step_label
from .host import FirewallError, firewall_host, sync_masquerade
from .input import prepare


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label: `masquerade iptables`, `... (absent)` for state=absent."""
    text = f"masquerade {params.get('backend')}"
    return step_label(text, params)


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the host's flannel masquerade and forward rules match `params`."""

    host = firewall_host(programs)
    try:
        request = prepare(params, host)
        result = sync_masquerade(request, host, check_mode)
    except OSError as exc:
        raise FirewallError(str(exc)) from exc
    return Applied(
        result.changes,
        before=result.before,
        after=result.after,
        fields={"random_fully": result.random_fully, "backend": params["backend"]},
        warnings=result.warnings,
    )
