"""Host-side benchmark: the VXLAN reconciler against iproute2's batch mode and Ansible.

Run as root from a checkout: ``python tests/bench/bench_apply.py [--sizes 100 1000 5000]``.
It prints figures and ratios and never asserts: timing on a shared machine is not a test.

What is measured, per fleet size n (each host holds 3n objects: neighbour, FDB, route):
- reconciler, in this process, on a fresh namespace: validate the parameters, read, plan,
  diff, apply, and verify (the second read and diff the module does after writing), each
  timed on its own; then the same parameters again, unchanged (read + plan + diff, best of
  --repeat; apply is never called). The garbage collector stays on, as in a module run.
- `ip -batch` + `bridge -batch` doing the same operations on another fresh namespace:
  the device, its address and up, `neigh replace` per peer, `fdb replace` per peer,
  `route replace ... onlink` per peer, as three processes (neighbours, FDB, routes: the
  order that avoids ARPing for a gateway). Run twice; the second is what "unchanged"
  costs a tool that cannot tell.
- the module as Ansible runs it: `ansible-playbook` from the checkout (ansible.cfg's
  `library` finds `vxlan`) against one host whose Python is a wrapper running in the
  namespace (`ip netns exec`), connection local, pipelining on. Each play first makes
  the peers a fact (as the node role has them from the plan); "play base" is the same
  play with `ping` in the module's place, so module minus base is the task alone.
  A fresh run and an unchanged run.
- one Ansible task per peer, the way it is written by hand: a task looping over the
  peers, each item running `ip neigh replace`, `bridge fdb replace` and
  `ip route replace` (device pre-created); measured at --per-task-peers peers and
  extrapolated linearly to each size.

Namespaces are named podnet-bench-<pid>-*, and every one made is deleted at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from plugins.module_utils.kernel.proc import ProcNet  # noqa: E402
from plugins.module_utils.vxlan.diff import diff_vxlan  # noqa: E402
from plugins.module_utils.vxlan.host import (  # noqa: E402
    Host,
    apply_vxlan,
    read_vxlan,
    verify_vxlan,
)
from plugins.module_utils.vxlan.input import validate_params  # noqa: E402
from plugins.module_utils.vxlan.want import plan_vxlan  # noqa: E402
from pyroute2 import IPRoute  # noqa: E402

PYTHON = str(REPO / ".venv" / "bin" / "python")
PLAYBOOK_BIN = str(REPO / ".venv" / "bin" / "ansible-playbook")
PREFIX = f"podnet-bench-{os.getpid()}-"
UNCHANGED_GOAL = 0.25  # seconds, reconciler at 5,000 peers
FRESH_GOAL = 2.0  # times the batch tools
MAC = "0a:00:00:00:ff:01"


# --- inputs ----------------------------------------------------------------------------


def peer(index: int) -> dict[str, str]:
    """Peer `index`: subnet 10.<1+i/256>.<i%256>.0/24, public IP in 198.18.0.0/15."""
    return {
        "name": f"node{index:05d}",
        "subnet": f"10.{1 + index // 256}.{index % 256}.0/24",
        "public_ip": f"198.18.{index // 256}.{index % 256}",
        "vtep_mac": f"0a:00:00:{index >> 16 & 255:02x}:{index >> 8 & 255:02x}:{index & 255:02x}",
    }


def module_args(count: int) -> dict[str, Any]:
    return {
        "state": "present",
        "vni": 1,
        "family": 4,
        "port": 0,
        "gbp": False,
        "learning": False,
        "direct_routing": False,
        "dev": "eth0",
        "local": "192.0.2.11",
        "mtu": 1450,
        "vtep_mac": MAC,
        "subnet": "10.0.0.0/24",
        "network": "10.0.0.0/8",
        "peers": [peer(i) for i in range(count)],
    }


# --- namespaces ------------------------------------------------------------------------

_made: list[str] = []


def ip(*argv: str, netns: str | None = None) -> None:
    subprocess.run(["ip", *(["-n", netns] if netns else []), *argv], check=True)


def fresh_namespace(label: str) -> str:
    """A namespace with lo up and eth0 (one end of a veth) carrying 192.0.2.11/24."""
    name = f"{PREFIX}{label}"
    ip("netns", "add", name)
    _made.append(name)
    ip("link", "set", "lo", "up", netns=name)
    ip("link", "add", "eth0", "type", "veth", "peer", "name", "eth0-peer", netns=name)
    ip("addr", "add", "192.0.2.11/24", "dev", "eth0", netns=name)
    ip("link", "set", "eth0", "up", netns=name)
    ip("link", "set", "eth0-peer", "up", netns=name)
    return name


def remove_namespaces() -> None:
    while _made:
        subprocess.run(["ip", "netns", "del", _made.pop()], check=False)


@contextmanager
def host_in(netns: str) -> Iterator[Host]:
    with IPRoute(netns=netns, flags=0, groups=0) as ipr, Host(ipr, ProcNet(netns)) as host:
        yield host


def timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


# --- the reconciler in-process ---------------------------------------------------------


def bench_reconciler(count: int, repeat: int) -> dict[str, float]:
    args = module_args(count)
    netns = fresh_namespace(f"r{count}")
    out: dict[str, float] = {}
    with host_in(netns) as host:
        gc.collect()
        out["validate"], params = timed(lambda: validate_params(args))
        out["read"], reading = timed(lambda: read_vxlan(host, params))
        out["plan"], desired = timed(
            lambda: plan_vxlan(params, reading.underlay, reading.main_routes)
        )
        out["diff"], changes = timed(lambda: diff_vxlan(desired, reading.state))
        out["apply"], _ = timed(lambda: apply_vxlan(host, desired, changes, reading.device_index))
        out["verify"], _ = timed(lambda: verify_vxlan(desired, read_vxlan(host, params).state))
        out["changes"] = len(changes)
        out["fresh"] = out["read"] + out["plan"] + out["diff"] + out["apply"] + out["verify"]
        best: dict[str, float] = {}
        for _ in range(repeat):
            gc.collect()
            row = unchanged_once(host, params)
            if not best or row["u_total"] < best["u_total"]:
                best = row
        out.update(best)
    return out


def unchanged_once(host: Host, params: Any) -> dict[str, float]:
    """One run of the same plan on a host that already has it: read, plan, diff."""
    read_s, again = timed(lambda: read_vxlan(host, params))
    plan_s, desired = timed(lambda: plan_vxlan(params, again.underlay, again.main_routes))
    diff_s, leftover = timed(lambda: diff_vxlan(desired, again.state))
    assert not leftover, leftover[:3]  # the input's sanity, not a timing assertion
    return {
        "u_read": read_s,
        "u_plan": plan_s,
        "u_diff": diff_s,
        "u_total": read_s + plan_s + diff_s,
    }


# --- iproute2 batch --------------------------------------------------------------------


def bench_batch(count: int, workdir: Path) -> dict[str, float]:
    netns = fresh_namespace(f"b{count}")
    peers = [peer(i) for i in range(count)]
    setup = workdir / f"device-{count}.batch"
    neigh = workdir / f"neigh-{count}.batch"
    fdb = workdir / f"fdb-{count}.batch"
    route = workdir / f"route-{count}.batch"
    setup.write_text(
        f"link add flannel.1 address {MAC} mtu 1450 txqueuelen 0 type vxlan id 1 dev eth0"
        " local 192.0.2.11 nolearning ttl 0 dstport 0\n"
        "addr add 10.0.0.0/32 dev flannel.1\n"
        "link set flannel.1 up\n"
    )
    gateways = [p["subnet"].split("/")[0] for p in peers]
    neigh.write_text(
        "".join(
            f"neigh replace {gw} lladdr {p['vtep_mac']} dev flannel.1 nud permanent\n"
            for gw, p in zip(gateways, peers, strict=True)
        )
    )
    fdb.write_text(
        "".join(
            f"fdb replace {p['vtep_mac']} dev flannel.1 dst {p['public_ip']} self permanent\n"
            for p in peers
        )
    )
    route.write_text(
        "".join(
            f"route replace {p['subnet']} via {gw} dev flannel.1 onlink proto boot\n"
            for gw, p in zip(gateways, peers, strict=True)
        )
    )

    def run_all(first: bool) -> None:
        # The device in one batch with the neighbours the first time (as `ip` would be
        # used from empty); the second time only the per-peer replaces run again.
        text = (setup.read_text() if first else "") + neigh.read_text()
        subprocess.run(["ip", "-n", netns, "-batch", "-"], input=text, text=True, check=True)
        subprocess.run(["bridge", "-n", netns, "-batch", str(fdb)], check=True)
        subprocess.run(["ip", "-n", netns, "-batch", str(route)], check=True)

    fresh, _ = timed(lambda: run_all(True))
    again, _ = timed(lambda: run_all(False))
    return {"batch": fresh, "batch_again": again}


# --- Ansible ---------------------------------------------------------------------------

MODULE_PLAY = """\
- name: podnet.fabric.vxlan, as the node role calls it
  hosts: all
  gather_facts: false
  tasks:
    - name: The peers, as the role has them from the plan (a fact, parsed once)
      ansible.builtin.set_fact:
        bench_peers: "{{ lookup('ansible.builtin.file', 'VARS_FILE') | from_json }}"
    - name: VXLAN device and peers
      vxlan:
        state: present
        dev: eth0
        local: 192.0.2.11
        mtu: 1450
        vtep_mac: "0a:00:00:00:ff:01"
        subnet: 10.0.0.0/24
        network: 10.0.0.0/8
        peers: "{{ bench_peers }}"
