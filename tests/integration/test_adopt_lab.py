"""Adopting a running flannel on the namespace lab: no pod IP changes, no packet lost.

Each node is built by hand in the exact state flanneld's VXLAN backend leaves
(reference/flannel-host-state.md section 1: flannel.1 with a random VTEP MAC, txqueuelen
0, no learning, its /32, accept_ra 0; per peer a permanent neighbour, a `self permanent`
FDB entry and an `onlink` route with `proto boot`; section 6: subnet.env byte for byte),
with subnets flannel's kube mode would have and podnet's lowest-free never picks. Pods are
attached by the bridge plugin with flannel's delegate written out as a conflist (what the
flannel CNI plugin hands to bridge). Then, while pods talk across nodes, site.yml runs,
as the README's procedure does with flanneld still running. The tests run in file order.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import time

import pytest
from conftest import (
    LEASE_FILE,
    REPO,
    converge,
    labkit,
    leases,
    node_json,
    node_text,
    run_playbook,
)

NODES = ("node1", "node2", "node3")
# Not what podnet would allocate (10.244.1-3.0/24 in name order): kept only if adopted.
FLANNEL_SUBNETS = {"node1": "10.244.7.0/24", "node2": "10.244.3.0/24", "node3": "10.244.12.0/24"}
POD_MTU = 1450
TRANSFER_SECONDS = 32  # longer than a site.yml run on the lab (asserted below)
PING_INTERVAL = 0.02
VENV_PYTHON = REPO / ".venv" / "bin" / "python"  # has pyroute2
IPERF_PORT = 5201
MACS: dict[str, str] = {}
POD_IPS: dict[str, str] = {}
FLANNEL_STATE: dict[str, dict[str, object]] = {}


def random_mac() -> str:
    """flannel's pkg/mac: 6 random bytes, unicast, locally administered."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return octets.hex(":")


def address(node: str) -> str:
    return str(labkit.node(node).ip)


def gateway(node: str) -> str:
    return FLANNEL_SUBNETS[node].split("/")[0]


def subnet_env(node: str) -> str:
    first = FLANNEL_SUBNETS[node].split("/")[0].rsplit(".", 1)[0] + ".1"
    return (
        "FLANNEL_NETWORK=10.244.0.0/16\n"
        f"FLANNEL_SUBNET={first}/24\n"
        f"FLANNEL_MTU={POD_MTU}\n"
        "FLANNEL_IPMASQ=true\n"
    )


