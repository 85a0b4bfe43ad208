"""podnet.fabric.plan: plan the whole fleet once, on the controller.

The fleet is the inventory group (never the hosts of the current play, so `--limit`
cannot drop a peer or move anyone's subnet). Each node's underlay address and MTU
come, in order, from its podnet_* variables, its gathered facts, or the lease
file's record of where it was last seen; a node none of them covers stops the plan
with a message naming it and the fix.

What each host uses now (its podnet_flannel_facts, the registered result of
podnet.fabric.flannel_facts: a running flannel's subnet and VTEP MAC) becomes its
observed lease, ranked after a pin and the lease file, and marks the node as read: the
library then stops the plan on a node it did not read (left out by --limit,
unreachable) that has neither a pin nor a lease line, since the subnet it may already
use cannot be known. The domain rules (that one, host-gw behind NAT, ...) live in the
library, so `podnet plan` refuses exactly what this plugin refuses.

The result holds, per node, everything that
node applies, plus one shared peer table per family; each host takes its own entry
and filters itself out of the peer table, so the controller never builds n views
of n peers.

The lease file is read, and rewritten atomically only when the allocation or a
record changed (not in check mode; --diff shows the change).
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase

# The collection carries its planning library (library/podnet, the same version as these
# plugins). Put it first on the path, so a `podnet` found earlier (another project of that
# name, an older pip install) cannot shadow it; only a collection built without it falls
# back to an installed `podnet`.
BUNDLED_LIBRARY = Path(__file__).resolve().parents[2] / "library"
if (BUNDLED_LIBRARY / "podnet" / "__init__.py").is_file():
    sys.path.insert(0, str(BUNDLED_LIBRARY))

from podnet import (
    BackendType,
    FleetPlan,
    Lease,
    NetConf,
    ValidationError,
    parse_leases,
    parse_net_conf,
)
from podnet.adopt import OBSERVED_FACT, read_observed
from podnet.cli.files import (
    lease_lock,
    load_json,
    load_yaml,
    render_lease_file,
    write_atomically,
)
from podnet.fields import IPNetwork, is_wireguard_key, read_cidrs
from podnet.render.cni import CNI_MODES
from podnet.slices import plan_slices, records_of
from podnet.validate import NAT_VARIABLE, check_paths, plan_validated

DEFAULT_LEASE_FILE = "podnet-leases.yml"
# The fact the role sets on each host from podnet.fabric.wireguard_key.
PUBLIC_KEY_FACT = "podnet_wireguard_public_key"
# The fact plan_fleet.yml sets on each host: the paths the role would write there,
# templated with that host's own variables (hostvars alone miss role defaults).
PATHS_FACT = "podnet_paths"
# The nodes.yml keys that are inventory variables (podnet_<key>): the library's messages
# about them are shown in the words of the inventory.
_VARIABLE_KEYS = "public_ip|public_ipv6|public_ip_nat|iface|mtu|subnet|ipv6_subnet"
_NODE_FIELD = re.compile(rf"^nodes\[([^\]\s,]+)\]\.({_VARIABLE_KEYS})(?=[:\[])")

__all__ = [
    "ActionModule",
    "describe_node",
    "observed_leases",
    "plan_hosts",
    "plan_slices",
    "public_keys_of",
    "records_of",
]


class ActionModule(ActionBase):  # type: ignore[misc]  # ansible-core ships no type information
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(
        (
            "net_conf",
            "group",
            "lease_file",
            "service_cidrs",
            "ip_masq",
            "cni_mode",
            "require_keys",
            "psk_only",
        )
    )

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result: dict[str, Any] = super().run(tmp, task_vars)
        args = self._task.args
        group = args.get("group", "podnet_nodes")
        lease_path = Path(
            args.get("lease_file")
            or Path(task_vars.get("inventory_dir") or ".") / DEFAULT_LEASE_FILE
        )
        # str(): Ansible hands out tagged str subclasses, which YAML and JSON dumpers refuse.
        hosts = [str(host) for host in task_vars.get("groups", {}).get(group, ())]
        hostvars = task_vars.get("hostvars", {})
        # Read, plan and record under the lease lock: a second run at the same moment plans
        # from what the first recorded (podnet.cli.files.lease_lock).
        try:
            with lease_lock(lease_path):
                conf = parse_net_conf(_load_net_conf(args.get("net_conf")))
                if args.get("psk_only"):
                    # The one secret of net-conf.json, for a no_log task; the plan never holds it.
                    result.update(changed=False, psk=conf.backend.psk or None)
                    return result
                cni_mode = _check_choice("cni_mode", args.get("cni_mode", "bridge"), CNI_MODES)
                ip_masq = bool(args.get("ip_masq", True))
                leases = _load_leases(lease_path)
                problems: list[str] = []
                services = read_cidrs(
                    args.get("service_cidrs") or [], "podnet_service_cidrs", problems
                )
                plan, keys = plan_hosts(
                    conf,
                    hosts,
                    hostvars,
                    leases,
                    problems,
                    service_cidrs=services,
                    require_keys=bool(args.get("require_keys")),
                )

                before = lease_path.read_text(encoding="utf-8") if lease_path.exists() else ""
                after = render_lease_file(records_of(plan, keys))
                leases_changed = before != after
                if leases_changed and not self._task.check_mode:
                    write_atomically(lease_path, after)
        except ValidationError as error:
            raise AnsibleActionFail(_message(group, error.problems)) from None
        result.update(plan_slices(plan, ip_masq=ip_masq, cni_mode=cni_mode, public_keys=keys))
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


def plan_hosts(
    conf: NetConf,
    hosts: Sequence[str],
    hostvars: Mapping[str, Any],
    leases: Mapping[str, Lease],
    problems: list[str],
    *,
    service_cidrs: Sequence[IPNetwork] = (),
    require_keys: bool = False,
) -> tuple[FleetPlan, dict[str, str]]:
    """The fleet's plan and WireGuard public keys, from the hosts' variables and facts.

    Problems of the hosts' data (a node nobody can place, a wrong podnet_iface, facts
    that are not a lease) stop here, with `problems` from the caller; the domain rules
    (host-gw behind NAT, a subnet that cannot be known, ...) are the library's, so
    `podnet plan` refuses the same inventories.

    Raises:
        ValidationError: every problem found.
    """
    names = sorted(hosts)
    for name in names:
        paths = hostvars[name].get(PATHS_FACT)
        if isinstance(paths, Mapping):
            check_paths(name, paths, problems)
    # Reported after the nodes' own problems, in the order the plan met them before.
    observed_problems: list[str] = []
    observed = observed_leases(names, hostvars, conf, observed_problems)
    families = frozenset(pool.family for pool in conf.pools)
    host_gw = conf.backend.type is BackendType.HOST_GW
    raw_nodes = [
        describe_node(
            name,
            hostvars[name],
            leases.get(name),
            families,
            problems,
            host_gw=host_gw,
            read=name in observed,
        )
        for name in names
    ]
    problems.extend(observed_problems)
    keys: dict[str, str] = {}
    if conf.backend.type is BackendType.WIREGUARD:
        keys = public_keys_of(names, hostvars, leases, require_keys, problems)
    # The library's one pass, as `podnet plan` runs it: every node's fields, then the
    # fleet's rules over the nodes not already reported above (which they would repeat).
    reported = {name for name in names if _named_in(name, problems)}
    try:
        plan = plan_validated(
            conf,
            raw_nodes,
            problems,
            leases=leases,
            observed=observed,
            service_cidrs=service_cidrs,
            unplanned=reported,
        )
    except ValidationError as error:
        raise ValidationError(
            [_in_inventory_words(problem) for problem in error.problems]
        ) from None
    return plan, keys


def describe_node(
    name: str,
    host: Mapping[str, Any],
    lease: Lease | None,
    families: frozenset[int],
    problems: list[str],
    *,
    host_gw: bool = False,
    read: bool = False,
) -> dict[str, Any]:
    """One node as `parse_nodes` reads it, from its variables, facts or lease record.

    Args:
        host: the host's variables (hostvars[name]): podnet_* and, if gathered, ansible_facts.
        lease: the lease file's entry for the node, if any.
        families: the address families the fleet uses (4, 6).
        problems: where a node nobody can place is reported.
        host_gw: the backend is host-gw, which cannot work behind NAT: the node carries
            its interface's addresses (`iface_addresses`), which the planner checks the
            public IP against, as flanneld does.
        read: the host was read in this run (its flannel_facts result is there).
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
    unplaced = []
    for family, key in ((4, "public_ip"), (6, "public_ipv6")):
        if family not in families:
            node[key] = None
        elif not node[key]:
            problems.append(_unplaced(name, key, bool(facts), iface))
            unplaced.append(key)
    # The segment is the public address's connected subnet: unknown when the address is
    # another one (NAT, a secondary address) or of a family the fleet does not use.
    if ipv4.get("network") and ipv4.get("netmask") and _same(node["public_ip"], ipv4["address"]):
        node["underlay_subnet"] = f"{ipv4['network']}/{ipv4['netmask']}"
    if (
        global_v6
        and global_v6[0].get("prefix")
        and _same(node["public_ipv6"], global_v6[0]["address"])
    ):
        node["underlay_ipv6_subnet"] = _segment_v6(global_v6[0]["address"], global_v6[0]["prefix"])
    if host_gw and iface_facts:
        node["iface_addresses"] = _addresses_of(iface_facts)
    if facts:
        # Every address of the host: a public address outside them is a typo or NAT.
        held = (*facts.get("all_ipv4_addresses", ()), *facts.get("all_ipv6_addresses", ()))
        node["host_addresses"] = [str(address) for address in held] or None
    node["public_ip_nat"] = _bool(host.get(NAT_VARIABLE))
    if read:
        node["read"] = True
    if node["mtu"] is None:
        del node["mtu"]  # the planner's default (1500) and its warning apply
    described = {key: value for key, value in node.items() if value is not None}
    # An address reported above as unknown is not "missing" once more.
    return described | dict.fromkeys(unplaced)


