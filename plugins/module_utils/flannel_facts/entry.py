"""The flannel_facts module's one adapter: read subnet.env and flannel's devices.

run(params, check_mode, programs) -> Applied with no changes (it only reads, in check
mode too): `subnet`, `ipv6_subnet`, `network`, `ipv6_network`, `subnet_env`, `devices`.
One file read, one `ip -d -j addr show`, and the SHA-256 of each of `checksums` (the role
asks for its provided pyroute2 copy's and its restore program's, to skip re-sending
unchanged ones). With `network_facts`, two `ip route get` more, and the facts the plan reads
(network.py) in setup's shape, so the role needs no setup run. It needs no
pyroute2 and does not import it: it is the role's first module on a host, before the
plan, and must work (and change nothing) on any host. With
`check_pyroute2`, it also fails, read only, when the pyroute2 this Python imports cannot
serve podnet's other modules, so such a host stops before the plan.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied
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
    checksums = {path: sha256_of(path) for path in params.get("checksums") or []}
    fields = {
        "devices": read_flannel_devices(out),
        "bridge_networks": bridge_networks(out, str(params["bridge"])),
        "checksums": checksums,
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


def sha256_of(path: str) -> str | None:
    """A file's SHA-256 (hex), None when it is not there; any other failure is said."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise PodnetError(f"checksums: cannot read {path}: {exc.strerror}") from None
