"""podnet.fabric.wireguard and wireguard_key as Ansible runs them (their main(), arguments
as JSON; one test through ansible-playbook -vvvv), on throwaway nodes joined by a veth on
192.0.2.0/24. This machine's kernel has no WireGuard, so the modules run wireguard-go
(`userspace: true`); on a kernel with WireGuard they would use it, and IMPLEMENTATION
says which one the assertions expect.

Every module output of every test is searched for every private key and PSK the test
has seen (fixture teardown), and teardown fails if a wireguard-go outlives its device.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from wg_nodes import (
    REPO,
    WgNode,
    logging_wrappers,
    make_nodes,
    remove_nodes,
    wireguard_go_in,
)

NETWORK = "10.244.0.0/16"
# What `wg` and `ip` may run when nothing needs to change: reads only.
READ_ONLY = re.compile(
    r"^(ip -d -j link show dev flannel-wg|ip -j addr show dev flannel-wg"
    r"|ip -d -j -[46] route show table main|wg show flannel-wg dump|wg pubkey)$"
)


def _kernel_has_wireguard() -> bool:
    if os.path.exists("/sys/module/wireguard"):
        return True
    done = subprocess.run(["modprobe", "--dry-run", "wireguard"], capture_output=True, check=False)
    return done.returncode == 0


IMPLEMENTATION = "kernel" if _kernel_has_wireguard() else "userspace"


def _require_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: kernel tests need root (network namespaces)")
    for program in ("wg", "wireguard-go", "nsenter", "unshare"):
        if shutil.which(program) is None:
            pytest.skip(f"LOUD SKIP: {program} is not installed (make bootstrap installs it)")


def _assert_no_secrets(nodes: list[WgNode], extra: set[str]) -> None:
    secrets = set(extra)
    for node in nodes:
        secrets |= node.secrets
    assert secrets, "no secret was ever seen: the leak check checked nothing"
    for node in nodes:
        for output in node.outputs:
            for secret in secrets:
                assert secret not in output, f"{node.name}: a secret appears in module output"


@pytest.fixture
def secrets() -> set[str]:
    """PSKs a test uses; searched for in every module output like the private keys."""
    return set()


@pytest.fixture
def pair(tmp_path: Path, secrets: set[str]) -> Iterator[list[WgNode]]:
    _require_tools()
    nodes = make_nodes(tmp_path)
    try:
        yield nodes
    finally:
        remove_nodes(nodes)  # raises if a wireguard-go is left behind
    _assert_no_secrets(nodes, secrets)


@pytest.fixture
def node(tmp_path: Path, secrets: set[str]) -> Iterator[WgNode]:
    _require_tools()
    nodes = make_nodes(tmp_path, count=1)
    try:
        yield nodes[0]
    finally:
        remove_nodes(nodes)
    _assert_no_secrets(nodes, secrets)


def make_key(node: WgNode, **extra: Any) -> dict[str, Any]:
    result = node.module(
        "wireguard_key", {"key_file": str(node.key_file), "userspace": True, **extra}
    )
    assert not result.get("failed"), result
    return result


def wg_args(node: WgNode, peers: list[tuple[WgNode, str]], **extra: Any) -> dict[str, Any]:
    """The module's arguments for `node` with `peers` ((node, public key) pairs)."""
    return {
        "key_file": str(node.key_file),
        "userspace": True,
        "mtu": 1420,
        "addresses": [f"{node.address}/32"],
        "routes": [NETWORK],
        "peers": [
            {
                "name": peer.name,
                "public_key": key,
                "endpoint": f"{peer.underlay_ip}:51820",
                "allowed_ips": [f"10.244.{peer.index}.0/24"],
            }
            for peer, key in peers
        ],
        **extra,
    }


def converge(nodes: list[WgNode], **extra: Any) -> dict[str, str]:
    """Keys on every node, then the wireguard module on every node; the public keys."""
    keys = {node.name: make_key(node)["public_key"] for node in nodes}
    for node in nodes:
        peers = [(other, keys[other.name]) for other in nodes if other is not node]
        result = node.module("wireguard", wg_args(node, peers, **extra))
        assert result["changed"] is True and not result.get("failed"), result
    return keys


def kinds(result: dict[str, Any]) -> list[tuple[str, str]]:
    return [(change["op"], change["kind"]) for change in result["changes"]]


def link(node: WgNode) -> dict[str, Any] | None:
    done = node.run("ip", "-d", "-j", "link", "show", "dev", "flannel-wg", check=False)
    if done.returncode != 0:
        return None
    found: dict[str, Any] = json.loads(done.stdout)[0]
    return found


