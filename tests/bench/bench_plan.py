"""Planner benchmark: parse and plan_fleet time, peak memory, and growth against n log n.

Run from a checkout: ``python tests/bench/bench_plan.py [--sizes 1000 5000 50000]``.
It prints figures and never asserts: timing on a shared CI runner is not a test.

Method:
- Inputs are what a user gives: a net-conf dict and one node mapping per host, with
  underlay addresses in the benchmarking range 198.18.0.0/15 and Network 10.0.0.0/8
  (65,535 /24 subnets, room for every size here).
- "parse" is parse_net_conf + parse_nodes; "plan" is plan_fleet on the parsed inputs;
  "replan" is plan_fleet again with the first plan's lease file, the steady state of a
  fleet that is already allocated; "peers" is one node's peer view (what one host needs).
- Each figure is the best of --repeat runs (the least disturbed by the machine). The
  garbage collector is run before each run and kept off during it, as timeit does, so
  a collection triggered by earlier garbage is not billed to the code measured.
- Peak memory comes from a separate tracemalloc run, since tracing slows Python down
  several times and would spoil the timings.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import itertools
import math
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

try:
    import podnet  # noqa: F401 - installed (pip install -e .)
except ModuleNotFoundError:  # run from a bare checkout
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "library"))

from podnet import FleetPlan, Node, parse_net_conf, parse_nodes, plan_fleet

NET_CONF = {"Network": "10.0.0.0/8", "Backend": {"Type": "vxlan"}}
UNDERLAY = ipaddress.IPv4Network("198.18.0.0/15")
GOALS = {5_000: 0.2, 50_000: 2.0}  # seconds for plan_fleet
_T = TypeVar("_T")


def make_inventory(count: int) -> list[dict[str, Any]]:
    """`count` node mappings as an inventory holds them; names sort in index order."""
    if count > UNDERLAY.num_addresses - 2:
        raise SystemExit(f"{count} nodes do not fit in {UNDERLAY}")
    base = int(UNDERLAY.network_address)
    width = len(str(count))
    return [
        {
            "name": f"node{index:0{width}d}",
            "public_ip": str(ipaddress.IPv4Address(base + index)),
            "underlay_subnet": str(UNDERLAY),
            "mtu": 9000 if index % 10 else 1500,  # a mixed fleet: the warning path runs too
        }
        for index in range(1, count + 1)
    ]


def best_of(repeat: int, call: Callable[[], _T]) -> tuple[float, _T]:
    """The shortest of `repeat` timed calls, and the last call's result."""
    best = math.inf
    result: Any = None
    enabled = gc.isenabled()
    try:
        for _ in range(repeat):
            result = None  # let the previous result go before collecting
            gc.collect()
            gc.disable()
            started = time.perf_counter()
            result = call()
            best = min(best, time.perf_counter() - started)
            if enabled:
                gc.enable()
    finally:
        if enabled:
            gc.enable()
    return best, result


def peak_mib(call: Callable[[], object]) -> float:
    """Peak memory allocated while `call` runs, beyond what was held before it, in MiB."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return (peak - baseline) / 2**20


def time_one_view(plan: FleetPlan, repeat: int) -> float:
    """One node's peer list: what one host's run needs from the plan."""
    middle = plan.nodes[len(plan.nodes) // 2].name
    seconds, peers = best_of(repeat, lambda: plan.peers(middle))
    assert len(peers) == len(plan.nodes) - 1  # a sanity check of the input, not of timing
    return seconds


def measure(count: int, repeat: int) -> dict[str, float]:
    inventory = make_inventory(count)
    parse_s, (conf, nodes) = best_of(
        repeat, lambda: (parse_net_conf(NET_CONF), parse_nodes(inventory))
    )
    typed: tuple[Node, ...] = nodes
    plan_s, plan = best_of(repeat, lambda: plan_fleet(conf, typed))
    leases = plan.leases()
    replan_s, _ = best_of(repeat, lambda: plan_fleet(conf, typed, leases=leases))
    peers_s = time_one_view(plan, repeat)
    return {
        "n": count,
        "parse": parse_s,
        "plan": plan_s,
        "replan": replan_s,
        "peers": peers_s,
        "peak": peak_mib(lambda: plan_fleet(conf, typed)),
    }


def n_log_n(count: float) -> float:
    return count * math.log(count)


def print_table(rows: list[dict[str, float]]) -> None:
    header = (
        f"{'nodes':>7} {'parse s':>9} {'plan s':>8} {'plan µs/node':>12} {'parse µs/node':>13}"
        f" {'replan s':>9} {'peers(1) ms':>11} {'peak MiB':>9}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        n = row["n"]
        print(
            f"{n:>7,.0f} {row['parse']:>9.3f} {row['plan']:>8.3f}"
            f" {row['plan'] / n * 1e6:>12.1f} {row['parse'] / n * 1e6:>13.1f}"
            f" {row['replan']:>9.3f} {row['peers'] * 1e3:>11.2f} {row['peak']:>9.1f}"
        )
    if len(rows) > 1:
        print()
        print("growth between sizes (time ratio vs n log n ratio; equal means O(n log n)):")
        for small, large in itertools.pairwise(rows):
            expected = n_log_n(large["n"]) / n_log_n(small["n"])
            print(
                f"  {small['n']:>6,.0f} -> {large['n']:>6,.0f}:"
                f" parse x{large['parse'] / small['parse']:.1f},"
                f" plan x{large['plan'] / small['plan']:.1f},"
                f" peak x{large['peak'] / small['peak']:.1f};"
                f" n log n x{expected:.1f}, n x{large['n'] / small['n']:.1f}"
            )


def print_goals(rows: list[dict[str, float]]) -> None:
    by_size = {int(row["n"]): row for row in rows}
    print()
    print("goals (plan_fleet; parse + plan for reference):")
    for count, limit in GOALS.items():
        row = by_size.get(count)
        if row is None:
            print(f"  {count:>6,} nodes < {limit} s: not measured")
            continue
        total = row["parse"] + row["plan"]
        print(
            f"  {count:>6,} nodes < {limit} s: plan {row['plan']:.3f} s"
            f" {'PASS' if row['plan'] < limit else 'MISS'}"
            f" (parse + plan {total:.3f} s {'PASS' if total < limit else 'MISS'})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 5_000, 50_000])
    parser.add_argument("--repeat", type=int, default=5, help="runs per figure; the best counts")
    args = parser.parse_args(argv)
    print(f"podnet planner benchmark: Python {sys.version.split()[0]}, best of {args.repeat}")
    print(f"inputs: Network {NET_CONF['Network']}, underlay {UNDERLAY}, vxlan, mixed MTU")
    print()
    rows = [measure(count, args.repeat) for count in sorted(args.sizes)]
    print_table(rows)
    print_goals(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
