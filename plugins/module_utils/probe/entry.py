"""The probe module's adapter: make the probe, ping from it, or read and remove it.

verify.yml calls it three times per node, so that every node's probe exists before any
node pings and the counters are read after every node has pinged:
- present: the probe with one free address per pod subnet, and the counters;
- probe: the checks against each of `peers` (their probes' addresses and public addresses);
- absent: the counters again, sysctls, the underlay MTU, WireGuard handshakes, underlay
  neighbours; then the probe is removed. Nothing else on the node changes at any point.
In check mode it does nothing: even a throwaway namespace is a change.
"""

from __future__ import annotations

import glob
import ipaddress
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.shell import Applied
from . import netns, ping, readings


def label(params: Mapping[str, Any]) -> str:
    return f"probe ({params['state']})"


def _taken() -> set[str]:
    """Addresses host-local handed to pods (one file per address, in any network's dir)."""
    return {os.path.basename(path) for path in glob.glob("/var/lib/cni/networks/*/*")}


def choose_addresses(subnets: Sequence[str], taken: set[str], tries: int = 8) -> list[str]:
    """Per subnet (one per family), the highest address no pod holds: host-local hands out
    the lowest first.

    >>> choose_addresses(["10.244.1.0/24", "fd00:1::/64"], {"10.244.1.254"})
    ['10.244.1.253', 'fd00:1::ffff:ffff:ffff:fffe']
    """
    chosen = []
    for subnet in subnets:
        network = ipaddress.ip_network(subnet)
        last = network.broadcast_address - 1
        free = [str(last - i) for i in range(tries) if str(last - i) not in taken]
        if not free:
            raise PodnetError(
                f"no free probe address at the top of {subnet}: pods hold the last {tries}; "
                "run verify when fewer pods run on this node"
            )
        chosen.append(free[0])
    return chosen


def run(params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied:
    state = params["state"]
    if check_mode:
        return Applied([], fields={"checked": False})
    overlay, name = params.get("overlay"), params["netns"]
    if state == "present":
        addresses = choose_addresses(params["subnets"], _taken())
        netns.make(programs, name, addresses, int(params["mtu"]))
        return Applied(
            [],
            fields={"addresses": addresses, "before": readings.counters(programs, overlay)},
        )
    if state == "probe":
        if not netns.exists(programs, name):
            raise PodnetError("there is no probe on this node: run the `present` step first")
        return Applied(
            [],
            fields={"peers": ping.probe_peers(programs, name, params["peers"], int(params["mtu"]))},
        )
    fields = {
        "after": readings.counters(programs, overlay),
        "sysctls": readings.sysctls(params.get("iface"), overlay, params["families"]),
        "iface_mtu": readings.mtu_of(params.get("iface")),
        "handshakes": readings.handshakes(programs, overlay),
        "neighbours": readings.neighbours(programs, params.get("iface")),
        "removed": netns.remove(programs, name),
    }
    return Applied([], fields=fields)
