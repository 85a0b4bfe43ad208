"""The fleet plan as plain data for the hosts that apply it.

Each node gets its own entry (what to build, per backend), and the fleet gets one
shared peer table per family (and per WireGuard device); a host takes its entry and
filters itself out of the table, so nobody builds n views of n peers.

Every backend's entry is present for every node: the backend in use says `present`
(or lists its devices), the others say what to remove, so switching backends in one
run leaves nothing of the old one behind. VXLAN devices of other backends and
WireGuard devices of other modes are found on the host (by name), not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .config import BackendType
from .leases import Lease
from .plan import FleetPlan, NodePlan
from .render.cni import render_cni_conflist
from .render.subnet_env import render_subnet_env
from .wireguard import WireguardDevice, endpoint, wireguard_devices

FAMILY_WORD = {4: "ipv4", 6: "ipv6"}
CNI_CONFLIST_NAME = "10-flannel.conflist"


def plan_slices(
    plan: FleetPlan,
    ip_masq: bool,
    cni_mode: str,
    public_keys: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Fleet-wide values, each node's own entry, and the shared peer tables.

    Args:
        public_keys: node name -> WireGuard public key, for the nodes whose key is
            known; a peer without one is left out of the WireGuard tables.
    """
    conf = plan.net_conf
    backend = conf.backend
    keys = public_keys or {}
    devices = wireguard_devices(conf) if backend.type is BackendType.WIREGUARD else ()
    peers: dict[str, Any] = {FAMILY_WORD[pool.family]: [] for pool in conf.pools}
    peers["wireguard"] = {device.name: [] for device in devices}
    nodes: dict[str, Any] = {}
    for node_plan in plan.nodes:
        routed = _routed_families(plan, node_plan)
        for entry in routed:
            peers[FAMILY_WORD[entry["family"]]].append(
                {
                    "name": node_plan.name,
                    "subnet": entry["subnet"],
                    "public_ip": entry["local"],
                    "vtep_mac": entry["vtep_mac"],
                }
            )
        for device in devices:
            peer = _wireguard_peer(node_plan, device, keys.get(node_plan.name))
            if peer is not None:
                peers["wireguard"][device.name].append(peer)
        nodes[node_plan.name] = {
            "iface": node_plan.node.iface,
            "vxlan": _vxlan_entries(plan, routed),
            "host_gw": _host_gw_entries(plan, routed),
            "wireguard": [_wireguard_entry(plan, node_plan, device) for device in devices],
            "wireguard_public_key": keys.get(node_plan.name),
            "masquerade": [{"network": e["network"], "subnet": e["subnet"]} for e in routed],
            "subnet_env": render_subnet_env(plan, node_plan.name, ip_masq=ip_masq),
            "cni_conflist": render_cni_conflist(plan, node_plan.name, cni_mode, ip_masq),
        }
    return {
        "mtu": plan.mtu.mtu,
        # The underlay MTU the pod MTU was derived from (verify compares each node's).
        "underlay_mtu": plan.mtu.underlay,
        "backend": {
            "type": backend.type.value,
            "vni": backend.vni,
            "port": backend.port,
            "gbp": backend.gbp,
            "learning": backend.learning,
            "direct_routing": backend.direct_routing,
            "persistent_keepalive_interval": backend.persistent_keepalive_interval,
            # Whether a PSK is set; its value travels only in a no_log task.
            "psk": bool(backend.psk),
            "wireguard_devices": [device.name for device in devices],
        },
        "enable_nftables": conf.enable_nftables,
        "ip_masq": ip_masq,
        "cni_conflist_name": CNI_CONFLIST_NAME,
        "families": [pool.family for pool in conf.pools],
        "nodes": nodes,
        "peers": peers,
        # The same peers as one string per family, the vxlan module's `peer_table`: at
        # thousands of nodes one string crosses Ansible far cheaper than a dict per peer.
        "peer_tables": {
            word: render_peer_table(peers[word]) for word in FAMILY_WORD.values() if word in peers
        },
        # With vxlan, every node's underlay address per family (the overlay filter's members).
        "overlay_members": _overlay_members(plan) if backend.type is BackendType.VXLAN else [],
    }


