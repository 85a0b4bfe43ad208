"""podnet.fabric.plan: plan the whole fleet once, on the controller.

The fleet is the inventory group (never the hosts of the current play, so `--limit`
cannot drop a peer or move anyone's subnet). Each node's underlay address and MTU
come, in order, from its podnet_* variables, its gathered facts, or the lease
file's record of where it was last seen; a node none of them covers stops the plan
with a message naming it and the fix. The result holds, per node, everything that
node applies, plus one shared peer table per family; each host takes its own entry
and filters itself out of the peer table, so the controller never builds n views
of n peers.

The lease file is read, and rewritten atomically only when the allocation or a
record changed (not in check mode; --diff shows the change).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

try:
    import podnet  # noqa: F401  (installed with pip, e.g. `make bootstrap`)
except ImportError:
    # An installed collection (air-gapped: `ansible-galaxy collection install` of the
    # tarball) carries the library beside its plugins; use that copy.
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "library"))

from podnet import FleetPlan, Lease, ValidationError, parse_leases, parse_net_conf, parse_nodes
from podnet import plan_fleet as plan_nodes
from podnet.cli.files import load_json, load_yaml, render_lease_file, write_atomically
from podnet.fields import read_cidrs
from podnet.render.cni import CNI_MODES, render_cni_conflist
from podnet.render.subnet_env import render_subnet_env

DEFAULT_LEASE_FILE = "podnet-leases.yml"
CNI_CONFLIST_NAME = "10-flannel.conflist"
_FAMILY_WORD = {4: "ipv4", 6: "ipv6"}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        ("net_conf", "group", "lease_file", "service_cidrs", "ip_masq", "cni_mode")
    )

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = self._task.args
        group = args.get("group", "podnet_nodes")
        lease_path = Path(
            args.get("lease_file")
            or Path(task_vars.get("inventory_dir") or ".") / DEFAULT_LEASE_FILE
        )
        # str(): Ansible hands out tagged str subclasses, which YAML and JSON dumpers refuse.
        hosts = [str(host) for host in task_vars.get("groups", {}).get(group, ())]
        hostvars = task_vars.get("hostvars", {})
        try:
            conf = parse_net_conf(_load_net_conf(args.get("net_conf")))
            cni_mode = _check_choice("cni_mode", args.get("cni_mode", "bridge"), CNI_MODES)
            ip_masq = bool(args.get("ip_masq", True))
            leases = _load_leases(lease_path)
            problems: list[str] = []
            services = read_cidrs(args.get("service_cidrs") or [], "podnet_service_cidrs", problems)
            families = frozenset(pool.family for pool in conf.pools)
            raw_nodes = [
                describe_node(name, hostvars[name], leases.get(name), families, problems)
                for name in sorted(hosts)
            ]
            if problems:
                raise ValidationError(problems)
            plan = plan_nodes(
                conf,
                parse_nodes(raw_nodes),
                leases=leases,
                service_cidrs=services,
            )
        except ValidationError as error:
            raise AnsibleActionFail(_message(group, error.problems)) from None

        before = lease_path.read_text(encoding="utf-8") if lease_path.exists() else ""
        after = render_lease_file(records_of(plan))
        leases_changed = before != after
        if leases_changed and not self._task.check_mode:
            write_atomically(lease_path, after)
        result.update(plan_slices(plan, ip_masq=ip_masq, cni_mode=cni_mode))
        result.update(
            changed=leases_changed,
            lease_file=str(lease_path),
            warnings=list(plan.warnings),
            msg=_summary(plan, lease_path, leases_changed),
        )
        if self._task.diff and leases_changed:
            result["diff"] = {
                "before": before,
                "after": after,
                "before_header": str(lease_path),
                "after_header": str(lease_path),
            }
        return result


def describe_node(
    name: str,
    host: Mapping[str, Any],
    lease: Lease | None,
    families: frozenset[int],
    problems: list[str],
) -> dict[str, Any]:
    """One node as `parse_nodes` reads it, from its variables, facts or lease record.

    Args:
        host: the host's variables (hostvars[name]): podnet_* and, if gathered, ansible_facts.
        lease: the lease file's entry for the node, if any.
        families: the address families the fleet uses (4, 6).
        problems: where a node nobody can place is reported.
    """
    facts = host.get("ansible_facts") or {}
    iface = host.get("podnet_iface") or (facts.get("default_ipv4") or {}).get("interface")
    iface_facts = (facts.get(iface) or {}) if iface else {}
    if facts and iface and not iface_facts:
        known = ", ".join(sorted(facts.get("interfaces") or ())) or "none"
        problems.append(
            f"{name}.podnet_iface: {iface!r} is not an interface of the host (it has: {known});"
            " set podnet_iface to the underlay interface"
        )
    ipv4 = iface_facts.get("ipv4") or {}
    global_v6 = [a for a in iface_facts.get("ipv6") or () if a.get("scope") == "global"]
    node: dict[str, Any] = {
        "name": name,
        "iface": iface,
        "public_ip": host.get("podnet_public_ip")
        or ipv4.get("address")
        or _text(lease and lease.public_ip),
        "public_ipv6": host.get("podnet_public_ipv6")
        or (global_v6[0].get("address") if global_v6 else None)
        or _text(lease and lease.public_ipv6),
        "mtu": _int(host.get("podnet_mtu")) or iface_facts.get("mtu") or (lease and lease.mtu),
        "subnet": host.get("podnet_subnet"),
        "ipv6_subnet": host.get("podnet_ipv6_subnet"),
    }
    if ipv4.get("network") and ipv4.get("netmask"):
        node["underlay_subnet"] = f"{ipv4['network']}/{ipv4['netmask']}"
    for family, key in ((4, "public_ip"), (6, "public_ipv6")):
        if family not in families:
            node[key] = None
        elif not node[key]:
            problems.append(_unplaced(name, key, bool(facts), iface))
    if node["mtu"] is None:
        del node["mtu"]  # the planner's default (1500) and its warning apply
    return {key: value for key, value in node.items() if value is not None}


def _unplaced(name: str, key: str, has_facts: bool, iface: str | None) -> str:
    fix = f"set podnet_{key} for {name}"
    if has_facts:
        return (
            f"{name}.podnet_{key}: not set, and the interface {iface!r} has no such address;"
            f" {fix}, or podnet_iface to the interface that carries it"
        )
    return (
        f"{name}.podnet_{key}: unknown: {name} has no facts in this run (left out by --limit,"
        f" or unreachable) and no record in the lease file; {fix}, or run once with {name}"
        " in the play"
    )


def records_of(plan: FleetPlan) -> dict[str, Lease]:
    """What the lease file records: each node's subnets and where it was seen, plus kept leases."""
    records = dict(plan.kept_leases)
    for node_plan in plan.nodes:
        node = node_plan.node
        records[node_plan.name] = Lease(
            node_plan.subnet, node_plan.ipv6_subnet, node.public_ip, node.public_ipv6, node.mtu
        )
    return records


