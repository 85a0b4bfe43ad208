"""Fleet benchmark: site.yml on namespace fleets, and the vxlan module at fleet sizes.

Run as root from a checkout, under the lab lock (other runs share the lab's names):
``flock /run/lock/podnet-integration.lock make bench-fleet``. It prints figures and
never asserts: timing on a shared machine is not a test.

1. site.yml (vxlan, the lab inventory) on fresh flat labs of --nodes (3, 10, 20): the
   first run at forks 25, then the same playbook unchanged at forks 5 and at forks 25.
   "per host" is the unchanged forks-25 wall time divided by the nodes; "tasks" are a
   host's tasks from the play recap (ok, of which changed, and skipped).
2. podnet.fabric.vxlan as ansible-playbook runs it, at --peers (100, 1,000, 5,000), in
   the form the checkout's node role passes peers (detected in its vxlan module): from
   empty and unchanged, minus the same play with `ping` in its place (so the figure is
   the task alone), each the best of --repeat, next to `ip -batch` + `bridge -batch`
   making the same objects (tests/bench/bench_apply.py's measurement).

--baseline DIR measures another checkout too (e.g. a worktree of main, with its own
`make bootstrap`), in the same run, with this file's code, and prints both tables: the
before and after of a change, measured on the same machine state. Every checkout's module
rows (2) are measured before any fleet (1), on a kernel not busy removing a lab.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parents[2]
FIRST_FORKS = 25
UNCHANGED_FORKS = (5, 25)
# PLAY RECAP line: "node1 : ok=17 changed=0 unreachable=0 failed=0 skipped=3 ..."
RECAP = re.compile(r"^(\S+)\s+:\s+ok=(\d+)\s+changed=(\d+).*?skipped=(\d+)", re.MULTILINE)


@dataclass
class FleetRow:
    nodes: int
    first: float
    unchanged: dict[int, float]
    tasks: tuple[int, int, int]  # ok, changed, skipped: node1's, unchanged run
    cpu: float  # CPU seconds of the unchanged forks-25 run (controller and lab modules)

    @property
    def per_host(self) -> float:
        return self.unchanged[25] / self.nodes


@dataclass
class ModuleRow:
    peers: int
    batch: float
    base: float
    fresh: float
    unchanged: float


class Checkout:
    """One checkout under test: its venv, its lab tool and its playbooks."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.bin = self.root / ".venv" / "bin"
        if not (self.bin / "ansible-playbook").exists():
            raise SystemExit(f"{self.root}: no .venv (run `make bootstrap` there)")
        self.env = {**os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}"}
        self.env.pop("ANSIBLE_CONFIG", None)  # the checkout's own ansible.cfg

    def run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            list(argv), cwd=self.root, env=self.env, capture_output=True, text=True, check=False
        )
        if check and done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed in {self.root}:\n{done.stdout}{done.stderr}")
        return done

    def lab(self, *argv: str) -> None:
        self.run(str(self.bin / "python"), "tests/lab/lab.py", *argv)

    def site(self, forks: int) -> tuple[float, str, float]:
        """Wall seconds, output, and CPU seconds of every process of the run (a lab node's
        modules are children too, so this is controller and hosts together)."""
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        playbook = str(self.bin / "ansible-playbook")
        done = self.run(playbook, "-i", "inventories/lab", "-f", str(forks), "site.yml")
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = after.ru_utime + after.ru_stime - used.ru_utime - used.ru_stime
        return wall, done.stdout, cpu

    def compact_peers(self) -> bool:
        """Whether this checkout's vxlan module takes the peers as one table string."""
        return "peer_table" in (self.root / "plugins/modules/vxlan.py").read_text()

    def bench_apply(self) -> ModuleType:
        path = self.root / "tests" / "bench" / "bench_apply.py"
        spec = importlib.util.spec_from_file_location(f"bench_apply_{id(self)}", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module


# --- 1. site.yml on fleets ---------------------------------------------------------------


def tasks_of(recap: str, host: str) -> tuple[int, int, int]:
    for name, ok, changed, skipped in RECAP.findall(recap):
        if name == host:
            return int(ok), int(changed), int(skipped)
    raise SystemExit(f"no recap line for {host}:\n{recap[-2000:]}")


def bench_fleet(checkout: Checkout, nodes: int) -> FleetRow:
    checkout.lab("down", "--lab-only")
    checkout.lab("up", "--nodes", str(nodes))
    first, _, _ = checkout.site(FIRST_FORKS)
    unchanged: dict[int, float] = {}
    recap, cpu = "", 0.0
    for forks in UNCHANGED_FORKS:
        unchanged[forks], recap, cpu = checkout.site(forks)
    row = FleetRow(nodes, first, unchanged, tasks_of(recap, "node1"), cpu)
    checkout.lab("down", "--lab-only")
    return row


# --- 2. the module ----------------------------------------------------------------------

PLAY = """\
- name: podnet.fabric.vxlan, with its peers in the form the node role passes them
  hosts: all
  gather_facts: false
  tasks:
    - name: The peers, as the role has them from the plan (a fact, parsed once)
      ansible.builtin.set_fact:
        bench_peers: "{{ lookup('ansible.builtin.file', 'PEERS_FILE') PARSE }}"
    - name: TASK_NAME
TASK
"""

VXLAN_TASK = """\
      vxlan:
        state: present
        dev: eth0
        local: 192.0.2.11
        mtu: 1450
        vtep_mac: "0a:00:00:00:ff:01"
        subnet: 10.0.0.0/24
        network: 10.0.0.0/8
        OPTION: "{{ bench_peers }}"
"""
PING_TASK = "      ansible.builtin.ping:\n"


def peer_table(peers: list[dict[str, str]]) -> str:
    """The compact form: one line per peer, its fields in PEER_KEYS order."""
    return "".join(f"{p['name']} {p['subnet']} {p['public_ip']} {p['vtep_mac']}\n" for p in peers)


def module_play(compact: bool, peers_file: Path, task: str) -> str:
    parse = "" if compact else "| from_json"
    body = task.replace("OPTION", "peer_table" if compact else "peers")
    return (
        PLAY.replace("PEERS_FILE", str(peers_file))
        .replace(" PARSE", f" {parse}" if parse else "")
        .replace("TASK_NAME", "VXLAN device and peers" if task is VXLAN_TASK else "Ping")
        .replace("TASK\n", body)
    )


def playbook(checkout: Checkout, netns: str, workdir: Path, play: str) -> float:
    wrapper = workdir / f"python-{netns}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {checkout.bin}/python "$@"\n')
    wrapper.chmod(0o755)
    book = workdir / f"play-{abs(hash(play))}.yml"
    book.write_text(play)
    env = {**checkout.env, "ANSIBLE_PIPELINING": "1"}
    started = time.perf_counter()
    done = subprocess.run(
        [str(checkout.bin / "ansible-playbook"), "-i", "bench,", "-c", "local",
         "-e", f"ansible_python_interpreter={wrapper}", str(book)],
        cwd=checkout.root, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{done.stdout}\n{done.stderr}")
    return seconds


def bench_module(checkout: Checkout, count: int, workdir: Path, repeat: int) -> ModuleRow:
    """Best of `repeat` for each figure (a fresh namespace for each run from empty): one
    playbook run is ~1 s of Ansible's own, and its noise is the size of what is measured."""
    apply = checkout.bench_apply()
    compact = checkout.compact_peers()
    peers = [apply.peer(i) for i in range(count)]
    peers_file = workdir / f"peers-{count}.{'txt' if compact else 'json'}"
    peers_file.write_text(peer_table(peers) if compact else json.dumps(peers))
    ping = module_play(compact, peers_file, PING_TASK)
    vxlan = module_play(compact, peers_file, VXLAN_TASK)
    batch, base, fresh, again = [], [], [], []
    try:
        for attempt in range(repeat):
            batch.append(apply.bench_batch(count, workdir)["batch"])
            netns = apply.fresh_namespace(f"m{count}-{attempt}")
            base.append(playbook(checkout, netns, workdir, ping))
            fresh.append(playbook(checkout, netns, workdir, vxlan))
            again.append(playbook(checkout, netns, workdir, vxlan))
            apply.remove_namespaces()
    finally:
        apply.remove_namespaces()
    best_base = min(base)
    return ModuleRow(count, min(batch), best_base, min(fresh) - best_base, min(again) - best_base)


# --- report ------------------------------------------------------------------------------


def print_tables(label: str, fleet: list[FleetRow], module: list[ModuleRow]) -> None:
    print(f"== {label}")
    if fleet:
        print(
            "| nodes | first run (f25) | unchanged, forks 5 | unchanged, forks 25 |"
            " per host, unchanged f25 | CPU per host, unchanged f25 |"
            " tasks per host (ok / changed / skipped) |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in fleet:
            ok, changed, skipped = r.tasks
            print(
                f"| {r.nodes} | {r.first:.1f} s | {r.unchanged[5]:.1f} s | {r.unchanged[25]:.1f} s"
                f" | {r.per_host:.2f} s | {r.cpu / r.nodes:.2f} s | {ok} / {changed} / {skipped} |"
            )
        small, big = fleet[0], fleet[-1]
        if small is not big:
            print(
                f"per-host cost at {big.nodes} nodes vs {small.nodes}: "
                f"{big.per_host / small.per_host:.2f}x"
            )
    if module:
        print()
        print(
            "| peers | ip -batch + bridge -batch | module from empty | ratio |"
            " module unchanged | play base (ping) |"
        )
        print("|---|---|---|---|---|---|")
        for m in module:
            print(
                f"| {m.peers:,} | {m.batch:.2f} s | {m.fresh:.2f} s | {m.fresh / m.batch:.1f}x"
                f" | {m.unchanged:.2f} s | {m.base:.2f} s |"
            )
    print(flush=True)


def measure_modules(checkout: Checkout, args: argparse.Namespace) -> list[ModuleRow]:
    module: list[ModuleRow] = []
    workdir = Path(tempfile.mkdtemp(prefix="podnet-bench-fleet-"))
    try:
        for count in args.peers:
            module.append(bench_module(checkout, count, workdir, args.repeat))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return module


def measure_fleet(checkout: Checkout, args: argparse.Namespace) -> list[FleetRow]:
    fleet: list[FleetRow] = []
    for nodes in args.nodes:
        started = time.perf_counter()
        fleet.append(bench_fleet(checkout, nodes))
        print(
            f"  {checkout.root}: {nodes} nodes in {time.perf_counter() - started:.0f} s", flush=True
        )
    return fleet


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="*", default=[3, 10, 20])
    parser.add_argument("--peers", type=int, nargs="*", default=[100, 1_000, 5_000])
    parser.add_argument("--repeat", type=int, default=5, help="module runs; the best counts")
    parser.add_argument("--repo", type=Path, default=HERE, help="the checkout to measure")
    parser.add_argument("--baseline", type=Path, help="another checkout, measured first")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_fleet needs root (namespaces)", file=sys.stderr)
        return 2
    print(
        f"podnet fleet benchmark: Python {sys.version.split()[0]}, kernel {os.uname().release},"
        f" {os.cpu_count()} CPUs",
        flush=True,
    )
    checkouts = [Checkout(args.baseline)] if args.baseline else []
    checkouts.append(Checkout(args.repo))
    # Every checkout's module rows first: the kernel tears a fleet lab's namespaces down in
    # the background for a while after `lab down`, and a module measured then read up to
    # 0.3 s slower (1.12 s against 0.82 s from empty at 5,000 peers, this machine).
    modules = [measure_modules(checkout, args) for checkout in checkouts]
    fleets = [measure_fleet(checkout, args) for checkout in checkouts]
    print()
    for checkout, fleet, module in zip(checkouts, fleets, modules, strict=True):
        label = "baseline" if args.baseline and checkout is checkouts[0] else "this checkout"
        print_tables(f"{label}: {checkout.root}", fleet, module)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
