"""The one validation pass over the whole fleet, shared by `podnet plan` and site.yml.

Every problem of every node is collected before anything is planned or written: the
nodes' fields (nodes.read_nodes), what the hosts' facts say of them (an address on no
interface, check_on_host), the paths the role writes on each host (check_paths), then
the fleet-wide rules of the plan (pins, overlaps, MTU, ...) over the nodes that are
valid. One `ValidationError` lists them all, so a user fixes an inventory in one pass
and no host is changed while any problem is left.
"""

from __future__ import annotations

import posixpath
from collections.abc import Collection, Iterable, Mapping, Sequence

from .config import NetConf
from .errors import ValidationError, list_names, raise_if
from .fields import IPNetwork
from .leases import Lease
from .nodes import Node, read_nodes
from .plan import FleetPlan, plan_fleet

# The inventory variable of a node's public address of each family: messages name what a
# site.yml user sets (nodes.yml spells it without the prefix).
PUBLIC_VARIABLE = {4: "podnet_public_ip", 6: "podnet_public_ipv6"}
NAT_VARIABLE = "podnet_public_ip_nat"

# The paths the role writes on a host, with their defaults (roles/node/defaults/main.yml).
# A directory is one podnet writes into or owns; a file's directory is made by the role.
PATH_DEFAULTS: dict[str, str] = {
    "podnet_state_dir": "/etc/podnet",
    "podnet_subnet_env_path": "/run/flannel/subnet.env",
    "podnet_cni_conf_dir": "/etc/cni/net.d",
    "podnet_systemd_unit_dir": "/etc/systemd/system",
    "podnet_wireguard_key_file": "/etc/podnet/wireguard.key",
}
FILE_PATHS = frozenset({"podnet_subnet_env_path", "podnet_wireguard_key_file"})
# Second-level directories shared by the system and other software: podnet may write into
# a directory below them, never into one of them (the role sets its directories' modes,
# and reset removes podnet_state_dir whole). Every top-level directory is refused too.
# plugins/module_utils/reset/decide.py holds reset's own copy of the rule, on the host.
SHARED_DIRS = frozenset(
    {
        "/etc/systemd",
        "/etc/default",
        "/usr/bin",
        "/usr/lib",
        "/usr/local",
        "/usr/sbin",
        "/usr/share",
        "/var/cache",
        "/var/lib",
        "/var/log",
        "/var/run",
        "/var/spool",
        "/var/tmp",
        "/run/lock",
        "/run/user",
        "/dev/shm",
    }
)


def plan_validated(
    conf: NetConf | None,
    raw_nodes: Sequence[object],
    problems: list[str],
    *,
    leases: Mapping[str, Lease] | None = None,
    observed: Mapping[str, Lease] | None = None,
    service_cidrs: Iterable[IPNetwork] = (),
    unplanned: Collection[str] = (),
) -> FleetPlan:
    """Check every node and the fleet, then plan; raise every problem at once.

    Args:
        conf: the net-conf, or None when it was invalid (its problems are in `problems`):
            the nodes are still checked.
        raw_nodes: the nodes as `parse_nodes` reads them.
        problems: what the caller found already (input files, hosts' facts, paths); the
            pass adds to it.
        unplanned: nodes the caller reported already: checked, but left out of the
            fleet-wide rules, which would only repeat their problem in other words.

    Raises:
        ValidationError: every problem found.

    >>> from podnet.config import parse_net_conf
    >>> conf = parse_net_conf({"Network": "10.244.0.0/16"})
    >>> raw = [{"name": "a", "public_ip": "0.0.0.0"}, {"name": "b", "public_ip": "192.0.2.2",
    ...        "subnet": "10.99.0.0/24"}]
    >>> try:
    ...     plan_validated(conf, raw, [])
    ... except ValidationError as error:
    ...     [problem.split(":")[0] for problem in error.problems]
    ['nodes[a].public_ip', 'nodes[b].subnet']
    """
    plan: FleetPlan | None = None
    nodes = read_nodes(raw_nodes, problems)
    check_on_host(nodes, problems)
    planned = [node for node in nodes if node.name not in unplanned]
    # With every node invalid, the planner would add "the inventory is empty": not so.
    if conf is not None and (planned or not raw_nodes):
        try:
            plan = plan_fleet(
                conf,
                planned,
                leases=leases,
                observed={n: lease for n, lease in (observed or {}).items() if n not in unplanned},
                service_cidrs=service_cidrs,
            )
        except ValidationError as error:
            problems.extend(error.problems)
    raise_if(problems)
    # Planning is skipped only for a bad net-conf or bad nodes, which recorded problems.
    assert plan is not None
    return plan


