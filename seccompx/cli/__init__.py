"""The ``seccompx`` command line.

Each subcommand lives in a module of this package that defines
``add_parser(subparsers)``; the parser it adds sets ``func`` to a function
that takes the parsed arguments and returns the exit status.

Exit status: 0 success, 1 the command ran and reports a failure or
findings, 2 invalid usage or input (one line on stderr says what to fix).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import List, NoReturn, Optional

from .._errors import SeccompError

# Module names of the subcommands, in the order --help lists them.
COMMANDS = (
    "demo", "info", "bench", "check", "convert", "trace",
    "disasm", "simulate", "audit", "dump", "run",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

EXIT_STATUS_HELP = (
    "Exit status: 0 success, 1 failure or findings, 2 invalid usage or input."
)


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser that reports a usage error in one line on stderr.

    Subcommand parsers are of this class too, because add_subparsers()
    creates them with the class of their parent.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n"
        )


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="seccompx",
        description="Build, inspect, load and benchmark seccomp-BPF filters.",
        epilog=EXIT_STATUS_HELP,
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        module.add_parser(subparsers)
        # Subcommands with exit statuses of their own (run) document them.
        if subparsers.choices[name].epilog is None:
            subparsers.choices[name].epilog = EXIT_STATUS_HELP
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except SeccompError as error:
        print(f"seccompx {args.command}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as error:
        print(f"seccompx {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE
