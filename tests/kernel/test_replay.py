"""The boot restore's replay (plugins/module_utils/restore/replay.py) against the modules, in a
throwaway namespace: each module runs as Ansible runs it (its `main()`, arguments as JSON,
under `ip netns exec`) and returns `invocation.module_args`, exactly what the role records;
the replay then runs from a record of those arguments, in the same namespace, as the
restore program runs it (no Ansible imported).

What it shows: a replay after the modules changes nothing; after the host lost what
they made it rebuilds it all, a second replay changes nothing, and the modules agree
(changed=false); foreign objects survive; a failed step does not stop the others.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from conftest import ip, run_module

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
MAC2 = "0a:00:00:00:02:02"
VXLAN = {
    "dev": "eth0",
    "local": "192.0.2.11",
    "mtu": 1450,
    "vtep_mac": "0a:00:00:00:01:01",
    "subnet": "10.244.1.0/24",
    "network": "10.244.0.0/16",
    "peers": [
        {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12", "vtep_mac": MAC2}
    ],
}
HOST_GW = {
    "family": 4,
    "network": "10.245.0.0/16",
    "dev": "eth0",
    "peers": [{"name": "node3", "subnet": "10.245.3.0/24", "public_ip": "192.0.2.13"}],
}
SYSCTL = {"values": {"net.ipv4.ip_forward": 1}}
MASQUERADE = {"networks": [{"network": "10.244.0.0/16", "subnet": "10.244.1.0/24"}]}
# Run inside the namespace: the replay's own entry point, reading <state_dir>/applied.json.
REPLAY = (
    "import sys; from plugins.module_utils.restore.replay import main; "
    "sys.exit(main(sys.argv[2:], sys.argv[1]))"
)


def module(netns: str, name: str, args: dict[str, Any]) -> dict[str, Any]:
    result = run_module(netns, name, args)
    assert not result.get("failed"), result
    return result


def replay(netns: str, state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", netns, PYTHON, "-c", REPLAY, str(state_dir), *args],
        cwd=REPO, capture_output=True, text=True, check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip


def record(netns: str, state_dir: Path, steps: list[tuple[str, dict[str, Any]]]) -> None:
    """Run each module once and write applied.json from what it returned, as the role does."""
    recorded = [
        {"module": name, "runs": [module(netns, name, args)["invocation"]["module_args"]]}
        for name, args in steps
    ]
    subnet_env = state_dir / "run" / "subnet.env"
    document = {
        "format": 1,
        "steps": recorded,
        "files": [{"path": str(subnet_env), "mode": "0644", "content": "FLANNEL_MTU=1450\n"}],
        "wireguard_psk_file": None,
    }
    (state_dir / "applied.json").write_text(json.dumps(document))


def in_ns(netns: str, *argv: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *argv], capture_output=True, text=True, check=True
    ).stdout


def test_replay_rebuilds_what_the_modules_made_and_nothing_else(
    underlay: tuple[str, str], tmp_path: Path
) -> None:
    ns = underlay[0]
    steps = [("sysctl", SYSCTL), ("vxlan", VXLAN), ("host_gw", HOST_GW),
             ("masquerade", MASQUERADE)]  # fmt: skip
    record(ns, tmp_path, steps)
    first = replay(ns, tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines() == [
        "sysctl: unchanged",
        "vxlan flannel.1: unchanged",
        "host-gw IPv4: unchanged",
        "masquerade iptables: unchanged",
        f"file {tmp_path}/run/subnet.env: changed: add file {tmp_path}/run/subnet.env",
        "restore: 1 changes in 1 of 5 steps",
    ]
    kept = {
        "routes": ip("route", "show", netns=ns),
        "neigh": ip("neigh", "show", "nud", "permanent", netns=ns),
        "fdb": subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "flannel.1"],
                              capture_output=True, text=True, check=True).stdout,
        "rules": in_ns(ns, "iptables-save", "-t", "nat").count("FLANNEL"),
    }  # fmt: skip

    # The reboot: the device goes (with its neighbour, FDB entry and route), the host-gw
    # route, the rules and forwarding too. Foreign objects are planted on the underlay.
    ip("link", "del", "flannel.1", netns=ns)
    ip("route", "del", "10.245.3.0/24", netns=ns)
    in_ns(ns, "sh", "-c", "iptables-save | grep -v FLANNEL | iptables-restore")
    in_ns(ns, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/ip_forward")
    ip("route", "add", "10.244.200.0/24", "via", "192.0.2.13", "proto", "static", netns=ns)
    ip("route", "add", "198.18.7.0/24", "via", "192.0.2.13", netns=ns)
    ip("neigh", "add", "192.0.2.99", "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud",
       "permanent", netns=ns)  # fmt: skip

    checked = replay(ns, tmp_path, "--check")
    assert checked.returncode == 0 and "flannel.1" not in ip("link", netns=ns), checked
    again = replay(ns, tmp_path, "--verbose")
    assert again.returncode == 0, again.stderr
    lines = again.stdout.splitlines()
    assert "sysctl: changed: replace sysctl net.ipv4.ip_forward (value: 0 vs 1)" in lines
    assert any(line.startswith("vxlan flannel.1: changed: add link flannel.1; add addr")
               for line in lines)  # fmt: skip
    assert any(line.startswith("    add route 10.245.3.0/24: ") for line in lines)  # -v
    assert "host-gw IPv4: changed: add route 10.245.3.0/24" in lines
    assert any(line.startswith("masquerade iptables: changed:") for line in lines)

    assert in_ns(ns, "cat", "/proc/sys/net/ipv4/ip_forward").strip() == "1"
    routes = ip("route", "show", netns=ns)
    for line in kept["routes"].splitlines():
        assert line in routes
    assert "10.244.200.0/24 via 192.0.2.13 dev eth0 proto static" in routes
    assert "198.18.7.0/24 via 192.0.2.13 dev eth0" in routes
    neigh = ip("neigh", "show", "nud", "permanent", netns=ns)
    assert "192.0.2.99 dev eth0 lladdr 02:00:00:00:00:99 PERMANENT" in neigh
    assert kept["neigh"].strip() in neigh
    assert in_ns(ns, "iptables-save", "-t", "nat").count("FLANNEL") == kept["rules"]
    fdb = subprocess.run(["bridge", "-n", ns, "fdb", "show", "dev", "flannel.1"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert fdb == kept["fdb"]

    last = replay(ns, tmp_path)
    assert last.stdout.splitlines()[-1] == "restore: nothing to change (5 steps)", last.stdout
    for name, args in steps:
        assert module(ns, name, args)["changed"] is False, name


def test_a_failed_step_is_reported_and_the_others_still_run(
    underlay: tuple[str, str], tmp_path: Path
) -> None:
    ns = underlay[0]
    record(ns, tmp_path, [("sysctl", SYSCTL), ("host_gw", HOST_GW)])
    document = json.loads((tmp_path / "applied.json").read_text())
    broken = {**document["steps"][1]["runs"][0], "dev": "eth9"}  # no such interface
    document["steps"].insert(1, {"module": "host_gw", "runs": [broken]})
    (tmp_path / "applied.json").write_text(json.dumps(document))
    ip("route", "del", "10.245.3.0/24", netns=ns)

    done = replay(ns, tmp_path)
    assert done.returncode == 1
    assert "host-gw IPv4: FAILED: " in done.stderr and "eth9" in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1].startswith("restore: FAILED: 1 of 4 steps failed")
    assert "host-gw IPv4: changed: add route 10.245.3.0/24" in done.stdout
    assert "10.245.3.0/24 via 192.0.2.13 dev eth0" in ip("route", netns=ns)
