"""host_gw's pure planning: input checks, which routes of table main podnet owns, the
wanted routes, and the on-segment check. Dumped routes are built by hand as RouteMsg
records, so no kernel and no pyroute2 are involved.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.host_gw.input import (  # noqa: E402
    HostGwInputError,
    validate_host_gw,
)
from plugins.module_utils.host_gw.want import (  # noqa: E402
    off_segment,
    off_segment_problem,
    plan_routes,
)
from plugins.module_utils.kernel.ipnet import parse_cidr  # noqa: E402
from plugins.module_utils.kernel.routes import Route, split_table_main  # noqa: E402
from plugins.module_utils.kernel.wire import RouteMsg  # noqa: E402

AF_INET, AF_INET6 = 2, 10
ETH0, ETH1, FLANNEL1 = 2, 3, 9
SCOPE_LINK = 253
NET = parse_cidr("10.244.0.0/16")
PEER2 = {"name": "node2", "subnet": "10.244.2.0/24", "public_ip": "192.0.2.12"}
PEER3 = {"name": "node3", "subnet": "10.244.3.0/24", "public_ip": "192.0.2.13"}


def args(**changes: Any) -> dict[str, Any]:
    base = {
        "state": "present",
        "family": 4,
        "network": "10.244.0.0/16",
        "dev": "eth0",
        "peers": [PEER2, PEER3],
    }
    return {**base, **changes}


def msg(dst: str, gateway: str | None = None, **fields: Any) -> RouteMsg:
    """A table-main route as `dump_routes` returns it; proto boot on eth0 unless told."""
    base: dict[str, Any] = {
        "family": AF_INET6 if ":" in dst else AF_INET,
        "dst": dst,
        "table": 254,
        "proto": 3,
        "scope": 0,
        "type": 1,
        "flags": 0,
        "oif": ETH0,
        "gateway": gateway,
        "priority": 1024 if ":" in dst else 0,
        "multipath": False,
    }
    return RouteMsg(**{**base, **fields})


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(HostGwInputError) as caught:
        validate_host_gw(raw)
    return caught.value.problems


# --- input -----------------------------------------------------------------------------


def test_valid_input_gives_canonical_peers_and_ignores_other_peer_keys() -> None:
    extra = {**PEER2, "vtep_mac": "0a:00:00:00:00:02", "public_key": "whatever"}
    params = validate_host_gw(args(peers=[extra, PEER3]))
    assert (params.state, params.family, str(params.network), params.dev) == (
        "present",
        4,
        "10.244.0.0/16",
        "eth0",
    )
    assert [(p.name, str(p.subnet), p.public_ip) for p in params.peers] == [
        ("node2", "10.244.2.0/24", "192.0.2.12"),
        ("node3", "10.244.3.0/24", "192.0.2.13"),
    ]


def test_ipv6_addresses_are_canonical_text() -> None:
    peer = {"name": "node2", "subnet": "fd00:10:244:2::/64", "public_ip": "2001:DB8:0::12"}
    params = validate_host_gw(args(family=6, network="fd00:10:244::/56", peers=[peer]))
    assert params.peers[0].public_ip == "2001:db8::12"
    assert params.af == AF_INET6


def test_every_problem_is_reported_at_once_with_field_value_and_rule() -> None:
    raw = args(
        dev="",
        peers=[
            {**PEER2, "subnet": "10.244.2.300/24"},
            {**PEER3, "subnet": "10.245.3.0/24"},
            {"name": "node4", "subnet": "10.244.4.1/24", "public_ip": "2001:db8::4"},
            {"name": "node5", "subnet": "fd00::/64", "public_ip": "192.0.2.300"},
            {"name": "node6", "subnet": "10.244.6.0/24"},
            {"name": "node7", "subnet": "10.244.7.0/24", "public_ip": "10.244.9.9"},
            "node8",
        ],
    )
    assert problems(raw) == [
        "dev: required when state=present (the underlay interface)",
        "peers[node2].subnet: '10.244.2.300/24' is not a CIDR (address/prefix, e.g. 10.244.0.0/16)",
        "peers[node3].subnet: 10.245.3.0/24 is not inside network 10.244.0.0/16: every "
        "node's subnet comes from the cluster network of the family",
        "peers[node4].subnet: 10.244.4.1/24 has host bits set; did you mean 10.244.4.0/24?",
        "peers[node4].public_ip: 2001:db8::4 is not an IPv4 address (family=4)",
        "peers[node5].subnet: fd00::/64 is not an IPv4 CIDR (family=4)",
        "peers[node5].public_ip: '192.0.2.300' is not an IP address",
        "peers[node6]: missing public_ip",
        "peers[node7].public_ip: 10.244.9.9 lies inside network 10.244.0.0/16; it must be "
        "the peer's underlay address",
        "peers[6]: 'node8' is not a dict with name, subnet, public_ip",
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"network": None}, "network: required: the cluster network"),
        ({"network": "10.244.0.0"}, "network: '10.244.0.0' is not a CIDR"),
        ({"network": "fd00::/56"}, "network: fd00::/56 is not an IPv4 CIDR (family=4)"),
        ({"family": 6}, "network: 10.244.0.0/16 is not an IPv6 CIDR (family=6)"),
        ({"family": 5}, "family: 5 is not 4 or 6"),
        ({"state": "gone"}, "state: 'gone' is not present or absent"),
        ({"dev": "a-very-long-name0"}, "dev: 'a-very-long-name0' is not an interface name"),
    ],
    ids=["no-network", "network-no-prefix", "network-v6", "family-6", "family-5", "state", "dev"],
)
def test_single_field_problem(changes: dict[str, Any], problem: str) -> None:
    found = problems(args(**changes))
    assert any(p.startswith(problem) for p in found), found


def test_overlapping_subnets_and_repeated_names() -> None:
    raw = args(
        peers=[
            {"name": "wide", "subnet": "10.244.0.0/22", "public_ip": "192.0.2.20"},
            {"name": "inner", "subnet": "10.244.3.0/24", "public_ip": "192.0.2.21"},
            {"name": "same", "subnet": "10.244.8.0/24", "public_ip": "192.0.2.22"},
            {"name": "same", "subnet": "10.244.9.0/24", "public_ip": "192.0.2.23"},
            {"name": "twin", "subnet": "10.244.8.0/24", "public_ip": "192.0.2.24"},
        ]
    )
    assert problems(raw) == [
        "peers[inner].subnet: 10.244.3.0/24 overlaps peers[wide]'s 10.244.0.0/22; every "
        "node needs its own subnet",
        "peers[twin].subnet: 10.244.8.0/24 overlaps peers[same]'s 10.244.8.0/24; every "
        "node needs its own subnet",
        "peers[same].name: same names two peers (10.244.8.0/24 and 10.244.9.0/24); every "
        "node has its own name",
    ]


def test_overlap_is_found_past_a_smaller_subnet_in_between() -> None:
    """A wide subnet's end, not the previous one's, decides: /22 holds .3.0 past .1.0."""
    raw = args(
        peers=[
            {"name": "wide", "subnet": "10.244.0.0/22", "public_ip": "192.0.2.20"},
            {"name": "a", "subnet": "10.244.1.0/24", "public_ip": "192.0.2.21"},
            {"name": "b", "subnet": "10.244.3.0/24", "public_ip": "192.0.2.22"},
        ]
    )
    assert [p.split(":")[0] for p in problems(raw)] == ["peers[a].subnet", "peers[b].subnet"]


def test_absent_needs_network_only_and_ignores_peers_and_dev() -> None:
    params = validate_host_gw({"state": "absent", "network": "10.244.0.0/16", "peers": ["x"]})
    assert (params.state, params.dev, params.peers) == ("absent", None, ())
    assert problems({"state": "absent"})[0].startswith("network: required")


def test_validation_does_not_mutate_its_input() -> None:
    raw = args(peers=[{**PEER2, "vtep_mac": "0a:00:00:00:00:02"}])
    before = copy.deepcopy(raw)
    validate_host_gw(raw)
    assert raw == before


# --- ownership -------------------------------------------------------------------------


def test_owned_is_flannels_class_on_any_device_and_nothing_else() -> None:
    main = [
        msg("10.244.2.0/24", "192.0.2.12"),  # host-gw's own shape
        msg("10.244.3.0/24", "198.51.100.13", oif=ETH1),  # another device: still owned
        msg("10.244.4.0/24", "192.0.2.14", priority=7),  # another metric: owned, own key
        msg("10.244.5.0/24", "192.0.2.15", proto=4),  # proto static
        msg("10.244.6.0/24", "10.244.6.0", oif=FLANNEL1, flags=4),  # vxlan's onlink route
        msg("10.244.7.0/24", None, oif=FLANNEL1, scope=SCOPE_LINK),  # flannel-wg's shape
        msg("10.244.8.0/24", None, multipath=True),  # ECMP: no single gateway
        msg("10.245.0.0/24", "192.0.2.16"),  # outside the network
        msg("10.0.0.0/8", "192.0.2.1"),  # wider than the network
        msg("10.244.0.0/16", "192.0.2.1"),  # the network itself: inside, owned
        msg("0.0.0.0/0", "192.0.2.1"),
        msg("192.0.2.0/24", None, proto=2, scope=SCOPE_LINK),
    ]
    table = split_table_main(main, NET)
    assert sorted(table.owned) == [
        "10.244.0.0/16",
        "10.244.2.0/24",
        "10.244.3.0/24",
        "10.244.4.0/24 metric 7",
    ]
    assert sorted(table.foreign) == [
        "10.244.5.0/24",
        "10.244.6.0/24",
        "10.244.7.0/24",
        "10.244.8.0/24",
    ]


def test_other_tables_are_never_owned() -> None:
    table = split_table_main([msg("10.244.2.0/24", "192.0.2.12", table=100)], NET)
    assert (table.owned, table.foreign) == ({}, {})


def test_ipv6_keys_omit_the_default_metric_1024() -> None:
    main = [msg("fd00:10:244:2::/64", "2001:db8::12"), msg("fd00:10:244:3::/64", "fe80::1")]
    table = split_table_main(main, parse_cidr("fd00:10:244::/56"))
    assert sorted(table.owned) == ["fd00:10:244:2::/64", "fd00:10:244:3::/64"]


# --- wanted routes ---------------------------------------------------------------------


def test_plan_is_flannels_route_per_peer() -> None:
    routes = plan_routes(validate_host_gw(args()))
    assert routes == {
        "10.244.2.0/24": Route("10.244.2.0/24", "192.0.2.12", "eth0", False, 0, 3, 254, 0, 1),
        "10.244.3.0/24": Route("10.244.3.0/24", "192.0.2.13", "eth0", False, 0, 3, 254, 0, 1),
    }
    assert [r.peer for r in routes.values()] == ["node2", "node3"]


def test_plan_ipv6_uses_the_kernels_default_metric() -> None:
    peer = {"name": "node2", "subnet": "fd00:10:244:2::/64", "public_ip": "2001:db8::12"}
    params = validate_host_gw(args(family=6, network="fd00:10:244::/56", peers=[peer]))
    route = plan_routes(params)["fd00:10:244:2::/64"]
    assert (route.gateway, route.priority, route.dev) == ("2001:db8::12", 1024, "eth0")


def test_plan_for_absent_is_empty() -> None:
    assert plan_routes(validate_host_gw({"state": "absent", "network": "10.244.0.0/16"})) == {}


# --- on the segment --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("main", "far"),
    [
        ([msg("192.0.2.0/24", None, proto=2, scope=SCOPE_LINK)], []),
        # The connected route is on another device: eth0 cannot reach the gateway.
        ([msg("192.0.2.0/24", None, proto=2, scope=SCOPE_LINK, oif=ETH1)], ["node2", "node3"]),
        # A narrower connected route holds only node2.
        ([msg("192.0.2.12/32", None, scope=SCOPE_LINK)], ["node3"]),
        # A default route is not on-link; nor is a route via a gateway.
        (
            [msg("0.0.0.0/0", "192.0.2.1", proto=2), msg("192.0.2.0/24", "192.0.2.1")],
            ["node2", "node3"],
        ),
        # Scope universe without a gateway: the kernel's on-link lookup skips it (IPv4).
        ([msg("192.0.2.0/24", None, scope=0)], ["node2", "node3"]),
        # A blackhole holds the addresses but reaches nothing.
        ([msg("192.0.2.0/24", None, scope=SCOPE_LINK, type=6)], ["node2", "node3"]),
        ([], ["node2", "node3"]),
    ],
    ids=["connected", "other-dev", "narrow", "via-gateway", "scope-universe", "blackhole", "none"],
)
def test_off_segment_peers(main: list[RouteMsg], far: list[str]) -> None:
    peers = validate_host_gw(args()).peers
    assert [p.name for p in off_segment(peers, main, ETH0)] == far


def test_ipv6_connected_routes_count_whatever_their_scope() -> None:
    """IPv6 dumps report scope universe for connected routes too."""
    peer = {"name": "node2", "subnet": "fd00:10:244:2::/64", "public_ip": "2001:db8::12"}
    far = {"name": "node3", "subnet": "fd00:10:244:3::/64", "public_ip": "2001:db9::13"}
    params = validate_host_gw(args(family=6, network="fd00:10:244::/56", peers=[peer, far]))
    main = [msg("2001:db8::/64", None, proto=2, priority=256), msg("::/0", "2001:db8::1")]
    assert [p.name for p in off_segment(params.peers, main, ETH0)] == ["node3"]


def test_off_segment_message_names_peer_ip_dev_and_the_fix() -> None:
    assert off_segment_problem("node3", "198.51.100.13", "eth0") == (
        "peer node3's public IP 198.51.100.13 is not on a segment of dev eth0 (no connected "
        "route of eth0 in table main holds it): host-gw needs every node on one L2 segment; "
        "use Backend.Type vxlan with DirectRouting true"
    )
