"""seccompx.sandbox.run()."""

from __future__ import annotations

import errno as _errno
import os
from typing import (
    Any,
    Callable,
    Optional,
    TypeVar,
)

from .. import _sandbox
from .._errors import (
    SandboxError,
    SandboxTimeout,
)
from ._child import _flush_stdio, _run_child
from ._program import _check_transport, _mark_used, _prepare, _Prepared
from ._protocol import (
    _STAGE_NAMES,
    TRANSPORT_SYSCALLS,
    FilterLike,
    _decode,
    _outcome_error,
)
from ._report import _death_error, _status_text
from ._wait import _ChildWatcher, _collect, _deadline, _timeout_seconds

_T = TypeVar("_T")


def run(
    func: Callable[..., _T],
    /,
    *args: Any,
    filter: FilterLike,
    timeout: Optional[float] = None,
    report: str = "trap",
    **kwargs: Any,
) -> _T:
    """Call ``func(*args, **kwargs)`` in a forked child under ``filter``.

    Returns the callable's result, or raises the exception it raised, with
    the child's traceback as a :class:`ChildTraceback` in ``__cause__``.
    The result and exception travel back pickled, so they must be
    picklable; the callable and its arguments need not be, because the
    child is a fork of the caller.

    ``filter`` is a :class:`seccompx.Filter`, BPF bytes, or an object with
    ``__bytes__`` such as :class:`seccompx.Program`.  It must allow
    :data:`TRANSPORT_SYSCALLS` (``write`` and ``exit_group``), or this
    raises :class:`seccompx.SandboxError` before forking.  Sending a
    result or an exception back needs no other syscall, apart from memory
    (``brk``, ``mmap``, ``munmap``, ``mremap``) for a large one.

    Raises :class:`seccompx.SandboxViolation` when the child makes a
    syscall the filter forbids, naming it when ``report`` is ``"trap"``
    (the default, see the module documentation), and
    :class:`seccompx.SandboxTimeout` when ``timeout`` seconds pass first;
    the child is then killed.  ``timeout`` is a number of seconds greater
    than 0, or None or ``math.inf`` for no limit.  The names ``filter``,
    ``timeout`` and ``report`` are taken by this function; pass such
    keyword arguments to ``func`` through :func:`functools.partial`.

    The child is a plain fork of the calling process: as with
    multiprocessing's fork start method, a lock that another thread of the
    parent held at the time stays locked in the child.
    """
    _mark_used(filter)
    if not callable(func):
        raise TypeError(f"func must be callable, not {type(func).__name__}")
    deadline = _deadline(_timeout_seconds(timeout))
    prepared = _prepare(filter, report)
    read_fd, write_fd = os.pipe()
    reporter: Optional[_sandbox.Reporter] = None
    watcher: Optional[_ChildWatcher] = None
    try:
        _check_transport(prepared, TRANSPORT_SYSCALLS, write_fd)
        reporter = _sandbox.Reporter()
        _flush_stdio()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _run_child(func, args, kwargs, prepared, reporter, write_fd)
        os.close(write_fd)
        write_fd = -1
        watcher = _ChildWatcher(pid)
        result: _T = _finish_run(
            func, watcher, read_fd, reporter, prepared, deadline, timeout
        )
        return result
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.close()
        if reporter is not None:
            reporter.close()
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)


def _finish_run(
    func: Callable[..., Any],
    watcher: _ChildWatcher,
    read_fd: int,
    reporter: _sandbox.Reporter,
    prepared: _Prepared,
    deadline: Optional[float],
    timeout: Optional[float],
) -> Any:
    child_name = f"the sandboxed child running {_func_name(func)}"
    payload, timed_out = _collect(watcher, read_fd, deadline)
    status = None if timed_out else watcher.wait(deadline)
    if timed_out or status is None:
        watcher.kill()
        raise SandboxTimeout(
            f"{child_name} did not finish within {timeout} s, so it was "
            f"killed while {_STAGE_NAMES.get(reporter.stage, 'running')}"
        )
    record = reporter.record()
    if record is not None or payload is None:
        raise _death_error(
            record, status, reporter.stage, prepared, child_name
        )
    message = _decode(payload)
    error = _outcome_error(message)
    if error is not None:
        raise error
    if status != 0:
        raise SandboxError(
            f"{child_name} sent its result but then {_status_text(status)}",
            _errno.ECHILD,
        )
    return message[1]


def _func_name(func: Callable[..., Any]) -> str:
    name = getattr(func, "__qualname__", None) or getattr(
        func, "__name__", None
    )
    return f"{name}()" if name else repr(func)
