"""Turning what a dead child left behind into exceptions."""

from __future__ import annotations

import errno as _errno
import os
import signal
from typing import (
    Any,
    Dict,
    Optional,
    Tuple,
    Union,
)

from .. import _sandbox
from .._errors import (
    InvalidArgumentError,
    SandboxError,
    SandboxViolation,
    UnknownSyscallError,
)
from .._bpfcode import is_allowing
from .._filter import syscall_name
from .._types import Arch
from ._program import _describe_action, _Prepared
from ._protocol import (
    _STAGE_EXITING,
    _STAGE_NAMES,
    _STAGE_SENDING,
    _STAGE_WAITING,
    EXECUTOR_TRANSPORT_SYSCALLS,
)


def _arch_of(token: int) -> Union[Arch, int]:
    try:
        return Arch(token)
    except ValueError:
        return token


def _name_of(number: int, arch: Union[Arch, int]) -> Optional[str]:
    if not isinstance(arch, Arch):
        return None
    try:
        return syscall_name(number, arch)
    except (UnknownSyscallError, InvalidArgumentError):
        return None


def _status_text(status: int) -> str:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = "unknown"
        return f"was killed by signal {number} ({name})"
    return f"exited with status {os.WEXITSTATUS(status)}"


def _violation_from_record(
    record: Dict[str, Any], prepared: _Prepared, child_name: str
) -> SandboxError:
    """Build the error for a SIGSYS that the handler recorded."""
    stage = _STAGE_NAMES.get(record["stage"], "running")
    if record["si_code"] != _sandbox.SYS_SECCOMP:
        return SandboxError(
            f"{child_name} received SIGSYS (si_code {record['si_code']}) from "
            f"another source than its filter, while {stage}",
            _errno.EINTR,
        )
    number = record["nr"]
    arch = _arch_of(record["arch"])
    name = _name_of(number, arch)
    args: Tuple[int, ...] = tuple(record["args"])
    action = _sandbox.evaluate(
        prepared.original, number, record["arch"], record["ip"], args
    )
    shown_args = ", ".join(f"{value:#x}" for value in args) or "unknown"
    called = f"{name} ({number})" if name else f"syscall {number}"
    if (
        name == "rt_sigaction"
        and args[:1] == (int(signal.SIGSYS),)
        and is_allowing(action)
    ):
        # The sandbox's own guard trapped it, not the user's filter.
        message = (
            f"{child_name} called rt_sigaction(SIGSYS, ...) on {arch} while "
            f"{stage}; the filter allows it, but with report='trap' the "
            "sandbox traps every change to the SIGSYS handler, because its "
            "own handler reports violations; use report='kill' to let the "
            "callable install a SIGSYS handler"
        )
    else:
        message = (
            f"{child_name} called {called} on {arch} with arguments "
            f"({shown_args}) while {stage}; the filter returns "
            f"{_describe_action(action)} for it"
        )
    if record["count"] > 1:
        message += f" ({record['count']} SIGSYS signals arrived in all)"
    violation = SandboxViolation(
        message,
        syscall=name,
        number=number,
        arch=arch,
        args=args,
        signal=int(signal.SIGSYS),
    )
    transport = name in EXECUTOR_TRANSPORT_SYSCALLS
    if transport and record["stage"] in (
        _STAGE_SENDING,
        _STAGE_EXITING,
        _STAGE_WAITING,
    ):
        error = SandboxError(
            f"the filter forbids {name}, which the sandbox needs to send "
            f"results back after loading it: {message}. Allow "
            + ", ".join(EXECUTOR_TRANSPORT_SYSCALLS),
            _errno.EPERM,
        )
        error.__cause__ = violation
        return error
    return violation


def _death_error(
    record: Optional[Dict[str, Any]],
    status: Optional[int],
    stage: int,
    prepared: _Prepared,
    child_name: str,
) -> SandboxError:
    """Build the error for a child that ended without sending a result."""
    if record is not None:
        return _violation_from_record(record, prepared, child_name)
    stage_text = _STAGE_NAMES.get(stage, "running")
    if status is None:
        return SandboxError(
            f"{child_name} ended while {stage_text}, and its exit status "
            "is not available",
            _errno.ECHILD,
        )
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS:
        if prepared.report == "kill":
            hint = (
                "the kernel killed it for a syscall that the filter "
                "forbids, and it does not tell the parent which one; "
                "use report='trap' (the default) to have the child "
                "name it"
            )
        else:
            hint = (
                "no syscall was recorded, so the sandbox's SIGSYS handler "
                "did not run.  Most likely the forbidden syscall was made "
                "while the thread blocked all signals, which glibc and "
                "CPython do around fork, vfork and thread creation (clone, "
                "clone3, vfork); the kernel then kills instead of "
                "delivering SIGSYS.  Another process may also have sent "
                "SIGSYS"
            )
        return SandboxViolation(
            f"{child_name} was killed by SIGSYS while {stage_text}: {hint}",
            signal=int(signal.SIGSYS),
        )
    return SandboxError(
        f"{child_name} {_status_text(status)} while {stage_text}, without "
        "sending a result",
        _errno.ECHILD,
    )
