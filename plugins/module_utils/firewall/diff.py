"""Wanted vs owned firewall objects -> the changes, in the order the apply step runs them.

Pure. The wanted mode first, then the other mode's leftovers, so that a host switching
modes is never without masquerade and forward rules (both at once for a moment is
harmless: NAT is decided once per connection, and ACCEPT twice is ACCEPT). What could not
be read is not diffed (the read step warned about it).
"""

from __future__ import annotations

from ..core.changes import Change
from .input import NFTABLES, MasqueradeRequest
from .iptables import diff_chain
from .nftables import diff_table
from .state import FirewallState
from .want import WantedChain, WantedTable


def diff_state(
    request: MasqueradeRequest,
    chains: list[WantedChain],
    tables: list[WantedTable],
    state: FirewallState,
) -> list[Change]:
    """Every change, in apply order: the wanted mode first, then the other mode."""
    iptables_changes: list[Change] = []
    for want in chains:
        current = state.iptables.get((want.family.version, want.owned.table))
        if current is not None:
            iptables_changes.extend(
                diff_chain(want.family, want.owned, want.rules, want.why_absent, current)
            )
    nft_changes: list[Change] = []
    for table in tables:
        if table.family.version in state.nft:
            current_text = state.nft[table.family.version]
            nft_changes.extend(diff_table(table.family, table.text, table.why_absent, current_text))
    if request.backend == NFTABLES:
        return nft_changes + iptables_changes
    return iptables_changes + nft_changes
