"""What podnet owns of a host's firewall, as read, and its --diff view.

Owned iptables chains are kept per (family version, table) as `iptables-save` listed
them; flannel's nftables tables per family version as `nft list table` printed them
(None: no such table). A family or tool that could not be read is simply not there, and
`warnings` says why, so the diff leaves it alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .iptables import owned_jumps, render_listing
from .want import WantedChain, WantedTable


@dataclass
class FirewallState:
    """What was read: owned iptables tables per (family version, table), owned nft tables,
    and what could not be read (only warned about where podnet is cleaning up)."""

    iptables: dict[tuple[int, str], dict[str, list[str]]] = field(default_factory=dict)
    nft: dict[int, str | None] = field(default_factory=dict)  # family version -> listing
    warnings: list[str] = field(default_factory=list)


def render_texts(
    chains: list[WantedChain], tables: list[WantedTable], state: FirewallState
) -> tuple[str, str]:
    """--diff's before and after: every owned object podnet could read, as listings."""
    before: list[str] = []
    after: list[str] = []
    for want in chains:
        current = state.iptables.get((want.family.version, want.owned.table))
        if current is None:
            continue
        old = render_listing(
            want.owned, owned_jumps(current, want.owned), current.get(want.owned.chain)
        )
        new = render_listing(want.owned, [want.owned.jump], want.rules) if want.rules else []
        header = f"# {want.family.iptables} -t {want.owned.table}"
        if old:
            before.extend([header, *old])
        if new:
            after.extend([header, *new])
    for table in tables:
        current_text = state.nft.get(table.family.version)
        if current_text:
            before.append(current_text.rstrip("\n"))
        if table.family.version in state.nft and table.text:
            after.append(table.text.rstrip("\n"))
    return "\n".join(before) + "\n" if before else "", "\n".join(after) + "\n" if after else ""
