"""The whole lab: `up` builds (or reconciles) it, `down` removes every trace of it.

`up(n, topology)` is idempotent: complete nodes are kept as they are (with their pods and
files), missing or half-built ones are (re)built, nodes above n are removed. Switching the
topology of a lab that is up rebuilds only what differs: the nodes whose segment changes
(they lose their pods and files, as a new machine would), the router and the second bridge
(added for routed, removed for flat); the other nodes keep everything. `down` removes
what exists and is safe to run when nothing does. Both hold the lab lock.

What the lab leaves on the host while up, all removed by `down`:
- the bridge podnet-lab-br0 (routed: also podnet-lab-br1) and one veth host end per node
  (plab-<node>); routed: the router's legs plab-rtr-a and plab-rtr-b;
- network namespaces podnet-lab-<node>, podnet-lab-pod-<node> and, routed,
  podnet-lab-router;
- wireguard-go processes the role started inside nodes (stopped before their node goes);
- /run/podnet-lab, a private bind mount of itself (a mount namespace file can only be
  bound on a mount that does not propagate, and /run may be shared), holding per node
  the mount namespace file, the private directories, the wrapper and pod.json;
- the mount points of PRIVATE_PATHS that did not exist on the host (recorded in
  state.json, removed only if still empty);
- inventories/lab/zz-lab-extra-nodes.yml when there are more than three nodes.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from . import hosts
from .layout import (
    EXTRA_INVENTORY,
    INVENTORY_NODES,
    LAB_DIR,
    LEFTOVER_PREFIXES,
    NETNS_DIR,
    NETNS_PREFIX,
    PRIVATE_PATHS,
    SEGMENTS,
    STATE_FILE,
    UNDERLAY_MTU,
    VETH_PREFIX,
    Node,
    Segment,
    Topology,
    node,
    read_state,
    segments,
)
from .layout import nodes as lab_nodes
from .nodes import build_node, node_is_complete, remove_node
from .procs import WIREGUARD_GO, LabProcess, processes_in, stop
from .router import ensure_router, remove_router
from .system import (
    is_mounted,
    lab_lock,
    link_exists,
    preflight,
    require_root,
    run,
    unmount_all,
    write_atomic,
)

# `up` without a node count: three nodes flat (hosts.yml's), four routed (two per segment).
DEFAULT_NODES = {Topology.FLAT: 3, Topology.ROUTED: 4, Topology.HOSTS: 3}


def node_names() -> list[str]:
    """The lab's nodes (node1..nodeN) as `up` last built them; [] when there is no lab."""
    return [f"node{i}" for i in range(1, int(read_state().get("nodes", 0)) + 1)]


def _ensure_lab_dir() -> None:
    LAB_DIR.mkdir(parents=True, exist_ok=True)
    if not is_mounted(LAB_DIR):
        run(["mount", "--bind", LAB_DIR, LAB_DIR])
    # Made private every time: cheap, and it repairs a lab dir someone made shared.
    run(["mount", "--make-private", LAB_DIR])


def _ensure_mountpoints(already: list[str]) -> list[str]:
    """Create missing mount points of PRIVATE_PATHS (parents first); return all we made."""
    created = list(already)
    for path in PRIVATE_PATHS:
        missing = [p for p in (Path(path), *Path(path).parents) if not p.exists()]
        for directory in reversed(missing):
            directory.mkdir(mode=0o755)
            created.append(str(directory))
    return created


def _remove_mountpoints(created: list[str]) -> list[str]:
    """rmdir what `up` created, children first; return those kept because not empty."""
    kept = []
    for path in sorted(created, key=lambda p: p.count("/"), reverse=True):
        try:
            os.rmdir(path)
        except FileNotFoundError:
            pass
        except OSError:
            kept.append(path)
    return kept


def _ensure_bridge(segment: Segment) -> None:
    if not link_exists(segment.bridge):
        run(["ip", "link", "add", segment.bridge, "type", "bridge"])
    # No address of any kind: the host takes no part in the underlay.
    run(["ip", "link", "set", "dev", segment.bridge, "addrgenmode", "none"])
    run(["ip", "link", "set", "dev", segment.bridge, "mtu", str(UNDERLAY_MTU), "up"])


