"""Pings from the probe to its peers' probes, and over the underlay between the nodes.

One peer's checks, each a fact the report reads: pods reach each other; the pod MTU's
boundary is exact (the largest packet with DF set crosses, one byte more is refused); the
underlay connects the two public addresses; and, only when the boundary fails, the
largest DF packet that does cross (a binary search), which tells the MTU the path really
carries. Peers are probed in parallel: a node's time grows with its peer count, not the
fleet's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..core.programs import Programs

# ICMP echo headers plus the IP header: what `ping -s` does not count.
HEADERS = {4: 28, 6: 48}
PARALLEL = 16


def ping(
    programs: Programs,
    target: str,
    *,
    netns: str | None,
    size: int | None = None,
    count: int = 1,
) -> bool:
    """Whether `target` answers (any of `count` echoes), with DF set when `size` is given;
    from the probe `netns`, or from the node itself (None)."""
    binary = programs.which("ping") or "ping"
    argv = [binary, "-n", "-q", "-c", str(count), "-i", "0.2", "-W", "1"]
    if size is not None:
        argv += ["-M", "do", "-s", str(size)]
    if ipaddress.ip_address(target).version == 6:
        argv.insert(1, "-6")
    argv.append(target)
    if netns is not None:
        argv = [programs.which("ip") or "ip", "netns", "exec", netns, *argv]
    rc, _out, _err = programs.run(argv, None, None, False)
    return rc == 0


def largest_crossing(
    programs: Programs, netns: str, target: str, low: int, high: int
) -> int | None:
    """The largest DF payload in [low, high] that crosses, None when not even `low` does."""
    if not ping(programs, target, netns=netns, size=low):
        return None
    while low < high:
        middle = (low + high + 1) // 2
        if ping(programs, target, netns=netns, size=middle):
            low = middle
        else:
            high = middle - 1
    return low


def probe_peer(programs: Programs, netns: str, peer: Mapping[str, Any], mtu: int) -> dict[str, Any]:
    """Every check against one peer (its probe address and public address)."""
    family = ipaddress.ip_address(peer["address"]).version
    boundary = mtu - HEADERS[family]
    result: dict[str, Any] = {
        "name": peer["name"],
        "family": family,
        "address": peer["address"],
        "public_ip": peer["public_ip"],
        "reach": ping(programs, peer["address"], netns=netns, count=3),
        "underlay": ping(programs, peer["public_ip"], netns=None, count=2),
        "df_size": boundary,
        "df_crosses": False,
        "df_over_refused": not ping(programs, peer["address"], netns=netns, size=boundary + 1),
        "largest_crossing": None,
    }
    if result["reach"]:
        result["df_crosses"] = ping(programs, peer["address"], netns=netns, size=boundary, count=2)
        if not result["df_crosses"]:
            result["largest_crossing"] = largest_crossing(
                programs, netns, peer["address"], 548 - HEADERS[family], boundary - 1
            )
    return result


def probe_peers(
    programs: Programs, netns: str, peers: Sequence[Mapping[str, Any]], mtu: int
) -> list[dict[str, Any]]:
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(peers) or 1)) as pool:
        return list(pool.map(lambda peer: probe_peer(programs, netns, peer, mtu), peers))
