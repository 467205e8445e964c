"""``seccompx bench``: filter-load latency and per-syscall cost."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List

from .. import bench
from . import EXIT_FAILURE, EXIT_OK
from .._errors import InvalidArgumentError
from ._input import parse_integer

DEFAULT_SAMPLES = 100
DEFAULT_ITERATIONS = 10000
# Upper bounds that keep a run finite: every sample is a forked child, and
# at about 100 ns per call the largest sample takes about a second.
MAX_SAMPLES = 10000
MAX_ITERATIONS = 10_000_000
DEFAULT_SYSCALL = "getppid"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "bench",
        help="measure filter build, compile and load times",
        description="Measure how long seccompx takes to build, compile and "
        "load a filter, and what the loaded filter adds to each syscall. "
        "Every sample runs in a freshly forked child.  Filter stages are "
        "reported in microseconds (us), the per-syscall cost in nanoseconds "
        "(ns) per call, each as median, 10th and 90th percentile.",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument(
        "--policy",
        choices=bench.POLICY_NAMES + ("all",),
        default="all",
        help="built-in policy to measure (default: all)",
    )
    target.add_argument(
        "--profile",
        metavar="FILE",
        help="measure an OCI or Docker seccomp profile (JSON) instead",
    )
    parser.add_argument(
        "--samples",
        type=parse_integer,
        default=DEFAULT_SAMPLES,
        metavar="N",
        help=f"forked children per stage, 1 to {MAX_SAMPLES} (default: "
        f"{DEFAULT_SAMPLES})",
    )
    parser.add_argument(
        "--syscall",
        choices=tuple(bench.SYSCALLS),
        default=DEFAULT_SYSCALL,
        metavar="NAME",
        help="syscall the per-syscall loop calls (default: "
        f"{DEFAULT_SYSCALL}; one of {', '.join(bench.SYSCALLS)})",
    )
    parser.add_argument(
        "--iterations",
        type=parse_integer,
        default=DEFAULT_ITERATIONS,
        metavar="N",
        help=f"calls per per-syscall sample, {bench.SYSCALL_CHUNKS} to "
        f"{MAX_ITERATIONS}, made in {bench.SYSCALL_CHUNKS} chunks (default: "
        f"{DEFAULT_ITERATIONS})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _targets(args: argparse.Namespace) -> List[bench.Target]:
    if args.profile is not None:
        return [bench.profile_target(args.profile)]
    names = bench.POLICY_NAMES if args.policy == "all" else (args.policy,)
    return [bench.policy_target(bench.policy(name)) for name in names]


def _check_count(option: str, value: int, minimum: int, maximum: int) -> None:
    if not minimum <= value <= maximum:
        raise InvalidArgumentError(
            f"{option} {value} is out of range: use {minimum} to {maximum}"
        )


def run(args: argparse.Namespace) -> int:
    _check_count("--samples", args.samples, 1, MAX_SAMPLES)
    # Each chunk of the per-syscall loop makes at least one call.
    _check_count("--iterations", args.iterations, bench.SYSCALL_CHUNKS, MAX_ITERATIONS)
    targets = _targets(args)
    try:
        report = bench.run(
            targets,
            samples=args.samples,
            syscall=args.syscall,
            iterations=args.iterations,
        )
    except bench.BenchmarkError as error:
        print(f"seccompx bench: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
    return EXIT_OK


def _micro() -> str:
    """Return the microsecond symbol, or "u" where stdout cannot encode it."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "\u00b5".encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return "u"
    return "\u00b5"


def format_report(report: Dict[str, Any]) -> str:
    """Render a :func:`seccompx.bench.run` report as text tables."""
    machine = report["machine"]
    lines = [
        f"seccompx {report['seccompx']} bench: {report['samples']} samples "
        "per stage, each in a freshly forked child",
        f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}, Linux "
        f"{machine['kernel']}, libseccomp {machine['libseccomp']}, "
        f"{machine['python']}",
        f"warm-up: {report['warmup']}",
        "",
    ]
    lines += _stage_table(report["targets"])
    lines.append("")
    lines += _syscall_table(report)
    return "\n".join(lines)


def _cell(summary: Dict[str, Any]) -> str:
    return f"{summary['median']:9.1f} {summary['p10']:9.1f} {summary['p90']:9.1f}"


def _stage_table(targets: List[Dict[str, Any]]) -> List[str]:
    unit = _micro() + "s"
    width = max([len(target["name"]) for target in targets] + [6])
    lines = [
        f"Filter stages, {unit} per filter:",
        f"{'policy':<{width}} {'rules':>5} {'insns':>5}  {'stage':<16} "
        f"{'median ' + unit:>9} {'p10 ' + unit:>9} {'p90 ' + unit:>9}",
    ]
    for target in targets:
        head = (
            f"{target['name']:<{width}} {target['rules']:>5} "
            f"{target['instructions']:>5}"
        )
        for stage in bench.STAGES:
            lines.append(f"{head}  {stage:<16} {_cell(target['stages'][stage])}")
            head = " " * len(head)
    return lines


def _syscall_table(report: Dict[str, Any]) -> List[str]:
    syscall = report["syscall"]
    targets = report["targets"]
    width = max([len(target["name"]) for target in targets] + [6])
    lines = [
        f"Cost of {syscall['name']}, ns per call ({syscall['iterations']} "
        f"calls per sample in a C loop, fastest of {syscall['chunks']} "
        "chunks):",
        f"{'policy':<{width}}  {'filter':<10} {'median ns':>9} {'p10 ns':>9} "
        f"{'p90 ns':>9}",
    ]
    added = []
    for target in targets:
        cost = target["syscall_cost"]
        head = f"{target['name']:<{width}}"
        for label in ("unfiltered", "filtered", "overhead"):
            lines.append(f"{head}  {label:<10} {_cell(cost[label])}")
            head = " " * width
        if cost["rule_added"]:
            added.append(target["name"])
    if added:
        lines.append(
            f"An ALLOW rule for {syscall['name']} was added to "
            f"{', '.join(added)} for this stage only, because the policy "
            "does not allow it."
        )
    return lines
