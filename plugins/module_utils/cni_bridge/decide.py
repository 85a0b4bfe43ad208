"""After a node's subnet changed: what to do with the CNI bridge's old gateway address.

Pure. The CNI bridge plugin gives `cni0` the gateway of the node's subnet when the first pod
starts, and refuses every later pod once the bridge holds another address of the family
(`"cni0" already has an IP address different from ...`): flannel's best-known trap after a
subnet change. An address of the bridge inside a cluster network but outside the node's
subnet is such an old gateway. It goes once no pod holds an address of its subnet in
host-local's store (the bridge plugin then adds the new gateway at the next pod start);
until then it stays, and the warning names the pods (container IDs) still holding one.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Union

from ..core.changes import DELETE, Change

Interface = Union[ipaddress.IPv4Interface, ipaddress.IPv6Interface]
Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]
Address = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def old_gateways(
    bridge: str,
    addresses: Sequence[Interface],
    subnets: Sequence[Network],
    networks: Sequence[Network],
    reserved: Mapping[Address, str],
) -> tuple[list[Change], list[str]]:
    """The deletes to make, and a warning per old gateway that must stay for now.

    Args:
        addresses: the bridge's addresses.
        subnets: this node's pod subnets (one per family).
        networks: the cluster networks (an address outside them is not podnet's concern).
        reserved: host-local's reservations, address -> the container holding it.

    >>> net = [ipaddress.ip_network("10.244.0.0/16")]
    >>> new = [ipaddress.ip_network("10.244.77.0/24")]
    >>> old = [ipaddress.ip_interface("10.244.1.1/24")]
    >>> changes, warnings = old_gateways("cni0", old, new, net, {})
    >>> [(c.op, c.key, c.reason) for c in changes]  # doctest: +NORMALIZE_WHITESPACE
    [('delete', 'cni0 10.244.1.1/24', "the old gateway: the node's subnet is 10.244.77.0/24
    now, and no pod holds an address in 10.244.1.0/24")]
    >>> old_gateways("cni0", old, new, net, {ipaddress.ip_address("10.244.1.5"): "c0ffee"})[1]
    ... # doctest: +NORMALIZE_WHITESPACE
    ["cni0 keeps its old gateway 10.244.1.1/24 (the node's subnet is 10.244.77.0/24 now):
    1 pod still holds an address in 10.244.1.0/24 (container c0ffee: 10.244.1.5), and new pods
    cannot start until it goes. Drain the node (kubectl drain), then run site.yml again."]
    """
    changes: list[Change] = []
    warnings: list[str] = []
    for address in addresses:
        if not any(address.ip in network for network in networks):
            continue
        current = [s for s in subnets if s.version == address.version]
        if any(address.ip in subnet for subnet in current):
            continue
        now = ", ".join(str(s) for s in current) or f"none in IPv{address.version}"
        holders = sorted(
            (str(ip), holder) for ip, holder in reserved.items() if ip in address.network
        )
        if holders:
            shown = ", ".join(f"container {holder}: {ip}" for ip, holder in holders)
            count = f"{len(holders)} pod{'s' if len(holders) > 1 else ''}"
            warnings.append(
                f"{bridge} keeps its old gateway {address} (the node's subnet is {now} now): "
                f"{count} still hold{'s' if len(holders) == 1 else ''} an address in "
                f"{address.network} ({shown}), and new pods cannot start until it goes. "
                "Drain the node (kubectl drain), then run site.yml again."
            )
            continue
        reason = (
            f"the old gateway: the node's subnet is {now} now, and no pod holds an address "
            f"in {address.network}"
        )
        spec = {"bridge": bridge, "address": str(address)}
        changes.append(Change(DELETE, "addr", f"{bridge} {address}", reason, spec))
    return changes, warnings
