"""The host side of the wireguard module: read what podnet owns, apply changes, verify.

    read_wireguard -> want_wireguard -> diff_wireguard -> (check mode stops) -> apply
                   -> read_wireguard again -> the diff must be empty, else fail
(core.reconcile runs these steps; this file supplies them.)

Everything goes through `ip` and `wg` (wg is needed anyway: it is the one tool that speaks
to both the kernel module and wireguard-go's UAPI socket; pyroute2 knows only the kernel
module). A read is a fixed number of commands whatever the fleet size: `ip -d -j link
show`, `ip -j addr show`, `wg show <dev> dump`, `ip -d -j route show table main` per
family, plus `wg pubkey` for the node's own key. Writes are batched too: consecutive peer
changes go to one `wg set` (per thousand peers). An unchanged run runs only those reads.

Secrets: the private key goes to `wg set ... private-key <key_file>` by path and to `wg
pubkey` on stdin; the PSK through a 0600 temporary file, deleted afterwards; both are
handed to `hide` (the module's no_log values) the moment they are read, so Ansible masks
them should they ever reach output. `wg show dump` output is parsed at once and dropped.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from ..core.changes import ADD, DELETE, Change
from ..core.errors import required
from ..core.reconcile import reconcile
from ..kernel.routes import DEFAULT_METRIC, SCOPE_WORDS, Route
from .commands import Commands
from .diff import diff_wireguard
from .input import KEY_FILE_REQUIRED, WgInputError, WgParams
from .keyfile import public_key_of, read_key_file, require_key
from .keys import Secret, WgError
from .probe import KERNEL, USERSPACE, probe_host
from .state import (
    PSK_SET,
    ROUTE_SCOPE,
    Interface,
    Link,
    Peer,
    WgState,
    parse_addresses,
    parse_dump,
    parse_link,
    parse_routes,
)
from .userspace import find_wireguard_go, socket_path, start_wireguard_go, stop_wireguard_go
from .want import find_conflicts, plan_wireguard

# A peer costs about 200 bytes of arguments; 1,000 per `wg set` keeps each call far below
# the kernel's limit on a command line (ARG_MAX, 2 MiB with the default 8 MiB stack).
PEERS_PER_CALL = 1000


class WgHost:
    """One host's commands, file checks and secret masking, handed in by the module."""

    def __init__(
        self,
        commands: Commands,
        hide: Callable[[str], object] = lambda text: None,
        exists: Callable[[str], bool] = os.path.exists,
    ) -> None:
        self.commands = commands
        self.hide = hide
        self.exists = exists


@dataclass(frozen=True)
class Reading:
    state: WgState
    # Table main's routes that podnet does not own, by route key (to refuse a takeover).
    foreign_routes: dict[str, Route] = field(default_factory=dict)


@dataclass(frozen=True)
class Result:
    changes: list[Change]
    before: WgState
    after: WgState
    public_key: str | None = None


# --- read ------------------------------------------------------------------------------


def read_wireguard(host: WgHost, params: WgParams, names: dict[str, str]) -> Reading:
    """The device and what is on it; `names`: public key -> peer name, for messages.

    Table main is read even when there is no device: a foreign route in a planned slot
    must stop the run before the device is created.
    """
    ifname = params.device
    link = _read_link(host, ifname)
    if params.state != "present":
        return Reading(WgState(ifname, link))  # everything else goes with the device
    interface: Interface | None = None
    peers: dict[str, Peer] = {}
    addresses: tuple[str, ...] = ()
    if link is not None:
        if link.implementation is not None:
            interface, peers = parse_dump(host.commands.wg("show", ifname, "dump"), params.psk)
            peers = {key: replace(peer, name=names.get(key, "")) for key, peer in peers.items()}
        addresses = parse_addresses(host.commands.ip("-j", "addr", "show", "dev", ifname))
    routes: dict[str, Route] = {}
    foreign: dict[str, Route] = {}
    for family in (4, 6):
        text = host.commands.ip("-d", "-j", f"-{family}", "route", "show", "table", "main")
        owned, others = parse_routes(text, family, ifname)
        routes.update(owned)
        foreign.update(others)
    state = WgState(ifname, link, interface, addresses, peers, routes)
    return Reading(state, foreign)


