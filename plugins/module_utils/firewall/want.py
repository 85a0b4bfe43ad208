"""From the module's request to what should exist, in both modes, with the reason for any gap.

Everything podnet may own is listed every time: both families' iptables chains and both
nftables tables. What is not wanted carries the reason it goes (state absent, the other
mode, a family not in `networks`, an option set to false), so leftovers of an earlier run,
of the other mode or of flanneld itself are removed with a reason the user can read.
"""

from __future__ import annotations

from dataclasses import dataclass

from .input import FAMILIES, IPTABLES, NFTABLES, Family, MasqueradeRequest
from .iptables import (
    MASQ_CHAIN,
    OWNED_CHAINS,
    OwnedChain,
    render_forward_rules,
    render_masquerade_rules,
)
from .nftables import render_table


@dataclass(frozen=True)
class WantedChain:
    family: Family
    owned: OwnedChain
    rules: tuple[str, ...] | None  # None: the chain and its jumps must not exist
    why_absent: str = ""


@dataclass(frozen=True)
class WantedTable:
    family: Family
    text: str  # "": the table must not exist
    why_absent: str = ""


def _why_absent(request: MasqueradeRequest, backend: str, family: Family, options_off: str) -> str:
    """Why nothing of `backend`/`family` is wanted; `options_off` is the last resort."""
    if request.state == "absent":
        return "state is absent"
    if request.backend != backend:
        return f"backend is {request.backend}"
    if request.network_of(family) is None:
        return f"no {family.label} entry in networks"
    return options_off


def wanted_chains(request: MasqueradeRequest, random_fully: dict[int, bool]) -> list[WantedChain]:
    """Both families' owned iptables chains, wanted rules or the reason they go.

    Args:
        request: the checked options.
        random_fully: per family version, whether `--random-fully` is to be used (the
            request's wish and the tool's support, decided by the caller).
    """
    result = []
    for family in FAMILIES:
        net = request.network_of(family)
        for owned in OWNED_CHAINS:
            option = "ip_masq" if owned == MASQ_CHAIN else "forward"
            if net is None or not request.wants(IPTABLES, family) or not getattr(request, option):
                why = _why_absent(request, IPTABLES, family, f"{option} is false")
                result.append(WantedChain(family, owned, None, why))
            elif owned == MASQ_CHAIN:
                rules = render_masquerade_rules(net, random_fully.get(family.version, False))
                result.append(WantedChain(family, owned, tuple(rules)))
            else:
                result.append(WantedChain(family, owned, tuple(render_forward_rules(net))))
    return result


def wanted_tables(request: MasqueradeRequest, random_fully: dict[int, bool]) -> list[WantedTable]:
    """Both families' nftables tables, rendered, or the reason they go.

    flanneld creates both tables even for a disabled family and leaves the unused one
    empty; podnet creates a table only when it has a chain to hold.
    """
    result = []
    for family in FAMILIES:
        net = request.network_of(family)
        if net is None or not request.wants(NFTABLES, family):
            why = _why_absent(request, NFTABLES, family, "ip_masq and forward are false")
            result.append(WantedTable(family, "", why))
            continue
        fully = random_fully.get(family.version, False)
        text = render_table(net, request.ip_masq, request.forward, fully)
        result.append(WantedTable(family, text))
    return result
