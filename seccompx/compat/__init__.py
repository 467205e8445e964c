"""A drop-in replacement for libseccomp's official ``seccomp`` module.

Programs written for the official Python bindings (the ``seccomp`` module
that distributions ship as python3-seccomp) or for pyseccomp switch with
one line::

    import seccompx.compat as seccomp

or ``from seccompx.compat import *`` in place of ``from seccomp import *``.
Everything runs on seccompx's own extension, seccompx._core.  Errors are
seccompx exceptions that are also the RuntimeError, ValueError, TypeError
or OverflowError the official module raises in the same case.  The known
differences are listed in docs/compat.md.
"""

from __future__ import annotations

import errno
from typing import Union

from .. import _core
from .._actions import ActionKind as _Kind
from ._errors import CompatArchitectureError as CompatArchitectureError
from ._errors import CompatFilterStateError as CompatFilterStateError
from ._errors import CompatIndexError as CompatIndexError
from ._errors import CompatInvalidArgumentError as CompatInvalidArgumentError
from ._errors import CompatLoadError as CompatLoadError
from ._errors import CompatNotifyError as CompatNotifyError
from ._errors import CompatOverflowError as CompatOverflowError
from ._errors import CompatRuntimeError as CompatRuntimeError
from ._errors import CompatTargetGoneError as CompatTargetGoneError
from ._errors import CompatTypeError as CompatTypeError
from ._errors import CompatUnknownSyscallError as CompatUnknownSyscallError
from ._errors import CompatUnsupportedError as CompatUnsupportedError
from ._errors import translated
from ._filter import SyscallFilter
from ._notify import Notification, NotificationResponse
from ._values import (
    INT32_MAX,
    INT32_MIN,
    Arch,
    Arg,
    Attr,
    arch_label,
    resolve_name,
    resolve_number,
    signed32,
    to_arch,
    to_range,
)

# The names ``from seccomp import *`` binds: the official module has no
# __all__, so that is every public name in it, including the errno module
# it imports.  KILL_THREAD comes from pyseccomp.
__all__ = [
    "ALLOW",
    "Arch",
    "Arg",
    "Attr",
    "EQ",
    "ERRNO",
    "GE",
    "GT",
    "KILL",
    "KILL_PROCESS",
    "KILL_THREAD",
    "LE",
    "LOG",
    "LT",
    "MASKED_EQ",
    "NE",
    "NOTIFY",
    "Notification",
    "NotificationResponse",
    "SyscallFilter",
    "TRACE",
    "TRAP",
    "c_str",
    "errno",
    "get_api",
    "resolve_syscall",
    "set_api",
    "system_arch",
]

# Actions, as the signed 32-bit ints of the official module.
KILL_PROCESS = signed32(_Kind.KILL_PROCESS)
KILL = signed32(_Kind.KILL_THREAD)
KILL_THREAD = KILL
TRAP = signed32(_Kind.TRAP)
LOG = signed32(_Kind.LOG)
ALLOW = signed32(_Kind.ALLOW)
NOTIFY = signed32(_Kind.NOTIFY)

# Argument comparison operators (SCMP_CMP_*).
NE = 1
LT = 2
LE = 3
EQ = 4
GE = 5
GT = 6
MASKED_EQ = 7

_RET_DATA = 0xFFFF


def ERRNO(errno: int) -> int:
    """Return the action that fails the syscall with ``errno``.

    Only the low 16 bits are kept, as in the official module; libseccomp
    rejects values above 4094 when the action is used.
    """
    value = to_range(errno, "errno", INT32_MIN, INT32_MAX)
    return int(_Kind.ERRNO) | (value & _RET_DATA)


def TRACE(value: int) -> int:
    """Return the action that notifies a ptrace tracer with ``value``.

    Only the low 16 bits are kept, as in the official module.
    """
    number = to_range(value, "trace value", INT32_MIN, INT32_MAX)
    return int(_Kind.TRACE) | (number & _RET_DATA)


def c_str(string: str) -> bytes:
    """Return ``string`` encoded as ASCII, as the official helper does."""
    return bytes(string, "ascii")


def system_arch() -> int:
    """Return the native architecture's token (unsigned)."""
    return int(_core.arch_native())


def resolve_syscall(arch: Union[Arch, int], syscall: Union[str, int]) -> Union[int, bytes]:
    """Resolve a syscall name to its number, or a number to its name.

    With a name, returns the number on ``arch``, or -1 when the name or the
    architecture is unknown.  Where the architecture multiplexes a call
    through socketcall(2) or ipc(2), that is the multiplexer's number, as
    libseccomp's seccomp_syscall_resolve_name_rewrite() gives.  A name
    missing from ``arch`` gives libseccomp's negative pseudo number.

    With a number, returns the name as bytes, or raises a ValueError
    (CompatUnknownSyscallError) when ``arch`` has no such syscall.
    """
    if isinstance(syscall, str):
        return resolve_name(to_arch(arch), syscall)
    if not isinstance(syscall, int):
        raise CompatTypeError(
            "syscall must be a name (str) or a number (int), not "
            f"{type(syscall).__name__}"
        )
    token = to_arch(arch)
    number = to_range(syscall, "syscall number", INT32_MIN, INT32_MAX)
    name = resolve_number(token, number)
    if name is None:
        raise CompatUnknownSyscallError(
            f"no syscall has number {number} on {arch_label(token)}",
            syscall=number,
            arch=arch_label(token),
        )
    return name.encode("ascii")


def get_api() -> int:
    """Return libseccomp's API level: which kernel features it uses."""
    return int(_core.api_get())


def set_api(level: int) -> None:
    """Force libseccomp's API level (strongly discouraged outside tests).

    Raises a ValueError (CompatInvalidArgumentError) for a level the
    running libseccomp does not have.
    """
    number = to_range(level, "API level", 0, 2**32 - 1)
    with translated():
        _core.api_set(number)
