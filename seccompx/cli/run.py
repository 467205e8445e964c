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
import warnings
from types import FrameType
from typing import (
    Any,
    Callable,
    Container,
    Dict,
    List,
    Mapping,
    Optional,
    Tuple,
)

from .._actions import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    KILL_THREAD,
    LOG,
    TRAP,
    Action,
    ActionKind,
)
from .._errors import (
    InvalidArgumentError,
    SandboxError,
    SeccompError,
    UnknownSyscallError,
    UnmatchableRuleWarning,
    unknown_syscall,
)
from .._filter import Filter
from .. import groups
from ..profile import read_file

EXIT_SECCOMPX_FAILED = 125
EXIT_CANNOT_EXECUTE = 126
EXIT_NOT_FOUND = 127

# The NOTIFY warning names at most this many syscalls.
_NOTIFY_NAMES_SHOWN = 8

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
        "--default; --allow, --deny and --kill set the action for the "
        "syscalls they name, in place of what the profile or the default "
        "action does with them.  The filter must allow execve and what the "
        "program needs to start.  No supervisor responds to NOTIFY rules, "
        "so the syscalls they match fail with ENOSYS, with a warning.",
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
    # Not "command": the top-level parser stores the subcommand's name
    # there, and the error prefix reads it.
    parser.add_argument(
        "program",
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
    # The errno keeps its case, so that an error message shows it as given.
    name, _, value = text.strip().partition(":")
    if name.lower() == "errno":
        return ERRNO(_errno_value(value or "EPERM"))
    raise InvalidArgumentError(
        f"unknown action {text!r}: use kill-process, kill-thread, trap, "
        "log, allow, errno or errno:NAME|NUMBER"
    )


def _errno_value(text: str) -> int:
    if text.isdigit():
        return int(text)
    if text.startswith("-") and text[1:].isdigit():
        raise InvalidArgumentError(
            f"errno {text} is out of range: use a number from 0 to 4094 or a "
            "name such as EPERM"
        )
    number = getattr(errno, text.upper(), None)
    if not isinstance(number, int):
        raise InvalidArgumentError(
            f"unknown errno name {text!r}: use a name from the errno "
            "module, such as EPERM, or a number"
        )
    return number


def _names(option: str, values: List[str]) -> List[str]:
    """Split the comma-separated syscall names given to ``option``."""
    names = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                raise InvalidArgumentError(
                    f"{option} {value!r} contains an empty syscall name: "
                    "give one or more names separated by commas, such as "
                    "read,write"
                )
            if name.startswith("@"):
                raise InvalidArgumentError(
                    f"{option} {name!r} names a syscall group, but {option} "
                    "takes syscall names only; list the syscalls, or use a "
                    "profile, where an entry's names may include groups"
                )
            names.append(name)
    return names


def _overrides(args: argparse.Namespace) -> Dict[str, Tuple[str, Action]]:
    """Map each syscall of --allow, --deny and --kill to its option and
    action.  Raise InvalidArgumentError if two options name one syscall."""
    chosen: Dict[str, Tuple[str, Action]] = {}
    for option, values, action in (
        ("--allow", args.allow, ALLOW),
        ("--deny", args.deny, ERRNO(errno.EPERM)),
        ("--kill", args.kill, KILL_PROCESS),
    ):
        for name in _names(option, values):
            earlier = chosen.setdefault(name, (option, action))[0]
            if earlier != option:
                raise InvalidArgumentError(
                    f"syscall {name!r} is given to both {earlier} and "
                    f"{option}; give each syscall to one of them"
                )
    return chosen


def _strip_entry(
    entry: Dict[str, Any], names: Container[str]
) -> Optional[Dict[str, Any]]:
    """Return a profile entry without ``names``, or None if none remain.

    A group such as ``@basic-io`` that contains one of ``names`` is
    replaced with its other members.  Malformed parts stay as they are,
    for Filter.from_profile to report.
    """
    single = entry.get("name")
    if isinstance(single, str) and "names" not in entry:
        return None if single in names else entry
    listed = entry.get("names")
    if not isinstance(listed, list):
        return entry
    remaining: List[Any] = []
    for name in listed:
        if isinstance(name, str) and groups.is_group_name(name):
            try:
                members = groups.expand(name)
            except InvalidArgumentError:
                members = ()
            if any(member in names for member in members):
                remaining += [m for m in members if m not in names]
                continue
        if name not in names:
            remaining.append(name)
    return {**entry, "names": remaining} if remaining else None


def _profile_without(data: Any, names: Container[str]) -> Any:
    """Return a copy of parsed profile JSON whose ``syscalls`` entries no
    longer name ``names``, so that only the command-line rules apply to
    them."""
    if not isinstance(data, dict):
        return data
    linux = data.get("linux")
    if "defaultAction" not in data and isinstance(linux, dict):
        seccomp = linux.get("seccomp")
        if isinstance(seccomp, dict):
            stripped = _profile_without(seccomp, names)
            return {**data, "linux": {**linux, "seccomp": stripped}}
        return data
    entries = data.get("syscalls")
    if not isinstance(entries, list):
        return data
    remaining = []
    for entry in entries:
        if isinstance(entry, dict):
            entry = _strip_entry(entry, names)
        if entry is not None:
            remaining.append(entry)
    return {**data, "syscalls": remaining}


def _profile_filter(path: str, names: Mapping[str, object]) -> Filter:
    if not names:
        return Filter.from_profile(path)
    # Building the profile as written first reports its errors with the
    # JSON paths of the file, which dropping entries would shift.
    Filter.from_profile(path).close()
    return Filter.from_profile(_profile_without(read_file(path), names))


def _add_overrides(
    f: Filter, overrides: Dict[str, Tuple[str, Action]]
) -> None:
    default = f.default_action
    for name, (option, action) in overrides.items():
        if groups.syscall_number(name, 0) is None:
            raise unknown_syscall(name, str(f.arches[0]))
        tokens = [int(arch) for arch in f.arches]
        if not any(groups.syscall_exists(name, token) for token in tokens):
            arches = ", ".join(str(arch) for arch in f.arches)
            raise UnknownSyscallError(
                f"syscall {name!r} does not exist on the filter's "
                f"architectures ({arches}), so {option} {name} would change "
                "nothing; check the name against syscalls(2)",
                syscall=name,
                arch=f.arches[0],
            )
        if action == default:
            # The profile's rules for the syscall are gone, so the default
            # action already applies, and libseccomp rejects such a rule.
            continue
        with warnings.catch_warnings():
            # A syscall that exists on only some of a profile's
            # architectures gets the rule there, as in Filter.from_profile.
            warnings.simplefilter("ignore", UnmatchableRuleWarning)
            f.add_rule(action, name)


def build_filter(args: argparse.Namespace) -> Filter:
    """Build the filter from --profile or --default and the rule options.

    --allow, --deny and --kill replace the profile's rules for the
    syscalls they name.  An option whose action is the filter's default
    action adds no rule.
    """
    overrides = _overrides(args)
    if args.profile is not None:
        if args.default is not None:
            raise InvalidArgumentError(
                "--default cannot be used with --profile: the profile sets "
                "the default action"
            )
        f = _profile_filter(args.profile, overrides)
    else:
        f = Filter(default=parse_action(args.default or "kill-process"))
    try:
        _add_overrides(f, overrides)
    except BaseException:
        f.close()
        raise
    return f


def _notified_syscalls(f: Filter) -> List[str]:
    """Return the syscalls that ``f``'s rules give the NOTIFY action, each
    marked when argument conditions limit its rule."""
    names: List[str] = []
    for entry in f.to_profile()["syscalls"]:
        if entry["action"] != "SCMP_ACT_NOTIFY":
            continue
        suffix = " (for some arguments)" if entry.get("args") else ""
        names.extend(f"{name}{suffix}" for name in entry["names"])
    return names


def notify_warning(f: Filter) -> Optional[str]:
    """Return the warning for a filter that returns NOTIFY, or None.

    ``seccompx run`` loads the filter without a notification listener, so
    the kernel fails every notified syscall with ENOSYS.
    """
    if not f._has_notify_action():
        return None
    names = _notified_syscalls(f)
    if len(names) > _NOTIFY_NAMES_SHOWN:
        names_shown = ", ".join(names[:_NOTIFY_NAMES_SHOWN])
        names_shown += f" and {len(names) - _NOTIFY_NAMES_SHOWN} more"
    elif len(names) > 1:
        names_shown = ", ".join(names[:-1]) + " and " + names[-1]
    else:
        names_shown = "".join(names)
    if f.default_action.kind is ActionKind.NOTIFY:
        targets = "every syscall that no rule matches"
        if names:
            targets += f", and for {names_shown}"
    else:
        targets = names_shown
    message = (
        f"seccompx run: warning: the filter returns NOTIFY for {targets}. "
        "seccompx run starts no supervisor to respond to notifications, so "
        "these syscalls fail with ENOSYS (Function not implemented)."
    )
    report = f.profile_report
    if report is not None and report.listener_path:
        message += (
            " It does not send the listener to the profile's listenerPath "
            f"{report.listener_path!r} either."
        )
    return message + (
        " To serve the notifications, start the program from Python with "
        "seccompx.notify.Supervisor(handler).spawn(argv, filter)."
    )


def _command(args: argparse.Namespace) -> List[str]:
    command = list(args.program)
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
    f: Optional[Filter] = None
    try:
        f = build_filter(args)
        warning = notify_warning(f)
        if warning is not None:
            print(warning, file=sys.stderr, flush=True)
            if f.compile().simulate("execve").kind is ActionKind.NOTIFY:
                raise SandboxError(
                    "the filter returns NOTIFY for execve, and with no "
                    "supervisor the kernel fails it with ENOSYS, so no "
                    "program can start under it; allow execve",
                    errno.ENOSYS,
                )
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
    finally:
        if f is not None:
            f.close()
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
