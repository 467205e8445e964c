"""``seccompx run``: run a program under a seccomp filter.

Exit status: the program's own exit status, or 128+N when signal N ended
it (159 for SIGSYS, the signal of a forbidden syscall).  seccompx itself
exits with 125 when it failed (an invalid filter, or a filter that forbids
execve), 126 when the program was found but could not be executed, and
127 when it was not found.  Invalid usage that argparse catches exits
with 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from types import FrameType
from typing import Any, Callable, Dict, List, Optional

from .._actions import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    KILL_THREAD,
    LOG,
    TRAP,
    Action,
)
from .._errors import InvalidArgumentError, SeccompError
from .._filter import Filter

EXIT_SECCOMPX_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127

_ACTIONS: Dict[str, Action] = {
    "kill-process": KILL_PROCESS,
    "kill": KILL_PROCESS,
    "kill-thread": KILL_THREAD,
    "trap": TRAP,
    "log": LOG,
    "allow": ALLOW,
}


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a program under a seccomp filter",
        description="Run COMMAND with a seccomp filter loaded just before "
        "execve.  The filter comes from --profile, or starts from "
        "--default; --allow, --deny and --kill add rules to either.  The "
        "filter must allow execve and what the program needs to start.",
        epilog="Exit status: the program's own; 128+N when signal N ended "
        "it (159 for SIGSYS, a forbidden syscall); 125 when seccompx "
        "failed; 126 when the program could not be executed; 127 when it "
        "was not found.",
    )
    parser.add_argument(
        "--profile",
        metavar="PROFILE",
        help="build the filter from an OCI or Docker seccomp profile (JSON)",
    )
    parser.add_argument(
        "--default",
        metavar="ACTION",
        help="the action for syscalls no rule matches, without --profile: "
        "kill-process (the default), kill-thread, trap, log, allow, errno "
        "(EPERM) or errno:NAME|NUMBER, such as errno:EACCES",
    )
    parser.add_argument(
        "--allow",
        action="append",
        default=[],
        metavar="NAMES",
        help="allow these syscalls, comma-separated; may be repeated",
    )
    parser.add_argument(
        "--deny",
        action="append",
        default=[],
        metavar="NAMES",
        help="fail these syscalls with EPERM, comma-separated",
    )
    parser.add_argument(
        "--kill",
        action="append",
        default=[],
        metavar="NAMES",
        help="kill the process on these syscalls, comma-separated",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        metavar="-- COMMAND",
        help="the program and its arguments, after --",
    )
    parser.set_defaults(func=run)


def parse_action(text: str) -> Action:
    """Parse ``kill-process``, ``errno:EACCES`` or ``errno:13``."""
    key = text.strip().lower().replace("_", "-")
    if key in _ACTIONS:
        return _ACTIONS[key]
    name, _, value = key.partition(":")
    if name == "errno":
        return ERRNO(_errno_value(value or "EPERM"))
    raise InvalidArgumentError(
        f"unknown action {text!r}: use kill-process, kill-thread, trap, "
        "log, allow, errno or errno:NAME|NUMBER"
    )


def _errno_value(text: str) -> int:
    if text.isdigit():
        return int(text)
    number = getattr(errno, text.upper(), None)
    if not isinstance(number, int):
        raise InvalidArgumentError(
            f"unknown errno name {text!r}: use a name from the errno "
            "module, such as EPERM, or a number"
        )
    return number


def _names(values: List[str]) -> List[str]:
    return [
        name.strip()
        for value in values
        for name in value.split(",")
        if name.strip()
    ]


def build_filter(args: argparse.Namespace) -> Filter:
    """Build the filter from --profile or --default and the rule options."""
    if args.profile is not None:
        if args.default is not None:
            raise InvalidArgumentError(
                "--default cannot be used with --profile: the profile sets "
                "the default action"
            )
        f = Filter.from_profile(args.profile)
    else:
        f = Filter(default=parse_action(args.default or "kill-process"))
    for names, action in (
        (_names(args.allow), ALLOW),
        (_names(args.deny), ERRNO(errno.EPERM)),
        (_names(args.kill), KILL_PROCESS),
    ):
        for name in names:
            f.add_rule(action, name, strict=True)
    return f


def _command(args: argparse.Namespace) -> List[str]:
    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    return command


def _forwarding(pid: int) -> Dict[int, Any]:
    """Pass SIGTERM and SIGHUP on to the program; ignore SIGINT and SIGQUIT,
    which the terminal already sends to the program.  Returns the old
    handlers."""

    def forward(signo: int, frame: Optional[FrameType]) -> None:
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass

    def ignore(signo: int, frame: Optional[FrameType]) -> None:
        pass

    handlers: Dict[int, Callable[[int, Optional[FrameType]], None]] = {
        signal.SIGTERM: forward,
        signal.SIGHUP: forward,
        signal.SIGINT: ignore,
        signal.SIGQUIT: ignore,
    }
    return {
        signo: signal.signal(signo, handler)
        for signo, handler in handlers.items()
    }


def _report_signal(program: str, signo: int) -> None:
    try:
        name = signal.Signals(signo).name
    except ValueError:
        name = f"signal {signo}"
    if signo == signal.SIGSYS:
        print(
            f"seccompx run: {program} was killed by SIGSYS: it made a "
            "syscall that the filter forbids",
            file=sys.stderr,
        )
    else:
        print(f"seccompx run: {program} was killed by {name}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from ..sandbox import spawn

    command = _command(args)
    if not command:
        print(
            "seccompx run: error: no command given after --", file=sys.stderr
        )
        return EXIT_SECCOMPX_FAILED
    try:
        f = build_filter(args)
        process = spawn(command, filter=f)
    except FileNotFoundError as error:
        print(f"seccompx run: {command[0]}: {error.strerror}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except SeccompError as error:
        print(f"seccompx run: error: {error}", file=sys.stderr)
        return EXIT_SECCOMPX_FAILED
    except OSError as error:
        print(f"seccompx run: {command[0]}: {error.strerror}", file=sys.stderr)
        return EXIT_CANNOT_EXECUTE
    previous = _forwarding(process.pid)
    try:
        returncode = process.wait()
    finally:
        for signo, handler in previous.items():
            signal.signal(signo, handler)
    if returncode < 0:
        _report_signal(command[0], -returncode)
        return 128 - returncode
    return returncode
