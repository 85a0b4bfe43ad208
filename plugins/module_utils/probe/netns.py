"""The probe: a network namespace attached like a pod, made for one verify run.

Not on cni0 (which exists only once the first pod started, and whose leases belong to
host-local): a veth whose host end routes one address of the node's pod subnet to it, as
a point-to-point CNI plugin does. Inside, the default route points at the host end, which
answers ARP for every address (proxy_arp) and holds fe80::1 for IPv6. Pod traffic from it
takes the node's routes, FORWARD chain and tunnel exactly as a pod's does. Everything is
podnet's own (named podnet-probe*) and `remove` deletes it: the namespace takes the veth,
and the veth its route.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from ..core.errors import PodnetError
from ..core.programs import Programs

HOST_END = "podnet-probe"
GATEWAY_V6 = "fe80::1"


def ip(programs: Programs, *args: str, netns: str | None = None) -> str:
    """Run `ip [-n netns] args`; its stdout, or PodnetError naming the command."""
    binary = programs.which("ip")
    if binary is None:
        raise PodnetError("verify needs `ip` (iproute2) on the node: install iproute2")
    argv = [binary, *(["-n", netns] if netns else []), *args]
    rc, out, err = programs.run(argv, None, None, False)
    if rc != 0:
        raise PodnetError(f"`{' '.join(argv)}` failed: {err.strip() or out.strip()}")
    return out


def exists(programs: Programs, netns: str) -> bool:
    return netns in ip(programs, "netns", "list").split()


def remove(programs: Programs, netns: str) -> bool:
    """Delete the probe (namespace, veth, route); whether there was one."""
    if not exists(programs, netns):
        return False
    ip(programs, "netns", "delete", netns)
    return True


def make(programs: Programs, netns: str, addresses: Sequence[str], mtu: int) -> None:
    """A fresh probe `netns` holding `addresses` (one per family), MTU `mtu` on both ends."""
    remove(programs, netns)  # what an interrupted run left
    ip(programs, "netns", "add", netns)
    try:
        ip(programs, "link", "add", HOST_END, "mtu", str(mtu), "type", "veth", "peer", "name",
           "eth0", "netns", netns)  # fmt: skip
        _sysctl(f"net/ipv4/conf/{HOST_END}/proxy_arp", "1")
        _sysctl(f"net/ipv4/conf/{HOST_END}/rp_filter", "0")
        ip(programs, "link", "set", HOST_END, "up")
        ip(programs, "link", "set", "lo", "up", netns=netns)
        ip(programs, "link", "set", "eth0", "mtu", str(mtu), "up", netns=netns)
        for text in addresses:
            address = ipaddress.ip_address(text)
            if address.version == 4:
                ip(programs, "addr", "add", f"{address}/32", "dev", "eth0", netns=netns)
                ip(programs, "route", "add", "default", "dev", "eth0", netns=netns)
                ip(programs, "route", "add", f"{address}/32", "dev", HOST_END)
            else:
                ip(programs, "-6", "addr", "add", f"{GATEWAY_V6}/64", "dev", HOST_END,
                   "nodad")  # fmt: skip
                ip(programs, "-6", "addr", "add", f"{address}/128", "dev", "eth0", "nodad",
                   netns=netns)  # fmt: skip
                ip(programs, "-6", "route", "add", "default", "via", GATEWAY_V6, "dev", "eth0",
                   netns=netns)  # fmt: skip
                ip(programs, "-6", "route", "add", f"{address}/128", "dev", HOST_END)
    except PodnetError:
        remove(programs, netns)
        raise


def _sysctl(path: str, value: str) -> None:
    with open(f"/proc/sys/{path}", "w") as handle:
        handle.write(value)
