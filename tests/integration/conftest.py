"""Integration tests: the real playbooks against the namespace lab (root).

Each test module builds its own fresh lab and removes it afterwards. ansible-playbook
runs from the checkout, exactly as a user runs it (`ansible-playbook site.yml`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]

import labkit  # noqa: E402

LAB_INVENTORY = REPO / "inventories" / "lab"
LEASE_FILE = Path("/run/podnet-lab/podnet-leases.yml")
_RECAP = re.compile(
    r"^(?P<host>\S+)\s+: ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.M,
)


@dataclass(frozen=True)
class Run:
    """One ansible-playbook run: exit code, output and the PLAY RECAP per host."""

    rc: int
    output: str
    recap: dict[str, dict[str, int]]

    def changed(self) -> dict[str, int]:
        return {host: counts["changed"] for host, counts in self.recap.items()}

    def failed(self) -> dict[str, int]:
        return {host: counts["failed"] for host, counts in self.recap.items()}


# Recording each run for boot restore costs about 4 s per site.yml run on the lab; only the
# test modules about restore and reset need it (they set RECORDS_BOOT_STATE = True), the
# others run with podnet_boot_restore=false so that `make test` stays well under 20 min.
_RECORDING = {"on": False}


@pytest.fixture(autouse=True)
def _boot_state_recording(request) -> None:
    _RECORDING["on"] = bool(getattr(request.module, "RECORDS_BOOT_STATE", False))


def run_playbook(*args: str, playbook: str = "site.yml", inventory: Path | None = None) -> Run:
    """Run a playbook from the checkout with the lab inventory (or another one)."""
    env = dict(os.environ)
    env["PATH"] = f"{REPO / '.venv' / 'bin'}:{env.get('PATH', '')}"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    command = [str(REPO / ".venv" / "bin" / "ansible-playbook"), playbook]
    if not _RECORDING["on"]:
        command += ["-e", "podnet_boot_restore=false"]  # an -e after this one still wins
    if inventory is not None:
        command += ["-i", str(inventory)]
    completed = subprocess.run(
        [*command, *args],
        check=False,  # the exit code is part of what the tests look at
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    recap = {
        match["host"]: {key: int(match[key]) for key in ("ok", "changed", "unreachable", "failed")}
        for match in _RECAP.finditer(output)
    }
    return Run(completed.returncode, output, recap)


def converge(*args: str, inventory: Path | None = None) -> Run:
    """Run site.yml and insist it succeeded on every host."""
    result = run_playbook(*args, inventory=inventory)
    assert result.rc == 0 and not any(result.failed().values()), _failure(result.output)
    return result


def _failure(output: str) -> str:
    """The failed tasks' messages first (they may be far from the end), then the tail."""
    fatal = [line[:3000] for line in output.splitlines() if line.startswith(("fatal:", "failed:"))]
    return "\n".join([*fatal, "...", output[-4000:]])


def inventory_without(tmp_path: Path, *removed: str) -> Path:
    """The lab inventory with some nodes taken out, as a user would edit it.

    Written to a scratch directory with the lab's group variables inlined (group_vars/
    is found beside the inventory file) and inventory_dir-relative paths made absolute.
    """
    hosts = yaml.safe_load((LAB_INVENTORY / "hosts.yml").read_text())
    for name in removed:
        hosts["podnet_nodes"]["hosts"].pop(name)
    group_vars = yaml.safe_load((LAB_INVENTORY / "group_vars" / "podnet_nodes.yml").read_text())
    group_vars["podnet_net_conf"] = str(LAB_INVENTORY / "net-conf.json")
    hosts["podnet_nodes"].setdefault("vars", {}).update(group_vars)
    path = tmp_path / "hosts.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def node_json(node: str, argv: Sequence[str]) -> list[dict]:
    """A JSON-speaking command (ip -j, bridge -j) run inside a lab node."""
    out = labkit.node_run(node, list(argv)).stdout
    return json.loads(out) if out.strip() else []


def node_text(node: str, argv: Sequence[str]) -> str:
    return labkit.node_run(node, list(argv)).stdout


def leases() -> dict:
    return yaml.safe_load(LEASE_FILE.read_text())


@pytest.fixture(scope="module")
def lab():
    """A fresh three-node lab for one test module; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: integration tests need root (network namespaces)")
    labkit.fresh_lab(3)
    try:
        yield labkit.node_names()
    finally:
        labkit.down()


LAB_NET_CONF = json.loads((LAB_INVENTORY / "net-conf.json").read_text())


def with_backend(backend: dict, **top: object) -> str:
    """`-e` JSON that swaps the lab's Backend (and top-level keys) for one run."""
    return json.dumps({"podnet_net_conf": {**LAB_NET_CONF, **top, "Backend": backend}})


