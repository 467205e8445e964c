"""``seccompx dump``: read the seccomp filters of a running process."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

from .._disasm import listing, render
from ..program import _fallback_arch, dump
from ._input import PID_MAX, Source, heading, integer_range
from ._output import write_text
from ._text import printable


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dump",
        help="read the seccomp filters of a running process",
        description="Attach to a process with ptrace, read its seccomp "
        "filters (PTRACE_SECCOMP_GET_FILTER) and detach.  Prints each "
        "filter's listing in the order they were installed.  Needs "
        "CAP_SYS_ADMIN and the "
        "right to trace the process.",
    )
    parser.add_argument(
        "pid",
        type=integer_range(1, PID_MAX),
        metavar="PID",
        help="the process (or thread) id",
    )
    parser.add_argument(
        "--output",
        metavar="PREFIX",
        help="write filter N to the file PREFIX.N.bpf (raw struct "
        "sock_filter records) instead of printing listings",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="also print each instruction's opcode, jump offsets and constant in hex",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list with one object per filter, the program as hex",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    programs = dump(args.pid)
    sources = [
        Source(f"process {args.pid} filter {n}", p, n) for n, p in enumerate(programs)
    ]
    if args.output is not None:
        for source in sources:
            path = f"{args.output}.{source.position}.bpf"
            with open(path, "wb") as file:
                file.write(bytes(source.program))
            print(printable(f"{path}: {len(source.program)} instructions"))
    if args.json:
        objects: List[Dict[str, Any]] = [
            {
                "filter": s.position,
                "instructions": len(s.program),
                "arches": [str(a) for a in s.program.arches],
                "bpf": bytes(s.program).hex(),
            }
            for s in sources
        ]
        write_text(json.dumps(objects, indent=2) + "\n")
        return 0
    if args.output is not None:
        return 0
    if not sources:
        print(f"process {args.pid} has no seccomp filters")
        return 0
    blocks = [
        heading(s)
        + "\n"
        + render(listing(s.program._analysis(), _fallback_arch(None)), raw=args.raw)
        for s in sources
    ]
    write_text("\n".join(blocks))
    return 0
