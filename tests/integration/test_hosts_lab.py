"""site.yml on real hosts: systemd machines reached over SSH with become (labkit.hosts).

One hosts lab for the module, node1 on Debian 11, node2 on Debian 12, node3 on Debian 13:
nothing of the controller's venv on them, only the distribution's Python and packages.
In file order: site.yml over SSH (the role provides pyroute2; every module reports which
Python and pyroute2 it ran with), a second run that changes nothing; then per backend a
real reboot of one machine (its network namespace deleted and made again, /run empty,
systemd booting it): podnet-restore.service ran and succeeded, the stand-in kubelet found
subnet.env, the conflist and the routes already in place, pods reach each other again and
site.yml finds nothing to do. WireGuard needs wireguard-go, which Debian 11 does not ship:
the play refuses to start naming node1, then node1 is replaced by a Debian 13 machine.
Last, reset.yml: systemd no longer knows the unit.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pyroute2  # the controller's pinned release: what the role hands to the hosts
import pytest
from conftest import (
    LEASE_FILE,
    handshake_all,
    labkit,
    pod_network_state,
    run_playbook,
    with_backend,
)
from labkit import hosts

RECORDS_BOOT_STATE = True  # conftest: the boot unit and its program are the point here
INVENTORY = hosts.INVENTORY_DIR
NODES = ("node1", "node2", "node3")
PYTHONS = {"node1": "3.9.", "node2": "3.11.", "node3": "3.13."}
STATE_DIR = "/etc/podnet"
BACKENDS = {
    "vxlan": ["-e", with_backend({"Type": "vxlan"})],
    "host-gw": ["-e", with_backend({"Type": "host-gw"})],
    "wireguard": ["-e", with_backend({"Type": "wireguard"})],
}
_RUNTIME = re.compile(r"\[(node\d+)\][^\n]*?\"runtime\": (\{[^}]*\})")


def site(*args: str):
    return run_playbook(*args, inventory=INVENTORY)


def converge_hosts(*args: str):
    result = site(*args)
    assert result.rc == 0 and not any(result.failed().values()), result.output[-6000:]
    return result


def unit_state(node: str) -> dict[str, str]:
    shown = hosts.machine_exec(
        labkit.node(node),
        ["systemctl", "show", "podnet-restore.service", "-p",
         "LoadState,ActiveState,SubState,Result,ExecMainStatus,UnitFileState"],
    ).stdout  # fmt: skip
    return dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)


def switch_backend(backend: str) -> None:
    """A backend switch as an operator does it: pods go (their MTU is the old backend's),
    site.yml, pods come back."""
    for name in NODES:
        labkit.detach_pod(name)
    converge_hosts(*BACKENDS[backend])
    pods_everywhere()


def pods_everywhere(first: str = "node1") -> None:
    """A pod on every node, each reaching every other (WireGuard: after the handshakes,
    `first` sending first: a rebooted node)."""
    for name in NODES:
        labkit.attach_pod(name)
    if "flannel-wg" in hosts.machine_exec(labkit.node(first), ["ip", "link"]).stdout:
        handshake_all([first, *(n for n in NODES if n != first)])
    result = labkit.check()
    assert result.ok, result.report()


@pytest.fixture(scope="module")
def machines():
    labkit.down()
    started = time.monotonic()
    labkit.up(3, "hosts")
    print(f"hosts lab up (images cached or built, 3 machines booted): "
          f"{time.monotonic() - started:.1f} s")  # fmt: skip
    try:
        yield
    finally:
        labkit.down()


def test_site_over_ssh_with_become_on_debian_11_12_13(machines):
    started = time.monotonic()
    first = converge_hosts("-v")
    first_s = time.monotonic() - started
    assert all(first.changed()[n] > 0 for n in NODES), first.recap
    # Every module's result says what it ran with; those that use pyroute2 name it.
    runtimes: dict[str, list[dict]] = {}
    for host, text in _RUNTIME.findall(first.output):
        runtimes.setdefault(host, []).append(json.loads(text))
    assert set(runtimes) == set(NODES), first.output[-3000:]
    for name in NODES:
        pythons = {(r["python"], r["python_path"]) for r in runtimes[name]}
        used = {(r["pyroute2"], r["pyroute2_path"]) for r in runtimes[name] if r["pyroute2"]}
        print(f"{name}: Python {pythons}, pyroute2 {used}")
        assert len(pythons) == 1 and len(used) == 1, (pythons, used)
        (python, python_path), (version, path) = pythons.pop(), used.pop()
        assert python_path.startswith("/usr/bin/python3") and python.startswith(PYTHONS[name])
        assert version == pyroute2.__version__
        assert path.startswith(f"{STATE_DIR}/lib/"), path
    started = time.monotonic()
    second = converge_hosts()
    print(f"site.yml over SSH, 3 hosts: first run {first_s:.1f} s, "
          f"unchanged run {time.monotonic() - started:.1f} s")  # fmt: skip
    assert second.changed() == {n: 0 for n in NODES}, second.output[-3000:]
    assert all(unit_state(n)["UnitFileState"] == "enabled" for n in NODES)
    pods_everywhere()


def reboot_and_compare(name: str, backend: str) -> None:
    """Reboot `name`: systemd's restore, the kubelet's view and the kernel match the run's."""
    node = labkit.node(name)
    before = pod_network_state(name)
    records_before = len(hosts.kubelet_records(node))
    seconds = hosts.reboot(node)
    unit = unit_state(name)
    status = hosts.machine_exec(
        node, ["systemctl", "status", "--no-pager", "podnet-restore"], check=False
    ).stdout
    print(f"{backend}: {name} rebooted in {seconds:.1f} s\n{status}")
    assert unit["ActiveState"] == "active" and unit["Result"] == "success", unit
    assert unit["ExecMainStatus"] == "0", unit
    records = hosts.kubelet_records(node)
    assert len(records) == records_before + 1, "the stand-in kubelet did not start once"
    kubelet = records[-1]
    print(f"{name} kubelet record: " + json.dumps(
        {k: kubelet[k] for k in ("restore_unit", "subnet_env", "conflists")}))  # fmt: skip
    # Ordered like kubelet: podnet's unit had finished, and everything was there already.
    assert kubelet["restore_unit"]["ActiveState"] == "active", kubelet["restore_unit"]
    assert kubelet["restore_unit"]["ExecMainStatus"] == "0", kubelet["restore_unit"]
    assert kubelet["subnet_env"] == before["subnet.env"]
    assert kubelet["conflists"], "no conflist in /etc/cni/net.d when kubelet started"
    pod_routes = sorted(
        (r["dst"], r.get("gateway"), r["dev"])
        for r in kubelet["routes"]
        if r["dst"].startswith("10.244.") and r.get("protocol") != "kernel"
    )
    assert pod_routes == sorted((d, g, dev) for d, g, dev, _, _ in before["routes"])
    assert pod_network_state(name) == before
    pods_everywhere(first=name)
    after = converge_hosts(*BACKENDS[backend])
    assert after.changed() == {n: 0 for n in NODES}, after.output[-3000:]


def test_reboot_vxlan_node_debian11(machines):
    reboot_and_compare("node1", "vxlan")


def test_switch_to_host_gw_and_reboot_node_debian12(machines):
    switch_backend("host-gw")
    reboot_and_compare("node2", "host-gw")


def test_wireguard_refused_where_no_implementation_then_reboot(machines):
    refused = site(*BACKENDS["wireguard"])
    assert refused.rc != 0
    assert "node1" in refused.output and "wireguard-go" in refused.output, refused.output[-3000:]
    assert refused.changed() == {n: 0 for n in NODES}, refused.recap
    # node1 replaced by a Debian 13 machine (a new disk: it keeps only its name's lease).
    labkit.detach_pod("node1")
    labkit.up(3, "hosts", ["debian13", "debian12", "debian13"])
    switch_backend("wireguard")
    reboot_and_compare("node3", "wireguard")


def test_reset_removes_the_unit(machines):
    result = run_playbook(playbook="reset.yml", inventory=INVENTORY)
    assert result.rc == 0, result.output[-3000:]
    for name in NODES:
        unit = unit_state(name)
        assert unit["LoadState"] == "not-found", (name, unit)
        links = hosts.machine_exec(labkit.node(name), ["ip", "-o", "link", "show"]).stdout
        assert "flannel" not in links, (name, links)
        # Only the WireGuard key stays (README "Reset": kept unless podnet_reset_keys).
        left = hosts.machine_exec(labkit.node(name), ["ls", "-A", STATE_DIR]).stdout.split()
        assert left == ["wireguard.key"], (name, left)
    assert Path(LEASE_FILE).exists()  # the fleet's record of subnets is the user's
