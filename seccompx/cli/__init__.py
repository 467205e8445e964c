"""The ``seccompx`` command line.

Each subcommand lives in a module of this package that defines
``add_parser(subparsers)``; the parser it adds sets ``func`` to a function
that takes the parsed arguments and returns the exit status.

Exit status: 0 success, 1 the command ran and reports a failure or
findings, 2 invalid usage or input (one line on stderr says what to fix),
141 the reader closed standard output (128 + SIGPIPE, as a shell reports a
command that SIGPIPE ended).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any, List, NoReturn, Optional, Sequence, Tuple

from .._errors import SeccompError

# Module names of the subcommands, in the order --help lists them.
COMMANDS = (
    "demo", "info", "bench", "check", "convert", "trace",
    "disasm", "simulate", "audit", "dump", "run",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
# 128 + SIGPIPE: the status a shell shows for a command killed by SIGPIPE.
EXIT_BROKEN_PIPE = 141

EXIT_STATUS_HELP = (
    "Exit status: 0 success, 1 failure or findings, 2 invalid usage or input."
)


def _version_text() -> str:
    """Return the text of ``seccompx --version``."""
    from .. import __version__, libseccomp_build_version, libseccomp_version

    def dotted(version: Any) -> str:
        return ".".join(str(part) for part in version)

    return (
        f"seccompx {__version__} (libseccomp {dotted(libseccomp_version())}, "
        f"built against {dotted(libseccomp_build_version())})"
    )


class ArgumentParser(argparse.ArgumentParser):
    """An argument parser that reports a usage error in one line on stderr.

    Subcommand parsers are of this class too, because add_subparsers()
    creates them with the class of their parent.
    """

    # Set on subcommand parsers, which then report unrecognized arguments
    # themselves, so that the message names the subcommand.
    subcommand = False
    # Set by subcommands that take options between and after their
    # positional arguments, as parse_intermixed_args() does.
    intermixed = False
    _parsing = False

    def error(self, message: str) -> NoReturn:
        self.exit(
            EXIT_USAGE, f"{self.prog}: error: {message}; see '{self.prog} --help'\n"
        )

    def parse_known_args(  # type: ignore[override]
        self, args: Optional[Sequence[str]] = None, namespace: Any = None
    ) -> Tuple[argparse.Namespace, List[str]]:
        if self._parsing:
            # parse_known_intermixed_args() calls back here for each pass.
            return super().parse_known_args(args, namespace)
        self._parsing = True
        try:
            if self.intermixed:
                parsed, extras = self.parse_known_intermixed_args(args, namespace)
            else:
                parsed, extras = super().parse_known_args(args, namespace)
        finally:
            self._parsing = False
        if extras and self.subcommand:
            self.error("unrecognized arguments: " + " ".join(extras))
        return parsed, extras


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="seccompx",
        description="Build, inspect, load and benchmark seccomp-BPF filters.",
        epilog=EXIT_STATUS_HELP,
    )
    parser.add_argument(
        "--version",
        action="version",
        version=_version_text(),
        help="print the versions of seccompx and libseccomp, then exit",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".{name}", __name__)
        module.add_parser(subparsers)
        subparsers.choices[name].subcommand = True
        # Subcommands with exit statuses of their own (run) document them.
        if subparsers.choices[name].epilog is None:
            subparsers.choices[name].epilog = EXIT_STATUS_HELP
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    try:
        try:
            return _run(argv)
        finally:
            # Flush here, also before argparse's SystemExit, so that a
            # closed pipe is seen now and not at interpreter exit.  A None
            # stdout (started with descriptor 1 closed) drops all output.
            if sys.stdout is not None:
                sys.stdout.flush()
    except BrokenPipeError:
        return _stdout_closed()


def _run(argv: Optional[List[str]]) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except BrokenPipeError:
        raise  # main() handles it; it is not an error of the command
    except MemoryError:
        print(
            f"seccompx {args.command}: error: out of memory; the input may "
            "be too large",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except SeccompError as error:
        print(f"seccompx {args.command}: error: {error}", file=sys.stderr)
        # Errors about the input are also ValueErrors (InvalidArgumentError,
        # ProfileError); the others report a failure of the work itself.
        return EXIT_USAGE if isinstance(error, ValueError) else EXIT_FAILURE
    except OSError as error:
        print(f"seccompx {args.command}: error: {error}", file=sys.stderr)
        return EXIT_FAILURE


def _stdout_closed() -> int:
    """Point stdout at /dev/null after the reader closed it; return 141.

    Python flushes stdout again at exit, which would print "Exception
    ignored" with a second BrokenPipeError.  The data still buffered goes
    to /dev/null instead.
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return EXIT_BROKEN_PIPE  # not a real file, such as a test capture
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)
    return EXIT_BROKEN_PIPE
