"""Changing a live fleet on the lab: each change converges in one run, others' pods keep talking.

In file order: node1 renumbered with a pin (`podnet_subnet`) while a ping stream runs between
the pods of node2 and node3: one run, the stream loses at most one packet, and node1's old
gateway on cni0 stays (the run names the pod still holding an old address) until the pod is
drained and site.yml runs again, after which node1's new pod gets an address in the new
subnet. Then a VNI and MTU change, also in one run, then nothing left to change.
"""

from __future__ import annotations

import ipaddress
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml
from conftest import converge, inventory_without, labkit, node_json, with_backend

NODES = ("node1", "node2", "node3")
RENUMBERED = "10.244.77.0/24"


@contextmanager
def ping_stream(src: str, dst: str) -> Iterator[dict[str, int]]:
    """Pings from `src`'s pod to `dst`'s, 20 a second, while the block runs; the counts."""
    netns = labkit.node(src).pod_netns_path
    target = labkit.read_pod(dst)["ip"]  # type: ignore[index]
    argv = ["nsenter", f"--net={netns}", "--", "ping", "-n", "-q", "-i", "0.05", "-W", "1", target]
    counts: dict[str, int] = {}
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        yield counts
    finally:
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=15)
        found = re.search(r"(\d+) packets transmitted, (\d+) received", out)
        assert found, out
        counts.update(sent=int(found[1]), received=int(found[2]))
        counts["lost"] = counts["sent"] - counts["received"]


def renumbered_inventory(tmp_path: Path) -> Path:
    path = inventory_without(tmp_path)
    inventory = yaml.safe_load(path.read_text())
    inventory["podnet_nodes"]["hosts"]["node1"] = {"podnet_subnet": RENUMBERED}
    path.write_text(yaml.safe_dump(inventory))
    return path


def addresses(node: str, device: str) -> list[str]:
    shown = node_json(node, ["ip", "-j", "-4", "addr", "show", "dev", device])
    return [f"{a['local']}/{a['prefixlen']}" for a in shown[0]["addr_info"]] if shown else []


def test_a_renumbered_node_converges_in_one_run_and_the_others_keep_talking(
    lab, tmp_path: Path
) -> None:
    converge()
    for node in NODES:
        labkit.attach_pod(node)
    inventory = renumbered_inventory(tmp_path)
    with ping_stream("node2", "node3") as stream:
        result = converge(inventory=inventory)
    print(f"renumbering node1: node2 -> node3 ping stream {stream}")
    assert stream["sent"] > 20 and stream["lost"] <= 1, stream
    assert addresses("node1", "flannel.1") == ["10.244.77.0/32"]
    for peer in ("node2", "node3"):
        routes = node_json(peer, ["ip", "-j", "route", "show", "dev", "flannel.1"])
        assert RENUMBERED in [r["dst"] for r in routes], routes
    # node1's pod still holds an old address: cni0 keeps the old gateway, and says why.
    old_pod = labkit.read_pod("node1")["ip"]  # type: ignore[index]
    assert "cni0 keeps its old gateway 10.244.1.1/24" in result.output
    assert old_pod in result.output.replace("\n", " ")
    assert "10.244.1.1/24" in addresses("node1", "cni0")

    labkit.detach_pod("node1")  # the drain
    drained = converge(inventory=inventory)
    assert drained.changed()["node1"] >= 1 and "10.244.1.1/24" not in addresses("node1", "cni0")
    new_pod = labkit.attach_pod("node1")
    assert ipaddress.ip_address(new_pod) in ipaddress.ip_network(RENUMBERED)
    report = labkit.check()
    assert report.ok, report
    again = converge(inventory=inventory)
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]


def test_a_vni_and_mtu_change_converges_in_one_run(lab, tmp_path: Path) -> None:
    inventory = renumbered_inventory(tmp_path)
    change = ["-e", with_backend({"Type": "vxlan", "VNI": 2, "MTU": 1400})]
    with ping_stream("node2", "node3") as stream:
        converge(*change, inventory=inventory)
    print(f"VNI 1 -> 2, pod MTU 1450 -> 1350: node2 -> node3 ping stream {stream}")
    for node in NODES:
        links = [link["ifname"] for link in node_json(node, ["ip", "-j", "link", "show"])]
        assert "flannel.2" in links and "flannel.1" not in links, links
        labkit.detach_pod(node)  # a pod's MTU is fixed when it starts
        labkit.attach_pod(node)
    report = labkit.check(expected_mtu=1350)  # Backend.MTU is the underlay's: 1400 - 50
    assert report.ok, report
    again = converge(*change, inventory=inventory)
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]
