"""Load a Docker seccomp profile, see what it allows, and enforce it.

Pass the path of a Docker or OCI profile (Docker's default profile, for
instance).  Without one, a small built-in profile in Docker's format is
used: it has an ``archMap`` and entries that apply only with a capability
(``includes.caps``), as Docker's default profile does.

The profile is built for this machine, as Docker builds it for a
container with a given set of capabilities, then checked without loading
it (which entries applied, what a few syscalls would get), and finally
loaded in a child process that tries chroot(2).

Run:  python examples/docker_profile.py [PROFILE.json]
"""

from __future__ import annotations

import errno
import os
import sys
from typing import Any, Dict, List, Optional

import seccompx

# The capabilities of the simulated container: chown and kill only, so
# entries that need CAP_SYS_CHROOT or CAP_SYS_ADMIN are left out.
CONTAINER_CAPABILITIES = ["CAP_CHOWN", "CAP_KILL"]

BUILTIN_PROFILE: Dict[str, Any] = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": errno.EPERM,
    "archMap": [
        {"architecture": "SCMP_ARCH_X86_64",
         "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ],
    "syscalls": [
        {
            "names": ["read", "write", "close", "exit", "exit_group", "brk",
                      "mmap", "munmap", "mprotect", "rt_sigreturn",
                      "rt_sigaction", "rt_sigprocmask", "futex", "getpid"],
            "action": "SCMP_ACT_ALLOW",
        },
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
            "comment": "the default execution domain only",
        },
        {
            "names": ["chroot"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"caps": ["CAP_SYS_CHROOT"]},
        },
        {
            "names": ["mount", "umount2"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"caps": ["CAP_SYS_ADMIN"]},
        },
    ],
}

PROBES = [("read", [0]), ("chroot", [0]), ("personality", [0]),
          ("personality", [0xFFFFFFFF]), ("ptrace", [0])]


def describe(f: seccompx.Filter) -> None:
    report = f.profile_report
    assert report is not None
    print(f"profile {report.source}: default {report.default_action!r}, "
          f"architectures {' '.join(str(a) for a in report.arches)}")
    print(f"  {report.entries} entries, {report.rules} rules for "
          f"{report.syscalls} syscalls, {f.instruction_count()} BPF instructions")
    for entry in report.excluded:
        print(f"  left out {entry.path}: {entry.reason}")
    for name in report.skipped[:5]:
        print(f"  skipped {name.path}: {name.name}: {name.reason}")


def try_chroot_in_child(f: seccompx.Filter) -> Optional[str]:
    """Load ``f`` in a child that calls chroot("/"); return what happened."""
    read_fd, write_fd = os.pipe()
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(read_fd)
            f.load()
            try:
                os.chroot("/")
                os.write(write_fd, b"chroot allowed")
            except OSError as error:
                os.write(write_fd, f"chroot failed: {errno.errorcode[error.errno or 0]}".encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        outcome = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    print(f"child under the filter: {outcome or 'wrote nothing'} "
          f"(wait status {status:#x})")
    return outcome if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else None


def main(argv: List[str]) -> int:
    builtin = not argv
    source: Any = BUILTIN_PROFILE if builtin else argv[0]
    # A real profile is built with this process's own capabilities.
    capabilities = CONTAINER_CAPABILITIES if builtin else None
    f = seccompx.Filter.from_profile(source, capabilities=capabilities)
    try:
        describe(f)
        program = f.compile()
        for name, args in PROBES:
            shown = ", ".join(hex(a) for a in args)
            print(f"  {name}({shown}) -> {program.simulate(name, args)!r}")
        outcome = try_chroot_in_child(f)
    finally:
        f.close()
    if outcome is None:
        print("the child did not finish normally", file=sys.stderr)
        return 1
    if builtin and outcome != "chroot failed: EPERM":
        print("the built-in profile should fail chroot with EPERM", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
