"""The netlink handles a backend's entry opens, and pyroute2's absence as data.

An entry imports `open_rtnl`, `NetlinkError` and `require_pyroute2` from here: when
pyroute2 is missing, the import below records it instead of raising, so the module still
starts, and `require_pyroute2()` then fails the run with a PodnetError that says which
Python lacks it and how to install it (the same words in a module and in the restore).
"""

from __future__ import annotations

import errno
import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ..core.errors import PodnetError
from .provided import put_first
from .wire import RtnlWire

__all__ = [
    "PYROUTE2_ERROR",
    "IPRoute",
    "NetlinkError",
    "get_link",
    "open_rtnl",
    "require_pyroute2",
]

# The pyroute2 releases the modules run with, each tested (tests/kernel/test_pyroute2_releases.py):
# 0.7.7 (Debian 13's python3-pyroute2), 0.7.11 (Ubuntu 24.04's), 0.8.1, and 0.9.x, which
# pyproject.toml pins and the role provides. Older ones crash on IPRoute(groups=0), which
# the bulk channel needs (Debian 11: 0.5.14, Debian 12: 0.7.2, Ubuntu 22.04: 0.6.x).
SUPPORTED = ((0, 7, 7), (0, 10, 0))
SUPPORTED_TEXT = ">=0.7.7,<0.10"
PINNED_TEXT = ">=0.9,<0.10"  # pyproject.toml's, what a fresh install should take

# The role's provided pyroute2 (if any) goes first, before anything imports pyroute2.
put_first()

try:
    import pyroute2
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError
except ImportError:
    pyroute2 = None
    IPRoute = None
    NetlinkError = OSError  # never raised; keeps callers' except clauses valid
    PYROUTE2_ERROR: str | None = traceback.format_exc()
else:
    PYROUTE2_ERROR = None

FIX = (
    "let the role provide it (podnet_pyroute2_provide: true, the default, copies the "
    "controller's pinned pyroute2 to <podnet_state_dir>/lib/), or install it for "
    f"that Python: pip install 'pyroute2{PINNED_TEXT}' (the distribution's package is too "
    "old on Debian 11/12 and Ubuntu 22.04)"
)


def version_of(text: str) -> tuple[int, int, int] | None:
    """(major, minor, micro) of a version string; None when it does not start with numbers.

    >>> version_of("0.7.2"), version_of("0.9.7.post1"), version_of("0.8"), version_of("x")
    ((0, 7, 2), (0, 9, 7), (0, 8, 0), None)
    """
    numbers = []
    for part in text.split(".")[:3]:
        if not part.isdigit():
            break
        numbers.append(int(part))
    if len(numbers) < 2:
        return None
    major, minor, *micro = numbers
    return major, minor, micro[0] if micro else 0


def pyroute2_problem(version: str, where: str) -> str | None:
    """Why the pyroute2 found cannot serve, or None when it can.

    >>> print(pyroute2_problem("0.7.2", "/usr/lib/python3/dist-packages/pyroute2"))
    pyroute2 0.7.2 (/usr/lib/python3/dist-packages/pyroute2) is not a version podnet's modules can use: they need pyroute2 >=0.7.7,<0.10
    >>> pyroute2_problem("0.9.7", "x") is None, pyroute2_problem("0.7.7", "x") is None
    (True, True)
    """  # noqa: E501 - a doctest's output line
    found = version_of(version)
    if found is not None and SUPPORTED[0] <= found < SUPPORTED[1]:
        return None
    return (
        f"pyroute2 {version} ({where}) is not a version podnet's modules can use: they need "
        f"pyroute2 {SUPPORTED_TEXT}"
    )


def require_pyroute2() -> None:
    """Fail, naming the Python, the version found, the version needed and the fix, when the
    pyroute2 this Python imports is missing or of another release. Runs before any read.

    Reads this module's `IPRoute` and `pyroute2` at call time, so a test can replace them.
    """
    if IPRoute is None or pyroute2 is None:
        raise PodnetError(
            "Failed to import the required Python library (pyroute2): pyroute2 is not "
            f"installed for {sys.executable}, the Python this runs with; {FIX}",
            [f"pyroute2 is not installed for {sys.executable}", PYROUTE2_ERROR or ""],
        )
    where = os.path.dirname(getattr(pyroute2, "__file__", None) or "?")
    problem = pyroute2_problem(str(getattr(pyroute2, "__version__", "unknown")), where)
    if problem is not None:
        raise PodnetError(f"{problem}, for {sys.executable}; {FIX}")


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
