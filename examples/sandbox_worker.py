"""Run untrusted code in a sandboxed worker process.

Each piece of code runs in a fresh Python interpreter started with
``seccompx.sandbox.spawn``.  The interpreter starts under a denylist (no
network, no ptrace, no mounts), reads the code from its standard input,
then loads a second, strict filter of its own: from there on it can only
compute and write to standard output.  Any other syscall fails with EPERM,
so the code sees an ordinary PermissionError, except where the startup
filter kills: filters stack, and the kernel applies the most restrictive
action of all of them.  The result comes back as JSON, plain data that the
parent can parse safely.

``sandbox.run`` and ``sandbox.Executor`` are the tools for trusted code
that handles untrusted input.  They return results with pickle, and a
pickle written by hostile code could run code in the parent, so code that
is itself untrusted belongs in a separate program, as here.

Run:  python examples/sandbox_worker.py
"""

from __future__ import annotations

import json
import signal
import sys
from typing import Any, Dict

import seccompx
from seccompx import sandbox

UNTRUSTED_SOURCES = {
    "arithmetic": "sum(i * i for i in range(1000))",
    "network": "__import__('socket').socket()",
    "file": "open('/etc/hostname').read()",
    "program": "__import__('os').execv('/bin/id', ['id'])",
}

# The worker: read the code, load the strict filter, evaluate, print JSON.
WORKER = r"""
import json, os, socket, sys
import seccompx

source = sys.stdin.read()
f = seccompx.Filter(default=seccompx.ERRNO(1))
f.add_rule(seccompx.ALLOW, "write", seccompx.Arg(0) == 1)
f.allow("exit_group", "brk", "mmap", "munmap", "mremap", "madvise")
f.load()
try:
    reply = {"value": repr(eval(source, {"__builtins__": __builtins__}))}
except Exception as error:
    reply = {"error": f"{type(error).__name__}: {error}"}
os.write(1, json.dumps(reply).encode())
os._exit(0)
"""


def startup_filter() -> seccompx.Filter:
    """Build the denylist that the interpreter starts under."""
    f = seccompx.Filter(default=seccompx.ALLOW)
    f.deny(
        "socket", "connect", "bind", "ptrace", "process_vm_readv",
        "process_vm_writev", "mount", "umount2", "unshare", "setns", "bpf",
        "io_uring_setup", "keyctl", "add_key", "request_key",
        action=seccompx.KILL_PROCESS,
    )
    return f


def run_untrusted(source: str, f: seccompx.Filter) -> Dict[str, Any]:
    completed = sandbox.run_program(
        [sys.executable, "-c", WORKER],
        filter=f,
        input=source.encode(),
        capture_output=True,
        timeout=30,
    )
    if completed.returncode == -signal.SIGSYS:
        return {"killed": "SIGSYS"}
    if completed.returncode != 0:
        return {"failed": f"worker exited with {completed.returncode}: "
                          f"{completed.stderr.decode(errors='replace').strip()}"}
    reply: Dict[str, Any] = json.loads(completed.stdout)
    return reply


def main() -> int:
    f = startup_filter()
    outcomes = {}
    try:
        for label, source in UNTRUSTED_SOURCES.items():
            reply = run_untrusted(source, f)
            outcomes[label] = reply
            print(f"{label}: {source}\n  -> {reply}")
    finally:
        f.close()
    denied = "PermissionError: [Errno 1] Operation not permitted"
    ok = (
        outcomes["arithmetic"] == {"value": "332833500"}
        and outcomes["network"] == {"killed": "SIGSYS"}
        and all(outcomes[label].get("error", "").startswith(denied)
                for label in ("file", "program"))
    )
    if not ok:
        print("unexpected outcomes: see the lines above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
