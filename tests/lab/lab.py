#!/usr/bin/env python3
"""The namespace lab from the command line (root): `make lab` and `make lab-down` call this.

    lab.py up [--topology flat|routed] [--nodes N] [--fresh]
                                      build (or reconcile to) node1..nodeN: flat (default,
                                      3 nodes) or routed (2 segments + router, 4 nodes)
    lab.py pods [NODE...] [--detach]  attach (CNI ADD) or detach (CNI DEL) one pod per node
    lab.py check [--expected-mtu M]   pod reachability, pod MTU, DF boundary; exit 1 on failure
    lab.py exec [--pod] NODE -- ARGV  run ARGV in the node's net+mount namespaces (or its pod's)
    lab.py status                     what exists now
    lab.py down [--lab-only]          remove the lab (and leftover test namespaces)

See tests/lab/README.md for what each piece is.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence

import labkit
from labkit import hosts
from labkit.hosts import image
from labkit.layout import (
    EXTRA_INVENTORY,
    INVENTORY_NODES,
    ROUTER_NETNS,
    Topology,
    node,
    read_state,
)


def _up(args: argparse.Namespace) -> int:
    started = time.monotonic()
    if args.fresh:
        labkit.down()
    names = labkit.up(args.nodes, args.topology, args.releases)
    placed = [node(n) for n in names]
    where = []
    for segment in dict.fromkeys(n.segment for n in placed):
        on = [n for n in placed if n.segment == segment]
        span = on[0].name if len(on) == 1 else f"{on[0].name}..{on[-1].name}"
        ips = str(on[0].ip) if len(on) == 1 else f"{on[0].ip}..{on[-1].ip}"
        where.append(f"{span} ({ips}) on {segment.bridge}")
    if args.topology == Topology.ROUTED:
        where.append(f"routed by {ROUTER_NETNS}")
    inventory = "inventories/lab"
    if args.topology == Topology.HOSTS:
        releases = read_state().get("releases", {})
        where.append(", ".join(f"{n} {releases.get(n)} ssh {node(n).mgmt_ip}" for n in names))
        inventory = "inventories/hosts-lab"
    extra = f", {EXTRA_INVENTORY.name}" if len(names) > INVENTORY_NODES else ""
    print(
        f"lab up ({args.topology}): {'; '.join(where)}"
        f" in {time.monotonic() - started:.2f} s; inventory: {inventory}{extra}"
    )
    return 0


def _down(args: argparse.Namespace) -> int:
    started = time.monotonic()
    removed = labkit.down(sweep_leftovers=not args.lab_only)
    if args.images:
        removed += image.remove_images()
    what = f"removed {len(removed)}: {', '.join(removed)}" if removed else "nothing to remove"
    print(f"lab down: {what} ({time.monotonic() - started:.2f} s)")
    return 0


def _pods(args: argparse.Namespace) -> int:
    names = args.nodes or labkit.node_names()
    if not names:
        raise labkit.LabError("there is no lab: run `tests/lab/lab.py up` first")
    for name in names:
        if args.detach:
            labkit.detach_pod(name)
            print(f"{name}: pod detached")
        else:
            ip = labkit.attach_pod(name)
            print(f"{name}: pod {ip} in netns {node(name).pod_netns}")
    return 0


def _check(args: argparse.Namespace) -> int:
    result = labkit.check(args.expected_mtu)
    print(result.report())
    return 0 if result.ok else 1


def _exec(args: argparse.Namespace) -> int:
    each = node(args.node)
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise labkit.LabError("exec: nothing to run: lab.py exec node1 -- ip addr")
    path = each.pod_netns_path if args.pod else each.netns_path
    if not path.exists():
        what = "pod" if args.pod else "node"
        raise labkit.LabError(f"{path} does not exist: no such {what}; see `lab.py status`")
    if args.pod:
        namespaces = [f"--net={path}"]
    elif each.topology is Topology.HOSTS:
        namespaces = [f"--target={each.pid()}", "--net", "--mount", "--pid"]
    else:
        namespaces = [f"--net={path}", f"--mount={each.mnt}"]
    # Entering a mount namespace resets the working directory; keep the caller's.
    os.execvp("nsenter", ["nsenter", *namespaces, f"--wd={os.getcwd()}", "--", *argv])


def _reboot(args: argparse.Namespace) -> int:
    for name in args.nodes:
        seconds = hosts.reboot(node(name))
        print(f"{name}: rebooted (new network namespace, /run empty) in {seconds:.1f} s")
    return 0


def _status(_: argparse.Namespace) -> int:
    print(labkit.status())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lab.py", description="the podnet namespace lab")
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="build node1..nodeN (keeps complete nodes as they are)")
    up.add_argument(
        "--topology",
        type=Topology,
        choices=list(Topology),
        default=Topology.FLAT,
        help="flat: one segment (default); routed: two segments joined by a router,"
        " the first half of the nodes on each; hosts: systemd machines (podman) reached"
        " over SSH; switching rebuilds only what differs",
    )
    up.add_argument(
        "--releases",
        type=lambda text: text.split(","),
        help="hosts: each node's release, e.g. debian12,debian13,debian12"
        " (default debian11,debian12,debian13 in turn)",
    )
    up.add_argument(
        "--nodes",
        type=int,
        help=f"how many nodes (default {labkit.DEFAULT_NODES[Topology.FLAT]} flat,"
        f" {labkit.DEFAULT_NODES[Topology.ROUTED]} routed)",
    )
    up.add_argument("--fresh", action="store_true", help="down first: no pods, files, leases")
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="remove the lab; safe when nothing exists")
    down.add_argument(
        "--lab-only",
        action="store_true",
        help="keep podnet-test-*/podnet-bench-* namespaces (a test run may own them)",
    )
    down.add_argument(
        "--images", action="store_true", help="also the hosts lab's cached machine images"
    )
    down.set_defaults(func=_down)
    pods = sub.add_parser("pods", help="attach one pod per node (CNI ADD), or --detach")
    pods.add_argument("nodes", nargs="*", metavar="NODE", help="default: every node")
    pods.add_argument("--detach", action="store_true", help="CNI DEL and remove the pods")
    pods.set_defaults(func=_pods)
    check = sub.add_parser("check", help="reachability, pod MTU and the DF boundary")
    check.add_argument("--expected-mtu", type=int, help="default: FLANNEL_MTU of subnet.env")
    check.set_defaults(func=_check)
    run = sub.add_parser("exec", help="run a command inside a node (or its pod)")
    run.add_argument("--pod", action="store_true", help="the node's pod netns instead")
    run.add_argument("node", metavar="NODE")
    run.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- ARGV")
    run.set_defaults(func=_exec)
    reboot = sub.add_parser("reboot", help="hosts lab: power-cycle machines (kernel state gone)")
    reboot.add_argument("nodes", nargs="+", metavar="NODE")
    reboot.set_defaults(func=_reboot)
    sub.add_parser("status", help="what exists now").set_defaults(func=_status)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.func(args)
    except (labkit.LabError, ValueError) as err:
        print(f"lab.py {args.command}: {err}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
