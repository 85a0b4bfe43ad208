"""Deterministic, sticky subnet allocation for one address family.

Sources, strongest first: a pinned subnet; the lease file; the subnet the host
already uses (its subnet.env, or a running flannel being adopted); otherwise the
lowest free subnet of [SubnetMin, SubnetMax], handed out in node-name order.
A subnet, once leased, never moves when other nodes come, go or are reordered,
and a node that left keeps its lease reserved until someone deletes the line:
reusing it silently could hand a live node's pod IPs to a newcomer.

What a host uses now is only a source for a node with no pin and no lease line, and
its pods hold addresses of it: a subnet podnet cannot keep (outside the range, or
held by another node) is an error, never a silent renumbering.

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
    ledger.claim_leases(nodes, leases)
    # The whole lease file outranks what hosts report: a departed node's line is reserved
    # before a newcomer's subnet.env is looked at, or the newcomer would take its subnet.
    kept = ledger.keep_departed(nodes, leases)
    ledger.claim_observed(nodes, leases, observed)
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
    departed: set[str] = field(default_factory=set)  # lease lines of nodes that left
    seen: set[str] = field(default_factory=set)  # nodes holding what their host uses now

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

    def claim_leases(self, nodes: Sequence[Node], leases: Mapping[str, IPNetwork]) -> None:
        """Honour lease lines of nodes that have no pin.

        A line podnet cannot honour is an error: renumbering a node must be a decision.
        """
        for node in nodes:
            subnet = leases.get(node.name)
            if subnet is None or node.name in self.index_of:
                continue
            path = f"leases[{node.name}]"
            index = self.pool.index_in_range(subnet)
            if index is None:
                fix = (
                    "restore the old Network, or delete the line to give the node a new"
                    " subnet (its pods get new addresses)"
                )
                self.problems.append(_outside(path, subnet, self.pool, fix))
            elif self.owner.get(index) in self.pinned:
                # The holder has no lease line to delete: the fix is its pin or this line.
                holder = self.owner[index]
                self.problems.append(
                    f"{path}: {subnet} is pinned by {holder}; pin {holder} elsewhere, or delete"
                    " the line to give the node a new subnet (its pods get new addresses)"
                )
            elif index in self.owner:
                self.problems.append(
                    f"{path}: {subnet} is also held by {self.owner[index]}; delete one of the"
                    " two lease lines"
                )
            else:
                self.claim(node.name, index)

    def claim_observed(
        self,
        nodes: Sequence[Node],
        leases: Mapping[str, IPNetwork],
        observed: Mapping[str, IPNetwork],
    ) -> None:
        """Keep the subnet a host uses now (adoption), for nodes with no pin or line.

        Its pods hold addresses of it, so a subnet podnet cannot keep is an error naming
        the holder and the ways out; a pin or lease line that replaces it only warns.
        """
        key = f"podnet_{NODE_SUBNET_KEY[self.pool.family]}"
        for node in nodes:
            name = node.name
            subnet = observed.get(name)
            if subnet is None:
                continue
            if name in self.index_of:
                self._warn_replaced(name, subnet, leases)
                continue
            path = f"hosts[{name}] current subnet"
            renumber = _renumber(name, key)
            index = self.pool.index_in_range(subnet)
            if index is None:
                fix = f"{name}'s pods use it now: {_keep_observed(self.pool, subnet)}; {renumber}"
                self.problems.append(_outside(path, subnet, self.pool, fix))
            elif index in self.owner:
                self.problems.append(self._taken(path, name, subnet, self.owner[index], key))
            else:
                self.claim(name, index)
                self.seen.add(name)

    def _taken(self, path: str, name: str, subnet: IPNetwork, holder: str, key: str) -> str:
        renumber = _renumber(name, key)
        if holder in self.pinned:
            return (
                f"{path}: {subnet} is pinned by {holder}, and two nodes cannot share one: pin"
                f" {holder} elsewhere; {renumber}"
            )
        if holder in self.departed:
            return (
                f"{path}: {subnet} is held in the lease file by {holder}, a node no longer in"
                f" the inventory: if {name} is {holder} renamed, delete {holder}'s line"
                f" ({name} keeps its pods' addresses); otherwise, {renumber}"
            )
        if holder in self.seen:
            return (
                f"{path}: {subnet} is also the current subnet of {holder}, and two nodes cannot"
                f" share one: find which host really uses it (its /run/flannel/subnet.env);"
                f" {_renumber('the other', key)}"
            )
        return (
            f"{path}: {subnet} is held in the lease file by {holder}, and two nodes cannot"
            f" share one; {renumber}"
        )

    def _warn_replaced(self, name: str, subnet: IPNetwork, leases: Mapping[str, IPNetwork]) -> None:
        """A pin or lease line beats what the host uses; its pods then lose their addresses."""
        held = self.pool.subnet(self.index_of[name])
        if held == subnet:
            return
        if name in self.pinned:
            if leases.get(name, held) != held:
                return  # claim_pins already warned that the pin replaces the lease
            source = f"pinned {held}"
        else:
            source = f"its lease {held}"
        self.warnings.append(
            f"{name}: {source} replaces the subnet the host uses now, {subnet};"
            " its pods get new addresses"
        )

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
                self.departed.add(name)
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


def _keep_observed(pool: SubnetPool, subnet: IPNetwork) -> str:
    """The net-conf change that lets a host keep the subnet it uses now."""
    family = pool.family
    if subnet.prefixlen != pool.subnet_len:
        return f"to keep their addresses, set {SUBNET_LEN_KEY[family]} {subnet.prefixlen}"
    index = pool.index_of(subnet)
    if index is None:
        return (
            f"to keep their addresses, set {NETWORK_KEY[family]} to the running cluster's"
            " (flannel's net-conf.json)"
        )
    # Inside the Network but outside [SubnetMin, SubnetMax]: Kubernetes hands out node
    # podCIDRs from the whole cluster CIDR (the control plane often gets 10.244.0.0/24),
    # and flannel's kube mode applies no SubnetMin, so adopted clusters meet this.
    prefix = "" if family == 4 else "IPv6"
    bound = "Min" if index < pool.first else "Max"
    return (
        f"to keep their addresses, set {prefix}Subnet{bound} {subnet.network_address} (Kubernetes"
        " gives nodes subnets from the whole cluster CIDR, which flannel's kube mode accepts)"
    )


def _renumber(who: str, key: str) -> str:
    """How to give a host that uses a subnet now another one."""
    host = "it" if who == "the other" else who
    return (
        f"to renumber {who} instead (its pods get new addresses), set {key} for it, or run"
        f" reset.yml on {host} first"
    )


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
