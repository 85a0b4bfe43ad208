"""The netlink handles a backend's entry opens, and pyroute2's absence as data.

An entry imports `open_rtnl`, `NetlinkError` and `require_pyroute2` from here: when
pyroute2 is missing, the import below records it instead of raising, so the module still
starts, and `require_pyroute2()` then fails the run with a PodnetError that says which
Python lacks it and how to install it (the same words in a module and in the restore).
"""

from __future__ import annotations

import errno
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..core.errors import PodnetError
from .wire import RtnlWire

__all__ = [
    "PYROUTE2_ERROR",
    "IPRoute",
    "NetlinkError",
    "get_link",
    "open_rtnl",
    "require_pyroute2",
]

try:
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:
    IPRoute = None
    NetlinkError = OSError  # never raised; keeps callers' except clauses valid
    PYROUTE2_ERROR: str | None = traceback.format_exc()
else:
    PYROUTE2_ERROR = None


def require_pyroute2() -> None:
    """Fail, naming the Python and the fix, when pyroute2 could not be imported.

    Reads this module's `IPRoute` at call time, so a test can take it away.
    """
    if IPRoute is None:
        raise PodnetError(
            "Failed to import the required Python library (pyroute2): pyroute2 is not "
            f"installed for {sys.executable}, the Python this runs with; install it there "
            "(Debian: apt-get install python3-pyroute2) or point ansible_python_interpreter "
            "at a Python that has it",
            [f"pyroute2 is not installed for {sys.executable}", PYROUTE2_ERROR or ""],
        )


@contextmanager
def open_rtnl(prefix: str = "") -> Iterator[tuple[Any, RtnlWire]]:
    """pyroute2's handle for this namespace and the bulk channel on its socket; a netlink
    or OS error of the block becomes a PodnetError reading `prefix` + the error.

    groups=0: no multicast subscriptions, so bulk writes get only their own ACKs back.
    """
    require_pyroute2()
    try:
        with IPRoute(groups=0) as ipr, RtnlWire(ipr) as wire:
            yield ipr, wire
    except (NetlinkError, OSError) as exc:  # a read or write podnet did not foresee
        raise PodnetError(f"{prefix}{exc}", [str(exc)]) from exc


def get_link(ipr: Any, **match: Any) -> Any:
    """`ip link show` of one device (`ifname=` or `index=`), None when there is none."""
    try:
        return ipr.link("get", **match)[0]
    except Exception as exc:  # pyroute2's NetlinkError; a test's stand-in handle
        if getattr(exc, "code", None) == errno.ENODEV:
            return None
        raise
