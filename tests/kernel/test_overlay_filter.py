"""podnet.fabric.overlay_filter against real iptables and nftables, with real datagrams.

Two throwaway namespaces joined by a veth: the node (192.0.2.11) and a neighbour on its
segment that sends from a member's address (192.0.2.12) and from an outsider's
(192.0.2.99). A UDP socket on the node's VXLAN port stands in for the kernel's VXLAN socket
(the lab tests send real VXLAN frames to real devices): a member's datagram reaches it, an
outsider's is dropped and counted. The module runs as Ansible runs it (its main(), in a
process inside the node's namespace).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import NETNS_PREFIX, ip, run_module

NODE, MEMBER, OUTSIDER = "192.0.2.11", "192.0.2.12", "192.0.2.99"
MEMBERS = [NODE, MEMBER, "2001:db8::11"]
FOREIGN_INPUT = ["-A", "INPUT", "-s", "198.51.100.7/32", "-j", "ACCEPT"]
# Receives for a moment on the VXLAN port; prints each datagram's source address.
LISTEN = """
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(1.5)
print("ready", flush=True)
try:
    while True:
        print(s.recvfrom(100)[1][0], flush=True)
except socket.timeout:
    pass
"""
SEND = """
import socket, sys
for source in sys.argv[3:]:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((source, 0))
    s.sendto(b"frame", (sys.argv[1], int(sys.argv[2])))
"""


def sh(netns: str, *args: str) -> str:
    return subprocess.run(
        ["ip", "netns", "exec", netns, *args], check=True, capture_output=True, text=True
    ).stdout


@pytest.fixture
def segment() -> Iterator[tuple[str, str]]:
    """(node namespace, neighbour namespace), joined by a veth on 192.0.2.0/24."""
    if os.geteuid() != 0:
        pytest.skip("LOUD SKIP: kernel tests need root (network namespaces)")
    node, neighbour = (NETNS_PREFIX + uuid.uuid4().hex[:8] for _ in range(2))
    for name in (node, neighbour):
        ip("netns", "add", name)
        ip("link", "set", "lo", "up", netns=name)
    try:
        ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth1", netns=node)
        ip("link", "set", "eth1", "netns", neighbour, netns=node)
        ip("addr", "add", f"{NODE}/24", "dev", "eth0", netns=node)
        for address in (MEMBER, OUTSIDER):
            ip("addr", "add", f"{address}/24", "dev", "eth1", netns=neighbour)
        ip("link", "set", "eth0", "up", netns=node)
        ip("link", "set", "eth1", "up", netns=neighbour)
        yield node, neighbour
    finally:
        for name in (node, neighbour):
            ip("netns", "del", name, check=False)


def overlay(netns: str, check: bool = False, **options: Any) -> dict[str, Any]:
    args = {**options, "_ansible_check_mode": check, "_ansible_diff": True}
    result = run_module(netns, "overlay_filter", args)
    assert not result.get("failed"), result.get("msg")
    return result


def received(node: str, neighbour: str, port: int, sources: list[str]) -> list[str]:
    """The sources whose datagram to the node's `port` reached a socket there."""
    listen = ["ip", "netns", "exec", node, sys.executable, "-c", LISTEN, str(port)]
    with subprocess.Popen(listen, stdout=subprocess.PIPE, text=True) as listener:
        assert listener.stdout is not None
        assert listener.stdout.readline().strip() == "ready"
        sh(neighbour, sys.executable, "-c", SEND, NODE, str(port), *sources)
        return [line.strip() for line in listener.stdout]


def dropped(node: str, backend: str) -> int:
    """The filter's drop counter (IPv4)."""
    if backend == "iptables":
        listing = sh(node, "iptables", "-t", "filter", "-L", "PODNET-OVERLAY", "-v", "-x", "-n")
        (line,) = [line for line in listing.splitlines() if " DROP " in line]
        return int(line.split()[0])
    listing = sh(node, "nft", "list", "table", "inet", "podnet-overlay")
    return int(re.search(r"ip saddr != @members-ipv4 counter packets (\d+)", listing).group(1))


