"""Refuse forbidden syscalls with EPERM instead of killing the process.

With default action ERRNO(EPERM), a forbidden syscall fails like any other
error, so the program can report it and go on.

Run:  python examples/eperm.py
"""

from __future__ import annotations

import errno
import os
import sys

import seccompx


def main() -> int:
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            f = seccompx.Filter(default=seccompx.ERRNO(errno.EPERM))
            f.allow("read", "write", "exit", "exit_group")
            f.load()
            try:
                os.execv("/bin/sh", ["sh", "-c", "echo unreachable"])
            except PermissionError as error:
                os.write(1, f"child: execve refused: {error}\n".encode())
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0:
        print("parent: the child was refused with EPERM and exited normally")
        return 0
    print(f"parent: unexpected wait status {status:#x}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
