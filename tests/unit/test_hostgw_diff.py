"""host_gw's pure diff, slot conflicts and --diff view: hand-built routes on both sides,
exact change lists (the order is the apply order: deletes first)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]

from plugins.module_utils.core.changes import ADD, DELETE, REPLACE  # noqa: E402
from plugins.module_utils.host_gw.diff import diff_routes, slot_conflicts  # noqa: E402
from plugins.module_utils.host_gw.state import view  # noqa: E402
from plugins.module_utils.kernel.routes import Route  # noqa: E402
from plugins.module_utils.kernel.wire import RouteMsg  # noqa: E402

LEFT = "not in the plan (no peer has this subnet: it left the inventory or moved)"


def route(n: int, gateway: str | None = None, dev: str = "eth0", **fields: Any) -> Route:
    """Peer node<n>'s host-gw route: 10.244.<n>.0/24 via 192.0.2.<10+n> dev eth0."""
    dst = f"10.244.{n}.0/24"
    base = Route(dst, gateway or f"192.0.2.{10 + n}", dev, False, peer=f"node{n}")
    return dataclasses.replace(base, **fields)


def table(*routes: Route) -> dict[str, Route]:
    return {r.dst if r.priority == 0 else f"{r.dst} metric {r.priority}": r for r in routes}


def ops(changes: list[Any]) -> list[tuple[str, str, str, str]]:
    return [(c.op, c.kind, c.key, c.reason) for c in changes]


def test_fresh_host_gets_a_route_per_peer() -> None:
    assert ops(diff_routes(table(route(2), route(3)), {})) == [
        (ADD, "route", "10.244.2.0/24", "peer node2: missing"),
        (ADD, "route", "10.244.3.0/24", "peer node3: missing"),
    ]


def test_identical_tables_need_nothing_and_peer_labels_are_not_drift() -> None:
    """The kernel never reports `peer`, so a read route has none."""
    have = table(dataclasses.replace(route(2), peer=""), dataclasses.replace(route(3), peer=""))
    assert diff_routes(table(route(2), route(3)), have) == []


def test_gateway_and_device_drift_is_replaced_in_place_with_reasons() -> None:
    have = table(route(2, gateway="192.0.2.99"), route(3, dev="eth1"))
    assert ops(diff_routes(table(route(2), route(3)), have)) == [
        (REPLACE, "route", "10.244.2.0/24", "peer node2: gateway: 192.0.2.99 vs 192.0.2.12"),
        (REPLACE, "route", "10.244.3.0/24", "peer node3: dev: eth1 vs eth0"),
    ]


def test_scope_drift_is_replaced() -> None:
    have = table(route(2, scope=200))
    assert ops(diff_routes(table(route(2)), have)) == [
        (REPLACE, "route", "10.244.2.0/24", "peer node2: scope: site vs global"),
    ]


def test_peer_that_left_is_deleted_before_new_peers_are_added() -> None:
    changes = diff_routes(table(route(2), route(4)), table(route(2), route(3)))
    assert ops(changes) == [
        (DELETE, "route", "10.244.3.0/24", LEFT),
        (ADD, "route", "10.244.4.0/24", "peer node4: missing"),
    ]
    # A delete carries the route as read, so apply can name it exactly.
    assert changes[0].spec == {
        "dst": "10.244.3.0/24",
        "gateway": "192.0.2.13",
        "dev": "eth0",
        "priority": 0,
        "proto": 3,
        "table": 254,
    }


def test_a_second_route_to_a_peer_under_another_metric_is_deleted() -> None:
    have = table(route(2), route(2, gateway="192.0.2.50", dev="eth1", priority=20))
    assert ops(diff_routes(table(route(2)), have)) == [
        (
            DELETE,
            "route",
            "10.244.2.0/24 metric 20",
            "not in the plan (peer node2's route has the default metric)",
        ),
    ]


def test_absent_deletes_every_owned_route() -> None:
    assert ops(diff_routes({}, table(route(2), route(3)), absent=True)) == [
        (DELETE, "route", "10.244.2.0/24", "state=absent"),
        (DELETE, "route", "10.244.3.0/24", "state=absent"),
    ]
    assert diff_routes({}, {}, absent=True) == []


def test_present_with_no_peers_left_deletes_for_that_reason() -> None:
    """A fleet shrunk to this node: the routes go because their peers left, not absent."""
    assert ops(diff_routes({}, table(route(2)))) == [(DELETE, "route", "10.244.2.0/24", LEFT)]


# --- conflicts --------------------------------------------------------------------------


def foreign(dst: str, gateway: str | None, oif: int, **fields: Any) -> RouteMsg:
    base = {
        "family": 2,
        "dst": dst,
        "table": 254,
        "proto": 4,
        "scope": 0,
        "type": 1,
        "flags": 0,
        "oif": oif,
        "gateway": gateway,
        "priority": 0,
        "multipath": False,
    }
    return RouteMsg(**{**base, **fields})


NAMES = {2: "eth0", 9: "flannel.1", 11: "flannel-wg"}


def test_foreign_route_in_a_slot_names_it_and_the_command_to_remove_it() -> None:
    found = {"10.244.3.0/24": foreign("10.244.3.0/24", "192.0.2.1", 2)}
    assert slot_conflicts(table(route(2), route(3)), found, NAMES) == [
        "route 10.244.3.0/24 (peer node3) is taken in table main by a route podnet does not "
        "own (10.244.3.0/24 via 192.0.2.1 dev eth0 proto static); delete it (ip route del "
        "10.244.3.0/24 via 192.0.2.1 dev eth0 proto static) or change the peer's subnet"
    ]


def test_vxlan_and_wireguard_routes_in_a_slot_say_remove_that_backend_first() -> None:
    found = {
        "10.244.2.0/24": foreign("10.244.2.0/24", "10.244.2.0", 9, proto=3, flags=4),
        "10.244.3.0/24": foreign("10.244.3.0/24", None, 11, proto=3, scope=253),
    }
    problems = slot_conflicts(table(route(2), route(3)), found, NAMES)
    assert problems[0].endswith(
        "(10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink proto boot); flannel.1 is a VXLAN "
        "device of flannel or podnet: remove it first (podnet.fabric.vxlan with "
        "state=absent), then run again"
    )
    assert "(10.244.3.0/24 dev flannel-wg proto boot); flannel-wg is a WireGuard" in problems[1]


def test_foreign_routes_outside_planned_slots_are_no_conflict() -> None:
    found = {"10.244.9.0/24": foreign("10.244.9.0/24", "192.0.2.1", 2)}
    assert slot_conflicts(table(route(2)), found, NAMES) == []


# --- view -------------------------------------------------------------------------------


def test_view_is_one_line_per_route_in_iproute2_words() -> None:
    assert view(table(route(2), route(3, priority=5))) == {
        "routes": {
            "10.244.2.0/24": "via 192.0.2.12 dev eth0 proto boot",
            "10.244.3.0/24 metric 5": "via 192.0.2.13 dev eth0 proto boot",
        }
    }
