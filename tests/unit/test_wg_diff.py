"""The WireGuard reconciler's pure parts: parsing `wg show dump` and `ip -j`, the plan, the
diff. Both sides of every diff are built by hand, and each test states the exact list of
changes in order (the order is the apply order)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.kernel.routes import SCOPES, Route, describe_foreign  # noqa: E402
from plugins.module_utils.wireguard.diff import diff_wireguard  # noqa: E402
from plugins.module_utils.wireguard.input import validate_params  # noqa: E402
from plugins.module_utils.wireguard.keys import Secret, WgError  # noqa: E402
from plugins.module_utils.wireguard.state import (  # noqa: E402
    PSK_NONE,
    PSK_OTHER,
    PSK_SET,
    Interface,
    Link,
    Peer,
    WgState,
    parse_addresses,
    parse_dump,
    parse_link,
    parse_routes,
    view,
)
from plugins.module_utils.wireguard.want import KEY_NOT_YET, find_conflicts, plan_wireguard  # noqa: E402

OWN = "YhLOX7al1pgjqkSbNfo36KVAabVb71/ykF4+dWVJtRo="
KEY2 = "pS4PnNzefPGULya/EEHx3/P2O+fjWEDQf6VpcgJzyHI="
KEY3 = "SEjOOauy9N+3ju15N9cXl+PCO7YSJgfCJm3E2VSIAic="
PRIVATE = "6BbJRfPup28AoaXmHC/rd9jMoxnOADmHHlKpBHxV3WI="


def wg_route(dst: str, metric: int, scope: str) -> Route:
    """flannel-wg's route to `dst` in the one route model (kernel/routes.py)."""
    return Route(dst, None, "flannel-wg", False, metric, scope=SCOPES[scope])


PSK = "Z3PxEwGhLhSYFIX9yTGMJUFtMXXYhUGcGtowC7BrUgw="


# --- parsing ---------------------------------------------------------------------------

DUMP = (
    f"{PRIVATE}\t{OWN}\t51820\toff\n"
    f"{KEY2}\t{PSK}\t[2001:db8::2]:51821\tfd00:10:244:2::/64,10.244.2.0/24\t1700000000\t1\t2\t25\n"
    f"{KEY3}\t(none)\t(none)\t(none)\t0\t0\t0\toff\n"
)


def test_dump_keeps_no_secret() -> None:
    interface, peers = parse_dump(DUMP, Secret(PSK))
    assert interface == Interface(OWN, 51820, 0)
    assert peers == {
        KEY2: Peer(
            KEY2, "[2001:db8::2]:51821", ("10.244.2.0/24", "fd00:10:244:2::/64"), 25, PSK_SET
        ),
        KEY3: Peer(KEY3, None, (), 0, PSK_NONE),
    }
    everything = repr((interface, peers))
    assert PRIVATE not in everything and PSK not in everything


@pytest.mark.parametrize(
    ("wanted", "word"),
    [(None, PSK_OTHER), (Secret(KEY3), PSK_OTHER), (Secret(PSK), PSK_SET)],
    ids=["none-wanted", "another", "the-wanted-one"],
)
def test_dump_psk_becomes_a_word(wanted: Secret | None, word: str) -> None:
    assert parse_dump(DUMP, wanted)[1][KEY2].psk == word


def test_dump_fwmark_and_no_private_key() -> None:
    interface, peers = parse_dump("(none)\t(none)\t0\t0x1f\n", None)
    assert (interface, peers) == (Interface(None, 0, 0x1F), {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "`wg show dump` printed nothing"),
        (f"{PRIVATE}\t{OWN}\t51820\n", "`wg show dump` line 1 has 3 fields, not 4"),
        (
            f"{PRIVATE}\t{OWN}\t51820\toff\n{KEY2}\t{PSK}\n",
            "`wg show dump` line 2 has 2 fields, not 8",
        ),
        (f"{PRIVATE}\t{OWN}\tport\toff\n", "`wg show dump` printed a field that is not a number"),
    ],
    ids=["empty", "short-device", "short-peer", "not-a-number"],
)
def test_dump_errors_never_quote_the_text(text: str, message: str) -> None:
    with pytest.raises(WgError) as caught:
        parse_dump(text, None)
    assert str(caught.value) == message


