"""The host side of the cni_bridge module: read the bridge and host-local's store, delete.

The bridge is read with `ip -j addr show dev <bridge>` (no bridge: nothing to do) and an old
gateway deleted with `ip addr del`; host-local keeps one file per reserved address in its
store (`/var/lib/cni/networks/<network>/<address>`, first line the container ID).
core.reconcile runs read -> decide -> (check mode stops) -> delete -> re-read -> verify.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.changes import Change
from ..core.errors import PodnetError
from ..core.reconcile import reconcile
from .decide import Address, Interface, Network, old_gateways


class CniBridgeError(PodnetError):
    """Reading or changing the bridge failed."""


@dataclass(frozen=True)
class Seen:
    addresses: list[Interface]
    reserved: dict[Address, str]


def read_bridge(run: Callable[[list[str]], tuple[int, str, str]], bridge: str) -> list[Interface]:
    """The bridge's addresses; none when there is no such bridge (no pod has started)."""
    rc, out, err = run(["ip", "-j", "addr", "show", "dev", bridge])
    if rc != 0:
        if "does not exist" in err:
            return []
        raise CniBridgeError(f"ip addr show dev {bridge} failed (rc {rc}): {err.strip()}")
    found = []
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            if info.get("family") in ("inet", "inet6") and info.get("scope") == "global":
                found.append(ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}"))
    return found


def read_reservations(store: str) -> dict[Address, str]:
    """host-local's reservations in `store`: address -> the container holding it."""
    reserved: dict[Address, str] = {}
    try:
        names = os.listdir(store)
    except FileNotFoundError:
        return reserved
    for name in names:
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            continue  # last_reserved_ip.0, lock
        try:
            with open(os.path.join(store, name), encoding="utf-8") as handle:
                holder = handle.readline().strip() or "unknown"
        except OSError:
            holder = "unknown"
        reserved[address] = holder[:12]  # a container ID's short form, as runtimes show it
    return reserved


def sync_bridge(
    params: Mapping[str, Any],
    run: Callable[[list[str]], tuple[int, str, str]],
    check_mode: bool,
) -> tuple[list[Change], list[str], Seen]:
    """Delete the bridge's old gateways that no pod needs; warn about the others."""
    bridge = params["bridge"]
    subnets: Sequence[Network] = [ipaddress.ip_network(s) for s in params["subnets"]]
    networks: Sequence[Network] = [ipaddress.ip_network(n) for n in params["networks"]]
    warnings: list[str] = []

    def read() -> Seen:
        return Seen(read_bridge(run, bridge), read_reservations(params["ipam_dir"]))

    def decide(_wanted: None, seen: Seen) -> list[Change]:
        changes, found = old_gateways(bridge, seen.addresses, subnets, networks, seen.reserved)
        warnings[:] = found
        return changes

    def apply(_wanted: None, _seen: Seen, changes: list[Change]) -> None:
        for change in changes:
            rc, _out, err = run(["ip", "addr", "del", change.spec["address"], "dev", bridge])
            if rc != 0:
                raise CniBridgeError(f"ip addr del {change.key} failed (rc {rc}): {err.strip()}")

    def differs(_wanted: None, left: list[Change]) -> CniBridgeError:
        return CniBridgeError(
            "still on the bridge after deleting: " + ", ".join(c.key for c in left)
        )

    done = reconcile(
        read=read,
        want=lambda seen: None,
        diff=decide,
        apply=apply,
        check_mode=check_mode,
        differs=differs,
    )
    return done.changes, warnings, done.before
