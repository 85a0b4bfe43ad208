"""The WireGuard modules' host side against a fake `ip`/`wg`: which commands run, in which
order, and that secrets only ever travel by stdin or by a 0600 file.

The kernel tests run wireguard-go (this machine's kernel has no WireGuard); these cover
the kernel module's path, the probe's sentences and the key file's life cycle.
"""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.core.programs import Programs  # noqa: E402
from plugins.module_utils.wireguard import entry, key_entry  # noqa: E402
from plugins.module_utils.wireguard.commands import Commands  # noqa: E402
from plugins.module_utils.wireguard.diff import diff_wireguard  # noqa: E402
from plugins.module_utils.wireguard.host import WgHost, apply_wireguard, reconcile_wireguard  # noqa: E402
from plugins.module_utils.wireguard.input import validate_params  # noqa: E402
from plugins.module_utils.wireguard.keys import WgError  # noqa: E402
from plugins.module_utils.wireguard.keystate import reconcile_key  # noqa: E402
from plugins.module_utils.wireguard.probe import ProbeFacts, choose_implementation, probe_host  # noqa: E402
from plugins.module_utils.wireguard.state import Interface, Link, WgState  # noqa: E402
from plugins.module_utils.wireguard.userspace import find_wireguard_go  # noqa: E402
from plugins.module_utils.wireguard.want import plan_wireguard  # noqa: E402

PRIVATE = "6BbJRfPup28AoaXmHC/rd9jMoxnOADmHHlKpBHxV3WI="
OWN = "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo="
PRIVATE2 = "cHJpdmF0ZSBrZXkgbnVtYmVyIHR3byBmb3IgdGVzdHM="
OWN2 = "SEjOOauy9N+3ju15N9cXl+PCO7YSJgfCJm3E2VSIAic="
KEY2 = "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
PSK = "Z3PxEwGhLhSYFIX9yTGMJUFtMXXYhUGcGtowC7BrUgw="
PUBLIC_OF = {PRIVATE: OWN, PRIVATE2: OWN2}
READS = ("show", "pubkey", "--dry-run")


class FakeHost:
    """`ip`, `wg` and `modprobe` as a scripted host: reads answer from `before` until the
    first write, from `after` afterwards. Every call is recorded as one string."""

    def __init__(self, before: Mapping[str, str], after: Mapping[str, str]) -> None:
        self.before, self.after = before, after
        self.calls: list[str] = []
        self.stdin: list[str] = []
        self.written = False
        self.on_call: Callable[[list[str]], None] = lambda argv: None
        self.genkey = PRIVATE
        self.installed = {"ip", "wg", "modprobe"}

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.installed else None

    def run(
        self, argv: list[str], data: str | None, env: Mapping[str, str] | None
    ) -> tuple[int, str, str]:
        words = [os.path.basename(argv[0]), *argv[1:]]
        line = " ".join(words)
        self.calls.append(line)
        if data is not None:
            self.stdin.append(data)
        self.on_call(words)
        if words[:2] == ["wg", "pubkey"]:
            return 0, PUBLIC_OF[(data or "").strip()] + "\n", ""
        if words[:2] == ["wg", "genkey"]:
            self.written = True
            return 0, self.genkey + "\n", ""
        if words[0] == "modprobe":
            return 1, "", "modprobe: FATAL: Module wireguard not found"
        if not any(word in READS for word in words):
            self.written = True
            return 0, "", ""
        answers = self.after if self.written else self.before
        for prefix, answer in answers.items():
            if line.startswith(prefix):
                if answer.startswith("!"):
                    return 1, "", answer[1:]
                return 0, answer, ""
        raise AssertionError(f"unexpected command {line}")

    def writes(self) -> list[str]:
        return [c for c in self.calls if not any(word in c.split() for word in READS)]


def link_json(txqlen: int = 0, up: bool = True, kind: str = "wireguard") -> str:
    flags = ["POINTOPOINT", "NOARP", *(["UP"] if up else [])]
    data: dict[str, Any] = {"ifname": "flannel-wg", "mtu": 1420, "flags": flags,
                            "linkinfo": {"info_kind": kind}}  # fmt: skip
    if txqlen:
        data["txqlen"] = txqlen
    return json.dumps([data])


