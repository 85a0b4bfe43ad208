"""One lab node: its network namespace, its eth0 on the underlay, its mount namespace.

A node is built in this order, and each step needs the one before:
1. the network namespace (`ip netns add` also makes /run/netns a shared mount, which the
   node's mount namespace must already see so that pod namespaces added later propagate);
2. a veth pair: the host end on its segment's bridge, the other end created straight
   inside the namespace as eth0; then lo, eth0's address and a default route via the
   segment's gateway;
3. the mount namespace, made from inside the network namespace so that the sysfs it
   mounts shows the node's links (Ansible's facts read /sys/class/net);
4. the interpreter wrapper that the inventory names as ansible_python_interpreter.
Removal runs the other way, after stopping any wireguard-go inside the node (it would
keep the namespace alive); deleting the host end of the veth deletes eth0 at once,
whereas a deleted network namespace is cleaned up by the kernel asynchronously.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence

from .layout import (
    NETNS_DIR,
    PRIVATE_PATHS,
    UNDERLAY_MTU,
    VENV_PYTHON,
    Node,
    Topology,
)
from .layout import node as find_node
from .procs import stop_wireguard_go
from .system import LabError, ip_json, is_mounted, link_exists, link_master, run, unmount_all

# Runs inside the fresh mount namespace (as `sh -ec SCRIPT sh src dst src dst ...`).
# sysfs is detached and mounted again, as `ip netns exec` does: a sysfs mount shows the
# links of the network namespace of whoever mounted it.
_MOUNT_SCRIPT = """\
umount -l /sys
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
while [ "$#" -gt 0 ]; do mount --bind "$1" "$2"; shift 2; done
"""


def wrapper_text(node: Node) -> str:
    """The interpreter wrapper: the venv's Python inside the node's namespaces.

    A wrapper file, not `nsenter ... python` in ansible_python_interpreter: ansible-core
    2.18+ quotes the interpreter as one word (ansible/ansible#83365). Entering a mount
    namespace resets the working directory to /, so --wd restores the caller's, as a plain
    interpreter would keep it.
    """
    return (
        "#!/bin/sh\n"
        f"# {node.name} of the podnet lab (written by tests/lab/lab.py up): the checkout's\n"
        "# Python, run inside the node's network and mount namespaces.\n"
        f"exec nsenter --net={node.netns_path} --mount={node.mnt} "
        f'--wd="${{PWD:-/}}" -- {VENV_PYTHON} "$@"\n'
    )


def _wire_underlay(node: Node) -> None:
    # The peer is created inside the namespace already named eth0: no rename, no window
    # in which a node has no eth0. addrgenmode none keeps the host off the underlay (no
    # IPv6 link-local address on the host end).
    peer = ["peer", "name", "eth0", "netns", node.netns]
    run(["ip", "link", "add", node.veth, "type", "veth", *peer])
    bridge = node.segment.bridge
    run(["ip", "link", "set", "dev", node.veth, "master", bridge, "addrgenmode", "none"])
    run(["ip", "link", "set", "dev", node.veth, "mtu", str(UNDERLAY_MTU), "up"])
    batch = (
        "link set lo up\n"
        f"link set eth0 mtu {UNDERLAY_MTU} up\n"
        f"addr add {node.interface} dev eth0\n"
        f"route add default via {node.segment.gateway} dev eth0\n"
    )
    run(["ip", "-n", node.netns, "-batch", "-"], stdin=batch, where=node.name)


def _make_mount_namespace(node: Node) -> None:
    binds: list[str] = []
    for path in PRIVATE_PATHS:
        source = node.host_path(path)
        source.mkdir(parents=True, exist_ok=True)
        binds += [str(source), path]
    node.mnt.touch()
    # nsenter --net only (not `ip netns exec`, which would add a throwaway mount namespace):
    # unshare binds the new namespace to node.mnt in the namespace it was started from, and
    # that must be the host's. --propagation slave: mounts made on the host later (pod
    # namespaces under /run/netns) still appear inside; nothing made inside leaks out.
    unshare = ["unshare", f"--mount={node.mnt}", "--propagation", "slave", "--"]
    script = ["sh", "-ec", _MOUNT_SCRIPT, "sh", *binds]
    run(
        ["nsenter", f"--net={node.netns_path}", *unshare, *script],
        where=f"{node.name}: mount namespace",
    )


def build_node(node: Node) -> None:
    """Create `node` from nothing; on failure remove what was made, then re-raise."""
    try:
        node.dir.mkdir(parents=True, exist_ok=True)
        run(["ip", "netns", "add", node.netns], where=node.name)
        _wire_underlay(node)
        _make_mount_namespace(node)
        node.python.write_text(wrapper_text(node))
        node.python.chmod(0o755)
    except BaseException:
        remove_node(node)
        raise


def node_is_complete(node: Node) -> bool:
    """Whether every piece of `node` exists, on the segment it belongs to.

    A crashed `up` can leave half a node; a topology switch leaves a node on the other
    segment, with the other address. The private directories are checked too: a node
    built before a path joined PRIVATE_PATHS lacks its bind mount and is rebuilt.
    """
    if not (
        is_mounted(node.netns_path, "nsfs")
        and is_mounted(node.mnt, "nsfs")
        and link_master(node.veth) == node.segment.bridge
        and node.python.is_file()
        and all(node.host_path(p).is_dir() for p in PRIVATE_PATHS)
    ):
        return False
    addresses = [
        (a["local"], a["prefixlen"])
        for link in ip_json("addr", "show", "dev", "eth0", netns=node.netns)
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    ]
    return addresses == [(str(node.ip), node.segment.network.prefixlen)]


def remove_node(node: Node) -> None:
    """Remove whatever of `node` exists: wireguard-go, pod, links, namespaces, files."""
    stop_wireguard_go([node.netns_path])
    if link_exists(node.veth):
        run(["ip", "link", "del", "dev", node.veth], where=node.name)
    # Named, not node.pod_netns_path: a hosts-lab machine's pods went with the machine.
    for path in (NETNS_DIR / node.pod_netns, node.netns_path):
        if path.exists():
            run(["ip", "netns", "del", path.name], where=node.name)
    if node.dir.exists():
        unmount_all(node.dir)
        shutil.rmtree(node.dir)


def run_in_node(
    each: Node,
    argv: Sequence[str],
    *,
    check: bool = True,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside the node's network and mount namespaces (working directory /).

    A hosts-lab machine's are its init's: what runs sees the machine's own files and tools.
    """
    if not each.netns_path.exists():
        raise LabError(f"{each.name} does not exist: run `tests/lab/lab.py up` first")
    if each.topology is Topology.HOSTS:
        enter = ["nsenter", f"--target={each.pid()}", "--net", "--mount", "--pid", "--wd=/"]
    else:
        enter = ["nsenter", f"--net={each.netns_path}", f"--mount={each.mnt}"]
    return run(
        [*enter, "--", *argv],
        check=check,
        stdin=stdin,
        env=env,
        where=each.name,
    )


def node_run(
    name: str, argv: Sequence[str], check: bool = True, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `argv` inside node `name`'s network and mount namespaces, output captured.

    check=True raises CommandFailed (also a CalledProcessError) with the command's stderr.
    """
    return run_in_node(find_node(name), argv, check=check, stdin=stdin)


def pod_netns_command(each: Node, *args: str) -> None:
    """`ip netns <args>` for the node's pod: on this machine for a namespace node (whose
    mount namespace sees the host's /run/netns), inside a hosts-lab machine for its own."""
    argv = ["ip", "netns", *args]
    if each.topology is Topology.HOSTS:
        run_in_node(each, argv)
    else:
        run(argv, where=each.name)
