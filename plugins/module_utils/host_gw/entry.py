"""The host-gw backend's one adapter: what the module's main() runs, and the boot restore.

    finish(module, lambda: entry.run(module.params, module.check_mode, programs))

`run` checks pyroute2, validates, opens the netlink handles itself (`open_rtnl`: IPRoute
with groups=0 and the bulk channel on its socket), reconciles, and returns what the module
returns: the changes and the --diff views. Every failure is a PodnetError (a netlink or OS
error reads `host_gw: netlink: <error>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied, step_label
from ..kernel.handles import open_rtnl, require_pyroute2
from .host import reconcile_host_gw
from .input import validate_host_gw
from .state import view


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label: the family, and whether the routes go.

    >>> label({"family": 4, "state": "present"}), label({"family": 6, "state": "absent"})
    ('host-gw IPv4', 'host-gw IPv6 (absent)')
    """
    text = f"host-gw IPv{params.get('family')}"
    return step_label(text, params)


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the host's host-gw routes match `params` (the module's arguments).

    `programs` is unused: everything goes through netlink.
    """
    del programs
    require_pyroute2()  # first: without it nothing else can be told
    valid = validate_host_gw(params)
    with open_rtnl("host_gw: netlink: ") as (ipr, wire):
        result = reconcile_host_gw(ipr, wire, valid, check_mode=check_mode)
    return Applied(result.changes, before=view(result.before), after=view(result.after))
