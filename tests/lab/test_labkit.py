"""The lab tool itself, against the real kernel (root): nodes, isolation, pods, down.

Each test reads the result back from the kernel or the filesystem, never from labkit's
own state. These tests replace any lab that is up (they call fresh_lab) and leave none.
Pods here are wired host-gw style (one route per peer via its eth0), so pods and check
are exercised without the role's VXLAN. The routed tests use three nodes: node1 and node2
on segment a (on-link to each other), node3 alone on segment b, behind the router.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import labkit
import pytest
from labkit.layout import (
    BRIDGE,
    EXTRA_INVENTORY,
    LAB_DIR,
    PRIVATE_PATHS,
    REPO,
    ROUTER_NETNS,
    SEGMENT_A,
    SEGMENT_B,
    SEGMENTS,
    STATE_FILE,
    Topology,
    node,
    segment_for,
)
from labkit.system import is_mounted, link_exists, link_master, mounts

pytestmark = pytest.mark.kernel

NODES = ("node1", "node2")


def _root_or_skip() -> None:
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: the lab needs root (network and mount namespaces)")
    missing = [t for t in ("ip", "nsenter", "unshare", "ping") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"LOUD SKIP: missing {', '.join(missing)}")


@pytest.fixture(scope="module")
def lab() -> Iterator[tuple[str, ...]]:
    """A fresh two-node lab for the module; removed afterwards."""
    _root_or_skip()
    labkit.fresh_lab(len(NODES))
    try:
        yield NODES
    finally:
        labkit.down()


def _sh(name: str, script: str) -> subprocess.CompletedProcess[str]:
    return labkit.node_run(name, ["sh", "-c", script], check=False)


def test_nodes_have_their_namespaces_and_eth0(lab: tuple[str, ...]) -> None:
    assert labkit.node_names() == list(lab)
    for index, name in enumerate(lab, start=1):
        each = node(name)
        assert is_mounted(each.netns_path, "nsfs")
        assert is_mounted(each.mnt, "nsfs")
        # sysfs mounted from inside the node: it lists the node's links, not the host's.
        listed = labkit.node_run(name, ["ls", "/sys/class/net"]).stdout.split()
        assert sorted(listed) == ["eth0", "lo"]
        (eth0,) = json.loads(labkit.node_run(name, ["ip", "-j", "addr", "show", "eth0"]).stdout)
        assert eth0["mtu"] == 1500
        assert "UP" in eth0["flags"]
        inet = [a for a in eth0["addr_info"] if a["family"] == "inet"]
        assert [(a["local"], a["prefixlen"]) for a in inet] == [(f"192.0.2.{10 + index}", 24)]
        route = labkit.node_run(name, ["ip", "route", "show", "default"]).stdout
        assert route.split()[:5] == ["default", "via", "192.0.2.1", "dev", "eth0"]


def test_host_end_is_on_the_bridge_and_the_host_has_no_address(lab: tuple[str, ...]) -> None:
    for name in (BRIDGE, *(node(n).veth for n in lab)):
        (link,) = json.loads(subprocess.check_output(["ip", "-j", "addr", "show", "dev", name]))
        assert link["addr_info"] == [], f"{name} has an address"
        if name != BRIDGE:
            assert link["master"] == BRIDGE
    assert labkit.node_run("node1", ["ping", "-c", "1", "-W", "2", "192.0.2.12"]).returncode == 0


def test_private_paths_are_per_node(lab: tuple[str, ...]) -> None:
    probe = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    for path in PRIVATE_PATHS:
        assert _sh("node1", f"echo x > {path}/{probe}").returncode == 0
        try:
            assert (node("node1").host_path(path) / probe).read_text() == "x\n"
            assert _sh("node2", f"test -e {path}/{probe}").returncode == 1, f"{path} is shared"
            assert not Path(path, probe).exists(), f"{path}/{probe} reached the host"
        finally:
            (node("node1").host_path(path) / probe).unlink(missing_ok=True)


def test_namespaces_added_later_on_the_host_appear_inside_nodes(lab: tuple[str, ...]) -> None:
    name = f"podnet-lab-probe-{uuid.uuid4().hex[:8]}"  # `down` removes it should this crash
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        assert _sh("node1", f"test -e /run/netns/{name}").returncode == 0
    finally:
        subprocess.run(["ip", "netns", "del", name], check=True)
    assert _sh("node1", f"test -e /run/netns/{name}").returncode == 1


def test_interpreter_wrapper_runs_inside_the_node(lab: tuple[str, ...], tmp_path: Path) -> None:
    code = "import os; print(os.getcwd()); print(sorted(os.listdir('/sys/class/net')))"
    out = subprocess.run(
        [str(node("node2").python), "-c", code],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    assert out == [str(tmp_path), "['eth0', 'lo']"]


def _network_facts(name: str) -> dict[str, Any]:
    setup = ["-m", "ansible.builtin.setup", "-a", "gather_subset=!all,!min,network"]
    proc = subprocess.run(
        [str(REPO / ".venv/bin/ansible"), name, *setup],
        cwd=REPO,  # for ansible.cfg: inventory = inventories/lab
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # The default callback prints `node2 | SUCCESS => {...}` (the json one is a collection's).
    facts: dict[str, Any] = json.loads(proc.stdout.partition("=>")[2])["ansible_facts"]
    return facts


def test_ansible_facts_find_eth0(lab: tuple[str, ...]) -> None:
    facts = _network_facts("node2")
    assert facts["ansible_default_ipv4"]["interface"] == "eth0"
    assert facts["ansible_default_ipv4"]["address"] == "192.0.2.12"
    assert facts["ansible_eth0"]["mtu"] == 1500


def _host_gw(lab: tuple[str, ...], mtu: int) -> None:
    """subnet.env, a bridge conflist and one route per peer: host-gw wiring, by hand."""
    for index, name in enumerate(lab, start=1):
        each = node(name)
        each.host_path("/run/flannel/subnet.env").write_text(
            f"FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.{index}.1/24\n"
            f"FLANNEL_MTU={mtu}\nFLANNEL_IPMASQ=true\n"
        )
        ipam = {
            "type": "host-local",
            "ranges": [[{"subnet": f"10.244.{index}.0/24"}]],
            "routes": [{"dst": "10.244.0.0/16"}],
        }
        bridge = {"type": "bridge", "bridge": "cni0", "isGateway": True, "mtu": mtu}
        conflist = {"name": "cbr0", "cniVersion": "1.0.0", "plugins": [{**bridge, "ipam": ipam}]}
        each.host_path("/etc/cni/net.d/10-lab.conflist").write_text(json.dumps(conflist))
        for peer_index, peer in enumerate(lab, start=1):
            if peer != name:
                dst, via = f"10.244.{peer_index}.0/24", str(node(peer).ip)
                labkit.node_run(name, ["ip", "route", "replace", dst, "via", via])


def test_pods_attach_check_and_detach(lab: tuple[str, ...]) -> None:
    _host_gw(lab, 1500)  # host-gw: no overhead, the pod MTU is the underlay's
    ips = {name: labkit.attach_pod(name) for name in lab}
    assert ips == {"node1": "10.244.1.2", "node2": "10.244.2.2"}
    assert labkit.attach_pod("node1") == ips["node1"]  # attached already: kept
    assert labkit.pod_mtu("node1") == 1500
    assert labkit.ping("node1", ips["node2"])

    result = labkit.check()
    assert result.ok, result.report()
    assert (result.reach_ok, result.reach_total) == (2, 2)
    assert (result.expected_mtu, result.df_size) == (1500, 1472)
    assert result.df_passed == result.df_refused == ("node2",)
    assert "pod reachability 2/2 ok; pod MTU 1500 (expected 1500)" in result.summary()

    assert not labkit.check(expected_mtu=1400).ok  # a wrong expectation is caught
    leases = node("node1").host_path("/var/lib/cni/networks/cbr0")
    assert (leases / "10.244.1.2").exists()
    labkit.detach_pod("node1")
    assert not (leases / "10.244.1.2").exists(), "CNI DEL did not release the lease"
    assert not node("node1").pod_netns_path.exists()
    assert not labkit.check().ok


def test_cni_errors_name_the_plugin_and_leave_no_pod(lab: tuple[str, ...]) -> None:
    conf = node("node1").host_path("/etc/cni/net.d/00-broken.conflist")
    bad_range = {"type": "host-local", "ranges": [[{"subnet": "10.244.1.0/33"}]]}
    plugin = {"type": "bridge", "bridge": "cni9", "ipam": bad_range}
    conf.write_text(json.dumps({"name": "bad", "cniVersion": "0.3.1", "plugins": [plugin]}))
    try:
        labkit.detach_pod("node1")
        with pytest.raises(labkit.CniError, match=r"plugin bridge failed \(code \d+\): .*CIDR"):
            labkit.attach_pod("node1")
        assert not node("node1").pod_netns_path.exists()
        conf.write_text(json.dumps({"name": "bad", "plugins": [{"type": "nosuch"}]}))
        with pytest.raises(labkit.LabError, match="apt-get install containernetworking-plugins"):
            labkit.attach_pod("node1")
    finally:
        conf.unlink()


def test_up_keeps_complete_nodes_repairs_broken_ones_and_writes_extra_hosts() -> None:
    _root_or_skip()
    labkit.fresh_lab(2)
    marker = node("node1").host_path("/etc/podnet/marker")
    marker.write_text("kept")
    subprocess.run(["umount", str(node("node2").mnt)], check=True)  # break node2
    labkit.up(4)
    assert marker.read_text() == "kept"
    assert is_mounted(node("node2").mnt, "nsfs")
    assert "node4:" in EXTRA_INVENTORY.read_text()
    labkit.up(3)
    assert not EXTRA_INVENTORY.exists()
    assert not node("node4").netns_path.exists()
    labkit.down()


def test_down_removes_everything_and_is_idempotent() -> None:
    _root_or_skip()
    labkit.fresh_lab(4)
    subprocess.run(["ip", "netns", "add", node("node1").pod_netns], check=True)  # a pod
    created = json.loads(STATE_FILE.read_text())["created_mountpoints"]
    labkit.down()
    labkit.down()
    assert not [n for n in os.listdir("/run/netns") if n.startswith("podnet-lab-")]
    assert not link_exists(BRIDGE)
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith("plab-")]
    assert not LAB_DIR.exists()
    assert not [p for p, _ in mounts() if p.startswith(str(LAB_DIR))]
    assert not [p for p in created if Path(p).exists()]
    assert not EXTRA_INVENTORY.exists()


def test_routed_placement_is_half_and_half() -> None:
    # Pure: which segment node<i> is on, for the counts the Makefile and tests use.
    def names(count: int) -> str:
        return "".join(segment_for(i, count, Topology.ROUTED).name for i in range(1, count + 1))

    assert [names(n) for n in (2, 3, 4, 5)] == ["ab", "aab", "aabb", "aaabb"]
    assert {segment_for(i, 4, Topology.FLAT) for i in range(1, 5)} == {SEGMENT_A}


ROUTED = ("node1", "node2", "node3")  # node1, node2 on segment a; node3 on segment b


@pytest.fixture(scope="module")
def routed() -> Iterator[tuple[str, ...]]:
    """A fresh three-node routed lab for the routed tests; removed afterwards."""
    _root_or_skip()
    labkit.fresh_lab(len(ROUTED), "routed")
    try:
        yield ROUTED
    finally:
        labkit.down()


def _router_forwarded() -> int:
    """The router's Ip ForwDatagrams counter (/proc/net/snmp is per network namespace)."""
    header, values = (
        line.split()
        for line in labkit.router_run(["cat", "/proc/net/snmp"]).stdout.splitlines()
        if line.startswith("Ip:")
    )
    return int(values[header.index("ForwDatagrams")])


