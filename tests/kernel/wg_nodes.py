"""Two throwaway WireGuard nodes for the kernel tests: network namespaces joined by a veth,
each with a mount namespace of its own in which /run is a fresh tmpfs.

Why the mount namespace: wireguard-go puts its UAPI socket at /var/run/wireguard/<dev>.sock,
a fixed path, and `wg` finds the device there. Two namespaces that both run `flannel-wg`
through wireguard-go would share that path (and the second would take over the first's
socket) unless each sees its own /run. So each node has a holder process, `sleep`, started
inside the node's network namespace under `unshare --mount` with a tmpfs on /run; every
command of the node (the modules, wg, ping) runs with `nsenter --target <holder> --net
--mount`. The lab does the same with a bind-mounted namespace file; a holder process is
enough for a test and leaves nothing mounted on the host when it ends.

Teardown deletes the nodes' links first (wireguard-go exits when its TUN goes, which takes
it about 1.5 s, so both nodes are torn down together), then checks that no wireguard-go is
left in either namespace: a leftover is killed and reported as a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable  # the test run's interpreter has ansible-core
NETNS_PREFIX = "podnet-test-"
UNDERLAY = "192.0.2.{}"


class LeftoverProcess(AssertionError):
    """A wireguard-go outlived its namespace's devices."""


