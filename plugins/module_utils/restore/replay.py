"""Boot restore: replay what the role applied, with the modules' own code, without Ansible.

The role records every run under `podnet_state_dir` (roles/node/tasks/restore.yml):
`applied.json` holds each module's arguments as Ansible normalised them (defaults filled,
types converted), in the role's order, plus the files it wrote; `<state_dir>/restore`
carries this package and calls `main`. At boot (podnet-restore.service) or by hand it
runs, for each recorded step, the very function the module's `main()` runs: the backend
package's `entry.run(params, check_mode, programs)`, with `core.programs.SUBPROCESS` where
the module passes AnsibleModule.run_command. So a replay is idempotent (an unchanged host
gets reads only) and removes only what the modules own, exactly as a run does: it is not
a second implementation, and an error reads the same in both.

    applied.json: {"format": 1,
                   "steps": [{"module": "vxlan", "runs": [<module_args>, ...]}, ...],
                   "files": [{"path": ..., "mode": "0644", "content": ...}, ...],
                   "wireguard_psk_file": "<state_dir>/wireguard.psk" or null}

Secrets: Ansible masks a `no_log` option in what it returns, so a recorded PSK reads
`VALUE_SPECIFIED_IN_NO_LOG_PARAMETER`; the role writes the PSK itself to its own 0600
file, read here at the last moment. The private key stays in its key file, which the
wireguard module reads by path in any case.

Every step is tried even when one fails (at boot, routes without masquerade beat no
routes at all); one line per step says what changed, and any failure makes the exit
status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TextIO

from ..core.changes import REPLACE, Change
from ..core.errors import PodnetError
from ..core.hostlock import HostBusyError, host_lock
from ..core.programs import SUBPROCESS, Programs
from ..core.shell import MASKED, Applied
from ..firewall import entry as masquerade_entry
from ..firewall.overlay import entry as overlay_filter_entry
from ..host_gw import entry as host_gw_entry
from ..sysctl import entry as sysctl_entry
from ..vxlan import entry as vxlan_entry
from ..wireguard import entry as wireguard_entry
from . import files as file_entry

FORMAT = 1
# A step line lists the keys of a group of changes up to this many, then only counts them.
KEYS_SHOWN = 3


class Entry(Protocol):
    """What every backend package's entry.py offers (see core/shell.py)."""

    def label(self, params: Mapping[str, Any]) -> str: ...

    def run(self, params: Mapping[str, Any], check_mode: bool, programs: Programs) -> Applied: ...


# Recorded step name (the module's name) -> the entry its module's main() calls.
ENTRIES: dict[str, Entry] = {
    "sysctl": sysctl_entry,
    "overlay_filter": overlay_filter_entry,
    "vxlan": vxlan_entry,
    "host_gw": host_gw_entry,
    "wireguard": wireguard_entry,
    "masquerade": masquerade_entry,
    "file": file_entry,
}


class ReplayError(PodnetError):
    """A step cannot run as recorded (a bad record, a missing secret)."""


@dataclass(frozen=True)
class Outcome:
    """One step's result: what it changed, or why it failed."""

    label: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


def run_step(
    module: str,
    params: Mapping[str, Any],
    check_mode: bool,
    psk_file: str | None = None,
    programs: Programs = SUBPROCESS,
) -> Outcome:
    """What the module's main() runs between AnsibleModule and exit_json: its entry."""
    entry = ENTRIES[module]
    label = entry.label(params)
    try:
        if module == "wireguard":
            params = with_psk(params, psk_file)
        applied = entry.run(params, check_mode, programs)
    except PodnetError as exc:
        return Outcome(label, error=str(exc))
    return Outcome(label, applied.changes, applied.warnings)


def with_psk(params: Mapping[str, Any], psk_file: str | None) -> dict[str, Any]:
    """The wireguard arguments with the masked PSK replaced by the PSK file's content."""
    args = dict(params)
    if args.get("psk") != MASKED:
        return args
    if not psk_file:
        raise ReplayError(
            "the PSK was recorded (masked) but applied.json names no PSK file: run the "
            "playbook again to record it"
        )
    try:
        with open(psk_file, encoding="ascii") as handle:
            args["psk"] = handle.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ReplayError(
            f"the PSK was recorded but {psk_file} cannot be read ({exc}): run the playbook "
            "again to write it"
        ) from None
    return args


# --- the record, the run, the report ------------------------------------------------------