def test_routed_nodes_sit_on_their_segments(routed: tuple[str, ...]) -> None:
    assert labkit.current_topology() is Topology.ROUTED
    assert [node(n).segment for n in routed] == [SEGMENT_A, SEGMENT_A, SEGMENT_B]
    expected = {"node1": "192.0.2.11", "node2": "192.0.2.12", "node3": "198.51.100.13"}
    for name in routed:
        each = node(name)
        assert str(each.ip) == expected[name]
        (eth0,) = json.loads(labkit.node_run(name, ["ip", "-j", "addr", "show", "eth0"]).stdout)
        inet = [(a["local"], a["prefixlen"]) for a in eth0["addr_info"] if a["family"] == "inet"]
        assert inet == [(expected[name], 24)]
        route = labkit.node_run(name, ["ip", "route", "show", "default"]).stdout
        assert route.split()[:5] == ["default", "via", str(each.segment.gateway), "dev", "eth0"]
        assert link_master(each.veth) == each.segment.bridge
    legs = json.loads(labkit.router_run(["ip", "-j", "-4", "addr", "show"]).stdout)
    assert {(leg["ifname"], a["local"]) for leg in legs for a in leg["addr_info"]} == {
        ("lo", "127.0.0.1"),
        ("seg-a", "192.0.2.1"),
        ("seg-b", "198.51.100.1"),
    }
    assert labkit.router_run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    for segment in SEGMENTS:  # the host takes no part on either segment
        (link,) = json.loads(subprocess.check_output(["ip", "-j", "addr", "show", segment.bridge]))
        assert link["addr_info"] == []
        assert link_master(segment.router_veth) == segment.bridge


