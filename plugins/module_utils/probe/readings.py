"""What verify reads on a node besides pings: counters, sysctls, the FORWARD chain.

Counters are read twice, when the probe is made and when it goes, so the report sees
what moved while the fleet's probes pinged each other: packets arriving on the overlay
device (a tunnel whose port is blocked receives nothing) and packets through the jump to
FLANNEL-FWD (zero while the FORWARD policy is DROP: the rules are never reached).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from ..core.programs import Programs

_POLICY = re.compile(r"^Chain FORWARD \(policy (\w+)")


def read_file(path: str) -> str | None:
    try:
        with open(path) as handle:
            return handle.read().strip()
    except OSError:
        return None


def _number(text: str | None) -> int | None:
    return int(text) if text is not None and text.lstrip("-").isdigit() else None


def device_packets(device: str | None) -> dict[str, int | None]:
    if not device:
        return {"rx": None, "tx": None}
    base = f"/sys/class/net/{device}/statistics"
    return {
        "rx": _number(read_file(f"{base}/rx_packets")),
        "tx": _number(read_file(f"{base}/tx_packets")),
    }


def forward_chain(programs: Programs) -> dict[str, Any]:
    """The FORWARD chain's policy and the packets through its jumps to FLANNEL-FWD
    (None: iptables missing; jump_packets None: no jump)."""
    binary = programs.which("iptables")
    if binary is None:
        return {"policy": None, "jump_packets": None}
    rc, out, _err = programs.run(
        [binary, "-w", "-t", "filter", "-L", "FORWARD", "-v", "-x", "-n"], None, None, False
    )
    if rc != 0:
        return {"policy": None, "jump_packets": None}
    lines = out.splitlines()
    match = _POLICY.match(lines[0]) if lines else None
    jumps = [int(line.split()[0]) for line in lines[2:] if line.split()[2:3] == ["FLANNEL-FWD"]]
    return {"policy": match[1] if match else None, "jump_packets": sum(jumps) if jumps else None}


def counters(programs: Programs, overlay: str | None) -> dict[str, Any]:
    return {"overlay": device_packets(overlay), "forward": forward_chain(programs)}


def sysctls(iface: str | None, overlay: str | None, families: Sequence[int]) -> dict[str, Any]:
    """Forwarding, and rp_filter as the kernel applies it (the larger of `all` and the
    interface's: 1 strict, 2 loose) on the underlay interface and the overlay device."""
    values: dict[str, Any] = {"ip_forward": _number(read_file("/proc/sys/net/ipv4/ip_forward"))}
    if 6 in families:
        values["ipv6_forwarding"] = _number(read_file("/proc/sys/net/ipv6/conf/all/forwarding"))
    every = _number(read_file("/proc/sys/net/ipv4/conf/all/rp_filter")) or 0
    values["rp_filter"] = {
        device: max(every, _number(read_file(f"/proc/sys/net/ipv4/conf/{device}/rp_filter")) or 0)
        for device in (iface, overlay)
        if device
    }
    return values


def handshakes(programs: Programs, device: str | None) -> dict[str, int]:
    """WireGuard: peer public key -> the last handshake (seconds since the epoch, 0: none)."""
    binary = programs.which("wg")
    if not device or not device.startswith("flannel-wg") or binary is None:
        return {}
    rc, out, _err = programs.run([binary, "show", device, "latest-handshakes"], None, None, False)
    if rc != 0:
        return {}
    return {key: int(stamp) for key, stamp in (line.split() for line in out.splitlines() if line)}


def neighbours(programs: Programs, iface: str | None) -> dict[str, list[str]]:
    """The underlay neighbours' states (host-gw's gateways must be reachable on L2)."""
    binary = programs.which("ip")
    if not iface or binary is None:
        return {}
    rc, out, _err = programs.run([binary, "-j", "neigh", "show", "dev", iface], None, None, False)
    if rc != 0 or not out.strip():
        return {}
    return {entry["dst"]: entry.get("state", []) for entry in json.loads(out) if "dst" in entry}


def mtu_of(device: str | None) -> int | None:
    return _number(read_file(f"/sys/class/net/{device}/mtu")) if device else None
