"""Properties of the planner over generated fleets, pools and lease files (hypothesis).

Each scenario is valid by construction (pins, leases and observed subnets are distinct
subnets of the pool; the pool holds every node), so a failure is a broken property.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from typing import Any

from conftest import fleets, pool_configs
from hypothesis import given, settings
from hypothesis import strategies as st

from podnet import Lease, NetConf, Node, ValidationError, parse_net_conf, plan_fleet
from podnet.fields import IPNetwork

# deadline=None: the first example pays for imports and caches; the suite stays well under
# a minute on two cores with these counts.
PROPERTY = settings(max_examples=150, deadline=None)
MAX_NODES = 20
MAX_DEPARTED = 6
# Overheads restated from the byte math (not imported), so a wrong table in mtu.py fails here.
OVERHEAD = {
    ("vxlan", 4): 50,
    ("vxlan", 6): 70,
    ("wireguard", 4): 60,
    ("wireguard", 6): 80,
    ("host-gw", 4): 0,
    ("host-gw", 6): 0,
}


@dataclasses.dataclass(frozen=True)
class Scenario:
    conf: NetConf
    nodes: list[Node]
    leases: dict[str, Lease]
    observed: dict[str, Lease]


def _to_leases(by_family: Mapping[int, Mapping[str, IPNetwork]]) -> dict[str, Lease]:
    names = sorted({name for subnets in by_family.values() for name in subnets})
    return {
        name: Lease(by_family.get(4, {}).get(name), by_family.get(6, {}).get(name))  # type: ignore[arg-type]
        for name in names
    }


@st.composite
def scenarios(draw: st.DrawFn, *, pins: bool = True, max_nodes: int = MAX_NODES) -> Scenario:
    """A pool, a fleet, and pins / lease lines / observed subnets / departed leases on
    distinct subnets of the pool."""
    conf = parse_net_conf(draw(pool_configs(min_subnets=max_nodes + MAX_DEPARTED)))
    nodes = draw(fleets(max_size=max_nodes))
    departed = [f"gone-{i}" for i in range(draw(st.integers(0, MAX_DEPARTED)))]
    names = [node.name for node in nodes] + departed
    recorded: dict[str, dict[int, dict[str, IPNetwork]]] = {"pin": {}, "lease": {}, "seen": {}}
    for pool in conf.pools:
        taken = draw(
            st.lists(
                st.integers(pool.first, pool.last),
                min_size=len(names),
                max_size=len(names),
                unique=True,
            )
        )
        sources = ["pin", "lease", "seen", "none"] if pins else ["lease", "seen", "none"]
        for name, index in zip(names, taken, strict=True):
            source = "lease" if name in departed else draw(st.sampled_from(sources))
            if source != "none":
                recorded[source].setdefault(pool.family, {})[name] = pool.subnet(index)
    pinned = recorded["pin"]
    nodes = [
        dataclasses.replace(
            node,
            subnet=pinned.get(4, {}).get(node.name),
            ipv6_subnet=pinned.get(6, {}).get(node.name),
        )
        for node in nodes
    ]
    return Scenario(conf, nodes, _to_leases(recorded["lease"]), _to_leases(recorded["seen"]))


def _plan(scenario: Scenario, nodes: list[Node] | None = None, leases: Any = None) -> Any:
    return plan_fleet(
        scenario.conf,
        scenario.nodes if nodes is None else nodes,
        leases=scenario.leases if leases is None else leases,
        observed=scenario.observed,
    )


@PROPERTY
@given(scenarios())
def test_no_two_nodes_share_or_overlap_a_subnet(scenario: Scenario) -> None:
    plan = _plan(scenario)
    for pool in scenario.conf.pools:
        held = [p.subnet_of(pool.family) for p in plan.nodes]
        held += [lease.of(pool.family) for lease in plan.kept_leases.values()]
        ranges = sorted(
            (int(s.network_address), int(s.broadcast_address)) for s in held if s is not None
        )
        assert len(ranges) == len(plan.nodes) + sum(
            lease.of(pool.family) is not None for lease in plan.kept_leases.values()
        )
        for (_, end), (start, _) in itertools.pairwise(ranges):
            assert end < start


@PROPERTY
@given(scenarios())
def test_every_subnet_lies_inside_subnet_min_max(scenario: Scenario) -> None:
    plan = _plan(scenario)
    for pool in scenario.conf.pools:
        for node_plan in plan.nodes:
            subnet = node_plan.subnet_of(pool.family)
            assert subnet is not None
            assert subnet.prefixlen == pool.subnet_len
            # Restated with addresses rather than pool.index_in_range, the code under test.
            assert subnet.subnet_of(pool.network)  # type: ignore[arg-type]
            low, high = pool.address(pool.first), pool.address(pool.last)
            assert low <= subnet.network_address <= high, (subnet, pool.describe_range())
        for family in {4, 6} - {pool.family for pool in scenario.conf.pools}:
            assert all(node_plan.subnet_of(family) is None for node_plan in plan.nodes)


@PROPERTY
@given(scenarios(), st.randoms(use_true_random=False))
def test_the_plan_does_not_depend_on_input_order(scenario: Scenario, random: Any) -> None:
    nodes = list(scenario.nodes)
    random.shuffle(nodes)
    lease_items = list(scenario.leases.items())
    random.shuffle(lease_items)
    shuffled = _plan(scenario, nodes=nodes, leases=dict(lease_items))
    plan = _plan(scenario)
    assert shuffled == plan
    assert [p.name for p in shuffled.nodes] == sorted(node.name for node in scenario.nodes)
    some = plan.nodes[0].name
    assert shuffled.peers(some) == plan.peers(some)


@PROPERTY
@given(
    scenarios(pins=False, max_nodes=MAX_NODES),
    st.lists(
        st.sampled_from(["stays", "leaves", "arrives"]), min_size=MAX_NODES, max_size=MAX_NODES
    ),
)
def test_existing_leases_never_move_when_nodes_come_and_go(
    scenario: Scenario, fates: list[str]
) -> None:
    fate = {node.name: f for node, f in zip(scenario.nodes, fates, strict=False)}
    before_nodes = [n for n in scenario.nodes if fate[n.name] != "arrives"]
    after_nodes = [n for n in scenario.nodes if fate[n.name] != "leaves"]
    if not before_nodes or not after_nodes:
        return  # an empty inventory is an error, tested elsewhere
    # A newcomer's host uses no subnet yet: one it did use could meanwhile have gone to
    # another node, which is an error (tested in test_allocate), not a move.
    scenario = dataclasses.replace(
        scenario,
        observed={k: v for k, v in scenario.observed.items() if fate.get(k) != "arrives"},
    )
    before = _plan(scenario, nodes=before_nodes)
    recorded = before.leases()
    after = _plan(scenario, nodes=after_nodes, leases=recorded)
    now = after.leases()
    # Every subnet recorded before is still recorded, unchanged: by its node or kept. (A
    # family a lease line lacks may be filled in when its node arrives.)
    for name, lease in recorded.items():
        for family in (4, 6):
            if lease.of(family) is not None:
                assert now[name].of(family) == lease.of(family), (name, family)
    for name in {n.name for n in before_nodes} - {n.name for n in after_nodes}:
        assert after.kept_leases[name] == recorded[name]
    # Newcomers get subnets nobody held.
    held = {s for lease in recorded.values() for s in (lease.subnet, lease.ipv6_subnet) if s}
    for node_plan in after.nodes:
        if node_plan.name not in recorded:
            assert node_plan.subnet not in held and node_plan.ipv6_subnet not in held
    # And a second run on its own lease file changes nothing (warnings aside: an observed
    # subnet that lost to a lease is not looked at again once the node has its own line).
    again = _plan(scenario, nodes=after_nodes, leases=now)
    assert (again.nodes, again.kept_leases, again.leases()) == (after.nodes, after.kept_leases, now)


@st.composite
def mtu_confs(draw: st.DrawFn) -> dict[str, Any]:
    stack = draw(st.sampled_from(["v4", "v6", "dual"]))
    raw: dict[str, Any] = {}
    if stack != "v6":
        raw["Network"] = "10.244.0.0/16"
    else:
        raw["EnableIPv4"] = False
    if stack != "v4":
        raw.update(EnableIPv6=True, IPv6Network="fd00:10:244::/56")
    backend: dict[str, Any] = {"Type": draw(st.sampled_from(["vxlan", "host-gw", "wireguard"]))}
    if backend["Type"] == "wireguard":
        backend["Mode"] = draw(st.sampled_from(["separate", "auto", "ipv4", "ipv6"]))
    if backend["Type"] != "host-gw" and draw(st.booleans()):
        backend["MTU"] = draw(st.integers(1200, 9100))
    raw["Backend"] = backend
    return raw


def _underlay_families(conf: NetConf) -> set[int]:
    backend = conf.backend
    if backend.type == "wireguard" and backend.mode != "separate":
        return {"ipv4": {4}, "ipv6": {6}, "auto": {4, 6}}[backend.mode.value]
    return {pool.family for pool in conf.pools}


@PROPERTY
@given(mtu_confs(), fleets(max_size=12, mtus=st.integers(1280, 9216)))
def test_pod_mtu_never_exceeds_any_underlay_minus_the_overhead(raw, nodes) -> None:
    conf = parse_net_conf(raw)
    overhead = max(OVERHEAD[conf.backend.type.value, f] for f in _underlay_families(conf))
    smallest = min(node.mtu for node in nodes)
    try:
        plan = plan_fleet(conf, nodes)
    except ValidationError as error:
        # Only an MTU can be wrong here: too small, or an explicit one above an underlay.
        assert all(p.startswith(("pod MTU", "Backend.MTU")) for p in error.problems)
        too_big = conf.backend.mtu > smallest
        floor = 1280 if conf.ipv6 else 576
        too_small = (conf.backend.mtu or smallest) - overhead < floor
        assert too_big or too_small
        return
    for node in nodes:
        assert plan.mtu.mtu + overhead <= node.mtu, node
    if not conf.backend.mtu:
        assert plan.mtu.mtu == smallest - overhead  # no lower than it needs to be either
