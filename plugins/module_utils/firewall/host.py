"""The host side of the masquerade module: the tools, probe, read, apply; core.reconcile
runs read -> want (probe, render) -> diff -> (check mode stops) -> apply -> re-read -> verify.

All commands go through one `run(args, data)` callable handed in by the module
(AnsibleModule.run_command with an argument list, never a shell), so nothing here knows
about Ansible and a test can point it anywhere. Reading never writes: `iptables-save`,
`nft list`, `<iptables> --version` and `nft --check` (a dry run the kernel aborts).

Apply order is the diff's (diff.py: the wanted mode first, then the other's leftovers). Inside
iptables, one `iptables-restore --noflush` transaction per family and table; inside
nftables, one `nft -f` transaction for both tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Optional

from ..core.changes import Change
from ..core.errors import PodnetError
from ..core.programs import Programs
from ..core.reconcile import reconcile
from .diff import diff_state
from .input import FAMILIES, IPTABLES, NFTABLES, MasqueradeRequest, family_tools
from .iptables import OWNED_CHAINS, parse_save, render_restore_script
from .nftables import parse_tables, render_nft_script
from .state import FirewallState, render_texts
from .want import WantedChain, WantedTable, wanted_chains, wanted_tables

if TYPE_CHECKING:  # aliases for annotations only
    from collections.abc import Callable

    # Optional, not `X | None`: an alias is an expression, and hosts run Python 3.9.
    # run(args, stdin text or None) -> (rc, stdout, stderr); which(name) -> path or None.
    Run = Callable[[list[str], Optional[str]], tuple[int, str, str]]
    Which = Callable[[str], Optional[str]]

# go-iptables' HasRandomFully, which flannel uses: iptables >= 1.6.2 has --random-fully.
RANDOM_FULLY_SINCE = (1, 6, 2)

# knftables probes fully-random with `nft --check` on a throw-away chain; so does podnet.
NFT_PROBE = (
    "add table {family} podnet-probe\n"
    "add chain {family} podnet-probe masqueradeTest"
    " {{ type nat hook postrouting priority srcnat; }}\n"
    "add rule {family} podnet-probe masqueradeTest masquerade fully-random\n"
)


class FirewallError(PodnetError):
    """A firewall command failed, or the rules differ from the plan after applying it."""


class FirewallHost:
    """The firewall commands of one host: looked up once, run through `run`."""

    def __init__(self, run: Run, which: Which) -> None:
        self._run = run
        self._which = which
        self._paths: dict[str, str | None] = {}

    def path(self, tool: str) -> str | None:
        if tool not in self._paths:
            self._paths[tool] = self._which(tool)
        return self._paths[tool]

    def has(self, *tools: str) -> bool:
        return all(self.path(tool) for tool in tools)

    def call(self, tool: str, args: list[str], data: str | None = None) -> tuple[int, str, str]:
        path = self.path(tool)
        if path is None:  # prepare() has made sure required tools exist
            raise FirewallError(f"{tool} is not installed")
        return self._run([path, *args], data)

    def check(self, tool: str, args: list[str], data: str | None = None) -> str:
        """Run and return stdout; a non-zero exit becomes a FirewallError naming the command."""
        rc, out, err = self.call(tool, args, data)
        if rc != 0:
            command = " ".join([tool, *args])
            raise FirewallError(f"{command} failed (rc {rc}): {err.strip() or out.strip()}")
        return out


def firewall_host(programs: Programs) -> FirewallHost:
    """The host's firewall tools, run through `programs` (the module's or the restore's)."""

    def run_tool(args: list[str], data: str | None = None) -> tuple[int, str, str]:
        # Rule scripts go to iptables-restore and nft exactly as rendered: no newline added.
        return programs.run(args, data, None, True)

    return FirewallHost(run_tool, programs.which)


def probe_random_fully(request: MasqueradeRequest, host: FirewallHost) -> dict[int, bool]:
    """Per family version: whether masquerade rules will carry random-fully."""
    support: dict[int, bool] = {}
    if not (request.random_fully and request.ip_masq):
        return support
    for family in FAMILIES:
        if request.wants(IPTABLES, family):
            _rc, out, _err = host.call(family.iptables, ["--version"])
            found = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
            version = tuple(int(part) for part in found.groups()) if found else (0, 0, 0)
            support[family.version] = version >= RANDOM_FULLY_SINCE
        elif request.wants(NFTABLES, family):
            probe = NFT_PROBE.format(family=family.nft_family)
            rc, _out, _err = host.call("nft", ["--check", "-f", "-"], probe)
            support[family.version] = rc == 0
    return support


def read_state(request: MasqueradeRequest, host: FirewallHost) -> FirewallState:
    """Read every owned object that can be read; say in its `warnings` what could not.

    A tool that is missing, or a read that fails, is an error where something is wanted
    (prepare() already checked the tools) and only a warning where podnet is cleaning up.
    """
    state = FirewallState()
    tables = sorted({owned.table for owned in OWNED_CHAINS})
    wanted_ipt = {f.version for f in FAMILIES if request.wants(IPTABLES, f)}
    state.iptables = read_iptables(host, tables, wanted_ipt, state.warnings)
    names = [(family.nft_family, family.nft_table) for family in FAMILIES]
    wanted_nft = any(request.wants(NFTABLES, family) for family in FAMILIES)
    found = read_nft_tables(host, names, wanted_nft, state.warnings)
    if found is not None:
        state.nft = {family.version: found[name] for family, name in zip(FAMILIES, names)}
    return state