NO_DEVICE = {
    "ip -d -j link show dev flannel-wg": '!Device "flannel-wg" does not exist.',
    "ip -d -j -4 route show table main": "[]",
    "ip -d -j -6 route show table main": "[]",
}
BUILT = {
    "ip -d -j link show dev flannel-wg": link_json(),
    "wg show flannel-wg dump": (
        f"{PRIVATE}\t{OWN}\t51820\toff\n"
        f"{KEY2}\t{PSK}\t192.0.2.12:51820\t10.244.2.0/24\t0\t0\t0\toff\n"
    ),
    "ip -j addr show dev flannel-wg": json.dumps(
        [{"addr_info": [{"local": "10.244.1.0", "prefixlen": 32, "scope": "global"}]}]
    ),
    "ip -d -j -4 route show table main": json.dumps(
        [
            {
                "type": "unicast",
                "dst": "10.244.0.0/16",
                "dev": "flannel-wg",
                "protocol": "boot",
                "scope": "link",
            }
        ]
    ),
    "ip -d -j -6 route show table main": "[]",
}


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "wireguard.key"
    path.write_text(PRIVATE + "\n")
    path.chmod(0o600)
    return path


def wg_params(key_file: Path, **changes: Any) -> Any:
    return validate_params(wg_args(key_file, **changes))


def wg_args(key_file: Path, **changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "key_file": str(key_file),
        "addresses": ["10.244.1.0/32"],
        "routes": ["10.244.0.0/16"],
        "psk": PSK,
        "peers": [{"name": "node2", "public_key": KEY2, "endpoint": "192.0.2.12:51820",
                   "allowed_ips": ["10.244.2.0/24"]}],
    }  # fmt: skip
    raw.update(changes)
    return raw


def host_of(fake: FakeHost, kernel: bool = True, hidden: list[str] | None = None) -> WgHost:
    def exists(path: str) -> bool:
        return kernel and path == "/sys/module/wireguard"

    seen = hidden if hidden is not None else []
    return WgHost(Commands(fake.run, fake.which), hide=seen.append, exists=exists)


def test_kernel_device_is_built_in_flanneld_order_and_secrets_travel_safely(
    key_file: Path,
) -> None:
    fake = FakeHost(NO_DEVICE, BUILT)
    psk_files: list[tuple[str, int, str]] = []

    def look_at_psk_file(words: list[str]) -> None:
        if "preshared-key" in words:
            path = words[words.index("preshared-key") + 1]
            psk_files.append((path, stat.S_IMODE(os.stat(path).st_mode), Path(path).read_text()))

    fake.on_call = look_at_psk_file
    hidden: list[str] = []
    result = reconcile_wireguard(host_of(fake, hidden=hidden), wg_params(key_file), False)
    ((psk_path, psk_mode, psk_text),) = psk_files
    assert (psk_mode, psk_text) == (0o600, PSK)
    assert not os.path.exists(psk_path)  # removed after use
    assert fake.writes() == [
        "ip link add dev flannel-wg mtu 1420 txqueuelen 0 type wireguard",
        "ip link set dev flannel-wg up",
        f"wg set flannel-wg private-key {key_file} listen-port 51820",
        "ip addr add 10.244.1.0/32 dev flannel-wg",
        f"wg set flannel-wg peer {KEY2} endpoint 192.0.2.12:51820 persistent-keepalive 0 "
        f"allowed-ips 10.244.2.0/24 preshared-key {psk_path}",
        "ip -4 route replace 10.244.0.0/16 dev flannel-wg scope link proto boot",
    ]
    assert not any(PRIVATE in call or PSK in call for call in fake.calls)
    assert fake.stdin == [PRIVATE]  # `wg pubkey` only
    assert sorted(hidden) == sorted([PRIVATE, PSK])
    assert (result.public_key, result.after.link.implementation) == (OWN, "kernel")  # type: ignore[union-attr]


def test_nothing_to_do_runs_only_reads(key_file: Path) -> None:
    fake = FakeHost(BUILT, BUILT)
    result = reconcile_wireguard(host_of(fake), wg_params(key_file), False)
    assert result.changes == [] and fake.writes() == []


def test_check_mode_runs_only_reads(key_file: Path) -> None:
    fake = FakeHost(NO_DEVICE, BUILT)
    result = reconcile_wireguard(host_of(fake), wg_params(key_file), True)
    assert len(result.changes) == 5 and fake.writes() == []


