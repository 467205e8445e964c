"""The program sources of the inspection subcommands.

``disasm``, ``simulate`` and ``audit`` take one of ``--bpf FILE``,
``--pid PID`` or ``--profile FILE``.
"""

from __future__ import annotations

import argparse
import errno
from typing import Any, Callable, List, NamedTuple, Optional

from .._errors import InvalidArgumentError, SeccompError
from ..program import Program, dump
from ._text import printable

# The largest pid_t, a signed 32-bit int.
PID_MAX = 2**31 - 1
# An upper bound on a filter's index in a task, not a prediction: the
# kernel sums at most 32768 instructions over a task's filters, plus 4 per
# filter (MAX_INSNS_PER_PATH in kernel/seccomp.c).  It counts each filter's
# eBPF form, which is never shorter than the classic program of at least
# one instruction, so no task has more than 6554 filters.
FILTER_INDEX_MAX = (32768 + 4) // 5 - 1
# Integer options longer than this are rejected before conversion, because
# 2**64 has 20 decimal digits and int() raises for strings of over 4300.
_MAX_INTEGER_CHARS = 100


def _short_repr(text: str) -> str:
    if len(text) > 40:
        return repr(text[:37]) + "..."
    return repr(text)


def parse_integer(text: str, base: int = 10) -> int:
    """Convert an option value to an int; raise ArgumentTypeError if invalid.

    ``base`` 0 also accepts 0x hex, 0o octal and 0b binary.
    """
    forms = "write decimal, 0x hex, 0o octal or 0b binary" if base == 0 else (
        "write a decimal number"
    )
    if len(text) > _MAX_INTEGER_CHARS:
        raise argparse.ArgumentTypeError(
            f"integer {_short_repr(text)} is too long: {len(text)} characters, "
            f"over {_MAX_INTEGER_CHARS}"
        )
    try:
        return int(text, base)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid integer {_short_repr(text)}: {forms}"
        ) from None


def integer_range(minimum: int, maximum: int) -> Callable[[str], int]:
    """Return an argparse ``type`` for decimal ints from minimum to maximum."""

    def parse(text: str) -> int:
        value = parse_integer(text)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(
                f"{value} is out of range: use {minimum} to {maximum}"
            )
        return value

    parse.__name__ = "integer"
    return parse


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
        type=integer_range(1, PID_MAX),
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
        type=integer_range(0, FILTER_INDEX_MAX),
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


def _read_bpf(path: str) -> Program:
    try:
        return Program.from_file(path)
    except OSError as error:
        if isinstance(error, SeccompError):
            raise
        # A missing or unreadable input file is invalid input (status 2).
        raise InvalidArgumentError(
            f"cannot read program {path!r}: {error.strerror or error}",
            error.errno or errno.EINVAL,
        ) from error


def read_sources(args: argparse.Namespace) -> List[Source]:
    """Return the programs the source options name, in order."""
    if args.filter is not None and args.pid is None:
        raise InvalidArgumentError("--filter needs --pid")
    if args.bpf is not None:
        return [Source(args.bpf, _read_bpf(args.bpf), None)]
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
    return printable(
        f"# {source.label}: {len(source.program)} instructions, architectures: {arches}"
    )
