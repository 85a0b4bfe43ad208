"""The flannel_facts module's one adapter: read subnet.env and flannel's devices.

run(params, check_mode, programs) -> Applied with no changes (it only reads, in check
mode too): `subnet`, `ipv6_subnet`, `network`, `ipv6_network`, `subnet_env`, `devices`.
It runs no program: one file read and one netlink link dump.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied
from ..kernel.handles import IPRoute
from .env import read_subnet_env
from .links import read_flannel_devices


def label(params: Mapping[str, Any]) -> str:
    """`flannel_facts /run/flannel/subnet.env`."""
    return f"flannel_facts {params.get('path')}"


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """What flannel (or an earlier podnet run) left on this host; changes nothing."""
    env = read_subnet_env(str(params["path"]))
    if IPRoute is None:  # the module says so first, with Ansible's missing_required_lib
        raise PodnetError("flannel_facts: pyroute2 is not installed")
    try:
        # groups=0: no multicast subscriptions; this handle only dumps.
        with IPRoute(groups=0) as ipr:
            devices = read_flannel_devices(ipr)
    except OSError as exc:  # pyroute2's NetlinkError is one
        raise PodnetError(f"flannel_facts: netlink: {exc}") from exc
    return Applied([], fields={"devices": devices, **env})
