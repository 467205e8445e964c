"""Measure the cost of seccompx.sandbox against its unsandboxed baselines.

Run from the repository root::

    .venv/bin/python benchmarks/bench_sandbox.py [--samples N] [--json]

Four pairs of cases, each sample timed from the call to the reaped child:

* ``sandbox.spawn(["/bin/true"]).wait()`` against
  ``subprocess.run(["/bin/true"])``;
* ``sandbox.run(noop)`` against a bare ``os.fork()`` whose child calls
  ``os._exit(0)`` and whose parent waits for it;
* one ``Executor.submit(noop).result()`` round trip against the same with
  ``concurrent.futures.ProcessPoolExecutor`` (fork start method), both
  with warm workers.

The filter allows everything except ``socket``, so the numbers show the
mechanism's cost, not the cost of a long filter.  The cases of a pair take
turns call by call, the first of each turn alternating, so that a drift in
machine speed affects both alike.  The
output is a Markdown table of medians and 10th/90th percentiles in
microseconds; ``--json`` prints the raw numbers and the table as one JSON
object whose ``ratio`` is the median of spawn divided by the median of
subprocess.run.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import seccompx  # noqa: E402
from seccompx import sandbox  # noqa: E402

TRUE = "/bin/true"


def noop() -> None:
    return None


def make_filter() -> seccompx.Filter:
    f = seccompx.Filter(default=seccompx.ALLOW)
    f.add_rule(seccompx.KILL_PROCESS, "socket")
    return f


def bare_fork() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def time_calls(call: Callable[[], Any], count: int) -> List[float]:
    """Return the duration of ``count`` calls, in microseconds each."""
    samples = []
    for _ in range(count):
        start = time.perf_counter_ns()
        call()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return samples


def interleave(
    cases: Sequence[Tuple[str, Callable[[], Any]]], samples: int
) -> Dict[str, List[float]]:
    """Sample the cases in turns, one call each, after one warm-up call.

    Each turn starts with the next case, so that no case always runs right
    after the same other one.
    """
    order = list(cases)
    results: Dict[str, List[float]] = {name: [] for name, _ in order}
    for _, call in order:
        call()
    for turn in range(samples):
        start = turn % len(order)
        for name, call in order[start:] + order[:start]:
            results[name] += time_calls(call, 1)
    return results


def summary(values: List[float]) -> Dict[str, float]:
    deciles = statistics.quantiles(values, n=10)
    return {
        "samples": len(values),
        "median": statistics.median(values),
        "p10": deciles[0],
        "p90": deciles[-1],
    }


def measure(samples: int) -> Dict[str, Dict[str, float]]:
    f = make_filter()
    program = f.compile()
    results: Dict[str, List[float]] = {}
    results.update(
        interleave(
            [
                (
                    "sandbox.spawn(/bin/true)",
                    lambda: sandbox.spawn([TRUE], filter=program).wait(),
                ),
                ("subprocess.run(/bin/true)", lambda: subprocess.run([TRUE])),
            ],
            samples,
        )
    )
    results.update(
        interleave(
            [
                (
                    "sandbox.run(noop)",
                    lambda: sandbox.run(noop, filter=program),
                ),
                ("os.fork() + waitpid", bare_fork),
            ],
            samples,
        )
    )
    context = multiprocessing.get_context("fork")
    with (
        sandbox.Executor(1, filter=program) as ours,
        concurrent.futures.ProcessPoolExecutor(
            1, mp_context=context
        ) as theirs,
    ):
        results.update(
            interleave(
                [
                    (
                        "Executor.submit(noop).result()",
                        lambda: ours.submit(noop).result(),
                    ),
                    (
                        "ProcessPoolExecutor.submit(noop).result()",
                        lambda: theirs.submit(noop).result(),
                    ),
                ],
                samples,
            )
        )
    return {name: summary(values) for name, values in results.items()}


PAIRS = [
    ("sandbox.spawn(/bin/true)", "subprocess.run(/bin/true)"),
    ("sandbox.run(noop)", "os.fork() + waitpid"),
    (
        "Executor.submit(noop).result()",
        "ProcessPoolExecutor.submit(noop).result()",
    ),
]


def markdown(stats: Dict[str, Dict[str, float]]) -> str:
    lines = [
        f"Python {platform.python_version()}, Linux {platform.release()}, "
        f"{os.cpu_count()} CPUs; µs per call, each from the call to the "
        "reaped child or the returned result.",
        "",
        "| case | samples | median | p10 | p90 | median / baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for ours, baseline in PAIRS:
        for name in (ours, baseline):
            row = stats[name]
            ratio = (
                f"{row['median'] / stats[baseline]['median']:.2f}×"
                if name == ours
                else "baseline"
            )
            lines.append(
                f"| `{name}` | {row['samples']} | {row['median']:.0f} | "
                f"{row['p10']:.0f} | {row['p90']:.0f} | {ratio} |"
            )
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--samples",
        type=int,
        default=600,
        help="samples per case (default: 600)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object"
    )
    args = parser.parse_args(argv)
    if args.samples < 2:
        parser.error("--samples must be at least 2")
    stats = measure(args.samples)
    table = markdown(stats)
    if args.json:
        ratio = stats[PAIRS[0][0]]["median"] / stats[PAIRS[0][1]]["median"]
        print(
            json.dumps(
                {"ratio": ratio, "cases": stats, "markdown": table}, indent=2
            )
        )
    else:
        print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
