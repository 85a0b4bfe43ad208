"""The host side of the masquerade module: find the tools, probe, read, diff, apply, verify.

All commands go through one `run(args, data)` callable handed in by the module
(AnsibleModule.run_command with an argument list, never a shell), so nothing here knows
about Ansible and a test can point it anywhere. Reading never writes: `iptables-save`,
`nft list`, `<iptables> --version` and `nft --check` (a dry run the kernel aborts).

Apply order: the wanted mode first, then the other mode's leftovers, so that a host
switching modes is never without masquerade and forward rules (both at once for a moment
is harmless: NAT is decided once per connection, and ACCEPT twice is ACCEPT). Inside
iptables, one `iptables-restore --noflush` transaction per family and table; inside
nftables, one `nft -f` transaction for both tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.changes import Change
from .input import FAMILIES, PACKAGE_OF_TOOL, Family, FirewallInputError, parse_networks
from .iptables import (
    OWNED_CHAINS,
    diff_chain,
    owned_jumps,
    parse_save,
    render_listing,
    render_restore_script,
)
from .nftables import diff_table, parse_tables, render_nft_script
from .want import (
    IPTABLES,
    NFTABLES,
    MasqueradeRequest,
    WantedChain,
    WantedTable,
    wanted_chains,
    wanted_tables,
)

if TYPE_CHECKING:  # aliases for annotations only: `X | None` at runtime needs Python 3.10
    from collections.abc import Callable

    # run(args, stdin text or None) -> (rc, stdout, stderr); which(name) -> path or None.
    Run = Callable[[list[str], str | None], tuple[int, str, str]]
    Which = Callable[[str], str | None]

# go-iptables' HasRandomFully, which flannel uses: iptables >= 1.6.2 has --random-fully.
RANDOM_FULLY_SINCE = (1, 6, 2)

# knftables probes fully-random with `nft --check` on a throw-away chain; so does podnet.
NFT_PROBE = (
    "add table {family} podnet-probe\n"
    "add chain {family} podnet-probe masqueradeTest"
    " {{ type nat hook postrouting priority srcnat; }}\n"
    "add rule {family} podnet-probe masqueradeTest masquerade fully-random\n"
)


class FirewallError(RuntimeError):
    """A firewall command failed, or the rules differ from the plan after applying it."""


def _family_tools(family: Family) -> list[str]:
    return [family.iptables, family.iptables_save, family.iptables_restore]


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


def prepare(params: dict[str, Any], host: FirewallHost) -> MasqueradeRequest:
    """Check the options and the tools they need; raise once with every problem.

    Raises:
        FirewallInputError: bad networks, or a needed tool not installed.
    """
    networks, problems = parse_networks(params.get("networks") or [])
    request = MasqueradeRequest(
        state=params["state"],
        backend=params["backend"],
        networks=networks,
        ip_masq=params["ip_masq"],
        forward=params["forward"],
        random_fully=params["random_fully"],
    )
    if request.state == "present" and not params.get("networks"):
        problems.append(
            "networks: empty, but state is present: give the cluster Network and this "
            "node's subnet for each enabled family, or state: absent"
        )
    for tool in _required_tools(request):
        if host.path(tool) is None:
            package = PACKAGE_OF_TOOL[tool]
            problems.append(
                f"backend {request.backend} needs {tool}, which is not installed: install the "
                f"Debian package {package} (apt-get install {package})"
            )
    if problems:
        raise FirewallInputError(problems)
    return request


def _required_tools(request: MasqueradeRequest) -> list[str]:
    tools: list[str] = []
    for family in FAMILIES:
        if request.wants(IPTABLES, family):
            tools.extend(_family_tools(family))
        if request.wants(NFTABLES, family) and "nft" not in tools:
            tools.append("nft")
    return tools


def probe_random_fully(request: MasqueradeRequest, host: FirewallHost) -> dict[int, bool]:
    """Per family version: whether masquerade rules will carry random-fully."""
    support: dict[int, bool] = {}
    if not (request.random_fully and request.ip_masq):
        return support
    for family in FAMILIES:
        if request.wants(IPTABLES, family):
            _, out, _ = host.call(family.iptables, ["--version"])
            found = re.search(r"v(\d+)\.(\d+)\.(\d+)", out)
            version = tuple(int(part) for part in found.groups()) if found else (0, 0, 0)
            support[family.version] = version >= RANDOM_FULLY_SINCE
        elif request.wants(NFTABLES, family):
            probe = NFT_PROBE.format(family=family.nft_family)
            rc, _, _ = host.call("nft", ["--check", "-f", "-"], probe)
            support[family.version] = rc == 0
    return support


@dataclass
class FirewallState:
    """What was read: owned iptables tables per (family version, table), owned nft tables."""

    iptables: dict[tuple[int, str], dict[str, list[str]]] = field(default_factory=dict)
    nft: dict[int, str | None] = field(default_factory=dict)  # family version -> listing


def read_state(
    request: MasqueradeRequest, host: FirewallHost, warnings: list[str]
) -> FirewallState:
    """Read every owned object that can be read; say in `warnings` what could not.

    A tool that is missing, or a read that fails, is an error where something is wanted
    (prepare() already checked the tools) and only a warning where podnet is cleaning up.
    """
    state = FirewallState()
    for family in FAMILIES:
        wanted = request.wants(IPTABLES, family)
        if not host.has(*_family_tools(family)):
            warnings.append(
                f"{family.iptables} is not installed: podnet's {family.label} iptables rules, "
                "if any, were not checked (Debian package iptables)"
            )
            continue
        for table in sorted({owned.table for owned in OWNED_CHAINS}):
            try:
                text = host.check(family.iptables_save, ["-t", table])
            except FirewallError as exc:
                if wanted:
                    raise
                warnings.append(f"{exc}: podnet's rules there, if any, were not checked")
                continue
            state.iptables[(family.version, table)] = parse_save(text)
    if not host.has("nft"):
        warnings.append(
            "nft is not installed: flannel's nftables tables, if any, were not checked "
            "(Debian package nftables)"
        )
        return state
    wanted_nft = any(request.wants(NFTABLES, family) for family in FAMILIES)
    try:
        tables = parse_tables(host.check("nft", ["list", "tables"]))
    except FirewallError as exc:
        if wanted_nft:
            raise
        warnings.append(f"{exc}: flannel's nftables tables, if any, were not checked")
        return state
    for family in FAMILIES:
        name = (family.nft_family, family.nft_table)
        current = host.check("nft", ["list", "table", *name]) if name in tables else None
        state.nft[family.version] = current
    return state


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


def apply_changes(host: FirewallHost, changes: list[Change]) -> None:
    """Write the changes: one transaction per iptables table, one for nftables, in order."""
    groups: dict[tuple[Any, ...], list[Change]] = {}
    for change in changes:
        if change.kind == "nft-table":
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
            raise FirewallError(f"{exc}; already applied: {applied}; script:\n{script}") from exc
        done.append(" ".join(str(part) for part in key))


@dataclass
class SyncResult:
    changes: list[Change]
    before: str
    after: str
    random_fully: bool
    warnings: list[str]


def sync_masquerade(request: MasqueradeRequest, host: FirewallHost, check_mode: bool) -> SyncResult:
    """Read, diff, and unless in check mode apply and verify. Returns what changed."""
    warnings: list[str] = []
    support = probe_random_fully(request, host)
    chains = wanted_chains(request, support)
    tables = wanted_tables(request, support)
    state = read_state(request, host, warnings)
    changes = diff_state(request, chains, tables, state)
    before, after = render_texts(chains, tables, state)
    masq_families = [
        family.version
        for family in FAMILIES
        if request.ip_masq and (request.wants(IPTABLES, family) or request.wants(NFTABLES, family))
    ]
    fully = bool(masq_families) and all(support.get(version, False) for version in masq_families)
    result = SyncResult(changes, before, after, fully, warnings)
    if check_mode or not changes:
        return result
    apply_changes(host, changes)
    left = diff_state(request, chains, tables, read_state(request, host, []))
    if left:
        reasons = "; ".join(f"{change.key}: {change.reason}" for change in left)
        raise FirewallError(f"rules still differ after applying them: {reasons}")
    return result
