"""Boot restore: replay what the role applied, with the modules' own code, without Ansible.

The role records every run under `podnet_state_dir` (roles/node/tasks/restore.yml):
`applied.json` holds each module's arguments as Ansible normalised them (defaults filled,
types converted), in the role's order, plus the files it wrote; `<state_dir>/restore`
carries this package and calls `main`. At boot (podnet-restore.service) or by hand it
runs, for each recorded step, what the module's `main()` runs: the same validation, the
same host objects (pyroute2's IPRoute, or `ip`/`wg`/`iptables` through a runner) and the
same reconcile function, with `subprocess` where the module has `run_command`. So a
replay is idempotent (an unchanged host gets reads only) and removes only what the
modules own, exactly as a run does: it is not a second implementation.

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
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from ..core.changes import ADD, REPLACE, Change
from ..core.files import write_atomically
from ..firewall.host import FirewallError, FirewallHost, prepare, sync_masquerade
from ..firewall.input import FirewallInputError
from ..host_gw.host import reconcile_host_gw
from ..host_gw.input import HostGwError, validate_host_gw
from ..kernel.handles import PYROUTE2_ERROR, IPRoute, NetlinkError, open_rtnl
from ..sysctl.host import SysctlError, sync_sysctls
from ..vxlan.host import Host, reconcile_vxlan
from ..vxlan.state import VxlanError
from ..vxlan.want import validate_params as validate_vxlan
from ..wireguard.commands import Commands
from ..wireguard.host import WgHost, reconcile_wireguard
from ..wireguard.input import validate_params as validate_wireguard
from ..wireguard.keys import WgError

FORMAT = 1
# What AnsibleModule returns in place of a no_log option's value.
MASKED = "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
# get_bin_path's extra directories: a module finds ip/iptables there even when PATH lacks them.
SBIN = ("/sbin", "/usr/sbin", "/usr/local/sbin")
# A step line lists the keys of a group of changes up to this many, then only counts them.
KEYS_SHOWN = 3


class ReplayError(Exception):
    """A step cannot run as recorded (a bad record, a missing secret or library)."""


@dataclass(frozen=True)
class Outcome:
    """One step's result: what it changed, or why it failed."""

    label: str
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None


# --- the host's programs, as the modules' run_command and get_bin_path see them --------


def which(program: str) -> str | None:
    """AnsibleModule.get_bin_path(required=False): PATH, then the sbin directories."""
    path = os.environ.get("PATH", "").split(os.pathsep)
    path += [directory for directory in SBIN if directory not in path]
    return shutil.which(program, path=os.pathsep.join(entry for entry in path if entry))


def run_command(
    args: Sequence[str],
    data: str | None = None,
    env: Mapping[str, str] | None = None,
    binary_data: bool = False,
) -> tuple[int, str, str]:
    """AnsibleModule.run_command with an argument list: `data` on stdin with a newline
    appended unless `binary_data` (as run_command does), stdin /dev/null without data,
    `env` over the inherited environment; returns (rc, stdout, stderr) as text."""
    stdin_bytes = None
    if data:
        stdin_bytes = (data if binary_data else data + "\n").encode()
    done = subprocess.run(
        list(args),
        input=stdin_bytes,
        stdin=None if stdin_bytes is not None else subprocess.DEVNULL,
        capture_output=True,
        env={**os.environ, **dict(env or {})},
        check=False,
    )
    return done.returncode, _text(done.stdout), _text(done.stderr)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


# --- one function per module: what its main() does between AnsibleModule and exit_json -


def apply_sysctl(params: Mapping[str, Any], check_mode: bool) -> Outcome:
    label = "sysctl"
    try:
        result = sync_sysctls(dict(params["values"]), bool(params["ignore_missing"]), check_mode)
    except SysctlError as exc:
        return Outcome(label, error="; ".join(exc.problems))
    return Outcome(label, result.changes)


def apply_vxlan(params: Mapping[str, Any], check_mode: bool) -> Outcome:
    prefix = "flannel-v6" if params.get("family") == 6 else "flannel"
    label = _labelled(f"vxlan {prefix}.{params.get('vni')}", params)
    if IPRoute is None:
        return Outcome(label, error=_missing_pyroute2())
    try:
        valid = validate_vxlan(params)
        # groups=0: no multicast subscriptions, so bulk writes get only their own ACKs back.
        with IPRoute(groups=0) as ipr, Host(ipr) as host:
            result = reconcile_vxlan(host, valid, check_mode=check_mode)
    except (VxlanError, NetlinkError, OSError) as exc:
        return Outcome(label, error=str(exc))
    return Outcome(label, result.changes)


def apply_host_gw(params: Mapping[str, Any], check_mode: bool) -> Outcome:
    label = _labelled(f"host-gw IPv{params.get('family')}", params)
    if PYROUTE2_ERROR is not None:
        return Outcome(label, error=_missing_pyroute2())
    try:
        valid = validate_host_gw(params)
        with open_rtnl() as (ipr, wire):
            result = reconcile_host_gw(ipr, wire, valid, check_mode=check_mode)
    except HostGwError as exc:
        return Outcome(label, error=str(exc))
    except (NetlinkError, OSError) as exc:
        return Outcome(label, error=f"host_gw: netlink: {exc}")
    return Outcome(label, result.changes)