def observed_leases(
    names: Sequence[str],
    hostvars: Mapping[str, Any],
    conf: NetConf,
    problems: list[str],
) -> dict[str, Lease]:
    """What each host read in this run uses now (subnet, VTEP MAC), by node name.

    A host is read when it has the flannel_facts result (not skipped, not failed); the
    planner requires a pin or a lease line of every node that was not, once any was
    (podnet.adopt.check_unknown_subnets).
    """
    observed: dict[str, Lease] = {}
    for name in names:
        facts = hostvars[name].get(OBSERVED_FACT)
        if isinstance(facts, Mapping) and not facts.get("skipped") and not facts.get("failed"):
            observed[name] = read_observed(name, facts, conf, problems)
    return observed


def _addresses_of(iface_facts: Mapping[str, Any]) -> list[str]:
    """Every address of the interface, both families, as the facts list them."""
    v4 = [iface_facts.get("ipv4") or {}, *(iface_facts.get("ipv4_secondaries") or ())]
    v6 = iface_facts.get("ipv6") or ()
    return [str(a["address"]) for a in (*v4, *v6) if a.get("address")]


def _same(address: object, other: object) -> bool:
    try:
        return ipaddress.ip_address(str(address)) == ipaddress.ip_address(str(other))
    except ValueError:
        return False