def test_first_run_builds_a_working_tunnel_and_the_second_only_reads(
    pair: list[WgNode], tmp_path: Path
) -> None:
    node1, node2 = pair
    keys = {}
    for each in pair:
        result = make_key(each, _ansible_diff=True)
        assert (result["changed"], result["key_created"]) == (True, True)
        assert (result["implementation"], result["missing"]) == (IMPLEMENTATION, None)
        derived = subprocess.run(
            ["wg", "pubkey"],
            input=each.key_file.read_text(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        assert result["public_key"] == derived
        assert result["diff"] == {
            "before": "key file: absent\n",
            "after": f"key file: present (public key {derived})\n",
        }
        assert stat.S_IMODE(each.key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(each.key_file.parent.stat().st_mode) == 0o700
        keys[each.name] = derived

    first = node1.module("wireguard", {**wg_args(node1, [(node2, keys["node2"])]),
                                       "_ansible_diff": True})  # fmt: skip
    assert kinds(first) == [
        ("add", "link"),
        ("add", "wg"),
        ("add", "addr"),
        ("add", "peer"),
        ("add", "route"),
    ], first
    assert (first["implementation"], first["public_key"]) == (IMPLEMENTATION, keys["node1"])
    after = first["diff"]["after"]
    assert first["diff"]["before"]["device"] is None
    assert after["device"]["mtu"] == 1420 and after["device"]["listen_port"] == 51820
    assert after["peers"] == {
        keys["node2"]: "node2: endpoint 192.0.2.12:51820, allowed-ips 10.244.2.0/24, "
        "keepalive off, psk none"
    }
    assert after["routes"] == {NETWORK: "dev flannel-wg scope link proto boot"}
    node2.module("wireguard", wg_args(node2, [(node1, keys["node1"])]))

    # The kernel holds what flanneld would leave: device, address, route, peer.
    device = link(node1)
    assert device is not None and device["mtu"] == 1420 and "UP" in device["flags"]
    route = node1.run("ip", "-d", "route", "show", NETWORK).stdout
    assert "unicast 10.244.0.0/16 dev flannel-wg proto boot scope link" in route
    assert "10.244.1.0/32" in node1.run("ip", "addr", "show", "dev", "flannel-wg").stdout
    header, peer = node1.wg_dump().splitlines()
    assert header.split("\t")[1:] == [keys["node1"], "51820", "off"]
    assert peer.split("\t")[2:4] == ["192.0.2.12:51820", "10.244.2.0/24"]

    assert node1.ping("10.244.2.0", source="10.244.1.0")
    assert node2.ping("10.244.1.0", source="10.244.2.0")

    log = tmp_path / "commands.log"
    env = logging_wrappers(tmp_path / "bin", log)
    again = node1.module(
        "wireguard", {**wg_args(node1, [(node2, keys["node2"])]), "_ansible_diff": True}, env=env
    )
    assert (again["changed"], again["changes"]) == (False, [])
    assert again["diff"]["before"] == again["diff"]["after"]
    calls = log.read_text().splitlines()
    assert calls, "the wrappers were not used: the no-write check checked nothing"
    writes = [call for call in calls if not READ_ONLY.match(call)]
    assert writes == [], f"a run with nothing to do wrote: {writes}"


def test_check_mode_writes_and_starts_nothing(pair: list[WgNode]) -> None:
    node1 = pair[0]
    would = node1.module(
        "wireguard_key", {"key_file": str(node1.key_file), "_ansible_check_mode": True}
    )
    assert (would["changed"], would["public_key"], would["key_created"]) == (True, None, True)
    assert not node1.key_file.exists() and not node1.key_file.parent.exists()

    # Before the key exists (a check-mode play never creates it) the device still plans.
    fresh = node1.module(
        "wireguard", {**wg_args(node1, []), "_ansible_check_mode": True, "_ansible_diff": True}
    )
    assert fresh["changed"] is True and fresh["implementation"] == IMPLEMENTATION, fresh
    assert kinds(fresh) == [("add", "link"), ("add", "wg"), ("add", "addr"), ("add", "route")]
    assert link(node1) is None and wireguard_go_in(node1.netns) == []
    assert node1.run("sh", "-c", "ls -A /run/wireguard 2>/dev/null || true").stdout == ""

    keys = converge(pair)
    dump = node1.wg_dump()
    changed = wg_args(node1, [], mtu=1380, listen_port=51999, _ansible_check_mode=True)
    result = node1.module("wireguard", changed)
    assert kinds(result) == [("delete", "peer"), ("replace", "link"), ("replace", "wg")]
    assert node1.wg_dump() == dump
    device = link(node1)
    assert device is not None and device["mtu"] == 1420
    assert node1.peer_keys() == [keys["node2"]]


def test_drift_is_repaired_peer_removed_foreign_route_kept(pair: list[WgNode]) -> None:
    node1, node2 = pair
    keys = converge(pair)
    args = wg_args(node1, [(node2, keys["node2"])])
    node1.run("ip", "link", "set", "dev", "flannel-wg", "mtu", "1300")
    node1.run("ip", "addr", "add", "10.244.1.5/32", "dev", "flannel-wg")
    node1.run("ip", "route", "add", "10.99.0.0/16", "dev", "flannel-wg", "proto", "static")
    node1.run("ip", "route", "add", "10.98.0.0/16", "dev", "flannel-wg", "proto", "boot")
    node1.run("wg", "set", "flannel-wg", "listen-port", "51999")
    node1.run("wg", "set", "flannel-wg", "peer", keys["node2"], "endpoint", "192.0.2.99:1")

    repaired = node1.module("wireguard", args)
    assert [(c["op"], c["kind"], c["key"], c["reason"]) for c in repaired["changes"]] == [
        ("delete", "route", "10.98.0.0/16", "not in the plan (no longer a cluster network)"),
        ("delete", "addr", "10.244.1.5/32",
         "not in the plan (every address of the device is podnet's)"),
        ("replace", "link", "flannel-wg", "mtu: 1300 vs 1420"),
        ("replace", "wg", "flannel-wg", "listen_port: 51999 vs 51820"),
        ("replace", "peer", keys["node2"],
         "peer node2: endpoint: 192.0.2.99:1 vs 192.0.2.12:51820"),
    ]  # fmt: skip
    assert "10.99.0.0/16 dev flannel-wg proto static" in node1.run("ip", "route").stdout
    assert node1.module("wireguard", args)["changed"] is False
    assert node1.ping("10.244.2.0", source="10.244.1.0")

    gone = node1.module("wireguard", wg_args(node1, []))
    assert [(c["op"], c["kind"], c["reason"]) for c in gone["changes"]] == [
        ("delete", "peer", "not in the plan (peer left the inventory)")
    ]
    assert node1.peer_keys() == []


def test_rotated_key_keeps_the_tunnel_and_leaves_no_stale_peer(pair: list[WgNode]) -> None:
    node1, node2 = pair
    keys = converge(pair)
    assert node1.ping("10.244.2.0", source="10.244.1.0")

    rotated = make_key(node2, state="rotated")
    assert rotated["changed"] is True and rotated["key_created"] is True
    new = rotated["public_key"]
    assert new != keys["node2"]
    assert stat.S_IMODE(node2.key_file.stat().st_mode) == 0o600

    own = node2.module("wireguard", wg_args(node2, [(node1, keys["node1"])]))
    assert [(c["kind"], c["reason"]) for c in own["changes"]] == [
        ("wg", f"private key (its public key): {keys['node2']} vs {new}")
    ]
    other = node1.module("wireguard", wg_args(node1, [(node2, new)]))
    assert [(c["op"], c["kind"], c["key"], c["reason"]) for c in other["changes"]] == [
        ("delete", "peer", keys["node2"],
         "not in the plan (peer node2's previous key: its key changed)"),
        ("add", "peer", new, "peer node2: missing"),
    ]  # fmt: skip
    assert node1.peer_keys() == [new]
    assert node1.ping("10.244.2.0", source="10.244.1.0")
    assert node2.ping("10.244.1.0", source="10.244.2.0")


def test_dual_stack_device_with_psk_keepalive_and_ipv6_endpoints(
    pair: list[WgNode], secrets: set[str]
) -> None:
    node1, node2 = pair
    psk = subprocess.run(["wg", "genpsk"], capture_output=True, text=True, check=True).stdout
    psk = psk.strip()
    secrets.add(psk)
    for each in pair:
        each.run("ip", "addr", "add", f"2001:db8::1{each.index}/64", "dev", "eth0", "nodad")
    keys = {each.name: make_key(each)["public_key"] for each in pair}
    for each in pair:
        other = node2 if each is node1 else node1
        args = {
            **wg_args(each, [], psk=psk, persistent_keepalive=25),
            "addresses": [f"10.244.{each.index}.0/32", f"fd00:10:244:{each.index}::/128"],
            "routes": [NETWORK, "fd00:10:244::/56"],
            "peers": [
                {
                    "name": other.name,
                    "public_key": keys[other.name],
                    "endpoint": f"[2001:db8:0::1{other.index}]:51820",
                    "allowed_ips": [
                        f"fd00:10:244:{other.index}::/64",
                        f"10.244.{other.index}.0/24",
                    ],
                }
            ],
        }
        first = each.module("wireguard", args)
        assert first["changed"] is True, first
        assert each.module("wireguard", args)["changed"] is False
    peer = node1.wg_dump().splitlines()[1].split("\t")
    assert peer[1] == psk  # read by the test itself; the module never shows it
    assert peer[2:4] == ["[2001:db8::12]:51820", "10.244.2.0/24,fd00:10:244:2::/64"]
    assert peer[7] == "25"
    assert node1.ping("10.244.2.0", source="10.244.1.0")
    assert node1.ping("fd00:10:244:2::", source="fd00:10:244:1::")
    v6 = node1.run("ip", "-d", "-6", "route", "show", "fd00:10:244::/56").stdout
    assert "dev flannel-wg proto boot" in v6


def test_absent_removes_device_wireguard_go_and_socket_but_not_the_key(node: WgNode) -> None:
    make_key(node)
    node.module("wireguard", wg_args(node, []))
    assert wireguard_go_in(node.netns) != [] or IMPLEMENTATION == "kernel"
    result = node.module("wireguard", {"state": "absent", "_ansible_diff": True})
    assert kinds(result) == [("delete", "link")]
    assert result["implementation"] is None
    assert link(node) is None
    assert wireguard_go_in(node.netns) == []  # the module waited for it to exit
    assert node.run("sh", "-c", "ls -A /run/wireguard 2>/dev/null || true").stdout == ""
    assert node.key_file.exists()
    assert node.module("wireguard", {"state": "absent"})["changed"] is False

    removed = node.module("wireguard_key", {"key_file": str(node.key_file), "state": "absent"})
    assert (removed["changed"], removed["public_key"]) == (True, None)
    assert not node.key_file.exists()
    again = node.module("wireguard_key", {"key_file": str(node.key_file), "state": "absent"})
    assert again["changed"] is False


def test_query_changes_nothing_and_the_probe_says_what_is_missing(node: WgNode) -> None:
    query = {"key_file": str(node.key_file), "state": "query"}
    nothing = node.module("wireguard_key", query)
    assert (nothing["changed"], nothing["public_key"], nothing["key_created"]) == (
        False,
        None,
        False,
    )
    assert not node.key_file.parent.exists()

    created = make_key(node)
    before = node.key_file.stat()
    read = node.module("wireguard_key", query)
    assert (read["changed"], read["public_key"]) == (False, created["public_key"])
    assert node.key_file.stat().st_mtime_ns == before.st_mtime_ns

    node.key_file.chmod(0o644)
    assert node.module("wireguard_key", {**query, "state": "query"})["changed"] is False
    fixed = make_key(node)
    assert [(c["kind"], c["reason"]) for c in fixed["changes"]] == [("mode", "mode: 0644 vs 0600")]
    assert stat.S_IMODE(node.key_file.stat().st_mode) == 0o600
    assert fixed["public_key"] == created["public_key"]
    assert make_key(node)["changed"] is False

    if IMPLEMENTATION == "kernel":
        pytest.skip("LOUD SKIP: this kernel has WireGuard, so nothing is missing to report")
    strict = node.module("wireguard_key", {**query, "userspace": False})
    assert strict["implementation"] is None
    assert strict["missing"] == (
        "no WireGuard kernel module (modprobe --dry-run wireguard failed, /sys/module/wireguard "
        "absent) and userspace is not allowed (set podnet_wireguard_userspace: true to use "
        "wireguard-go)"
    )
    nowhere = node.module(
        "wireguard_key", {**query, "userspace": True, "wireguard_go": "/nonexistent/wireguard-go"}
    )
    assert nowhere["implementation"] is None
    assert "wireguard-go is not installed (nothing executable at /nonexistent" in nowhere["missing"]

    refused = node.module("wireguard", wg_args(node, [], userspace=False))
    assert refused["failed"] is True
    assert refused["msg"] == f"device: cannot create flannel-wg: {strict['missing']}"
    assert link(node) is None and wireguard_go_in(node.netns) == []


def test_bad_input_fails_naming_each_problem_before_any_change(
    node: WgNode, secrets: set[str]
) -> None:
    make_key(node)
    good = "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
    bad_psk = "not-a-key-but-secret-all-the-same"
    secrets.add(bad_psk)
    peers = [
        {"name": "a", "public_key": "short=", "endpoint": "192.0.2.12", "allowed_ips": ["x"]},
        {"name": "b", "public_key": good, "endpoint": "[2001:db8::2]:51821",
         "allowed_ips": ["10.244.2.1/24"]},
        {"name": "c", "public_key": good, "endpoint": "host.example:51820",
         "allowed_ips": ["10.244.3.0/24"]},
    ]  # fmt: skip
    result = node.module(
        "wireguard", {**wg_args(node, []), "listen_port": 70000, "psk": bad_psk, "peers": peers}
    )
    assert result["failed"] is True
    assert result["problems"] == [
        "listen_port: 70000 is out of range (1..65535)",
        "psk: the value given (not shown: it is secret) is not base64 of 32 bytes (44 "
        "characters ending in '=', as `wg genkey` prints)",
        "peers[a].public_key: 'short=' is not base64 of 32 bytes (44 characters ending in '=', "
        "as `wg genkey` prints)",
        "peers[a].endpoint: '192.0.2.12': an endpoint is address:port, or [address]:port for IPv6",
        "peers[a].allowed_ips[0]: 'x' is not a CIDR (address/prefix, e.g. 10.244.0.0/16)",
        "peers[b].allowed_ips[0]: 10.244.2.1/24 has host bits set; did you mean 10.244.2.0/24?",
        "peers[c].endpoint: 'host.example:51820': 'host.example' is not an IP address (a host "
        "name is not accepted)",
    ]
    assert link(node) is None and wireguard_go_in(node.netns) == []

    twice = [
        {"name": "b", "public_key": good, "endpoint": "192.0.2.12:1", "allowed_ips": []},
        {"name": "c", "public_key": good, "endpoint": "192.0.2.13:1", "allowed_ips": []},
    ]
    duplicate = node.module("wireguard", {**wg_args(node, []), "peers": twice})
    assert duplicate["problems"] == [f"peers[c].public_key: {good} is also peers[b]'s"]


PLAYBOOK = """
- name: WireGuard on one test node
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Key ({state})
      podnet.fabric.wireguard_key:
        key_file: "{key_file}"
        state: {state}
        userspace: true
    - name: Device
      podnet.fabric.wireguard:
        key_file: "{key_file}"
        userspace: true
        addresses: [10.244.1.0/32]
        routes: [10.244.0.0/16]
        psk: "{psk}"
        peers:
          - name: node2
            public_key: pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI=
            endpoint: 192.0.2.12:51820
            allowed_ips: [10.244.2.0/24]
"""


def test_ansible_playbook_vvvv_diff_output_holds_no_secret(
    node: WgNode, tmp_path: Path, secrets: set[str]
) -> None:
    """The modules under ansible-playbook -vvvv --diff: creation, then rotation."""
    assert node.holder is not None
    interpreter = tmp_path / "python"  # ansible quotes an interpreter as one word
    interpreter.write_text(
        f"#!/bin/sh\nexec nsenter --target={node.holder.pid} --net --mount "
        f'--wd="${{PWD:-/}}" -- {sys.executable} "$@"\n'
    )
    interpreter.chmod(0o755)
    psk = subprocess.run(["wg", "genpsk"], capture_output=True, text=True, check=True).stdout
    secrets.add(psk.strip())
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(REPO / "ansible.cfg"),
        "PATH": f"{bin_dir}:{os.environ.get('PATH', '')}",
    }
    outputs = []
    for state in ("present", "rotated"):
        play = tmp_path / f"{state}.yml"
        play.write_text(PLAYBOOK.format(key_file=node.key_file, state=state, psk=psk.strip()))
        done = subprocess.run(
            [str(bin_dir / "ansible-playbook"), "-vvvv", "--diff", "-i", "localhost,",
             "-c", "local", "-e", f"ansible_python_interpreter={interpreter}", str(play)],
            capture_output=True, text=True, check=False, env=env, cwd=REPO,
        )  # fmt: skip
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in done.stdout  # the PSK, masked
        node.secrets.add(node.key_file.read_text().strip())
        outputs.append(done.stdout + done.stderr)
    assert len(node.secrets) == 2  # one key per run: rotation happened
    node.outputs.extend(outputs)  # searched for every key and the PSK at teardown
