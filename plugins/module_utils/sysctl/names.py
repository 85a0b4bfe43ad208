"""Kernel parameter names to /proc/sys paths, the way sysctl(8) reads them.

sysctl(8) (procps) accepts two spellings. In the dotted one, `.` separates the levels and
a `/` inside a level stands for a literal `.`, which is how interface names with dots are
written: `net.ipv6.conf.flannel/1.accept_ra` is /proc/sys/net/ipv6/conf/flannel.1/accept_ra.
If the first separator in the name is a `/`, the name is a path instead: `/` separates
the levels and dots are literal (`net/ipv6/conf/flannel.1/accept_ra`).
"""

from __future__ import annotations


def sysctl_parts(name: str) -> list[str]:
    """The path levels under /proc/sys that `name` stands for.

    >>> sysctl_parts("net.ipv4.ip_forward")
    ['net', 'ipv4', 'ip_forward']
    >>> sysctl_parts("net.ipv6.conf.flannel/1.accept_ra")
    ['net', 'ipv6', 'conf', 'flannel.1', 'accept_ra']
    >>> sysctl_parts("net/ipv6/conf/flannel.1/accept_ra")
    ['net', 'ipv6', 'conf', 'flannel.1', 'accept_ra']
    """
    dot, slash = name.find("."), name.find("/")
    if slash != -1 and (dot == -1 or slash < dot):
        return name.split("/")
    return [part.replace("/", ".") for part in name.split(".")]


def name_problem(name: str) -> str | None:
    """Why `name` cannot be a kernel parameter name, or None if it can.

    >>> name_problem("net..ipv4")
    'has an empty level: write it like net.ipv4.ip_forward'
    >>> name_problem("net/ipv4/../../etc")
    "has a level '.' or '..', which would leave /proc/sys"
    """
    if not name.strip() or name != name.strip():
        return "is empty or has surrounding spaces: write it like net.ipv4.ip_forward"
    parts = sysctl_parts(name)
    if any(part == "" for part in parts):
        return "has an empty level: write it like net.ipv4.ip_forward"
    if any(part in (".", "..") for part in parts):
        return "has a level '.' or '..', which would leave /proc/sys"
    return None