def public_keys_of(
    names: list[str],
    hostvars: Mapping[str, Any],
    leases: Mapping[str, Lease],
    require: bool,
    problems: list[str],
) -> dict[str, str]:
    """Each node's WireGuard public key: from this run's fact, else the lease record.

    Only public keys travel; the private key stays in the host's key file.
    """
    keys: dict[str, str] = {}
    for name in names:
        key = hostvars[name].get(PUBLIC_KEY_FACT) or getattr(
            leases.get(name), "wireguard_public_key", None
        )
        if key and is_wireguard_key(str(key)):
            keys[name] = str(key)
        elif require:
            problems.append(
                f"{name}.{PUBLIC_KEY_FACT}: unknown: {name} has no WireGuard key fact in this"
                " run (left out by --limit, or unreachable) and none in the lease file; run"
                f" once with {name} in the play"
            )
    return keys


def _segment_v6(address: str, prefix: object) -> str:
    return str(ipaddress.ip_interface(f"{address}/{prefix}").network)


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


def _load_net_conf(value: object) -> Mapping[str, object]:
    """`net_conf` is flannel's net-conf.json as a dict, or the path of the JSON file."""
    if value is None:
        raise ValidationError(
            [
                "net_conf: not given; set podnet_net_conf for the podnet_nodes group to flannel's"
                ' net-conf.json, e.g. {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
            ]
        )
    if isinstance(value, str):
        value = load_json(Path(value), "podnet_net_conf")
    if not isinstance(value, Mapping):
        raise ValidationError(
            [
                f"net_conf: {type(value).__name__} is not flannel's net-conf.json, which is a"
                ' JSON object such as {"Network": "10.244.0.0/16", "Backend": {"Type": "vxlan"}}'
            ]
        )
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


def _bool(value: object) -> object:
    """Ansible's booleans ('yes', 'true', 1 from `-e` or an INI inventory) as bools; any other
    value as it is, for the library to name it."""
    try:
        return boolean(value, strict=True) if value is not None else None
    except TypeError:
        return value


def _int(value: object) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(str(value))
    except ValueError:
        return value  # type: ignore[return-value]  # parse_nodes names the bad value


def _in_inventory_words(problem: str) -> str:
    """`nodes[web3].mtu: ...` as the inventory says it: `web3.podnet_mtu: ...`.

    >>> _in_inventory_words("nodes[web3].mtu: 'abc' is not a whole number")
    "web3.podnet_mtu: 'abc' is not a whole number"
    """
    return _NODE_FIELD.sub(r"\1.podnet_\2", problem)


def _named_in(name: str, problems: Sequence[str]) -> bool:
    """Whether a problem is about node `name` (problems start `<name>.` or `<name>:`)."""
    return any(problem.startswith((f"{name}.", f"{name}:")) for problem in problems)