def test_routed_cross_segment_goes_through_the_router(routed: tuple[str, ...]) -> None:
    def route_get(dst: str) -> list[str]:
        return labkit.node_run("node1", ["ip", "route", "get", dst]).stdout.split()

    assert route_get("198.51.100.13")[:5] == ["198.51.100.13", "via", "192.0.2.1", "dev", "eth0"]
    assert route_get("192.0.2.12")[:3] == ["192.0.2.12", "dev", "eth0"]  # on-link, no via

    before = _router_forwarded()
    ping = ["ping", "-n", "-q", "-c", "3", "-i", "0.05", "-W", "2"]
    assert labkit.node_run("node1", [*ping, "192.0.2.12"]).returncode == 0
    assert _router_forwarded() == before, "same-segment traffic crossed the router"
    assert labkit.node_run("node1", [*ping, "198.51.100.13"]).returncode == 0
    assert labkit.node_run("node3", [*ping, "192.0.2.12"]).returncode == 0
    # Requests and replies of both pings, each forwarded once.
    assert _router_forwarded() - before >= 12


def test_routed_router_forwards_nowhere_else(routed: tuple[str, ...]) -> None:
    # 203.0.113.1 (TEST-NET-3): the node's default route takes it to the router, which has
    # no route for it and answers "net unreachable": nothing leaves the namespaces.
    proc = labkit.node_run("node1", ["ping", "-n", "-c", "1", "-W", "2", "203.0.113.1"], False)
    assert proc.returncode != 0
    assert "Unreachable" in proc.stdout, proc.stdout


