"""Record the rtnetlink dump replies the decoder tests replay (run as root, rarely).

    sudo .venv/bin/python tests/unit/golden/rtnl/record_dumps.py

Builds a throwaway namespace holding what podnet reads (a flannel.1 VXLAN device with a
permanent neighbour, a `self permanent` FDB entry and an onlink route; a host-gw style
direct route; foreign routes: static, multipath, another table, IPv6 with the default
metric and with another), sends the same dump requests podnet's decoder sends, and writes
the kernel's raw reply bytes, hex, one file per dump. The tests feed them back without a
kernel, as pyroute2's own decoder tests do with recorded messages.
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
NETNS = "podnet-test-rec-" + uuid.uuid4().hex[:6]
SETUP = [
    "link add eth0 type veth peer name eth0-peer",
    "link set eth0-peer up",
    "link set eth0 up",
    "addr add 192.0.2.11/24 dev eth0",
    "addr add 2001:db8::11/64 dev eth0",
    "link add flannel.1 type vxlan id 1 local 192.0.2.11 dev eth0 dstport 8472 nolearning",
    "link set flannel.1 address 0a:58:0a:f4:01:00 up",
    "addr add 10.244.1.0/32 dev flannel.1",
    "neigh add 10.244.2.0 lladdr 0a:58:0a:f4:02:00 dev flannel.1 nud permanent",
    "route add 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto boot",
    "route add 10.244.3.0/24 via 192.0.2.13 dev eth0 proto boot",
    "route add 10.244.9.0/24 via 192.0.2.1 dev eth0 proto static metric 7",
    "route add 10.244.8.0/24 nexthop via 192.0.2.1 nexthop via 192.0.2.2",
    "route add 10.244.7.0/24 via 192.0.2.1 table 100",
    "-6 route add fd00:10:244:2::/64 via 2001:db8::12 dev eth0 proto boot",
    "-6 route add fd00:10:244:3::/64 via 2001:db8::13 dev eth0 proto boot metric 5",
]
BRIDGE = ["fdb append 0a:58:0a:f4:02:00 dev flannel.1 dst 192.0.2.12 self permanent"]

# The requests podnet's decoder sends (kernel/wire.py dump_routes / dump_neighbours).
RTM_GETROUTE, RTM_GETNEIGH = 26, 30
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NDA_IFINDEX = 8


def request(kind: int, body: bytes) -> bytes:
    return struct.pack("=IHHII", 16 + len(body), kind, NLM_F_REQUEST | NLM_F_DUMP, 1, 0) + body


def replies(sock: socket.socket) -> bytes:
    """Every reply datagram of one dump, concatenated, up to and including NLMSG_DONE."""
    out = b""
    while True:
        chunk = sock.recv(1 << 16)
        out += chunk
        pos = 0
        while pos + 16 <= len(chunk):
            length, kind = struct.unpack_from("=IH", chunk, pos)
            if kind == 3:  # NLMSG_DONE
                return out
            pos += (length + 3) & ~3


def record() -> None:
    index = int(Path("/sys/class/net/flannel.1/ifindex").read_text())
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    dumps = {
        "routes_v4": request(RTM_GETROUTE, struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 0, 0, 0, 0, 0)),
        "routes_v6": request(RTM_GETROUTE, struct.pack("=BBBBBBBBI", 10, 0, 0, 0, 0, 0, 0, 0, 0)),
        "neigh_v4": request(
            RTM_GETNEIGH,
            struct.pack("=BBHiHBB", 2, 0, 0, 0, 0, 0, 0)
            + struct.pack("=HHI", 8, NDA_IFINDEX, index),
        ),
        "fdb": request(RTM_GETNEIGH, struct.pack("=BBHiII", 7, 0, 0, index, 0, 0)),
    }
    for name, message in dumps.items():
        sock.send(message)
        (HERE / f"{name}.hex").write_text(replies(sock).hex() + "\n")
    (HERE / "flannel1_ifindex.txt").write_text(f"{index}\n")


def main() -> None:
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        for line in SETUP:
            subprocess.run(["ip", "-n", NETNS, *line.split()], check=True)
        for line in BRIDGE:
            subprocess.run(["ip", "netns", "exec", NETNS, "bridge", *line.split()], check=True)
        inside = ["ip", "netns", "exec", NETNS, sys.executable, __file__, "--inside"]
        subprocess.run(inside, check=True)
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)


if __name__ == "__main__":
    record() if sys.argv[1:] == ["--inside"] else main()
