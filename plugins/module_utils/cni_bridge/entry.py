"""The cni_bridge module's one adapter: run(params, check_mode, programs) -> Applied.

Checks the options (every problem at once), then host.sync_bridge; --diff shows the
bridge's addresses before and after.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied
from .host import sync_bridge


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    problems = []
    for field in ("subnets", "networks"):
        for index, value in enumerate(params.get(field) or []):
            try:
                ipaddress.ip_network(value)
            except ValueError as exc:
                problems.append(f"{field}[{index}]: {value!r} is not a CIDR ({exc})")
    if not params.get("networks"):
        problems.append("networks: empty: give the cluster networks (net-conf.json Network)")
    if problems:
        raise PodnetError("invalid input: " + "; ".join(problems), problems)

    def run_ip(args: list[str]) -> tuple[int, str, str]:
        return programs.run(args, None, None, False)

    changes, warnings, seen = sync_bridge(params, run_ip, check_mode)
    before = sorted(str(a) for a in seen.addresses)
    gone = {change.spec["address"] for change in changes}
    return Applied(
        changes,
        before={"addresses": before},
        after={"addresses": [a for a in before if a not in gone]},
        fields={"bridge": params["bridge"]},
        warnings=warnings,
    )
