"""The masquerade module's pure side: input checks, rule rendering, diffs, scripts.

Expected rules are the reference's text (flannel-host-state.md 7.1 and 7.2's golden
output) with N and P as placeholders; the kernel tests check the same text against what
iptables and nft list after a real apply.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.core.changes import ADD, DELETE, REPLACE, Change  # noqa: E402
from plugins.module_utils.core.programs import Programs  # noqa: E402
from plugins.module_utils.firewall import entry  # noqa: E402
from plugins.module_utils.firewall.host import FirewallHost  # noqa: E402
from plugins.module_utils.firewall.input import (  # noqa: E402
    IPV4,
    FirewallInputError,
    parse_networks,
    prepare,
)
from plugins.module_utils.firewall.iptables import (  # noqa: E402
    FORWARD_CHAIN,
    MASQ_CHAIN,
    diff_chain,
    jump_target,
    parse_save,
    render_forward_rules,
    render_masquerade_rules,
    render_restore_script,
)
from plugins.module_utils.firewall.nftables import diff_table, render_table  # noqa: E402
from plugins.module_utils.firewall.want import (  # noqa: E402
    MasqueradeRequest,
    wanted_chains,
    wanted_tables,
)

MASQ_71 = """\
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s P -d N -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s N -d P -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s N -d P -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s N ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s N -d N -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
"""  # noqa: E501 (the reference's lines, whole)
FORWARD_71 = """\
-A FLANNEL-FWD -s N -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d N -m comment --comment "flanneld forward" -j ACCEPT
"""
GOLDEN_72 = """\
table ip flannel-ipv4 {
	comment "rules for flannel-ipv4"
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark 0x00004000 return
		ip saddr P ip daddr N return
		ip saddr N ip daddr P return
		ip saddr != P ip daddr N return
		ip saddr N ip daddr != 224.0.0.0/4 masquerade fully-random
		ip saddr != N ip daddr N masquerade fully-random
	}

	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip saddr N accept
		ip daddr N accept
	}
}
"""
# "The ip6 table is the same with ip6 and ff00::/8" (7.2); ff00::/8 for ip6tables too (7.1).
IPV6_SPELLING = (
    ("224.0.0.0/4", "ff00::/8"),
    ("ip saddr", "ip6 saddr"),
    ("ip daddr", "ip6 daddr"),
    ("table ip flannel-ipv4", "table ip6 flannel-ipv6"),
    ("flannel-ipv4", "flannel-ipv6"),
)
V4 = {"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}
V6 = {"network": "fd00:10:244::/56", "subnet": "fd00:10:244:1::/64"}


def fill(template: str, net: dict[str, str]) -> str:
    """The reference's N and P replaced (as whole words), IPv6 as the reference says."""
    words = {"N": net["network"], "P": net["subnet"]}
    lines = []
    for line in template.splitlines(keepends=True):
        indent = line[: len(line) - len(line.lstrip("\t"))]
        body = " ".join(words.get(word, word) for word in line.strip("\t\n").split(" "))
        lines.append(indent + body + ("\n" if line.endswith("\n") else ""))
    text = "".join(lines)
    if ":" in net["network"]:
        for old, new in IPV6_SPELLING:
            text = text.replace(old, new)
    return text


def net_of(raw: dict[str, str]) -> Any:
    nets, problems = parse_networks([raw])
    assert problems == []
    return nets[0]


# --- input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        pytest.param(
            [{"network": "10.244.0.0/33", "subnet": "10.244.1.0/24"}],
            "networks[0].network: '10.244.0.0/33' is not an IPv4 or IPv6 CIDR",
            id="bad-cidr",
        ),
        pytest.param(
            [{"network": "10.244.0.0/16", "subnet": "10.244.1.1/24"}],
            "networks[0].subnet: '10.244.1.1/24' has host bits set: use 10.244.1.0/24",
            id="host-bits",
        ),
        pytest.param(
            [{"network": "10.244.0.0/16", "subnet": "10.0.1.0/24"}],
            "networks[0].subnet: 10.0.1.0/24 is not inside network 10.244.0.0/16",
            id="outside",
        ),
        pytest.param(
            [{"network": "10.244.0.0/16", "subnet": "fd00::/64"}],
            "networks[0]: network 10.244.0.0/16 is IPv4 but subnet fd00::/64 is IPv6",
            id="mixed-family",
        ),
        pytest.param(
            [V6, {"network": "fd00:99::/56", "subnet": "fd00:99::/64"}],
            "networks[1]: a second IPv6 entry (fd00:99::/56) after fd00:10:244::/56",
            id="family-twice",
        ),
    ],
)
def test_bad_networks_are_named(raw: list[dict[str, str]], problem: str) -> None:
    _nets, problems = parse_networks(raw)
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_every_problem_at_once_and_input_untouched() -> None:
    raw = [{"network": "x", "subnet": "y"}, {"network": "10.0.0.0/8", "subnet": "11.0.0.0/24"}]
    copy = [dict(entry) for entry in raw]
    _, problems = parse_networks(raw)
    assert [p.split(":")[0] for p in problems] == [
        "networks[0].network",
        "networks[0].subnet",
        "networks[1].subnet",
    ]
    assert raw == copy


