"""Boot restore on the lab: a simulated reboot of node2 repaired by <state_dir>/restore.

One lab, one test per backend in file order (vxlan, host-gw, WireGuard on wireguard-go):
converge, pods, check; then node2 loses everything a reboot loses (its flannel devices
and with them their neighbours, FDB entries and wireguard-go, its proto boot pod routes,
permanent neighbours, /run/flannel, the FLANNEL firewall chains, ip_forward), foreign
objects are planted, and `/etc/podnet/restore` runs inside node2 with nothing else: node2
is back in the state the playbook left (read back from the kernel), pods reach each other,
a second restore says it has nothing to change, the foreign objects are still there, and
site.yml then finds nothing to do on any host.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from conftest import (
    converge,
    handshake_all,
    labkit,
    node_text,
    pod_network_state,
    simulate_reboot,
    with_backend,
)

RECORDS_BOOT_STATE = True  # conftest: these tests need what a run records for boot
NODES = ("node1", "node2", "node3")
STATE_DIR = "/etc/podnet"
RESTORE = f"{STATE_DIR}/restore"
PSK = base64.b64encode(os.urandom(32)).decode()
BACKENDS = {
    "vxlan": (1450, ["-e", with_backend({"Type": "vxlan"})]),
    "host-gw": (1500, ["-e", with_backend({"Type": "host-gw"})]),
    "wireguard": (
        1440,
        ["-e", with_backend({"Type": "wireguard", "PSK": PSK}),
         "-e", json.dumps({"podnet_wireguard_userspace": True})],
    ),
}  # fmt: skip

# Planted after the "reboot": a person's objects, which the restore must leave alone.
FOREIGN = [
    ["ip", "route", "add", "10.244.200.0/24", "via", "192.0.2.13", "proto", "static"],
    ["ip", "neigh", "add", "192.0.2.99", "lladdr", "02:00:00:00:00:99", "dev", "eth0",
     "nud", "permanent"],
]  # fmt: skip


def restore(node: str, *args: str) -> str:
    return labkit.node_run(node, [RESTORE, *args]).stdout


def reachable(backend: str, mtu: int) -> None:
    if backend == "wireguard":
        handshake_all(("node2", "node1", "node3"))
    report = labkit.check(expected_mtu=mtu)
    assert report.ok, report


@pytest.mark.parametrize("backend", list(BACKENDS))
def test_restore_after_a_reboot_brings_node2_back(lab, backend: str) -> None:
    mtu, args = BACKENDS[backend]
    converge(*args)
    for node in NODES:  # a pod's MTU is fixed when it starts: new pods for each backend
        labkit.detach_pod(node)
        labkit.attach_pod(node)
    reachable(backend, mtu)
    before = pod_network_state("node2")

    simulate_reboot("node2")
    checked = restore("node2", "--check")
    assert "changed:" in checked and "flannel" not in node_text("node2", ["ip", "link"]), checked
    for argv in FOREIGN:
        labkit.node_run("node2", argv)
    first = restore("node2")
    assert "file /run/flannel/subnet.env: changed: add file" in first, first
    assert "sysctl: changed: replace sysctl net.ipv4.ip_forward" in first, first
    second = restore("node2")
    assert second.splitlines()[-1].startswith("restore: nothing to change"), second
    assert all(line.endswith(": unchanged") for line in second.splitlines()[:-1]), second

    routes = node_text("node2", ["ip", "route", "show"])
    assert "10.244.200.0/24 via 192.0.2.13 dev eth0 proto static" in routes, routes
    assert "192.0.2.99 dev eth0 lladdr 02:00:00:00:00:99 PERMANENT" in node_text(
        "node2", ["ip", "neigh", "show"]
    )
    labkit.node_run("node2", ["ip", "route", "del", "10.244.200.0/24"])
    labkit.node_run("node2", ["ip", "neigh", "del", "192.0.2.99", "dev", "eth0"])
    assert pod_network_state("node2") == before

    reachable(backend, mtu)
    again = converge(*args)
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]


def test_the_record_holds_no_secret_and_the_unit_stays_in_the_lab(lab) -> None:
    """After the WireGuard run: applied.json 0600 without the private key or the PSK; the
    PSK only in its own 0600 file; the unit in the lab's private directory, not enabled."""
    modes = node_text("node2", ["stat", "-c", "%n %a", f"{STATE_DIR}/applied.json",
                                f"{STATE_DIR}/wireguard.psk", RESTORE])  # fmt: skip
    assert modes.split() == [f"{STATE_DIR}/applied.json", "600",
                             f"{STATE_DIR}/wireguard.psk", "600", RESTORE, "755"]  # fmt: skip
    record = node_text("node2", ["cat", f"{STATE_DIR}/applied.json"])
    private = node_text("node2", ["cat", f"{STATE_DIR}/wireguard.key"]).strip()
    assert private and private not in record
    assert PSK not in record and "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in record
    assert node_text("node2", ["cat", f"{STATE_DIR}/wireguard.psk"]).strip() == PSK
    unit = node_text("node2", ["cat", f"{STATE_DIR}/systemd/podnet-restore.service"])
    assert f"ExecStart={RESTORE}" in unit and "Type=oneshot" in unit
    assert not Path("/etc/systemd/system/podnet-restore.service").exists()
