"""What exists right now, read from the kernel and the files (never from memory).

`status` is for people: after a crash, a half-built lab or a test that left things
behind, it shows each piece separately, so the reader can tell what `down` will remove.
"""

from __future__ import annotations

from .layout import (
    CNI_CONF_DIR,
    EXTRA_INVENTORY,
    LAB_DIR,
    ROUTER_NETNS,
    SEGMENTS,
    SUBNET_ENV,
    Node,
    current_topology,
)
from .machine import _existing_nodes, lab_processes, leftover_namespaces, node_names, read_state
from .nodes import node_is_complete
from .pods import read_pod
from .procs import LabProcess
from .router import ROUTER_NETNS_PATH, router_forwarding, router_is_complete
from .system import ip_json, is_mounted, link_exists


def _node_line(each: Node, wanted: set[str], processes: list[LabProcess]) -> str:
    addresses = [
        f"{a['local']}/{a['prefixlen']}"
        for link in ip_json("addr", "show", "dev", "eth0", netns=each.netns)
        for a in link.get("addr_info", [])
        if a.get("family") == "inet"
    ]
    conf_dir = each.host_path(CNI_CONF_DIR)
    confs = sorted(p.name for p in conf_dir.iterdir()) if conf_dir.is_dir() else []
    pod = read_pod(each.name)
    inside = [f"{p.comm}[{p.pid}]" for p in processes if p.netns == each.netns]
    parts = [
        each.name.ljust(7),
        "complete  " if node_is_complete(each) else "INCOMPLETE",
        f"segment {each.segment.name}",
        f"eth0 {','.join(addresses) or '-'}",
        f"mount ns {'bound' if is_mounted(each.mnt, 'nsfs') else 'MISSING'}",
        f"subnet.env {'yes' if each.host_path(SUBNET_ENV).exists() else 'no'}",
        f"cni {','.join(confs) or '-'}",
        f"pod {pod['ip'] if pod else '-'}",
        f"processes {','.join(inside) or '-'}",
    ]
    if each.name not in wanted:
        parts.append("(not in state.json: `down` removes it)")
    return "  ".join(parts)


def _router_line() -> str:
    if not ROUTER_NETNS_PATH.exists():
        return f"router {ROUTER_NETNS}: absent"
    forwarding = router_forwarding()
    return (
        f"router {ROUTER_NETNS}: "
        + ("complete" if router_is_complete() else "INCOMPLETE")
        + f", ip_forward {'on' if forwarding else 'OFF'}"
    )


def status() -> str:
    """A few lines: bridges, router, lab directory, each node, extra inventory, leftovers."""
    state = read_state()
    wanted = set(node_names())
    topology = current_topology()
    lines = [
        f"bridge {s.bridge} (segment {s.name}, {s.network}): "
        + ("up" if link_exists(s.bridge) else "absent")
        for s in SEGMENTS
    ]
    lines.append(_router_line())
    lines.append(
        f"{LAB_DIR}: "
        + ("mounted" if is_mounted(LAB_DIR) else "exists" if LAB_DIR.exists() else "absent")
        + (f", {topology} topology, nodes {len(wanted)}" if wanted else "")
    )
    processes = lab_processes()
    lines += [_node_line(each, wanted, processes) for each in _existing_nodes()]
    elsewhere = [str(p) for p in processes if not p.netns.startswith("podnet-lab-node")]
    if elsewhere:
        lines.append(f"processes in pods or the router: {', '.join(elsewhere)}")
    created = state.get("created_mountpoints", [])
    lines.append(f"mount points the lab created: {', '.join(created) or 'none'}")
    lines.append(f"extra inventory: {EXTRA_INVENTORY if EXTRA_INVENTORY.exists() else 'none'}")
    leftovers = leftover_namespaces()
    lines.append(
        f"leftover test namespaces: {', '.join(leftovers) or 'none'}"
        + (" (`lab.py down` removes them)" if leftovers else "")
    )
    return "\n".join(lines)