def test_routed_ansible_facts_find_eth0_on_segment_b(routed: tuple[str, ...]) -> None:
    facts = _network_facts("node3")
    assert facts["ansible_default_ipv4"]["interface"] == "eth0"
    assert facts["ansible_default_ipv4"]["address"] == "198.51.100.13"
    assert facts["ansible_default_ipv4"]["netmask"] == "255.255.255.0"
    assert facts["ansible_default_ipv4"]["gateway"] == "198.51.100.1"


def _host_run_wireguard() -> set[Path]:
    host = Path("/run/wireguard")
    return set(host.iterdir()) if host.is_dir() else set()


def test_run_wireguard_is_per_node(routed: tuple[str, ...]) -> None:
    # Every node names its device flannel-wg, and wireguard-go's socket path is fixed
    # (/var/run/wireguard/flannel-wg.sock): two nodes run it side by side only if each has
    # its own /run/wireguard.
    assert "/run/wireguard" in PRIVATE_PATHS
    probe = f"labkit-probe-{uuid.uuid4().hex[:8]}"
    assert _sh("node1", f"echo x > /run/wireguard/{probe}").returncode == 0
    assert (node("node1").host_path("/run/wireguard") / probe).exists()
    assert _sh("node2", f"test -e /run/wireguard/{probe}").returncode == 1
    assert not Path("/run/wireguard", probe).exists()
    (node("node1").host_path("/run/wireguard") / probe).unlink()

    host_sockets = _host_run_wireguard()
    for name in ("node1", "node2"):
        labkit.node_run(name, ["wireguard-go", "flannel-wg"])  # daemonizes
        assert (node(name).host_path("/run/wireguard") / "flannel-wg.sock").is_socket()
        assert "interface: flannel-wg" in labkit.node_run(name, ["wg", "show", "flannel-wg"]).stdout
    assert _host_run_wireguard() == host_sockets, (
        "a node's socket reached the host's /run/wireguard"
    )
    running = {(p.netns, p.comm) for p in labkit.lab_processes()}
    assert {("podnet-lab-node1", "wireguard-go"), ("podnet-lab-node2", "wireguard-go")} <= running
    assert "wireguard-go[" in labkit.status()


