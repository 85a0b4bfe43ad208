"""podnet: plan a flannel-compatible pod network for a whole fleet, with no daemon.

The library is pure: it reads nothing and changes nothing. Give it flannel's
net-conf.json (decoded), the node inventory and the lease file's content; it
returns every node's pod subnet, the fleet's pod MTU and each node's peers, and
renders the files flannel would leave on a host.
"""

from .config import Backend, BackendType, NetConf, WireguardMode, parse_net_conf
from .errors import PodnetError, ValidationError
from .leases import Lease, leases_to_data, parse_leases
from .nodes import Node, parse_nodes
from .plan import FleetPlan, NodePlan, Peer, plan_fleet

__all__ = [
    "Backend",
    "BackendType",
    "FleetPlan",
    "Lease",
    "NetConf",
    "Node",
    "NodePlan",
    "Peer",
    "PodnetError",
    "ValidationError",
    "WireguardMode",
    "leases_to_data",
    "parse_leases",
    "parse_net_conf",
    "parse_nodes",
    "plan_fleet",
]
__version__ = "0.1.0"
