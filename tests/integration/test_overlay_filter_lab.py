"""The overlay filter on the lab: VXLAN frames from outside the fleet never reach a pod.

An intruder is a namespace on the lab's underlay segment that is no node: its own VXLAN
device (same VNI, same port) sends ICMP from a forged pod address (10.244.250.9) to a
node's pod, addressed to that node's flannel device MAC, exactly as a node would. A packet
capture in the pod says what arrived. Without the filter the frame is delivered (the
control: this test can fail); with it, nothing arrives on any node and the node's drop
counter counts the frames, while every pod still reaches every other.

Then, in file order: a node taken out of the inventory is refused in the run that removes
its peer entries, and accepted again in the one run that brings it back; after a reboot
the boot restore puts the filter back before the VXLAN device; reset removes it and keeps
foreign INPUT rules; and the same holds over an IPv6 underlay (dual stack).
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import (
    _failure,
    converge,
    inventory_without,
    labkit,
    node_json,
    node_text,
    run_playbook,
    simulate_reboot,
    with_backend,
)
from labkit.layout import BRIDGE

# Only the reboot test needs the boot record (4 s a run): it asks for it.
BOOT_RECORD = ["-e", "podnet_boot_restore=true"]
NODES = ("node1", "node2", "node3")
POD_MTU = 1450
INTRUDER = "podnet-test-intruder"
INTRUDER_VETH = "plab-intruder"
INTRUDER_UNDERLAY = {4: "192.0.2.99", 6: "2001:db8:0:a::99"}
FORGED_SOURCE = {4: "10.244.250.9", 6: "fd00:10:244:fa::9"}
NODE_UNDERLAY_V6 = "2001:db8:0:a::1{index}"
DUAL_STACK = {"EnableIPv6": True, "IPv6Network": "fd00:10:244::/56"}
NFT = {"EnableNFTables": True}
NO_FILTER = json.dumps({"podnet_overlay_filter": False})
STATE_DIR = "/etc/podnet"
FOREIGN_INPUT = ["-A", "INPUT", "-s", "198.51.100.7/32", "-j", "ACCEPT"]


def vxlan(**top: object) -> str:
    return with_backend({"Type": "vxlan"}, **top)


def sh(*argv: str, check: bool = True) -> str:
    return subprocess.run(argv, check=check, capture_output=True, text=True).stdout


@dataclass(frozen=True)
class Intruder:
    """A host on the underlay segment that is in no inventory, with a VTEP per family."""

    def inject(self, node: str, family: int = 4, count: int = 3) -> list[str]:
        """Send `count` forged echo requests in VXLAN to `node`'s pod; what the pod captured."""
        device = labkit_device(family)
        vtep_mac = node_json(node, ["ip", "-j", "link", "show", device])[0]["address"]
        pod_ip = pod_address(node, family)
        underlay = node_underlay(node, family)
        vx = f"vx{family}"
        sh("ip", "-n", INTRUDER, "neigh", "replace", pod_ip, "lladdr", vtep_mac, "dev", vx,
           "nud", "permanent")  # fmt: skip
        sh("bridge", "-n", INTRUDER, "fdb", "replace", vtep_mac, "dev", vx, "dst", underlay,
           "self", "permanent")  # fmt: skip
        with capture(node, FORGED_SOURCE[family]) as seen:
            ping = ["ip", "netns", "exec", INTRUDER, "ping", f"-{family}", "-n", "-q"]
            sh(*ping, "-c", str(count), "-i", "0.2", "-W", "1", pod_ip, check=False)
        return seen


def labkit_device(family: int) -> str:
    return "flannel.1" if family == 4 else "flannel-v6.1"


def pod_address(node: str, family: int) -> str:
    record = labkit.read_pod(node)
    assert record is not None, f"{node} has no pod"
    for address in record["ips"]:
        if ipaddress.ip_interface(address).version == family:
            return str(ipaddress.ip_interface(address).ip)
    raise AssertionError(f"{node}'s pod has no IPv{family} address: {record['ips']}")


def node_underlay(node: str, family: int) -> str:
    index = NODES.index(node) + 1
    return f"192.0.2.1{index}" if family == 4 else NODE_UNDERLAY_V6.format(index=index)


