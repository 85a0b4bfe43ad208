"""The netlink handles a route-programming module opens, and pyroute2's absence as data.

A module imports `IPRoute`, `NetlinkError` and `PYROUTE2_ERROR` from here: when pyroute2
is missing, `IPRoute` is None and `PYROUTE2_ERROR` holds the traceback, so the module can
fail with `missing_required_lib` instead of an ImportError before AnsibleModule exists.
(Written for host_gw; the vxlan module carries the same guard inline and could use this.)
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .wire import RtnlWire

__all__ = ["PYROUTE2_ERROR", "IPRoute", "NetlinkError", "open_rtnl"]

try:
    from pyroute2 import IPRoute  # type: ignore[import-untyped]
    from pyroute2.netlink.exceptions import NetlinkError  # type: ignore[import-untyped]
except ImportError:
    IPRoute = None
    NetlinkError = OSError  # never raised; keeps callers' except clauses valid
    PYROUTE2_ERROR: str | None = traceback.format_exc()
else:
    PYROUTE2_ERROR = None


@contextmanager
def open_rtnl() -> Iterator[tuple[Any, RtnlWire]]:
    """pyroute2's handle for this namespace and the bulk channel on its socket.

    groups=0: no multicast subscriptions, so bulk writes get only their own ACKs back.
    """
    assert IPRoute is not None, "check PYROUTE2_ERROR first"
    with IPRoute(groups=0) as ipr, RtnlWire(ipr) as wire:
        yield ipr, wire
