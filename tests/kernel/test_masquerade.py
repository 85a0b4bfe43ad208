"""podnet.fabric.masquerade against real iptables and nftables, in throwaway namespaces.

The module runs as Ansible runs it (its `main()`, arguments as JSON) but as a process under
`ip netns exec`, so every firewall command it runs sees only the test's namespace. The
firewall tools it finds on PATH are spies: thin wrappers that log each call and exec the
real tool, so "no write" is checked on the calls themselves, not inferred.

Expected rules are the reference's text (flannel-host-state.md 7.1 and the golden output of
7.2), written out here with N (cluster network) and P (node subnet) as placeholders.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test run's interpreter has ansible-core

# Reference 7.1, iptables -S form, verbatim but for {N} and {P}.
IPTABLES_MASQ = """\
-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG
-N FLANNEL-POSTRTG
-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s {P} -d {N} -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s {N} -d {P} -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG ! -s {N} -d {P} -m comment --comment "flanneld masq" -j RETURN
-A FLANNEL-POSTRTG -s {N} ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
-A FLANNEL-POSTRTG ! -s {N} -d {N} -m comment --comment "flanneld masq" -j MASQUERADE --random-fully
"""  # noqa: E501 (the reference's lines, whole)
IPTABLES_FORWARD = """\
-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD
-N FLANNEL-FWD
-A FLANNEL-FWD -s {N} -m comment --comment "flanneld forward" -j ACCEPT
-A FLANNEL-FWD -d {N} -m comment --comment "flanneld forward" -j ACCEPT
"""
# Reference 7.2's golden output (flannel e2e/rules.go): two `nft list chain` outputs merged.
NFT_GOLDEN = """\
table ip flannel-ipv4 {
	chain postrtg {
		comment "chain to manage traffic masquerading by flannel"
		type nat hook postrouting priority srcnat; policy accept;
		meta mark 0x00004000 return
		ip saddr {P} ip daddr {N} return
		ip saddr {N} ip daddr {P} return
		ip saddr != {P} ip daddr {N} return
		ip saddr {N} ip daddr != 224.0.0.0/4 masquerade fully-random
		ip saddr != {N} ip daddr {N} masquerade fully-random
	}
	chain forward {
		comment "chain to accept flannel traffic"
		type filter hook forward priority filter; policy accept;
		ip saddr {N} accept
		ip daddr {N} accept
	}
}
"""

V4 = {"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}
V6 = {"network": "fd00:10:244::/56", "subnet": "fd00:10:244:1::/64"}
TOOLS = ("iptables", "iptables-save", "iptables-restore", "ip6tables", "ip6tables-save")
TOOLS += ("ip6tables-restore", "nft")


def expected(template: str, net: dict[str, str]) -> list[str]:
    """A reference text for one family: N and P filled in; IPv6 as the reference says."""
    text = template.replace("{N}", net["network"]).replace("{P}", net["subnet"])
    if ":" in net["network"]:
        text = text.replace("224.0.0.0/4", "ff00::/8").replace("ip saddr", "ip6 saddr")
        text = text.replace("ip daddr", "ip6 daddr").replace(
            "table ip flannel-ipv4", "table ip6 flannel-ipv6"
        )
    return text.splitlines()


def sh(netns: str, *args: str, check: bool = True) -> str:
    """Run a command inside the namespace; return stdout."""
    done = subprocess.run(
        ["ip", "netns", "exec", netns, *args], capture_output=True, text=True, check=False
    )
    if check and done.returncode != 0:
        raise AssertionError(f"{args} failed: {done.stderr}")
    return done.stdout


def listing(netns: str, tool: str, table: str, chain: str) -> list[str]:
    """`<tool> -t <table> -S <chain>`, as lines."""
    return sh(netns, tool, "-t", table, "-S", chain).splitlines()


def jumps(netns: str, tool: str, table: str, hook: str, chain: str) -> list[str]:
    return [line for line in listing(netns, tool, table, hook) if line.endswith(f"-j {chain}")]


def owned_iptables(netns: str, tool: str = "iptables") -> list[str]:
    """Every line of the tool's iptables-save that mentions a FLANNEL chain."""
    return [line for line in sh(netns, f"{tool}-save").splitlines() if "FLANNEL" in line]


def nft_tables(netns: str) -> list[str]:
    return sh(netns, "nft", "list", "tables").splitlines()