class capture:
    """tcpdump in a node's pod for ICMP from `source`; the lines it printed, on exit."""

    def __init__(self, node: str, source: str) -> None:
        netns = labkit.node(node).pod_netns_path
        icmp = "icmp" if ":" not in source else "icmp6"
        self.argv = ["nsenter", f"--net={netns}", "--", "tcpdump", "-i", "eth0", "-n", "-l",
                     "-p", "--immediate-mode", f"{icmp} and src host {source}"]  # fmt: skip
        self.lines: list[str] = []

    def __enter__(self) -> list[str]:
        self.process = subprocess.Popen(
            self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stderr is not None
        said = [self.process.stderr.readline() for _ in range(2)]  # a notice, then "listening"
        if not any("listening on" in line for line in said):
            self.process.kill()
            raise AssertionError(f"tcpdump did not start: {said}")
        return self.lines

    def __exit__(self, *exc: object) -> None:
        time.sleep(0.5)  # the last frame's way through the node
        self.process.terminate()
        out, _err = self.process.communicate(timeout=10)
        self.lines.extend(line for line in out.splitlines() if line.strip())


@pytest.fixture(scope="module")
def intruder(lab) -> Iterator[Intruder]:
    """The intruder's namespace on the lab bridge; removed afterwards."""
    sh("ip", "netns", "add", INTRUDER)
    try:
        sh("ip", "link", "add", INTRUDER_VETH, "type", "veth", "peer", "name", "eth0",
           "netns", INTRUDER)  # fmt: skip
        sh("ip", "link", "set", INTRUDER_VETH, "master", BRIDGE, "up")
        run = ["ip", "-n", INTRUDER]
        sh(*run, "link", "set", "lo", "up")
        sh(*run, "addr", "add", f"{INTRUDER_UNDERLAY[4]}/24", "dev", "eth0")
        sh(*run, "addr", "add", f"{INTRUDER_UNDERLAY[6]}/64", "dev", "eth0", "nodad")
        sh(*run, "link", "set", "eth0", "up")
        for family, network in ((4, "10.244.0.0/16"), (6, "fd00:10:244::/56")):
            vx = f"vx{family}"
            sh(*run, "link", "add", vx, "type", "vxlan", "id", "1", "dstport", "8472",
               "local", INTRUDER_UNDERLAY[family], "dev", "eth0", "nolearning")  # fmt: skip
            sh(*run, "link", "set", vx, "mtu", str(POD_MTU if family == 4 else 1430), "up")
            prefix = network.split("/")[1]
            flags = ["nodad"] if family == 6 else []
            sh(*run, "addr", "add", f"{FORGED_SOURCE[family]}/{prefix}", "dev", vx, *flags)
        yield Intruder()
    finally:
        sh("ip", "netns", "del", INTRUDER, check=False)
        sh("ip", "link", "del", INTRUDER_VETH, check=False)


def drops(node: str, backend: str, family: int = 4) -> int:
    """The filter's drop counter on `node`."""
    if backend == "iptables":
        tool = "iptables" if family == 4 else "ip6tables"
        listing = node_text(node, [tool, "-L", "PODNET-OVERLAY", "-v", "-x", "-n"])
        (line,) = [line for line in listing.splitlines() if " DROP " in line]
        return int(line.split()[0])
    table = node_text(node, ["nft", "list", "table", "inet", "podnet-overlay"])
    address = "ip" if family == 4 else "ip6"
    (line,) = [line for line in table.splitlines() if f"{address} saddr != @" in line]
    return int(line.split("counter packets ")[1].split()[0])


def listing(node: str, backend: str) -> str:
    """The filter as the tools list it, with its counters (for the record)."""
    if backend == "iptables":
        return node_text(node, ["iptables", "-L", "INPUT", "-v", "-x", "-n"]) + node_text(
            node, ["iptables", "-L", "PODNET-OVERLAY", "-v", "-x", "-n"]
        )
    return node_text(node, ["nft", "list", "table", "inet", "podnet-overlay"])


def attach_pods() -> None:
    for node in NODES:  # a pod's addresses and MTU are fixed when it starts
        labkit.detach_pod(node)
        labkit.attach_pod(node)


def all_pods_reach() -> None:
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_an_outsiders_frame_reaches_no_pod_and_is_counted(
    lab, intruder: Intruder, backend: str
) -> None:
    conf = vxlan(**(NFT if backend == "nftables" else {}))
    converge("-e", conf, "-e", NO_FILTER)
    attach_pods()
    assert len(intruder.inject("node1")) == 3, "without the filter the frames get through"

    converge("-e", conf)
    for node in NODES:
        before = drops(node, backend)
        assert intruder.inject(node) == [], f"{node}'s pod received a forged frame"
        assert drops(node, backend) - before == 3
    print(f"{backend}: drop counters after 3 forged frames per node:",
          {node: drops(node, backend) for node in NODES})  # fmt: skip
    print(listing("node1", backend))
    all_pods_reach()
    again = converge("-e", conf)
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]


