"""The hand-written rtnetlink decoder (kernel/wire.py) on dump replies recorded from a real
kernel (tests/unit/golden/rtnl/record_dumps.py made them): framing, the filters that skip
foreign objects unparsed, and every field podnet reads, with no kernel and no root.

pyroute2 tests its own decoders the same way, from recorded message bytes. A kernel or
decoder change that shifts a field shows here as a wrong value, not as a diff that
silently stops matching on a real host.
"""

from __future__ import annotations

import struct
from pathlib import Path
from socket import AF_INET, AF_INET6
from typing import Any

import pytest
from plugins.module_utils.kernel import wire
from plugins.module_utils.kernel.wire import AF_BRIDGE, NeighMsg, RouteMsg

GOLDEN = Path(__file__).resolve().parent / "golden" / "rtnl"
FLANNEL1 = int((GOLDEN / "flannel1_ifindex.txt").read_text())
RTPROT_BOOT, RTPROT_STATIC, RTPROT_KERNEL = 3, 4, 2


class RecordedSocket:
    """Answers each dump request with the recorded reply, its sequence numbers set to the
    request's (as the kernel does), in datagrams of at most `size` bytes."""

    def __init__(self, reply: bytes, size: int = 1 << 16) -> None:
        self.reply = reply
        self.size = size
        self.pending: list[bytes] = []
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        seq = struct.unpack_from("=I", data, 8)[0]
        stream, pos = bytearray(self.reply), 0
        while pos + 16 <= len(stream):
            length = struct.unpack_from("=I", stream, pos)[0]
            struct.pack_into("=I", stream, pos + 8, seq)
            pos += (length + 3) & ~3
        self.pending = [bytes(stream[i : i + self.size]) for i in range(0, len(stream), self.size)]
        return len(data)

    def recv_into(self, buf: bytearray) -> int:
        chunk = self.pending.pop(0)
        buf[: len(chunk)] = chunk
        return len(chunk)


def recorded_wire(name: str) -> Any:
    """An RtnlWire whose socket replays golden/rtnl/<name>.hex (no netlink handle needed)."""
    channel = wire.RtnlWire.__new__(wire.RtnlWire)
    channel.sock = RecordedSocket(bytes.fromhex((GOLDEN / f"{name}.hex").read_text().strip()))
    channel._seq = 0x40000000
    channel._buf = bytearray(1 << 16)
    return channel


def by_dst(routes: list[RouteMsg]) -> dict[str, RouteMsg]:
    return {route.dst: route for route in routes}


def test_ipv4_routes_of_table_main_only_with_every_field() -> None:
    routes = by_dst(wire.dump_routes(recorded_wire("routes_v4"), AF_INET))
    assert "10.244.7.0/24" not in routes, "table 100 must be skipped"
    assert all(route.table == wire.RT_TABLE_MAIN for route in routes.values())
    tunnel = routes["10.244.2.0/24"]
    assert (tunnel.gateway, tunnel.oif, tunnel.proto, tunnel.priority) == (
        "10.244.2.0",
        FLANNEL1,
        RTPROT_BOOT,
        0,
    )
    assert tunnel.flags & wire.RTNH_F_ONLINK and not tunnel.multipath
    direct = routes["10.244.3.0/24"]
    assert (direct.gateway, direct.proto, direct.flags & wire.RTNH_F_ONLINK) == (
        "192.0.2.13",
        RTPROT_BOOT,
        0,
    )
    static = routes["10.244.9.0/24"]
    assert (static.proto, static.priority) == (RTPROT_STATIC, 7)
    multipath = routes["10.244.8.0/24"]
    assert multipath.multipath and multipath.gateway is None
    connected = routes["192.0.2.0/24"]
    assert (connected.gateway, connected.proto, connected.scope) == (None, RTPROT_KERNEL, 253)


def test_ipv6_routes_keep_their_metric() -> None:
    routes = by_dst(wire.dump_routes(recorded_wire("routes_v6"), AF_INET6))
    assert routes["fd00:10:244:2::/64"].priority == 1024
    assert routes["fd00:10:244:2::/64"].gateway == "2001:db8::12"
    assert routes["fd00:10:244:3::/64"].priority == 5
    assert all(route.family == AF_INET6 for route in routes.values())


def test_permanent_neighbours_of_the_device() -> None:
    found = wire.dump_neighbours(recorded_wire("neigh_v4"), AF_INET, FLANNEL1)
    assert found == [NeighMsg(FLANNEL1, wire.NUD_PERMANENT, 0, "10.244.2.0", "0a:58:0a:f4:02:00")]


def test_fdb_entries_of_the_device() -> None:
    found = wire.dump_neighbours(recorded_wire("fdb"), AF_BRIDGE, FLANNEL1)
    # `bridge fdb append ... self permanent` on a VXLAN device: the kernel reports
    # NUD_PERMANENT | NUD_NOARP (0xc0) for the remote entry.
    state = wire.NUD_PERMANENT | 0x40
    assert found == [NeighMsg(FLANNEL1, state, wire.NTF_SELF, "192.0.2.12", "0a:58:0a:f4:02:00")]


def test_neighbours_of_another_device_are_skipped() -> None:
    assert wire.dump_neighbours(recorded_wire("neigh_v4"), AF_INET, FLANNEL1 + 100) == []


@pytest.mark.parametrize("size", [64, 200, 1 << 16], ids=["64B", "200B", "64KiB"])
def test_a_reply_split_over_datagrams_decodes_the_same(size: int) -> None:
    """The kernel fills datagrams up to the receive size; messages never straddle two, but
    a dump spans several: each datagram must be decoded on its own."""
    whole = wire.dump_routes(recorded_wire("routes_v4"), AF_INET)
    channel = recorded_wire("routes_v4")
    reply = channel.sock.reply
    # Re-cut the reply on message boundaries into datagrams of at most `size` bytes.
    messages, pos = [], 0
    while pos + 16 <= len(reply):
        length = struct.unpack_from("=I", reply, pos)[0]
        step = (length + 3) & ~3
        messages.append(reply[pos : pos + step])
        pos += step
    datagrams, current = [], b""
    for message in messages:
        if current and len(current) + len(message) > size:
            datagrams.append(current)
            current = b""
        current += message
    datagrams.append(current)

    class Datagrams(RecordedSocket):
        def send(self, data: bytes) -> int:
            super().send(data)
            stream = b"".join(self.pending)
            self.pending, at = [], 0
            for datagram in datagrams:
                self.pending.append(stream[at : at + len(datagram)])
                at += len(datagram)
            return len(data)

    channel.sock = Datagrams(reply)
    assert wire.dump_routes(channel, AF_INET) == whole