def test_link_kind_and_txqlen_omitted_when_zero() -> None:
    kernel = [{"ifname": "flannel-wg", "mtu": 1420, "flags": ["NOARP", "UP", "LOWER_UP"],
               "linkinfo": {"info_kind": "wireguard"}}]  # fmt: skip
    tun = [{"ifname": "flannel-wg", "mtu": 1420, "txqlen": 500, "flags": ["NOARP"],
            "linkinfo": {"info_kind": "tun", "info_data": {"type": "tun"}}}]  # fmt: skip
    assert parse_link(json.dumps(kernel)) == ("wireguard", Link("flannel-wg", 1420, 0, True))
    assert parse_link(json.dumps(tun)) == ("tun", Link("flannel-wg", 1420, 500, False))


def test_addresses_skip_link_local() -> None:
    text = json.dumps(
        [{"addr_info": [
            {"family": "inet6", "local": "fe80::1", "prefixlen": 64, "scope": "link"},
            {"family": "inet6", "local": "fd00:10:244:1::", "prefixlen": 128, "scope": "global"},
            {"family": "inet", "local": "10.244.1.0", "prefixlen": 32, "scope": "global"},
        ]}]
    )  # fmt: skip
    assert parse_addresses(text) == ("10.244.1.0/32", "fd00:10:244:1::/128")


def test_routes_owned_only_proto_boot_unicast_on_the_device() -> None:
    v4 = [
        {"type": "unicast", "dst": "10.244.0.0/16", "dev": "flannel-wg", "protocol": "boot",
         "scope": "link"},
        {"type": "unicast", "dst": "10.99.0.0/16", "dev": "flannel-wg", "protocol": "static",
         "scope": "link"},
        {"type": "unicast", "dst": "10.98.0.0/16", "dev": "eth0", "protocol": "boot",
         "scope": "link", "metric": 7},
        {"type": "blackhole", "dst": "10.97.0.0/16", "protocol": "boot", "scope": "global"},
        {"type": "unicast", "dst": "default", "dev": "eth0", "protocol": "boot", "scope": "global"},
    ]  # fmt: skip
    owned, foreign = parse_routes(json.dumps(v4), 4, "flannel-wg")
    assert owned == {"10.244.0.0/16": wg_route("10.244.0.0/16", 0, "link")}
    assert {key: describe_foreign(route) for key, route in foreign.items()} == {
        "10.99.0.0/16": "10.99.0.0/16 dev flannel-wg proto static",
        "10.98.0.0/16 metric 7": "10.98.0.0/16 dev eth0 proto boot metric 7",
        "10.97.0.0/16": "blackhole 10.97.0.0/16 proto boot",
        "0.0.0.0/0": "0.0.0.0/0 dev eth0 proto boot",
    }
    v6 = [
        {"type": "unicast", "dst": "fd00:10:244:1::", "dev": "flannel-wg", "protocol": "kernel",
         "metric": 256},
        {"type": "unicast", "dst": "fd00:10:244::/56", "dev": "flannel-wg", "protocol": "boot",
         "scope": "global", "metric": 1024},
    ]  # fmt: skip
    owned, foreign = parse_routes(json.dumps(v6), 6, "flannel-wg")
    assert owned == {"fd00:10:244::/56": wg_route("fd00:10:244::/56", 1024, "global")}
    assert list(foreign) == ["fd00:10:244:1::/128 metric 256"]


# --- plan ------------------------------------------------------------------------------


def params(**changes: Any) -> Any:
    raw: dict[str, Any] = {
        "device": "flannel-wg",
        "key_file": "/etc/podnet/wireguard.key",
        "mtu": 1420,
        "addresses": ["10.244.1.0/32"],
        "routes": ["10.244.0.0/16", "fd00:10:244::/56"],
        "peers": [
            {"name": "node1", "public_key": OWN, "endpoint": "192.0.2.11:51820",
             "allowed_ips": ["10.244.1.0/25"]},
            {"name": "node2", "public_key": KEY2, "endpoint": "192.0.2.12:51820",
             "allowed_ips": ["10.244.2.0/24"]},
        ],
    }  # fmt: skip
    raw.update(changes)
    return validate_params(raw)