def test_no_implementation_fails_before_any_write(key_file: Path) -> None:
    fake = FakeHost(NO_DEVICE, BUILT)
    with pytest.raises(WgError) as caught:
        reconcile_wireguard(host_of(fake, kernel=False), wg_params(key_file), False)
    assert str(caught.value) == (
        "device: cannot create flannel-wg: no WireGuard kernel module (modprobe --dry-run "
        "wireguard failed, /sys/module/wireguard absent) and userspace is not allowed (set "
        "podnet_wireguard_userspace: true to use wireguard-go)"
    )
    assert fake.writes() == []


def test_missing_key_file_fails_unless_check_mode(tmp_path: Path) -> None:
    fake = FakeHost(NO_DEVICE, BUILT)
    params = wg_params(tmp_path / "none.key")
    with pytest.raises(WgError, match=r"none\.key does not exist; create it first"):
        reconcile_wireguard(host_of(fake), params, False)
    planned = reconcile_wireguard(host_of(fake), params, True)
    assert planned.changes[1].reason == (
        "private key (its public key): (none) vs (key_file does not exist yet), "
        "listen_port: (none) vs 51820"
    )


def test_absent_of_a_kernel_device_is_one_delete(key_file: Path) -> None:
    fake = FakeHost(BUILT, NO_DEVICE)
    params = validate_params({"state": "absent", "device": "flannel-wg"})
    result = reconcile_wireguard(host_of(fake), params, False)
    assert fake.writes() == ["ip link del dev flannel-wg"]
    assert result.after.link is None
    assert not [call for call in fake.calls if call.startswith("wg ")]  # absent needs no wg


def test_foreign_route_in_a_planned_slot_is_refused(key_file: Path) -> None:
    taken = {**NO_DEVICE, "ip -d -j -4 route show table main": json.dumps(
        [{"type": "unicast", "dst": "10.244.0.0/16", "dev": "flannel.1", "protocol": "boot"}]
    ), "ip -d -j -6 route show table main": "[]"}  # fmt: skip
    fake = FakeHost(taken, BUILT)
    with pytest.raises(
        WgError, match=r"10.244.0.0/16 is taken .* \(10.244.0.0/16 dev flannel.1 proto boot\)"
    ):
        reconcile_wireguard(host_of(fake), wg_params(key_file), False)
    assert fake.writes() == []


# --- the entries: what the modules' main() and the boot restore run --------------------


def programs_of(fake: FakeHost, hidden: list[str]) -> Programs:
    return Programs(lambda argv, data, env, binary: fake.run(list(argv), data, env), fake.which,
                    hidden.append)  # fmt: skip


def test_entry_returns_the_modules_fields_and_hides_the_secrets(key_file: Path) -> None:
    fake, hidden = FakeHost(BUILT, BUILT), []
    applied = entry.run(wg_args(key_file), False, programs_of(fake, hidden))
    output = applied.output(diff=False)
    assert output == {"changed": False, "changes": [], "ifname": "flannel-wg",
                      "implementation": "kernel", "public_key": OWN}  # fmt: skip
    assert applied.before == applied.after and sorted(hidden) == sorted([PRIVATE, PSK])
    assert fake.writes() == []


def test_entry_labels_are_the_restores() -> None:
    assert entry.label({"device": "flannel-wg", "state": "present"}) == "wireguard flannel-wg"
    assert entry.label({"device": "flannel-wg-v6", "state": "absent"}) == (
        "wireguard flannel-wg-v6 (absent)"
    )
    assert key_entry.label({"key_file": "/etc/podnet/wg.key"}) == "wireguard_key /etc/podnet/wg.key"


def test_entry_reports_a_key_file_it_cannot_write_as_a_wireguard_error() -> None:
    fake = FakeHost({}, {})
    with pytest.raises(WgError, match=r"^key_file: /proc/podnet-test\.key: \w"):
        key_entry.run({"key_file": "/proc/podnet-test.key", "state": "present"}, False,
                      programs_of(fake, []))  # fmt: skip


# --- the key file ----------------------------------------------------------------------


@pytest.fixture
def strict_umask() -> Iterator[None]:
    """A umask that would leave the owner only read permission if the code relied on it."""
    old = os.umask(0o277)
    yield
    os.umask(old)


def key_commands(fake: FakeHost) -> Commands:
    return Commands(fake.run, fake.which)