def _remove_bridge(segment: Segment) -> list[str]:
    if not link_exists(segment.bridge):
        return []
    run(["ip", "link", "del", "dev", segment.bridge])
    return [segment.bridge]


def parse_topology(topology: Topology | str) -> Topology:
    """`topology` as a Topology; a ValueError names the choices otherwise."""
    try:
        return Topology(topology)
    except ValueError:
        choices = ", ".join(t.value for t in Topology)
        raise ValueError(f"topology: {topology!r} is not one of {choices}") from None


def _write_extra_inventory(count: int) -> None:
    if count <= INVENTORY_NODES:
        EXTRA_INVENTORY.unlink(missing_ok=True)
        return
    hosts = "".join(f"    node{i}:\n" for i in range(INVENTORY_NODES + 1, count + 1))
    write_atomic(
        EXTRA_INVENTORY,
        "---\n"
        f"# Written by `tests/lab/lab.py up --nodes {count}`, removed by `lab.py down`;\n"
        "# gitignored. hosts.yml lists node1..node3 and sets the group's variables.\n"
        f"podnet_nodes:\n  hosts:\n{hosts}",
    )


def _existing_nodes() -> list[Node]:
    """Every node with any trace left: a namespace, a directory or a veth."""
    names = set(node_names())
    names |= {
        n.removeprefix(NETNS_PREFIX).removeprefix("pod-")
        for n in _netns_names()
        if n.startswith(NETNS_PREFIX)
    }
    if LAB_DIR.is_dir():
        names |= {p.name for p in LAB_DIR.iterdir() if p.is_dir()}
    names |= {
        n.removeprefix(VETH_PREFIX)
        for n in os.listdir("/sys/class/net")
        if n.startswith(VETH_PREFIX)
    }
    found = []
    for name in names:
        try:
            found.append(node(name))
        except ValueError:
            continue  # not a node (e.g. a veth of someone else's that happens to match)
    return sorted(found, key=lambda n: n.index)


def up(
    nodes: int | None = None,
    topology: Topology | str = Topology.FLAT,
    releases: Sequence[str] | None = None,
) -> list[str]:
    """Build the lab with exactly `nodes` nodes in `topology`, keeping complete nodes.

    nodes defaults to DEFAULT_NODES[topology] (3 flat and hosts, 4 routed). topology is
    "flat" (one segment), "routed" (two segments and a router; the first half of the nodes,
    rounded up, on segment a) or "hosts" (systemd machines over SSH, labkit.hosts; releases
    names each node's Debian release, default debian11, debian12, debian13 in turn).
    Returns the node names. Raises LabError (with the fix) when something is missing,
    ValueError for a bad count or topology.
    """
    shape = parse_topology(topology)
    count = DEFAULT_NODES[shape] if nodes is None else nodes
    wanted = lab_nodes(count, shape)
    preflight()
    if shape is Topology.HOSTS:
        return _up_hosts(wanted, hosts.releases_for(count, releases))
    with lab_lock():
        hosts.remove_hosts()  # a machine lives in its node's namespace: it goes first
        _ensure_lab_dir()
        state = read_state()
        state["created_mountpoints"] = _ensure_mountpoints(state.get("created_mountpoints", []))
        write_atomic(STATE_FILE, json.dumps(state, indent=2) + "\n")
        for segment in segments(shape):
            _ensure_bridge(segment)
        for extra in _existing_nodes():
            if extra.index > count:
                remove_node(extra)
        for each in wanted:
            if not node_is_complete(each):
                remove_node(each)  # whatever half of it a crash (or the other topology) left
                build_node(each)
        if shape is Topology.ROUTED:
            ensure_router()
        else:
            remove_router()
            for segment in SEGMENTS[1:]:  # its nodes moved to segment a above
                _remove_bridge(segment)
        state["nodes"] = count
        state["topology"] = shape.value
        write_atomic(STATE_FILE, json.dumps(state, indent=2) + "\n")
        _write_extra_inventory(count)
    return [n.name for n in wanted]


