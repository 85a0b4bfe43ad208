"""The objects a VXLAN backend manages on one host, as plain data, and their --diff view.

One `VxlanState` describes either what the plan wants or what podnet owns in the kernel
right now (the read step keeps only owned objects, so nothing else can ever reach the
diff). Objects are keyed the way the kernel identifies them:

| kind  | key                          | kernel identity                                 |
|-------|------------------------------|-------------------------------------------------|
| link  | ifname                       | the device name (`flannel.1`, `flannel-v6.1`)   |
| addr  | `10.244.1.0/32`              | address + prefix length on the device           |
| neigh | `10.244.2.0`                 | destination on the device                       |
| fdb   | `<lladdr> dst <remote VTEP>` | one remote of one MAC in the device's own table |
| route | `10.244.2.0/24`              | dst + metric in table main (metric shown only   |
|       |                              | when it is not the family's default)            |

Routes are `kernel.routes.Route`, keyed by `kernel.routes.route_key`: the one route model
every backend shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import PodnetError
from ..kernel.routes import Route, describe_route

AF_INET = 2
AF_INET6 = 10
NUD_PERMANENT = 0x80
# The kernel's default UDP port for VXLAN (drivers/net/vxlan: vxlan_port = 8472, the
# pre-IANA Linux value flannel relies on); a device created without IFLA_VXLAN_PORT gets it.
VXLAN_DEFAULT_PORT = 8472

# Attributes the kernel refuses to change on an existing vxlan device ("Cannot change
# VNI", "Cannot change port", "cannot change GBP flag"; verified on 6.x): a difference
# means delete and re-create. The local address may change in place, but not its family.
# Since Linux 4.12 everything else podnet manages (local, dev, learning, ttl, mtu, MAC,
# txqlen, up) is changed in place, so peers' neighbours/FDB/routes survive.
IMMUTABLE = ("kind", "vni", "port", "gbp")


class VxlanError(PodnetError):
    """Anything the VXLAN reconciler reports to the user; the module fails with its text."""


def fdb_key(lladdr: str, dst: str) -> str:
    """An FDB entry's identity on the device: one remote of one MAC.

    >>> fdb_key("0a:58:0a:f4:02:00", "192.0.2.12")
    '0a:58:0a:f4:02:00 dst 192.0.2.12'
    """
    return f"{lladdr} dst {dst}"


@dataclass(frozen=True)
class Device:
    """The vxlan link. `link` is the underlay's ifindex; `dev` its name, for messages."""

    ifname: str
    kind: str
    vni: int
    link: int
    local: str
    port: int
    gbp: bool
    learning: bool
    ttl: int
    mtu: int
    address: str
    txqlen: int
    up: bool
    dev: str = field(default="", compare=False)
    # /proc/sys/net/ipv6/conf/<ifname>/accept_ra; None where the kernel has no IPv6
    # sysctls for the device (ipv6.disable=1). Compared by the diff itself, not by ==,
    # because None there means "nothing to manage", not "differs".
    accept_ra: int | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Address:
    address: str
    prefixlen: int
    scope: int = 0  # global

    @property
    def key(self) -> str:
        return f"{self.address}/{self.prefixlen}"


@dataclass(frozen=True)
class Neighbour:
    """A permanent neighbour ("ARP") entry on the device: the peer's .0 is its VTEP MAC."""

    dst: str
    lladdr: str
    state: int = NUD_PERMANENT
    peer: str = field(default="", compare=False)


@dataclass(frozen=True)
class FdbEntry:
    """A `self permanent` FDB entry: frames for `lladdr` go to the remote VTEP `dst`."""

    lladdr: str
    dst: str
    state: int = NUD_PERMANENT
    peer: str = field(default="", compare=False)


@dataclass(frozen=True)
class VxlanState:
    """Everything podnet manages for one family on one host. `device=None`: no device."""

    family: int
    ifname: str
    device: Device | None = None
    addresses: Mapping[str, Address] = field(default_factory=dict)
    neighbours: Mapping[str, Neighbour] = field(default_factory=dict)
    fdb: Mapping[str, FdbEntry] = field(default_factory=dict)
    routes: Mapping[str, Route] = field(default_factory=dict)


def _state_word(state: int) -> str:
    return "permanent" if state == NUD_PERMANENT else f"state {state:#x}"


def view(state: VxlanState) -> dict[str, Any]:
    """The --diff view: YAML-friendly, one line per object, keys as in the table above."""
    device: dict[str, Any] | None = None
    if state.device is not None:
        dev = state.device
        device = {
            "ifname": dev.ifname,
            "kind": dev.kind,
            "vni": dev.vni,
            "dev": dev.dev or dev.link,
            "local": dev.local,
            "port": dev.port,
            "gbp": dev.gbp,
            "learning": dev.learning,
            "ttl": dev.ttl,
            "mtu": dev.mtu,
            "address": dev.address,
            "txqlen": dev.txqlen,
            "up": dev.up,
            "accept_ra": dev.accept_ra,
        }
    return {
        "device": device,
        "addresses": [f"{a.key} scope {a.scope}" for a in state.addresses.values()],
        "neighbours": {
            key: f"lladdr {n.lladdr} {_state_word(n.state)}" for key, n in state.neighbours.items()
        },
        "fdb": {key: f"self {_state_word(f.state)}" for key, f in state.fdb.items()},
        "routes": {key: describe_route(r) for key, r in state.routes.items()},
    }
