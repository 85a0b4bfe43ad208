"""What the overlay_filter module is asked for: the fleet's underlay addresses and the port.

The filter lets VXLAN in from the fleet's nodes only. Its input is one address per node and
family (the plan's `overlay_members`) and the VXLAN port; `prepare` checks both, and the
tools the wanted mode needs, and reports every problem at once, each naming the field, the
value and the fix.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..input import (
    Family,
    FirewallInputError,
    Tools,
    missing_tools,
    required_tools,
)

# net-conf.json's Port 0 leaves the port to the kernel, whose VXLAN default is 8472.
KERNEL_VXLAN_PORT = 8472


@dataclass(frozen=True)
class OverlayRequest:
    """The module's options, checked.

    Attributes:
        members: per family version, the nodes' addresses in canonical form, sorted.
    """

    state: str
    backend: str
    port: int
    members: dict[int, tuple[str, ...]]

    def wants(self, backend: str, family: Family) -> bool:
        """Whether the filter of `family` should exist in `backend`'s form."""
        return (
            self.state == "present"
            and self.backend == backend
            and bool(self.members.get(family.version))
        )


def prepare_overlay(params: Mapping[str, Any], host: Tools) -> OverlayRequest:
    """Check the options and the tools they need; raise once with every problem.

    Raises:
        FirewallInputError: a bad address or port, no member at all, a tool not installed.
    """
    members, problems = parse_members(params.get("members") or [])
    port = params.get("port")
    if port == 0:
        port = KERNEL_VXLAN_PORT
    if not isinstance(port, int) or not 0 < port < 65536:
        problems.append(
            f"port: {port!r} is not a UDP port: give net-conf.json's Backend.Port "
            f"(1-65535, or 0 for the kernel's {KERNEL_VXLAN_PORT})"
        )
        port = KERNEL_VXLAN_PORT
    request = OverlayRequest(params["state"], params["backend"], port, members)
    if request.state == "present" and not members:
        problems.append(
            "members: empty, but state is present: give every node's public (underlay) "
            "address, the plan's overlay_members, or state: absent"
        )
    who = f"the overlay filter in {request.backend} mode"
    problems += missing_tools(who, required_tools(request.wants), host)
    if problems:
        raise FirewallInputError(problems)
    return request


def parse_members(raw: list[Any]) -> tuple[dict[int, tuple[str, ...]], list[str]]:
    """Per family version, the members' addresses (canonical, sorted, once); every problem.

    >>> parse_members(["192.0.2.12", "2001:db8:0::11", "192.0.2.11", "192.0.2.12"])[0]
    {4: ('192.0.2.11', '192.0.2.12'), 6: ('2001:db8::11',)}
    >>> parse_members(["0.0.0.0", "192.0.2.300"])[1]  # doctest: +NORMALIZE_WHITESPACE
    ["members[0]: 0.0.0.0 is unspecified, which no node sends from: give the node's public
    (underlay) address", "members[1]: '192.0.2.300' is not an IPv4 or IPv6 address: give the
    node's public (underlay) address"]
    """
    problems: list[str] = []
    found: dict[int, set[ipaddress.IPv4Address | ipaddress.IPv6Address]] = {}
    fix = "give the node's public (underlay) address"
    for index, value in enumerate(raw):
        try:
            address = ipaddress.ip_address(str(value).strip())
        except ValueError:
            problems.append(f"members[{index}]: {value!r} is not an IPv4 or IPv6 address: {fix}")
            continue
        unusable = _unusable(address)
        if unusable:
            problems.append(
                f"members[{index}]: {address} is {unusable}, which no node sends from: {fix}"
            )
            continue
        found.setdefault(address.version, set()).add(address)
    members = {
        version: tuple(str(address) for address in sorted(found[version]))
        for version in sorted(found)
    }
    return members, problems


def _unusable(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Why no node can send VXLAN from `address` ("" if it can)."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_multicast:
        return "a multicast address"
    if address.is_loopback:
        return "a loopback address"
    if address.version == 6 and address.is_link_local:
        return "link-local (a VXLAN peer needs a routable address)"
    return ""
