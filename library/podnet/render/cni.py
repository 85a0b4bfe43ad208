"""The CNI network configuration (``/etc/cni/net.d/10-flannel.conflist``).

Two modes give the same host and pod state:

- ``flannel``: flannel's own conflist, for hosts with the flannel CNI binary. That
  plugin reads subnet.env at every pod ADD and delegates to ``bridge`` with
  ``host-local`` IPAM, so the file is the same on every node.
- ``bridge``: the delegate written out, for the stock containernetworking-plugins
  ``bridge`` + ``host-local`` + ``portmap`` (Debian's containernetworking-plugins),
  so no flannel binary and no subnet.env lookup sit in the pod start path. It holds
  the node's own subnet, so it is rendered per node.
"""

from __future__ import annotations

import json

from ..plan import FleetPlan

CNI_MODES = ("bridge", "flannel")

# flannel's shipped conflist: the `cni-conf.json` value of the `kube-flannel-cfg` ConfigMap
# in flannel's Documentation/kube-flannel.yml, byte for byte (a YAML `|` block: 4-space
# indent removed, one trailing newline). Checked against flannel-io/flannel
# Documentation/kube-flannel.yml at d01746e8 (v0.13.0-rc2) and 0106d234 (v0.11.0), and
# against Documentation/kustomization/kube-flannel/kube-flannel.yml at 05e2b583 (pins
# v0.27.4), which `make release-chart` turns into the released kube-flannel.yml: the text
# has not changed across those releases. The DaemonSet's install-cni init container copies it
# unchanged to /etc/cni/net.d/10-flannel.conflist.
FLANNEL_CONFLIST = """\
{
  "name": "cbr0",
  "cniVersion": "0.3.1",
  "plugins": [
    {
      "type": "flannel",
      "delegate": {
        "hairpinMode": true,
        "isDefaultGateway": true
      }
    },
    {
      "type": "portmap",
      "capabilities": {
        "portMappings": true
      }
    }
  ]
}
"""

# Network name and bridge as flannel's delegate has them: the network name also names
# host-local's state directory (/var/lib/cni/networks/cbr0), so pod IPs reserved under
# one mode stay reserved when a node switches to the other.
NETWORK_NAME = "cbr0"
BRIDGE_NAME = "cni0"
# Debian 12's containernetworking-plugins 1.1.1 speak it, and it is flannel's.
CNI_VERSION = "0.3.1"


def render_cni_conflist(
    plan: FleetPlan, node: str, mode: str = "bridge", ip_masq: bool = True
) -> str:
    """Render the CNI conflist for ``node``.

    Args:
        plan: the fleet plan.
        node: the node whose file this is.
        mode: ``bridge`` (self-contained, stock plugins) or ``flannel`` (flannel's
            shipped file, identical on every node).
        ip_masq: whether the host masquerades pod traffic itself (FLANNEL_IPMASQ).
            Only ``bridge`` mode uses it: the flannel plugin reads subnet.env instead.

    Returns:
        JSON with a 2-space indent and a trailing newline.

    Raises:
        ValueError: ``mode`` is not one of CNI_MODES.
        KeyError: ``node`` is not in the plan.

    >>> from podnet import parse_net_conf, parse_nodes, plan_fleet
    >>> plan = plan_fleet(parse_net_conf({"Network": "10.244.0.0/16"}),
    ...                   parse_nodes([{"name": "n1", "public_ip": "192.0.2.1"}]))
    >>> bridge = json.loads(render_cni_conflist(plan, "n1"))["plugins"][0]
    >>> bridge["ipMasq"], bridge["mtu"], bridge["ipam"]["ranges"]
    (False, 1450, [[{'subnet': '10.244.1.0/24'}]])
    >>> render_cni_conflist(plan, "n1", mode="flannel") == FLANNEL_CONFLIST
    True
    """
    if mode not in CNI_MODES:
        raise ValueError(f"cni mode {mode!r} is not one of {', '.join(CNI_MODES)}")
    me = plan.node(node)  # both modes: an unknown node is an error whatever the mode
    if mode == "flannel":
        return FLANNEL_CONFLIST

    pools = plan.net_conf.pools  # IPv4 first, as the flannel plugin orders them
    ranges: list[list[dict[str, str]]] = []
    for pool in pools:
        subnet = me.subnet_of(pool.family)
        if subnet is None:  # plan_fleet gives every node a subnet of every enabled family
            raise ValueError(f"node {node!r} has no IPv{pool.family} subnet in the plan")
        ranges.append([{"subnet": str(subnet)}])
    bridge = {
        "type": "bridge",
        "bridge": BRIDGE_NAME,
        # The bridge takes the gateway address (the subnet's .1, FLANNEL_SUBNET) and the
        # host routes its subnet to it; isDefaultGateway also gives pods their default route.
        "isGateway": True,
        "isDefaultGateway": True,
        # A pod can reach itself through a Service that picks it as the endpoint.
        "hairpinMode": True,
        # flannel's rule: the plugin masquerades per container only when the host does not.
        "ipMasq": not ip_masq,
        "mtu": plan.mtu.mtu,
        "ipam": {
            "type": "host-local",
            "ranges": ranges,
            # Each pod network via the gateway, besides the default route, as the flannel
            # plugin adds it: pod-to-pod traffic keeps a specific route even when a pod's
            # default route points elsewhere, which rp_filter needs (containernetworking/cni
            # PR #41).
            "routes": [{"dst": str(pool.network)} for pool in pools],
        },
    }
    conflist = {
        "name": NETWORK_NAME,
        "cniVersion": CNI_VERSION,
        "plugins": [
            bridge,
            # Same as flannel's: hostPort support for pods.
            {"type": "portmap", "capabilities": {"portMappings": True}},
        ],
    }
    return json.dumps(conflist, indent=2) + "\n"