@pytest.mark.usefixtures("strict_umask")
def test_present_creates_0600_in_a_0700_directory_whatever_the_umask(tmp_path: Path) -> None:
    fake = FakeHost({}, {})
    path = tmp_path / "podnet" / "wireguard.key"
    hidden: list[str] = []
    result = reconcile_key(key_commands(fake), str(path), "present", False, hidden.append)
    assert (result.public_key, result.key_created) == (OWN, True)
    assert path.read_text() == PRIVATE + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["wireguard.key"]  # no temporary file left
    assert (result.before, result.after) == (
        "key file: absent\n",
        f"key file: present (public key {OWN})\n",
    )
    assert hidden == [PRIVATE]

    again = reconcile_key(key_commands(fake), str(path), "present", False)
    assert (again.changes, again.public_key, again.key_created) == ([], OWN, False)


def test_rotated_writes_a_new_key_check_mode_writes_nothing(key_file: Path) -> None:
    fake = FakeHost({}, {})
    fake.genkey = PRIVATE2
    would = reconcile_key(key_commands(fake), str(key_file), "rotated", True)
    assert (would.public_key, would.key_created, len(would.changes)) == (None, True, 1)
    assert key_file.read_text() == PRIVATE + "\n" and "wg genkey" not in fake.calls
    done = reconcile_key(key_commands(fake), str(key_file), "rotated", False)
    assert (done.public_key, key_file.read_text()) == (OWN2, PRIVATE2 + "\n")
    assert done.before == f"key file: present (public key {OWN})\n"


def test_query_changes_nothing_even_a_bad_mode(key_file: Path) -> None:
    key_file.chmod(0o644)
    fake = FakeHost({}, {})
    result = reconcile_key(key_commands(fake), str(key_file), "query", False)
    assert (result.changes, result.public_key) == ([], OWN)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o644
    fixed = reconcile_key(key_commands(fake), str(key_file), "present", False)
    assert [c.reason for c in fixed.changes] == ["mode: 0644 vs 0600"]
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_absent_deletes_the_file(key_file: Path) -> None:
    fake = FakeHost({}, {})
    result = reconcile_key(key_commands(fake), str(key_file), "absent", False)
    assert (len(result.changes), result.public_key, key_file.exists()) == (1, None, False)
    assert reconcile_key(key_commands(fake), str(key_file), "absent", False).changes == []


def test_a_file_that_is_not_a_key_is_an_error_that_does_not_quote_it(tmp_path: Path) -> None:
    path = tmp_path / "wireguard.key"
    path.write_text("secret-but-not-a-key\n")
    with pytest.raises(WgError) as caught:
        reconcile_key(key_commands(FakeHost({}, {})), str(path), "present", False)
    assert "secret-but-not-a-key" not in str(caught.value)
    assert "does not hold a WireGuard private key" in str(caught.value)
    rotated = reconcile_key(key_commands(FakeHost({}, {})), str(path), "rotated", False)
    assert rotated.public_key == OWN
    assert rotated.before.startswith("key file: present (not a WireGuard key)")
    assert path.read_text() == PRIVATE + "\n"


def test_without_wg_nothing_is_written_and_query_has_no_public_key(key_file: Path) -> None:
    fake = FakeHost({}, {})
    fake.installed = {"ip"}
    assert reconcile_key(key_commands(fake), str(key_file), "query", False).public_key is None
    missing = key_file.parent / "new.key"
    with pytest.raises(WgError, match=r"wg is not installed on this host \(install the "):
        reconcile_key(key_commands(fake), str(missing), "present", False)
    assert not missing.exists()


# --- the probe -------------------------------------------------------------------------


def facts(**changes: Any) -> ProbeFacts:
    base: dict[str, Any] = {
        "wg": True,
        "kernel_loaded": False,
        "kernel_loadable": False,
        "userspace": True,
        "wireguard_go_path": "/usr/bin/wireguard-go",
    }
    base.update(changes)
    return ProbeFacts(**base)


NO_KERNEL = (
    "no WireGuard kernel module (modprobe --dry-run wireguard failed, /sys/module/wireguard absent)"
)


