"""Lock a process down to read, write and exit, then watch it die.

The child process prints a line, then tries to start a shell.  execve is
not in the allowlist, so the kernel kills the child with SIGSYS.

Run:  python examples/lockdown.py
"""

from __future__ import annotations

import os
import signal
import sys

import seccompx


def locked_down_child() -> None:
    with seccompx.Filter(default=seccompx.KILL_PROCESS) as f:
        f.allow("read", "write", "exit", "exit_group")
        f.load()
    # From here on only the four syscalls above work.
    os.write(1, b"child: locked down, now trying to run /bin/sh\n")
    os.execv("/bin/sh", ["sh", "-c", "echo unreachable"])


def main() -> int:
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            locked_down_child()
        finally:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS:
        print("parent: the child was killed by SIGSYS, as the filter requires")
        return 0
    print(f"parent: unexpected wait status {status:#x}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