def _up_hosts(wanted: Sequence[Node], releases: Sequence[hosts.Release]) -> list[str]:
    with lab_lock():
        _ensure_lab_dir()
        state = read_state()
        if state.get("topology", Topology.HOSTS) != Topology.HOSTS:
            down()  # namespace nodes have the machines' names: none of them is kept
            _ensure_lab_dir()
            state = {}
        _ensure_bridge(SEGMENTS[0])
        count = len(wanted)
        stale = [n for n in _existing_nodes() if n.index > count]
        hosts.up_hosts(wanted, releases, stale)
        for each in stale:
            remove_node(each)
        state.update(
            nodes=count,
            topology=Topology.HOSTS.value,
            releases={n.name: r.name for n, r in zip(wanted, releases, strict=True)},
        )
        write_atomic(STATE_FILE, json.dumps(state, indent=2) + "\n")
    return [n.name for n in wanted]


def _netns_names() -> list[str]:
    return sorted(os.listdir(NETNS_DIR)) if NETNS_DIR.is_dir() else []


def leftover_namespaces() -> list[str]:
    """Namespaces that crashed test runs left (podnet-test-*, podnet-bench-*)."""
    return [n for n in _netns_names() if n.startswith(LEFTOVER_PREFIXES)]


def lab_processes() -> list[LabProcess]:
    """Every process inside one of the lab's network namespaces (nodes, pods, router)."""
    return processes_in(NETNS_DIR / n for n in _netns_names() if n.startswith(NETNS_PREFIX))


def down(*, sweep_leftovers: bool = False) -> list[str]:
    """Remove the lab entirely; safe when nothing exists. Returns what was removed.

    wireguard-go processes inside nodes are stopped first (they would keep the namespaces
    alive); any other process found inside the lab is named on stderr and left alone.
    sweep_leftovers also deletes podnet-test-*/podnet-bench-* namespaces. Off by default
    in the API: a test suite running beside the lab may own them right now.
    """
    require_root()
    removed: list[str] = []
    with lab_lock():
        created = read_state().get("created_mountpoints", [])
        removed += hosts.remove_hosts()  # their processes go with them
        inside = lab_processes()
        others = [p for p in inside if p.comm != WIREGUARD_GO]
        # Stopped here, not only by remove_node, so that `down` can say what it stopped.
        removed += map(str, stop(p for p in inside if p.comm == WIREGUARD_GO))
        for each in _existing_nodes():
            remove_node(each)
            removed.append(each.name)
        removed += remove_router()
        stray = [n for n in _netns_names() if n.startswith(NETNS_PREFIX)]
        for name in stray + (leftover_namespaces() if sweep_leftovers else []):
            run(["ip", "netns", "del", name])
            removed.append(name)
        for segment in SEGMENTS:
            removed += _remove_bridge(segment)
        if LAB_DIR.exists():
            unmount_all(LAB_DIR)  # never rmtree across a mount
            shutil.rmtree(LAB_DIR)
            removed.append(str(LAB_DIR))
        kept = _remove_mountpoints(created)
        removed += [p for p in created if p not in kept and not Path(p).exists()]
        if EXTRA_INVENTORY.exists():
            EXTRA_INVENTORY.unlink()
            removed.append(str(EXTRA_INVENTORY))
    if kept:
        print(f"lab down: kept {', '.join(kept)}: not empty, so not the lab's", file=sys.stderr)
    if others:
        print(
            "lab down: left running (not the lab's, so not killed; each keeps its namespace"
            f" alive until it exits): {', '.join(map(str, others))}",
            file=sys.stderr,
        )
    return removed


def fresh_lab(nodes: int | None = None, topology: Topology | str = Topology.FLAT) -> list[str]:
    """down + up under one lock: a lab with no history (no pods, no files, no leases)."""
    with lab_lock():
        down()
        return up(nodes, topology)