def _read_link(host: WgHost, ifname: str) -> Link | None:
    """The device, None when there is none; its implementation from its kind (a TUN is
    wireguard-go's when wireguard-go's socket for it exists)."""
    rc, out, err = host.commands.run("ip", "-d", "-j", "link", "show", "dev", ifname, check=False)
    if rc != 0:
        if "does not exist" in err:
            return None
        raise WgError(f"ip link show dev {ifname} failed (exit {rc}): {err.strip()}")
    kind, link = parse_link(out)
    implementation = None
    if kind == "wireguard":
        implementation = KERNEL
    elif kind == "tun" and host.exists(socket_path(ifname)):
        implementation = USERSPACE
    return replace(link, implementation=implementation)


def own_public_key(host: WgHost, params: WgParams, check_mode: bool) -> str | None:
    """This node's public key, from the key file; None in check mode before it exists."""
    key_file = required(params.key_file, KEY_FILE_REQUIRED, WgInputError)
    found = read_key_file(key_file)
    if found is None:
        if check_mode:
            return None
        raise WgError(
            f"key_file: {key_file} does not exist; create it first with "
            "podnet.fabric.wireguard_key (state=present)"
        )
    key = require_key(found, key_file)
    host.hide(key.reveal())
    return public_key_of(host.commands, key)


# --- the whole run ---------------------------------------------------------------------


def reconcile_wireguard(host: WgHost, params: WgParams, check_mode: bool) -> Result:
    """core.reconcile's read -> want -> diff -> apply -> re-read -> verify, for one device.

    This node's public key comes first (the plan needs it, and it is read once, not again
    on the re-read); the probe for an implementation is part of `want`.
    """
    public_key = None
    if params.state == "present":
        host.commands.require("wg")
        if params.psk is not None:
            host.hide(params.psk.reveal())
        public_key = own_public_key(host, params, check_mode)
    host.commands.require("ip")
    names = {peer.public_key: peer.name for peer in params.peers}

    def apply(wanted: WgState, seen: Reading, changes: list[Change]) -> None:
        implementation = wanted.link.implementation if wanted.link is not None else None
        apply_wireguard(host, params, changes, implementation, seen.state)

    def differs(wanted: WgState, left: list[Change]) -> WgError:
        return WgError(
            f"{params.device} still differs from the plan after applying the changes: "
            + "; ".join(f"{c.op} {c.kind} {c.key} ({c.reason})" for c in left)
        )

    done = reconcile(
        read=lambda: read_wireguard(host, params, names),
        want=lambda seen: want_wireguard(host, params, public_key, seen),
        diff=lambda wanted, seen: diff_wireguard(wanted, seen.state),
        apply=apply,
        check_mode=check_mode,
        differs=differs,
    )
    # Nothing read back (check mode, or no change): the plan, or the host as it is.
    after = done.wanted if done.changes else done.before.state
    if done.after is not None:
        after = done.after.state
    return Result(done.changes, done.before.state, after, public_key)


def want_wireguard(
    host: WgHost, params: WgParams, public_key: str | None, seen: Reading
) -> WgState:
    """The plan for this host: refused when a foreign route holds a planned slot; when the
    device is to be (re-)created, planned again for the implementation the probe finds (the
    device's txqueuelen depends on it), or refused when the host has none."""
    link = seen.state.link
    implementation = link.implementation if link is not None else None
    desired = plan_wireguard(params, public_key, implementation)
    problems = find_conflicts(desired, seen.foreign_routes)
    if problems:
        raise WgError("; ".join(problems), problems)
    if desired.link is None or implementation is not None:
        return desired  # absent, or the device stays with the implementation it has
    probe = probe_host(
        host.commands,
        userspace=params.userspace,
        wireguard_go=params.wireguard_go,
        exists=host.exists,
    )
    if probe.implementation is None:
        raise WgError(f"device: cannot create {params.device}: {probe.missing}")
    return plan_wireguard(params, public_key, probe.implementation)


# --- apply -----------------------------------------------------------------------------


def apply_wireguard(
    host: WgHost,
    params: WgParams,
    changes: Sequence[Change],
    implementation: str | None,
    before: WgState,
) -> None:
    """Run `changes` (diff_wireguard's order). Consecutive peer changes are one `wg set`."""
    ifname = params.device
    peers: list[Change] = []
    for index, change in enumerate(changes):
        if change.kind == "peer":
            peers.append(change)
            following = changes[index + 1] if index + 1 < len(changes) else None
            if following is None or following.kind != "peer":
                _apply_peers(host, params, peers)
                peers = []
        elif change.kind == "link":
            _apply_link(host, params, change, implementation, before)
        elif change.kind == "wg":
            _apply_interface(host, params, change)
        elif change.kind == "addr":
            verb = "del" if change.op == DELETE else "add"
            host.commands.ip("addr", verb, change.key, "dev", ifname)
        elif change.kind == "route":
            _apply_route(host, ifname, change)


