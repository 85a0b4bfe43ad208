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
from dataclasses import dataclass, field

from .errors import list_names
from .fields import IPNetwork
from .nodes import Node
from .pool import SubnetPool

NETWORK_KEY = {4: "Network", 6: "IPv6Network"}
SUBNET_LEN_KEY = {4: "SubnetLen", 6: "IPv6SubnetLen"}
NODE_SUBNET_KEY = {4: "subnet", 6: "ipv6_subnet"}
LONGEST_SUBNET = {4: 30, 6: 126}


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
    *,
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
    ledger = _Ledger(pool, problems, warnings)
    ledger.claim_pins(nodes, leases)
    ledger.claim_recorded(nodes, leases, "leases[{}]", from_lease_file=True)
    # The whole lease file outranks what hosts report: a departed node's line is reserved
    # before a newcomer's subnet.env is looked at, or the newcomer would take its subnet.
    kept = ledger.keep_departed(nodes, leases)
    ledger.claim_recorded(nodes, observed, "hosts[{}] current subnet", from_lease_file=False)
    if not ledger.fill_lowest_free(nodes, kept):
        return FamilyAllocation({}, kept)
    index_of = ledger.index_of
    assigned = {node.name: pool.subnet(index_of[node.name]) for node in nodes}
    return FamilyAllocation(assigned, kept)


@dataclass(slots=True)
class _Ledger:
    """Working state of one allocation: who holds which subnet index."""

    pool: SubnetPool
    problems: list[str]
    warnings: list[str]
    owner: dict[int, str] = field(default_factory=dict)  # subnet index -> holder
    index_of: dict[str, int] = field(default_factory=dict)  # node -> subnet index
    pinned: set[str] = field(default_factory=set)  # nodes holding their subnet by a pin

    def claim(self, name: str, index: int) -> None:
        self.owner[index] = name
        self.index_of[name] = index

    def claim_pins(self, nodes: Sequence[Node], leases: Mapping[str, IPNetwork]) -> None:
        """The user said so; two pins on one subnet cannot both be honoured."""
        pool = self.pool
        for node in nodes:
            pin = node.pinned(pool.family)
            if pin is None:
                continue
            index = pool.index_in_range(pin)
            path = f"nodes[{node.name}].{NODE_SUBNET_KEY[pool.family]}"
            if index is None:
                fix = "pin a subnet inside it or unpin the node"
                self.problems.append(_outside(path, pin, pool, fix))
            elif index in self.owner:
                self.problems.append(
                    f"{path}: {pin} is also pinned by {self.owner[index]}; pin another subnet"
                )
            else:
                self.claim(node.name, index)
                self.pinned.add(node.name)
                leased = leases.get(node.name)
                if leased is not None and leased != pin:
                    self.warnings.append(
                        f"{node.name}: pinned {pin} replaces its lease {leased};"
                        " its pods get new addresses"
                    )

    def claim_recorded(
        self,
        nodes: Sequence[Node],
        recorded: Mapping[str, IPNetwork],
        label: str,
        *,
        from_lease_file: bool,
    ) -> None:
        """Honour recorded subnets of nodes that have none yet.

        A bad lease-file line is an error (renumbering a node must be a decision); a
        bad subnet found on a host only warns, since podnet is about to replace it.
        """
        report = self.problems if from_lease_file else self.warnings
        for node in nodes:
            subnet = recorded.get(node.name)
            if subnet is None or node.name in self.index_of:
                continue
            path = label.format(node.name)
            index = self.pool.index_in_range(subnet)
            if index is None:
                fix = (
                    "restore the old Network, or delete the line to give the node a new"
                    " subnet (its pods get new addresses)"
                    if from_lease_file
                    else "a new subnet is allocated"
                )
                report.append(_outside(path, subnet, self.pool, fix))
            elif self.owner.get(index) in self.pinned:
                # The holder has no lease line to delete: the fix is its pin or this line.
                holder = self.owner[index]
                fix = (
                    f"pin {holder} elsewhere, or delete the line to give the node a new subnet"
                    " (its pods get new addresses)"
                    if from_lease_file
                    else "a new subnet is allocated"
                )
                report.append(f"{path}: {subnet} is pinned by {holder}; {fix}")
            elif index in self.owner:
                fix = (
                    "delete one of the two lease lines"
                    if from_lease_file
                    else "a new subnet is allocated"
                )
                report.append(f"{path}: {subnet} is also held by {self.owner[index]}; {fix}")
            else:
                self.claim(node.name, index)

    def keep_departed(
        self, nodes: Sequence[Node], leases: Mapping[str, IPNetwork]
    ) -> dict[str, IPNetwork]:
        """Leases of nodes that left stay reserved (see the module note)."""
        present = {node.name for node in nodes}
        kept: dict[str, IPNetwork] = {}
        for name in sorted(leases.keys() - present):
            subnet = leases[name]
            index = self.pool.index_in_range(subnet)
            if index is None:
                self.warnings.append(
                    f"leases[{name}]: {subnet} is outside {_range(self.pool)}; dropped"
                )
            elif index in self.owner:
                self.warnings.append(
                    f"leases[{name}]: {subnet} now belongs to {self.owner[index]}; dropped"
                )
            else:
                self.owner[index] = name
                kept[name] = subnet
        return kept

    def fill_lowest_free(self, nodes: Sequence[Node], kept: Mapping[str, IPNetwork]) -> bool:
        """Lowest free subnet, in name order; one forward cursor, so O(n + reserved)."""
        waiting = [node.name for node in nodes if node.name not in self.index_of]
        free = self.pool.size - len(self.owner)  # every owned index lies inside the range
        if len(waiting) > free:
            self.problems.append(_exhausted(self.pool, len(nodes), sorted(kept)))
            return False
        cursor = self.pool.first
        for name in waiting:
            while cursor in self.owner:
                cursor += 1
            self.claim(name, cursor)
        return True