def foreign_state(netns: str) -> list[str]:
    """Everything that is not podnet's: rules, user chains and non-default policies of both
    families (a table iptables-nft creates on first use adds nothing here), other nft tables.
    """
    lines = []
    for tool in ("iptables-save", "ip6tables-save"):
        table = ""
        for line in sh(netns, tool).splitlines():
            if line.startswith("*"):
                table = line[1:]
            keep = line.startswith("-A") or (line.startswith(":") and "ACCEPT" not in line)
            if keep and "FLANNEL" not in line:
                lines.append(f"{tool} {table} {line}")
    lines += sh(netns, "nft", "list", "table", "inet", "foreign").splitlines()
    return lines


@pytest.fixture
def spies(tmp_path: Path) -> tuple[Path, Path]:
    """A directory of wrappers that log each call, then exec the real tool; and the log."""
    bindir, log = tmp_path / "bin", tmp_path / "calls.log"
    bindir.mkdir()
    log.touch()
    for tool in TOOLS:
        real = shutil.which(tool)
        assert real, f"{tool} is not installed (make system-packages)"
        spy = bindir / tool
        spy.write_text(f'#!/bin/sh\necho "{tool} $*" >> {log}\nexec {real} "$@"\n')
        spy.chmod(0o755)
    return bindir, log


def writes(log: Path) -> list[str]:
    """Logged calls that may write: all but -save, --version, `nft list` and `nft --check`."""
    reads = ("-save ", " --version", "nft list ", "nft --check ")
    return [call for call in log.read_text().splitlines() if not any(r in call for r in reads)]