def apply_wireguard(
    params: Mapping[str, Any], check_mode: bool, psk_file: str | None = None
) -> Outcome:
    label = _labelled(f"wireguard {params.get('device')}", params)
    commands = Commands(run_command, which)
    try:
        valid = validate_wireguard(with_psk(params, psk_file))
        result = reconcile_wireguard(WgHost(commands), valid, check_mode=check_mode)
    except (WgError, ReplayError) as exc:
        return Outcome(label, error=str(exc))
    except OSError as exc:  # a file podnet reads or writes (key file, PSK file, /proc)
        return Outcome(label, error=f"{exc.filename or params.get('device')}: {exc.strerror}")
    return Outcome(label, result.changes)


def apply_masquerade(params: Mapping[str, Any], check_mode: bool) -> Outcome:
    label = f"masquerade {params.get('backend')}"
    if params.get("state") == "absent":
        label += " (absent)"

    def run(args: list[str], data: str | None = None) -> tuple[int, str, str]:
        return run_command(args, data, binary_data=True)

    host = FirewallHost(run, which)
    try:
        request = prepare(dict(params), host)
        result = sync_masquerade(request, host, check_mode)
    except FirewallInputError as exc:
        return Outcome(label, error="invalid input: " + "; ".join(exc.problems))
    except (FirewallError, OSError) as exc:
        return Outcome(label, error=str(exc))
    return Outcome(label, result.changes, result.warnings)


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


def _labelled(label: str, params: Mapping[str, Any]) -> str:
    return label + " (absent)" if params.get("state") == "absent" else label


def _missing_pyroute2() -> str:
    return (
        f"pyroute2 is not installed for {sys.executable} (the Python the modules ran with): "
        "install it (Debian: apt-get install python3-pyroute2)"
    )


# --- files (what ansible.builtin.copy wrote) ----------------------------------------------


def apply_file(spec: Mapping[str, Any], check_mode: bool) -> Outcome:
    """Write `content` to `path` with `mode` unless it is there already, atomically (a
    temporary file in the same directory, renamed), as ansible.builtin.copy does."""
    path, content = str(spec["path"]), str(spec["content"]).encode()
    mode = int(str(spec["mode"]), 8)
    label = f"file {path}"
    changes = []
    try:
        with open(path, "rb") as handle:
            current: bytes | None = handle.read()
        current_mode = os.stat(path).st_mode & 0o7777
    except FileNotFoundError:
        current, current_mode = None, None
    except OSError as exc:
        return Outcome(label, error=f"{path}: {exc.strerror}")
    if current is None:
        changes.append(Change(ADD, "file", path, "missing"))
    elif current != content:
        changes.append(Change(REPLACE, "file", path, "content differs"))
    elif current_mode != mode:
        changes.append(Change(REPLACE, "file", path, f"mode: {current_mode:04o} vs {mode:04o}"))
    if check_mode or not changes:
        return Outcome(label, changes)
    try:
        os.makedirs(os.path.dirname(path) or ".", mode=0o755, exist_ok=True)
        write_atomically(path, content, mode)
    except OSError as exc:
        return Outcome(label, error=f"{exc.filename or path}: {exc.strerror}")
    return Outcome(label, changes)


# --- the record, the run, the report ------------------------------------------------------

STEPS: dict[str, Callable[[Mapping[str, Any], bool], Outcome]] = {
    "sysctl": apply_sysctl,
    "vxlan": apply_vxlan,
    "host_gw": apply_host_gw,
    "masquerade": apply_masquerade,
}


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
    known = {*STEPS, "wireguard"}
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
            if step["module"] == "wireguard":
                outcomes.append(apply_wireguard(params, check_mode, psk_file))
            else:
                outcomes.append(STEPS[step["module"]](params, check_mode))
    outcomes.extend(apply_file(spec, check_mode) for spec in record.get("files", []))
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


def report(outcomes: Sequence[Outcome], out: TextIO, err: TextIO, verbose: bool = False) -> int:
    """One line per step, the warnings, a last line with the totals; the exit status."""
    for outcome in outcomes:
        for warning in outcome.warnings:
            print(f"{outcome.label}: warning: {warning}", file=err)
        if outcome.error is not None:
            print(f"{outcome.label}: FAILED: {outcome.error}", file=err)
        elif outcome.changes:
            print(f"{outcome.label}: changed: {summarize(outcome.changes)}", file=out)
            for change in outcome.changes if verbose else ():
                print(f"    {change.op} {change.kind} {change.key}: {change.reason}", file=out)
        else:
            print(f"{outcome.label}: unchanged", file=out)
    failed = [outcome for outcome in outcomes if outcome.error is not None]
    changes = sum(len(outcome.changes) for outcome in outcomes)
    touched = sum(1 for outcome in outcomes if outcome.changes)
    if failed:
        print(
            f"restore: FAILED: {len(failed)} of {len(outcomes)} steps failed "
            f"({', '.join(outcome.label for outcome in failed)}); {changes} changes made",
            file=err,
        )
        return 1
    if changes:
        print(f"restore: {changes} changes in {touched} of {len(outcomes)} steps", file=out)
    else:
        print(f"restore: nothing to change ({len(outcomes)} steps)", file=out)
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
        print(f"restore: FAILED: {exc}", file=err or sys.stderr)
        return 1
    outcomes = replay(record, check_mode=options.check)
    return report(outcomes, out or sys.stdout, err or sys.stderr, verbose=options.verbose)
