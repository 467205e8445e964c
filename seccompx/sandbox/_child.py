"""Code that runs in a sandboxed child after fork."""

from __future__ import annotations

import errno as _errno
import os
import sys
from typing import (
    Any,
    Callable,
    Mapping,
    NoReturn,
    Sequence,
)

from .. import _sandbox
from .._errors import (
    LoadError,
)
from ._program import _Prepared
from ._protocol import (
    _EXIT_INTERNAL,
    _STAGE_EXITING,
    _STAGE_LOADING,
    _STAGE_RUNNING,
    _STAGE_SENDING,
    _STAGE_STARTED,
    _encode_exception,
    _encode_result,
    _send_frame,
)


def _load_error(err: int, thread: int = 0) -> LoadError:
    if thread:
        return LoadError(
            f"thread sync failed: thread {thread} of the sandboxed child "
            "already has a filter that is not an ancestor of the loading "
            "thread's",
            _errno.ESRCH,
            reason="tsync",
            thread=thread,
        )
    if err == _errno.EACCES:
        return LoadError(
            "the kernel rejected the filter: no_new_privs is off and the "
            "child lacks CAP_SYS_ADMIN; keep no_new_privs=True",
            err,
            reason="no_new_privs",
        )
    if err == _errno.ENOMEM:
        from ..program import _stacked_limit_message

        return LoadError(_stacked_limit_message(None), err, reason="too_large")
    if err == _errno.EINVAL:
        return LoadError(
            "the kernel rejected the BPF program or a load flag (EINVAL); "
            "check the program with seccompx.Program",
            err,
            reason="kernel",
        )
    return LoadError(
        "loading the filter in the sandboxed child failed: "
        + os.strerror(err),
        err,
        reason="kernel",
    )


def _load_in_child(prepared: _Prepared) -> None:
    try:
        thread = _sandbox.load(
            prepared.program, prepared.flags, prepared.no_new_privs
        )
    except OSError as exc:
        raise _load_error(exc.errno or _errno.EINVAL) from None
    if thread:
        raise _load_error(_errno.ESRCH, thread)


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _call(
    reporter: _sandbox.Reporter,
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
) -> bytes:
    """Call func and return its pickled outcome."""
    reporter.set_stage(_STAGE_RUNNING)
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:
        _flush_stdio()
        reporter.set_stage(_STAGE_SENDING)
        return _encode_exception(exc)
    _flush_stdio()
    reporter.set_stage(_STAGE_SENDING)
    return _encode_result(result)


def _start_child(
    reporter: _sandbox.Reporter, prepared: _Prepared, result_fd: int
) -> bool:
    """Install the handler and load the filter; False if loading failed."""
    reporter.set_stage(_STAGE_STARTED)
    reporter.install()
    reporter.set_stage(_STAGE_LOADING)
    try:
        _load_in_child(prepared)
    except BaseException as exc:
        _send_frame(result_fd, _encode_exception(exc, "load_failed"))
        return False
    return True


def _run_child(
    func: Callable[..., Any],
    args: Sequence[Any],
    kwargs: Mapping[str, Any],
    prepared: _Prepared,
    reporter: _sandbox.Reporter,
    result_fd: int,
) -> NoReturn:
    """Load the filter, call func and send its outcome.  Never returns."""
    code = _EXIT_INTERNAL
    try:
        if _start_child(reporter, prepared, result_fd):
            payload = _call(reporter, func, args, kwargs)
            _send_frame(result_fd, payload)
            reporter.set_stage(_STAGE_EXITING)
            code = 0
    finally:
        os._exit(code)
