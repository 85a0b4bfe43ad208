"""The overlay filter's pure side: input checks, member-level diffs, the scripts they make.

The kernel tests (tests/kernel/test_overlay_filter.py) apply the same to real iptables and
nft; the lab tests send real VXLAN frames at it.
"""

from __future__ import annotations

from typing import Any

import pytest
from plugins.module_utils.core.changes import ADD, DELETE, REPLACE
from plugins.module_utils.firewall.input import IPV4, IPV6, FirewallInputError
from plugins.module_utils.firewall.iptables import parse_save, render_restore_script
from plugins.module_utils.firewall.nftables import render_nft_script
from plugins.module_utils.firewall.overlay.diff import OverlayState, diff_overlay
from plugins.module_utils.firewall.overlay.input import OverlayRequest, prepare_overlay
from plugins.module_utils.firewall.overlay.rules import (
    chain_rules,
    overlay_chain,
    render_table,
)

JUMP = '-A INPUT -p udp -m udp --dport 8472 -m comment --comment "podnet overlay filter" -j PODNET-OVERLAY'  # noqa: E501
FOREIGN = "-A INPUT -s 198.51.100.7/32 -j ACCEPT"


class AllTools:
    def path(self, tool: str) -> str | None:
        return f"/usr/sbin/{tool}"


class NoTools:
    def path(self, tool: str) -> str | None:
        return None


def request(members: tuple[str, ...], backend: str = "iptables", **over: Any) -> OverlayRequest:
    params = {"state": "present", "backend": backend, "port": 0, "members": list(members)}
    return prepare_overlay({**params, **over}, AllTools())


def save(*input_rules: str, chain: list[str] | None = None) -> dict[str, list[str]]:
    """A filter table as parse_save reads it: INPUT's rules and, if given, the owned chain."""
    lines = [":INPUT ACCEPT [0:0]"]
    if chain is not None:
        lines.append(":PODNET-OVERLAY - [0:0]")
    lines += list(input_rules) + (chain or []) + ["COMMIT"]
    return parse_save("\n".join(lines) + "\n")


def ops(changes: list[Any]) -> list[tuple[str, str, str]]:
    return [(change.op, change.kind, change.key) for change in changes]


def test_port_zero_is_the_kernels_8472_and_members_are_sorted_per_family() -> None:
    req = request(("192.0.2.12", "2001:db8::11", "192.0.2.11"))
    assert req.port == 8472
    assert req.members == {4: ("192.0.2.11", "192.0.2.12"), 6: ("2001:db8::11",)}


def test_every_bad_input_is_reported_at_once_with_its_fix() -> None:
    params = {
        "state": "present",
        "backend": "nftables",
        "port": 70000,
        "members": ["224.0.0.1", "node1", "::1", "fe80::1"],
    }
    with pytest.raises(FirewallInputError) as caught:
        prepare_overlay(params, NoTools())
    problems = caught.value.problems
    assert problems == [
        "members[0]: 224.0.0.1 is a multicast address, which no node sends from: give the "
        "node's public (underlay) address",
        "members[1]: 'node1' is not an IPv4 or IPv6 address: give the node's public "
        "(underlay) address",
        "members[2]: ::1 is a loopback address, which no node sends from: give the node's "
        "public (underlay) address",
        "members[3]: fe80::1 is link-local (a VXLAN peer needs a routable address), which no "
        "node sends from: give the node's public (underlay) address",
        "port: 70000 is not a UDP port: give net-conf.json's Backend.Port (1-65535, or 0 for "
        "the kernel's 8472)",
        "members: empty, but state is present: give every node's public (underlay) address, "
        "the plan's overlay_members, or state: absent",
    ]


def test_a_missing_tool_is_named_with_its_package() -> None:
    params = {"state": "present", "backend": "nftables", "port": 0, "members": ["192.0.2.11"]}
    with pytest.raises(FirewallInputError, match=r"needs nft, which is not installed: install "):
        prepare_overlay(params, NoTools())


def test_a_fresh_host_gets_the_chain_and_a_jump_inserted_first() -> None:
    req = request(("192.0.2.11", "192.0.2.12"))
    state = OverlayState(iptables={(4, "filter"): save(FOREIGN), (6, "filter"): save()})
    changes = diff_overlay(req, state)
    assert ops(changes) == [
        (ADD, "iptables-chain", "iptables filter PODNET-OVERLAY"),
        (ADD, "iptables-jump", "iptables filter INPUT -j PODNET-OVERLAY"),
    ]
    script = render_restore_script("filter", changes).splitlines()
    assert script == [
        "*filter",
        ":PODNET-OVERLAY - [0:0]",
        "-F PODNET-OVERLAY",
        "-A PODNET-OVERLAY -s 192.0.2.11/32 -j RETURN",
        "-A PODNET-OVERLAY -s 192.0.2.12/32 -j RETURN",
        '-A PODNET-OVERLAY -m comment --comment "podnet overlay filter: not a node of the '
        'fleet" -j DROP',
        "-I INPUT 1" + JUMP[len("-A INPUT") :],
        "COMMIT",
    ]


def converged(members: tuple[str, ...]) -> dict[str, list[str]]:
    return save(JUMP, FOREIGN, chain=chain_rules(members, IPV4))


def test_a_converged_host_has_no_change() -> None:
    req = request(("192.0.2.11", "192.0.2.12"))
    assert (
        diff_overlay(req, OverlayState(iptables={(4, "filter"): converged(req.members[4])})) == []
    )


