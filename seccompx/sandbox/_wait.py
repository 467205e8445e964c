"""Waiting for children and reading their results."""

from __future__ import annotations

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


class _ChildWatcher:
    """Wait for one child, through a pidfd where the kernel has them."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.status: Optional[int] = None
        self.fd: Optional[int] = None
        pidfd_open = getattr(os, "pidfd_open", None)
        if pidfd_open is not None:
            try:
                self.fd = pidfd_open(pid)
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
        while self.poll() is None:
            remaining = _remaining(deadline)
            if remaining is not None and remaining <= 0:
                return None
            if self.fd is not None:
                select.select([self.fd], [], [], remaining)
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


def _deadline(timeout: Optional[float]) -> Optional[float]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds or None, not "
            f"{type(timeout).__name__}"
        )
    if not timeout > 0:
        raise InvalidArgumentError(
            f"timeout {timeout!r} is invalid: use a positive number of "
            "seconds, or None to wait without limit"
        )
    return time.monotonic() + timeout


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
        remaining = _remaining(deadline)
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
