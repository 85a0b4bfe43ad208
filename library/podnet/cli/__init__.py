"""The `podnet` command: plan a fleet and render a node's files.

Exit status: 0 on success, 2 when the input is invalid (every problem is printed
on stderr and nothing is written), 1 when a file cannot be written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TypeVar

from .. import __version__
from ..config import parse_net_conf
from ..errors import ValidationError
from ..fields import read_cidrs
from ..leases import Lease, parse_leases
from ..plan import FleetPlan
from ..render import render_cni_conflist, render_kubeadm, render_net_conf, render_subnet_env
from ..validate import plan_validated
from .files import lease_lock, load_json, load_yaml, render_lease_file, write_atomically
from .output import render_json, render_table

EXIT_INVALID = 2
EXIT_WRITE_FAILED = 1
RENDERED_FILES = ("subnet-env", "cni", "net-conf", "kubeadm")
_T = TypeVar("_T")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        return int(args.run(args))
    except ValidationError as error:
        for problem in error.problems:
            print(f"podnet: error: {problem}", file=sys.stderr)
        return EXIT_INVALID
    except OSError as error:
        print(f"podnet: error: {error}", file=sys.stderr)
        return EXIT_WRITE_FAILED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="podnet", description="Plan a flannel-compatible pod network for a whole fleet."
    )
    parser.add_argument("--version", action="version", version=f"podnet {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="allocate every node's subnet and the pod MTU")
    _add_inputs(plan)
    plan.add_argument(
        "--write-leases",
        action="store_true",
        help="record the allocation in the --leases file (atomically; created if missing)",
    )
    plan.add_argument("--format", choices=("table", "json"), default="table")
    plan.set_defaults(run=_run_plan)

    render = commands.add_parser("render", help="print one node's file")
    render.add_argument("file", choices=RENDERED_FILES, help="which file to print")
    _add_inputs(render)
    render.add_argument("--node", help="the node (needed for subnet-env and cni)")
    render.add_argument("--cni-mode", choices=("bridge", "flannel"), default="bridge")
    render.add_argument(
        "--no-ip-masq",
        dest="ip_masq",
        action="store_false",
        help="the host does not masquerade pod traffic (FLANNEL_IPMASQ=false)",
    )
    render.set_defaults(run=_run_render)
    return parser


def _add_inputs(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--net-conf", type=Path, required=True, help="flannel's net-conf.json")
    parser.add_argument("--nodes", type=Path, required=True, help="YAML list of nodes")
    parser.add_argument("--leases", type=Path, help="the lease file (YAML: node -> subnet)")
    parser.add_argument(
        "--service-cidr",
        action="append",
        default=[],
        metavar="CIDR",
        help="the cluster's service range (repeat for dual-stack); must not overlap the pods",
    )


def _plan(args: argparse.Namespace, *, creating_leases: bool = False) -> FleetPlan:
    """Read every input, collect every problem, and plan; raises ValidationError."""
    problems: list[str] = []
    conf = _collect(
        problems, lambda: parse_net_conf(_mapping(load_json(args.net_conf, "--net-conf")))
    )
    raw_nodes = _collect(problems, lambda: _node_list(load_yaml(args.nodes, "--nodes")))
    leases: dict[str, Lease] | None = {}
    if args.leases is not None and not (creating_leases and not args.leases.exists()):
        leases = _collect(problems, lambda: parse_leases(load_yaml(args.leases, "--leases")))
    services = read_cidrs(args.service_cidr, "--service-cidr", problems)
    if raw_nodes is None or leases is None:
        raise ValidationError(problems)
    # The same pass as site.yml's: every node and the fleet checked, every problem at once.
    return plan_validated(conf, raw_nodes, problems, leases=leases, service_cidrs=services)


def _node_list(raw: object) -> list[object]:
    if not isinstance(raw, list):
        raise ValidationError(
            [f"nodes: {type(raw).__name__} given; a list of node mappings is needed"]
        )
    return raw


def _collect(problems: list[str], read: Callable[[], _T]) -> _T | None:
    """Run one reader, adding its problems to the list instead of stopping at the first file."""
    try:
        return read()
    except ValidationError as error:
        problems.extend(error.problems)
        return None


def _mapping(raw: object) -> dict[str, object]:
    if not isinstance(raw, dict):
        raise ValidationError([f"--net-conf: {type(raw).__name__} given; a JSON object is needed"])
    return raw


def _run_plan(args: argparse.Namespace) -> int:
    if args.write_leases and args.leases is None:
        raise ValidationError(["--write-leases: needs --leases FILE to say where to record them"])
    # With --write-leases, read, plan and write under the lease lock, as site.yml does.
    with lease_lock(args.leases) if args.write_leases else nullcontext():
        plan = _plan(args, creating_leases=args.write_leases)
        written = args.write_leases and write_atomically(
            args.leases, render_lease_file(plan.leases())
        )
    if args.format == "json":
        sys.stdout.write(render_json(plan))
    else:
        for warning in plan.warnings:
            print(f"podnet: warning: {warning}", file=sys.stderr)
        sys.stdout.write(render_table(plan))
    if written:
        print(f"podnet: wrote {args.leases}", file=sys.stderr)
    return 0


def _run_render(args: argparse.Namespace) -> int:
    plan = _plan(args)
    if args.file == "net-conf":
        text = render_net_conf(plan.net_conf)
    elif args.file == "kubeadm":
        text = render_kubeadm(plan)
    else:
        if args.node is None:
            raise ValidationError([f"--node: needed to render {args.file}; name a node of --nodes"])
        try:
            plan.node(args.node)
        except KeyError as error:
            raise ValidationError([f"--node: {error.args[0]}"]) from None
        if args.file == "subnet-env":
            text = render_subnet_env(plan, args.node, ip_masq=args.ip_masq)
        else:
            text = render_cni_conflist(plan, args.node, mode=args.cni_mode, ip_masq=args.ip_masq)
    sys.stdout.write(text)
    return 0
