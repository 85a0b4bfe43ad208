"""The WireGuard state a node should have, from the checked parameters: flanneld's device.

flanneld (reference §3.2/3.3) creates the device with the pod MTU and txqueuelen 0, sets
the private key and listen port and no fwmark, gives it the subnet's network address as
/32 (/128), brings it up and routes each cluster network through it (scope link, proto
boot); each peer gets its public key, endpoint, allowed IPs (its subnets), the fleet's
PSK and keepalive. Pure: the host facts it needs (this node's public key, the device's
implementation) are arguments.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..kernel.routes import DEFAULT_METRIC, Route, route_key, slot_conflicts
from .input import WgInputError, WgParams, own_address_problems
from .probe import KERNEL, USERSPACE
from .state import (
    PSK_NONE,
    PSK_SET,
    ROUTE_SCOPE,
    Interface,
    Link,
    Peer,
    WgState,
)

# txqueuelen 0, as flanneld sets it, suits the kernel's device, which has no queue of its
# own. wireguard-go's TUN device is different: its txqueuelen is the size of the ring the
# tun driver hands packets to wireguard-go through, so 0 drops every packet (measured: the
# qdisc passes them, the tunnel stays silent). It keeps the tun driver's default, 500.
TXQLEN = {KERNEL: 0, USERSPACE: 500}

# Stands for this node's public key in check mode when the key file does not exist yet
# (podnet.fabric.wireguard_key would create it): it matches no device, so the private key
# shows up as a change, which is what a real run would do.
KEY_NOT_YET = "(key_file does not exist yet)"


def plan_wireguard(
    params: WgParams, public_key: str | None, implementation: str | None = None
) -> WgState:
    """The wanted state. `public_key`: this node's, from its key file (None: not yet);
    `implementation`: the device's (None: not known yet, i.e. no WireGuard device; the
    kernel's values are planned). state=absent wants nothing.

    A peer whose public key is this node's own is this node and is skipped, so a role may
    pass the fleet's whole peer table. Raises WgInputError for a peer that holds this
    node's address (only checkable once this node is known).
    """
    if params.state != "present":
        return WgState(params.device)
    others = [peer for peer in params.peers if peer.public_key != public_key]
    problems = own_address_problems(params.addresses, others)
    if problems:
        raise WgInputError(problems)
    psk = PSK_SET if params.psk is not None else PSK_NONE
    peers = {
        peer.public_key: Peer(
            peer.public_key,
            peer.endpoint,
            peer.allowed_ips,
            params.persistent_keepalive,
            psk,
            peer.name,
        )
        for peer in others
    }
    routes = {}
    for network in params.routes:
        metric = DEFAULT_METRIC[network.version]
        routes[route_key(str(network), metric, network.version)] = Route(
            str(network), None, params.device, False, metric, scope=ROUTE_SCOPE[network.version]
        )
    return WgState(
        ifname=params.device,
        link=Link(
            params.device, params.mtu, TXQLEN[implementation or KERNEL], True, implementation
        ),
        interface=Interface(public_key or KEY_NOT_YET, params.listen_port, 0),
        addresses=params.addresses,
        peers=peers,
        routes=routes,
    )


def find_conflicts(desired: WgState, foreign: Mapping[str, Route]) -> list[str]:
    """Planned routes whose slot in table main a route podnet does not own already holds
    (kernel/routes.py's one message, naming this module's `routes` field).

    `ip route replace` would silently take such a route over, and podnet never touches
    what it does not own, so a human decides.

    >>> want = WgState("flannel-wg", routes={"10.244.0.0/16": Route("10.244.0.0/16", None,
    ...                                                               "flannel-wg", False)})
    >>> other = Route("10.244.0.0/16", None, "eth1", False, proto=4)
    >>> find_conflicts(want, {"10.244.0.0/16": other})  # doctest: +ELLIPSIS
    ['routes: 10.244.0.0/16 is taken in table main by a route podnet does not own (10.244.0.0/16 dev eth1 proto static); remove...']
    """  # noqa: E501
    return slot_conflicts(
        desired.routes,
        foreign,
        way_out=lambda _route, _shown: "remove that route or change the cluster network",
        subject=lambda key, _route: f"routes: {key}",
    )
