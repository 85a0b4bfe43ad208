"""Where the lab's things are: names, addresses and paths, in one place.

Every name here is part of the contract other code relies on (DESIGN.md "The lab"):
the inventory's interpreter wrappers, the integration tests and `make lab` all find the
lab by these names, and `down` finds leftovers by their prefixes.

Two topologies share every name:
- flat: all nodes on segment a (the bridge podnet-lab-br0, 192.0.2.0/24);
- routed: the first half of the nodes on segment a, the rest on segment b (the bridge
  podnet-lab-br1, 198.51.100.0/24), joined by the router namespace podnet-lab-router,
  which holds each segment's gateway address (.1). node<i> keeps the last octet 10+i on
  either segment, so node3 is 192.0.2.13 in a flat lab and 198.51.100.13 in a routed one.
Which one is up is recorded in state.json; `node(name)` reads it, so a Node's address is
always the one the kernel has.
"""

from __future__ import annotations

import enum
import ipaddress
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import LabError

# The checkout this tool lives in (tests/lab/labkit/layout.py -> the repo root), so a
# second checkout gets wrappers that run its own .venv, not /work/main's.
REPO = Path(__file__).resolve().parents[3]
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
INVENTORY_DIR = REPO / "inventories" / "lab"
# hosts.yml lists node1..node3; the tool writes node4..nodeN here (gitignored) and `down`
# removes it. "zz-" sorts it after hosts.yml, so the group is already defined when it loads.
EXTRA_INVENTORY = INVENTORY_DIR / "zz-lab-extra-nodes.yml"
INVENTORY_NODES = 3

LAB_DIR = Path("/run/podnet-lab")
STATE_FILE = LAB_DIR / "state.json"
# Outside LAB_DIR: `down` deletes LAB_DIR while it holds the lock.
LOCK_FILE = Path("/run/lock/podnet-lab.lock")
NETNS_DIR = Path("/run/netns")

NETNS_PREFIX = "podnet-lab-"
POD_NETNS_PREFIX = "podnet-lab-pod-"
VETH_PREFIX = "plab-"
# Namespaces that crashed test runs leave behind (tests/kernel and tests/bench use these).
LEFTOVER_PREFIXES = ("podnet-test-", "podnet-bench-")

UNDERLAY_MTU = 1500

# The hosts lab (labkit.hosts): Ansible reaches each machine over SSH on a management
# segment of its own (eth1; RFC 2544's benchmarking range), so the underlay stays as in the
# namespace lab and the host holds no address on it. The host's end is .1.
MGMT_BRIDGE = "podnet-lab-mgmt"
MGMT_NETWORK = ipaddress.IPv4Network("198.18.0.0/24")
MGMT_HOST = ipaddress.IPv4Interface("198.18.0.1/24")
# node<i> is <segment>.(10+i); .251-.254 stay free, so at most 240 nodes.
MAX_NODES = 240


class Topology(enum.StrEnum):
    """How the nodes' eth0s are joined: one bridge, or two bridges and a router; or, for
    hosts, one bridge under systemd machines reached over SSH (labkit.hosts)."""

    FLAT = "flat"
    ROUTED = "routed"
    HOSTS = "hosts"


@dataclass(frozen=True, slots=True)
class Segment:
    """One underlay segment: a bridge on the host, a /24, and the nodes' default gateway.

    Ansible's facts take the default-route interface as the node's interface, so every node
    needs a default route. In a flat lab nobody answers for the gateway (no packet leaves
    the namespaces); in a routed lab the router namespace does, and forwards only between
    the two segments (it has no other route).
    """

    name: str  # "a" or "b"
    bridge: str
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address

    @property
    def router_veth(self) -> str:
        """The host end of the router's leg on this segment (a port of `bridge`)."""
        return f"{VETH_PREFIX}rtr-{self.name}"

    @property
    def router_ifname(self) -> str:
        """The router's leg on this segment, as named inside the router namespace."""
        return f"seg-{self.name}"