"""

NOOP_PLAY = """\
- name: Ansible's own cost, peers included
  hosts: all
  gather_facts: false
  tasks:
    - name: The peers, as the role has them from the plan (a fact, parsed once)
      ansible.builtin.set_fact:
        bench_peers: "{{ lookup('ansible.builtin.file', 'VARS_FILE') | from_json }}"
    - name: No-op module round trip
      ansible.builtin.ping:
"""

# One task run per peer: its three commands in flanneld's order (neighbour, FDB, route).
# Three looped command tasks (one per object kind) would cost three module runs per peer.
PER_TASK_PLAY = """\
- name: One task per peer, as written by hand
  hosts: all
  gather_facts: false
  tasks:
    - name: The peers, as the role has them from the plan (a fact, parsed once)
      ansible.builtin.set_fact:
        bench_peers: "{{ lookup('ansible.builtin.file', 'VARS_FILE') | from_json }}"
    - name: Neighbour, FDB entry and route of one peer
      ansible.builtin.shell: >-
        ip neigh replace {{ item.subnet | split('/') | first }} lladdr {{ item.vtep_mac }}
        dev flannel.1 nud permanent &&
        bridge fdb replace {{ item.vtep_mac }} dev flannel.1 dst {{ item.public_ip }}
        self permanent &&
        ip route replace {{ item.subnet }} via {{ item.subnet | split('/') | first }}
        dev flannel.1 onlink
      loop: "{{ bench_peers }}"
      changed_when: true
