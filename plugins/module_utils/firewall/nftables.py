"""flannel's nftables-mode rules: render a table, diff it against `nft list table`, script.

Pure functions, no commands run here (firewall_host.py runs them). podnet owns two whole
tables, `ip flannel-ipv4` and `ip6 flannel-ipv6` (reference 7.2), each with up to two
chains: `postrtg` (nat, postrouting, srcnat) and `forward` (filter, forward).

A table is rendered exactly as `nft list table` prints it (nft 1.0.6), and nft reads its
own listing back as input, so one text serves as the wanted state, the --diff output and
the script body. The comparison ignores indentation and blank lines only; if an nft
version prints the same ruleset differently, the verify step after apply says so instead
of the module rewriting the table on every run.

Two differences from the iptables mode are flannel's and are kept (reference 7.2): rule 4
matches `saddr != P` (iptables: `! -s N`), and the mark match is exact (iptables: masked).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.changes import ADD, DELETE, REPLACE, Change
from .input import Family, FamilyNetwork
from .lines import explain_difference

POSTRTG_COMMENT = "chain to manage traffic masquerading by flannel"
FORWARD_COMMENT = "chain to accept flannel traffic"


def table_comment(family: Family) -> str:
    return f"rules for {family.nft_table}"


def render_table(net: FamilyNetwork, ip_masq: bool, forward: bool, random_fully: bool) -> str:
    """One family's table as `nft list table` prints it; "" when no chain is wanted.

    >>> from .input import parse_networks
    >>> nets, _ = parse_networks([{"network": "fd00:10:244::/56", "subnet": "fd00:10:244:1::/64"}])
    >>> text = render_table(nets[0], ip_masq=False, forward=True, random_fully=True)
    >>> print(text.expandtabs(4), end="")  # nft indents with tabs
    table ip6 flannel-ipv6 {
        comment "rules for flannel-ipv6"
        chain forward {
            comment "chain to accept flannel traffic"
            type filter hook forward priority filter; policy accept;
            ip6 saddr fd00:10:244::/56 accept
            ip6 daddr fd00:10:244::/56 accept
        }
    }
    """
    family, n, p = net.family, net.network, net.subnet
    addr = family.nft_family  # the address keyword is the family's name: ip / ip6
    masquerade = "masquerade fully-random" if random_fully else "masquerade"
    chains: list[list[str]] = []
    if ip_masq:
        chains.append(
            [
                "chain postrtg {",
                f'\tcomment "{POSTRTG_COMMENT}"',
                "\ttype nat hook postrouting priority srcnat; policy accept;",
                # Exact mark, not masked like iptables' 0x4000/0x4000: flannel's choice.
                "\tmeta mark 0x00004000 return",
                f"\t{addr} saddr {p} {addr} daddr {n} return",
                f"\t{addr} saddr {n} {addr} daddr {p} return",
                # flannel's rule 4 differs from iptables mode (saddr != P, not != N).
                f"\t{addr} saddr != {p} {addr} daddr {n} return",
                f"\t{addr} saddr {n} {addr} daddr != {family.multicast} {masquerade}",
                f"\t{addr} saddr != {n} {addr} daddr {n} {masquerade}",
                "}",
            ]
        )
    if forward:
        chains.append(
            [
                "chain forward {",
                f'\tcomment "{FORWARD_COMMENT}"',
                "\ttype filter hook forward priority filter; policy accept;",
                f"\t{addr} saddr {n} accept",
                f"\t{addr} daddr {n} accept",
                "}",
            ]
        )
    if not chains:
        return ""
    lines = [f"table {family.nft_family} {family.nft_table} {{"]
    lines.append(f'\tcomment "{table_comment(family)}"')
    for index, chain in enumerate(chains):
        if index:
            lines.append("")  # nft separates chains with a blank line
        lines.extend("\t" + line for line in chain)
    lines.append("}")
    return "\n".join(lines) + "\n"


def parse_tables(text: str) -> set[tuple[str, str]]:
    """(family, name) of every table in `nft list tables` output.

    >>> sorted(parse_tables("table ip nat\\ntable ip6 flannel-ipv6\\n"))
    [('ip', 'nat'), ('ip6', 'flannel-ipv6')]
    """
    found = set()
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "table":
            found.add((words[1], words[2]))
    return found


def significant_lines(text: str) -> list[str]:
    """The lines that matter when comparing listings: stripped, blank ones dropped."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def diff_table(family: Family, wanted: str, why_absent: str, current: str | None) -> list[Change]:
    """The change (if any) that makes one owned table match `wanted`.

    Args:
        family: the table's family.
        wanted: the rendered table, or "" when the table must not exist.
        why_absent: the reason given for deleting it when nothing is wanted.
        current: `nft list table` output, or None when the table does not exist.
    """
    key = f"{family.nft_family} {family.nft_table}"
    spec: dict[str, object] = {"family": family.nft_family, "table": family.nft_table}
    if not wanted:
        if current is None:
            return []
        return [Change(DELETE, "nft-table", key, why_absent, {**spec, "text": current})]
    if current is None:
        return [Change(ADD, "nft-table", key, "missing", {**spec, "text": wanted})]
    reason = explain_difference(significant_lines(current), significant_lines(wanted))
    if not reason:
        return []
    return [Change(REPLACE, "nft-table", key, reason, {**spec, "text": wanted})]


def render_nft_script(changes: Sequence[Change]) -> str:
    """One `nft -f -` transaction for all table and set element changes.

    A table is replaced whole: `table X {}` creates it if missing (a no-op otherwise), so the
    following `delete table X` cannot fail, and the table is then written from scratch. nft
    applies the file as one transaction, so packets never see a half-built table.

    >>> c = Change(DELETE, "nft-table", "ip flannel-ipv4", "backend is iptables",
    ...            {"family": "ip", "table": "flannel-ipv4"})
    >>> print(render_nft_script([c]), end="")
    table ip flannel-ipv4 {}
    delete table ip flannel-ipv4
    """
    lines: list[str] = []
    for change in changes:
        name = f"{change.spec['family']} {change.spec['table']}"
        if change.kind == "nft-element":  # one member of a named set (the overlay filter)
            verb = "delete" if change.op == DELETE else "add"
            lines.append(
                f"{verb} element {name} {change.spec['set']} {{ {change.spec['element']} }}"
            )
            continue
        lines.extend([f"table {name} {{}}", f"delete table {name}"])
        if change.op != DELETE:
            lines.append(change.spec["text"].rstrip("\n"))
    return "\n".join(lines) + "\n"
