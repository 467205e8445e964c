"""The exception hierarchy of seccompx.

Every exception that seccompx raises on purpose derives from
:class:`SeccompError`, which is an :class:`OSError` with a real ``errno``
attribute.  Subclasses that describe bad input are also
:class:`ValueError`, so generic ``except ValueError`` clauses still work.

The C extension raises these classes too: ``seccompx._core`` looks them up
in this module when it is first imported.
"""

from __future__ import annotations

import errno as _errno
# typing costs about 2 ms to import, a third of the package's start-up,
# and is needed only by type checkers, which treat this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Optional, Sequence

__all__ = [
    "SeccompError",
    "InvalidArgumentError",
    "UnknownSyscallError",
    "ArchitectureError",
    "UnsupportedError",
    "FilterStateError",
    "LoadError",
    "ProfileError",
    "ProgramError",
    "SandboxError",
    "SandboxViolation",
    "SandboxTimeout",
    "NotifyError",
    "TargetGoneError",
    "FilterNotLoadedWarning",
    "UnmatchableRuleWarning",
    "TruncatedValueWarning",
    "MultiplexedRuleWarning",
]


class SeccompError(OSError):
    """Base class of every error seccompx raises.

    ``errno`` is the error number libseccomp or the kernel reported, or
    the closest standard one (``EINVAL`` for bad input) when the error was
    found before any call was made.  ``str()`` is the message alone.
    """

    def __init__(self, message: str, errno: int = _errno.EINVAL) -> None:
        super().__init__(errno, message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # OSError pickles through its args, which would lose the message
        # and subclass attributes; rebuild from the instance dict instead.
        return (_rebuild_error, (type(self), self.message, self.errno, self.__dict__))


def _rebuild_error(cls, message, errno, state):  # type: ignore[no-untyped-def]
    error = cls.__new__(cls)
    SeccompError.__init__(error, message, errno)
    error.__dict__.update(state)
    return error


SeccompError.__module__ = "seccompx"


class InvalidArgumentError(SeccompError, ValueError):
    """A value passed to seccompx is outside what is allowed."""


class UnknownSyscallError(InvalidArgumentError):
    """A syscall name or number is not known for an architecture.

    ``syscall`` is the name or number given, ``arch`` the architecture it
    was resolved for, and ``suggestions`` close names, best first.
    """

    def __init__(
        self,
        message: str,
        syscall: object = None,
        arch: object = None,
        suggestions: Sequence[str] = (),
    ) -> None:
        super().__init__(message, _errno.EINVAL)
        self.syscall = syscall
        self.arch = arch
        self.suggestions = tuple(suggestions)


class ArchitectureError(InvalidArgumentError):
    """An architecture is unknown, already present, or missing."""


class UnsupportedError(SeccompError):
    """The running kernel or libseccomp lacks a requested feature."""

    def __init__(self, message: str, errno: int = _errno.EOPNOTSUPP) -> None:
        super().__init__(message, errno)


class FilterStateError(SeccompError, ValueError):
    """A filter was used after it was closed, or loaded twice."""

    def __init__(self, message: str, errno: int = _errno.EBADF) -> None:
        super().__init__(message, errno)


class LoadError(SeccompError):
    """The kernel rejected a filter.

    ``reason`` is a short token for the cause: ``"no_new_privs"``,
    ``"too_large"``, ``"tsync"``, ``"stacked"`` (an earlier filter refuses
    the syscalls a load needs), ``"flag"``, ``"listener"``, ``"program"``
    (a raw program the kernel's checks reject), ``"fault"`` or
    ``"kernel"``.  ``thread`` is the id of the conflicting thread for
    ``"tsync"``.
    """

    def __init__(
        self,
        message: str,
        errno: int = _errno.EINVAL,
        reason: str = "kernel",
        thread: Optional[int] = None,
    ) -> None:
        super().__init__(message, errno)
        self.reason = reason
        self.thread = thread


class ProfileError(InvalidArgumentError):
    """A seccomp profile (OCI or Docker JSON) is invalid.

    ``path`` is the JSON path of the bad value, such as
    ``syscalls[3].args[0].op``.
    """

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path


class ProgramError(InvalidArgumentError):
    """A BPF program is malformed or would be rejected by the kernel.

    ``index`` is the instruction at fault, when there is one.
    """

    def __init__(self, message: str, index: Optional[int] = None) -> None:
        super().__init__(message)
        self.index = index


class SandboxError(SeccompError):
    """Running work under a filter in a child process failed."""


class SandboxViolation(SandboxError):
    """A sandboxed child made a syscall its filter forbids.

    ``syscall`` is the name (or None when unknown), ``number`` the syscall
    number, ``arch`` the architecture, ``args`` the six argument registers
    (empty when the kernel did not report them), and ``signal`` the signal
    that ended the child.
    """

    def __init__(
        self,
        message: str,
        syscall: Optional[str] = None,
        number: Optional[int] = None,
        arch: object = None,
        args: Sequence[int] = (),
        signal: Optional[int] = None,
    ) -> None:
        super().__init__(message, _errno.EPERM)
        self.syscall = syscall
        self.number = number
        self.arch = arch
        self.args = tuple(args)
        self.signal = signal


class SandboxTimeout(SandboxError, TimeoutError):
    """A sandboxed child ran past its timeout and was killed."""

    def __init__(self, message: str) -> None:
        super().__init__(message, _errno.ETIMEDOUT)


class NotifyError(SeccompError):
    """A user-notification operation failed."""


class TargetGoneError(NotifyError):
    """The process behind a notification exited or was killed."""

    def __init__(self, message: str, errno: int = _errno.ENOENT) -> None:
        super().__init__(message, errno)


class FilterNotLoadedWarning(UserWarning):
    """A filter with rules was released without being loaded or exported."""


class UnmatchableRuleWarning(UserWarning):
    """A rule names a syscall that does not exist on some architecture.

    libseccomp gives such syscalls a negative pseudo number on that
    architecture, so the rule never matches there.
    """


class TruncatedValueWarning(UserWarning):
    """A comparison value has bits above 32 on a 32-bit architecture.

    libseccomp compares only the low 32 bits of arguments on 32-bit
    architectures (and on x32), so there the rule matches values other
    than the one written.
    """


class MultiplexedRuleWarning(UserWarning):
    """A rule's argument comparisons are dropped on some architecture.

    On architectures that reach socket and System V IPC calls through
    socketcall(2) or ipc(2) (x86, s390, s390x, ppc, ppc64 and others), the
    arguments of the real call are in memory that seccomp cannot read.
    libseccomp then matches such a rule on the multiplexer by call number
    alone, so there it applies to every argument value.
    """


for _cls in (
    InvalidArgumentError,
    UnknownSyscallError,
    ArchitectureError,
    UnsupportedError,
    FilterStateError,
    LoadError,
    ProfileError,
    ProgramError,
    SandboxError,
    SandboxViolation,
    SandboxTimeout,
    NotifyError,
    TargetGoneError,
    FilterNotLoadedWarning,
    UnmatchableRuleWarning,
    TruncatedValueWarning,
    MultiplexedRuleWarning,
):
    _cls.__module__ = "seccompx"
del _cls


# Syscall number ranges probed for suggestions: the plain tables, the MIPS
# o32/n64/n32 bases (4000, 5000, 6000), x32's bit and ARM's private calls.
_SYSCALL_RANGES = (
    range(0, 1100),
    range(4000, 5500),
    range(5500, 7100),
    range(0x40000000, 0x40000000 + 1100),
    range(0x0F0000, 0x0F0010),
)
_names_cache: "dict[str, list[str]]" = {}


def _known_syscall_names(arch: str) -> "list[str]":
    names = _names_cache.get(arch)
    if names is None:
        from . import _core

        token = _core.arch_resolve_name(arch) if arch != "unknown" else 0
        found = set()
        for numbers in _SYSCALL_RANGES:
            for number in numbers:
                name = _core.resolve_number(number, token)
                if name is not None:
                    found.add(name)
        names = sorted(found)
        _names_cache[arch] = names
    return names


def unknown_syscall(name: object, arch: str) -> UnknownSyscallError:
    """Build the error for a syscall name that libseccomp does not know."""
    import difflib

    suggestions: "list[str]" = []
    # Longer names cannot be close to a real one, and difflib is slow on them.
    if isinstance(name, str) and 0 < len(name) <= 64:
        suggestions = difflib.get_close_matches(
            name, _known_syscall_names(arch), n=3, cutoff=0.6
        )
    message = f"unknown syscall {name!r} for architecture {arch}"
    if suggestions:
        message += "; did you mean " + ", ".join(map(repr, suggestions)) + "?"
    else:
        message += "; check the name against syscalls(2)"
    return UnknownSyscallError(message, syscall=name, arch=arch, suggestions=suggestions)