def test_missing_tools_name_the_debian_package_and_run_nothing() -> None:
    def run(args: list[str], data: str | None = None) -> tuple[int, str, str]:
        raise AssertionError(f"ran {args}")

    host = FirewallHost(run, lambda name: None)
    params = {
        "state": "present",
        "backend": "nftables",
        "networks": [V4, {"network": "bad", "subnet": "10.0.0.0/24"}],
        "ip_masq": True,
        "forward": True,
        "random_fully": True,
    }
    with pytest.raises(FirewallInputError) as caught:
        prepare(params, host)
    assert caught.value.problems == [
        "networks[1].network: 'bad' is not an IPv4 or IPv6 CIDR "
        "('bad' does not appear to be an IPv4 or IPv6 network)",
        "backend nftables needs nft, which is not installed: install the Debian package "
        "nftables (apt-get install nftables)",
    ]


def test_the_entry_says_invalid_input_once_for_module_and_restore() -> None:
    def run(args: Any, data: Any, env: Any, binary: bool) -> tuple[int, str, str]:
        raise AssertionError(f"ran {args}")

    params = {"state": "present", "backend": "iptables", "networks": [V4], "ip_masq": True,
              "forward": True, "random_fully": True}  # fmt: skip
    with pytest.raises(FirewallInputError) as caught:
        entry.run(params, True, Programs(run, lambda name: None))
    assert str(caught.value).startswith("invalid input: backend iptables needs iptables, ")
    assert entry.label(params) == "masquerade iptables"
    assert entry.label({**params, "state": "absent"}) == "masquerade iptables (absent)"


# --- rendering -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [V4, V6], ids=["v4", "v6"])
def test_iptables_rules_are_the_reference(raw: dict[str, str]) -> None:
    net = net_of(raw)
    assert render_masquerade_rules(net, random_fully=True) == fill(MASQ_71, raw).splitlines()
    assert render_forward_rules(net) == fill(FORWARD_71, raw).splitlines()


@pytest.mark.parametrize("raw", [V4, V6], ids=["v4", "v6"])
def test_nft_table_is_the_golden_output(raw: dict[str, str]) -> None:
    text = render_table(net_of(raw), ip_masq=True, forward=True, random_fully=True)
    assert text == fill(GOLDEN_72, raw)


def test_nft_keeps_flannels_divergences_from_iptables() -> None:
    text = render_table(net_of(V4), ip_masq=True, forward=False, random_fully=False)
    assert "ip saddr != 10.244.1.0/24 ip daddr 10.244.0.0/16 return" in text  # != P, not != N
    assert "meta mark 0x00004000 return" in text  # exact, not masked
    assert "fully-random" not in text
    assert "chain forward" not in text
    assert render_table(net_of(V4), ip_masq=False, forward=False, random_fully=True) == ""


# --- diff ------------------------------------------------------------------------------------


def save_with(chain_rules: list[str], hook_rules: list[str], hook: str = "POSTROUTING") -> str:
    return "\n".join(
        [f":{hook} ACCEPT [0:0]", ":FLANNEL-POSTRTG - [0:0]", *hook_rules, *chain_rules, "COMMIT"]
    )


WANT = render_masquerade_rules(net_of(V4), random_fully=True)
FOREIGN = "-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE"


def ops(changes: list[Change]) -> list[tuple[str, str, str]]:
    return [(c.op, c.kind, c.reason) for c in changes]


def test_exact_state_needs_nothing() -> None:
    chains = parse_save(save_with(WANT, [FOREIGN, MASQ_CHAIN.jump]))
    assert diff_chain(IPV4, MASQ_CHAIN, WANT, "", chains) == []


def test_missing_chain_and_jump_are_added() -> None:
    chains = parse_save(":POSTROUTING ACCEPT [0:0]\n" + FOREIGN + "\nCOMMIT\n")
    assert ops(diff_chain(IPV4, MASQ_CHAIN, WANT, "", chains)) == [
        (ADD, "iptables-chain", "missing"),
        (ADD, "iptables-jump", "missing"),
    ]


def test_stale_rule_replaces_the_chain_and_says_which() -> None:
    stale = [*WANT[:1], WANT[1].replace("10.244.1.0/24", "10.244.9.0/24"), *WANT[2:]]
    chains = parse_save(save_with(stale, [MASQ_CHAIN.jump]))
    (change,) = diff_chain(IPV4, MASQ_CHAIN, WANT, "", chains)
    assert change.op == REPLACE
    assert change.reason.startswith("unexpected '-A FLANNEL-POSTRTG -s 10.244.9.0/24")
    assert "; missing '-A FLANNEL-POSTRTG -s 10.244.1.0/24" in change.reason
    assert change.spec["rules"] == WANT