def _range(pool: SubnetPool) -> str:
    key = NETWORK_KEY[pool.family]
    return f"{key} {pool.network} /{pool.subnet_len} range {pool.describe_range()}"


def _outside(path: str, subnet: IPNetwork, pool: SubnetPool, fix: str) -> str:
    if subnet.prefixlen != pool.subnet_len:
        return (
            f"{path}: {subnet} is not a /{pool.subnet_len} ({SUBNET_LEN_KEY[pool.family]}); {fix}"
        )
    return f"{path}: {subnet} is outside {_range(pool)}; {fix}"


def _exhausted(pool: SubnetPool, wanted: int, kept: Sequence[str]) -> str:
    """Say how many subnets exist, how many are wanted, and what to widen."""
    family = pool.family
    network_key, len_key = NETWORK_KEY[family], SUBNET_LEN_KEY[family]
    need = wanted + len(kept)

    def blocks_in(prefix: int, length: int) -> int:
        return (1 << (length - prefix)) - 1  # the first block is skipped by default

    prefix = pool.network.prefixlen
    wider = next(
        (p for p in range(prefix - 1, -1, -1) if blocks_in(p, pool.subnet_len) >= need), None
    )
    longer = next(
        (
            n
            for n in range(pool.subnet_len + 1, LONGEST_SUBNET[family] + 1)
            if blocks_in(prefix, n) >= need
        ),
        None,
    )
    range_keys = "SubnetMin..SubnetMax" if family == 4 else "IPv6SubnetMin..IPv6SubnetMax"
    whole = blocks_in(prefix, pool.subnet_len)
    fixes = []
    if pool.size < whole and whole >= need:
        # The range was narrowed by hand and the Network itself has room: that is the fix.
        fixes.append(f"widen {range_keys} (the whole {network_key} holds {whole})")
    else:
        # A narrowed range would pin any wider Network to the old bounds: drop it as well.
        drop = f"remove {range_keys} and " if pool.size < whole else ""
        if wider is not None:
            fixes.append(f"{drop}widen {network_key} to /{wider}")
        if longer is not None:
            fixes.append(f"{drop}set {len_key} {longer}")
    message = (
        f"{network_key} {pool.network} holds {pool.size} /{pool.subnet_len} subnets"
        f" ({range_keys}) but the inventory has {wanted} nodes"
    )
    if kept:
        shown = list_names(kept)
        message += (
            f" and the lease file keeps {len(kept)} for nodes no longer in it ({shown});"
            " delete their lines to free them, or"
        )
    else:
        message += ":"
    return f"{message} {' or '.join(fixes) or 'use a wider network'}"
