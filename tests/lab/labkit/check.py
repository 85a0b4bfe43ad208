"""The lab's proof: every pod reaches every other, with the MTU boundary exact.

Three figures, each of which fails on its own kind of mistake:
- reachability: every pod pings every other pod (routes, FDB, neighbours, forwarding);
- pod MTU: each pod's eth0 against FLANNEL_MTU from its node's subnet.env;
- DF boundary, from the first pod to every pod on another node: an ICMP payload of
  MTU - 28 bytes (20 IPv4 + 8 ICMP) with DF set must cross, one byte more must not.
  With a 1500 underlay the 1450-byte pod packet becomes exactly 1500 bytes on eth0
  (+ 8 VXLAN + 8 UDP + 20 IPv4 + 14 inner Ethernet), so 1422 passes and 1423 cannot.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from .layout import SUBNET_ENV, node
from .machine import node_names
from .pods import ping, pod_mtu, read_pod
from .system import LabError

T = TypeVar("T")
R = TypeVar("R")
# Pings wait on the network, not the CPU; enough threads that 20 nodes (380 pairs)
# take seconds.
_WORKERS = 16


@dataclass(frozen=True, slots=True)
class PodFigures:
    """One pod's line in the table."""

    node: str
    ip: str | None
    mtu: int | None
    flannel_mtu: int | None
    reached: int
    tried: int


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What `check` measured; `ok` is False when any problem was found."""

    pods: tuple[PodFigures, ...]
    reach_ok: int
    reach_total: int
    expected_mtu: int | None
    df_source: str | None
    df_size: int | None  # the largest ICMP payload that fits: MTU - 28 (IPv4)
    df_targets: tuple[str, ...]
    df_passed: tuple[str, ...]  # targets the MTU - 28 packet reached
    df_refused: tuple[str, ...]  # targets the MTU - 27 packet did not reach
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line, e.g. 'pod reachability 6/6 ok; pod MTU 1450 (expected 1450); DF ...'."""
        reach = f"pod reachability {self.reach_ok}/{self.reach_total}"
        if not self.reach_total:
            reach += " (not tested: needs pods on two nodes)"
        else:
            reach += " ok" if self.reach_ok == self.reach_total else " FAILED"
        mtus = sorted({p.mtu for p in self.pods if p.mtu is not None})
        mtu_ok = self.expected_mtu is not None and mtus == [self.expected_mtu]
        mtu = f"pod MTU {'/'.join(map(str, mtus)) or '?'} (expected {self.expected_mtu or '?'})"
        mtu += "" if mtu_ok else " FAILED"
        return f"{reach}; {mtu}; {self._df_summary()}"

    def _df_summary(self) -> str:
        if self.df_size is None or not self.df_targets:
            return "DF boundary not tested (needs pods on two nodes and FLANNEL_MTU)"
        size, n = self.df_size, len(self.df_targets)
        targets = self.df_targets[0] if n == 1 else f"{self.df_targets[0]}..{self.df_targets[-1]}"

        def verdict(good: int) -> str:
            count = "" if n == 1 else f"{good}/{n} "
            return count + ("ok" if good == n else "FAILED")

        return (
            f"DF {size} bytes {self.df_source}->{targets} {verdict(len(self.df_passed))}, "
            f"{size + 1} bytes refused {verdict(len(self.df_refused))}"
        )

    def table(self) -> str:
        """Per pod: node, IP, MTU, FLANNEL_MTU, how many other pods it reached."""
        rows = [("node", "pod ip", "pod mtu", "FLANNEL_MTU", "reaches")]
        rows += [
            (
                p.node,
                p.ip or "no pod",
                str(p.mtu or "-"),
                str(p.flannel_mtu or "-"),
                f"{p.reached}/{p.tried}",
            )
            for p in self.pods
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )

    def report(self) -> str:
        """Table, summary line, then each problem on its own line."""
        lines = [self.table(), self.summary(), *(f"FAILED: {p}" for p in self.problems)]
        return "\n".join(lines)


def flannel_mtu(name: str) -> int | None:
    """FLANNEL_MTU from the node's /run/flannel/subnet.env, None if absent."""
    try:
        text = node(name).host_path(SUBNET_ENV).read_text()
    except FileNotFoundError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "FLANNEL_MTU":
            return int(value.strip())
    return None


def _parallel(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    if not items:
        return []
    with ThreadPoolExecutor(max_workers=min(_WORKERS, len(items))) as pool:
        return list(pool.map(fn, items))


def _expected_mtu(names: Sequence[str], given: int | None, problems: list[str]) -> int | None:
    env = {name: flannel_mtu(name) for name in names}
    problems += [f"{n} has no FLANNEL_MTU in {SUBNET_ENV}" for n, v in env.items() if v is None]
    values = sorted({v for v in env.values() if v is not None})
    if len(values) > 1:
        problems.append(
            "the nodes disagree on FLANNEL_MTU: "
            + ", ".join(f"{n} {v}" for n, v in env.items() if v is not None)
        )
    if given is not None:
        return given
    return values[0] if len(values) == 1 else None


def check(expected_mtu: int | None = None) -> CheckResult:
    """Measure reachability, pod MTU and the DF boundary across all attached pods.

    expected_mtu defaults to FLANNEL_MTU from the nodes' subnet.env. Pods must have been
    attached (`lab.py pods` / attach_pod); a node without one is a problem, not a skip.
    """
    names = node_names()
    if not names:
        raise LabError("there is no lab: run `tests/lab/lab.py up` first")
    problems: list[str] = []
    ips = {n: str(r["ip"]) for n in names if (r := read_pod(n)) is not None}
    problems += [f"{n} has no pod: run `tests/lab/lab.py pods`" for n in names if n not in ips]
    expected = _expected_mtu(names, expected_mtu, problems)
    mtus = {n: pod_mtu(n) for n in ips}
    problems += [f"{n}: pod MTU {m}, expected {expected}" for n, m in mtus.items() if m != expected]

    pairs = [(s, d) for s in ips for d in ips if s != d]
    reached = _parallel(lambda p: ping(p[0], ips[p[1]]), pairs)
    problems += [
        f"{s} -> {d} ({ips[d]}): no answer"
        for (s, d), ok in zip(pairs, reached, strict=True)
        if not ok
    ]

    attached = [n for n in names if n in ips]
    source, targets = (attached[0], tuple(attached[1:])) if attached else (None, ())
    size = expected - _ping_overhead(ips[source]) if expected and source else None
    passed, refused = _df_boundary(source, targets, ips, size, problems)
    figures = tuple(
        PodFigures(
            node=n,
            ip=ips.get(n),
            mtu=mtus.get(n),
            flannel_mtu=flannel_mtu(n),
            reached=sum(ok for (s, _), ok in zip(pairs, reached, strict=True) if s == n),
            tried=sum(s == n for s, _ in pairs),
        )
        for n in names
    )
    return CheckResult(
        pods=figures,
        reach_ok=sum(reached),
        reach_total=len(pairs),
        expected_mtu=expected,
        df_source=source,
        df_size=size,
        df_targets=targets if size is not None else (),
        df_passed=passed,
        df_refused=refused,
        problems=tuple(problems),
    )


def _ping_overhead(ip: str) -> int:
    """IP + ICMP header bytes around a ping payload: 20 + 8 for IPv4, 40 + 8 for IPv6."""
    return 28 if ipaddress.ip_address(ip).version == 4 else 48


def _df_boundary(
    source: str | None,
    targets: tuple[str, ...],
    ips: dict[str, str],
    size: int | None,
    problems: list[str],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(targets the largest DF packet reached, targets that refused one byte more)."""
    if size is None or source is None or not targets:
        return (), ()
    fits = _parallel(lambda d: ping(source, ips[d], size, dont_fragment=True), targets)
    over = _parallel(lambda d: ping(source, ips[d], size + 1, dont_fragment=True), targets)
    problems += [
        f"DF {size} bytes {source} -> {d}: no answer (a link on the path has a smaller MTU)"
        for d, ok in zip(targets, fits, strict=True)
        if not ok
    ]
    problems += [
        f"DF {size + 1} bytes {source} -> {d}: answered (the pod MTU is above the expected)"
        for d, ok in zip(targets, over, strict=True)
        if ok
    ]
    passed = tuple(d for d, ok in zip(targets, fits, strict=True) if ok)
    refused = tuple(d for d, ok in zip(targets, over, strict=True) if not ok)
    return passed, refused