def test_routed_down_removes_router_bridges_and_wireguard_go(routed: tuple[str, ...]) -> None:
    if not any(p.comm == "wireguard-go" for p in labkit.lab_processes()):
        labkit.node_run("node1", ["wireguard-go", "flannel-wg"])
    pids = [p.pid for p in labkit.lab_processes() if p.comm == "wireguard-go"]
    removed = labkit.down()
    assert any(r.startswith("wireguard-go[") for r in removed)
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat")
        assert not stat.exists() or stat.read_text().rpartition(")")[2].split()[0] == "Z"
    assert not [n for n in os.listdir("/run/netns") if n.startswith("podnet-lab-")]
    assert not Path("/run/netns", ROUTER_NETNS).exists()
    assert not [s.bridge for s in SEGMENTS if link_exists(s.bridge)]
    assert not [n for n in os.listdir("/sys/class/net") if n.startswith("plab-")]
    assert not LAB_DIR.exists()
    assert labkit.current_topology() is None


def test_switching_topology_rebuilds_only_what_differs() -> None:
    _root_or_skip()
    labkit.fresh_lab(3)
    stays, moves = (node(n).host_path("/etc/podnet/marker") for n in ("node1", "node3"))
    stays.write_text("kept")
    moves.write_text("kept")
    labkit.up(3, "routed")
    assert stays.read_text() == "kept"
    assert not moves.exists(), "node3 moved to segment b but was not rebuilt"
    assert str(node("node3").ip) == "198.51.100.13"
    assert link_master(node("node3").veth) == SEGMENT_B.bridge
    assert Path("/run/netns", ROUTER_NETNS).exists()
    labkit.up(3)  # and back to flat
    assert stays.read_text() == "kept"
    assert str(node("node3").ip) == "192.0.2.13"
    assert link_master(node("node3").veth) == SEGMENT_A.bridge
    assert not Path("/run/netns", ROUTER_NETNS).exists()
    assert not link_exists(SEGMENT_B.bridge)
    assert labkit.node_run("node1", ["ping", "-c", "1", "-W", "2", "192.0.2.13"]).returncode == 0
    labkit.down()
