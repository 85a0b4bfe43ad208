"""The flannel_facts module's one adapter: read what the role needs before the plan.

run(params, check_mode, programs) -> Applied with no changes (it only reads, in check
mode too): `subnet`, `ipv6_subnet`, `network`, `ipv6_network`, `subnet_env`, `devices`,
`bridge_networks` (the CNI bridge's), `sysctls` (the values asked for) and `paths` (what
each path asked for holds: kind, mode, SHA-256; the role asks for its provided pyroute2,
its restore program and every path its files call writes, to skip re-sending or
re-writing unchanged ones). One file read, one `ip -d -j addr show`, the sysctls' and the
paths' reads. With `network_facts`, two `ip route get` more, and the facts the plan reads
(network.py) in setup's shape, so the role needs no setup run. It needs no pyroute2 and
does not import it: it is the role's first module on a host, before the plan, and must
work (and change nothing) on any host. With `check_pyroute2`, it also fails, read only,
when the pyroute2 this Python imports cannot serve podnet's other modules, so such a
host stops before the plan.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied
from ..files.host import read_entry
from ..sysctl.host import read_values
from .env import read_subnet_env
from .links import bridge_networks, read_flannel_devices
from .network import ROUTE_PROBES, network_facts


def label(params: Mapping[str, Any]) -> str:
    """`flannel_facts /run/flannel/subnet.env`."""
    return f"flannel_facts {params.get('path')}"


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    """What flannel (or an earlier podnet run) left on this host; changes nothing."""
    if params.get("check_pyroute2"):
        # Imported only here: importing pyroute2 (which kernel.handles does) is most of
        # this module's cost, and with the role's provided copy nothing here needs it.
        from ..kernel.handles import require_pyroute2  # noqa: PLC0415 - see above

        require_pyroute2()
    env = read_subnet_env(str(params["path"]))
    ip = programs.which("ip")
    if ip is None:
        raise PodnetError("flannel_facts: ip is not installed on this host (package iproute2)")
    rc, out, err = programs.run([ip, "-d", "-j", "addr", "show"], None, None, False)
    if rc != 0:
        raise PodnetError(f"flannel_facts: ip -d -j addr show failed (exit {rc}): {err.strip()}")
    fields = {
        "devices": read_flannel_devices(out),
        "bridge_networks": bridge_networks(out, str(params["bridge"])),
        "paths": {path: path_state(path) for path in params["paths"]},
        "sysctls": read_values(params["sysctls"]),
        **env,
    }
    if params.get("network_facts"):
        routes = {}
        for family, probe in ROUTE_PROBES.items():
            # No route of a family (no IPv6, no default) is an answer, not an error.
            rc, route, _err = programs.run(
                [ip, "-j", f"-{family}", "route", "get", probe], None, None, False
            )
            routes[family] = route if rc == 0 else ""
        fields["ansible_facts"] = network_facts(out, routes, sys.executable)
    return Applied([], fields=fields)


def path_state(path: str) -> dict[str, Any] | None:
    """What a path holds, read as the files module reads it: kind (`file`, `dir`, `other`),
    mode (octal text) and a regular file's SHA-256 (hex); None when there is nothing."""
    entry = read_entry(path, content=True)
    if entry is None:
        return None
    digest = hashlib.sha256(entry.content).hexdigest() if entry.content is not None else None
    return {"kind": entry.kind, "mode": f"{entry.mode:04o}", "sha256": digest}