def test_plan_skips_this_node_and_routes_both_families() -> None:
    want = plan_wireguard(params(), OWN)
    assert list(want.peers) == [KEY2]
    assert want.peers[KEY2] == Peer(KEY2, "192.0.2.12:51820", ("10.244.2.0/24",), 0, PSK_NONE)
    assert want.routes == {
        "10.244.0.0/16": wg_route("10.244.0.0/16", 0, "link"),
        "fd00:10:244::/56": wg_route("fd00:10:244::/56", 1024, "global"),
    }
    assert want.interface == Interface(OWN, 51820, 0)


@pytest.mark.parametrize(
    ("implementation", "txqlen"),
    [("kernel", 0), ("userspace", 500), (None, 0)],
    ids=["kernel", "wireguard-go-tun", "not-known-yet"],
)
def test_plan_txqlen_by_implementation(implementation: str | None, txqlen: int) -> None:
    link = plan_wireguard(params(peers=[]), OWN, implementation).link
    assert link is not None and link.txqlen == txqlen


def test_plan_without_a_key_yet_wants_a_key() -> None:
    want = plan_wireguard(params(peers=[]), None)
    assert want.interface is not None and want.interface.public_key == KEY_NOT_YET


def test_a_peer_holding_this_nodes_address_is_refused_once_this_node_is_known() -> None:
    with pytest.raises(WgError) as caught:
        plan_wireguard(params(), KEY3)  # node1's entry is someone else's now
    assert caught.value.problems == [
        "peers[node1].allowed_ips: 10.244.1.0/25 holds this node's own address 10.244.1.0/32: "
        "two nodes share a subnet"
    ]


def test_conflicting_route_is_named() -> None:
    want = plan_wireguard(params(peers=[]), OWN)
    other = Route("10.244.0.0/16", None, "flannel.1", False, proto=4)
    assert find_conflicts(want, {"10.244.0.0/16": other}) == [
        "routes: 10.244.0.0/16 is taken in table main by a route podnet does not own "
        "(10.244.0.0/16 dev flannel.1 proto static); remove that route or change the cluster "
        "network"
    ]


# --- diff ------------------------------------------------------------------------------

LINK = Link("flannel-wg", 1420, 0, True, "kernel")
IFACE = Interface(OWN, 51820, 0)
ROUTE = wg_route("10.244.0.0/16", 0, "link")
PEER2 = Peer(KEY2, "192.0.2.12:51820", ("10.244.2.0/24",), 0, PSK_NONE, "node2")
PEER3 = Peer(KEY3, "192.0.2.13:51820", ("10.244.3.0/24",), 0, PSK_NONE, "node3")


def state(**changes: Any) -> WgState:
    base: dict[str, Any] = {
        "ifname": "flannel-wg",
        "link": LINK,
        "interface": IFACE,
        "addresses": ("10.244.1.0/32",),
        "peers": {KEY2: PEER2},
        "routes": {"10.244.0.0/16": ROUTE},
    }
    base.update(changes)
    return WgState(**base)


def listing(changes: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(c.op, c.kind, c.key, c.reason) for c in changes]


def test_same_state_no_changes() -> None:
    assert diff_wireguard(state(), state()) == []


def test_new_device_everything_in_build_order() -> None:
    assert listing(diff_wireguard(state(), WgState("flannel-wg"))) == [
        ("add", "link", "flannel-wg", "missing"),
        ("add", "wg", "flannel-wg",
         f"private key (its public key): (none) vs {OWN}, listen_port: (none) vs 51820"),
        ("add", "addr", "10.244.1.0/32", "flannel-wg is new"),
        ("add", "peer", KEY2, "peer node2: flannel-wg is new"),
        ("add", "route", "10.244.0.0/16", "flannel-wg is new"),
    ]  # fmt: skip


