"""What a host uses now, as a lease: how podnet adopts a running flannel.

A node that runs flannel (or ran podnet before its lease file was lost) holds a pod
subnet its pods have addresses from, and, with VXLAN, a device MAC that every peer has
in its neighbour and FDB entries. `podnet.fabric.flannel_facts` reads both on the host;
this module turns its result into the node's observed `Lease`, which `plan_fleet` ranks
after a pin and the lease file and before the lowest free subnet (DESIGN: Allocation).

The subnet comes from subnet.env (FLANNEL_SUBNET, already a network CIDR in the
facts), else from a flannel device's /32 (/128): flannel gives its device the lease's
network address, and the lease's length is the net-conf's SubnetLen.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from .allocate import SUBNET_LEN_KEY
from .config import BackendType, NetConf
from .fields import IPNetwork, read_mac, read_network
from .leases import Lease
from .names import vxlan_ifname
from .nodes import Node
from .pool import SubnetPool

# The registered result of podnet.fabric.flannel_facts that the role leaves on each host.
OBSERVED_FACT = "podnet_flannel_facts"
_SUBNET_FIELD = {4: "subnet", 6: "ipv6_subnet"}
_HOST_PREFIX = {4: 32, 6: 128}


def read_observed(name: str, facts: Mapping[str, Any], conf: NetConf, problems: list[str]) -> Lease:
    """The lease `name`'s host holds now, from its flannel_facts result.

    Args:
        facts: the module's result: `subnet`, `ipv6_subnet` and `devices` (ifname, kind,
            vni, mac, addresses).
        problems: where facts podnet cannot read as a lease are reported.

    >>> from podnet.config import parse_net_conf
    >>> conf = parse_net_conf({"Network": "10.244.0.0/16"})
    >>> device = {"ifname": "flannel.1", "kind": "vxlan", "vni": 1,
    ...           "mac": "5e:2d:81:0c:3b:7a", "addresses": ["10.244.7.0/32"]}
    >>> lease = read_observed("n1", {"subnet": None, "devices": [device]}, conf, [])
    >>> str(lease.subnet), lease.vtep_mac
    ('10.244.7.0/24', '5e:2d:81:0c:3b:7a')
    """
    path = f"hosts[{name}].{OBSERVED_FACT}"
    devices = [d for d in facts.get("devices") or () if isinstance(d, Mapping)]
    subnets: dict[int, IPNetwork | None] = {4: None, 6: None}
    macs: dict[int, str | None] = {4: None, 6: None}
    for pool in conf.pools:
        family = pool.family
        field = _SUBNET_FIELD[family]
        raw = facts.get(field)
        if raw is not None:
            subnets[family] = read_network(raw, f"{path}.{field}", problems, family)  # type: ignore[arg-type]
        else:
            subnets[family] = _subnet_from_devices(path, devices, pool, conf, problems)
        if conf.backend.type is BackendType.VXLAN:
            macs[family] = _vtep_mac(
                path, devices, vxlan_ifname(conf.backend.vni, family), problems
            )
    return Lease(
        subnets[4],  # type: ignore[arg-type]
        subnets[6],  # type: ignore[arg-type]
        vtep_mac=macs[4],
        vtep_mac_v6=macs[6],
    )


def check_unknown_subnets(
    conf: NetConf, nodes: Sequence[Node], leases: Mapping[str, Lease], problems: list[str]
) -> None:
    """Report each node whose current subnet cannot be known; nodes sorted by name.

    When hosts were read in this run (any `Node.read`), a node that was not (left out by
    --limit, unreachable) and has neither a pin nor a lease line of a family may still
    run pods from a subnet nobody knows; allocating one anyway could hand that subnet to
    someone else. One problem per node, for its first such family. With no node read,
    the planner stands alone (the CLI, a play without flannel_facts) and nothing is
    required.

    >>> from podnet.config import parse_net_conf
    >>> conf = parse_net_conf({"Network": "10.244.0.0/16"})
    >>> problems = []
    >>> check_unknown_subnets(conf, [Node("a", read=True), Node("b")], {}, problems)
    >>> problems[0].split(":")[0:2]
    ['b', ' its IPv4 subnet is unknown']
    """
    if not any(node.read for node in nodes):
        return
    for node in nodes:
        if node.read:
            continue
        lease = leases.get(node.name)
        for pool in conf.pools:
            family = pool.family
            if node.pinned(family) or (lease is not None and lease.of(family)):
                continue
            name, key = node.name, _SUBNET_FIELD[family]
            problems.append(
                f"{name}: its IPv{family} subnet is unknown: {name} has no line in the"
                " lease file and was not read in this run (left out by --limit, unreachable,"
                " or its flannel_facts task failed), so the subnet it may already use (a"
                f" running flannel's) cannot be known; run once with {name} in the play (or"
                f" set podnet_{key} for it)"
            )
            break


def _candidates(devices: Sequence[Mapping[str, Any]], family: int, conf: NetConf) -> list[Any]:
    """The devices whose address says the lease: the plan's own VXLAN device first, then
    any other VXLAN device of the family (another VNI), then WireGuard's."""
    planned = vxlan_ifname(conf.backend.vni, family)
    vxlan_prefix = "flannel." if family == 4 else "flannel-v6."
    wireguard = ("flannel-wg",) if family == 4 else ("flannel-wg-v6", "flannel-wg")

    def rank(device: Mapping[str, Any]) -> int:
        ifname = str(device.get("ifname"))
        if ifname == planned:
            return 0
        if ifname.startswith(vxlan_prefix):
            return 1
        return 2 + wireguard.index(ifname) if ifname in wireguard else 9

    return sorted((d for d in devices if rank(d) < 9), key=lambda d: (rank(d), str(d["ifname"])))


def _subnet_from_devices(
    path: str,
    devices: Sequence[Mapping[str, Any]],
    pool: SubnetPool,
    conf: NetConf,
    problems: list[str],
) -> IPNetwork | None:
    family = pool.family
    for device in _candidates(devices, family, conf):
        for text in device.get("addresses") or ():
            try:
                interface = ipaddress.ip_interface(str(text))
            except ValueError:
                continue
            if interface.version != family or interface.network.prefixlen != _HOST_PREFIX[family]:
                continue
            try:
                return ipaddress.ip_network((interface.ip, pool.subnet_len))
            except ValueError:
                problems.append(
                    f"{path}: {device.get('ifname')} has {text}, which is not the network"
                    f" address of a /{pool.subnet_len} ({SUBNET_LEN_KEY[family]}), so the"
                    f" subnet the host uses is unknown; set {SUBNET_LEN_KEY[family]} to the"
                    " running cluster's, or restore the host's /run/flannel/subnet.env"
                )
                return None
    return None


def _vtep_mac(
    path: str, devices: Sequence[Mapping[str, Any]], ifname: str, problems: list[str]
) -> str | None:
    for device in devices:
        if device.get("ifname") == ifname and device.get("kind") == "vxlan":
            mac = device.get("mac")
            return None if mac is None else read_mac(mac, f"{path}.{ifname}.mac", problems)
    return None
