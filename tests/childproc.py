"""Run test bodies in forked children and report what the kernel did.

Loading a seccomp filter cannot be undone, so every test that loads one
runs its body through :func:`run_in_child`.  The body gets a pipe
descriptor to write results on with ``os.write`` (keep ``write`` allowed
in the filter to use it); the parent reads the pipe, waits with a timeout,
kills the child on expiry, and returns the exit status.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional

# Under AddressSanitizer (make sanitize) children run several times slower.
TIMEOUT_SCALE = 5 if "libasan" in os.environ.get("LD_PRELOAD", "") else 1
# Under valgrind (make valgrind) no filter can load: valgrind does not
# implement seccomp(), and a filter would also apply to valgrind itself.
UNDER_VALGRIND = "vgpreload" in os.environ.get("LD_PRELOAD", "")
# The fcntl command that sets a pipe's capacity.  The fcntl module names it
# from Python 3.10; 1031 is its value on Linux.
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

# Exit codes the helper itself uses in the child.
EXIT_BODY_RAISED = 71
EXIT_BODY_RETURNED_NON_INT = 0


@dataclass
class ChildResult:
    """How a child ended: ``exitcode`` or ``signal``, and what it wrote."""

    pid: int
    exitcode: Optional[int]
    signal: Optional[int]
    output: bytes

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def __str__(self) -> str:
        how = (
            f"killed by {signal.Signals(self.signal).name}"
            if self.signal is not None
            else f"exit code {self.exitcode}"
        )
        return f"child {self.pid} {how}, output {self.output!r}"


def run_in_child(
    body: Callable[[int], Optional[int]], timeout: float = 20.0
) -> ChildResult:
    """Run ``body(write_fd)`` in a forked child; return how it ended.

    The child exits with the int ``body`` returns (0 for None), or 71 after
    writing the traceback to the pipe if ``body`` raised.
    """
    if UNDER_VALGRIND:
        import pytest

        pytest.skip("valgrind cannot load seccomp filters")
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = EXIT_BODY_RAISED
        try:
            os.close(read_fd)
            result = body(write_fd)
            code = result if isinstance(result, int) else 0
        except BaseException:
            try:
                os.write(write_fd, traceback.format_exc().encode())
            except BaseException:
                pass
        finally:
            os._exit(code)

    os.close(write_fd)
    return _wait(pid, read_fd, timeout * TIMEOUT_SCALE)


def _wait(pid: int, read_fd: int, timeout: float) -> ChildResult:
    os.set_blocking(read_fd, False)
    chunks = []
    deadline = time.monotonic() + timeout
    status = None
    try:
        while True:
            _drain(read_fd, chunks)
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                raise AssertionError(
                    f"child {pid} still running after {timeout} s; killed it "
                    f"(output so far {b''.join(chunks)!r})"
                )
            time.sleep(0.002)
        _drain(read_fd, chunks)
    finally:
        os.close(read_fd)
    output = b"".join(chunks)
    if os.WIFSIGNALED(status):
        return ChildResult(pid, None, os.WTERMSIG(status), output)
    return ChildResult(pid, os.WEXITSTATUS(status), None, output)


def _drain(fd: int, chunks: list) -> None:
    while True:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if not data:
            return
        chunks.append(data)


def report(fd: int, text: str) -> None:
    """Write ``text`` and a newline to the result pipe from a child."""
    os.write(fd, text.encode() + b"\n")
