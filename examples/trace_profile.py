"""Learn the syscalls a program needs, then run it under that profile.

The program runs once with every syscall sent to a seccomp listener and
let through (learning mode, as ``seccompx trace`` does).  The syscalls it
made become an OCI profile that allows exactly those and fails every other
one with EPERM.  The program then runs again under the profile, and the
compiled filter shows what happens to a syscall the first run never made.

Run:  python examples/trace_profile.py [PROGRAM [ARG...]]
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Iterator, List

import seccompx
from seccompx import notify, sandbox


def default_command() -> List[str]:
    ls = shutil.which("ls")
    if ls is None:
        raise SystemExit("ls not found in PATH; pass a program to trace")
    return [ls, "/"]


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """Send the traced program's output, written to our fd 1, to /dev/null."""
    sys.stdout.flush()
    saved = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def main(argv: List[str]) -> int:
    command = argv or default_command()

    # 1. Learning mode: run the program, record every syscall it makes.
    with stdout_to_devnull():
        result = notify.trace(command)
    print(f"traced {command}: exit status {result.returncode}, "
          f"{len(result.names)} distinct syscalls")
    print("  " + " ".join(result.names))

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "learned.json")
        with open(path, "w") as file:
            json.dump(result.to_profile(), file, indent=2)
        print(f"wrote the profile ({os.path.getsize(path)} bytes)")

        # 2. Run the program again under the learned profile, with its
        # output going where it went during the trace.
        f = seccompx.Filter.from_profile(path)
        try:
            program = f.compile()
            rerun = sandbox.run_program(command, filter=f, stdout=subprocess.DEVNULL)
        finally:
            f.close()
    print(f"under the profile: exit status {rerun.returncode}")

    # 3. A syscall the first run never made gets the default action.
    unseen = next(name for name in ("ptrace", "mount", "reboot") if name not in result.names)
    action = program.simulate(unseen)
    print(f"{unseen}(), never seen in the trace, would get {action!r}")
    for name in result.names[:3]:
        print(f"{name}(), seen in the trace, gets {program.simulate(name)!r}")

    if rerun.returncode != result.returncode or action != seccompx.ERRNO(1):
        print("unexpected outcome: see the lines above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
