"""``seccompx trace``: learn a profile from one run of a program.

The program runs with every syscall sent to a seccomp listener and let
through (SECCOMP_USER_NOTIF_FLAG_CONTINUE), children included.  The
syscalls it made become an OCI profile that allows exactly those and fails
every other one with EPERM.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from typing import Any, Dict, List

from .. import notify
from .._errors import SeccompError
from . import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from ._output import write_text
from ._output_file import output_problem, write_output
from ._text import printable


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "trace",
        help="run a program and write a profile of the syscalls it made",
        description="Run COMMAND with every syscall (its own and its "
        "children's) notified to seccompx and allowed, then write an OCI "
        "seccomp profile that allows exactly the syscalls it made; other "
        "syscalls fail with EPERM.  The profile covers the paths this run "
        "took: run the program as it will run in use.  no_new_privs is "
        "set, so set-user-ID programs run without their privileges.",
        epilog="Example: seccompx trace -o ls.json -- ls -l /.  Exit "
        "status: 0 when COMMAND exited with 0, 1 when it failed or was "
        "killed (the profile is written all the same), 2 for invalid usage "
        "or a COMMAND that cannot be run.",
    )
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="PROFILE",
        help="file to write the profile to ('-' for standard output)",
    )
    parser.add_argument(
        # Not "command": main() reads args.command as the subcommand name.
        "program",
        nargs=argparse.REMAINDER,
        metavar="COMMAND",
        help="the program and its arguments, after '--'",
    )
    parser.set_defaults(func=run)


def describe_returncode(returncode: int) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"was killed by {name}"
    return f"exited with status {returncode}"


def write_profile(profile: Dict[str, Any], output: str) -> None:
    text = json.dumps(profile, indent=2) + "\n"
    if output == "-":
        write_text(text)
        return
    write_output(output, text.encode())


def _error(message: str) -> None:
    print(printable(f"seccompx trace: error: {message}"), file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    command: List[str] = list(args.program)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        _error(
            "no COMMAND given; usage: seccompx trace -o PROFILE -- COMMAND [ARG...]"
        )
        return EXIT_USAGE
    problem = output_problem(args.output)
    if problem is not None:
        _error(f"cannot write the profile: {problem}")
        return EXIT_USAGE

    try:
        result = notify.trace(command)
    except OSError as error:
        if error.strerror is None or isinstance(error, SeccompError):
            raise
        _error(f"cannot run {command[0]!r}: {error.strerror}")
        return EXIT_USAGE

    try:
        write_profile(result.to_profile(), args.output)
    except OSError as error:
        _error(
            f"cannot write the profile to -o {args.output!r}: "
            f"{error.strerror or error}"
        )
        return EXIT_FAILURE
    print_summary(command, result, args.output)
    return EXIT_OK if result.returncode == 0 else EXIT_FAILURE


def print_summary(command: List[str], result: notify.Trace, output: str) -> None:
    """Print what the trace recorded, and how the program ended, to stderr."""
    arches = ", ".join(str(arch) for arch in result.syscalls) or "none"
    where = "standard output" if output == "-" else output
    print(
        printable(
            f"seccompx trace: {command[0]} made {len(result.names)} distinct "
            f"syscalls (architectures: {arches}); wrote the profile to {where}"
        ),
        file=sys.stderr,
    )
    for arch, numbers in sorted(result.unknown.items()):
        listed = ", ".join(str(number) for number in sorted(numbers))
        print(
            f"seccompx trace: warning: syscall numbers {listed} on {arch} "
            "have no name in this libseccomp and are not in the profile",
            file=sys.stderr,
        )
    if result.returncode != 0:
        print(
            printable(
                f"seccompx trace: {os.path.basename(command[0])} "
                f"{describe_returncode(result.returncode)}; the profile "
                "covers that run"
            ),
            file=sys.stderr,
        )
