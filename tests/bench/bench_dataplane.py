"""Dataplane benchmark: pod-to-pod throughput and latency per backend, side by side.

Run as root from a checkout: ``make bench-dataplane``, or
``python tests/bench/bench_dataplane.py [--seconds 3] [--pings 200] [--backends vxlan,...]``.
It prints a table and never asserts (timing on a shared machine is not a test); it exits 1
when a backend failed to converge or to carry traffic, after measuring the others.

The setup, and why it is the fair one. One routed lab (tests/lab: two underlay segments
joined by a router namespace), four nodes, two pairs measured for every backend:
- same segment: node1 -> node2, on-link on podnet-lab-br0;
- cross-segment: node1 -> the first node on segment b (node3), through podnet-lab-router.
Backends, one entry each in BACKENDS, applied in turn to the same lab by
``ansible-playbook site.yml -e podnet_net_conf=<file>``:
- vxlan: both pairs tunnelled (flannel.1);
- vxlan+DirectRouting: the same-segment pair routed directly over eth0, the cross-segment
  pair tunnelled, so each row compares with the plain vxlan row on the same pair;
- host-gw: its next hops must be on-link, and the planner refuses a fleet whose nodes sit on
  different segments, so it runs on a fleet of node1 and node2 only (a scratch inventory
  with a copy of the lease file, so both keep their subnets); its cross-segment row is n/a.
  Its same-segment row is then the same path as vxlan+DirectRouting's, measured again;
- wireguard: both pairs encrypted by wireguard-go (podnet_wireguard_userspace=true: this
  kernel may have no WireGuard, and the lab's nodes each have their own /run/wireguard).
After each backend's run the measured nodes' pods are detached and attached again (CNI DEL +
ADD), because a pod's MTU is fixed when it is attached.

Per pair: the path is the device the source node's kernel picks for the destination pod
(`ip route get`), so a backend that did not switch shows it; then a reachability ping;
iperf3 TCP, one stream, --repeat runs (median and range: two CPUs shared by everything make
single runs noisy) of --seconds with the first second omitted, server in the destination
pod's namespace (one test, then it exits; killed if still there), client in the source
pod's; then --pings pings at 10 ms, min/avg/p99/max.

The lab: if none is up, a routed one with 4 nodes is built and taken down at the end. If a
routed lab with at least 4 nodes is up, it is used, and afterwards re-converged with the
inventory's own net-conf.json (what `make lab` applies) and its pods re-attached where
there were pods. Any other lab is left alone and the benchmark stops.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "lab"))

import labkit  # noqa: E402
from labkit.layout import INVENTORY_DIR, LAB_DIR, SEGMENT_A, SEGMENT_B, Topology  # noqa: E402

PLAYBOOK_BIN = REPO / ".venv" / "bin" / "ansible-playbook"
WORK_DIR = LAB_DIR / "bench-dataplane"
BASE_NET_CONF = INVENTORY_DIR / "net-conf.json"
LAB_NODES = 4
IPERF_PORT = 5201
CAVEAT = (
    "caveat: these namespaces share one kernel and one CPU pool, so the figures show the "
    "relative per-packet cost of each backend, not a wire."
)


@dataclass(frozen=True, slots=True)
class Pair:
    """Two nodes whose pods are measured: node1 and a peer on the same or the other segment."""

    label: str
    src: str
    dst: str
    underlay: str  # how the nodes reach each other: "on-link", "through podnet-lab-router"


@dataclass(frozen=True, slots=True)
class Backend:
    """One row group: the net-conf Backend, extra variables, which pairs make sense."""

    name: str
    backend: Mapping[str, Any]
    extra_vars: Mapping[str, Any] = field(default_factory=dict)
    same_segment_only: bool = False  # host-gw: the fleet is segment a's two nodes
    note: str = ""


BACKENDS = (
    Backend("vxlan", {"Type": "vxlan"}),
    Backend("vxlan+DirectRouting", {"Type": "vxlan", "DirectRouting": True}),
    Backend(
        "host-gw",
        {"Type": "host-gw"},
        same_segment_only=True,
        note="host-gw: fleet = node1, node2 (segment a) only; its next hops must be on-link and"
        " the planner refuses node pairs across the router, so cross-segment is n/a",
    ),
    Backend(
        "wireguard",
        {"Type": "wireguard"},
        extra_vars={"podnet_wireguard_userspace": True},
        note="wireguard: userspace wireguard-go in each node (podnet_wireguard_userspace=true)",
    ),
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one pair measured, or why it was not measured."""

    path: str = ""
    gbits: float | None = None  # the median of --repeat runs
    gbits_range: tuple[float, float] | None = None
    ping_ms: tuple[float, float, float, float] | None = None  # min, avg, p99, max
    ping_loss: str = ""
    pod_mtu: int | None = None
    error: str = ""  # "failed: ..." or "n/a: ..."


