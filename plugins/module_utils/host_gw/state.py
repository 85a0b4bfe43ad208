"""What host-gw manages on one host, as plain data, and its --diff view.

The whole state is table main's owned routes of one family: `kernel.routes.Route` keyed
by `kernel.routes.route_key`, the model and key every backend shares. No device,
neighbour or address: the kernel resolves each gateway on the underlay by ARP/ND.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..kernel.routes import Route, describe_route


def view(routes: Mapping[str, Route]) -> dict[str, Any]:
    """The --diff view, as the vxlan module shows its routes: one line per route.

    >>> view({"10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.12", "eth0", False)})
    {'routes': {'10.244.2.0/24': 'via 192.0.2.12 dev eth0 proto boot'}}
    """
    return {"routes": {key: describe_route(route) for key, route in routes.items()}}
