"""Hosts-lab machines: a systemd container per node, in the node's own network namespace.

A machine is what a bare-metal node is to Ansible: reached over SSH as the `podnet` user
with sudo, running its distribution's systemd, Python and packages, addressed at boot by
systemd-networkd. Its network namespace podnet-lab-<node> is the lab's, made before the
container starts: eth0 on the underlay bridge (as in the namespace lab) and eth1 on the
management bridge, both without addresses (networkd gives them at boot). What differs per
machine is written into its disk before the first boot: /etc/hosts, the .network files,
its SSH host key and the lab's public key for `podnet`.

A reboot is a reboot as far as podnet can tell: systemd shuts down, the network namespace
is deleted and made again (every link, address, route, neighbour and rule gone), the
container starts with its disk kept and /run empty, and systemd boots it.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from ..errors import LabError
from ..layout import (
    LAB_DIR,
    MGMT_BRIDGE,
    MGMT_HOST,
    MGMT_NETWORK,
    UNDERLAY_MTU,
    Node,
)
from ..system import link_exists, link_master, run, write_atomic
from .image import USER
from .podman import exists, names, podman

SSH_DIR = LAB_DIR / "ssh"
SSH_KEY = SSH_DIR / "id_ed25519"
KNOWN_HOSTS = SSH_DIR / "known_hosts"
CONTAINER_PREFIX = "podnet-lab-node"
BOOT_TIMEOUT = 90.0

# What a machine may do to the kernel: its own network namespace (NET_ADMIN, NET_RAW),
# mounts for `ip netns` and systemd (SYS_ADMIN), sudo's audit records (AUDIT_WRITE).
# /proc/sys unmasked so that sysctls of its namespace can be written, as on a host.
_RUN_FLAGS = (
    "--systemd=always",
    "--no-hosts",  # podman's copy of this machine's /etc/hosts would stall sudo on DNS
    "--cap-add=NET_ADMIN",
    "--cap-add=SYS_ADMIN",
    "--cap-add=NET_RAW",
    "--cap-add=AUDIT_WRITE",
    "--security-opt=unmask=/proc/sys",
    "--device=/dev/net/tun",  # wireguard-go
    "--stop-timeout=30",
)


def _limits() -> list[str]:
    """Limits runc can set here: podman's defaults (a million open files, as many processes
    as the kernel allows) make runc fail with `error setting rlimit ... operation not
    permitted` on this machine (hard nofile 20000; an nproc of 65536 fails too, 32768
    works). A server's systemd, sshd and a play need a few hundred of each."""
    nofile = min(resource.getrlimit(resource.RLIMIT_NOFILE)[1], 16384)
    return [f"--ulimit=nofile={nofile}:{nofile}", "--ulimit=nproc=8192:8192"]


def container(node: Node) -> str:
    return f"podnet-lab-{node.name}"


def _network_files(node: Node) -> dict[str, str]:
    underlay = node.segment
    return {
        "/etc/systemd/network/10-eth0.network": (
            "[Match]\nName=eth0\n\n[Network]\n"
            f"Address={node.interface}\nGateway={underlay.gateway}\n"
            "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        ),
        "/etc/systemd/network/20-eth1.network": (
            "[Match]\nName=eth1\n\n[Network]\n"
            f"Address={node.mgmt_ip}/{MGMT_NETWORK.prefixlen}\n"
            "LinkLocalAddressing=no\nIPv6AcceptRA=no\n"
        ),
        # As the Debian installer writes it: sudo resolves the host name without DNS.
        "/etc/hosts": (
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{node.name}\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n"
        ),
    }


def _ensure_lab_key() -> str:
    """The lab's SSH key pair (made once per lab); returns the public key line."""
    SSH_DIR.mkdir(parents=True, exist_ok=True)
    SSH_DIR.chmod(0o700)
    if not SSH_KEY.exists():
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "podnet-lab", "-f", SSH_KEY])
    return SSH_KEY.with_suffix(".pub").read_text()


def _host_key(node: Node) -> tuple[bytes, str]:
    """A new host key for the machine: (private key file, public key line)."""
    key = node.dir / "ssh_host_ed25519_key"
    key.unlink(missing_ok=True)
    key.with_suffix(".pub").unlink(missing_ok=True)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{node.name}", "-f", key])
    return key.read_bytes(), key.with_suffix(".pub").read_text().strip()


def _write_known_hosts(lines: dict[str, str]) -> None:
    known = {}
    if KNOWN_HOSTS.exists():
        known = dict(line.split(" ", 1) for line in KNOWN_HOSTS.read_text().splitlines())
    known.update(lines)
    write_atomic(KNOWN_HOSTS, "".join(f"{h} {k}\n" for h, k in sorted(known.items())))


def _user_ids(root: Path) -> tuple[int, int]:
    for line in (root / "etc/passwd").read_text().splitlines():
        fields = line.split(":")
        if fields[0] == USER:
            return int(fields[2]), int(fields[3])
    raise LabError(f"the image has no user {USER}: rebuild it (`lab.py down --images`)")


def _put(root: Path, path: str, data: bytes, mode: int, owner: tuple[int, int] = (0, 0)) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    target.chmod(mode)
    os.chown(target, *owner)


def _personalize(node: Node, public_key: str) -> None:
    """Write the machine's own files into its disk (before its first boot)."""
    root = Path(podman("mount", container(node), where=node.name))
    try:
        for path, text in _network_files(node).items():
            _put(root, path, text.encode(), 0o644)
        private, public = _host_key(node)
        _put(root, "/etc/ssh/ssh_host_ed25519_key", private, 0o600)
        _put(root, "/etc/ssh/ssh_host_ed25519_key.pub", (public + "\n").encode(), 0o644)
        uid_gid = _user_ids(root)
        home = f"/home/{USER}/.ssh"
        _put(root, f"{home}/authorized_keys", public_key.encode(), 0o600, uid_gid)
        (root / home.lstrip("/")).chmod(0o700)
        os.chown(root / home.lstrip("/"), *uid_gid)
    finally:
        podman("unmount", container(node), where=node.name)
    _write_known_hosts({f"{node.name},{node.mgmt_ip}": public})


