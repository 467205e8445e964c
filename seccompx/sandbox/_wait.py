"""Waiting for children and reading their results."""

from __future__ import annotations

import math
import os
import select
import signal
import time
from typing import (
    List,
    Optional,
    Tuple,
)

from .._errors import (
    InvalidArgumentError,
)
from ._protocol import _FrameReader

# The maximum single wait passed to poll, select or Lock.acquire, in
# seconds.  Longer timeouts wait in several steps, because poll takes its
# timeout as a C int of milliseconds (at most about 24 days).
_MAX_WAIT = 86400.0


class _ChildWatcher:
    """Wait for one child, through a pidfd where the kernel has them."""

    def __init__(self, pid: int, open_now: bool = True) -> None:
        """Watch the child ``pid``.  With ``open_now`` False the pidfd is
        opened only when a wait with a deadline needs it: a wait without
        one blocks in waitpid, and opening costs two syscalls."""
        self.pid = pid
        self.status: Optional[int] = None
        self.fd: Optional[int] = None
        if open_now:
            self._open()

    def _open(self) -> None:
        # Safe while the child is not reaped, because only this watcher
        # reaps it and its pid cannot be reused before.
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None and self.fd is None:
            try:
                self.fd = pidfd_open(self.pid)
            except OSError:
                self.fd = None

    def poll(self) -> Optional[int]:
        """Reap the child if it has exited; return its wait status."""
        if self.status is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid:
                self.status = status
        return self.status

    def wait(self, deadline: Optional[float]) -> Optional[int]:
        """Wait until the child exits or the deadline passes."""
        if deadline is None and self.status is None:
            # Without a deadline, block in waitpid as subprocess does: the
            # pidfd, select() and second waitpid below cost about 15 us
            # more per child (benchmarks/bench_sandbox.py, 2-vCPU VM).
            try:
                _, self.status = os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            else:
                return self.status
        while self.poll() is None:
            self._open()
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                return None
            if self.fd is not None:
                select.select([self.fd], [], [], _wait_time(deadline))
            else:
                time.sleep(
                    0.002 if remaining is None else min(remaining, 0.002)
                )
        return self.status

    def kill(self) -> None:
        """SIGKILL the child if it still runs, and reap it."""
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait(None)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _remaining(deadline: Optional[float]) -> Optional[float]:
    if deadline is None:
        return None
    return max(0.0, deadline - time.monotonic())


def _wait_time(deadline: Optional[float]) -> Optional[float]:
    """Return the seconds to wait in one step: what remains, at most
    _MAX_WAIT, or None to wait without limit."""
    remaining = _remaining(deadline)
    return None if remaining is None else min(remaining, _MAX_WAIT)


def _timeout_seconds(
    timeout: Optional[float], allow_zero: bool = False
) -> Optional[float]:
    """Check a timeout in seconds; return it, or None for no limit.

    None and ``math.inf`` mean no limit.  0 is allowed only with
    ``allow_zero``, for a single check that does not wait.
    """
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not "
            f"{type(timeout).__name__}"
        )
    if timeout == math.inf:
        return None
    valid = timeout >= 0 if allow_zero else timeout > 0
    # NaN fails both comparisons.
    if not valid:
        allowed = "0 or more" if allow_zero else "greater than 0"
        raise InvalidArgumentError(
            f"timeout={timeout!r} is invalid: use a number of seconds "
            f"{allowed}, or None or math.inf to wait without limit"
        )
    return timeout


def _deadline(seconds: Optional[float]) -> Optional[float]:
    """Return the time.monotonic() value when ``seconds`` from now pass."""
    return None if seconds is None else time.monotonic() + seconds


def _collect(
    watcher: _ChildWatcher, read_fd: int, deadline: Optional[float]
) -> Tuple[Optional[bytes], bool]:
    """Read the child's result frame.

    Returns the payload (None if the child sent none) and whether the
    deadline passed.
    """
    reader = _FrameReader()
    os.set_blocking(read_fd, False)
    poller = select.poll()
    poller.register(read_fd, select.POLLIN)
    if watcher.fd is not None:
        poller.register(watcher.fd, select.POLLIN)
    while True:
        remaining = _wait_time(deadline)
        if remaining is not None and remaining <= 0:
            return None, True
        wait_ms = None if remaining is None else int(remaining * 1000) + 1
        if watcher.fd is None:
            wait_ms = 10 if wait_ms is None else min(wait_ms, 10)
        events = poller.poll(wait_ms)
        frames, eof = _drain(read_fd, reader)
        if frames:
            return frames[0], False
        if eof:
            return None, False
        exited = any(fd == watcher.fd for fd, _ in events)
        if exited or (watcher.fd is None and watcher.poll() is not None):
            # The child is gone, but a process it forked may keep the
            # pipe open: read what the pipe contains and stop.
            frames, _ = _drain(read_fd, reader)
            return (frames[0] if frames else None), False


def _drain(fd: int, reader: _FrameReader) -> Tuple[List[bytes], bool]:
    """Read what a non-blocking pipe holds; return frames and end of file."""
    frames: List[bytes] = []
    while True:
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return frames, False
        if not data:
            return frames, True
        frames += reader.feed(data)