# --- running things --------------------------------------------------------------------


def first_error_line(output: str) -> str:
    """The first line of the first error an ansible-playbook run printed.

    >>> first_error_line('ok: [a]\\nfatal: [a]: FAILED! => {"msg": "bad Type\\\\nmore"}\\n')
    'bad Type'
    >>> first_error_line("[ERROR]: couldn't resolve module/action 'x'\\nOrigin: y")
    "[ERROR]: couldn't resolve module/action 'x'"
    """
    marker = output.find("FAILED! => ")
    if marker >= 0:
        try:
            result, _ = json.JSONDecoder().raw_decode(output, marker + len("FAILED! => "))
        except json.JSONDecodeError:
            result = None
        if isinstance(result, dict) and result.get("msg"):
            msg = result["msg"]
            text = msg if isinstance(msg, str) else json.dumps(msg)
            return text.strip().splitlines()[0]
    for line in output.splitlines():
        if line.startswith(("[ERROR]", "ERROR!", "fatal:")):
            return line.strip()
    lines = [line for line in output.splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


def run_site(
    net_conf: Path | None, extra_vars: Mapping[str, Any], inventory: Path | None
) -> tuple[bool, str, float]:
    """ansible-playbook site.yml from the checkout: (ok, first error line or "", seconds)."""
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    env["PATH"] = f"{PLAYBOOK_BIN.parent}:{env.get('PATH', '')}"
    argv = [str(PLAYBOOK_BIN), "site.yml"]
    argv += ["-i", str(inventory)] if inventory else []
    argv += ["-e", f"podnet_net_conf={net_conf}"] if net_conf else []
    argv += ["-e", json.dumps(dict(extra_vars))] if extra_vars else []
    started = time.monotonic()
    proc = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, check=False, timeout=1800
    )
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        return False, first_error_line(output), seconds
    return True, "", seconds


def write_net_conf(backend: Backend) -> Path:
    """The inventory's net-conf.json with this Backend, as an absolute path under WORK_DIR."""
    conf = json.loads(BASE_NET_CONF.read_text())
    conf["Backend"] = dict(backend.backend)
    path = WORK_DIR / f"net-conf-{re.sub(r'[^a-z0-9]+', '-', backend.name.lower())}.json"
    path.write_text(json.dumps(conf, indent=2) + "\n")
    return path


def write_segment_a_inventory(names: Sequence[str]) -> Path:
    """A scratch inventory of `names` only, the lab's group variables inlined, and a copy
    of the lease file (so the nodes keep their subnets and the lab's file is untouched)."""
    hosts = yaml.safe_load((INVENTORY_DIR / "hosts.yml").read_text())
    group = hosts["podnet_nodes"]
    group["hosts"] = {name: None for name in names}
    group_vars = yaml.safe_load((INVENTORY_DIR / "group_vars" / "podnet_nodes.yml").read_text())
    group_vars.pop("podnet_net_conf", None)  # given with -e
    leases = Path(group_vars["podnet_lease_file"])
    copy = WORK_DIR / "leases-segment-a.yml"
    if leases.exists():
        shutil.copyfile(leases, copy)
    group_vars["podnet_lease_file"] = str(copy)
    group.setdefault("vars", {}).update(group_vars)
    path = WORK_DIR / "inventory-segment-a.yml"
    path.write_text(yaml.safe_dump(hosts))
    return path