# TEST-NET-1 and TEST-NET-2 (RFC 5737): documentation only, never routed anywhere.
SEGMENT_A = Segment(
    "a",
    "podnet-lab-br0",
    ipaddress.IPv4Network("192.0.2.0/24"),
    ipaddress.IPv4Address("192.0.2.1"),
)
SEGMENT_B = Segment(
    "b",
    "podnet-lab-br1",
    ipaddress.IPv4Network("198.51.100.0/24"),
    ipaddress.IPv4Address("198.51.100.1"),
)
SEGMENTS = (SEGMENT_A, SEGMENT_B)
ROUTER_NETNS = f"{NETNS_PREFIX}router"

# The flat lab's names, kept for the code and tests that predate the routed topology.
BRIDGE = SEGMENT_A.bridge
UNDERLAY = SEGMENT_A.network
GATEWAY = SEGMENT_A.gateway

# The host paths each node sees as its own: a per-node directory is bind-mounted over each
# inside the node's mount namespace. /var/lib/cni holds host-local's leases.
# /run/wireguard: wireguard-go puts its control socket at the fixed path
# /var/run/wireguard/<dev>.sock (/var/run is /run on Debian), and every node names its
# device flannel-wg, so without this the nodes' sockets would collide on the host's.
PRIVATE_PATHS = (
    "/run/flannel",
    "/etc/cni/net.d",
    "/etc/podnet",
    "/var/lib/cni",
    "/run/wireguard",
)

CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_CONF_DIR = "/etc/cni/net.d"
SUBNET_ENV = "/run/flannel/subnet.env"
POD_IFNAME = "eth0"

