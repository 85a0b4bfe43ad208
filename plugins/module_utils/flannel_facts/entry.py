"""The flannel_facts module's one adapter: read subnet.env and flannel's devices.

run(params, check_mode, programs) -> Applied with no changes (it only reads, in check
mode too): `subnet`, `ipv6_subnet`, `network`, `ipv6_network`, `subnet_env`, `devices`.
It runs no program: one file read and one netlink link dump.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.programs import Programs
from ..core.shell import Applied
from ..kernel.handles import open_rtnl, require_pyroute2
from .env import read_subnet_env
from .links import read_flannel_devices


def label(params: Mapping[str, Any]) -> str:
    """`flannel_facts /run/flannel/subnet.env`."""
    return f"flannel_facts {params.get('path')}"


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """What flannel (or an earlier podnet run) left on this host; changes nothing."""
    # The role's first module on a host: a missing or unusable pyroute2 stops the host here,
    # before the plan and before any change, with the version found and the fix.
    require_pyroute2()
    env = read_subnet_env(str(params["path"]))
    with open_rtnl("flannel_facts: netlink: ") as (ipr, _wire):
        devices = read_flannel_devices(ipr)
    return Applied([], fields={"devices": devices, **env})