def test_duplicate_and_variant_jumps_are_deleted_keeping_one() -> None:
    variant = "-A POSTROUTING -j FLANNEL-POSTRTG"
    chains = parse_save(save_with(WANT, [MASQ_CHAIN.jump, FOREIGN, variant, MASQ_CHAIN.jump]))
    (change,) = diff_chain(IPV4, MASQ_CHAIN, WANT, "", chains)
    assert (change.op, change.kind) == (REPLACE, "iptables-jump")
    assert change.spec["delete"] == [variant, MASQ_CHAIN.jump]
    assert change.spec["add"] is None


def test_unwanted_chain_goes_jumps_first_in_the_script() -> None:
    chains = parse_save(save_with(WANT, [FOREIGN, MASQ_CHAIN.jump]))
    changes = diff_chain(IPV4, MASQ_CHAIN, None, "backend is nftables", chains)
    assert ops(changes) == [
        (DELETE, "iptables-jump", "backend is nftables"),
        (DELETE, "iptables-chain", "backend is nftables"),
    ]
    script = render_restore_script("nat", list(reversed(changes))).splitlines()
    assert script == [
        "*nat",
        '-D POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
        "-F FLANNEL-POSTRTG",
        "-X FLANNEL-POSTRTG",
        "COMMIT",
    ]
    assert FOREIGN not in "\n".join(script)


def test_rebuild_script_builds_the_chain_before_its_jump() -> None:
    chains = parse_save(":POSTROUTING ACCEPT [0:0]\nCOMMIT\n")
    script = render_restore_script("nat", diff_chain(IPV4, MASQ_CHAIN, WANT, "", chains))
    lines = script.splitlines()
    assert lines[:3] == ["*nat", ":FLANNEL-POSTRTG - [0:0]", "-F FLANNEL-POSTRTG"]
    assert lines[3:-2] == WANT
    assert lines[-2:] == [MASQ_CHAIN.jump, "COMMIT"]


@pytest.mark.parametrize(
    ("rule", "target"),
    [
        ('-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD', "FLANNEL-FWD"),
        ('-A FORWARD -m comment --comment "-j FLANNEL-FWD" -j ACCEPT', "ACCEPT"),
        ("-A FORWARD -g FLANNEL-FWD", "FLANNEL-FWD"),
        ('-A FORWARD -m comment --comment "unbalanced -j FLANNEL-FWD', None),
        ("-A FORWARD -s 10.0.0.0/8", None),
    ],
    ids=["jump", "comment-mentions-it", "goto", "bad-quotes", "no-target"],
)
def test_jump_target(rule: str, target: str | None) -> None:
    assert jump_target(rule) == target


def test_forward_chain_jump_is_flannels() -> None:
    assert FORWARD_CHAIN.jump == '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD'


def test_nft_diff_ignores_layout_and_names_the_drift() -> None:
    wanted = render_table(net_of(V4), ip_masq=True, forward=True, random_fully=True)
    reindented = "\n".join("  " + line.strip() for line in wanted.splitlines()) + "\n\n"
    assert diff_table(IPV4, wanted, "", reindented) == []
    drifted = wanted.replace("\t\tip daddr 10.244.0.0/16 accept\n", "")
    (change,) = diff_table(IPV4, wanted, "", drifted)
    assert (change.op, change.reason) == (REPLACE, "missing 'ip daddr 10.244.0.0/16 accept'")
    assert diff_table(IPV4, "", "state is absent", None) == []
    assert ops(diff_table(IPV4, "", "state is absent", wanted)) == [
        (DELETE, "nft-table", "state is absent")
    ]


# --- what is wanted ----------------------------------------------------------------------------


def request(**options: Any) -> MasqueradeRequest:
    nets, _ = parse_networks(options.pop("networks", [V4]))
    return MasqueradeRequest(
        **{"state": "present", "backend": "iptables", **options}, networks=nets
    )


NO_V6 = "no IPv6 entry in networks"


@pytest.mark.parametrize(
    ("options", "reasons"),
    [
        pytest.param({}, [None, None, NO_V6, NO_V6], id="v4-only"),
        pytest.param({"ip_masq": False}, ["ip_masq is false", None, NO_V6, NO_V6], id="no-masq"),
        pytest.param({"backend": "nftables"}, ["backend is nftables"] * 4, id="other-mode"),
        pytest.param({"state": "absent"}, ["state is absent"] * 4, id="absent"),
    ],
)
def test_wanted_chains_say_why_they_go(options: dict[str, Any], reasons: list[str | None]) -> None:
    chains = wanted_chains(request(**options), {4: True})
    assert [(c.family.version, c.owned.chain) for c in chains] == [
        (4, "FLANNEL-POSTRTG"),
        (4, "FLANNEL-FWD"),
        (6, "FLANNEL-POSTRTG"),
        (6, "FLANNEL-FWD"),
    ]
    assert [c.why_absent if c.rules is None else None for c in chains] == reasons


def test_wanted_tables_only_for_families_asked_for() -> None:
    tables = wanted_tables(request(backend="nftables"), {4: False})
    assert [bool(t.text) for t in tables] == [True, False]
    assert tables[1].why_absent == "no IPv6 entry in networks"
    assert "fully-random" not in tables[0].text