_NODE_NAME = re.compile(r"node([1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class Node:
    """One lab node: its number and its underlay segment.

    Every name and path derives from the number alone; only eth0's address and the bridge
    its host end is a port of derive from the segment.
    """

    index: int
    segment: Segment = SEGMENT_A
    topology: Topology = Topology.FLAT

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def ip(self) -> ipaddress.IPv4Address:
        """eth0's address: the segment's network + 10 + index.

        >>> str(Node(3, SEGMENT_B).ip)
        '198.51.100.13'
        """
        return self.segment.network.network_address + 10 + self.index

    @property
    def interface(self) -> ipaddress.IPv4Interface:
        """eth0's address with the segment's prefix (what `ip addr` and the facts show)."""
        return ipaddress.IPv4Interface(f"{self.ip}/{self.segment.network.prefixlen}")

    @property
    def netns(self) -> str:
        return f"{NETNS_PREFIX}{self.name}"

    @property
    def netns_path(self) -> Path:
        return NETNS_DIR / self.netns

    @property
    def veth(self) -> str:
        """The host end of the node's eth0 (at most 12 characters of IFNAMSIZ's 15)."""
        return f"{VETH_PREFIX}{self.name}"

    @property
    def dir(self) -> Path:
        return LAB_DIR / self.name

    @property
    def mnt(self) -> Path:
        """The file the node's mount namespace is bound to (it lives while bound)."""
        return self.dir / "mnt"

    @property
    def root(self) -> Path:
        return self.dir / "root"

    @property
    def python(self) -> Path:
        """The interpreter wrapper the inventory names as ansible_python_interpreter."""
        return self.dir / "python"

    @property
    def pod_netns(self) -> str:
        return f"{POD_NETNS_PREFIX}{self.name}"

    @property
    def pod_netns_path(self) -> Path:
        """The pod's namespace file, as this machine (the lab's host) reaches it."""
        if self.topology is Topology.HOSTS:
            return self.host_path(self.pod_netns_in_node)
        return NETNS_DIR / self.pod_netns

    @property
    def pod_netns_in_node(self) -> str:
        """The pod's namespace file as the node sees it (what CNI_NETNS names).

        A namespace node sees the host's /run/netns; a hosts-lab machine has its own.
        """
        return str(NETNS_DIR / self.pod_netns)

    @property
    def pid_file(self) -> Path:
        """Hosts lab: the PID of the machine's init, written at each (re)start."""
        return self.dir / "pid"

    @property
    def mgmt_ip(self) -> ipaddress.IPv4Address:
        """Hosts lab: the address Ansible reaches the machine at (eth1, on MGMT_NETWORK).

        >>> str(Node(2, topology=Topology.HOSTS).mgmt_ip)
        '198.18.0.12'
        """
        return MGMT_NETWORK.network_address + 10 + self.index

    @property
    def mgmt_veth(self) -> str:
        """Hosts lab: the host end of the machine's eth1 (a port of MGMT_BRIDGE)."""
        return f"{VETH_PREFIX}m-{self.name}"

    @property
    def pod_json(self) -> Path:
        return self.dir / "pod.json"

    def host_path(self, node_path: str) -> Path:
        """Where a node's private path (one of PRIVATE_PATHS or below) lives on the host.

        A hosts-lab machine's whole filesystem is reached through its init's /proc/<pid>/root
        (which also crosses into mounts made inside, such as pod namespaces).

        >>> str(Node(2).host_path("/etc/cni/net.d/10-podnet.conflist"))
        '/run/podnet-lab/node2/root/etc/cni/net.d/10-podnet.conflist'
        """
        if self.topology is Topology.HOSTS:
            return Path(f"/proc/{self.pid()}/root") / node_path.lstrip("/")
        return self.root / node_path.lstrip("/")

    def pid(self) -> int:
        """Hosts lab: the PID of the machine's init; LabError when it is not running."""
        try:
            pid = int(self.pid_file.read_text())
        except (FileNotFoundError, ValueError):
            pid = 0
        if not pid or not Path(f"/proc/{pid}").exists():
            raise LabError(
                f"{self.name} is not running: run `tests/lab/lab.py up --topology hosts`"
            )
        return pid


def read_state() -> dict[str, Any]:
    """state.json: {"nodes": n, "topology": t, "created_mountpoints": [...]}; {} if no lab."""
    try:
        state: dict[str, Any] = json.loads(STATE_FILE.read_text())
    except FileNotFoundError:
        return {}
    return state


def current_topology() -> Topology | None:
    """The topology of the lab that is up (as `up` last built it), None when there is none.

    A state.json from before topologies existed is a flat lab.
    """
    state = read_state()
    if not state.get("nodes"):
        return None
    return Topology(state.get("topology", Topology.FLAT))


def segment_for(index: int, count: int, topology: Topology) -> Segment:
    """The segment of node<index> in a lab of `count` nodes: routed puts the first half
    (rounded up) on segment a and the rest on b.

    >>> [segment_for(i, 5, Topology.ROUTED).name for i in range(1, 6)]
    ['a', 'a', 'a', 'b', 'b']
    >>> segment_for(3, 4, Topology.FLAT).name
    'a'
    """
    if topology is not Topology.ROUTED:
        return SEGMENT_A
    return SEGMENT_A if index <= (count + 1) // 2 else SEGMENT_B


def segments(topology: Topology) -> tuple[Segment, ...]:
    """The segments (bridges) a lab of that topology has."""
    return SEGMENTS if topology is Topology.ROUTED else (SEGMENT_A,)


def _index(name: str) -> int:
    match = _NODE_NAME.fullmatch(name)
    if not match or int(match[1]) > MAX_NODES:
        raise ValueError(f"{name!r} is not a lab node name: node1..node{MAX_NODES}")
    return int(match[1])


def node(name: str) -> Node:
    """The Node called `name` ("node1") in the lab that is up; a ValueError names the
    expected form otherwise. With no lab up, the node is placed as in a flat lab.

    The segment comes from state.json (topology and node count), so `node("node3").ip` is
    192.0.2.13 in a flat lab and 198.51.100.13 in a routed one of 3 or 4 nodes.
    """
    index = _index(name)
    state = read_state()
    topology = Topology(state.get("topology", Topology.FLAT))
    return Node(index, segment_for(index, int(state.get("nodes", 0)), topology), topology)


def nodes(count: int, topology: Topology = Topology.FLAT) -> tuple[Node, ...]:
    """node1..node<count> placed for `topology`, checked against the underlay's room."""
    if not 1 <= count <= MAX_NODES:
        raise ValueError(
            f"nodes: {count} is outside 1..{MAX_NODES} "
            f"(node<i> is <segment>.11..<segment>.250 for i = 1..{MAX_NODES})"
        )
    return tuple(Node(i, segment_for(i, count, topology), topology) for i in range(1, count + 1))