@dataclass
class WgNode:
    """One node: `index` n has underlay address 192.0.2.1n and pod subnet 10.244.n.0/24."""

    index: int
    netns: str
    home: Path  # the node's files (key file, command log) live below here
    holder: subprocess.Popen[bytes] | None = None
    outputs: list[str] = field(default_factory=list)  # every module's stdout + stderr
    secrets: set[str] = field(default_factory=set)  # every private key its key file held

    @property
    def name(self) -> str:
        return f"node{self.index}"

    @property
    def underlay_ip(self) -> str:
        return UNDERLAY.format(10 + self.index)

    @property
    def address(self) -> str:
        return f"10.244.{self.index}.0"

    @property
    def key_file(self) -> Path:
        return self.home / "podnet" / "wireguard.key"

    def enter(self) -> list[str]:
        assert self.holder is not None
        return ["nsenter", f"--target={self.holder.pid}", "--net", "--mount", f"--wd={REPO}", "--"]

    def run(
        self, *argv: str, check: bool = True, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.enter(), *argv],
            capture_output=True,
            text=True,
            check=check,
            env={**os.environ, **(env or {})},
        )

    def module(
        self, name: str, args: dict[str, Any], env: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """Run podnet.fabric.<name> as Ansible would (its main, arguments as JSON)."""
        payload = json.dumps({"ANSIBLE_MODULE_ARGS": args})
        done = self.run(PYTHON, "-m", f"plugins.modules.{name}", payload, check=False, env=env)
        self.outputs.append(done.stdout + done.stderr)
        self._remember_key()
        try:
            result: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError:
            raise AssertionError(f"no JSON from {name}: {done.stdout}{done.stderr}") from None
        return result

    def _remember_key(self) -> None:
        try:
            text = self.key_file.read_text().strip()
        except FileNotFoundError:
            return
        if text:
            self.secrets.add(text)

    def wg_dump(self) -> str:
        return self.run("wg", "show", "flannel-wg", "dump").stdout

    def peer_keys(self) -> list[str]:
        return [line.split("\t")[0] for line in self.wg_dump().splitlines()[1:]]

    def ping(self, destination: str, source: str, attempts: int = 20) -> bool:
        """Whether `destination` answers from `source` (the first packets wait for the
        WireGuard handshake, so a few tries)."""
        for _ in range(attempts):
            done = subprocess.run(
                ["ip", "netns", "exec", self.netns, "ping", "-c1", "-W1", "-I", source,
                 destination],
                capture_output=True,
                check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return True
            time.sleep(0.1)
        return False


def ip(*args: str, netns: str | None = None, check: bool = True) -> str:
    command = ["ip", *(["-n", netns] if netns else []), *args]
    return subprocess.run(command, check=check, capture_output=True, text=True).stdout


def make_nodes(home: Path, count: int = 2) -> list[WgNode]:
    """`count` nodes on one underlay: node1's eth0 and node2's eth0 are a veth pair."""
    assert count in (1, 2)
    nodes = []
    try:
        for index in range(1, count + 1):
            node = WgNode(index, NETNS_PREFIX + uuid.uuid4().hex[:8], home / f"node{index}")
            node.home.mkdir(parents=True)
            nodes.append(node)
            ip("netns", "add", node.netns)
            ip("link", "set", "lo", "up", netns=node.netns)
            node.holder = _start_holder(node.netns)
        if count == 2:
            first, second = nodes
            ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns",
               second.netns, netns=first.netns)  # fmt: skip
            for node in nodes:
                ip("addr", "add", f"{node.underlay_ip}/24", "dev", "eth0", netns=node.netns)
                ip("link", "set", "eth0", "up", netns=node.netns)
    except BaseException:
        remove_nodes(nodes)
        raise
    return nodes


def _start_holder(netns: str) -> subprocess.Popen[bytes]:
    """A process that holds a new mount namespace (tmpfs on /run) inside `netns`.

    nsenter and unshare exec (no --fork), and so does sh, so the Popen's pid is the
    holder itself, already inside both namespaces once it prints `ready`.
    """
    script = "mount -t tmpfs -o mode=0755 podnet-test /run; echo ready; exec sleep infinity"
    holder = subprocess.Popen(
        ["nsenter", f"--net=/run/netns/{netns}", "unshare", "--mount", "--propagation",
         "private", "--", "sh", "-ec", script],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    assert holder.stdout is not None
    if holder.stdout.readline().strip() != b"ready":
        holder.kill()
        holder.wait()
        raise RuntimeError(f"{netns}: could not make a mount namespace with a private /run")
    return holder


def wireguard_go_in(netns: str) -> list[int]:
    """PIDs of wireguard-go processes in the network namespace `netns`."""
    try:
        target = os.stat(f"/run/netns/{netns}").st_ino
    except FileNotFoundError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            comm = Path(f"/proc/{entry}/comm").read_text().strip()
            if comm == "wireguard-go" and os.stat(f"/proc/{entry}/ns/net").st_ino == target:
                found.append(int(entry))
        except OSError:
            continue
    return found


def wait_for_no_wireguard_go(nodes: list[WgNode], timeout: float = 8.0) -> list[int]:
    """Wait until no wireguard-go runs in the nodes' namespaces; the PIDs still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for node in nodes for pid in wireguard_go_in(node.netns)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def remove_nodes(nodes: list[WgNode]) -> None:
    """Delete the nodes' links (wireguard-go exits), then the holders and namespaces.

    Raises LeftoverProcess, after killing them, if wireguard-go processes outlived their
    devices: a test that leaves one behind has found a bug.
    """
    for node in nodes:
        links = json.loads(ip("-j", "link", "show", netns=node.netns, check=False) or "[]")
        for link in links:
            if link["ifname"] not in ("lo", "eth0"):
                ip("link", "del", "dev", link["ifname"], netns=node.netns, check=False)
    left = wait_for_no_wireguard_go(nodes)
    for pid in left:  # started by this test's modules, in this test's namespaces
        os.kill(pid, signal.SIGKILL)
    for node in nodes:
        if node.holder is not None:
            node.holder.kill()
            node.holder.wait()
        ip("netns", "del", node.netns, check=False)
    if left:
        raise LeftoverProcess(f"wireguard-go still running after its device went: {left}")


def logging_wrappers(directory: Path, log: Path) -> dict[str, str]:
    """`ip`, `wg` and `wireguard-go` wrappers that log each call, then run the real one.

    Returns the environment that puts them first on PATH.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for program in ("ip", "wg", "wireguard-go"):
        real = shutil.which(program)
        assert real is not None, program
        wrapper = directory / program
        wrapper.write_text(f'#!/bin/sh\necho "{program} $*" >> {log}\nexec {real} "$@"\n')
        wrapper.chmod(0o755)
    return {"PATH": f"{directory}:{os.environ.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"}