def check_on_host(nodes: Iterable[Node], problems: list[str]) -> None:
    """A public address on no interface of its host is a typo, unless NAT is declared.

    Peers would send every packet for the node there (the VXLAN FDB entries, the
    routes, the WireGuard endpoints), and the node would silently drop off the overlay.
    Judged only where the host's addresses are known (its facts in this run).
    """
    for node in nodes:
        if node.host_addresses is None or node.public_ip_nat:
            continue
        for family in (4, 6):
            address = node.public_address(family)
            if address is None or address in node.host_addresses:
                continue
            held = sorted(
                (a for a in node.host_addresses if a.version == family and not a.is_link_local),
                key=int,
            )
            problems.append(
                f"{node.name}.{PUBLIC_VARIABLE[family]}: {address} is on no interface of"
                f" {node.name} (it has: {list_names([str(a) for a in held]) or 'none'});"
                f" correct {PUBLIC_VARIABLE[family]}, or set {NAT_VARIABLE}: true for"
                f" {node.name} if peers reach it at that address through NAT"
            )


def check_paths(name: str, paths: Mapping[str, object], problems: list[str]) -> None:
    """The paths the role writes on host `name` must be absolute and podnet's own.

    >>> problems = []
    >>> check_paths("n1", {"podnet_state_dir": "/etc", "podnet_cni_conf_dir": "net.d"}, problems)
    >>> [problem.split(":")[0] for problem in problems]
    ['n1.podnet_state_dir', 'n1.podnet_cni_conf_dir']
    """
    before = len(problems)
    state_dir = paths.get("podnet_state_dir")
    for field, value in paths.items():
        # A key file in the state directory (its default) is judged with that directory.
        key_in_state_dir = field == "podnet_wireguard_key_file" and isinstance(value, str)
        if key_in_state_dir and posixpath.dirname(str(value)) == state_dir:
            continue
        if field in PATH_DEFAULTS:
            _check_path(name, field, value, problems)
    if len(problems) == before:
        _check_state_dir_holds_nothing_shared(name, paths, problems)


def _check_path(name: str, field: str, value: object, problems: list[str]) -> None:
    where, default = f"{name}.{field}", PATH_DEFAULTS[field]
    if not isinstance(value, str) or not value:
        problems.append(f"{where}: {value!r} is not a path; give one such as {default}")
        return
    if not value.startswith("/"):
        problems.append(
            f"{where}: {value!r} is a relative path, which would depend on the remote user's"
            f" working directory; give an absolute one such as {default}"
        )
        return
    normal = posixpath.normpath(value)
    if normal != value:
        problems.append(
            f"{where}: {value!r} is not a normalised path ('.', '..', '//' or a trailing '/');"
            f" write it as {normal}"
        )
        return
    directory = posixpath.dirname(normal) if field in FILE_PATHS else normal
    if _is_system_dir(directory):
        where_it_is = f"is in {directory}, which " if field in FILE_PATHS else ""
        problems.append(
            f"{where}: {value!r} {where_it_is}is a system directory (/, a top-level directory"
            " or one shared by other software: the role sets its directories' modes and reset"
            f" removes what is podnet's); use a directory of podnet's own, such as {default}"
        )


def _is_system_dir(directory: str) -> bool:
    """/, a top-level directory, or a shared second-level one."""
    return directory.count("/") < 2 or directory in SHARED_DIRS


def _check_state_dir_holds_nothing_shared(
    name: str, paths: Mapping[str, object], problems: list[str]
) -> None:
    """reset removes podnet_state_dir with everything in it: it may not hold the CNI
    directory or subnet.env's (the boot unit may go inside it, as in the lab)."""
    state_dir = paths.get("podnet_state_dir")
    if not isinstance(state_dir, str) or not state_dir.startswith("/"):
        return
    state_dir = posixpath.normpath(state_dir)
    for field in ("podnet_cni_conf_dir", "podnet_subnet_env_path"):
        other = paths.get(field)
        if not isinstance(other, str):
            continue
        directory = posixpath.normpath(other)
        if field in FILE_PATHS:
            directory = posixpath.dirname(directory)
        if directory == state_dir or directory.startswith(state_dir.rstrip("/") + "/"):
            problems.append(
                f"{name}.podnet_state_dir: {state_dir!r} holds {field} {other!r}, but reset"
                " removes podnet_state_dir with everything in it; give each its own"
                f" directory, such as {PATH_DEFAULTS['podnet_state_dir']} and"
                f" {PATH_DEFAULTS[field]}"
            )