def _apply_link(
    host: WgHost,
    params: WgParams,
    change: Change,
    implementation: str | None,
    before: WgState,
) -> None:
    ifname, spec = params.device, change.spec
    if change.op == DELETE or spec.get("recreate"):
        _delete_link(host, params, before)
        if change.op == DELETE:
            return
    if change.op == ADD or spec.get("recreate"):
        if implementation == KERNEL:
            # flanneld's RTM_NEWLINK: kind wireguard with the MTU and txqueuelen 0.
            host.commands.ip(
                "link", "add", "dev", ifname, "mtu", str(spec["mtu"]), "txqueuelen",
                str(spec["txqlen"]), "type", "wireguard",
            )  # fmt: skip
            changed = ["up"]
        else:  # wireguard-go makes its TUN with its own MTU (1420)
            start_wireguard_go(host.commands, params.wireguard_go, ifname)
            changed = ["mtu", "txqlen", "up"]
    else:
        changed = spec["changed"]
    words = []
    if "mtu" in changed:
        words += ["mtu", str(spec["mtu"])]
    if "txqlen" in changed:
        words += ["txqueuelen", str(spec["txqlen"])]
    if "up" in changed:
        words.append("up")
    if words:
        host.commands.ip("link", "set", "dev", ifname, *words)


def _delete_link(host: WgHost, params: WgParams, before: WgState) -> None:
    """Delete the device; for wireguard-go, also see its process and socket gone."""
    ifname = params.device
    userspace = before.link is not None and before.link.implementation == USERSPACE
    pids = find_wireguard_go(ifname, params.wireguard_go) if userspace else []
    host.commands.ip("link", "del", "dev", ifname)
    if userspace:
        stop_wireguard_go(ifname, params.wireguard_go, pids)


def _apply_interface(host: WgHost, params: WgParams, change: Change) -> None:
    key_file = required(params.key_file, KEY_FILE_REQUIRED, WgInputError)
    words = []
    changed = change.spec["changed"]
    if "public_key" in changed:
        words += ["private-key", key_file]
    if "listen_port" in changed:
        words += ["listen-port", str(change.spec["listen_port"])]
    if "fwmark" in changed:
        words += ["fwmark", str(change.spec["fwmark"])]
    host.commands.wg("set", params.device, *words)


def _apply_peers(host: WgHost, params: WgParams, changes: Sequence[Change]) -> None:
    """`wg set <dev> peer ... peer ...`, PEERS_PER_CALL peers per call."""
    with _psk_file(params.psk) as psk_path:
        for start in range(0, len(changes), PEERS_PER_CALL):
            words = []
            for change in changes[start : start + PEERS_PER_CALL]:
                words += _peer_words(change, psk_path)
            host.commands.wg("set", params.device, *words)


def _peer_words(change: Change, psk_path: str | None) -> list[str]:
    if change.op == DELETE:
        return ["peer", change.key, "remove"]
    spec = change.spec
    return [
        "peer",
        change.key,
        "endpoint",
        spec["endpoint"],
        "persistent-keepalive",
        str(spec["persistent_keepalive"]),
        "allowed-ips",
        ",".join(spec["allowed_ips"]),
        # /dev/null is wg's way to clear a preshared key.
        "preshared-key",
        psk_path if spec["psk"] == PSK_SET and psk_path else os.devnull,
    ]


@contextlib.contextmanager
def _psk_file(psk: Secret | None) -> Iterator[str | None]:
    """A 0600 temporary file holding the PSK for `wg set` (which reads keys from files),
    removed afterwards. mkstemp creates files 0600 under any umask."""
    if psk is None:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="podnet-wg-")
    try:
        os.write(fd, psk.reveal().encode("ascii"))
        os.close(fd)
        fd = -1
        yield path
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(path)


def _apply_route(host: WgHost, ifname: str, change: Change) -> None:
    spec = change.spec
    family = 6 if ":" in spec["dst"] else 4
    metric = spec["priority"]
    words = [f"-{family}", "route"]
    words.append("del" if change.op == DELETE else "replace")
    words += [spec["dst"], "dev", ifname]
    if family == 4 and change.op != DELETE:  # IPv6 routes have no scope (always universe)
        words += ["scope", SCOPE_WORDS[ROUTE_SCOPE[4]]]
    words += ["proto", "boot"]
    if metric != DEFAULT_METRIC[family]:
        words += ["metric", str(metric)]
    host.commands.ip(*words)
