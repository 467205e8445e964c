"""The program sources of the inspection subcommands.

``disasm``, ``simulate`` and ``audit`` take one of ``--bpf FILE``,
``--pid PID`` or ``--profile FILE``.
"""

from __future__ import annotations

import argparse
from typing import Any, List, NamedTuple, Optional

from .._errors import InvalidArgumentError, SeccompError
from ..program import Program, dump


class Source(NamedTuple):
    """A program and where it came from, for headings and JSON."""

    label: str
    program: Program
    # Position in the process's filter list (0 was installed first).
    position: Optional[int]


class NoFiltersError(SeccompError):
    """The process given with --pid has no seccomp filters."""


def add_source_options(parser: Any) -> None:
    """Add --bpf, --pid, --profile and --filter to a subcommand."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument(
        "--bpf",
        metavar="FILE",
        help="read the program from FILE: raw struct sock_filter records, "
        "8 bytes each in native byte order (the format of "
        "Filter.export_bpf_to and 'seccompx dump --output')",
    )
    group.add_argument(
        "--pid",
        type=int,
        metavar="PID",
        help="read the filters of process PID with ptrace (needs "
        "CAP_SYS_ADMIN and the right to trace PID)",
    )
    group.add_argument(
        "--profile",
        metavar="FILE",
        help="compile an OCI or Docker seccomp profile (JSON) for the "
        "native architecture",
    )
    parser.add_argument(
        "--filter",
        type=int,
        metavar="N",
        help="with --pid, use only filter N, where 0 is the filter "
        "installed first (default: every filter)",
    )


def _from_profile(path: str) -> Program:
    from .._filter import Filter

    from_profile = getattr(Filter, "from_profile", None)
    if from_profile is None:
        raise InvalidArgumentError(
            "--profile is not available: this seccompx has no profile "
            "support; compile the profile elsewhere and pass --bpf"
        )
    with from_profile(path) as built:
        program: Program = built.compile()
    return program


def read_sources(args: argparse.Namespace) -> List[Source]:
    """Return the programs the source options name, in order."""
    if args.filter is not None and args.pid is None:
        raise InvalidArgumentError("--filter needs --pid")
    if args.bpf is not None:
        return [Source(args.bpf, Program.from_file(args.bpf), None)]
    if args.profile is not None:
        return [Source(f"profile {args.profile}", _from_profile(args.profile), None)]
    programs = dump(args.pid)
    if not programs:
        raise NoFiltersError(f"process {args.pid} has no seccomp filters")
    sources = [
        Source(f"process {args.pid} filter {position}", program, position)
        for position, program in enumerate(programs)
    ]
    if args.filter is None:
        return sources
    if not 0 <= args.filter < len(sources):
        raise InvalidArgumentError(
            f"--filter {args.filter} is out of range: process {args.pid} "
            f"has filters 0 to {len(sources) - 1}"
        )
    return [sources[args.filter]]


def heading(source: Source) -> str:
    """Return one line naming a program, its size and architectures."""
    arches = ", ".join(str(arch) for arch in source.program.arches) or "none checked"
    return (
        f"# {source.label}: {len(source.program)} instructions, architectures: {arches}"
    )