def ensure_mgmt_bridge() -> None:
    if not link_exists(MGMT_BRIDGE):
        run(["ip", "link", "add", MGMT_BRIDGE, "type", "bridge"])
        run(["ip", "addr", "add", str(MGMT_HOST), "dev", MGMT_BRIDGE])
    run(["ip", "link", "set", MGMT_BRIDGE, "up"])


def remove_mgmt_bridge() -> list[str]:
    if not link_exists(MGMT_BRIDGE):
        return []
    run(["ip", "link", "del", MGMT_BRIDGE])
    return [MGMT_BRIDGE]


def _wire(node: Node) -> None:
    """The machine's network namespace with eth0 (underlay) and eth1 (management)."""
    run(["ip", "netns", "add", node.netns], where=node.name)
    legs = ((node.veth, "eth0", node.segment.bridge), (node.mgmt_veth, "eth1", MGMT_BRIDGE))
    for host_end, inside, bridge in legs:
        peer = ["peer", "name", inside, "netns", node.netns]
        run(["ip", "link", "add", host_end, "type", "veth", *peer], where=node.name)
        run(["ip", "link", "set", "dev", host_end, "master", bridge, "addrgenmode", "none"])
        run(["ip", "link", "set", "dev", host_end, "mtu", str(UNDERLAY_MTU), "up"])


def _unwire(node: Node) -> None:
    """Remove both legs and the namespace (with the machine stopped, nothing holds it)."""
    for host_end in (node.veth, node.mgmt_veth):
        if link_exists(host_end):
            run(["ip", "link", "del", "dev", host_end], where=node.name)
    if node.netns_path.exists():
        run(["ip", "netns", "del", node.netns], where=node.name)


def _record_pid(node: Node) -> None:
    pid = podman("inspect", "--format", "{{.State.Pid}}", container(node), where=node.name)
    write_atomic(node.pid_file, pid + "\n")


def _ssh_answers(node: Node) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((str(node.mgmt_ip), 22), 1):
        return True
    return False


def wait_booted(node: Node, timeout: float = BOOT_TIMEOUT) -> str:
    """Wait until systemd has finished booting and sshd answers; the system state."""
    deadline = time.monotonic() + timeout
    state = ""
    while time.monotonic() < deadline:
        done = run(
            ["podman", "exec", container(node), "systemctl", "is-system-running"],
            check=False,
        )
        state = done.stdout.strip()
        if state in ("running", "degraded") and _ssh_answers(node):
            return state
        time.sleep(0.5)
    failed = run(
        ["podman", "exec", container(node), "systemctl", "--failed", "--no-legend"], check=False
    ).stdout.strip()
    raise LabError(
        f"{node.name} did not finish booting in {timeout:.0f} s (state {state!r}); "
        f"failed units: {failed or 'none'}"
    )


def create_machine(node: Node, image: str) -> None:
    """Make the machine from nothing and boot it; on failure remove what was made."""
    try:
        node.dir.mkdir(parents=True, exist_ok=True)
        _wire(node)
        podman(
            "create",
            f"--name={container(node)}",
            f"--hostname={node.name}",
            f"--network=ns:{node.netns_path}",
            *_RUN_FLAGS,
            *_limits(),
            image,
            where=node.name,
        )
        _personalize(node, _ensure_lab_key())
        podman("start", container(node), where=node.name)
        _record_pid(node)
        write_atomic(node.dir / "image", image + "\n")
        wait_booted(node)
    except BaseException:
        remove_machine(node)
        raise


def machine_is_complete(node: Node, image: str) -> bool:
    """Running, from `image`, in its own namespace, with both legs on their bridges."""
    if not exists("container", container(node)):
        return False
    running = podman("inspect", "--format", "{{.State.Running}}", container(node))
    return (
        running == "true"
        and (node.dir / "image").exists()
        and (node.dir / "image").read_text().strip() == image
        and node.netns_path.exists()
        and link_master(node.veth) == node.segment.bridge
        and link_master(node.mgmt_veth) == MGMT_BRIDGE
    )


def remove_machine(node: Node) -> None:
    """Remove the container (stopping it), its links and namespace; the caller its files."""
    if exists("container", container(node)):
        podman("rm", "--force", "--time=5", container(node), where=node.name)
    _unwire(node)
    node.pid_file.unlink(missing_ok=True)


def machine_containers() -> list[str]:
    """Every container of the hosts lab, running or not."""
    return names("ps", CONTAINER_PREFIX)


def reboot(node: Node) -> float:
    """Power-cycle the machine: shutdown, a new empty network namespace, boot. Seconds taken."""
    started = time.monotonic()
    podman("stop", "--time=30", container(node), where=node.name)
    _unwire(node)
    _wire(node)
    podman("start", container(node), where=node.name)
    _record_pid(node)
    wait_booted(node)
    return time.monotonic() - started


def machine_exec(
    node: Node, argv: Sequence[str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run `argv` in the machine (podman exec: its namespaces, cgroup and root), as root."""
    return run(["podman", "exec", container(node), *argv], check=check, where=node.name)


def kubelet_records(node: Node) -> list[dict[str, object]]:
    """What the stand-in kubelet recorded, one entry per boot, oldest first."""
    done = machine_exec(node, ["cat", "/var/lib/podnet-lab/kubelet-records.jsonl"], check=False)
    if done.returncode != 0:
        return []
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
