"""WireGuard end to end on the lab, with wireguard-go in each node (no kernel module here).

One lab, tests in file order: a first run with -vvv and a PSK, pods and the MTU
boundary, what the wire shows, keys (mode, stability, never in output or controller
files), a rotation, --limit and a node leaving.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
from pathlib import Path

from conftest import (
    LEASE_FILE,
    REPO,
    converge,
    handshake_all,
    inventory_without,
    labkit,
    leases,
    node_text,
    with_backend,
)

NODES = ("node1", "node2", "node3")
POD_MTU = 1440  # a 1500-byte IPv4 underlay minus WireGuard's 60 bytes
KEY_FILE = "/etc/podnet/wireguard.key"
PSK = base64.b64encode(os.urandom(32)).decode()  # fresh: no file may hold it by chance
USERSPACE = json.dumps({"podnet_wireguard_userspace": True})
WIREGUARD = with_backend({"Type": "wireguard", "PSK": PSK})
# ASCII "podnet-marker!" sent as ICMP padding: visible on the wire unless encrypted.
MARKER = b"podnet-marker!"
RUNS: dict[str, str] = {}


def wg_converge(*args: str, inventory: Path | None = None):
    return converge("-e", WIREGUARD, "-e", USERSPACE, *args, inventory=inventory)


def private_keys() -> dict[str, str]:
    return {node: node_text(node, ["cat", KEY_FILE]).strip() for node in NODES}


def public_key(node: str) -> str:
    return node_text(node, ["wg", "show", "flannel-wg", "public-key"]).strip()


def peers(node: str) -> dict[str, str]:
    """Peer public key -> allowed IPs, as the device holds them."""
    lines = node_text(node, ["wg", "show", "flannel-wg", "allowed-ips"]).splitlines()
    return dict(line.split("\t", 1) for line in lines if line)


def test_first_run_connects_pods_with_an_exact_mtu(lab) -> None:
    result = wg_converge("-vvv")
    RUNS["first"] = result.output
    for node in NODES:
        labkit.attach_pod(node)
    handshake_all(NODES)
    report = labkit.check(expected_mtu=POD_MTU)
    assert report.ok, report
    target = labkit.read_pod("node2")["ip"]
    assert labkit.ping("node1", target, size=POD_MTU - 28, dont_fragment=True)
    assert not labkit.ping("node1", target, size=POD_MTU - 27, dont_fragment=True)
    for node in NODES:
        dump = node_text(node, ["wg", "show", "flannel-wg", "dump"]).splitlines()
        assert len(dump) == 3  # the device and its two peers
        assert all(line.split("\t")[1] != "(none)" for line in dump[1:]), "PSK missing"
        # flanneld's txqueuelen 0 is for the kernel device; on wireguard-go's TUN the queue
        # feeds the process, and 0 drops every packet, so the module leaves the TUN's own.
        assert node_text(node, ["cat", "/sys/class/net/flannel-wg/tx_queue_len"]).strip() == "500"


def test_the_wire_never_shows_what_pods_send(lab) -> None:
    assert MARKER not in capture_marker_exchange()


def test_keys_are_private_files_kept_across_runs_and_never_printed(lab) -> None:
    keys = private_keys()
    for node in NODES:
        mode = node_text(node, ["stat", "-c", "%a", KEY_FILE]).strip()
        assert mode == "600", f"{node}: {KEY_FILE} has mode {mode}"
    before = {node: public_key(node) for node in NODES}
    second = wg_converge()
    assert second.changed() == dict.fromkeys(NODES, 0), second.output[-6000:]
    assert {node: public_key(node) for node in NODES} == before
    assert private_keys() == keys
    for node, key in keys.items():
        assert key not in RUNS["first"], f"{node}'s private key is in the -vvv output"
    assert PSK not in RUNS["first"], "the PSK is in the -vvv output"
    leaked = files_containing([*keys.values(), PSK])
    assert leaked == [], f"secrets in controller files: {leaked}"
    recorded = leases()
    assert {recorded[node]["wireguard_public_key"] for node in NODES} == set(before.values())


def test_rotating_one_nodes_key_reaches_every_peer_in_the_same_run(lab) -> None:
    old = public_key("node2")
    wg_converge("-e", json.dumps({"podnet_wireguard_rotate_keys": ["node2"]}))
    new = public_key("node2")
    assert new != old
    for node in ("node1", "node3"):
        assert new in peers(node) and old not in peers(node), peers(node)
    handshake_all(NODES)
    assert labkit.check(expected_mtu=POD_MTU).ok
    assert leases()["node2"]["wireguard_public_key"] == new


def test_limit_keeps_every_peer_and_a_node_that_leaves_is_removed(lab, tmp_path) -> None:
    before = peers("node1")
    result = wg_converge("--limit", "node1")
    assert result.changed() == {"node1": 0}, result.output[-6000:]
    assert peers("node1") == before and len(before) == 2
    gone = public_key("node3")
    wg_converge(inventory=inventory_without(tmp_path, "node3"))
    for node in ("node1", "node2"):
        assert gone not in peers(node)
    assert labkit.ping("node1", labkit.read_pod("node2")["ip"])
    wg_converge()
    assert gone in peers("node1"), "node3 returns with the key it kept"
    handshake_all(NODES)
    assert labkit.check(expected_mtu=POD_MTU).ok
    again = wg_converge()
    assert again.changed() == dict.fromkeys(NODES, 0), again.output[-6000:]


def test_the_same_exchange_over_vxlan_shows_the_marker(lab) -> None:
    converge("-e", with_backend({"Type": "vxlan"}))
    assert MARKER in capture_marker_exchange()
    links = node_text("node1", ["ip", "-o", "link", "show"])
    assert "flannel-wg" not in links, "the WireGuard device outlived the switch"


def capture_marker_exchange() -> bytes:
    """Bytes on node2's underlay while node1's pod pings node2's pod with MARKER as padding."""
    pcap = Path(f"/run/podnet-lab/marker-{os.getpid()}.pcap")
    # 3 pings make 6 packets on node2's underlay (requests in, replies out); tcpdump stops
    # after writing them, so a busy machine cannot cut the capture short.
    capture = subprocess.Popen(
        ["nsenter", "--net=/run/netns/podnet-lab-node2", "tcpdump", "-i", "eth0", "-U", "-n",
         "-c", "6", "-w", str(pcap), "udp"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        # tcpdump says "listening on eth0" once its socket is open: ping only then.
        assert capture.stderr is not None
        assert "listening on" in capture.stderr.readline(), "tcpdump did not start"
        target = labkit.read_pod("node2")["ip"]
        labkit.pod_run("node1", ["ping", "-c", "3", "-i", "0.2", "-p", MARKER.hex(), target])
        capture.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass  # fewer packets than expected: the count below says so
    finally:
        capture.terminate()
        capture.wait(timeout=10)
    data = pcap.read_bytes()
    pcap.unlink()
    assert count_packets(data) == 6, "the capture missed packets: it cannot prove anything"
    return data


def count_packets(pcap: bytes) -> int:
    """Records in a classic pcap file: a 24-byte file header, then per packet a 16-byte
    header whose third field (incl_len) gives the bytes that follow. The magic number's
    byte order is the file's."""
    order = "little" if pcap[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else "big"
    count, pos = 0, 24
    while pos + 16 <= len(pcap):
        included = int.from_bytes(pcap[pos + 8 : pos + 12], order)
        pos += 16 + included
        count += 1
    return count


def files_containing(secrets: list[str]) -> list[str]:
    """Files on the controller side (checkout, lab state, Ansible's home) holding a secret.


    The lab nodes' own private directories (/run/podnet-lab/node*/root) are the hosts'
    disks, where the key file belongs, so they are not searched.
    """
    roots = [REPO, LEASE_FILE.parent, Path.home() / ".ansible"]
    found = []
    for root in roots:
        for path in root.rglob("*") if root.exists() else ():
            if _skipped(path) or not path.is_file():
                continue
            try:
                text = path.read_bytes()
            except OSError:
                continue
            if any(secret.encode() in text for secret in secrets):
                found.append(str(path))
    return found


def _skipped(path: Path) -> bool:
    parts = path.parts
    return (
        ".venv" in parts
        or ".git" in parts
        or (len(parts) > 4 and parts[1:3] == ("run", "podnet-lab") and parts[3].startswith("node"))
    )