def read_iptables(
    host: FirewallHost, tables: list[str], wanted: set[int], warnings: list[str]
) -> dict[tuple[int, str], dict[str, list[str]]]:
    """`iptables-save -t <table>` of each family, parsed, keyed (family version, table).

    Args:
        wanted: the family versions whose rules are wanted: there a failed read raises;
            elsewhere it is a warning and the family is left out (so not diffed).
    """
    read: dict[tuple[int, str], dict[str, list[str]]] = {}
    for family in FAMILIES:
        if not host.has(*family_tools(family)):
            warnings.append(
                f"{family.iptables} is not installed: podnet's {family.label} iptables rules, "
                "if any, were not checked (Debian package iptables)"
            )
            continue
        for table in tables:
            try:
                text = host.check(family.iptables_save, ["-t", table])
            except FirewallError as exc:
                if family.version in wanted:
                    raise
                warnings.append(f"{exc}: podnet's rules there, if any, were not checked")
                continue
            read[(family.version, table)] = parse_save(text)
    return read


def read_nft_tables(
    host: FirewallHost, names: list[tuple[str, str]], wanted: bool, warnings: list[str]
) -> dict[tuple[str, str], str | None] | None:
    """`nft list table` of each (family, name) there is (None: no such table).

    Returns None, with a warning, when nft is missing or cannot list (only raised where
    a table is `wanted`): nothing of nftables is diffed then.
    """
    if not host.has("nft"):
        warnings.append(
            "nft is not installed: podnet's nftables tables, if any, were not checked "
            "(Debian package nftables)"
        )
        return None
    try:
        tables = parse_tables(host.check("nft", ["list", "tables"]))
    except FirewallError as exc:
        if wanted:
            raise
        warnings.append(f"{exc}: podnet's nftables tables, if any, were not checked")
        return None
    return {
        name: host.check("nft", ["list", "table", *name]) if name in tables else None
        for name in names
    }


def apply_changes(host: FirewallHost, changes: list[Change]) -> None:
    """Write the changes: one transaction per iptables table, one for nftables, in order."""
    groups: dict[tuple[Any, ...], list[Change]] = {}
    for change in changes:
        if change.kind.startswith("nft-"):
            key: tuple[Any, ...] = ("nft",)
        else:
            key = ("iptables", change.spec["family"], change.spec["table"])
        groups.setdefault(key, []).append(change)
    done: list[str] = []
    for key, group in groups.items():
        if key[0] == "nft":
            tool, args, script = "nft", ["-f", "-"], render_nft_script(group)
        else:
            family = next(f for f in FAMILIES if f.version == key[1])
            tool, args = family.iptables_restore, ["--noflush", "--wait"]
            script = render_restore_script(key[2], group)
        try:
            host.check(tool, args, script)
        except FirewallError as exc:
            applied = ", ".join(done) or "nothing"
            # `from None`: this message holds the failed command's whole. (ansible-test's
            # pylint misreads `from exc` here as a cause that is not an exception.)
            message = f"{exc}; already applied: {applied}; script:\n{script}"
            raise FirewallError(message) from None
        done.append(" ".join(str(part) for part in key))


@dataclass(frozen=True)
class Wanted:
    """The rules the request wants, and whether masquerade will carry random-fully."""

    chains: list[WantedChain]
    tables: list[WantedTable]
    random_fully: bool


@dataclass
class SyncResult:
    changes: list[Change]
    before: str
    after: str
    random_fully: bool
    warnings: list[str]


def want_rules(request: MasqueradeRequest, host: FirewallHost) -> Wanted:
    """Probe random-fully (reading only) and render both modes' wanted rules."""
    support = probe_random_fully(request, host)
    masq_families = [
        family.version
        for family in FAMILIES
        if request.ip_masq and (request.wants(IPTABLES, family) or request.wants(NFTABLES, family))
    ]
    fully = bool(masq_families) and all(support.get(version, False) for version in masq_families)
    return Wanted(wanted_chains(request, support), wanted_tables(request, support), fully)


def sync_masquerade(request: MasqueradeRequest, host: FirewallHost, check_mode: bool) -> SyncResult:
    """core.reconcile's read, diff, and unless in check mode apply and verify."""

    def differs(wanted: Wanted, left: list[Change]) -> FirewallError:
        reasons = "; ".join(f"{change.key}: {change.reason}" for change in left)
        return FirewallError(f"rules still differ after applying them: {reasons}")

    done = reconcile(
        read=lambda: read_state(request, host),
        want=lambda seen: want_rules(request, host),
        diff=lambda wanted, seen: diff_state(request, wanted.chains, wanted.tables, seen),
        apply=lambda wanted, seen, changes: apply_changes(host, changes),
        check_mode=check_mode,
        differs=differs,
    )
    wanted = done.wanted
    before, after = render_texts(wanted.chains, wanted.tables, done.before)
    return SyncResult(done.changes, before, after, wanted.random_fully, done.before.warnings)
