"""``seccompx demo``: the starting scenario, run for real.

A child process is restricted to read, write, exit and exit_group.  It
prints a line, then tries to run a shell command.  With the default action
KILL_PROCESS the kernel kills it with SIGSYS at ``execve``; with
``ERRNO(EPERM)`` the ``execve`` fails with EPERM and the child goes on.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from typing import Any, List

from .._actions import ERRNO, KILL_PROCESS, Action
from .._filter import Filter

ALLOWED = ("read", "write", "exit", "exit_group")
SHELL_COMMAND = ["/bin/sh", "-c", "echo this line never appears"]
# The child's exit codes.
EXIT_EXEC_FAILED = 3
EXIT_EXEC_RETURNED = 4


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the starting scenario in child processes",
        description="Restrict a child to read, write, exit and exit_group, "
        "let it print a line, then have it run a shell command: once with "
        "default action KILL_PROCESS (killed by SIGSYS) and once with "
        "ERRNO(EPERM) (execve fails with EPERM).",
    )
    parser.add_argument(
        "--no-pfc",
        dest="pfc",
        action="store_false",
        help="do not print each filter as PFC text",
    )
    parser.set_defaults(func=run)


def build_filter(default: Action) -> Filter:
    """The demo's filter: allow read, write, exit and exit_group only."""
    f = Filter(default=default)
    f.allow(*ALLOWED)
    return f


def child(f: Filter, out: int) -> None:
    """Load ``f``, print a line, then try to exec a shell.  Never returns.

    After ``load()`` only the allowed syscalls work, so the child writes
    with ``os.write`` and leaves with ``os._exit``.
    """
    code = EXIT_EXEC_RETURNED
    try:
        f.load()
        os.write(out, b"  child: filter loaded; this line is written with write(2)\n")
        try:
            os.execv(SHELL_COMMAND[0], SHELL_COMMAND)
        except OSError as error:
            os.write(
                out,
                f"  child: execve({SHELL_COMMAND[0]!r}) failed: "
                f"{errno.errorcode.get(error.errno or 0, error.errno)} "
                f"({error.strerror})\n".encode(),
            )
            code = EXIT_EXEC_FAILED
    finally:
        os._exit(code)


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        return f"was killed by signal {number} ({signal.Signals(number).name})"
    code = os.WEXITSTATUS(status)
    if code == EXIT_EXEC_FAILED:
        return f"exited with status {code}: execve was refused and the child went on"
    return f"exited with status {code}"


def run_case(default: Action, show_pfc: bool) -> int:
    """Run one child under the demo filter; return its wait status."""
    f = build_filter(default)
    print(f"default action {default!r}: allow {', '.join(ALLOWED)}")
    if show_pfc:
        print(f.export_pfc())
    if sys.stdout is None:  # started with standard output closed
        out = -1
    else:
        sys.stdout.flush()
        out = sys.stdout.fileno()
    pid = os.fork()
    if pid == 0:
        # Descriptor 1 may belong to another file when stdout is None.
        child(f, out if out >= 0 else os.open(os.devnull, os.O_WRONLY))
    f.close()
    _, status = os.waitpid(pid, 0)
    print(f"  parent: the child {describe(status)}")
    return status


def run(args: argparse.Namespace) -> int:
    results: List[bool] = []
    status = run_case(KILL_PROCESS, args.pfc)
    results.append(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS)
    print()
    status = run_case(ERRNO(errno.EPERM), args.pfc)
    results.append(
        os.WIFEXITED(status) and os.WEXITSTATUS(status) == EXIT_EXEC_FAILED
    )
    if all(results):
        print("\nBoth children ended as the filters require.")
        return 0
    print("\nUnexpected outcome: see the lines above.", file=sys.stderr)
    return 1