def reattach(names: Sequence[str]) -> dict[str, str]:
    """CNI DEL + ADD on each node: the new pod gets the backend's MTU. Returns pod IPs."""
    ips = {}
    for name in names:
        labkit.detach_pod(name)
        ips[name] = labkit.attach_pod(name)
    return ips


def pod_netns(name: str) -> str:
    return str(labkit.node(name).pod_netns_path)


# --- measuring -------------------------------------------------------------------------


def route_path(src: str, dst_ip: str) -> str:
    """The device the source node routes the destination pod through, and what it is."""
    out = labkit.node_run(src, ["ip", "-j", "route", "get", dst_ip]).stdout
    dev = str(json.loads(out)[0].get("dev", "?"))
    kind = {"eth0": "direct", "flannel-wg": "wireguard"}.get(dev)
    if kind is None:
        kind = "vxlan" if dev.startswith("flannel.") else "?"
    return f"{dev} ({kind})"


@contextmanager
def iperf3_server(dst: str) -> Iterator[None]:
    """A one-test iperf3 server in the destination pod; killed on the way out if still up."""
    server = subprocess.Popen(
        ["nsenter", f"--net={pod_netns(dst)}", "--", "iperf3", "-s", "-1", "-p", str(IPERF_PORT)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        listen = ["nsenter", f"--net={pod_netns(dst)}", "--", "ss", "-Hltn"]
        while f":{IPERF_PORT} " not in _stdout(listen) and time.monotonic() < deadline:
            if server.poll() is not None:
                raise RuntimeError(f"iperf3 server in {dst}'s pod exited {server.returncode}")
            time.sleep(0.05)
        yield
    finally:
        if server.poll() is None:
            server.terminate()
            try:
                server.wait(timeout=3)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _stdout(argv: Sequence[str]) -> str:
    return subprocess.run(argv, capture_output=True, text=True, check=False).stdout


def measure_throughput(src: str, dst: str, dst_ip: str, seconds: int) -> float:
    """TCP Gbit/s received, one stream, the first second omitted (slow start)."""
    with iperf3_server(dst):
        client = ["iperf3", "-c", dst_ip, "-p", str(IPERF_PORT), "-t", str(seconds), "-O", "1"]
        proc = subprocess.run(
            ["nsenter", f"--net={pod_netns(src)}", "--", *client, "-J"],
            capture_output=True,
            text=True,
            check=False,
            timeout=seconds + 30,
        )
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise RuntimeError(f"iperf3 printed no JSON: {proc.stderr.strip()[:200]}") from None
    if "error" in report:
        raise RuntimeError(f"iperf3: {report['error']}")
    return float(report["end"]["sum_received"]["bits_per_second"]) / 1e9


def measure_ping(src: str, dst_ip: str, count: int) -> tuple[tuple[float, ...], str]:
    """(min, avg, p99, max) ms and the loss as "received/sent", pings every 10 ms."""
    argv = ["ping", "-n", "-c", str(count), "-i", "0.01", "-W", "1", dst_ip]
    out = labkit.pod_run(src, argv, check=False).stdout
    times = sorted(float(t) for t in re.findall(r"time=([0-9.]+) ms", out))
    if not times:
        raise RuntimeError(f"no ping answered from {src}'s pod to {dst_ip}")
    p99 = times[max(0, math.ceil(0.99 * len(times)) - 1)]
    return (times[0], sum(times) / len(times), p99, times[-1]), f"{len(times)}/{count}"


def measure_pair(pair: Pair, ips: Mapping[str, str], args: argparse.Namespace) -> Figures:
    dst_ip = ips[pair.dst]
    path = route_path(pair.src, dst_ip)
    mtu = labkit.pod_mtu(pair.src)
    if not labkit.ping(pair.src, dst_ip, count=3):
        error = f"failed: {pair.src}'s pod gets no answer from {pair.dst}'s pod {dst_ip}"
        return Figures(path=path, pod_mtu=mtu, error=error)
    runs = [
        measure_throughput(pair.src, pair.dst, dst_ip, args.seconds) for _ in range(args.repeat)
    ]
    ping_ms, loss = measure_ping(pair.src, dst_ip, args.pings)
    return Figures(
        path,
        statistics.median(runs),
        (min(runs), max(runs)),
        (ping_ms[0], ping_ms[1], ping_ms[2], ping_ms[3]),
        loss,
        mtu,
    )


def measure_backend(
    backend: Backend, pairs: Sequence[Pair], segment_a: Sequence[str], args: argparse.Namespace
) -> dict[str, Figures]:
    """Converge the lab to `backend`, re-attach the pods, measure each pair."""
    inventory = write_segment_a_inventory(segment_a) if backend.same_segment_only else None
    ok, error, seconds = run_site(write_net_conf(backend), backend.extra_vars, inventory)
    print(f"  {backend.name}: site.yml {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
    wanted = [p for p in pairs if not backend.same_segment_only or p.dst in segment_a]
    results = {p.label: Figures(error="n/a: next hop not on-link") for p in pairs}
    if not ok:
        return results | {p.label: Figures(error=f"failed: {error}") for p in wanted}
    try:
        ips = reattach(sorted({n for p in wanted for n in (p.src, p.dst)}))
    except labkit.LabError as err:
        first = str(err).splitlines()[0]
        return results | {p.label: Figures(error=f"failed: {first}") for p in wanted}
    for pair in wanted:
        try:
            results[pair.label] = measure_pair(pair, ips, args)
        except (RuntimeError, labkit.LabError, subprocess.TimeoutExpired) as err:
            results[pair.label] = Figures(error=f"failed: {str(err).splitlines()[0]}")
    return results


# --- the table -------------------------------------------------------------------------


def render_table(results: Mapping[str, Mapping[str, Figures]], pairs: Sequence[Pair]) -> list[str]:
    """One row per backend and pair; throughput also as a ratio to vxlan on the same pair."""
    header = ("backend", "pair", "path", "Gbit/s", "range", "vs vxlan",
              "ping ms min/avg/p99/max", "replies", "pod MTU")  # fmt: skip
    rows: list[tuple[str, ...]] = [header]
    for name, by_pair in results.items():
        for pair in pairs:
            fig = by_pair[pair.label]
            if fig.error:
                rows.append((name, pair.label, fig.path or "-", fig.error))
                continue
            base = results.get("vxlan", {}).get(pair.label)
            ratio = f"{fig.gbits / base.gbits:.2f}x" if base and base.gbits and fig.gbits else "-"
            ping = "/".join(f"{v:.3f}" for v in fig.ping_ms) if fig.ping_ms else "-"
            gbits = f"{fig.gbits:.2f}" if fig.gbits is not None else "-"
            spread = "{:.2f}-{:.2f}".format(*fig.gbits_range) if fig.gbits_range else "-"
            mtu = str(fig.pod_mtu or "-")
            rows.append(
                (name, pair.label, fig.path, gbits, spread, ratio, ping, fig.ping_loss, mtu)
            )
    # A failed row has 4 cells (the error spans the figures): the first 3 align with all.
    full = [r for r in rows if len(r) == len(header)]
    widths = [max(len(r[i]) for r in (rows if i < 3 else full)) for i in range(len(header))]
    lines = []
    for row in rows:
        cells = [c.ljust(w) for c, w in zip(row, widths, strict=False)]
        lines.append("  ".join(cells if len(row) == len(header) else [*cells[:3], row[3]]))
    return [line.rstrip() for line in lines]


# --- the lab ---------------------------------------------------------------------------


def take_lab() -> tuple[bool, dict[str, bool]]:
    """(built here, which nodes had pods) after making sure a suitable lab is up."""
    topology = labkit.current_topology()
    if topology is None:
        print(f"building a routed lab of {LAB_NODES} nodes (taken down at the end)", flush=True)
        labkit.fresh_lab(LAB_NODES, Topology.ROUTED)
        return True, {}
    names = labkit.node_names()
    if topology is not Topology.ROUTED or len(names) < LAB_NODES:
        raise SystemExit(
            f"bench-dataplane: the lab that is up is {topology} with {len(names)} nodes; it needs"
            f" a routed lab of {LAB_NODES} or more. Run `make lab TOPOLOGY=routed`, or"
            " `tests/lab/lab.py down --lab-only` and the benchmark builds (and removes) its own."
        )
    print(f"using the routed lab that is up ({len(names)} nodes; re-converged at the end)")
    return False, {name: labkit.read_pod(name) is not None for name in names}


def restore_lab(built: bool, had_pods: Mapping[str, bool]) -> bool:
    """Take down a lab built here; re-converge a found one. False if that failed."""
    if built:
        labkit.down()
        return True
    ok, error, _ = run_site(None, {}, None)
    if not ok:
        print(f"restore: site.yml with {BASE_NET_CONF} failed: {error}", file=sys.stderr)
    for name, had in had_pods.items():
        try:
            labkit.detach_pod(name)
            if had and ok:
                labkit.attach_pod(name)
        except labkit.LabError as err:
            print(f"restore: {name}'s pod: {err}", file=sys.stderr)
            ok = False
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    return ok


def choose_pairs() -> tuple[list[Pair], list[str]]:
    """node1 -> node2 (segment a) and node1 -> the first node on segment b."""
    placed = [labkit.node(n) for n in labkit.node_names()]
    on_a = [n.name for n in placed if n.segment == SEGMENT_A]
    on_b = [n.name for n in placed if n.segment == SEGMENT_B]
    pairs = [
        Pair("same segment", on_a[0], on_a[1], "on-link"),
        Pair("cross-segment", on_a[0], on_b[0], "through podnet-lab-router"),
    ]
    return pairs, on_a[:2]


def describe(pairs: Sequence[Pair], args: argparse.Namespace) -> list[str]:
    def where(name: str) -> str:
        each = labkit.node(name)
        return f"{name} {each.ip}"

    return [
        *(f"{p.label}: {where(p.src)} -> {where(p.dst)} ({p.underlay})" for p in pairs),
        f"per pair: iperf3 TCP, 1 stream, {args.repeat} runs of {args.seconds} s (first second"
        f" omitted; median and range shown); {args.pings} pings of 56 bytes every 10 ms",
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="iperf3 seconds per run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="iperf3 runs per pair; the median is shown"
    )
    parser.add_argument("--pings", type=int, default=200, help="pings per pair")
    names = [b.name for b in BACKENDS]
    parser.add_argument(
        "--backends", default=",".join(names), help=f"comma-separated, of {','.join(names)}"
    )
    args = parser.parse_args(argv)
    chosen = [b for b in BACKENDS if b.name in args.backends.split(",")]
    unknown = set(args.backends.split(",")) - set(names)
    if unknown or not chosen:
        parser.error(f"--backends: unknown {', '.join(sorted(unknown)) or '(none given)'}")
    if os.geteuid() != 0:
        raise SystemExit("bench-dataplane: needs root (the namespace lab)")
    missing = [t for t in ("iperf3", "ping", "ss", "nsenter") if shutil.which(t) is None]
    if missing:
        raise SystemExit(f"bench-dataplane: missing {', '.join(missing)}: make bootstrap")

    built, had_pods = take_lab()
    results: dict[str, dict[str, Figures]] = {}
    restored = False
    try:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        pairs, segment_a = choose_pairs()
        header = describe(pairs, args)
        print("\n".join(header), flush=True)
        for backend in chosen:
            results[backend.name] = measure_backend(backend, pairs, segment_a, args)
    finally:
        restored = restore_lab(built, had_pods)

    print()
    print("\n".join(render_table(results, pairs)))
    for note in [b.note for b in chosen if b.note]:
        print(f"note: {note}")
    print(CAVEAT)
    failed = [
        f"{name} {label}"
        for name, by_pair in results.items()
        for label, fig in by_pair.items()
        if fig.error.startswith("failed")
    ]
    if failed:
        print(f"FAILED: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed or not restored else 0


if __name__ == "__main__":
    sys.exit(main())
