"""Wanted vs owned overlay filter -> the changes, member by member where only members differ.

Pure. A node joining or leaving the fleet is one change per address (`iptables-member`, or
`nft-element`), so check mode and --diff say who, not just "the chain differs"; anything
else that differs (a rule edited by hand, another port) rewrites the chain or the table.
The wanted mode's changes come first, the other mode's leftovers after, as for masquerade.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ...core.changes import ADD, DELETE, REPLACE, Change
from ..input import FAMILIES, IPTABLES, NFTABLES, Family
from ..iptables import chain_spec, diff_chain, diff_jump
from ..lines import explain_difference
from .input import OverlayRequest
from .rules import (
    NFT_FAMILY,
    NFT_TABLE,
    chain_rules,
    drop_rule,
    overlay_chain,
    read_table,
    render_table,
    set_name,
    split_members,
)

JOINED = "a node of the fleet (in this run's plan)"
LEFT = "not a node of the fleet any more (not in this run's plan)"
NFT_KEY = f"{NFT_FAMILY} {NFT_TABLE}"


@dataclass
class OverlayState:
    """What was read: the filter table per family version (as parsed from iptables-save),
    the nft table's listing (None: no table), whether nft could be read, and why not."""

    iptables: dict[tuple[int, str], dict[str, list[str]]] = field(default_factory=dict)
    nft: str | None = None
    nft_read: bool = False
    warnings: list[str] = field(default_factory=list)


def why_absent(request: OverlayRequest, backend: str, family: Family | None) -> str:
    """Why no filter of `backend` (and `family`, if given) is wanted."""
    if request.state == "absent":
        return "state is absent"
    if request.backend != backend:
        return f"backend is {request.backend}"
    label = f"{family.label} " if family else ""
    return f"no {label}member"


def nft_families(request: OverlayRequest) -> list[Family]:
    return [family for family in FAMILIES if request.wants(NFTABLES, family)]


def diff_overlay(request: OverlayRequest, state: OverlayState) -> list[Change]:
    """Every change, in apply order: the wanted mode first, then the other mode."""
    iptables_changes: list[Change] = []
    for family in FAMILIES:
        chains = state.iptables.get((family.version, "filter"))
        if chains is not None:
            iptables_changes.extend(_diff_chain(request, family, chains))
    nft_changes = _diff_table(request, state.nft) if state.nft_read else []
    if request.backend == NFTABLES:
        return nft_changes + iptables_changes
    return iptables_changes + nft_changes


def _diff_chain(
    request: OverlayRequest, family: Family, chains: dict[str, list[str]]
) -> list[Change]:
    owned = overlay_chain(request.port)
    if not request.wants(IPTABLES, family):
        return diff_chain(family, owned, None, why_absent(request, IPTABLES, family), chains)
    members = request.members[family.version]
    wanted = chain_rules(members, family)
    current = chains.get(owned.chain)
    if current is None or split_members(current, family)[1] != [drop_rule()]:
        return diff_chain(family, owned, wanted, "", chains)
    have = split_members(current, family)[0]
    spec = {**chain_spec(family, owned), "rules": wanted}
    key = f"{family.iptables} {owned.table} {owned.chain}"
    changes = [
        Change(ADD, "iptables-member", f"{key} {address}", JOINED, spec)
        for address in members
        if address not in have
    ]
    changes.extend(
        Change(DELETE, "iptables-member", f"{key} {address}", LEFT, spec)
        for address in sorted(have - set(members))
    )
    return changes + diff_jump(family, owned, None, chains)


def _diff_table(request: OverlayRequest, current: str | None) -> list[Change]:
    spec: dict[str, object] = {"family": NFT_FAMILY, "table": NFT_TABLE}
    families = nft_families(request)
    if not families:
        if current is None:
            return []
        reason = why_absent(request, NFTABLES, None)
        return [Change(DELETE, "nft-table", NFT_KEY, reason, {**spec, "text": current})]
    wanted = render_table(request.members, families, request.port)
    if current is None:
        return [Change(ADD, "nft-table", NFT_KEY, "missing", {**spec, "text": wanted})]
    shape, elements = read_table(current)
    reason = explain_difference(shape, read_table(wanted)[0])
    if reason:
        return [Change(REPLACE, "nft-table", NFT_KEY, reason, {**spec, "text": wanted})]
    changes: list[Change] = []
    for family in families:
        name = set_name(family)
        members = request.members[family.version]
        have = elements.get(name, set())
        element = {**spec, "set": name}
        changes.extend(
            Change(ADD, "nft-element", f"{NFT_KEY} {name} {a}", JOINED, {**element, "element": a})
            for a in members
            if a not in have
        )
        changes.extend(
            Change(DELETE, "nft-element", f"{NFT_KEY} {name} {a}", LEFT, {**element, "element": a})
            for a in sorted(have - set(members))
        )
    return changes