@pytest.mark.parametrize(
    ("changes", "implementation", "missing"),
    [
        ({"kernel_loaded": True}, "kernel", None),
        ({"kernel_loadable": True, "userspace": False}, "kernel", None),
        ({}, "userspace", None),
        ({"userspace": False}, None, f"{NO_KERNEL} and userspace is not allowed (set "
         "podnet_wireguard_userspace: true to use wireguard-go)"),
        ({"wireguard_go_path": None}, None,
         f"{NO_KERNEL} and wireguard-go is not installed (no 'wireguard-go' on PATH)"),
        ({"wireguard_go_path": None, "wireguard_go": "/opt/wg/wireguard-go"}, None,
         f"{NO_KERNEL} and wireguard-go is not installed (nothing executable at "
         "/opt/wg/wireguard-go)"),
        ({"tun": False}, None, f"{NO_KERNEL} and wireguard-go cannot run: /dev/net/tun is "
         "missing (load the tun kernel module)"),
        ({"kernel_loadable": None, "userspace": False}, None,
         "no WireGuard kernel module (modprobe is not installed, /sys/module/wireguard absent) "
         "and userspace is not allowed (set podnet_wireguard_userspace: true to use "
         "wireguard-go)"),
        ({"kernel_loaded": True, "wg": False}, None,
         "wg is not installed (package wireguard-tools); podnet configures WireGuard with it"),
    ],
    ids=["loaded", "loadable", "userspace", "userspace-off", "go-missing", "go-path-missing",
         "no-tun", "no-modprobe", "no-wg"],
)  # fmt: skip
def test_probe_sentences(changes: dict[str, Any], implementation: str | None, missing: str) -> None:
    probe = choose_implementation(facts(**changes))
    assert (probe.implementation, probe.missing) == (implementation, missing)


def test_probe_asks_modprobe_only_when_not_loaded_and_only_dry_run() -> None:
    fake = FakeHost({}, {})
    loaded = probe_host(
        Commands(fake.run, fake.which), userspace=False, wireguard_go="wireguard-go",
        exists=lambda path: path == "/sys/module/wireguard",
    )  # fmt: skip
    assert loaded.implementation == "kernel" and fake.calls == []
    absent = probe_host(
        Commands(fake.run, fake.which), userspace=False, wireguard_go="wireguard-go",
        exists=lambda path: False,
    )  # fmt: skip
    assert absent.implementation is None
    assert fake.calls == ["modprobe --dry-run wireguard"]


def test_find_wireguard_go_matches_device_and_network_namespace(tmp_path: Path) -> None:
    proc = tmp_path / "proc"

    def process(pid: str, cmdline: list[str], net: str) -> None:
        (proc / pid / "ns").mkdir(parents=True)
        (proc / pid / "cmdline").write_bytes("\0".join(cmdline).encode() + b"\0")
        (proc / pid / "ns" / "net").symlink_to(net)

    process("self", ["python3"], "net:[1]")
    process("10", ["wireguard-go", "flannel-wg"], "net:[1]")
    process("11", ["/usr/bin/wireguard-go", "flannel-wg"], "net:[2]")  # another namespace
    process("12", ["wireguard-go", "flannel-wg-v6"], "net:[1]")  # another device
    process("13", ["/opt/bin/wg-userspace", "flannel-wg"], "net:[1]")
    process("14", ["sleep", "flannel-wg"], "net:[1]")
    assert find_wireguard_go("flannel-wg", "wireguard-go", str(proc)) == [10]
    found = find_wireguard_go("flannel-wg", "/opt/bin/wg-userspace", str(proc))
    assert sorted(found) == [10, 13]


def test_many_peer_changes_are_split_into_bounded_wg_set_calls(key_file: Path) -> None:
    count = 2500
    keys = [base64.b64encode(index.to_bytes(32, "big")).decode() for index in range(1, count + 1)]
    peers = [
        {"name": f"n{i}", "public_key": key, "endpoint": f"192.0.2.1:{i + 1}",
         "allowed_ips": [f"172.16.{i // 256}.{i % 256}/32"]}
        for i, key in enumerate(keys)
    ]  # fmt: skip
    params = wg_params(key_file, peers=peers, psk=None)
    have = WgState("flannel-wg", Link("flannel-wg", 1420, 0, True, "kernel"),
                   Interface(OWN, 51820, 0), ("10.244.1.0/32",))  # fmt: skip
    changes = diff_wireguard(plan_wireguard(params, OWN, "kernel"), have)
    fake = FakeHost({}, {})
    apply_wireguard(host_of(fake), params, changes, "kernel", have)
    assert [c.kind for c in changes] == ["peer"] * count + ["route"]
    calls = [call.split() for call in fake.calls[:-1]]
    assert [call[:3] for call in calls] == [["wg", "set", "flannel-wg"]] * 3
    assert [call.count("peer") for call in calls] == [1000, 1000, 500]
