"""The overlay filter's rules in both forms: render them, and read an nft listing back.

Pure. What podnet owns for the filter:

- iptables (per family): the filter chain `PODNET-OVERLAY`, one RETURN per member and a
  final DROP (its packet counter is the count of refused frames), jumped to from the first
  rule of `INPUT` for UDP to the VXLAN port only, so no other traffic walks the list;
- nftables: the table `inet podnet-overlay`, one named set of members per family and one
  rule per family in an input chain that drops UDP to the port from outside the set. A
  node joining or leaving is one set element added or deleted; the rules stay.

RETURN, not ACCEPT: a member's frame goes on through the host's own INPUT rules, so the
filter only ever takes away.
"""

from __future__ import annotations

import re

from ..input import Family
from ..iptables import OwnedChain

OVERLAY_COMMENT = "podnet overlay filter"
DROP_COMMENT = "podnet overlay filter: not a node of the fleet"
NFT_FAMILY = "inet"
NFT_TABLE = "podnet-overlay"
TABLE_COMMENT = "podnet: VXLAN from the nodes of the fleet only"
CHAIN_COMMENT = "drop VXLAN from hosts outside the fleet"
SET_COMMENT = "public addresses of the nodes of the fleet"
# What nft adds to a listed counter: compared without it, so counting never looks like drift.
_COUNTER_VALUES = re.compile(r"counter packets \d+ bytes \d+")
_ELEMENTS = re.compile(r"elements = \{(?P<body>[^}]*)\}", re.S)
_SET_HEAD = re.compile(r"^\s*set (?P<name>\S+) \{", re.M)


def overlay_chain(port: int) -> OwnedChain:
    """The iptables chain of the filter for `port`: its jump matches UDP to that port."""
    match = f"-p udp -m udp --dport {port}"
    return OwnedChain("filter", "PODNET-OVERLAY", "INPUT", OVERLAY_COMMENT, match, first=True)


def member_rule(address: str, family: Family) -> str:
    """One member's rule, as iptables-save prints it.

    >>> from ..input import IPV6
    >>> member_rule("2001:db8::11", IPV6)
    '-A PODNET-OVERLAY -s 2001:db8::11/128 -j RETURN'
    """
    prefix = 32 if family.version == 4 else 128
    return f"-A PODNET-OVERLAY -s {address}/{prefix} -j RETURN"


def drop_rule() -> str:
    return f'-A PODNET-OVERLAY -m comment --comment "{DROP_COMMENT}" -j DROP'


def chain_rules(members: tuple[str, ...], family: Family) -> list[str]:
    """The chain's rules: each member returns to INPUT, anything else is dropped."""
    return [*(member_rule(address, family) for address in members), drop_rule()]


def split_members(rules: list[str], family: Family) -> tuple[set[str], list[str]]:
    """The members an existing chain lets through, and its other rules (in order).

    >>> from ..input import IPV4
    >>> split_members([member_rule("192.0.2.11", IPV4), drop_rule()], IPV4)[0]
    {'192.0.2.11'}
    """
    prefix = "/32" if family.version == 4 else "/128"
    members: set[str] = set()
    others: list[str] = []
    for rule in rules:
        words = rule.split()
        if (
            len(words) == 6
            and words[2] == "-s"
            and words[3].endswith(prefix)
            and member_rule(words[3][: -len(prefix)], family) == rule
        ):
            members.add(words[3][: -len(prefix)])
        else:
            others.append(rule)
    return members, others


def set_name(family: Family) -> str:
    return f"members-ipv{family.version}"


def render_table(members: dict[int, tuple[str, ...]], families: list[Family], port: int) -> str:
    """The filter's table as `nft list table` prints it, members included.

    >>> from ..input import IPV4
    >>> text = render_table({4: ("192.0.2.11", "192.0.2.12")}, [IPV4], 8472)
    >>> print(text.expandtabs(4), end="")  # nft indents with tabs
    table inet podnet-overlay {
        comment "podnet: VXLAN from the nodes of the fleet only"
        set members-ipv4 {
            type ipv4_addr
            comment "public addresses of the nodes of the fleet"
            elements = { 192.0.2.11, 192.0.2.12 }
        }
    <BLANKLINE>
        chain input {
            comment "drop VXLAN from hosts outside the fleet"
            type filter hook input priority filter; policy accept;
            udp dport 8472 ip saddr != @members-ipv4 counter packets 0 bytes 0 drop
        }
    }
    """
    lines = [f"table {NFT_FAMILY} {NFT_TABLE} {{", f'\tcomment "{TABLE_COMMENT}"']
    for family in families:
        lines.extend(
            [
                f"\tset {set_name(family)} {{",
                f"\t\ttype ipv{family.version}_addr",
                f'\t\tcomment "{SET_COMMENT}"',
            ]
        )
        if members.get(family.version):
            lines.append(f"\t\telements = {{ {', '.join(members[family.version])} }}")
        lines.extend(["\t}", ""])
    lines.extend(
        [
            "\tchain input {",
            f'\t\tcomment "{CHAIN_COMMENT}"',
            "\t\ttype filter hook input priority filter; policy accept;",
        ]
    )
    for family in families:
        saddr = f"{family.nft_family} saddr != @{set_name(family)}"
        lines.append(f"\t\tudp dport {port} {saddr} counter packets 0 bytes 0 drop")
    lines.extend(["\t}", "}"])
    return "\n".join(lines) + "\n"


def read_table(text: str) -> tuple[list[str], dict[str, set[str]]]:
    """A listed table's shape (significant lines, no elements, no counts) and its sets' elements.

    >>> from ..input import IPV4
    >>> shape, elements = read_table(render_table({4: ("192.0.2.11",)}, [IPV4], 8472))
    >>> elements, shape[-3]
    ({'members-ipv4': {'192.0.2.11'}}, 'udp dport 8472 ip saddr != @members-ipv4 counter drop')
    """
    elements: dict[str, set[str]] = {}
    heads = [(match.start(), match.group("name")) for match in _SET_HEAD.finditer(text)]
    for found in _ELEMENTS.finditer(text):
        owner = [name for start, name in heads if start < found.start()]
        words = found.group("body").replace(",", " ").split()
        if owner:
            elements.setdefault(owner[-1], set()).update(words)
    shape_text = _ELEMENTS.sub("", text)
    shape = [
        _COUNTER_VALUES.sub("counter", line.strip())
        for line in shape_text.splitlines()
        if line.strip()
    ]
    for name in {name for _start, name in heads}:
        elements.setdefault(name, set())
    return shape, elements