@pytest.fixture
def masquerade(netns: str, spies: tuple[Path, Path]) -> Callable[..., dict[str, Any]]:
    """Run the module in `netns`: masquerade(check=False, diff=True, **options) -> result.

    The result has one key more than the module's: `writes`, the calls that may write.
    """
    bindir, log = spies

    def run(check: bool = False, diff: bool = True, **options: Any) -> dict[str, Any]:
        log.write_text("")
        args = {
            "ANSIBLE_MODULE_ARGS": {**options, "_ansible_check_mode": check, "_ansible_diff": diff}
        }
        env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}"}
        done = subprocess.run(
            [
                "ip",
                "netns",
                "exec",
                netns,
                PYTHON,
                "-m",
                "plugins.modules.masquerade",
                json.dumps(args),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        try:
            result: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON from the module: {done.stdout}{done.stderr}") from None
        result["writes"] = writes(log)
        return result

    return run


def add_foreign_rules(netns: str) -> None:
    """Rules podnet must never touch, where podnet's own rules live too."""
    sh(
        netns,
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-s",
        "192.0.2.0/24",
        "-j",
        "MASQUERADE",
    )
    sh(netns, "iptables", "-t", "nat", "-N", "FOREIGN")
    sh(netns, "iptables", "-t", "nat", "-A", "FOREIGN", "-d", "198.18.0.0/15", "-j", "RETURN")
    sh(netns, "iptables", "-A", "FORWARD", "-i", "eth9", "-j", "DROP")
    sh(netns, "iptables", "-P", "FORWARD", "DROP")
    sh(netns, "ip6tables", "-A", "FORWARD", "-s", "2001:db8::/32", "-j", "ACCEPT")
    sh(netns, "nft", "add", "table", "inet", "foreign")
    sh(
        netns,
        "nft",
        "add",
        "chain",
        "inet",
        "foreign",
        "input",
        "{ type filter hook input priority 0; }",
    )
    sh(netns, "nft", "add", "rule", "inet", "foreign", "input", "tcp", "dport", "22", "accept")


def assert_flannel_iptables(netns: str, tool: str, net: dict[str, str]) -> None:
    """The family's rules are exactly reference 7.1: chains line by line, one jump each."""
    masq, fwd = expected(IPTABLES_MASQ, net), expected(IPTABLES_FORWARD, net)
    assert listing(netns, tool, "nat", "FLANNEL-POSTRTG") == masq[1:]
    assert jumps(netns, tool, "nat", "POSTROUTING", "FLANNEL-POSTRTG") == masq[:1]
    assert listing(netns, tool, "filter", "FLANNEL-FWD") == fwd[1:]
    assert jumps(netns, tool, "filter", "FORWARD", "FLANNEL-FWD") == fwd[:1]


def nft_golden_view(netns: str, family: str, table: str) -> list[str]:
    """What the reference's golden output is made of: the two chains' listings, merged."""
    postrtg = sh(netns, "nft", "list", "chain", family, table, "postrtg").splitlines()
    forward = sh(netns, "nft", "list", "chain", family, table, "forward").splitlines()
    return postrtg[:-1] + forward[1:]


# --- iptables mode -------------------------------------------------------------------------


def test_fresh_apply_is_flannels_rules_dual_stack(netns, masquerade):
    result = masquerade(networks=[V4, V6])

    assert result["changed"] is True, result
    assert result["random_fully"] is True
    assert_flannel_iptables(netns, "iptables", V4)
    assert_flannel_iptables(netns, "ip6tables", V6)
    # One transaction per family and table, nothing else written.
    assert [call.split()[0] for call in result["writes"]] == [
        "iptables-restore",
        "iptables-restore",
        "ip6tables-restore",
        "ip6tables-restore",
    ]
    assert "-N FLANNEL-POSTRTG" in result["diff"]["after"]
    assert result["diff"]["before"] == ""


def test_second_apply_changes_nothing_and_writes_nothing(netns, masquerade):
    masquerade(networks=[V4, V6])
    handles = sh(netns, "nft", "-a", "list", "ruleset")

    again = masquerade(networks=[V4, V6])

    assert again["changed"] is False, again["changes"]
    assert again["changes"] == []
    assert again["writes"] == []
    # The kernel agrees: a rewrite would have given the rules new handles.
    assert sh(netns, "nft", "-a", "list", "ruleset") == handles


def test_new_subnet_replaces_the_stale_rules(netns, masquerade):
    masquerade(networks=[V4])
    moved = {"network": V4["network"], "subnet": "10.244.7.0/24"}

    result = masquerade(networks=[moved])

    assert [(c["op"], c["key"]) for c in result["changes"]] == [
        ("replace", "iptables nat FLANNEL-POSTRTG")
    ]
    assert "10.244.1.0/24" in result["changes"][0]["reason"]
    assert_flannel_iptables(netns, "iptables", moved)
    assert "10.244.1.0" not in "\n".join(owned_iptables(netns))


def test_a_stray_rule_in_an_owned_chain_is_removed(netns, masquerade):
    masquerade(networks=[V4])
    sh(netns, "iptables", "-A", "FLANNEL-FWD", "-s", "10.9.9.0/24", "-j", "ACCEPT")

    result = masquerade(networks=[V4])

    assert [c["key"] for c in result["changes"]] == ["iptables filter FLANNEL-FWD"]
    assert result["changes"][0]["reason"] == "unexpected '-A FLANNEL-FWD -s 10.9.9.0/24 -j ACCEPT'"
    assert_flannel_iptables(netns, "iptables", V4)


def test_duplicated_and_variant_jumps_become_exactly_one(netns, masquerade):
    add_foreign_rules(netns)
    masquerade(networks=[V4])
    exact = expected(IPTABLES_MASQ, V4)[0]
    sh(
        netns,
        "iptables",
        "-t",
        "nat",
        "-I",
        "POSTROUTING",
        "1",
        "-m",
        "comment",
        "--comment",
        "flanneld masq",
        "-j",
        "FLANNEL-POSTRTG",
    )
    sh(netns, "iptables", "-t", "nat", "-A", "POSTROUTING", "-j", "FLANNEL-POSTRTG")
    assert len(jumps(netns, "iptables", "nat", "POSTROUTING", "FLANNEL-POSTRTG")) == 3

    result = masquerade(networks=[V4])

    assert [(c["op"], c["key"]) for c in result["changes"]] == [
        ("replace", "iptables nat POSTROUTING -j FLANNEL-POSTRTG")
    ]
    assert jumps(netns, "iptables", "nat", "POSTROUTING", "FLANNEL-POSTRTG") == [exact]
    assert "-A POSTROUTING -s 192.0.2.0/24 -j MASQUERADE" in listing(
        netns, "iptables", "nat", "POSTROUTING"
    )
    assert masquerade(networks=[V4])["writes"] == []


def test_foreign_rules_survive_every_mode_and_absent(netns, masquerade):
    add_foreign_rules(netns)
    before = foreign_state(netns)

    for options in (
        {"networks": [V4, V6]},
        {"networks": [V4, V6], "backend": "nftables"},
        {"networks": [V4], "ip_masq": False},
        {"state": "absent"},
    ):
        result = masquerade(**options)
        assert "failed" not in result, result
        assert foreign_state(netns) == before, options


def test_ip_masq_false_removes_only_the_masquerade_part(netns, masquerade):
    masquerade(networks=[V4])

    result = masquerade(networks=[V4], ip_masq=False)

    assert [(c["op"], c["key"], c["reason"]) for c in result["changes"]] == [
        ("delete", "iptables nat POSTROUTING -j FLANNEL-POSTRTG", "ip_masq is false"),
        ("delete", "iptables nat FLANNEL-POSTRTG", "ip_masq is false"),
    ]
    assert result["random_fully"] is False
    assert all("FLANNEL-POSTRTG" not in line for line in owned_iptables(netns))
    fwd = expected(IPTABLES_FORWARD, V4)
    assert listing(netns, "iptables", "filter", "FLANNEL-FWD") == fwd[1:]


def test_forward_false_and_a_dropped_family(netns, masquerade):
    masquerade(networks=[V4, V6])

    result = masquerade(networks=[V4], forward=False)

    keys = {c["key"]: c["reason"] for c in result["changes"]}
    assert keys["iptables filter FLANNEL-FWD"] == "forward is false"
    assert keys["ip6tables nat FLANNEL-POSTRTG"] == "no IPv6 entry in networks"
    assert owned_iptables(netns, "ip6tables") == []
    assert [line for line in owned_iptables(netns) if "FLANNEL-FWD" in line] == []
    masq = expected(IPTABLES_MASQ, V4)
    assert listing(netns, "iptables", "nat", "FLANNEL-POSTRTG") == masq[1:]


def test_random_fully_off(netns, masquerade):
    result = masquerade(networks=[V4], random_fully=False)

    assert result["random_fully"] is False
    rules = listing(netns, "iptables", "nat", "FLANNEL-POSTRTG")
    want = [line.replace(" --random-fully", "") for line in expected(IPTABLES_MASQ, V4)[1:]]
    assert rules == want


def test_check_mode_reports_and_writes_nothing(netns, masquerade):
    result = masquerade(check=True, networks=[V4, V6])

    assert result["changed"] is True
    assert len(result["changes"]) == 8
    assert result["writes"] == []
    assert owned_iptables(netns) == owned_iptables(netns, "ip6tables") == []
    assert "FLANNEL-POSTRTG" in result["diff"]["after"]

    masquerade(networks=[V4])
    drifted = masquerade(check=True, networks=[V4], backend="nftables")
    assert drifted["changed"] is True
    assert drifted["writes"] == []
    assert_flannel_iptables(netns, "iptables", V4)
    assert [table for table in nft_tables(netns) if "flannel" in table] == []


def test_absent_removes_all_podnet_owns_in_both_modes(netns, masquerade):
    masquerade(networks=[V4, V6])
    # flanneld's nftables-mode tables as well (it makes both, empty ones included).
    sh(netns, "nft", 'table ip flannel-ipv4 { comment "rules for flannel-ipv4"; }')
    sh(netns, "nft", 'table ip6 flannel-ipv6 { comment "rules for flannel-ipv6"; }')

    result = masquerade(state="absent")

    assert result["changed"] is True
    assert {c["reason"] for c in result["changes"]} == {"state is absent"}
    assert owned_iptables(netns) == owned_iptables(netns, "ip6tables") == []
    assert [t for t in nft_tables(netns) if "flannel" in t] == []
    assert masquerade(state="absent")["writes"] == []


# --- nftables mode -------------------------------------------------------------------------


def test_nftables_fresh_apply_is_the_golden_output(netns, masquerade):
    result = masquerade(networks=[V4, V6], backend="nftables")

    assert result["changed"] is True, result
    assert result["random_fully"] is True
    assert nft_golden_view(netns, "ip", "flannel-ipv4") == expected(NFT_GOLDEN, V4)
    assert nft_golden_view(netns, "ip6", "flannel-ipv6") == expected(NFT_GOLDEN, V6)
    for family, table in (("ip", "flannel-ipv4"), ("ip6", "flannel-ipv6")):
        listed = sh(netns, "nft", "list", "table", family, table).splitlines()
        assert listed[1] == f'\tcomment "rules for {table}"'
    assert result["writes"] == ["nft -f -"]

    again = masquerade(networks=[V4, V6], backend="nftables")
    assert again["changed"] is False, again["changes"]
    assert again["writes"] == []


def test_nftables_drift_is_replaced(netns, masquerade):
    masquerade(networks=[V4], backend="nftables")
    sh(
        netns,
        "nft",
        "add",
        "rule",
        "ip",
        "flannel-ipv4",
        "postrtg",
        "ip",
        "saddr",
        "10.9.9.0/24",
        "return",
    )

    result = masquerade(networks=[V4], backend="nftables")

    assert [(c["op"], c["key"]) for c in result["changes"]] == [("replace", "ip flannel-ipv4")]
    assert "ip saddr 10.9.9.0/24 return" in result["changes"][0]["reason"]
    assert nft_golden_view(netns, "ip", "flannel-ipv4") == expected(NFT_GOLDEN, V4)
    # Only the families asked for: no empty ip6 table as flanneld would leave.
    assert [t for t in nft_tables(netns) if "flannel" in t] == ["table ip flannel-ipv4"]


def test_nftables_mode_removes_flannels_iptables_leftovers(netns, masquerade):
    """flanneld's own 7.3 cleanup leaves an empty nat chain with its jump and the whole
    filter chain; podnet removes all of it, jumps first."""
    sh(netns, "iptables", "-t", "nat", "-N", "FLANNEL-POSTRTG")
    sh(
        netns,
        "iptables",
        "-t",
        "nat",
        "-A",
        "POSTROUTING",
        "-m",
        "comment",
        "--comment",
        "flanneld masq",
        "-j",
        "FLANNEL-POSTRTG",
    )
    fwd = [line for line in expected(IPTABLES_FORWARD, V4) if not line.startswith("-N")]
    script = "\n".join(["*filter", ":FLANNEL-FWD - [0:0]", *fwd, "COMMIT", ""])
    subprocess.run(
        ["ip", "netns", "exec", netns, "iptables-restore", "--noflush"],
        input=script,
        text=True,
        check=True,
    )

    result = masquerade(networks=[V4], backend="nftables")

    assert [c["key"] for c in result["changes"]] == [
        "ip flannel-ipv4",
        "iptables nat POSTROUTING -j FLANNEL-POSTRTG",
        "iptables nat FLANNEL-POSTRTG",
        "iptables filter FORWARD -j FLANNEL-FWD",
        "iptables filter FLANNEL-FWD",
    ]
    assert owned_iptables(netns) == []
    assert nft_golden_view(netns, "ip", "flannel-ipv4") == expected(NFT_GOLDEN, V4)


def test_iptables_mode_removes_the_nftables_tables(netns, masquerade):
    masquerade(networks=[V4, V6], backend="nftables")

    result = masquerade(networks=[V4, V6])

    deleted = [(c["key"], c["reason"]) for c in result["changes"] if c["op"] == "delete"]
    assert deleted == [
        ("ip flannel-ipv4", "backend is iptables"),
        ("ip6 flannel-ipv6", "backend is iptables"),
    ]
    assert [t for t in nft_tables(netns) if "flannel" in t] == []
    assert_flannel_iptables(netns, "iptables", V4)
    # The wanted mode is written before the other mode is removed.
    assert [call.split()[0] for call in result["writes"]][-1] == "nft"


# --- input ---------------------------------------------------------------------------------


def test_bad_input_fails_with_every_problem_and_writes_nothing(netns, masquerade):
    result = masquerade(
        networks=[
            {"network": "10.244.0.0/33", "subnet": "10.244.1.0/24"},
            {"network": "10.244.0.1/16", "subnet": "10.244.1.0/24"},
            {"network": "10.245.0.0/16", "subnet": "10.246.1.0/24"},
            {"network": "fd00::/56", "subnet": "10.244.1.0/24"},
            V4,
            {"network": "10.250.0.0/16", "subnet": "10.250.1.0/24"},
        ]
    )

    assert result["failed"] is True
    assert result["problems"] == [
        "networks[0].network: '10.244.0.0/33' is not an IPv4 or IPv6 CIDR "
        "('10.244.0.0/33' does not appear to be an IPv4 or IPv6 network)",
        "networks[1].network: '10.244.0.1/16' has host bits set: use 10.244.0.0/16",
        "networks[2].subnet: 10.246.1.0/24 is not inside network 10.245.0.0/16: use this "
        "node's pod subnet from the plan (its FLANNEL_SUBNET)",
        "networks[3]: network fd00::/56 is IPv6 but subnet 10.244.1.0/24 is IPv4: give one "
        "entry per family, each with its own subnet",
        "networks[5]: a second IPv4 entry (10.250.0.0/16) after 10.244.0.0/16: give one entry "
        "per family (IPv4 and/or IPv6)",
    ]
    assert result["writes"] == []
    assert owned_iptables(netns) == []
