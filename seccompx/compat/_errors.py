"""Exceptions of seccompx.compat and the translation from seccompx's own.

The official ``seccomp`` module raises RuntimeError for most failures,
ValueError for an invalid architecture, attribute, action or API level,
TypeError for a value of the wrong type and OverflowError when a number
does not fit the C type.  pyseccomp raises OSError instead.  Each class
here is a seccompx exception, so an :class:`OSError` with ``errno``.  It is
also the built-in class the official module raises in the same case.  So
``except RuntimeError`` written for the official module and ``except
OSError`` written for pyseccomp both keep working.
"""

from __future__ import annotations

import contextlib
import errno as _errno
from typing import Iterator, Tuple, Type

from .._errors import (
    ArchitectureError,
    FilterStateError,
    InvalidArgumentError,
    LoadError,
    NotifyError,
    SeccompError,
    TargetGoneError,
    UnknownSyscallError,
    UnsupportedError,
)

__all__ = [
    "CompatRuntimeError",
    "CompatInvalidArgumentError",
    "CompatUnknownSyscallError",
    "CompatArchitectureError",
    "CompatUnsupportedError",
    "CompatFilterStateError",
    "CompatLoadError",
    "CompatNotifyError",
    "CompatTargetGoneError",
    "CompatTypeError",
    "CompatOverflowError",
    "CompatIndexError",
    "translated",
]


class CompatRuntimeError(SeccompError, RuntimeError):
    """libseccomp or the kernel failed where the official module raises
    RuntimeError ("Library error")."""


class CompatInvalidArgumentError(InvalidArgumentError, CompatRuntimeError):
    """An invalid value, which the official module reports as RuntimeError
    or ValueError depending on the call, so this is both."""


class CompatUnknownSyscallError(UnknownSyscallError, CompatInvalidArgumentError):
    """A syscall name or number that is not known for an architecture."""


class CompatArchitectureError(ArchitectureError, CompatInvalidArgumentError):
    """An architecture that is unknown, already present or missing."""


class CompatUnsupportedError(UnsupportedError, CompatRuntimeError):
    """A feature the running libseccomp or kernel lacks."""


class CompatFilterStateError(FilterStateError, CompatRuntimeError):
    """A filter used in a state that does not allow the call."""


class CompatLoadError(LoadError, CompatRuntimeError):
    """The kernel rejected the filter; ``reason`` names the cause."""


class CompatNotifyError(NotifyError, CompatRuntimeError):
    """A user-notification call failed."""


class CompatTargetGoneError(TargetGoneError, CompatNotifyError):
    """The process behind a notification exited or was killed."""


class CompatTypeError(SeccompError, TypeError):
    """A value of the wrong type, where the official module raises
    TypeError."""


class CompatOverflowError(InvalidArgumentError, OverflowError):
    """A number that does not fit the C type the official module converts
    it to, where that module raises OverflowError."""


class CompatIndexError(InvalidArgumentError, IndexError):
    """A sequence with too few items, where the official module raises
    IndexError."""


for _cls in (
    CompatRuntimeError,
    CompatInvalidArgumentError,
    CompatUnknownSyscallError,
    CompatArchitectureError,
    CompatUnsupportedError,
    CompatFilterStateError,
    CompatLoadError,
    CompatNotifyError,
    CompatTargetGoneError,
    CompatTypeError,
    CompatOverflowError,
    CompatIndexError,
):
    _cls.__module__ = "seccompx.compat"
del _cls

# Most specific first: the first seccompx class an error is an instance of
# picks its compat class.
_TRANSLATIONS: Tuple[Tuple[Type[SeccompError], Type[SeccompError]], ...] = (
    (UnknownSyscallError, CompatUnknownSyscallError),
    (ArchitectureError, CompatArchitectureError),
    (InvalidArgumentError, CompatInvalidArgumentError),
    (UnsupportedError, CompatUnsupportedError),
    (FilterStateError, CompatFilterStateError),
    (LoadError, CompatLoadError),
    (TargetGoneError, CompatTargetGoneError),
    (NotifyError, CompatNotifyError),
    (SeccompError, CompatRuntimeError),
)

_COMPAT_CLASSES = tuple(target for _, target in _TRANSLATIONS) + (
    CompatTypeError,
    CompatOverflowError,
    CompatIndexError,
)


def compat_error(error: SeccompError) -> SeccompError:
    """Return ``error`` as the matching compat class, with the same message,
    ``errno`` and attributes (``syscall``, ``reason`` ...)."""
    if isinstance(error, _COMPAT_CLASSES):
        return error
    target: Type[SeccompError] = CompatRuntimeError
    for source, candidate in _TRANSLATIONS:
        if isinstance(error, source):
            target = candidate
            break
    # Built the way seccompx unpickles its errors: the subclasses'
    # constructors take different arguments, but all state is in the
    # message, errno and the instance dict.
    converted = target.__new__(target)
    code = error.errno if error.errno is not None else _errno.EIO
    SeccompError.__init__(converted, error.message, code)
    converted.__dict__.update(error.__dict__)
    return converted


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Re-raise seccompx errors from the block as their compat classes."""
    try:
        yield
    except SeccompError as error:
        converted = compat_error(error)
        if converted is error:
            raise
        raise converted.with_traceback(error.__traceback__) from error.__cause__


def no_architecture_error(what: str) -> CompatInvalidArgumentError:
    """Build the error for an operation on a filter without architectures."""
    return CompatInvalidArgumentError(
        f"cannot {what}: the filter has no architecture left after "
        "remove_arch(); add one with add_arch() first",
        _errno.EINVAL,
    )
