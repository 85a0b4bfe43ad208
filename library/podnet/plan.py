"""The fleet plan: every node's subnets, VTEP MACs and the pod MTU, computed at once.

Peers are not stored per node (that would be n**2 objects for n nodes); a node's
peer list is derived from the shared node list when asked for, so planning stays
O(n log n) and a node's view costs O(n).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from .adopt import check_unknown_subnets
from .allocate import NETWORK_KEY, FamilyAllocation, allocate_family
from .config import BackendType, NetConf, WireguardMode
from .errors import list_names, raise_if
from .fields import IPAddress, IPNetwork
from .leases import Lease
from .mtu import MtuDecision, compute_mtu
from .nodes import Node
from .vtep import derive_vtep_mac


@dataclass(frozen=True, slots=True)
class NodePlan:
    """What one node gets.

    Attributes:
        vtep_mac, vtep_mac_v6: the VXLAN device MACs (None for other backends).
    """

    node: Node
    subnet: ipaddress.IPv4Network | None
    ipv6_subnet: ipaddress.IPv6Network | None
    vtep_mac: str | None = None
    vtep_mac_v6: str | None = None

    @property
    def name(self) -> str:
        return self.node.name

    def subnet_of(self, family: int) -> IPNetwork | None:
        return self.subnet if family == 4 else self.ipv6_subnet

    def kept_macs(self) -> tuple[str | None, str | None]:
        """The VTEP MACs (IPv4, IPv6) the lease file must keep: those podnet would not
        derive again from the name (an adopted flannel's random ones).

        >>> from podnet.nodes import Node
        >>> flannels = "0a:00:00:00:00:01"
        >>> NodePlan(Node("a"), None, None, derive_vtep_mac("a", 4), flannels).kept_macs()
        (None, '0a:00:00:00:00:01')
        """
        return (
            self.vtep_mac if self.vtep_mac != derive_vtep_mac(self.name, 4) else None,
            self.vtep_mac_v6 if self.vtep_mac_v6 != derive_vtep_mac(self.name, 6) else None,
        )

    def vtep_address(self, family: int = 4) -> IPAddress | None:
        """The tunnel device's address: the subnet's network address (flannel's .0/32)."""
        subnet = self.subnet_of(family)
        return None if subnet is None else subnet.network_address


@dataclass(frozen=True, slots=True)
class Peer:
    """Another node, as seen from one node.

    Attributes:
        shares_underlay, shares_underlay_v6: the peer's public address lies in this
            node's underlay subnet (DirectRouting can reach it without a tunnel).
    """

    name: str
    public_ip: ipaddress.IPv4Address | None
    public_ipv6: ipaddress.IPv6Address | None
    subnet: ipaddress.IPv4Network | None
    ipv6_subnet: ipaddress.IPv6Network | None
    vtep_mac: str | None
    vtep_mac_v6: str | None
    shares_underlay: bool
    shares_underlay_v6: bool


@dataclass(frozen=True, slots=True)
class FleetPlan:
    """The whole fleet's plan.

    Attributes:
        nodes: one entry per node, sorted by name.
        kept_leases: leases of nodes no longer in the inventory, still reserved.
        service_cidrs: the cluster's service ranges, at most one per family, IPv4 first.
    """

    net_conf: NetConf
    mtu: MtuDecision
    nodes: tuple[NodePlan, ...]
    kept_leases: Mapping[str, Lease]
    warnings: tuple[str, ...]
    service_cidrs: tuple[IPNetwork, ...]
    _positions: Mapping[str, int] = field(repr=False, compare=False)

    def node(self, name: str) -> NodePlan:
        """The plan of node `name`; KeyError naming the known nodes otherwise."""
        position = self._positions.get(name)
        if position is None:
            known = list_names([plan.name for plan in self.nodes])
            raise KeyError(f"node {name!r} is not in the inventory (nodes: {known})")
        return self.nodes[position]

    def peers(self, name: str) -> tuple[Peer, ...]:
        """Every other node as `name` sees it, sorted by name."""
        me = self.node(name).node
        return tuple(_peer_of(me, plan) for plan in self.nodes if plan.name != name)

    def leases(self) -> dict[str, Lease]:
        """What the lease file should record: every node's subnets (and VTEP MACs that
        are not derived) plus the kept ones."""
        recorded = {}
        for plan in self.nodes:
            mac, mac_v6 = plan.kept_macs()
            recorded[plan.name] = Lease(
                plan.subnet, plan.ipv6_subnet, vtep_mac=mac, vtep_mac_v6=mac_v6
            )
        recorded.update(self.kept_leases)
        return recorded


def _peer_of(me: Node, plan: NodePlan) -> Peer:
    other = plan.node
    return Peer(
        name=other.name,
        public_ip=other.public_ip,
        public_ipv6=other.public_ipv6,
        subnet=plan.subnet,
        ipv6_subnet=plan.ipv6_subnet,
        vtep_mac=plan.vtep_mac,
        vtep_mac_v6=plan.vtep_mac_v6,
        shares_underlay=_on_segment(me.underlay_subnet, other.public_ip),
        shares_underlay_v6=_on_segment(me.underlay_ipv6_subnet, other.public_ipv6),
    )


def _on_segment(segment: IPNetwork | None, address: IPAddress | None) -> bool:
    return segment is not None and address is not None and address in segment


def plan_fleet(
    conf: NetConf,
    nodes: Sequence[Node],
    leases: Mapping[str, Lease] | None = None,
    observed: Mapping[str, Lease] | None = None,
    service_cidrs: Iterable[IPNetwork] = (),
) -> FleetPlan:
    """Plan the fleet: subnets, MTU, VTEP MACs.

    Subnets come from a pin, else the lease file, else what the host uses now, else the
    lowest free one (allocate.py); once any node was read (Node.read), a node that was
    not, with neither a pin nor a lease line, is an error (adopt.check_unknown_subnets).
    host-gw refuses a public address its interface does not hold (Node.iface_addresses).
    VTEP MACs come from the lease file, else the host's VXLAN device (a running flannel's
    random MAC, so its peers' entries stay right while the fleet switches), else they
    are derived from the node's name.

    Args:
        leases: the lease file's content (node name -> Lease).
        observed: what the hosts use now (subnet.env, a running flannel's device): their
            subnets and VTEP MACs.
        service_cidrs: the cluster's service ranges; the pod network may not overlap them.

    Raises:
        ValidationError: every problem found, naming the nodes, values and fixes.

    >>> from podnet.config import parse_net_conf
    >>> plan = plan_fleet(parse_net_conf({"Network": "10.244.0.0/16"}),
    ...                   [Node("b", ipaddress.IPv4Address("192.0.2.2")),
    ...                    Node("a", ipaddress.IPv4Address("192.0.2.1"))])
    >>> [(p.name, str(p.subnet)) for p in plan.nodes], plan.mtu.mtu
    ([('a', '10.244.1.0/24'), ('b', '10.244.2.0/24')], 1450)
    """
    problems: list[str] = []
    warnings = list(conf.warnings)
    leases = leases or {}
    observed = observed or {}
    if not nodes:
        problems.append("nodes: the inventory is empty; list at least one node")
    # Name order everywhere, so that messages too do not depend on the inventory's order.
    ordered = sorted(nodes, key=lambda node: node.name)
    _check_underlay_addresses(conf, ordered, problems)
    services = tuple(sorted(service_cidrs, key=lambda cidr: cidr.version))
    _check_services(services, problems)
    _check_overlaps(conf, ordered, services, problems)
    if conf.backend.type is BackendType.HOST_GW:
        _check_not_nat(conf, ordered, problems)
        for pool in conf.pools:
            _check_one_segment(pool.family, ordered, problems)
    check_unknown_subnets(conf, ordered, leases, problems)
    mtu = compute_mtu(conf, ordered, problems, warnings)
    allocations: dict[int, FamilyAllocation] = {
        pool.family: allocate_family(
            pool,
            ordered,
            leases=_family_view(leases, pool.family),
            observed=_family_view(observed, pool.family),
            problems=problems,
            warnings=warnings,
        )
        for pool in conf.pools
    }
    macs = _vtep_macs(conf, ordered, leases, observed, problems)
    raise_if(problems)

    def assigned(family: int, name: str) -> IPNetwork | None:
        allocation = allocations.get(family)
        return None if allocation is None else allocation.assigned[name]

    plans = tuple(
        NodePlan(
            node=node,
            subnet=assigned(4, node.name),  # type: ignore[arg-type]
            ipv6_subnet=assigned(6, node.name),  # type: ignore[arg-type]
            vtep_mac=macs.get((node.name, 4)),
            vtep_mac_v6=macs.get((node.name, 6)),
        )
        for node in ordered
    )
    kept_names = sorted({name for a in allocations.values() for name in a.kept})
    kept = {
        name: Lease(
            allocations[4].kept.get(name) if 4 in allocations else None,  # type: ignore[arg-type]
            allocations[6].kept.get(name) if 6 in allocations else None,  # type: ignore[arg-type]
        )
        for name in kept_names
    }
    return FleetPlan(
        net_conf=conf,
        mtu=mtu,
        nodes=plans,
        kept_leases=kept,
        warnings=tuple(warnings),
        service_cidrs=services,
        _positions={plan.name: position for position, plan in enumerate(plans)},
    )


def _family_view(leases: Mapping[str, Lease], family: int) -> dict[str, IPNetwork]:
    return {name: subnet for name, lease in leases.items() if (subnet := lease.of(family))}


def _required_underlays(conf: NetConf) -> tuple[frozenset[int], ...]:
    """Per requirement, the underlay families of which a node needs at least one address."""
    backend = conf.backend
    if backend.type is BackendType.WIREGUARD and backend.mode is not WireguardMode.SEPARATE:
        return {
            WireguardMode.IPV4: (frozenset({4}),),
            WireguardMode.IPV6: (frozenset({6}),),
            WireguardMode.AUTO: (frozenset({4, 6}),),
        }[backend.mode]
    return tuple(frozenset({pool.family}) for pool in conf.pools)


def _check_underlay_addresses(conf: NetConf, nodes: Sequence[Node], problems: list[str]) -> None:
    """Every tunnel or route needs the node's public address of the underlay family."""
    for families in _required_underlays(conf):
        key = " or ".join(
            "public_ip" if family == 4 else "public_ipv6" for family in sorted(families)
        )
        missing = [n.name for n in nodes if all(n.public_address(f) is None for f in families)]
        if missing:
            problems.append(
                f"nodes[{list_names(missing)}].{key}: missing; the {conf.backend.type} backend"
                f" needs it to reach the node{'s' if len(missing) > 1 else ''}"
            )


def _check_services(services: Sequence[IPNetwork], problems: list[str]) -> None:
    for family in (4, 6):
        same = [str(cidr) for cidr in services if cidr.version == family]
        if len(same) > 1:
            problems.append(
                f"service_cidrs: {', '.join(same)} are all IPv{family}; kube-apiserver takes"
                " at most one service range per family, keep one"
            )


def _check_overlaps(
    conf: NetConf, nodes: Sequence[Node], service_cidrs: Sequence[IPNetwork], problems: list[str]
) -> None:
    """The pod network may not swallow the underlay or the service range."""
    for pool in conf.pools:
        key, network, family = NETWORK_KEY[pool.family], pool.network, pool.family
        # Integer bounds: ipaddress's `in` and overlaps() cost microseconds a call, a
        # fifth of plan_fleet at 50,000 nodes.
        first, last = int(network.network_address), int(network.broadcast_address)
        by_address: list[str] = []
        by_segment: list[str] = []
        for node in nodes:
            address = node.public_address(family)
            if address is not None and first <= int(address) <= last:
                by_address.append(f"{node.name} ({address})")
                continue
            segment = node.underlay(family)
            if segment is not None and (
                int(segment.network_address) <= last and first <= int(segment.broadcast_address)
            ):
                by_segment.append(f"{node.name} ({segment})")
        clashing = by_address + by_segment
        if clashing:
            problems.append(
                f"{key}: {network} overlaps the underlay of {list_names(clashing)}: traffic to"
                f" those hosts would be routed into the pod network; pick a {key} outside the"
                " underlay"
            )
        for service in service_cidrs:
            if service.version == network.version and service.overlaps(network):
                problems.append(
                    f"{key}: {network} overlaps the service CIDR {service}; pick ranges that"
                    " do not overlap (kubeadm's default service CIDR is 10.96.0.0/12)"
                )


def _check_one_segment(family: int, nodes: Sequence[Node], problems: list[str]) -> None:
    """host-gw routes a peer's subnet via its public IP, which only works on-link.

    A node whose underlay segment is unknown (no facts in this run) is not judged
    here; the host_gw module checks the gateway against the host's own routes.
    Cost: O(segments x nodes), not O(nodes**2): a pair fails when one end's segment
    does not hold the other's address.
    """
    members: dict[IPNetwork, list[Node]] = {}
    for node in nodes:
        segment = node.underlay(family)
        if segment is not None:
            members.setdefault(segment, []).append(node)
    if not members:
        return
    broken: set[tuple[str, str]] = set()
    for segment, inside in members.items():
        first, last = int(segment.network_address), int(segment.broadcast_address)
        outside = [
            node.name
            for node in nodes
            if (address := node.public_address(family)) is not None
            and not first <= int(address) <= last
        ]
        for name in outside:
            broken.update(tuple(sorted((member.name, name))) for member in inside)  # type: ignore[misc]
            if len(broken) > _PAIRS_SHOWN:
                break
    if not broken:
        return
    pairs = sorted(broken)
    shown = ", ".join(f"{a}-{b}" for a, b in pairs[:_PAIRS_SHOWN])
    more = " and more" if len(pairs) > _PAIRS_SHOWN else ""
    segments = "; ".join(
        f"{segment} ({list_names([n.name for n in inside])})"
        for segment, inside in sorted(members.items(), key=lambda item: str(item[0]))
    )
    problems.append(
        f"Backend.Type: host-gw needs every node on one L2 segment, but these node pairs are"
        f" on different IPv{family} segments: {shown}{more} (segments: {segments}); host-gw"
        " routes between them would silently fail. Use"
        ' {"Type": "vxlan", "DirectRouting": true}: direct routes inside a segment, VXLAN'
        " across"
    )


def _check_not_nat(conf: NetConf, nodes: Sequence[Node], problems: list[str]) -> None:
    """host-gw routes to a peer's public IP on-link, so it must be the interface's own.

    Judged only where the interface's addresses are known (facts in this run); the
    wording after the colon is flanneld's (backend/hostgw: "your PublicIP differs ...").
    """
    for node in nodes:
        if node.iface_addresses is None:
            continue
        for pool in conf.pools:
            address = node.public_address(pool.family)
            if address is not None and address not in node.iface_addresses:
                problems.append(
                    f"{node.name}.{_PUBLIC_VARIABLE[pool.family]}: {address} is not an address"
                    f" of {node.iface!r}: your PublicIP differs from interface IP, meaning that"
                    " probably you're on a NAT, which is not supported by host-gw backend; drop"
                    " the variable, or use the vxlan or wireguard backend"
                )


# The inventory variable that sets a node's public address (the nodes.yml key without
# the prefix): messages name what a site.yml user sets.
_PUBLIC_VARIABLE = {4: "podnet_public_ip", 6: "podnet_public_ipv6"}
# How many broken node pairs a host-gw error lists.
_PAIRS_SHOWN = 10


def _vtep_macs(
    conf: NetConf,
    nodes: Sequence[Node],
    leases: Mapping[str, Lease],
    observed: Mapping[str, Lease],
    problems: list[str],
) -> dict[tuple[str, int], str]:
    """VXLAN MACs per (node, family): recorded, else the host's, else derived.

    Two devices with one MAC would send each other's traffic to one place, so a
    collision is an error (derived ones: about 1 in 10**5 at 50,000 nodes).
    """
    if conf.backend.type is not BackendType.VXLAN:
        return {}
    macs: dict[tuple[str, int], str] = {}
    for pool in conf.pools:
        family = pool.family
        owners: dict[str, tuple[str, str]] = {}  # MAC -> (node, where the MAC came from)
        for node in nodes:
            mac, source = _vtep_mac_of(node.name, family, leases, observed)
            if mac in owners:
                problems.append(_mac_collision(family, mac, (node.name, source), owners[mac]))
            owners[mac] = (node.name, source)
            macs[node.name, family] = mac
    return macs


_MAC_KEY = {4: "vtep_mac", 6: "vtep_mac_v6"}
_DERIVED = "derived from its name"


def _vtep_mac_of(
    name: str, family: int, leases: Mapping[str, Lease], observed: Mapping[str, Lease]
) -> tuple[str, str]:
    recorded = leases.get(name)
    if recorded is not None and (mac := recorded.mac_of(family)) is not None:
        return mac, f"leases[{name}].{_MAC_KEY[family]}"
    seen = observed.get(name)
    if seen is not None and (mac := seen.mac_of(family)) is not None:
        return mac, f"the IPv{family} VXLAN device on {name}"
    return derive_vtep_mac(name, family), _DERIVED


def _mac_collision(family: int, mac: str, holder: tuple[str, str], first: tuple[str, str]) -> str:
    """Name both nodes, where each MAC came from, and the fix."""
    (name, source), (other, other_source) = holder, first
    if source == other_source == _DERIVED:
        return (
            f"nodes[{name}]: its VTEP MAC {mac} equals that of {other}; rename one of the two nodes"
        )
    return (
        f"nodes[{name}]: its VTEP MAC {mac} ({source}) equals that of {other} ({other_source});"
        f" set another {_MAC_KEY[family]} for one of the two in the lease file (the lease"
        " file's MAC wins over the host's and the derived one)"
    )
