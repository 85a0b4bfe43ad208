"""The host side of the overlay filter: read, apply; core.reconcile runs read -> want ->
diff -> (check mode stops) -> apply -> re-read -> verify, with the masquerade module's
tools and transactions (one `iptables-restore --noflush` per family, one `nft -f`)."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.changes import Change
from ...core.reconcile import reconcile
from ..host import FirewallError, FirewallHost, apply_changes, read_iptables, read_nft_tables
from ..input import FAMILIES, IPTABLES, NFTABLES
from ..iptables import owned_jumps, render_listing
from .diff import OverlayState, diff_overlay, nft_families
from .input import OverlayRequest
from .rules import NFT_FAMILY, NFT_TABLE, chain_rules, overlay_chain, render_table


def read_overlay(request: OverlayRequest, host: FirewallHost) -> OverlayState:
    """Both forms of the filter, as far as they can be read (`warnings` says the rest)."""
    state = OverlayState()
    wanted_ipt = {family.version for family in FAMILIES if request.wants(IPTABLES, family)}
    state.iptables = read_iptables(host, ["filter"], wanted_ipt, state.warnings)
    name = (NFT_FAMILY, NFT_TABLE)
    found = read_nft_tables(host, [name], bool(nft_families(request)), state.warnings)
    if found is not None:
        state.nft_read, state.nft = True, found[name]
    return state


@dataclass
class OverlayResult:
    changes: list[Change]
    before: str
    after: str
    warnings: list[str]


def sync_overlay(request: OverlayRequest, host: FirewallHost, check_mode: bool) -> OverlayResult:
    """core.reconcile's read, diff, and unless in check mode apply and verify."""

    def differs(_wanted: object, left: list[Change]) -> FirewallError:
        reasons = "; ".join(f"{change.key}: {change.reason}" for change in left)
        return FirewallError(f"the overlay filter still differs after applying it: {reasons}")

    done = reconcile(
        read=lambda: read_overlay(request, host),
        want=lambda seen: None,
        diff=lambda _wanted, seen: diff_overlay(request, seen),
        apply=lambda _wanted, seen, changes: apply_changes(host, changes),
        check_mode=check_mode,
        differs=differs,
    )
    before, after = render_texts(request, done.before)
    return OverlayResult(done.changes, before, after, done.before.warnings)


def render_texts(request: OverlayRequest, state: OverlayState) -> tuple[str, str]:
    """--diff's before and after: the chains (`iptables -S` style) and the table, as read."""
    before: list[str] = []
    after: list[str] = []
    owned = overlay_chain(request.port)
    for family in FAMILIES:
        chains = state.iptables.get((family.version, "filter"))
        if chains is None:
            continue
        header = f"# {family.iptables} -t filter"
        old = render_listing(owned, owned_jumps(chains, owned), chains.get(owned.chain))
        if old:
            before.extend([header, *old])
        if request.wants(IPTABLES, family):
            rules = chain_rules(request.members[family.version], family)
            after.extend([header, *render_listing(owned, [owned.jump], rules)])
    if state.nft:
        before.append(state.nft.rstrip("\n"))
    families = [family for family in FAMILIES if request.wants(NFTABLES, family)]
    if state.nft_read and families:
        after.append(render_table(request.members, families, request.port).rstrip("\n"))
    return "\n".join(before) + "\n" if before else "", "\n".join(after) + "\n" if after else ""