def test_a_node_that_left_is_refused_and_accepted_in_the_run_it_joins(
    lab, intruder: Intruder, tmp_path: Path
) -> None:
    converge("-e", vxlan())
    attach_pods()
    node1_pod = pod_address("node1", 4)
    # node3 still has its device and node1's entries: its frames are a member's, until...
    with capture("node1", "10.244.3.0") as seen:
        labkit.node_run("node3", ["ping", "-n", "-q", "-c", "2", "-i", "0.2", node1_pod])
    assert len(seen) == 2

    left = converge("-v", "-e", vxlan(), inventory=inventory_without(tmp_path, "node3"))
    # One member change per node, by address, with its reason.
    assert left.output.count('"key": "iptables filter PODNET-OVERLAY 192.0.2.13"') == 2
    assert "-s 192.0.2.13/32" not in node_text("node1", ["iptables", "-S", "PODNET-OVERLAY"])
    with capture("node1", "10.244.3.0") as seen:
        labkit.node_run("node3", ["ping", "-n", "-q", "-c", "2", "-i", "0.2", node1_pod],
                        check=False)  # fmt: skip
    assert seen == [], "a node that left is still accepted"

    back = converge("-e", vxlan())  # one run: its peers accept it as it gets its device
    assert back.rc == 0
    all_pods_reach()


def test_the_boot_restore_puts_the_filter_back_before_the_device(lab, intruder: Intruder) -> None:
    converge("-e", vxlan(), *BOOT_RECORD)
    attach_pods()
    simulate_reboot("node1")
    assert "PODNET-OVERLAY" not in node_text("node1", ["iptables-save"])
    restored = labkit.node_run("node1", [f"{STATE_DIR}/restore"]).stdout
    steps = [line.split(":")[0] for line in restored.splitlines()]
    assert steps.index("overlay filter iptables") < steps.index("vxlan flannel.1"), restored
    assert "overlay filter iptables: changed: add iptables-chain" in restored, restored
    assert intruder.inject("node1") == []
    all_pods_reach()


def test_reset_removes_the_filter_and_keeps_foreign_input_rules(lab) -> None:
    converge("-e", vxlan(), *BOOT_RECORD)  # reset removes the unit and record too
    for node in NODES:
        labkit.node_run(node, ["iptables", *FOREIGN_INPUT])
    result = run_playbook(playbook="reset.yml")
    assert result.rc == 0, _failure(result.output)
    for node in NODES:
        rules = node_text(node, ["iptables-save"]) + node_text(node, ["ip6tables-save"])
        assert "PODNET-OVERLAY" not in rules and "podnet overlay" not in rules, rules
        assert "podnet-overlay" not in node_text(node, ["nft", "list", "tables"])
        assert " ".join(FOREIGN_INPUT) in node_text(node, ["iptables", "-S", "INPUT"])
        labkit.node_run(node, ["iptables", "-D", *FOREIGN_INPUT[1:]])


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_an_ipv6_underlay_gets_the_same_filter(lab, intruder: Intruder, backend: str) -> None:
    for index, node in enumerate(NODES, start=1):
        address = NODE_UNDERLAY_V6.format(index=index)
        labkit.node_run(node, ["ip", "addr", "replace", f"{address}/64", "dev", "eth0",
                               "nodad"])  # fmt: skip
    top = {**DUAL_STACK, **(NFT if backend == "nftables" else {})}
    converge("-e", vxlan(**top), "-e", NO_FILTER)
    attach_pods()
    assert len(intruder.inject("node1", family=6)) == 3, "the control: unfiltered, it arrives"

    converge("-e", vxlan(**top))
    for node in NODES:
        before = drops(node, backend, family=6)
        assert intruder.inject(node, family=6) == [], f"{node}'s pod received a forged frame"
        assert intruder.inject(node, family=4) == []
        assert drops(node, backend, family=6) - before == 3
    print(listing("node1", backend) + node_text("node1", ["ip6tables", "-S"]))
    for src in NODES:
        for dst in NODES:
            if src != dst:
                assert labkit.ping(src, pod_address(dst, 6)), f"{src} -> {dst} over IPv6"