def plan_slices(plan: FleetPlan, ip_masq: bool, cni_mode: str) -> dict[str, Any]:
    """The plan as task data: fleet-wide values, each node's own entry, one peer table per family.

    Every enabled family gets a `vxlan` entry with state present; a disabled one gets
    state absent, so a family switched off leaves no device behind.
    """
    conf = plan.net_conf
    backend = conf.backend
    nodes: dict[str, Any] = {}
    peers: dict[str, list[dict[str, str]]] = {_FAMILY_WORD[p.family]: [] for p in conf.pools}
    for node_plan in plan.nodes:
        node = node_plan.node
        tunnels = []
        for family in (4, 6):
            pool = conf.pool(family)
            if pool is None:
                tunnels.append({"family": family, "state": "absent"})
                continue
            tunnel = {
                "family": family,
                "state": "present",
                "network": str(pool.network),
                "subnet": str(node_plan.subnet_of(family)),
                "local": _text(node.public_address(family)),
                "vtep_mac": node_plan.vtep_mac if family == 4 else node_plan.vtep_mac_v6,
            }
            tunnels.append(tunnel)
            peers[_FAMILY_WORD[family]].append(
                {
                    "name": node_plan.name,
                    "subnet": tunnel["subnet"],
                    "public_ip": tunnel["local"],
                    "vtep_mac": tunnel["vtep_mac"],
                }
            )
        nodes[node_plan.name] = {
            "iface": node.iface,
            "vxlan": tunnels,
            "masquerade": [
                {"network": t["network"], "subnet": t["subnet"]}
                for t in tunnels
                if t["state"] == "present"
            ],
            "subnet_env": render_subnet_env(plan, node_plan.name, ip_masq=ip_masq),
            "cni_conflist": render_cni_conflist(plan, node_plan.name, cni_mode, ip_masq),
        }
    return {
        "mtu": plan.mtu.mtu,
        "backend": {
            "type": backend.type.value,
            "vni": backend.vni,
            "port": backend.port,
            "gbp": backend.gbp,
            "learning": backend.learning,
            "direct_routing": backend.direct_routing,
        },
        "enable_nftables": conf.enable_nftables,
        "ip_masq": ip_masq,
        "cni_conflist_name": CNI_CONFLIST_NAME,
        "families": [pool.family for pool in conf.pools],
        "nodes": nodes,
        "peers": peers,
    }


def _load_net_conf(value: object) -> object:
    """`net_conf` is flannel's net-conf.json as a dict, or the path of the JSON file."""
    if value is None:
        raise ValidationError(
            [
                "net_conf: not given; set podnet_net_conf for the podnet_nodes group to flannel's"
                ' net-conf.json, e.g. {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
            ]
        )
    if isinstance(value, str):
        return load_json(Path(value), "podnet_net_conf")
    return value


def _load_leases(path: Path) -> dict[str, Lease]:
    if not path.exists():
        return {}
    try:
        return parse_leases(load_yaml(path, "podnet_lease_file"))
    except ValidationError as error:
        raise ValidationError([f"{path}: {problem}" for problem in error.problems]) from None


def _check_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValidationError([f"podnet_{field}: {value!r} is not one of {', '.join(choices)}"])
    return str(value)


def _message(group: str, problems: tuple[str, ...] | list[str]) -> str:
    lines = "\n".join(f"  - {problem}" for problem in problems)
    return f"podnet cannot plan the {group} group; nothing was changed on any host:\n{lines}"


def _summary(plan: FleetPlan, lease_path: Path, leases_changed: bool) -> str:
    mtu = plan.mtu
    recorded = "updated" if leases_changed else "unchanged"
    return (
        f"{len(plan.nodes)} nodes, backend {plan.net_conf.backend.type.value}, pod MTU {mtu.mtu}"
        f" (underlay {mtu.underlay} - {mtu.overhead}); lease file {lease_path} {recorded}"
    )


def _text(value: object) -> str | None:
    return None if value is None else to_text(value)


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return value  # type: ignore[return-value]  # parse_nodes names the bad value