def render_peer_table(peers: list[dict[str, Any]]) -> str:
    r"""The vxlan module's `peer_table`: one line per peer, name subnet public_ip vtep_mac.

    Every node of the fleet is listed; the module skips the line that is the node itself.

    >>> render_peer_table([{"name": "n1", "subnet": "10.244.1.0/24",
    ...     "public_ip": "192.0.2.1", "vtep_mac": "0a:58:0a:f4:01:00"}])
    'n1 10.244.1.0/24 192.0.2.1 0a:58:0a:f4:01:00\n'
    """
    return "".join(f"{p['name']} {p['subnet']} {p['public_ip']} {p['vtep_mac']}\n" for p in peers)


def records_of(plan: FleetPlan, public_keys: Mapping[str, str] | None = None) -> dict[str, Lease]:
    """What the lease file records: each node's subnets, where it was seen, (with
    WireGuard) its public key and (with VXLAN) the VTEP MACs podnet does not derive (an
    adopted flannel's), plus the leases kept for nodes that left."""
    keys = public_keys if plan.net_conf.backend.type is BackendType.WIREGUARD else None
    records = dict(plan.kept_leases)
    for node_plan in plan.nodes:
        node = node_plan.node
        mac, mac_v6 = node_plan.kept_macs()
        records[node_plan.name] = Lease(
            node_plan.subnet,
            node_plan.ipv6_subnet,
            node.public_ip,
            node.public_ipv6,
            node.mtu,
            (keys or {}).get(node_plan.name),
            vtep_mac=mac,
            vtep_mac_v6=mac_v6,
        )
    return records


def _routed_families(plan: FleetPlan, node_plan: NodePlan) -> list[dict[str, Any]]:
    """Per enabled family: the cluster network, the node's subnet, address and VTEP MAC."""
    conf = plan.net_conf
    node = node_plan.node
    return [
        {
            "family": pool.family,
            "network": str(pool.network),
            "subnet": str(node_plan.subnet_of(pool.family)),
            "local": _text(node.public_address(pool.family)),
            "vtep_mac": node_plan.vtep_mac if pool.family == 4 else node_plan.vtep_mac_v6,
        }
        for pool in conf.pools
    ]


def _overlay_members(plan: FleetPlan) -> list[str]:
    """The public address of each node in each enabled family, as the VXLAN devices use."""
    members = []
    for node_plan in plan.nodes:
        for pool in plan.net_conf.pools:
            address = node_plan.node.public_address(pool.family)
            if address is not None:
                members.append(str(address))
    return members


def _vxlan_entries(plan: FleetPlan, routed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """With vxlan, each family's device (a disabled family's goes: state absent)."""
    if plan.net_conf.backend.type is not BackendType.VXLAN:
        return []  # the role removes whatever flannel.<VNI> devices the host has
    present = {entry["family"]: {**entry, "state": "present"} for entry in routed}
    return [present.get(family, {"family": family, "state": "absent"}) for family in (4, 6)]


def _host_gw_entries(plan: FleetPlan, routed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """host-gw's routes per family; under WireGuard they must go (VXLAN's own module
    owns the same routes, for DirectRouting, and reconciles them itself)."""
    backend = plan.net_conf.backend.type
    if backend is BackendType.VXLAN:
        return []
    state = "present" if backend is BackendType.HOST_GW else "absent"
    return [
        {"family": entry["family"], "network": entry["network"], "state": state} for entry in routed
    ]


def _wireguard_entry(
    plan: FleetPlan, node_plan: NodePlan, device: WireguardDevice
) -> dict[str, Any]:
    conf = plan.net_conf
    prefix = {4: 32, 6: 128}
    return {
        "device": device.name,
        "listen_port": device.listen_port,
        "addresses": [
            f"{node_plan.vtep_address(family)}/{prefix[family]}" for family in device.families
        ],
        "routes": [str(conf.pool(family).network) for family in device.families],  # type: ignore[union-attr]
    }


def _wireguard_peer(
    node_plan: NodePlan, device: WireguardDevice, public_key: str | None
) -> dict[str, Any] | None:
    address = endpoint(device, node_plan.node)
    if public_key is None or address is None:
        return None
    return {
        "name": node_plan.name,
        "public_key": public_key,
        "endpoint": address,
        "allowed_ips": [str(node_plan.subnet_of(family)) for family in device.families],
    }


def _text(value: object) -> str | None:
    return None if value is None else str(value)
