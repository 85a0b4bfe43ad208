"""verify: what the probes measured, turned into ok/FAIL per check and sentences.

Pure: the inputs are the plan (the role's `podnet_plan`) and, per node, what the probe
module returned at its three steps plus the drift (what `site.yml --check` would change
there); nothing here touches a host. Each failure becomes one sentence naming the nodes,
the measured value, the likely cause and the fix, in the order an operator should look:
a node that differs from the plan, a node that does not forward, the underlay, the
tunnel's port, then the MTU.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

OK, FAIL, NOT_APPLICABLE = "ok", "FAIL", "-"
HEADERS = {4: 28, 6: 48}
# Backend Port 0 (flannel's default) leaves the port to the kernel, which uses 8472.
KERNEL_VXLAN_PORT = 8472
PAIR_CHECKS = ("pods", "mtu", "underlay", "overlay")
NODE_CHECKS = ("drift", "forwarding", "forward_chain", "rp_filter", "underlay_mtu")


def drift_lines(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """What a check-mode run of the role's module tasks would change, one line per change
    (a looped task's items included; skipped tasks have none), and one for the changes a
    module counted but did not list (past its 1,000th).

    >>> drift_lines([{"results": [{"changes": [{"op": "add", "kind": "route",
    ...     "key": "10.244.2.0/24", "reason": "peer node2: missing"}]}]}, {"skipped": True}])
    ['add route 10.244.2.0/24 (peer node2: missing)']
    >>> drift_lines([{"changes": [], "changes_omitted": 4000,
    ...               "changes_by_kind": {"add neigh": 2500, "add fdb": 2500}}])
    ['4000 changes more, not listed (of all: add neigh 2500, add fdb 2500)']
    """
    lines = []
    for result in results:
        for item in result.get("results", [result]):
            for change in item.get("changes", []) or []:
                reason = f" ({change['reason']})" if change.get("reason") else ""
                lines.append(f"{change['op']} {change['kind']} {change['key']}{reason}")
            if item.get("changes_omitted"):
                kinds = ", ".join(f"{k} {n}" for k, n in item.get("changes_by_kind", {}).items())
                lines.append(
                    f"{item['changes_omitted']} changes more, not listed (of all: {kinds})"
                )
    return lines


def peer_sample(names: Sequence[str], me: str, limit: int) -> list[str]:
    """The peers `me` probes: all of them up to `limit`, else the next `limit` in inventory
    order, going round, so every node is probed by `limit` others and probes `limit`.

    >>> peer_sample(["a", "b", "c", "d"], "c", 2), peer_sample(["a", "b"], "a", 5)
    (['d', 'a'], ['b'])
    """
    others = list(names)
    start = others.index(me)
    ring = others[start + 1 :] + others[:start]
    return ring if limit <= 0 or len(ring) <= limit else ring[:limit]


@dataclass
class Report:
    """The table's rows (pairs and nodes), the sentences, and whether all is well."""

    pairs: list[dict[str, Any]] = field(default_factory=list)
    nodes: list[dict[str, Any]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> str:
        body = {"ok": self.ok, "pairs": self.pairs, "nodes": self.nodes,
                "findings": self.findings, "notes": self.notes}  # fmt: skip
        return json.dumps(body, indent=2, sort_keys=True) + "\n"

    def text(self) -> str:
        pairs = [["pair", *PAIR_CHECKS]]
        pairs += [[f"{p['src']} -> {p['dst']} IPv{p['family']}",
                   *(p["checks"][c] for c in PAIR_CHECKS)] for p in self.pairs]  # fmt: skip
        nodes = [["node", *NODE_CHECKS]]
        nodes += [[n["name"], *(n["checks"][c] for c in NODE_CHECKS)] for n in self.nodes]
        failed = sum(c == FAIL for r in pairs + nodes for c in r)
        lines = [*_table(pairs), "", *_table(nodes)]
        lines += [f"FAIL: {f}" for f in self.findings] + [f"note: {n}" for n in self.notes]
        lines.append(
            f"verify: {len(self.pairs)} pairs, {len(self.nodes)} nodes: "
            + ("all ok" if self.ok else f"{failed} checks FAIL")
        )
        return "\n".join(lines)


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def _delta(node: Mapping[str, Any], *path: str) -> int | None:
    before, after = node.get("before", {}), node.get("after", {})
    for key in path:
        before, after = (before or {}).get(key), (after or {}).get(key)
    if before is None or after is None:
        return None
    return int(after) - int(before)


def _node_row(name: str, node: Mapping[str, Any], plan: Mapping[str, Any]) -> dict[str, Any]:
    """Each node check's state and, for a FAIL, its sentence."""
    checks: dict[str, str] = {}
    why: dict[str, str] = {}
    drift = list(node.get("drift", []))
    checks["drift"] = FAIL if drift else OK
    if drift:
        shown = "; ".join(drift[:4]) + ("; ..." if len(drift) > 4 else "")
        why["drift"] = (
            f"{name}: the kernel differs from the plan: site.yml would change {len(drift)} "
            f"object(s) ({shown}): something removed or changed them; run site.yml, and look "
            "for what did (a network manager, a firewall service, a person)"
        )
    sysctls = node.get("sysctls", {})
    checks["forwarding"] = OK if sysctls.get("ip_forward") == 1 else FAIL
    if checks["forwarding"] == FAIL:
        why["forwarding"] = (
            f"{name}: net.ipv4.ip_forward is {sysctls.get('ip_forward')}: the node does not "
            "route pod traffic; run site.yml (it sets it), and find what turned it off "
            "(a file in /etc/sysctl.d, a hardening role)"
        )
    forward = node.get("after", {}).get("forward", {})
    reached = _delta(node, "forward", "jump_packets")
    blocked = forward.get("policy") == "DROP" and not reached
    checks["forward_chain"] = FAIL if blocked else OK
    if blocked:
        how = "has no jump to it" if forward.get("jump_packets") is None else "saw 0 packets"
        why["forward_chain"] = (
            f"{name}: the FORWARD policy is DROP and FLANNEL-FWD is not reached (FORWARD "
            f"{how}): pods' forwarded traffic is dropped; run site.yml (it puts the jump "
            "first), or accept the cluster network ahead of the rule that drops it"
        )
    strict = [dev for dev, value in sysctls.get("rp_filter", {}).items() if value == 1]
    asymmetric = plan["backend"]["type"] == "host-gw" or plan["backend"].get("direct_routing")
    checks["rp_filter"] = OK if not strict else ("strict" if not asymmetric else "strict!")
    measured, planned = node.get("iface_mtu"), plan.get("underlay_mtu")
    short = measured is not None and planned is not None and measured < planned
    checks["underlay_mtu"] = FAIL if short else OK
    if short:
        why["underlay_mtu"] = (
            f"{name}: {node.get('iface')} has MTU {measured}, the plan used {planned}: pods "
            f"send packets the underlay cannot carry; run site.yml (it plans with the "
            f"interface's MTU) or set podnet_mtu: {measured}"
        )
    return {"name": name, "checks": checks, "why": why, "strict_rp_filter": strict}


def _overlay_check(
    plan: Mapping[str, Any], src: Mapping[str, Any], dst: Mapping[str, Any], dst_name: str
) -> tuple[str, str]:
    """(state, why) of the tunnel between two nodes, by backend."""
    backend = plan["backend"]
    if backend["type"] == "vxlan":
        port = backend.get("port") or KERNEL_VXLAN_PORT
        arrived = _delta(dst, "overlay", "rx")
        if arrived == 0:
            return FAIL, (
                f"VXLAN packets do not arrive on {dst_name} (its {dst.get('overlay')} received "
                f"0 packets while its peers sent to it): {dst_name}'s firewall or the path "
                f"drops UDP {port}; allow UDP {port} from the fleet's "
                "addresses"
            )
        return OK, ""
    if backend["type"] == "wireguard":
        key = plan["nodes"].get(dst_name, {}).get("wireguard_public_key")
        if key and not src.get("handshakes", {}).get(key):
            return FAIL, (
                f"no WireGuard handshake with {dst_name}: UDP to its ListenPort is blocked "
                "between them (a firewall), or the keys differ (run site.yml)"
            )
        return OK, ""
    states = src.get("neighbours", {}).get(dst.get("public_ip"), [])
    if any(state in ("FAILED", "INCOMPLETE") for state in states):
        return FAIL, (
            f"{dst_name}'s address {dst.get('public_ip')} does not answer on the segment "
            f"(neighbour {'/'.join(states)}): host-gw needs every node on one L2 segment; "
            "use vxlan with DirectRouting across segments"
        )
    return OK, ""


def _mtu_sentence(src_name: str, peer: Mapping[str, Any], src: Mapping[str, Any],
                  overhead: int, dst_name: str) -> str:  # fmt: skip
    size, largest = peer["df_size"], peer.get("largest_crossing")
    headers = HEADERS[peer["family"]]
    if largest is None:
        return (
            f"{src_name} -> {dst_name}: a {size}-byte DF ping is lost and so is every "
            "smaller one tried: the path drops large packets; check the link's MTU"
        )
    path = largest + headers + overhead
    return (
        f"{src_name} -> {dst_name}: {size}-byte DF ping lost, {largest} passes: the path "
        f"between them carries {path}, not {size + headers + overhead} ({src.get('iface')} "
        f"says {src.get('iface_mtu')}): set podnet_mtu: {path} on {dst_name} or fix the link"
    )


def diagnose(
    plan: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], sample_limit: int = 0
) -> Report:
    """The report for one verify run. `nodes`: name -> {iface, public_ip, overlay, before,
    after, sysctls, iface_mtu, handshakes, neighbours, peers (the probe step's results),
    drift}."""
    report = Report()
    rows = {name: _node_row(name, node, plan) for name, node in nodes.items()}
    overhead = int(plan.get("underlay_mtu", plan["mtu"])) - int(plan["mtu"])
    for name, row in rows.items():
        report.nodes.append({"name": name, "checks": row["checks"]})
        report.findings += [row["why"][c] for c in NODE_CHECKS if c in row["why"]]
    node_causes = {n: [c for c in NODE_CHECKS if c in r["why"]] for n, r in rows.items()}
    for src_name, src in nodes.items():
        for peer in src.get("peers", []):
            dst_name = peer["name"]
            dst = nodes.get(dst_name, {})
            overlay, overlay_why = _overlay_check(plan, src, dst, dst_name)
            checks = {
                "pods": OK if peer["reach"] else FAIL,
                "underlay": OK if peer["underlay"] else FAIL,
                "overlay": overlay,
                "mtu": NOT_APPLICABLE,
            }
            if peer["reach"]:
                checks["mtu"] = OK if peer["df_crosses"] and peer["df_over_refused"] else FAIL
            pair = f"{src_name} -> {dst_name} (IPv{peer['family']})"
            if checks["mtu"] == FAIL:
                report.findings.append(_mtu_sentence(src_name, peer, src, overhead, dst_name))
            if checks["pods"] == FAIL:
                report.findings.append(
                    f"{pair}: pods do not reach each other: "
                    + _pod_cause(
                        peer,
                        src_name=src_name,
                        dst_name=dst_name,
                        node_causes=node_causes,
                        overlay_why=overlay_why,
                        rows=rows,
                    )
                )
            report.pairs.append({"src": src_name, "dst": dst_name, "family": peer["family"],
                                 "checks": checks})  # fmt: skip
    if sample_limit:
        report.notes.append(
            f"each node probed at most {sample_limit} peers (podnet_verify_max_peers): "
            f"{len(report.pairs)} of {len(nodes) * (len(nodes) - 1)} pairs"
        )
    return report


def _pod_cause(
    peer: Mapping[str, Any],
    *,
    src_name: str,
    dst_name: str,
    node_causes: Mapping[str, list[str]],
    overlay_why: str,
    rows: Mapping[str, Mapping[str, Any]],
) -> str:
    """The likeliest cause of a lost pod ping, from what else failed."""
    for name in (src_name, dst_name):
        if node_causes.get(name):
            return f"{name} fails its {', '.join(node_causes[name])} check (see its line)"
    if not peer["underlay"]:
        return (f"the underlay does not connect them either (ping {peer['public_ip']} from "
                f"{src_name} is lost): fix the network between the nodes")  # fmt: skip
    if overlay_why:
        return overlay_why
    strict = [f"{n} ({', '.join(rows[n]['strict_rp_filter'])})"
              for n in (src_name, dst_name) if rows.get(n, {}).get("strict_rp_filter")]  # fmt: skip
    if strict:
        return (f"rp_filter is strict (1) on {', '.join(strict)}: a reply arriving on "
                "another device than the route back is dropped; set it to 2 (loose)")  # fmt: skip
    return "no other check failed; compare `ip route get` for the pod addresses on both nodes"