"""


def playbook(netns: str, workdir: Path, play: str, count: int) -> tuple[float, str]:
    """Wall time of one ansible-playbook run against a host inside `netns`."""
    wrapper = workdir / f"python-{netns}"
    wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {PYTHON} "$@"\n')
    wrapper.chmod(0o755)
    # The peers become a fact parsed once, as the role's come from the plan. (`-e @file`
    # or vars_files would have Ansible 2.19 parse and tag the file on every variable
    # lookup: seconds at 5,000 peers that a node run does not pay.)
    facts = workdir / f"peers-{count}.json"
    if not facts.exists():
        facts.write_text(json.dumps([peer(i) for i in range(count)]))
    book = workdir / f"play-{abs(hash(play))}-{count}.yml"
    book.write_text(play.replace("VARS_FILE", str(facts)))
    env = {
        **os.environ,
        "ANSIBLE_PIPELINING": "1",
    }
    seconds, done = timed(
        lambda: subprocess.run(
            [
                PLAYBOOK_BIN,
                "-i",
                "bench,",
                "-c",
                "local",
                "-e",
                f"ansible_python_interpreter={wrapper}",
                str(book),
            ],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
    )
    if done.returncode != 0:
        raise SystemExit(f"ansible-playbook failed:\n{done.stdout}\n{done.stderr}")
    return seconds, done.stdout


def bench_module(count: int, workdir: Path) -> dict[str, float]:
    """The module fresh and unchanged, and the same play with `ping` in its place."""
    netns = fresh_namespace(f"m{count}")
    base, _ = playbook(netns, workdir, NOOP_PLAY, count)
    fresh, _ = playbook(netns, workdir, MODULE_PLAY, count)
    again, _ = playbook(netns, workdir, MODULE_PLAY, count)
    return {"play_base": base, "module": fresh, "module_again": again}


def bench_per_task(count: int, workdir: Path) -> tuple[int, float, float]:
    """(peers, the per-task play's seconds, the same play with `ping` instead)."""
    netns = fresh_namespace(f"t{count}")
    ip("link", "add", "flannel.1", "address", MAC, "mtu", "1450", "txqueuelen", "0",
       "type", "vxlan", "id", "1", "dev", "eth0", "local", "192.0.2.11", "nolearning",
       "ttl", "0", "dstport", "0", netns=netns)  # fmt: skip
    ip("addr", "add", "10.0.0.0/32", "dev", "flannel.1", netns=netns)
    ip("link", "set", "flannel.1", "up", netns=netns)
    base, _ = playbook(netns, workdir, NOOP_PLAY, count)
    seconds, _ = playbook(netns, workdir, PER_TASK_PLAY, count)
    return count, seconds, base


# --- report ----------------------------------------------------------------------------


def report(rows: list[dict[str, float]], per_task: tuple[int, float, float] | None) -> None:
    print("1. reconciler in-process, seconds (fresh namespace; then the same plan unchanged)")
    head = (
        f"{'peers':>6} {'objects':>8} {'validate':>9} {'read':>7} {'plan':>7} {'diff':>7}"
        f" {'apply':>7} {'verify':>7} {'fresh':>7} | {'read':>7} {'plan':>7} {'diff':>7}"
        f" {'unchanged':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['n']:>6,.0f} {r['changes']:>8,.0f} {r['validate']:>9.3f} {r['read']:>7.3f}"
            f" {r['plan']:>7.3f} {r['diff']:>7.3f} {r['apply']:>7.3f} {r['verify']:>7.3f}"
            f" {r['fresh']:>7.3f} | {r['u_read']:>7.3f} {r['u_plan']:>7.3f} {r['u_diff']:>7.3f}"
            f" {r['u_total']:>9.3f}"
        )
    print()
    print("2. against ip -batch + bridge -batch (same operations, fresh namespace), seconds")
    head = (
        f"{'peers':>6} {'podnet fresh':>12} {'+validate':>10} {'batch':>8} {'ratio':>6}"
        f" {'batch again':>11} {'podnet unchanged':>16} {'ratio':>6}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        fresh = r["fresh"]
        print(
            f"{r['n']:>6,.0f} {fresh:>12.3f} {fresh + r['validate']:>10.3f} {r['batch']:>8.3f}"
            f" {fresh / r['batch']:>5.2f}x {r['batch_again']:>11.3f} {r['u_total']:>16.3f}"
            f" {r['u_total'] / r['batch_again']:>5.2f}x"
        )
    print()
    if per_task is None:
        print("3. as Ansible runs it: skipped (--no-ansible)")
        print()
        goals(rows)
        return
    measured_at, measured, measured_base = per_task
    per_peer = (measured - measured_base) / measured_at
    print("3. as Ansible runs it: ansible-playbook wall time, seconds. Every play first turns the")
    print("   peers into a fact; 'play base' is that plus a ping. One task per peer was measured")
    print(
        f"   at {measured_at} peers ({measured:.1f} s, base {measured_base:.1f} s):"
        f" {per_peer:.3f} s a peer, extrapolated linearly on top of each size's base."
    )
    head = (
        f"{'peers':>6} {'play base':>9} {'module fresh':>12} {'module unchanged':>16}"
        f" {'(task alone)':>12} {'task per peer':>13} {'vs module':>9}"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        by_hand = r["play_base"] + per_peer * r["n"]
        print(
            f"{r['n']:>6,.0f} {r['play_base']:>9.2f} {r['module']:>12.2f}"
            f" {r['module_again']:>16.2f} {r['module_again'] - r['play_base']:>12.2f}"
            f" {by_hand:>13.1f} {by_hand / r['module']:>8.0f}x"
        )
    print()
    goals(rows)


def goals(rows: list[dict[str, float]]) -> None:
    print("goals:")
    for r in rows:
        ratio = r["fresh"] / r["batch"]
        print(
            f"  {r['n']:>6,.0f} peers: fresh within {FRESH_GOAL:.0f}x of the batch tools:"
            f" {ratio:.2f}x {'met' if ratio <= FRESH_GOAL else 'MISSED'}"
        )
    big = [r for r in rows if r["n"] == 5000]
    if big:
        total = big[0]["u_total"]
        print(
            f"   5,000 peers: unchanged reconciler under {UNCHANGED_GOAL} s: {total:.3f} s"
            f" {'met' if total < UNCHANGED_GOAL else 'MISSED'}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1_000, 5_000])
    parser.add_argument("--repeat", type=int, default=3, help="unchanged runs; the best counts")
    parser.add_argument("--per-task-peers", type=int, default=100)
    parser.add_argument("--no-ansible", action="store_true", help="skip the playbook runs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("bench_apply needs root (network namespaces)", file=sys.stderr)
        return 2
    print(
        f"podnet host-side benchmark: Python {sys.version.split()[0]}, kernel"
        f" {os.uname().release}, {os.cpu_count()} CPUs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="podnet-bench-"))
    rows: list[dict[str, float]] = []
    try:
        per_task = None
        if not args.no_ansible:
            per_task = bench_per_task(args.per_task_peers, workdir)
            remove_namespaces()
        for count in sorted(args.sizes):
            row: dict[str, float] = {"n": count}
            row.update(bench_reconciler(count, args.repeat))
            row.update(bench_batch(count, workdir))
            if not args.no_ansible:
                row.update(bench_module(count, workdir))
            rows.append(row)
            remove_namespaces()
        print()
        report(rows, per_task)
    finally:
        remove_namespaces()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