def handshake_all(nodes: Sequence[str]) -> None:
    """Let every pair of pods finish its first WireGuard handshake, with WireGuard's own
    retry time: a ping sent once a second until the first reply, for up to 8 s.

    When two peers initiate at once, one handshake can wait for the 5 s rekey timeout; the
    lab check's pings give up after about a second. Pods of `nodes[0]` send first: after a
    node's restore, its peers still hold a session with its former wireguard-go, which they
    give up only after 15 s of unanswered packets; the node's own first packet makes a new
    handshake at once, as a rebooted node's does.
    """
    for src in nodes:
        for dst in nodes:
            if src != dst:
                target = labkit.read_pod(dst)["ip"]
                labkit.pod_run(src, ["ping", "-n", "-q", "-c", "1", "-w", "8", target])


def pod_network_state(node: str) -> dict[str, object]:
    """Everything a backend leaves on a node for the pod network, without what varies by
    itself between two labs (ifindexes, pods' veths, learned neighbours, counters), so a
    switched node can be compared with a freshly installed one."""
    links = node_json(node, ["ip", "-d", "-j", "link", "show"])
    ours = sorted(link["ifname"] for link in links if link["ifname"].startswith("flannel"))
    routes = node_json(node, ["ip", "-j", "-d", "route", "show", "table", "main"])
    return {
        "links": {
            link["ifname"]: (link.get("linkinfo", {}).get("info_kind"), link["mtu"])
            for link in links
            if link["ifname"] in ours
        },
        "addresses": {
            name: [a["local"] for a in node_json(node, ["ip", "-j", "addr", "show", name])[0]
                   ["addr_info"] if a.get("scope") != "link"]
            for name in ours
        },
        "routes": sorted(
            (r["dst"], r.get("gateway"), r["dev"], r.get("protocol"), tuple(r.get("flags", [])))
            for r in routes
            # cni0's connected route comes and goes with pods, not with the backend.
            if r["dst"].startswith("10.244.") and r.get("protocol") != "kernel"
        ),
        "neighbours": sorted(
            (n["dst"], n["dev"], n.get("lladdr"))
            for n in node_json(node, ["ip", "-j", "neigh", "show", "nud", "permanent"])
        ),
        "fdb": sorted(
            (f["mac"], name, f.get("dst"))
            for name in ours
            for f in node_json(node, ["bridge", "-j", "fdb", "show", "dev", name])
        ),
        "wireguard": {  # peers in key order: wg lists them in the order they were added
            name: sorted(node_text(node, ["wg", "show", name, "allowed-ips"]).splitlines())
            for name in ours
            if name.startswith("flannel-wg")
        },
        "firewall": [
            line
            for line in node_text(node, ["iptables-save"]).splitlines()
            if "FLANNEL" in line or "flanneld" in line or "PODNET-OVERLAY" in line
        ],
        "overlay_filter_nft": node_text(
            node, ["sh", "-c", "nft --stateless list table inet podnet-overlay 2>/dev/null || true"]
        ),
        "subnet.env": node_text(node, ["sh", "-c", "cat /run/flannel/subnet.env || true"]),
    }  # fmt: skip


# What a reboot loses, inside a node (the restore and overlay filter labs). Deleting a
# flannel device takes its neighbours, FDB entries and on-device routes with it, and makes
# its wireguard-go exit.
REBOOT = r"""
set -e
for link in $(ip -o link show | awk -F': ' '{print $2}' | cut -d@ -f1 | grep '^flannel'); do
    ip link del "$link"
done
ip route flush root 10.244.0.0/16 proto boot
ip neigh flush nud permanent
rm -rf /run/flannel/*
iptables-save | grep -v -e FLANNEL -e PODNET-OVERLAY | iptables-restore
ip6tables-save | grep -v -e FLANNEL -e PODNET-OVERLAY | ip6tables-restore
nft delete table inet podnet-overlay 2>/dev/null || true
echo 0 > /proc/sys/net/ipv4/ip_forward
"""


def simulate_reboot(node: str) -> None:
    """Take from `node` what a reboot takes (REBOOT), wait for its wireguard-go to exit."""
    labkit.node_run(node, ["sh", "-c", REBOOT])
    deadline = time.monotonic() + 15  # wireguard-go exits about 1.5 s after its device
    netns = labkit.node(node).netns
    while any(p.comm == "wireguard-go" and p.netns == netns for p in labkit.lab_processes()):
        assert time.monotonic() < deadline, "wireguard-go outlived its device"
        time.sleep(0.1)
    # A reboot starts with an empty /run: no socket file left by the old process.
    labkit.node_run(node, ["sh", "-c", "rm -f /run/wireguard/*.sock"])
    links = node_text(node, ["ip", "-o", "link", "show"])
    assert "flannel" not in links, links
    assert node_text(node, ["cat", "/proc/sys/net/ipv4/ip_forward"]).strip() == "0"
