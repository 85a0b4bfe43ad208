"""The routed lab's router: a network namespace with one leg on each segment's bridge.

It forwards between segment a and segment b and nowhere else: it has only the two
connected routes, so a packet for any other address (a node's default route pointing at
the world) gets ICMP "net unreachable" and no packet leaves the namespaces. Nodes on
different segments reach each other's eth0 only through it; nodes on one segment are
on-link and never touch it.

Built in this order: the namespace; per segment a veth whose host end is a port of the
segment's bridge and whose other end is created inside as seg-<segment>; lo, the legs'
addresses (each segment's gateway); forwarding on. It holds no state, so a router that is
not complete is removed and built again.

The host's bridges carry the underlay frames: with br_netfilter loaded and
net.bridge.bridge-nf-call-iptables=1, every frame crossing podnet-lab-br0/br1 also
traverses the host's iptables FORWARD chain (fine while its policy is ACCEPT; see the
README's troubleshooting). The router's own FORWARD chain is its namespace's, empty.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from .layout import NETNS_DIR, ROUTER_NETNS, SEGMENTS, UNDERLAY_MTU
from .system import LabError, is_mounted, link_exists, link_master, run

ROUTER_NETNS_PATH = NETNS_DIR / ROUTER_NETNS


def router_is_complete() -> bool:
    """Whether the router namespace exists with both legs on their bridges."""
    return is_mounted(ROUTER_NETNS_PATH, "nsfs") and all(
        link_master(s.router_veth) == s.bridge for s in SEGMENTS
    )


def router_forwarding() -> bool | None:
    """net.ipv4.ip_forward inside the router; None when there is no router."""
    if not ROUTER_NETNS_PATH.exists():
        return None
    proc = router_run(["cat", "/proc/sys/net/ipv4/ip_forward"], check=False)
    return proc.returncode == 0 and proc.stdout.strip() == "1"


def build_router() -> None:
    """Create the router from nothing (the bridges must exist); on failure, remove it."""
    try:
        run(["ip", "netns", "add", ROUTER_NETNS], where="router")
        batch = ["link set lo up"]
        for segment in SEGMENTS:
            leg = ["peer", "name", segment.router_ifname, "netns", ROUTER_NETNS]
            run(["ip", "link", "add", segment.router_veth, "type", "veth", *leg])
            host_end = ["ip", "link", "set", "dev", segment.router_veth]
            run([*host_end, "master", segment.bridge, "addrgenmode", "none"])
            run([*host_end, "mtu", str(UNDERLAY_MTU), "up"])
            batch += [
                f"link set {segment.router_ifname} mtu {UNDERLAY_MTU} up",
                f"addr add {segment.gateway}/{segment.network.prefixlen}"
                f" dev {segment.router_ifname}",
            ]
        run(["ip", "-n", ROUTER_NETNS, "-batch", "-"], stdin="\n".join(batch) + "\n")
        # /proc/sys/net is the writer's network namespace's: nsenter --net is enough.
        router_run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
    except BaseException:
        remove_router()
        raise


def ensure_router() -> None:
    """Build the router unless it is complete, and make sure it forwards."""
    if not router_is_complete():
        remove_router()
        build_router()
    elif not router_forwarding():
        router_run(["sysctl", "-qw", "net.ipv4.ip_forward=1"])


def remove_router() -> list[str]:
    """Remove the router's legs and namespace, whichever exist; return what was removed."""
    removed = []
    for segment in SEGMENTS:
        if link_exists(segment.router_veth):
            run(["ip", "link", "del", "dev", segment.router_veth], where="router")
            removed.append(segment.router_veth)
    if ROUTER_NETNS_PATH.exists():
        run(["ip", "netns", "del", ROUTER_NETNS], where="router")
        removed.append(ROUTER_NETNS)
    return removed


def router_run(argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `argv` in the router's network namespace (the host's filesystem)."""
    if not ROUTER_NETNS_PATH.exists():
        raise LabError("the lab has no router: run `tests/lab/lab.py up --topology routed`")
    return run(["nsenter", f"--net={ROUTER_NETNS_PATH}", "--", *argv], check=check, where="router")
