"""Run untrusted code in a sandboxed worker process.

The worker is a forked child that loads the filter before it runs the
code.  The filter allows only the syscalls that pure computation and the
result transport need, so the code can compute and return a value, but
anything that reaches the outside (a socket, a file, a new program) makes
the kernel stop the child.  The parent learns which syscall it was.

Run:  python examples/sandbox_worker.py
"""

from __future__ import annotations

import socket  # noqa: F401 - imported here, so the child needs no files for it
import sys

import seccompx
from seccompx import sandbox

UNTRUSTED_SOURCES = {
    "arithmetic": "sum(i * i for i in range(1000))",
    "network": "__import__('socket').socket()",
    "file": "open('/etc/hostname').read()",
}


def evaluate(source: str) -> object:
    """Evaluate an expression.  Runs in the sandboxed child."""
    return eval(source, {"__builtins__": __builtins__})


def compute_only_filter() -> seccompx.Filter:
    f = seccompx.Filter(default=seccompx.KILL_PROCESS)
    # The result transport (sandbox.TRANSPORT_SYSCALLS) and the memory that
    # computing and pickling the result may allocate.
    f.allow(*sandbox.TRANSPORT_SYSCALLS)
    f.allow("brk", "mmap", "munmap", "mremap", "madvise")
    return f


def main() -> int:
    f = compute_only_filter()
    outcomes = {}
    try:
        for label, source in UNTRUSTED_SOURCES.items():
            try:
                value = sandbox.run(evaluate, source, filter=f, timeout=10)
            except seccompx.SandboxViolation as violation:
                outcomes[label] = f"stopped at {violation.syscall}"
                print(f"{label}: {source}\n  stopped: {violation}")
            else:
                outcomes[label] = f"returned {value!r}"
                print(f"{label}: {source}\n  returned {value!r}")
    finally:
        f.close()
    expected = {
        "arithmetic": "returned 332833500",
        "network": "stopped at socket",
        "file": "stopped at openat",
    }
    if outcomes != expected:
        print(f"unexpected outcomes: {outcomes}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
