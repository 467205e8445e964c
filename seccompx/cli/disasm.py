"""``seccompx disasm``: print a seccomp program as a readable listing."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

from .._disasm import listing, render
from ..program import _fallback_arch
from ._input import Source, add_source_options, heading, read_sources
from ._output import write_text


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "disasm",
        help="print a seccomp program as a readable listing",
        description="Print each instruction of a seccomp program on one "
        "numbered line, with syscall numbers named for the architecture "
        "checked on the path to them, seccomp_data loads named, and "
        "architecture checks and the x32 guard labelled.",
    )
    add_source_options(parser)
    parser.add_argument(
        "--arch",
        metavar="ARCH",
        help="name syscalls for ARCH where no architecture check decides "
        "(default: the native architecture)",
    )
    parser.add_argument(
        "--raw",
        action="store_true",
        help="also print each instruction's opcode, jump offsets and constant in hex",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print a JSON list with one object per program",
    )
    parser.set_defaults(func=run)


def describe(source: Source, arch: Any) -> Dict[str, Any]:
    """Return the listing of one program as a JSON-ready object."""
    program = source.program
    lines = listing(program._analysis(), _fallback_arch(arch))
    return {
        "source": source.label,
        "filter": source.position,
        "instructions": len(program),
        "arches": [str(a) for a in program.arches],
        "lines": [line.as_dict() for line in lines],
    }


def run(args: argparse.Namespace) -> int:
    sources = read_sources(args)
    if args.json:
        objects = [describe(s, args.arch) for s in sources]
        write_text(json.dumps(objects, indent=2) + "\n")
        return 0
    blocks: List[str] = []
    for source in sources:
        text = render(
            listing(source.program._analysis(), _fallback_arch(args.arch)),
            raw=args.raw,
        )
        blocks.append(heading(source) + "\n" + text)
    write_text("\n".join(blocks))
    return 0
