"""Read, simulate and audit a filter without loading it.

A filter compiles to a Program: the BPF instructions the kernel would run
for every syscall.  This script prints the listing, runs the program on a
few syscalls (including the same number made through the i386 and x32
entry points), and audits it next to a denylist that misses those entry
points.

Run:  python examples/inspect_filter.py
"""

from __future__ import annotations

import errno
import struct
import sys

import seccompx
from seccompx import Arg, Program


def allowlist() -> Program:
    with seccompx.Filter(default=seccompx.KILL_PROCESS) as f:
        f.allow("read", "write", "exit_group")
        # openat(..., flags) with the O_ACCMODE bits equal to O_WRONLY
        # fails with EACCES; any other openat gets the default action.
        f.add_rule(seccompx.ERRNO(errno.EACCES), "openat", Arg(2).masked_eq(3, 1))
        return f.compile()


def naive_denylist() -> Program:
    """Build a hand-written denylist that checks neither arch nor x32 numbers."""
    # (code, jt, jf, k) records of struct sock_filter.  59 is execve on
    # x86_64, but oldolduname through the i386 entry point.
    instructions = [
        (0x20, 0, 0, 0),            # A = seccomp_data.nr
        (0x15, 0, 1, 59),           # if (A == 59) goto 2 else goto 3
        (0x06, 0, 0, 0x80000000),   # return KILL_PROCESS
        (0x06, 0, 0, 0x7FFF0000),   # return ALLOW
    ]
    return Program(b"".join(struct.pack("=HBBI", *i) for i in instructions))


def main() -> int:
    program = allowlist()
    print(f"allowlist: {len(program)} instructions, architectures "
          f"{', '.join(str(arch) for arch in program.arches)}")
    print(program.disassemble())

    probes = [
        ("read", [0, 0, 0], None),
        ("openat", [0xFFFFFF9C, 0, 0o1], None),  # O_WRONLY
        ("openat", [0xFFFFFF9C, 0, 0o0], None),  # O_RDONLY: the default
        ("execve", [0, 0, 0], None),
        ("read", [0, 0, 0], "x86"),              # the i386 entry point
        ("read", [0, 0, 0], "x32"),
    ]
    results = []
    for name, args, arch in probes:
        action = program.simulate(name, args, arch=arch)
        results.append(action)
        where = f" via {arch}" if arch else ""
        print(f"  {name}{where} {[hex(a) for a in args]} -> {action!r}")

    findings = program.audit()
    print(f"allowlist audit: {len(findings)} findings")

    denylist = naive_denylist()
    print("\nnaive denylist:")
    print(denylist.disassemble())
    denylist_findings = denylist.audit()
    for finding in denylist_findings:
        print(f"  {finding}")

    expected = [seccompx.ALLOW, seccompx.ERRNO(errno.EACCES), seccompx.KILL_PROCESS,
                seccompx.KILL_PROCESS, seccompx.KILL_PROCESS, seccompx.KILL_PROCESS]
    codes = {finding.code for finding in denylist_findings}
    if results != expected or findings or "no-arch-check" not in codes:
        print("unexpected outcome: see the lines above", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