def test_a_join_and_a_leave_are_one_member_change_each_and_one_chain_rewrite() -> None:
    req = request(("192.0.2.11", "192.0.2.12", "192.0.2.14"))
    state = OverlayState(
        iptables={(4, "filter"): converged(("192.0.2.11", "192.0.2.12", "192.0.2.13"))}
    )
    changes = diff_overlay(req, state)
    assert [(c.op, c.key, c.reason) for c in changes] == [
        (
            ADD,
            "iptables filter PODNET-OVERLAY 192.0.2.14",
            "a node of the fleet (in this run's plan)",
        ),
        (
            DELETE,
            "iptables filter PODNET-OVERLAY 192.0.2.13",
            "not a node of the fleet any more (not in this run's plan)",
        ),
    ]
    script = render_restore_script("filter", changes)
    assert script.count("-F PODNET-OVERLAY") == 1
    assert "-s 192.0.2.14/32 -j RETURN" in script and "192.0.2.13" not in script


def test_a_jump_below_another_rule_stays_where_it_is() -> None:
    # Moving it back on top at every run would fight every tool that inserts at the top.
    req = request(("192.0.2.11",))
    table = save(FOREIGN, JUMP, chain=chain_rules(req.members[4], IPV4))
    assert diff_overlay(req, OverlayState(iptables={(4, "filter"): table})) == []


def test_a_hand_edited_chain_is_rewritten_whole() -> None:
    req = request(("192.0.2.11",))
    table = save(JUMP, chain=["-A PODNET-OVERLAY -s 192.0.2.11/32 -j RETURN"])  # DROP gone
    (change,) = diff_overlay(req, OverlayState(iptables={(4, "filter"): table}))
    assert (change.op, change.kind, change.reason) == (
        REPLACE,
        "iptables-chain",
        "missing '-A PODNET-OVERLAY -m comment --comment \"podnet overlay filter: not a node of "
        "the fleet\" -j DROP'",
    )


def test_another_port_replaces_the_jump_only() -> None:
    req = request(("192.0.2.11",), port=4789)
    table = converged(req.members[4])
    (change,) = diff_overlay(req, OverlayState(iptables={(4, "filter"): table}))
    assert (change.op, change.kind) == (REPLACE, "iptables-jump")
    assert change.spec["delete"] == [JUMP] and "--dport 4789" in change.spec["add"]


def test_a_family_without_members_loses_its_chain_and_state_absent_everything() -> None:
    req = request(("192.0.2.11",))
    v6 = save(JUMP, chain=chain_rules(("2001:db8::11",), IPV6))
    state = OverlayState(iptables={(4, "filter"): converged(req.members[4]), (6, "filter"): v6})
    assert [(c.op, c.key, c.reason) for c in diff_overlay(req, state)] == [
        (DELETE, "ip6tables filter INPUT -j PODNET-OVERLAY", "no IPv6 member"),
        (DELETE, "ip6tables filter PODNET-OVERLAY", "no IPv6 member"),
    ]
    absent = prepare_overlay({"state": "absent", "backend": "iptables", "port": 0}, AllTools())
    assert {c.reason for c in diff_overlay(absent, state)} == {"state is absent"}
    assert len(diff_overlay(absent, state)) == 4


def test_nftables_a_join_is_one_set_element_and_the_rules_stay() -> None:
    req = request(("192.0.2.11", "192.0.2.14", "2001:db8::11"), backend="nftables")
    old = render_table({4: ("192.0.2.11", "192.0.2.12"), 6: ("2001:db8::11",)}, [IPV4, IPV6], 8472)
    listed = old.replace("counter packets 0 bytes 0", "counter packets 7 bytes 588")
    changes = diff_overlay(req, OverlayState(nft=listed, nft_read=True))
    assert ops(changes) == [
        (ADD, "nft-element", "inet podnet-overlay members-ipv4 192.0.2.14"),
        (DELETE, "nft-element", "inet podnet-overlay members-ipv4 192.0.2.12"),
    ]
    assert render_nft_script(changes).splitlines() == [
        "add element inet podnet-overlay members-ipv4 { 192.0.2.14 }",
        "delete element inet podnet-overlay members-ipv4 { 192.0.2.12 }",
    ]


def test_nftables_counts_are_not_drift_but_a_new_family_rewrites_the_table() -> None:
    req = request(("192.0.2.11",), backend="nftables")
    listed = render_table(req.members, [IPV4], 8472).replace(
        "packets 0 bytes 0", "packets 3 bytes 9"
    )
    assert diff_overlay(req, OverlayState(nft=listed, nft_read=True)) == []
    dual = request(("192.0.2.11", "2001:db8::11"), backend="nftables")
    (change,) = diff_overlay(dual, OverlayState(nft=listed, nft_read=True))
    assert (change.op, change.kind) == (REPLACE, "nft-table")


def test_switching_modes_writes_the_wanted_one_first() -> None:
    req = request(("192.0.2.11",), backend="nftables")
    state = OverlayState(iptables={(4, "filter"): converged(req.members[4])}, nft_read=True)
    assert [c.kind for c in diff_overlay(req, state)] == [
        "nft-table",
        "iptables-jump",
        "iptables-chain",
    ]


def test_the_jump_matches_only_udp_to_the_port() -> None:
    assert overlay_chain(8472).jump == JUMP