def load_record(path: str) -> dict[str, Any]:
    """applied.json, checked for its shape; ReplayError says what is wrong and what to do."""
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        raise ReplayError(
            f"{path} does not exist: run the playbook (site.yml) on this host first"
        ) from None
    except (OSError, ValueError) as exc:
        raise ReplayError(f"{path} cannot be read: {exc}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        found = record.get("format") if isinstance(record, dict) else type(record).__name__
        raise ReplayError(
            f"{path}: format {found!r}, but this restore reads format {FORMAT}: run the "
            "playbook again to rewrite both"
        )
    known = set(ENTRIES) - {"file"}
    unknown = [
        step.get("module") for step in record.get("steps", []) if step.get("module") not in known
    ]
    if unknown:
        raise ReplayError(f"{path}: unknown steps {unknown}: known are {sorted(known)}")
    return record


def replay(record: Mapping[str, Any], check_mode: bool = False) -> list[Outcome]:
    """Every recorded step in order, then every file; a failed step does not stop the rest."""
    outcomes = []
    psk_file = record.get("wireguard_psk_file")
    for step in record.get("steps", []):
        for params in step.get("runs", []):
            outcomes.append(run_step(step["module"], params, check_mode, psk_file))
    outcomes.extend(run_step("file", spec, check_mode) for spec in record.get("files", []))
    return outcomes


def summarize(changes: Iterable[Change]) -> str:
    """Changes grouped by operation and kind, in order, with their keys while few.

    >>> summarize([Change("add", "route", "10.244.1.0/24", ""),
    ...            Change("add", "route", "10.244.3.0/24", ""),
    ...            Change("replace", "link", "flannel.1", "mtu: 1500 vs 1450")])
    'add route 10.244.1.0/24, 10.244.3.0/24; replace link flannel.1 (mtu: 1500 vs 1450)'
    >>> summarize([Change("add", "fdb", str(n), "") for n in range(5)])
    'add fdb x5'
    """
    groups: dict[tuple[str, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.op, change.kind), []).append(change)
    parts = []
    for (op, kind), group in groups.items():
        if len(group) > KEYS_SHOWN:
            parts.append(f"{op} {kind} x{len(group)}")
        elif op == REPLACE:
            parts.append(f"{op} {kind} " + ", ".join(f"{c.key} ({c.reason})" for c in group))
        else:
            parts.append(f"{op} {kind} " + ", ".join(c.key for c in group))
    return "; ".join(parts)


def _write(text: str, to: TextIO) -> None:
    """`text` as one line on `to` (what print does; this program's output is its report)."""
    to.write(text + "\n")


def report(outcomes: Sequence[Outcome], out: TextIO, err: TextIO, verbose: bool = False) -> int:
    """One line per step, the warnings, a last line with the totals; the exit status."""
    for outcome in outcomes:
        for warning in outcome.warnings:
            _write(f"{outcome.label}: warning: {warning}", to=err)
        if outcome.error is not None:
            _write(f"{outcome.label}: FAILED: {outcome.error}", to=err)
        elif outcome.changes:
            _write(f"{outcome.label}: changed: {summarize(outcome.changes)}", to=out)
            for change in outcome.changes if verbose else ():
                _write(f"    {change.op} {change.kind} {change.key}: {change.reason}", to=out)
        else:
            _write(f"{outcome.label}: unchanged", to=out)
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    changes = sum(len(outcome.changes) for outcome in outcomes)
    touched = sum(1 for outcome in outcomes if outcome.changes)
    if failed:
        _write(
            f"restore: FAILED: {len(failed)} of {len(outcomes)} steps failed "
            f"({', '.join(outcome.label for outcome in failed)}); {changes} changes made",
            to=err,
        )
        return 1
    if changes:
        _write(f"restore: {changes} changes in {touched} of {len(outcomes)} steps", to=out)
    else:
        _write(f"restore: nothing to change ({len(outcomes)} steps)", to=out)
    return 0


def main(
    argv: Sequence[str], state_dir: str, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """`restore [--check] [--verbose]`: replay <state_dir>/applied.json; the exit status."""
    parser = argparse.ArgumentParser(
        prog=os.path.join(state_dir, "restore"),
        description="Replay what podnet's last playbook run applied on this host (podnet "
        "boot restore): sysctls, devices, addresses, neighbours, FDB entries, routes, "
        "WireGuard peers, masquerade rules and files. Idempotent; touches only what podnet "
        "owns. Needs no Ansible and no network.",
    )
    parser.add_argument(
        "--check", action="store_true", help="report what would change, change nothing"
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="one more line per change, with its reason"
    )
    options = parser.parse_args(list(argv))
    try:
        record = load_record(os.path.join(state_dir, "applied.json"))
    except ReplayError as exc:
        _write(f"restore: FAILED: {exc}", to=err or sys.stderr)
        return 1
    try:
        with host_lock("podnet restore"):  # a playbook run at the same moment waits, or we do
            outcomes = replay(record, check_mode=options.check)
    except HostBusyError as exc:
        _write(f"restore: FAILED: {exc}", to=err or sys.stderr)
        return 1
    return report(outcomes, out or sys.stdout, err or sys.stderr, verbose=options.verbose)
