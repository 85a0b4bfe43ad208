"""The vxlan backend's one adapter: what the module's main() runs, and the boot restore.

    finish(module, lambda: entry.run(module.params, module.check_mode, programs))

`run` checks pyroute2, validates, opens the netlink handles itself (`open_rtnl`: IPRoute
with groups=0 and the bulk channel on its socket), reconciles, and returns what the module
returns: the changes, the --diff views and `ifname`. Every failure is a PodnetError (a
netlink or OS error reads as the error itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied, step_label
from ..kernel.handles import open_rtnl, require_pyroute2
from ..names import vxlan_ifname
from .host import Host, reconcile_vxlan
from .input import validate_params
from .state import view


def label(params: Mapping[str, Any]) -> str:
    """The restore's line label: the device, and whether it goes.

    >>> label({"family": 6, "vni": 1, "state": "absent"})
    'vxlan flannel-v6.1 (absent)'
    """
    ifname = vxlan_ifname(params.get("vni", 1), 6 if params.get("family") == 6 else 4)
    text = f"vxlan {ifname}"
    return step_label(text, params)


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """Make the host's VXLAN objects match `params` (the module's arguments).

    `programs` is unused: everything goes through netlink.
    """
    del programs
    require_pyroute2()  # first: without it nothing else can be told
    valid = validate_params(params)
    # Two statements, not one with two items: pylint (ansible-test sanity) reads `ipr` and
    # `wire` in the second item as used before assignment.
    with open_rtnl() as (ipr, wire):  # noqa: SIM117
        with Host(ipr, wire=wire) as host:
            result = reconcile_vxlan(host, valid, check_mode=check_mode)
    return Applied(
        result.changes,
        before=view(result.before),
        after=view(result.after),
        fields={"ifname": result.ifname},
    )