def owned(node: str) -> list[str]:
    """Every line of both families' iptables-save and the nft ruleset that is podnet's."""
    lines = [
        line
        for tool in ("iptables-save", "ip6tables-save")
        for line in sh(node, tool, "-t", "filter").splitlines()
        if "PODNET-OVERLAY" in line
    ]
    tables = sh(node, "nft", "list", "tables")
    if "podnet-overlay" in tables:
        lines += sh(node, "nft", "list", "table", "inet", "podnet-overlay").splitlines()
    return lines


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_members_pass_outsiders_are_dropped_and_counted(
    segment: tuple[str, str], backend: str
) -> None:
    node, neighbour = segment
    assert received(node, neighbour, 8472, [MEMBER, OUTSIDER]) == [MEMBER, OUTSIDER]
    first = overlay(node, backend=backend, members=MEMBERS)
    assert first["changed"] and first["port"] == 8472
    assert received(node, neighbour, 8472, [MEMBER, OUTSIDER, MEMBER]) == [MEMBER, MEMBER]
    assert dropped(node, backend) == 1
    # Another UDP port is not the filter's business.
    assert received(node, neighbour, 8473, [OUTSIDER]) == [OUTSIDER]
    again = overlay(node, backend=backend, members=MEMBERS)
    assert not again["changed"] and again["changes"] == []


@pytest.mark.parametrize("backend", ["iptables", "nftables"])
def test_a_leave_and_a_join_change_one_member_each_check_mode_first(
    segment: tuple[str, str], backend: str
) -> None:
    node, neighbour = segment
    overlay(node, backend=backend, members=MEMBERS)
    before = owned(node)
    leaves = [NODE, OUTSIDER, "2001:db8::11"]  # 192.0.2.12 left, 192.0.2.99 joined
    planned = overlay(node, check=True, backend=backend, members=leaves)
    assert owned(node) == before  # check mode wrote nothing
    assert [(c["op"], c["key"].split()[-1]) for c in planned["changes"]] == [
        ("add", OUTSIDER),
        ("delete", MEMBER),
    ]
    kind = "iptables-member" if backend == "iptables" else "nft-element"
    assert {c["kind"] for c in planned["changes"]} == {kind}
    done = overlay(node, backend=backend, members=leaves)
    assert done["changes"] == planned["changes"]
    assert received(node, neighbour, 8472, [MEMBER, OUTSIDER]) == [OUTSIDER]


def test_foreign_input_rules_stay_a_missing_jump_goes_on_top_absent_removes_both_forms(
    segment: tuple[str, str],
) -> None:
    node, _neighbour = segment
    sh(node, "iptables", *FOREIGN_INPUT)
    overlay(node, members=MEMBERS)
    input_rules = sh(node, "iptables", "-S", "INPUT").splitlines()
    assert input_rules[1].endswith("-j PODNET-OVERLAY") and input_rules[2] == " ".join(
        FOREIGN_INPUT
    )
    sh(node, "iptables", "-I", "INPUT", "1", "-s", "198.51.100.8/32", "-j", "ACCEPT")
    assert not overlay(node, members=MEMBERS)["changed"]  # an existing jump stays put
    sh(node, "iptables", "-D", "INPUT", "2")  # the jump, by hand: the next run puts it on top
    assert [c["kind"] for c in overlay(node, members=MEMBERS)["changes"]] == ["iptables-jump"]
    assert sh(node, "iptables", "-S", "INPUT").splitlines()[1].endswith("-j PODNET-OVERLAY")
    overlay(node, backend="nftables", members=MEMBERS)  # a switch leaves only the table
    assert all("PODNET-OVERLAY" not in line for line in sh(node, "iptables-save").splitlines())
    gone = overlay(node, state="absent")
    assert [c["kind"] for c in gone["changes"]] == ["nft-table"]
    assert owned(node) == []
    assert sh(node, "iptables", "-S", "INPUT").splitlines()[1:] == [
        "-A INPUT -s 198.51.100.8/32 -j ACCEPT",
        " ".join(FOREIGN_INPUT),
    ]
    assert not overlay(node, state="absent")["changed"]
