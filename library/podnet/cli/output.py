"""How a plan is shown: a table for people, one JSON object for programs."""

from __future__ import annotations

import json

from ..plan import FleetPlan


def plan_to_data(plan: FleetPlan) -> dict[str, object]:
    """The `--format json` object: network, backend, mtu, warnings, nodes by name."""
    conf = plan.net_conf
    nodes: dict[str, dict[str, object]] = {}
    for node_plan in plan.nodes:
        node = node_plan.node
        entry: dict[str, object] = {
            "subnet": _text(node_plan.subnet),
            "mtu": plan.mtu.mtu,
            "public_ip": _text(node.public_ip),
            "vtep_mac": node_plan.vtep_mac,
        }
        if conf.ipv6 is not None:
            entry |= {
                "ipv6_subnet": _text(node_plan.ipv6_subnet),
                "public_ipv6": _text(node.public_ipv6),
                "vtep_mac_v6": node_plan.vtep_mac_v6,
            }
        nodes[node_plan.name] = entry
    data: dict[str, object] = {
        "network": _text(conf.ipv4.network if conf.ipv4 else None),
        "backend": conf.backend.type.value,
        "mtu": plan.mtu.mtu,
        "warnings": list(plan.warnings),
        "nodes": nodes,
    }
    if conf.ipv6 is not None:
        data["ipv6_network"] = str(conf.ipv6.network)
    return data


def render_json(plan: FleetPlan) -> str:
    return json.dumps(plan_to_data(plan), indent=2) + "\n"


def render_table(plan: FleetPlan) -> str:
    """A summary line, then one aligned row per node."""
    conf, mtu = plan.net_conf, plan.mtu
    networks = " ".join(str(pool.network) for pool in conf.pools)
    lines = [
        f"network {networks}  backend {conf.backend.type}  pod MTU {mtu.mtu}"
        f" (underlay {mtu.underlay} - {mtu.overhead})  nodes {len(plan.nodes)}",
        "",
    ]
    header = ["NODE", "PUBLIC IP", "SUBNET"]
    if conf.ipv6 is not None:
        header += ["PUBLIC IPV6", "IPV6 SUBNET"]
    if any(p.vtep_mac for p in plan.nodes):
        header += ["VTEP MAC"]
    rows = [header]
    for node_plan in plan.nodes:
        node = node_plan.node
        row = [node.name, _text(node.public_ip) or "-", _text(node_plan.subnet) or "-"]
        if conf.ipv6 is not None:
            row += [_text(node.public_ipv6) or "-", _text(node_plan.ipv6_subnet) or "-"]
        if len(header) > len(row):
            row += [" ".join(mac for mac in (node_plan.vtep_mac, node_plan.vtep_mac_v6) if mac)]
        rows.append(row)
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    if plan.kept_leases:
        lines += [
            "",
            f"leases kept for nodes no longer in the inventory: {', '.join(plan.kept_leases)}",
        ]
    return "\n".join(lines) + "\n"


def _text(value: object) -> str | None:
    return None if value is None else str(value)