def delegate_conflist(node: str) -> str:
    """The flannel CNI plugin's delegate (reference 8.2) as a conflist for the stock bridge."""
    return json.dumps(
        {
            "name": "cbr0",
            "cniVersion": "0.3.1",
            "plugins": [
                {"type": "bridge", "bridge": "cni0", "isGateway": True, "isDefaultGateway": True,
                 "hairpinMode": True, "ipMasq": False, "mtu": POD_MTU,
                 "ipam": {"type": "host-local", "ranges": [[{"subnet": FLANNEL_SUBNETS[node]}]],
                          "routes": [{"dst": "10.244.0.0/16"}]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    ) + "\n"  # fmt: skip


def build_as_flanneld(node: str) -> None:
    """flanneld's VXLAN state on one node, in flanneld's order (reference 1.2-1.6)."""
    run = labkit.node_run
    run(node, ["ip", "link", "add", "flannel.1", "address", MACS[node], "mtu", str(POD_MTU),
               "txqueuelen", "0", "type", "vxlan", "id", "1", "local", address(node), "dev",
               "eth0", "nolearning", "ttl", "0"])  # fmt: skip
    run(node, ["sysctl", "-qw", "net.ipv6.conf.flannel/1.accept_ra=0"])
    run(node, ["ip", "addr", "add", f"{gateway(node)}/32", "dev", "flannel.1"])
    run(node, ["ip", "link", "set", "flannel.1", "up"])
    for peer in NODES:
        if peer == node:
            continue
        run(node, ["ip", "neigh", "replace", gateway(peer), "lladdr", MACS[peer], "dev",
                   "flannel.1", "nud", "permanent"])  # fmt: skip
        add_fdb_as_flanneld(node, MACS[peer], address(peer))
        run(node, ["ip", "route", "replace", FLANNEL_SUBNETS[peer], "via", gateway(peer), "dev",
                   "flannel.1", "onlink", "proto", "boot"])  # fmt: skip
    lab_node = labkit.node(node)
    env = lab_node.host_path("/run/flannel/subnet.env")
    env.write_text(subnet_env(node))
    env.chmod(0o644)
    lab_node.host_path("/etc/cni/net.d/10-flannel.conflist").write_text(delegate_conflist(node))


def add_fdb_as_flanneld(node: str, mac: str, dst: str) -> None:
    """flannel's FDB entry: state NUD_PERMANENT alone, flags NTF_SELF (reference 1.6).

    Not `bridge fdb replace ... self permanent`: iproute2 adds NUD_NOARP (state 0xc0),
    which is not what flanneld (vishvananda/netlink) sends.
    """
    code = (
        "import sys\n"
        "from pyroute2 import IPRoute\n"
        "with IPRoute() as ipr:\n"
        "    index = ipr.link_lookup(ifname='flannel.1')[0]\n"
        "    ipr.neigh('replace', family=7, ifindex=index, lladdr=sys.argv[1], dst=sys.argv[2],"
        " state=0x80, flags=0x02)\n"
    )
    labkit.node_run(node, [str(VENV_PYTHON), "-c", code, mac, dst])


def flannel_objects(node: str) -> dict[str, object]:
    """Everything of flannel.1 that peers and pods depend on, as the kernel reports it."""
    [link] = node_json(node, ["ip", "-d", "-j", "link", "show", "flannel.1"])
    info = link["linkinfo"]["info_data"]
    [addresses] = node_json(node, ["ip", "-j", "-4", "addr", "show", "flannel.1"])
    neighbours = node_json(node, ["ip", "-j", "neigh", "show", "dev", "flannel.1"])
    fdb = node_json(node, ["bridge", "-j", "fdb", "show", "dev", "flannel.1"])
    routes = node_json(node, ["ip", "-j", "-d", "route", "show", "dev", "flannel.1"])
    return {
        "link": (link["address"], link["mtu"], link.get("txqlen", 0), "UP" in link["flags"],
                 info["id"], info["local"], info["link"], info["port"], info["learning"],
                 info["ttl"]),
        "addresses": [(a["local"], a["prefixlen"]) for a in addresses["addr_info"]],
        "neighbours": sorted((n["dst"], n["lladdr"], tuple(n["state"])) for n in neighbours),
        "fdb": sorted((f["mac"], f.get("dst"), tuple(f.get("flags", ())), f.get("state"))
                      for f in fdb),
        "routes": sorted((r["dst"], r.get("gateway"), r.get("protocol"), tuple(r.get("flags", ())))
                         for r in routes),
        "subnet.env": node_text(node, ["cat", "/run/flannel/subnet.env"]),
    }  # fmt: skip


def pod_addresses(node: str) -> list[str]:
    out = labkit.pod_run(node, ["ip", "-j", "-4", "addr", "show", "dev", "eth0"]).stdout
    return [a["local"] for a in json.loads(out)[0]["addr_info"]]


def task_output(output: str, task: str) -> str:
    """The lines a task printed, up to the next task's header."""
    match = re.search(rf"^TASK \[[^\]]*: {re.escape(task)}\].*?(?=^TASK \[|^PLAY RECAP)", output,
                      re.M | re.S)  # fmt: skip
    assert match, f"no task {task!r} in the output"
    return match.group(0)


def test_a_lab_in_flanneld_state_connects_pods(lab) -> None:
    MACS.update({node: random_mac() for node in NODES})
    for node in NODES:
        build_as_flanneld(node)
    for node in NODES:
        POD_IPS[node] = labkit.attach_pod(node)
        FLANNEL_STATE[node] = flannel_objects(node)
    for node, pod_ip in POD_IPS.items():
        assert ipaddress.ip_address(pod_ip) in ipaddress.ip_network(FLANNEL_SUBNETS[node])
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report


def test_check_mode_shows_the_adoption_and_changes_nothing(lab) -> None:
    result = run_playbook("--check", "--diff")
    assert result.rc == 0, result.output[-6000:]
    # The VXLAN state is flanneld's already: nothing to do there, even as a preview.
    vxlan_task = task_output(result.output, "VXLAN device and peers")
    assert "changed:" not in vxlan_task, vxlan_task
    assert not LEASE_FILE.exists()
    assert {node: flannel_objects(node) for node in NODES} == FLANNEL_STATE


def test_site_yml_adopts_the_running_fleet_without_losing_a_packet(lab) -> None:
    pod_ns = {node: f"--net={labkit.node(node).pod_netns_path}" for node in NODES}
    count = int(TRANSFER_SECONDS / PING_INTERVAL)
    commands = {
        "server": ["iperf3", "-s", "-1", "-p", str(IPERF_PORT)],  # in node2's pod, one test
        # TCP node1 -> node2, paced so that pings never queue behind it.
        "client": ["iperf3", "-c", POD_IPS["node2"], "-p", str(IPERF_PORT), "-t",
                   str(TRANSFER_SECONDS), "-b", "200M", "-J"],
        # node3 -> node1 every 20 ms: a lost packet means a gap in the data path.
        "ping": ["ping", "-n", "-q", "-i", str(PING_INTERVAL), "-c", str(count), "-W", "1",
                 POD_IPS["node1"]],
    }  # fmt: skip
    where = {"server": "node2", "client": "node1", "ping": "node3"}
    processes: dict[str, subprocess.Popen[str]] = {}
    try:
        for name, argv in commands.items():
            processes[name] = subprocess.Popen(
                ["nsenter", pod_ns[where[name]], "--", *argv],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            if name == "server":  # listening before the client connects
                wait_listening(pod_ns["node2"], IPERF_PORT)
        started = time.monotonic()
        result = converge()
        took = time.monotonic() - started
        transfer, transfer_err = processes["client"].communicate(timeout=TRANSFER_SECONDS + 30)
        pings, _ = processes["ping"].communicate(timeout=TRANSFER_SECONDS + 30)
    finally:
        for process in processes.values():  # only what this test started, by its handle
            if process.poll() is None:
                process.terminate()
                process.wait(timeout=5)
    client = processes["client"]
    assert took < TRANSFER_SECONDS - 2, f"site.yml took {took:.0f} s: the transfer ended first"
    assert client.returncode == 0, transfer_err + transfer[-2000:]
    assert json.loads(transfer)["end"]["sum_received"]["bytes"] > 0
    sent, received = map(
        int, re.search(r"(\d+) packets transmitted, (\d+) received", pings).groups()
    )
    assert (sent, received) == (count, count), pings
    vxlan_task = task_output(result.output, "VXLAN device and peers")
    assert "changed:" not in vxlan_task, vxlan_task


def test_no_pod_ip_changed_and_the_kernel_holds_flannels_state(lab) -> None:
    for node in NODES:
        assert labkit.read_pod(node)["ip"] == POD_IPS[node]
        assert pod_addresses(node) == [POD_IPS[node]]
        assert flannel_objects(node) == FLANNEL_STATE[node], node
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report


def test_the_lease_file_holds_flannels_subnets_and_macs(lab) -> None:
    recorded = leases()
    assert {node: (recorded[node]["subnet"], recorded[node]["vtep_mac"]) for node in NODES} == {
        node: (FLANNEL_SUBNETS[node], MACS[node]) for node in NODES
    }


def test_a_second_run_changes_nothing(lab) -> None:
    result = converge()
    assert result.changed() == dict.fromkeys(NODES, 0), result.output[-6000:]
    assert {node: flannel_objects(node) for node in NODES} == FLANNEL_STATE


@pytest.mark.parametrize("node", ["node2"])
def test_the_lease_file_keeps_the_mac_once_the_host_has_forgotten_it(lab, node) -> None:
    # A reboot without podnet's boot restore, or `ip link del`: the next run rebuilds the
    # device with flannel's MAC from the lease file, so no peer entry changes.
    labkit.node_run(node, ["ip", "link", "del", "flannel.1"])
    converge()
    assert flannel_objects(node) == FLANNEL_STATE[node]
    assert labkit.check(expected_mtu=POD_MTU).ok


def wait_listening(netns: str, port: int, timeout: float = 10.0) -> None:
    """Poll `ss` in the namespace (`--net=<path>`) until a TCP socket listens on `port`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        listening = subprocess.run(
            ["nsenter", netns, "--", "ss", "-H", "-ltn", f"sport = :{port}"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout
        if listening.strip():
            return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port} after {timeout} s")