def test_absent_deletes_only_the_device() -> None:
    assert listing(diff_wireguard(WgState("flannel-wg"), state())) == [
        ("delete", "link", "flannel-wg", "state=absent")
    ]
    assert diff_wireguard(WgState("flannel-wg"), WgState("flannel-wg")) == []


def test_not_a_wireguard_device_is_recreated_with_everything_on_it() -> None:
    impostor = state(link=Link("flannel-wg", 1420, 0, True, None), interface=None, peers={})
    changes = diff_wireguard(state(), impostor)
    assert listing(changes)[0] == (
        "replace",
        "link",
        "flannel-wg",
        "flannel-wg exists but is not a WireGuard device: re-create",
    )
    assert changes[0].spec["recreate"] is True
    assert [c.kind for c in changes] == ["link", "wg", "addr", "peer", "route"]


def test_drift_deletes_first_then_builds() -> None:
    have = state(
        link=Link("flannel-wg", 1300, 1000, False, "userspace"),
        interface=Interface(OWN, 40000, 7),
        addresses=("10.244.1.0/32", "10.244.1.9/32"),
        peers={KEY2: Peer(KEY2, "192.0.2.99:1", ("10.244.2.0/24",), 25, PSK_OTHER)},
        routes={"10.244.0.0/16": wg_route("10.244.0.0/16", 0, "global"),
                "10.96.0.0/12": wg_route("10.96.0.0/12", 0, "link")},
    )  # fmt: skip
    changes = diff_wireguard(state(), have)
    assert listing(changes) == [
        ("delete", "route", "10.96.0.0/12", "not in the plan (no longer a cluster network)"),
        ("delete", "addr", "10.244.1.9/32",
         "not in the plan (every address of the device is podnet's)"),
        ("replace", "link", "flannel-wg",
         "mtu: 1300 vs 1420, txqlen: 1000 vs 0, up: False vs True"),
        ("replace", "wg", "flannel-wg", "listen_port: 40000 vs 51820, fwmark: 7 vs 0"),
        ("replace", "peer", KEY2, "peer node2: endpoint: 192.0.2.99:1 vs 192.0.2.12:51820, "
         "persistent_keepalive: 25 vs 0, psk: other vs none"),
        ("replace", "route", "10.244.0.0/16", "scope: global vs link"),
    ]  # fmt: skip
    assert changes[2].spec["changed"] == ["mtu", "txqlen", "up"]
    assert changes[3].spec["changed"] == ["listen_port", "fwmark"]


def test_rotated_peer_key_old_entry_removed_new_added() -> None:
    rotated = dataclasses.replace(PEER2, public_key=KEY3)
    assert listing(diff_wireguard(state(peers={KEY3: rotated}), state())) == [
        ("delete", "peer", KEY2, "not in the plan (peer node2's previous key: its key changed)"),
        ("add", "peer", KEY3, "peer node2: missing"),
    ]


def test_own_key_rotated_sets_the_private_key() -> None:
    have = state(interface=Interface(KEY3, 51820, 0))
    changes = diff_wireguard(state(), have)
    assert listing(changes) == [
        ("replace", "wg", "flannel-wg", f"private key (its public key): {KEY3} vs {OWN}")
    ]
    assert changes[0].spec["changed"] == ["public_key"]


def test_peer_that_left_is_removed() -> None:
    have = state(peers={KEY2: PEER2, KEY3: PEER3})
    assert listing(diff_wireguard(state(), have)) == [
        ("delete", "peer", KEY3, "not in the plan (peer left the inventory)")
    ]


def test_view_shows_peers_by_key_and_no_secret() -> None:
    shown = view(state(peers={KEY2: Peer(KEY2, None, (), 25, PSK_SET, "node2")}))
    assert shown["peers"] == {
        KEY2: "node2: endpoint (none), allowed-ips (none), keepalive 25, psk set"
    }
    assert shown["device"]["public_key"] == OWN
    assert shown["routes"] == {"10.244.0.0/16": "dev flannel-wg scope link proto boot"}
    assert view(WgState("flannel-wg")) == {
        "device": None,
        "addresses": [],
        "peers": {},
        "routes": {},
    }
