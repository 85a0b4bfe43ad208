"""Where the lab's things are: names, addresses and paths, in one place.

Every name here is part of the contract other code relies on (DESIGN.md "The lab"):
the inventory's interpreter wrappers, the integration tests and `make lab` all find the
lab by these names, and `down` finds leftovers by their prefixes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path

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

BRIDGE = "podnet-lab-br0"
UNDERLAY_MTU = 1500
UNDERLAY = ipaddress.IPv4Network("192.0.2.0/24")  # TEST-NET-1, documentation only
# An on-link gateway nobody answers for: Ansible's facts take the default-route interface
# as the node's interface, so each node needs a default route; no packet ever leaves.
GATEWAY = ipaddress.IPv4Address("192.0.2.1")
# node<i> is 192.0.2.(10+i); .251-.254 stay free, so at most 240 nodes.
MAX_NODES = 240

NETNS_PREFIX = "podnet-lab-"
POD_NETNS_PREFIX = "podnet-lab-pod-"
VETH_PREFIX = "plab-"
# Namespaces that crashed test runs leave behind (tests/kernel and tests/bench use these).
LEFTOVER_PREFIXES = ("podnet-test-", "podnet-bench-")

# The host paths each node sees as its own: a per-node directory is bind-mounted over each
# inside the node's mount namespace. /var/lib/cni holds host-local's leases.
PRIVATE_PATHS = ("/run/flannel", "/etc/cni/net.d", "/etc/podnet", "/var/lib/cni")

CNI_BIN_DIR = Path("/usr/lib/cni")
CNI_CONF_DIR = "/etc/cni/net.d"
SUBNET_ENV = "/run/flannel/subnet.env"
POD_IFNAME = "eth0"

_NODE_NAME = re.compile(r"node([1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class Node:
    """One lab node, identified by its number; every name and path derives from it."""

    index: int

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def ip(self) -> ipaddress.IPv4Address:
        return UNDERLAY.network_address + 10 + self.index

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
        return NETNS_DIR / self.pod_netns

    @property
    def pod_json(self) -> Path:
        return self.dir / "pod.json"

    def host_path(self, node_path: str) -> Path:
        """Where a node's private path (one of PRIVATE_PATHS or below) lives on the host.

        >>> str(Node(2).host_path("/etc/cni/net.d/10-podnet.conflist"))
        '/run/podnet-lab/node2/root/etc/cni/net.d/10-podnet.conflist'
        """
        return self.root / node_path.lstrip("/")


def node(name: str) -> Node:
    """The Node called `name` ("node1"); a ValueError names the expected form otherwise.

    >>> node("node12").ip
    IPv4Address('192.0.2.22')
    """
    match = _NODE_NAME.fullmatch(name)
    if not match or int(match[1]) > MAX_NODES:
        raise ValueError(f"{name!r} is not a lab node name: node1..node{MAX_NODES}")
    return Node(int(match[1]))


def nodes(count: int) -> tuple[Node, ...]:
    """node1..node<count>, checked against the underlay's room."""
    if not 1 <= count <= MAX_NODES:
        raise ValueError(
            f"nodes: {count} is outside 1..{MAX_NODES} "
            f"(node<i> is {UNDERLAY.network_address + 11}..{UNDERLAY.network_address + 250})"
        )
    return tuple(Node(i) for i in range(1, count + 1))
