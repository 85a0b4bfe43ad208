"""Deterministic, sticky subnet allocation for one address family.

Sources, strongest first: a pinned subnet; the lease file; the subnet the host
already uses (its subnet.env, or a running flannel being adopted); otherwise the
lowest free subnet of [SubnetMin, SubnetMax], handed out in node-name order.
A subnet, once leased, never moves when other nodes come, go or are reordered,
and a node that left keeps its lease reserved until someone deletes the line:
reusing it silently could hand a live node's pod IPs to a newcomer.

Cost: O(n log n) for the name sort plus O(n + reserved) for the free scan,
whatever the pool's size (a 2**32-subnet IPv6 pool is never enumerated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .fields import IPNetwork
from .nodes import Node
from .pool import SubnetPool

NETWORK_KEY = {4: "Network", 6: "IPv6Network"}
SUBNET_LEN_KEY = {4: "SubnetLen", 6: "IPv6SubnetLen"}
NODE_SUBNET_KEY = {4: "subnet", 6: "ipv6_subnet"}
LONGEST_SUBNET = {4: 30, 6: 126}
_NAMES_SHOWN = 10


@dataclass(frozen=True, slots=True)
class FamilyAllocation:
    """The outcome for one family.

    Attributes:
        assigned: node name -> subnet, for every node in the inventory.
        kept: node name -> subnet, leases of nodes no longer in the inventory.
    """

    assigned: Mapping[str, IPNetwork]
    kept: Mapping[str, IPNetwork]


def allocate_family(
    pool: SubnetPool,
    nodes: Sequence[Node],
    leases: Mapping[str, IPNetwork],
    observed: Mapping[str, IPNetwork],
    problems: list[str],
    warnings: list[str],
) -> FamilyAllocation:
    """Give every node a subnet of `pool`; append problems and warnings.

    Args:
        nodes: the inventory, sorted by name (the order of first-come allocation).
        leases: the lease file's subnets of this family, by node name.
        observed: subnets hosts already use (subnet.env, a running flannel), by name.
    """
    family = pool.family
    owner: dict[int, str] = {}  # subnet index -> node holding it
    index_of: dict[str, int] = {}

    def claim(name: str, index: int) -> None:
        owner[index] = name
        index_of[name] = index

    # 1. Pins: the user said so; two pins on one subnet cannot both be honoured.
    for node in nodes:
        pin = node.pinned(family)
        if pin is None:
            continue
        index = pool.index_in_range(pin)
        path = f"nodes[{node.name}].{NODE_SUBNET_KEY[family]}"
        if index is None:
            problems.append(_outside(path, pin, pool, "pin a subnet inside it or unpin the node"))
        elif index in owner:
            problems.append(f"{path}: {pin} is also pinned by {owner[index]}; pin another subnet")
        else:
            claim(node.name, index)
            leased = leases.get(node.name)
            if leased is not None and leased != pin:
                warnings.append(
                    f"{node.name}: pinned {pin} replaces its lease {leased}; its pods get new addresses"
                )

    # 2. The lease file, then 3. what the host already runs with.
    for source, label in ((leases, "leases[{}]"), (observed, "hosts[{}] current subnet")):
        for node in nodes:
            subnet = source.get(node.name)
            if subnet is None or node.name in index_of:
                continue
            path = label.format(node.name)
            index = _check_recorded(subnet, path, pool, owner, problems, warnings)
            if index is not None:
                claim(node.name, index)

    # Leases of departed nodes stay reserved (see the module note).
    present = {node.name for node in nodes}
    kept: dict[str, IPNetwork] = {}
    for name in sorted(leases.keys() - present):
        subnet = leases[name]
        index = pool.index_in_range(subnet)
        if index is None:
            warnings.append(f"leases[{name}]: {subnet} is outside {_range(pool)}; dropped")
        elif index in owner:
            warnings.append(f"leases[{name}]: {subnet} now belongs to {owner[index]}; dropped")
        else:
            owner[index] = name
            kept[name] = subnet

    # 4. Lowest free subnet, in name order. One forward cursor: O(n + reserved).
    waiting = [node.name for node in nodes if node.name not in index_of]
    free = pool.size - len(owner)  # every owned index lies inside the range
    if len(waiting) > free:
        problems.append(_exhausted(pool, len(nodes), sorted(kept)))
        return FamilyAllocation({}, kept)
    cursor = pool.first
    for name in waiting:
        while cursor in owner:
            cursor += 1
        claim(name, cursor)
    assigned = {node.name: pool.subnet(index_of[node.name]) for node in nodes if node.name in index_of}
    return FamilyAllocation(assigned, kept)


def _check_recorded(
    subnet: IPNetwork,
    path: str,
    pool: SubnetPool,
    owner: Mapping[int, str],
    problems: list[str],
    warnings: list[str],
) -> int | None:
    """The index of a recorded subnet (lease file or the host's own) if it can be honoured.

    A bad lease-file line is an error (renumbering a node must be a decision); a bad
    subnet found on a host only warns, since podnet is about to replace it.
    """
    index = pool.index_in_range(subnet)
    from_lease_file = path.startswith("leases")
    if index is None:
        fix = (
            "restore the old Network, or delete the line to give the node a new subnet"
            " (its pods get new addresses)"
        )
        if from_lease_file:
            problems.append(_outside(path, subnet, pool, fix))
        else:
            warnings.append(f"{path}: {subnet} is outside {_range(pool)}; a new subnet is allocated")
        return None
    if index in owner:
        message = f"{path}: {subnet} is also held by {owner[index]}"
        if from_lease_file:
            problems.append(f"{message}; delete one of the two lease lines")
        else:
            warnings.append(f"{message}; a new subnet is allocated")
        return None
    return index


def _range(pool: SubnetPool) -> str:
    key = NETWORK_KEY[pool.family]
    return f"{key} {pool.network} /{pool.subnet_len} range {pool.describe_range()}"


def _outside(path: str, subnet: IPNetwork, pool: SubnetPool, fix: str) -> str:
    if subnet.prefixlen != pool.subnet_len:
        return f"{path}: {subnet} is not a /{pool.subnet_len} ({SUBNET_LEN_KEY[pool.family]}); {fix}"
    return f"{path}: {subnet} is outside {_range(pool)}; {fix}"


def _exhausted(pool: SubnetPool, wanted: int, kept: Sequence[str]) -> str:
    """Say how many subnets exist, how many are wanted, and what to widen."""
    family = pool.family
    network_key, len_key = NETWORK_KEY[family], SUBNET_LEN_KEY[family]
    need = wanted + len(kept)
    blocks_in = lambda prefix, length: (1 << (length - prefix)) - 1  # noqa: E731 - first block is skipped
    prefix = pool.network.prefixlen
    wider = next((p for p in range(prefix - 1, -1, -1) if blocks_in(p, pool.subnet_len) >= need), None)
    longer = next(
        (n for n in range(pool.subnet_len + 1, LONGEST_SUBNET[family] + 1) if blocks_in(prefix, n) >= need),
        None,
    )
    fixes = []
    if pool.size < blocks_in(prefix, pool.subnet_len):
        fixes.append("widen SubnetMin..SubnetMax")
    if wider is not None:
        fixes.append(f"widen {network_key} to /{wider}")
    if longer is not None:
        fixes.append(f"set {len_key} {longer}")
    message = (
        f"{network_key} {pool.network} holds {pool.size} /{pool.subnet_len} subnets"
        f" ({'SubnetMin..SubnetMax' if family == 4 else 'IPv6SubnetMin..IPv6SubnetMax'})"
        f" but the inventory has {wanted} nodes"
    )
    if kept:
        shown = ", ".join(kept[:_NAMES_SHOWN]) + (" ..." if len(kept) > _NAMES_SHOWN else "")
        message += (
            f" and the lease file keeps {len(kept)} for nodes no longer in it ({shown});"
            " delete their lines to free them, or"
        )
    else:
        message += ":"
    return f"{message} {' or '.join(fixes) or 'use a wider network'}"
