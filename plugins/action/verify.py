"""podnet.fabric.verify: verify.yml's controller side (the library's podnet.verify).

step=targets: which peers each node probes (all of them, or `max_peers` going round the
inventory), with their probes' addresses, from what the probe module's `present` step
registered on each host. step=report: the table and the sentences from every host's
registered probe results and drift, printed, written as JSON to `output` (when given),
and failing the task when any check fails.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

BUNDLED_LIBRARY = Path(__file__).resolve().parents[2] / "library"
if (BUNDLED_LIBRARY / "podnet" / "__init__.py").is_file():
    sys.path.insert(0, str(BUNDLED_LIBRARY))  # as in plan.py: the collection's own library

from podnet.verify import diagnose, drift_lines, peer_sample

# What the role registers (tasks/verify.yml): the probe's three steps, and the module
# tasks of tasks/main.yml, run in check mode (their `changes` are the drift).
MADE = "podnet_probe_made"
RAN = "podnet_probe_ran"
READ = "podnet_probe_read"
APPLIED = (
    "sysctl",
    "overlay_filter",
    "stale_devices",
    "vxlan",
    "host_gw",
    "wireguard",
    "masquerade",
    "files",
    "cni_bridge",
)


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible-core ships no type information
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("step", "hosts", "max_peers", "output"))

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        hostvars = task_vars.get("hostvars", {})
        hosts = [str(h) for h in args.get("hosts") or [] if MADE in hostvars.get(h, {})]
        if not hosts:
            raise AnsibleActionFail("verify: no node made its probe; see the failures above")
        plan = hostvars[hosts[0]]["podnet_plan"]
        limit = int(args.get("max_peers") or 0)
        if args.get("step") == "targets":
            result.update(changed=False, targets=targets(plan, hosts, hostvars, limit))
            return result
        nodes = {name: node_results(plan, name, hostvars[name]) for name in hosts}
        report = diagnose(plan, nodes, sample_limit=limit if limit < len(hosts) - 1 else 0)
        if args.get("output"):
            Path(args["output"]).write_text(report.to_json(), encoding="utf-8")
        result.update(changed=False, report=report.text(), ok=report.ok,
                      findings=report.findings, msg=report.text())  # fmt: skip
        if not report.ok:
            result["failed"] = True
        return result


def _public_ips(plan: Mapping[str, Any]) -> dict[str, dict[int, str]]:
    found: dict[str, dict[int, str]] = {}
    for word, family in (("ipv4", 4), ("ipv6", 6)):
        for peer in plan["peers"].get(word, []):
            found.setdefault(peer["name"], {})[family] = peer["public_ip"]
    return found


def targets(
    plan: Mapping[str, Any], hosts: list[str], hostvars: Mapping[str, Any], limit: int
) -> dict[str, list[dict[str, str | None]]]:
    """Per node, its peers' probe addresses (one entry per family) and public addresses."""
    publics = _public_ips(plan)
    chosen: dict[str, list[dict[str, str | None]]] = {}
    for name in hosts:
        chosen[name] = []
        for peer in peer_sample(hosts, name, limit):
            for address in hostvars[peer][MADE].get("addresses", []):
                family = 6 if ":" in address else 4
                public = publics.get(peer, {}).get(family) or publics.get(peer, {}).get(4)
                chosen[name].append({"name": peer, "address": address, "public_ip": public})
    return chosen


def node_results(plan: Mapping[str, Any], name: str, host: Mapping[str, Any]) -> dict[str, Any]:
    """One node's inputs to the diagnosis, from its registered results."""
    made, ran, read = host.get(MADE, {}), host.get(RAN, {}), host.get(READ, {})
    return {
        "iface": plan["nodes"][name]["iface"],
        "public_ip": _public_ips(plan).get(name, {}).get(4),
        "overlay": overlay_device(plan),
        "before": made.get("before", {}),
        "after": read.get("after", {}),
        "sysctls": read.get("sysctls", {}),
        "iface_mtu": read.get("iface_mtu"),
        "handshakes": read.get("handshakes", {}),
        "neighbours": read.get("neighbours", {}),
        "peers": ran.get("peers", []),
        "drift": drift_lines(
            [host[f"podnet_applied_{m}"] for m in APPLIED if f"podnet_applied_{m}" in host]
        ),
    }


def overlay_device(plan: Mapping[str, Any]) -> str | None:
    """The IPv4 tunnel device whose counters tell whether packets arrive."""
    backend = plan["backend"]
    if backend["type"] == "vxlan":
        return f"flannel.{backend['vni']}"
    if backend["type"] == "wireguard":
        return str(backend["wireguard_devices"][0])
    return None
