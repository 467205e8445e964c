"""Messages between a sandboxed child and its parent."""

from __future__ import annotations

import builtins
import contextlib
import errno as _errno
import os
import pickle
import struct
import sys
import types
from typing import (
    Any,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

from .._errors import (
    SandboxError,
)
from . import _traceback

#: Syscalls that :func:`run` needs after the filter is loaded: ``write``
#: sends the pickled result and ``exit_group`` ends the child.
TRANSPORT_SYSCALLS = ("write", "exit_group")
#: Syscalls that :class:`Executor` workers need after the filter is loaded.
EXECUTOR_TRANSPORT_SYSCALLS = ("read", "write", "exit_group")

FilterLike = Any
"""A :class:`seccompx.Filter`, BPF bytes, or an object with ``__bytes__``
(such as :class:`seccompx.Program`)."""

_REPORT_MODES = ("trap", "kill")

# Stages of the child, stored in the shared page so that the parent can
# report them after the child is gone.
_STAGE_STARTED = 1
_STAGE_INITIALIZING = 2
_STAGE_LOADING = 3
_STAGE_RUNNING = 4
_STAGE_SENDING = 5
_STAGE_EXITING = 6
_STAGE_WAITING = 7

_STAGE_NAMES = {
    0: "starting",
    _STAGE_STARTED: "starting",
    _STAGE_INITIALIZING: "running the initializer",
    _STAGE_LOADING: "loading the filter",
    _STAGE_RUNNING: "running the callable",
    _STAGE_SENDING: "pickling or sending the result",
    _STAGE_EXITING: "exiting after sending the result",
    _STAGE_WAITING: "waiting for the next task",
}

# Exit status of a child whose Python code failed outside the callable.
_EXIT_INTERNAL = 70


# --------------------------------------------------------------------------
# Messages between child and parent
# --------------------------------------------------------------------------

_FRAME_MAGIC = b"SBX1"
_FRAME_HEADER = struct.Struct("=4sQ")


class ChildTraceback(Exception):
    """The traceback of an exception raised in a sandboxed child.

    :func:`run` and :class:`Executor` set it as the ``__cause__`` of the
    exception they re-raise, so the child's traceback prints below the
    parent's.  ``text`` is the formatted traceback; the parent added the
    source lines from its own copy of the files.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text.rstrip("\n")


ChildTraceback.__module__ = "seccompx.sandbox"


def _type_name(exc: BaseException) -> str:
    cls = type(exc)
    if cls.__module__ in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _safe_str(exc: BaseException) -> str:
    try:
        return str(exc)
    except Exception as error:
        return f"<str() of the exception raised {type(error).__name__}>"


def _loaded_module(
    name: str, globals: Optional[Mapping[str, object]], level: int
) -> Optional[str]:
    """Return the absolute name of a module to import, or None."""
    if level == 0:
        return name
    package = (globals or {}).get("__package__")
    if not isinstance(package, str) or not package:
        return None
    base = package.rsplit(".", level - 1)[0]
    return f"{base}.{name}" if name else base


@contextlib.contextmanager
def _imports_from_cache_only() -> Iterator[None]:
    """Make imports of modules that are not loaded fail inside the block.

    pickle imports the module of every class and function it saves or
    loads.  That costs no syscall for a module in ``sys.modules``, but
    loading a new one opens files, which the filter may forbid.  With this
    guard such an object cannot be pickled, and the child reports that
    instead of breaking the filter.
    """
    # NOTE: the guard replaces builtins.__import__ for the whole process,
    # so a thread that the callable left running also gets ImportError for
    # a module that is not loaded while the outcome is pickled.
    original = builtins.__import__

    def cached_import(
        name: str,
        globals: Optional[Mapping[str, object]] = None,
        locals: Optional[Mapping[str, object]] = None,
        fromlist: Optional[Sequence[str]] = (),
        level: int = 0,
    ) -> types.ModuleType:
        full_name = _loaded_module(name, globals, level)
        module = sys.modules.get(full_name) if full_name else None
        missing = [
            item
            for item in fromlist or ()
            if item != "*" and not hasattr(module, item)
        ]
        if module is None or missing:
            raise ImportError(
                f"module {full_name or name!r} is not loaded in the sandboxed "
                "child, and loading it under the filter could need "
                "forbidden syscalls; import it before the filter is loaded",
                name=full_name or name,
            )
        return original(name, globals, locals, fromlist, level)

    builtins.__import__ = cached_import
    try:
        yield
    finally:
        builtins.__import__ = original


def _encode_result(value: object) -> bytes:
    try:
        with _imports_from_cache_only():
            return pickle.dumps(("ok", value), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        message = (
            f"the callable returned a {type(value).__qualname__} that cannot "
            f"be pickled: {exc!r}"
        )
        return pickle.dumps(("error", message), pickle.HIGHEST_PROTOCOL)


def _pickle_exception(exc: BaseException) -> Optional[bytes]:
    """Pickle ``exc``, or return None if the parent could not unpickle it.

    Unpickling once in the child catches exceptions whose ``__init__``
    takes other arguments than ``args``, which pickle would rebuild wrongly.
    """
    try:
        with _imports_from_cache_only():
            data = pickle.dumps(exc, pickle.HIGHEST_PROTOCOL)
            pickle.loads(data)
    except Exception:
        return None
    return data


def _encode_exception(exc: BaseException, kind: str = "raise") -> bytes:
    """Pickle an exception message: ``(kind, pickled exception or None,
    type name, str(), traceback records)``.

    Neither step reads a file, so sending an exception needs the same
    syscalls as sending a result.
    """
    try:
        records = _traceback.capture(exc)
    except Exception:
        # The traceback module failed on a strange exception; send it
        # without a traceback rather than not at all.
        records = ()
    message = (
        kind,
        _pickle_exception(exc),
        _type_name(exc),
        _safe_str(exc),
        records,
    )
    return pickle.dumps(message, pickle.HIGHEST_PROTOCOL)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _send_frame(fd: int, payload: bytes) -> None:
    _write_all(fd, _FRAME_HEADER.pack(_FRAME_MAGIC, len(payload)))
    _write_all(fd, payload)


def _frame(payload: bytes) -> bytes:
    return _FRAME_HEADER.pack(_FRAME_MAGIC, len(payload)) + payload


class _FrameReader:
    """Split a byte stream into the payloads of length-prefixed frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> List[bytes]:
        self._buffer += data
        frames = []
        while len(self._buffer) >= _FRAME_HEADER.size:
            magic, size = _FRAME_HEADER.unpack_from(self._buffer)
            if magic != _FRAME_MAGIC:
                raise SandboxError(
                    "the sandboxed child sent data that is not a result "
                    f"frame (it starts with {bytes(self._buffer[:8])!r}); "
                    "the callable may have written to the sandbox's pipe",
                    _errno.EPROTO,
                )
            end = _FRAME_HEADER.size + size
            if len(self._buffer) < end:
                break
            frames.append(bytes(self._buffer[_FRAME_HEADER.size : end]))
            del self._buffer[:end]
        return frames

    @property
    def pending(self) -> int:
        return len(self._buffer)


def _read_frame(fd: int) -> Optional[bytes]:
    """Read one frame from a blocking descriptor; None at end of file."""
    header = _read_exact(fd, _FRAME_HEADER.size)
    if header is None:
        return None
    magic, size = _FRAME_HEADER.unpack(header)
    if magic != _FRAME_MAGIC:
        raise SandboxError(
            "the executor sent a malformed task frame", _errno.EPROTO
        )
    body = _read_exact(fd, size)
    if body is None:
        raise SandboxError(
            "the task pipe was closed in the middle of a frame", _errno.EPIPE
        )
    return body


def _read_exact(fd: int, size: int) -> Optional[bytes]:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == size:
                return None
            raise SandboxError(
                "the pipe was closed in the middle of a frame", _errno.EPIPE
            )
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _decode(payload: bytes) -> Tuple[Any, ...]:
    try:
        message = pickle.loads(payload)
    except Exception as exc:
        raise SandboxError(
            f"the sandboxed child's result could not be unpickled: {exc!r}",
            _errno.EPROTO,
        ) from exc
    if not isinstance(message, tuple) or not message:
        raise SandboxError(
            "the sandboxed child sent a malformed result", _errno.EPROTO
        )
    return message


def _outcome_error(message: Tuple[Any, ...]) -> Optional[BaseException]:
    """Return the exception a decoded message stands for, or None for "ok"."""
    kind = message[0]
    if kind == "ok":
        return None
    if kind in ("raise", "init_failed", "load_failed"):
        if len(message) != 5:
            return SandboxError(
                f"the sandboxed child sent a malformed {kind!r} message",
                _errno.EPROTO,
            )
        exc = _child_exception(*message[1:])
        if kind == "init_failed":
            error = SandboxError(
                f"the executor's initializer raised {exc!r}; the executor "
                "is broken"
            )
            error.__cause__ = exc
            return error
        return exc
    if kind == "error":
        return SandboxError(message[1])
    return SandboxError(
        f"the sandboxed child sent an unknown message kind {kind!r}",
        _errno.EPROTO,
    )


def _child_exception(
    payload: Optional[bytes],
    name: str,
    text: str,
    records: Tuple[_traceback._ExceptionRecord, ...],
) -> BaseException:
    """Rebuild the child's exception with its traceback as ``__cause__``.

    An exception that cannot cross over becomes a SandboxError that names
    its type and message.
    """
    exc: Optional[BaseException] = None
    if payload is not None:
        try:
            loaded = pickle.loads(payload)
        except Exception:
            loaded = None
        if isinstance(loaded, BaseException):
            exc = loaded
    if exc is None:
        exc = SandboxError(
            f"the sandboxed child raised {name}: {text} (the exception "
            "cannot be pickled, so this error is raised in its place)"
        )
    try:
        formatted = _traceback.render(records)
    except Exception as error:
        formatted = f"(the child's traceback cannot be formatted: {error!r})\n"
    exc.__cause__ = ChildTraceback(formatted)
    return exc
