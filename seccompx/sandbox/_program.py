"""Preparing a filter for a sandboxed child: the BPF, its load flags, and
the copy that traps instead of killing."""

from __future__ import annotations

import errno as _errno
import signal
import struct
import sys
from dataclasses import dataclass
from typing import (
    List,
    Sequence,
    Tuple,
)

from .. import _bpf, _sandbox
from .._actions import TRAP, Action, ActionKind
from .._errors import (
    InvalidArgumentError,
    ProgramError,
    SandboxError,
)
from .._filter import Filter, resolve_syscall
from .._types import Arch
from ._protocol import _REPORT_MODES, FilterLike

_INSN = struct.Struct("=HBBI")
_MAX_INSNS = 4096

# Classic BPF opcodes (linux/filter.h).
_LD_W_ABS = 0x20
_LD_IMM = 0x00
_JMP_JA = 0x05
_JMP_JEQ_K = 0x15
_ALU_AND_K = 0x54
_RET_K = 0x06
_RET_A = 0x16
_MISC_TAX = 0x07
_MISC_TXA = 0x87

# Offsets into struct seccomp_data.
_DATA_NR = 0
_DATA_ARCH = 4
_DATA_ARG0_LOW = 16 if sys.byteorder == "little" else 20

_ACTION_MASK = 0xFFFF0000
# Action kinds that do not end the process.  The kernel treats every other
# value, including unknown ones, as SECCOMP_RET_KILL_PROCESS.
_SURVIVING_KINDS = (
    int(ActionKind.ALLOW),
    int(ActionKind.LOG),
    int(ActionKind.TRACE),
    int(ActionKind.NOTIFY),
    int(ActionKind.ERRNO),
    int(ActionKind.TRAP),
)
# Kinds that let the syscall itself run (TRACE and NOTIFY may).
_RUNNING_KINDS = (
    int(ActionKind.ALLOW),
    int(ActionKind.LOG),
    int(ActionKind.TRACE),
    int(ActionKind.NOTIFY),
)


@dataclass(frozen=True)
class _Prepared:
    """A filter ready to load in a child."""

    program: bytes  # what the child loads
    original: bytes  # the caller's program, to name its actions in reports
    flags: int
    no_new_privs: bool
    report: str


def _program_of(filter: FilterLike) -> Tuple[bytes, int, bool]:
    """Return the BPF, the seccomp(2) flags and the no_new_privs setting."""
    flags = _sandbox.FLAG_TSYNC
    if isinstance(filter, Filter):
        if filter.log:
            flags |= _sandbox.FLAG_LOG
        if filter.ssb:
            flags |= _sandbox.FLAG_SPEC_ALLOW
        return filter.export_bpf(), flags, filter.no_new_privs
    if isinstance(filter, (bytes, bytearray, memoryview)):
        data = bytes(filter)
    elif hasattr(type(filter), "__bytes__"):
        data = bytes(filter)
    else:
        raise TypeError(
            "filter must be a seccompx.Filter, a seccompx.Program or BPF "
            f"bytes, not {type(filter).__name__}"
        )
    if (
        not data
        or len(data) % _INSN.size
        or len(data) // _INSN.size > _MAX_INSNS
    ):
        raise ProgramError(
            f"a BPF program of {len(data)} bytes is invalid: it must contain "
            f"1 to {_MAX_INSNS} instructions of {_INSN.size} bytes each"
        )
    return data, flags, True


def _is_killing(value: int) -> bool:
    return (value & _ACTION_MASK) not in _SURVIVING_KINDS


def _ret_a_stub() -> List[Tuple[int, int, int, int]]:
    """Instructions that return A, or TRAP where A would kill.

    Every ``ret A`` of a program jumps here, because its value is known
    only at run time.
    """
    kinds = _SURVIVING_KINDS
    stub: List[Tuple[int, int, int, int]] = [
        (_MISC_TAX, 0, 0, 0),
        (_ALU_AND_K, 0, 0, _ACTION_MASK),
    ]
    for index, kind in enumerate(kinds):
        # Jump to the "txa" below when the kind survives.
        stub.append((_JMP_JEQ_K, len(kinds) - index, 0, kind))
    stub += [
        (_RET_K, 0, 0, int(TRAP)),
        (_MISC_TXA, 0, 0, 0),
        (_RET_A, 0, 0, 0),
    ]
    return stub


