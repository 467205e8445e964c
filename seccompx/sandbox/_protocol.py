"""Messages between a sandboxed child and its parent."""

from __future__ import annotations

import errno as _errno
import os
import pickle
import struct
import traceback
from typing import (
    Any,
    List,
    Optional,
    Tuple,
)

from .._errors import (
    SandboxError,
)

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
    parent's.  ``text`` is the formatted traceback.
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return "\n" + self.text.rstrip("\n")


ChildTraceback.__module__ = "seccompx.sandbox"


def _format_exception(exc: BaseException) -> str:
    return "".join(
        traceback.format_exception(type(exc), exc, exc.__traceback__)
    )


def _encode_result(value: object) -> bytes:
    try:
        return pickle.dumps(("ok", value), pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        message = (
            f"the callable returned a {type(value).__qualname__} that cannot "
            f"be pickled: {exc!r}"
        )
        return pickle.dumps(("error", message), pickle.HIGHEST_PROTOCOL)


def _encode_exception(exc: BaseException, kind: str = "raise") -> bytes:
    text = _format_exception(exc)
    try:
        return pickle.dumps((kind, exc, text), pickle.HIGHEST_PROTOCOL)
    except Exception:
        name = f"{type(exc).__module__}.{type(exc).__qualname__}"
        return pickle.dumps(
            (kind + "_text", name, str(exc), text), pickle.HIGHEST_PROTOCOL
        )


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
        raise SandboxError("the task pipe closed inside a frame", _errno.EPIPE)
    return body


def _read_exact(fd: int, size: int) -> Optional[bytes]:
    chunks = []
    remaining = size
    while remaining:
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            if remaining == size:
                return None
            raise SandboxError("the pipe closed inside a frame", _errno.EPIPE)
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
        exc = message[1]
        exc.__cause__ = ChildTraceback(message[2])
        if kind == "init_failed":
            error = SandboxError(
                f"the executor's initializer raised {exc!r}; the executor "
                "is broken"
            )
            error.__cause__ = exc
            return error
        return exc  # type: ignore[no-any-return]
    if kind in ("raise_text", "init_failed_text", "load_failed_text"):
        _, name, text, tb = message
        error = SandboxError(
            f"the sandboxed child raised {name}: {text} (the exception "
            "could not be pickled, so this error stands in for it)"
        )
        error.__cause__ = ChildTraceback(tb)
        return error
    if kind == "error":
        return SandboxError(message[1])
    return SandboxError(
        f"the sandboxed child sent an unknown message kind {kind!r}",
        _errno.EPROTO,
    )
