"""``seccompx audit``: look for common weaknesses in a filter."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any, Dict, List

from . import EXIT_FAILURE, EXIT_OK
from ._input import add_source_options, heading, read_sources
from ._output import write_text


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "audit",
        help="look for common weaknesses in a filter",
        description="Check a seccomp program for missing architecture "
        "checks, foreign architectures or x32 syscalls reaching ALLOW, a "
        "default action of ALLOW, argument checks that socketcall or ipc "
        "bypass, and unreachable instructions.  Exits with status 1 when "
        "it finds anything.",
    )
    add_source_options(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list with one object per program",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    sources = read_sources(args)
    reports: List[Dict[str, Any]] = []
    total = 0
    for source in sources:
        findings = source.program.audit()
        total += len(findings)
        reports.append(
            {
                "source": source.label,
                "filter": source.position,
                "findings": [dataclasses.asdict(f) for f in findings],
            }
        )
        if not args.json:
            print(heading(source))
            for finding in findings:
                print(finding)
            if not findings:
                print("no findings")
    if args.json:
        write_text(json.dumps(reports, indent=2) + "\n")
    return EXIT_FAILURE if total else EXIT_OK