def _signal_guard() -> List[Tuple[int, int, int, int]]:
    """Instructions that trap ``rt_sigaction(SIGSYS, ...)``.

    They keep the sandbox's SIGSYS handler in place after the filter is
    loaded.  The last one restores A to 0, the value a program starts with.
    """
    # NOTE: only the native architecture is guarded; a filter that also
    # allows another one (i386 on x86_64) lets the handler be replaced
    # through that architecture's sigaction calls.
    native = int(Arch.native())
    number = resolve_syscall("rt_sigaction")
    return [
        (_LD_W_ABS, 0, 0, _DATA_ARCH),
        (_JMP_JEQ_K, 0, 5, native),
        (_LD_W_ABS, 0, 0, _DATA_NR),
        (_JMP_JEQ_K, 0, 3, number),
        (_LD_W_ABS, 0, 0, _DATA_ARG0_LOW),
        (_JMP_JEQ_K, 0, 1, int(signal.SIGSYS)),
        (_RET_K, 0, 0, int(TRAP)),
        (_LD_IMM, 0, 0, 0),
    ]


def _trap_program(program: bytes) -> bytes:
    """Copy a program with every killing action replaced by TRAP.

    Jumps in classic BPF are relative and go forward only, so the guard
    can go in front and the ``ret A`` stub at the end without changing any
    offset of the original instructions.
    """
    body = [list(insn) for insn in _INSN.iter_unpack(program)]
    stub_at = len(body)
    uses_ret_a = False
    for index, insn in enumerate(body):
        if insn[0] == _RET_K and _is_killing(insn[3]):
            insn[3] = int(TRAP)
        elif insn[0] == _RET_A:
            body[index] = [_JMP_JA, 0, 0, stub_at - index - 1]
            uses_ret_a = True
    insns = _signal_guard()
    insns += [(code, jt, jf, k) for code, jt, jf, k in body]
    if uses_ret_a:
        insns += _ret_a_stub()
    if len(insns) > _MAX_INSNS:
        raise ProgramError(
            f"the filter has {len(program) // _INSN.size} instructions; "
            f"with the {len(insns) - len(program) // _INSN.size} that "
            f"report='trap' adds it exceeds the kernel's limit of "
            f"{_MAX_INSNS}; use report='kill' or a smaller filter"
        )
    return b"".join(_INSN.pack(*insn) for insn in insns)


def _mark_used(filter: FilterLike) -> None:
    """Count a Filter handed to the sandbox as used.

    Call this before checking the other arguments: a Filter dropped after
    the sandbox rejected them must not warn with FilterNotLoadedWarning
    as well.
    """
    if isinstance(filter, Filter):
        mark = getattr(filter, "_mark_used", None)
        if mark is not None:
            mark()


def _prepare(filter: FilterLike, report: str) -> _Prepared:
    if report not in _REPORT_MODES:
        raise InvalidArgumentError(
            f"report={report!r} is invalid: use 'trap' (name the syscall) "
            "or 'kill' (load the filter unchanged)"
        )
    original, flags, no_new_privs = _program_of(filter)
    # The kernel's own checks, as Program.validate() runs them, so that an
    # invalid program fails here in the parent, naming the instruction at
    # fault, rather than as EINVAL in each child.
    _bpf.check(original)
    program = _trap_program(original) if report == "trap" else original
    return _Prepared(program, original, flags, no_new_privs, report)


def _describe_action(value: int) -> str:
    try:
        return repr(Action.from_raw(value))
    except InvalidArgumentError:
        return f"action {value:#010x} (handled as KILL_PROCESS)"


def _check_transport(
    prepared: _Prepared,
    names: Sequence[str],
    result_fd: int,
    task_fd: int = -1,
) -> None:
    """Raise SandboxError if the filter forbids a syscall the transport needs.

    ``names`` is TRANSPORT_SYSCALLS or EXECUTOR_TRANSPORT_SYSCALLS.  Each
    is evaluated with the arguments the child passes: the pipe descriptor
    for ``read`` and ``write``, 0 for ``exit_group``.  Pointer arguments
    are unknown here and evaluated as 0.
    """
    arguments = {"read": (task_fd,), "write": (result_fd,), "exit_group": (0,)}
    needs = [(name, arguments[name]) for name in names]
    native = int(Arch.native())
    blocked = []
    for name, args in needs:
        number = resolve_syscall(name)
        action = _sandbox.evaluate(prepared.original, number, native, 0, args)
        if action & _ACTION_MASK not in _RUNNING_KINDS:
            shown = ", ".join(str(value) for value in args)
            blocked.append(
                f"it returns {_describe_action(action)} for {name}({shown})"
            )
    if blocked:
        names = ", ".join(repr(name) for name, _ in needs)
        raise SandboxError(
            "the filter forbids syscalls that the sandbox needs after "
            f"loading it to send results back: {'; '.join(blocked)}. "
            f"Allow them, for example with filter.allow({names})",
            _errno.EPERM,
        )
