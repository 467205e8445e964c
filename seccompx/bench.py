"""Filter-load latency benchmarks: built-in policies and a forked sampler.

Every sample runs in a freshly forked child, because a loaded filter
cannot be removed and a second filter would stack on the first.  The
parent builds and exports each filter once before sampling, so libseccomp's
first-use probe of the kernel (in the first ``seccomp_init`` of a process)
and Python's first-call costs are paid there and not in the children.

The policies defined here are the ones ``seccompx bench`` and the scripts
under ``benchmarks/`` measure; :meth:`Policy.to_json` hands the same rules
to the other implementations compared.
"""

from __future__ import annotations

import contextlib
import errno as _errno
import gc
import json
import math
import os
import platform
import reprlib
import select
import signal
import struct
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterator, List, Optional, Sequence, Tuple

from . import _bench
from ._actions import ALLOW, ERRNO, KILL_PROCESS, Action, ActionKind
from ._errors import (
    InvalidArgumentError,
    SeccompError,
    UnknownSyscallError,
    UnsupportedError,
)
from ._filter import Filter, _returns_notify, libseccomp_version, resolve_syscall
from ._types import Arg, Comparison
from .program import Program

__all__ = [
    "BenchmarkError",
    "POLICY_NAMES",
    "STAGES",
    "SYSCALLS",
    "SYSCALL_CHUNKS",
    "Policy",
    "Summary",
    "Target",
    "load_flags",
    "load_options",
    "machine_info",
    "percentile",
    "policy",
    "policy_target",
    "profile_target",
    "run",
    "sample_in_children",
    "summarize",
]


class BenchmarkError(SeccompError):
    """A benchmark sample failed: its child died, hung or raised."""


# Policies ------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    """A filter to benchmark: an allowlist plus rules with other actions or
    argument comparisons.

    ``allow`` and ``rules`` may name syscalls that the native architecture
    lacks, as real profiles do; :meth:`native` drops them.
    """

    name: str
    description: str
    default: Action
    allow: Tuple[str, ...]
    rules: Tuple[Tuple[Action, str, Tuple[Comparison, ...]], ...] = ()
    optimize: Optional[int] = None
    dropped: Tuple[str, ...] = field(default=(), compare=False)

    @property
    def rule_count(self) -> int:
        """The number of rules the filter gets."""
        return len(self.allow) + len(self.rules)

    def native(self) -> "Policy":
        """This policy without the syscalls the native architecture lacks."""
        known: Dict[str, bool] = {}

        def exists(name: str) -> bool:
            if name not in known:
                try:
                    resolve_syscall(name)
                    known[name] = True
                except UnknownSyscallError:
                    known[name] = False
            return known[name]

        allow = tuple(name for name in self.allow if exists(name))
        rules = tuple(rule for rule in self.rules if exists(rule[1]))
        dropped = tuple(
            sorted(
                {name for name in self.allow if not exists(name)}
                | {rule[1] for rule in self.rules if not exists(rule[1])}
            )
        )
        return Policy(
            self.name,
            self.description,
            self.default,
            allow,
            rules,
            self.optimize,
            self.dropped + dropped,
        )

    def build(self) -> Filter:
        """Build the filter the way an application would: one ``allow`` call
        for the allowlist and one ``add_rules`` call for the rest."""
        result = Filter(self.default, optimize=self.optimize)
        result.allow(*self.allow)
        if self.rules:
            result.add_rules(self.rules)
        return result

    def to_json(self) -> Dict[str, Any]:
        """Return the policy as plain data, for implementations without
        seccompx.

        Actions and comparison operators are libseccomp's raw values.
        """
        return {
            "name": self.name,
            "default": int(self.default),
            "optimize": self.optimize,
            "allow": list(self.allow),
            "rules": [
                [
                    int(action),
                    name,
                    [[c.arg, int(c.op), c.datum_a, c.datum_b] for c in comparisons],
                ]
                for action, name, comparisons in self.rules
            ],
        }


_SMALL_ALLOW = ("read", "write", "exit", "exit_group")

# A network service: file and socket I/O, polling, memory, signals, time.
_MEDIUM_ALLOW = (
    "accept4",
    "bind",
    "brk",
    "clock_gettime",
    "clock_nanosleep",
    "close",
    "connect",
    "dup",
    "dup3",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_wait",
    "eventfd2",
    "exit",
    "exit_group",
    "fcntl",
    "fstat",
    "futex",
    "getdents64",
    "getpeername",
    "getpid",
    "getppid",
    "getrandom",
    "getsockname",
    "getsockopt",
    "gettid",
    "ioctl",
    "listen",
    "lseek",
    "madvise",
    "mmap",
    "mprotect",
    "munmap",
    "nanosleep",
    "newfstatat",
    "openat",
    "pipe2",
    "poll",
    "ppoll",
    "pread64",
    "prlimit64",
    "pwrite64",
    "read",
    "readv",
    "recvfrom",
    "recvmsg",
    "rseq",
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sendmsg",
    "sendto",
    "set_robust_list",
    "setsockopt",
    "shutdown",
    "sigaltstack",
    "socket",
    "uname",
    "write",
)

# Modelled on container runtimes' default profiles: nearly every syscall,
# minus those that administer the machine (modules, mounts, clocks, swap,
# reboot), escape namespaces (setns, unshare) or inspect other processes
# (ptrace, process_vm_readv).  Names of other architectures' syscalls are
# listed too, as such profiles do; Policy.native drops those absent here.
_LARGE_ALLOW = (
    "_llseek",
    "_newselect",
    "accept",
    "accept4",
    "access",
    "adjtimex",
    "alarm",
    "arch_prctl",
    "arm_fadvise64_64",
    "arm_sync_file_range",
    "bind",
    "breakpoint",
    "brk",
    "cachestat",
    "cacheflush",
    "capget",
    "capset",
    "chdir",
    "chmod",
    "chown",
    "chown32",
    "chroot",
    "clock_getres",
    "clock_getres_time64",
    "clock_gettime",
    "clock_gettime64",
    "clock_nanosleep",
    "clock_nanosleep_time64",
    "close",
    "close_range",
    "connect",
    "copy_file_range",
    "creat",
    "dup",
    "dup2",
    "dup3",
    "epoll_create",
    "epoll_create1",
    "epoll_ctl",
    "epoll_pwait",
    "epoll_pwait2",
    "epoll_wait",
    "eventfd",
    "eventfd2",
    "execve",
    "execveat",
    "exit",
    "exit_group",
    "faccessat",
    "faccessat2",
    "fadvise64",
    "fadvise64_64",
    "fallocate",
    "fanotify_init",
    "fanotify_mark",
    "fchdir",
    "fchmod",
    "fchmodat",
    "fchmodat2",
    "fchown",
    "fchown32",
    "fchownat",
    "fcntl",
    "fcntl64",
    "fdatasync",
    "fgetxattr",
    "flistxattr",
    "flock",
    "fork",
    "fremovexattr",
    "fsetxattr",
    "fstat",
    "fstat64",
    "fstatat64",
    "fstatfs",
    "fstatfs64",
    "fsync",
    "ftruncate",
    "ftruncate64",
    "futex",
    "futex_requeue",
    "futex_time64",
    "futex_wait",
    "futex_waitv",
    "futex_wake",
    "futimesat",
    "get_mempolicy",
    "get_robust_list",
    "get_thread_area",
    "getcpu",
    "getcwd",
    "getdents",
    "getdents64",
    "getegid",
    "getegid32",
    "geteuid",
    "geteuid32",
    "getgid",
    "getgid32",
    "getgroups",
    "getgroups32",
    "getitimer",
    "getpeername",
    "getpgid",
    "getpgrp",
    "getpid",
    "getppid",
    "getpriority",
    "getrandom",
    "getresgid",
    "getresgid32",
    "getresuid",
    "getresuid32",
    "getrlimit",
    "getrusage",
    "getsid",
    "getsockname",
    "getsockopt",
    "gettid",
    "gettimeofday",
    "getuid",
    "getuid32",
    "getxattr",
    "inotify_add_watch",
    "inotify_init",
    "inotify_init1",
    "inotify_rm_watch",
    "io_cancel",
    "io_destroy",
    "io_getevents",
    "io_pgetevents",
    "io_pgetevents_time64",
    "io_setup",
    "io_submit",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioctl",
    "ioprio_get",
    "ioprio_set",
    "ipc",
    "kill",
    "landlock_add_rule",
    "landlock_create_ruleset",
    "landlock_restrict_self",
    "lchown",
    "lchown32",
    "lgetxattr",
    "link",
    "linkat",
    "listen",
    "listxattr",
    "llistxattr",
    "lremovexattr",
    "lseek",
    "lsetxattr",
    "lstat",
    "lstat64",
    "madvise",
    "mbind",
    "membarrier",
    "memfd_create",
    "migrate_pages",
    "mincore",
    "mkdir",
    "mkdirat",
    "mknod",
    "mknodat",
    "mlock",
    "mlock2",
    "mlockall",
    "mmap",
    "mmap2",
    "modify_ldt",
    "move_pages",
    "mprotect",
    "mq_getsetattr",
    "mq_notify",
    "mq_open",
    "mq_timedreceive",
    "mq_timedreceive_time64",
    "mq_timedsend",
    "mq_timedsend_time64",
    "mq_unlink",
    "mremap",
    "msgctl",
    "msgget",
    "msgrcv",
    "msgsnd",
    "msync",
    "munlock",
    "munlockall",
    "munmap",
    "name_to_handle_at",
    "nanosleep",
    "newfstatat",
    "open",
    "openat",
    "openat2",
    "pause",
    "pidfd_getfd",
    "pidfd_open",
    "pidfd_send_signal",
    "pipe",
    "pipe2",
    "pkey_alloc",
    "pkey_free",
    "pkey_mprotect",
    "poll",
    "ppoll",
    "ppoll_time64",
    "prctl",
    "pread64",
    "preadv",
    "preadv2",
    "prlimit64",
    "process_madvise",
    "process_mrelease",
    "pselect6",
    "pselect6_time64",
    "pwrite64",
    "pwritev",
    "pwritev2",
    "read",
    "readahead",
    "readlink",
    "readlinkat",
    "readv",
    "recv",
    "recvfrom",
    "recvmmsg",
    "recvmmsg_time64",
    "recvmsg",
    "remap_file_pages",
    "removexattr",
    "rename",
    "renameat",
    "renameat2",
    "restart_syscall",
    "riscv_flush_icache",
    "rmdir",
    "rseq",
    "rt_sigaction",
    "rt_sigpending",
    "rt_sigprocmask",
    "rt_sigqueueinfo",
    "rt_sigreturn",
    "rt_sigsuspend",
    "rt_sigtimedwait",
    "rt_sigtimedwait_time64",
    "rt_tgsigqueueinfo",
    "s390_pci_mmio_read",
    "s390_pci_mmio_write",
    "s390_runtime_instr",
    "sched_get_priority_max",
    "sched_get_priority_min",
    "sched_getaffinity",
    "sched_getattr",
    "sched_getparam",
    "sched_getscheduler",
    "sched_rr_get_interval",
    "sched_rr_get_interval_time64",
    "sched_setaffinity",
    "sched_setattr",
    "sched_setparam",
    "sched_setscheduler",
    "sched_yield",
    "seccomp",
    "select",
    "semctl",
    "semget",
    "semop",
    "semtimedop",
    "semtimedop_time64",
    "send",
    "sendfile",
    "sendfile64",
    "sendmmsg",
    "sendmsg",
    "sendto",
    "set_mempolicy",
    "set_robust_list",
    "set_thread_area",
    "set_tid_address",
    "set_tls",
    "setdomainname",
    "setfsgid",
    "setfsgid32",
    "setfsuid",
    "setfsuid32",
    "setgid",
    "setgid32",
    "setgroups",
    "setgroups32",
    "sethostname",
    "setitimer",
    "setpgid",
    "setpriority",
    "setregid",
    "setregid32",
    "setresgid",
    "setresgid32",
    "setresuid",
    "setresuid32",
    "setreuid",
    "setreuid32",
    "setrlimit",
    "setsid",
    "setsockopt",
    "setuid",
    "setuid32",
    "setxattr",
    "shmat",
    "shmctl",
    "shmdt",
    "shmget",
    "shutdown",
    "sigaction",
    "sigaltstack",
    "signal",
    "signalfd",
    "signalfd4",
    "sigpending",
    "sigprocmask",
    "sigreturn",
    "sigsuspend",
    "socketcall",
    "socketpair",
    "splice",
    "stat",
    "stat64",
    "statfs",
    "statfs64",
    "statx",
    "symlink",
    "symlinkat",
    "sync",
    "sync_file_range",
    "sync_file_range2",
    "syncfs",
    "sysinfo",
    "tee",
    "tgkill",
    "time",
    "timer_create",
    "timer_delete",
    "timer_getoverrun",
    "timer_gettime",
    "timer_gettime64",
    "timer_settime",
    "timer_settime64",
    "timerfd_create",
    "timerfd_gettime",
    "timerfd_gettime64",
    "timerfd_settime",
    "timerfd_settime64",
    "times",
    "tkill",
    "truncate",
    "truncate64",
    "ugetrlimit",
    "umask",
    "uname",
    "unlink",
    "unlinkat",
    "utime",
    "utimensat",
    "utimensat_time64",
    "utimes",
    "vfork",
    "vmsplice",
    "wait4",
    "waitid",
    "waitpid",
    "write",
    "writev",
)

# Namespace flags of clone(2): CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC,
# NEWUSER, NEWPID, NEWNET.  An unprivileged container may clone without
# them only.
_CLONE_NAMESPACE_FLAGS = 0x7E020000
# personality(2) values that only select an ABI or query: PER_LINUX,
# UNAME26, PER_LINUX32, PER_LINUX32|UNAME26, and 0xffffffff (query).
_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
# socket(2) families a service needs: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK.
_SOCKET_FAMILIES = (1, 2, 10, 16)

_LARGE_RULES: Tuple[Tuple[Action, str, Tuple[Comparison, ...]], ...] = (
    tuple((ALLOW, "personality", (Arg(0) == value,)) for value in _PERSONALITIES)
    + ((ALLOW, "clone", (Arg(0).masked_eq(_CLONE_NAMESPACE_FLAGS, 0),)),)
    + tuple((ALLOW, "socket", (Arg(0) == family,)) for family in _SOCKET_FAMILIES)
    # glibc falls back to clone when clone3 fails with ENOSYS.
    + ((ERRNO(_errno.ENOSYS), "clone3", ()),)
)

_POLICIES: Dict[str, Policy] = {
    "small": Policy(
        "small",
        "read, write, exit and exit_group allowed; default KILL_PROCESS",
        KILL_PROCESS,
        _SMALL_ALLOW,
    ),
    "medium": Policy(
        "medium",
        "60-syscall allowlist of a network service; default KILL_PROCESS",
        KILL_PROCESS,
        _MEDIUM_ALLOW,
    ),
    "large": Policy(
        "large",
        f"container-style profile: {len(_LARGE_ALLOW)} names allowed, 10 "
        "argument rules, clone3 answered with ENOSYS; default ERRNO(EPERM)",
        ERRNO(_errno.EPERM),
        _LARGE_ALLOW,
        _LARGE_RULES,
    ),
    "large-tree": Policy(
        "large-tree",
        "the large policy compiled as a binary tree (optimize=2)",
        ERRNO(_errno.EPERM),
        _LARGE_ALLOW,
        _LARGE_RULES,
        optimize=2,
    ),
}

POLICY_NAMES: Tuple[str, ...] = tuple(_POLICIES)


def policy(name: str) -> Policy:
    """Return built-in policy ``name``, limited to the native architecture."""
    try:
        chosen = _POLICIES[name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown benchmark policy {name!r}; use one of " + ", ".join(POLICY_NAMES)
        ) from None
    return chosen.native()


# Syscalls the per-syscall loop may call, with the first argument it passes
# (the others are 0).  Each returns at once without side effects: the fd -1
# makes read, write and close fail with EBADF after the filter ran, and
# personality(0xffffffff) only queries.  The large policies allow
# personality through argument rules, so the kernel runs their BPF for it
# instead of using its cache of always-allowed syscalls.
SYSCALLS: Dict[str, int] = {
    "getppid": 0,
    "getpid": 0,
    "gettid": 0,
    "getuid": 0,
    "geteuid": 0,
    "getgid": 0,
    "getegid": 0,
    "getpgrp": 0,
    "getsid": 0,
    "getpriority": 0,
    "sched_yield": 0,
    "personality": 0xFFFFFFFF,
    "read": -1,
    "write": -1,
    "close": -1,
}


# Statistics ----------------------------------------------------------------


@dataclass(frozen=True)
class Summary:
    """Median, 10th and 90th percentiles of one stage's samples."""

    median: float
    p10: float
    p90: float
    samples: int
    unit: str

    def to_json(self) -> Dict[str, Any]:
        return {
            "unit": self.unit,
            "median": round(self.median, 3),
            "p10": round(self.p10, 3),
            "p90": round(self.p90, 3),
            "samples": self.samples,
        }


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the ``fraction`` quantile of ``values``, interpolating
    linearly between the two nearest ranks (numpy's default method).

    ``fraction`` is a number from 0 to 1 (0.5 for the median).  Raises
    TypeError for a ``fraction`` or value that is not a real number, and
    InvalidArgumentError for an empty ``values``, a NaN or a ``fraction``
    outside 0 to 1.
    """
    _check_real(fraction, "fraction")
    if not 0 <= fraction <= 1:
        raise InvalidArgumentError(
            f"percentile fraction {fraction!r} is out of range: use a number "
            "from 0 to 1 (0.5 for the median)"
        )
    if not values:
        raise InvalidArgumentError("cannot take a percentile of no samples")
    for value in values:
        _check_real(value, "sample")
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    weight = position - lower
    return ordered[lower] * (1 - weight) + ordered[upper] * weight


def _check_real(value: object, name: str) -> None:
    """Raise unless ``value`` is an int or float other than NaN."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be an int or float, not {type(value).__name__} "
            f"{value!r}"
        )
    if math.isnan(value):
        raise InvalidArgumentError(f"{name} must be a number, not NaN")


def summarize(values: Sequence[float], unit: str) -> Summary:
    """Summarise samples that are already in ``unit``."""
    return Summary(
        median=percentile(values, 0.5),
        p10=percentile(values, 0.1),
        p90=percentile(values, 0.9),
        samples=len(values),
        unit=unit,
    )


# Sampling ------------------------------------------------------------------

_OK = b"="
_FAILED = b"!"
# Marks a message saying that the body returned something other than a
# sequence of 64-bit integers.
_BAD_RESULT = b"?"


def sample_in_children(
    body: Callable[[], Sequence[int]], samples: int, timeout: float = 30.0
) -> List[Tuple[int, ...]]:
    """Run ``body`` in ``samples`` freshly forked children, one at a time.

    ``body`` returns a sequence of integers from -2**63 to 2**63 - 1,
    usually nanosecond intervals.  The child sends them to the parent on a
    pipe and leaves with ``os._exit``, so it makes only ``write`` and
    ``exit_group`` after ``body`` returns.  ``timeout`` is the number of
    seconds each child may run.

    Raises InvalidArgumentError when ``samples`` is below 1 or
    ``timeout`` is not a positive, finite number, TypeError when ``body``
    returns anything but such a sequence, and BenchmarkError when a
    child raises, dies from a signal or runs longer than ``timeout``.

    The garbage collector is off while the children are forked, as timeit
    turns it off, and back on afterwards if it was on.  Before forking,
    free blocks are left in Python's allocator for the objects a child
    creates after loading a filter.  :func:`run` forks its children the
    same way.
    """
    _check_count(samples, "samples", 1)
    _check_timeout(timeout)
    with _sampling():
        return [_sample_once(body, timeout) for _ in range(samples)]


@contextlib.contextmanager
def _sampling() -> Iterator[None]:
    """Prepare this process for forking benchmark children in the block.

    The garbage collector is off in the block and back on afterwards if it
    was on before.  A collection in a child would write to many pages it
    shares with the parent.  It would also run finalizers after the child
    loaded a filter, which may deny the syscalls they make.  Before the
    block runs, :func:`_reserve_free_blocks` leaves free allocator blocks
    for the children, and the objects that keep their pools are held until
    the block ends.
    """
    enabled = gc.isenabled()
    gc.disable()
    reserve = _reserve_free_blocks()
    try:
        yield
    finally:
        del reserve
        if enabled:
            gc.enable()


def _check_timeout(timeout: float) -> None:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(
            f"timeout must be a number of seconds, not "
            f"{type(timeout).__name__} {timeout!r}"
        )
    if not (math.isfinite(timeout) and timeout > 0):
        raise InvalidArgumentError(
            f"timeout {timeout!r} is invalid: use a positive, finite number "
            "of seconds"
        )


def _reserve_free_blocks() -> List[object]:
    """Leave free blocks in every small size class of Python's allocator,
    and return the objects that keep their pools in use.

    After loading its filter, a child still creates a few objects: the
    timestamps and the bytes it sends.  When a size class has no free block
    and no arena a free pool, Python's allocator maps a new arena, and a
    filter that allows only write and exit_group kills the child for that
    mmap.  The blocks freed here are inherited by every child forked
    afterwards, and the objects kept alive keep their pools and arenas from
    being released.
    """
    blocks: List[object] = [(1 << 62) + i for i in range(64)]
    blocks += [bytes(size) for size in range(512) for _ in range(8)]
    return blocks[::16]


def _sample_once(body: Callable[[], Sequence[int]], timeout: float) -> Tuple[int, ...]:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when the process started without it
            stream.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_fd)
            result = body()
            try:
                values = tuple(result)
                message = _OK + struct.pack(f"<{len(values)}q", *values)
                status = 0
            except (TypeError, struct.error):
                message = _BAD_RESULT + _bad_result_message(result).encode()
            os.write(write_fd, message)
        except BaseException:
            status = 1
            try:
                os.write(write_fd, _FAILED + traceback.format_exc().encode())
            except BaseException:
                pass
        finally:
            os._exit(status)

    os.close(write_fd)
    try:
        data = _read_until_eof(read_fd, pid, timeout)
    finally:
        os.close(read_fd)
    _, status = os.waitpid(pid, 0)
    return _decode_sample(pid, status, data)


def _bad_result_message(result: object) -> str:
    return (
        f"the benchmark body returned {type(result).__name__} "
        f"{reprlib.repr(result)}; it must return a sequence of integers "
        "from -2**63 to 2**63 - 1"
    )


def _read_until_eof(fd: int, pid: int, timeout: float) -> bytes:
    chunks: List[bytes] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0.0))
        if not ready:
            hint = _NOTIFY_HINT if _has_notify_listener(pid) else ""
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise BenchmarkError(
                f"benchmark child {pid} timed out after {timeout} s and was "
                f"killed{hint}",
                _errno.ETIMEDOUT,
            )
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _has_notify_listener(pid: int) -> bool:
    """Check whether process ``pid`` has a seccomp notification listener.

    Returns False as well when /proc does not show the process's
    descriptors.
    """
    directory = f"/proc/{pid}/fd"
    try:
        names = os.listdir(directory)
    except OSError:
        return False
    for name in names:
        try:
            target = os.readlink(f"{directory}/{name}")
        except OSError:
            continue
        if target == "anon_inode:seccomp notify":
            return True
    return False


# The syscalls a benchmark child makes after loading its filter.
# _sample_once() sends the samples with write and leaves with os._exit
# (exit_group), and time.perf_counter_ns() uses clock_gettime, which the
# vDSO usually serves without a syscall.  The syscall stage adds an ALLOW
# rule for its own loop's call.
_CHILD_SYSCALLS = ("write", "exit_group")
_CHILD_NEEDS = (
    "After loading, the benchmark child calls write (to send its samples) and "
    "exit_group, and clock_gettime where the vDSO cannot read the clock; "
    "allow these in the profile or policy"
)
_SIGSYS_HINT = (
    "; the filter denied a syscall the child made after loading it. " + _CHILD_NEEDS
)
# TRACE fails the call with ENOSYS when no tracer is attached.
_WRITE_FAILED = "the filter fails write (ERRNO, or TRACE with no tracer attached)"
# glibc's _exit() calls exit when exit_group returns, and when that returns
# too it runs an instruction that raises a signal (hlt, SIGSEGV, on x86).
_EXIT_FAILED = (
    "the filter fails exit_group and exit, after which glibc's _exit() runs "
    "an instruction that raises a signal"
)
_NO_OUTPUT_HINT = (
    f"; the child sent nothing, as happens when {_WRITE_FAILED}. {_CHILD_NEEDS}"
)
_NO_EXIT_HINT = (
    f"; the child could not exit, as happens when {_EXIT_FAILED}. {_CHILD_NEEDS}"
)
_NO_OUTPUT_NO_EXIT_HINT = (
    "; the child sent nothing and could not exit, as happens when "
    f"{_WRITE_FAILED}, exit_group and exit. {_CHILD_NEEDS}"
)
_NOTIFY_HINT = (
    "; the child has a seccomp notification listener, so it is probably "
    "waiting for a response to a NOTIFY action, and nothing responds to "
    "notifications in a benchmark. The filter must not return NOTIFY for "
    "the syscalls the child makes after loading it. " + _CHILD_NEEDS
)
# Signals that glibc's _exit() raises when exit_group fails: it runs hlt,
# an undefined or a trap instruction, depending on the architecture.  A
# handler that catches them, such as AddressSanitizer's, may abort instead.
_EXIT_FAILED_SIGNALS = (signal.SIGSEGV, signal.SIGILL, signal.SIGTRAP, signal.SIGABRT)


def _death_hint(number: int, data: bytes) -> str:
    """Return the hint for a child killed by signal ``number`` after
    sending ``data``."""
    if number == signal.SIGSYS:
        return _SIGSYS_HINT
    if number not in _EXIT_FAILED_SIGNALS:
        return ""
    if data[:1] == _OK:
        return _NO_EXIT_HINT
    if not data:
        return _NO_OUTPUT_NO_EXIT_HINT
    return ""


def _decode_sample(pid: int, status: int, data: bytes) -> Tuple[int, ...]:
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        name = signal.Signals(number).name
        sent = " after sending its samples" if data[:1] == _OK else ""
        hint = _death_hint(number, data)
        raise BenchmarkError(
            f"benchmark child {pid} was killed by {name}{sent}{hint}",
            _errno.ECHILD,
        )
    if data[:1] == _BAD_RESULT:
        raise TypeError(data[1:].decode(errors="replace"))
    if data[:1] != _OK or os.WEXITSTATUS(status) != 0:
        detail = data[1:].decode(errors="replace").strip()
        hint = "" if detail else _NO_OUTPUT_HINT
        raise BenchmarkError(
            f"benchmark child {pid} failed with exit code "
            f"{os.WEXITSTATUS(status)}: {detail or 'no output'}{hint}",
            _errno.ECHILD,
        )
    payload = data[1:]
    return struct.unpack(f"<{len(payload) // 8}q", payload)


# Stages --------------------------------------------------------------------

# Stage names in report order.  Times are in microseconds except the
# per-syscall figures, which are nanoseconds per call.
STAGES = ("build", "compile", "load", "build+load", "precompiled-load")

Builder = Callable[[], Filter]


def _build_load_body(build: Builder) -> Callable[[], Sequence[int]]:
    def body() -> Sequence[int]:
        start = time.perf_counter_ns()
        result = build()
        built = time.perf_counter_ns()
        result.load()
        loaded = time.perf_counter_ns()
        return (built - start, loaded - built)

    return body


def _compile_body(build: Builder) -> Callable[[], Sequence[int]]:
    def body() -> Sequence[int]:
        result = build()
        start = time.perf_counter_ns()
        result.compile()
        end = time.perf_counter_ns()
        return (end - start,)

    return body


def _precompiled_body(
    program: Program, options: Dict[str, bool]
) -> Callable[[], Sequence[int]]:
    # Keywords passed one by one: unpacking a dict would allocate one in
    # the timed region.
    tsync = options["tsync"]
    log = options["log"]
    spec_allow = options["spec_allow"]
    new_listener = options["new_listener"]

    def body() -> Sequence[int]:
        start = time.perf_counter_ns()
        program.load(
            tsync=tsync, log=log, spec_allow=spec_allow, new_listener=new_listener
        )
        end = time.perf_counter_ns()
        return (end - start,)

    return body


# The per-syscall loop runs in this many chunks, and the fastest one gives
# the sample, so that a chunk in which the child was preempted on a busy
# machine does not count as syscall cost.  A sample therefore needs at
# least this many iterations.
SYSCALL_CHUNKS = 10


def _chunk_sizes(iterations: int) -> List[int]:
    """Split ``iterations`` into SYSCALL_CHUNKS sizes that differ by at most
    one and add up to ``iterations``."""
    size, extra = divmod(iterations, SYSCALL_CHUNKS)
    return [size + 1] * extra + [size] * (SYSCALL_CHUNKS - extra)


def _time_syscall(number: int, arg0: int, sizes: Sequence[int]) -> int:
    """Make one call per iteration, in chunks of ``sizes``, and return the
    nanoseconds all of them take at the pace of the fastest chunk."""
    iterations = sum(sizes)
    return min(
        _bench.syscall_loop(number, size, arg0) * iterations // size
        for size in sizes
    )


def _syscall_body(
    build: Builder, number: int, arg0: int, iterations: int, extra: Optional[str]
) -> Callable[[], Sequence[int]]:
    sizes = _chunk_sizes(iterations)

    def body() -> Sequence[int]:
        unfiltered = _time_syscall(number, arg0, sizes)
        result = build()
        if extra is not None:
            result.allow(extra)
        result.load()
        filtered = _time_syscall(number, arg0, sizes)
        return (unfiltered, filtered)

    return body


@dataclass
class Target:
    """One filter to measure: a built-in policy or a profile.

    ``build`` creates the filter with its rules, the work of the build
    stage.  ``dropped`` lists the syscall names left out because the
    native architecture lacks them.
    """

    name: str
    description: str
    build: Builder
    dropped: Tuple[str, ...] = ()


def policy_target(chosen: Policy) -> Target:
    """Return the target for a built-in policy."""
    return Target(
        chosen.name,
        chosen.description,
        chosen.build,
        chosen.dropped,
    )


def profile_target(path: str) -> Target:
    """Return the target for an OCI or Docker seccomp profile file.

    The file is read and parsed once in the parent; the build stage times
    :meth:`Filter.from_profile` on the parsed profile.
    """
    from_profile = getattr(Filter, "from_profile", None)
    if from_profile is None:
        raise UnsupportedError(
            "this build of seccompx has no Filter.from_profile, so it cannot "
            "benchmark a profile; use --policy instead"
        )
    try:
        from .profile import read_limited

        with open(path, "rb") as file:
            source = json.loads(read_limited(file, repr(path)))
    except SeccompError:
        raise  # over the size limit: the message is complete
    except OSError as error:
        raise InvalidArgumentError(
            f"cannot read profile {path!r}: {error.strerror}",
            error.errno or _errno.EIO,
        ) from error
    except ValueError as error:
        raise InvalidArgumentError(
            f"profile {path!r} is not valid JSON: {error}"
        ) from error

    def build() -> Filter:
        return from_profile(source)  # type: ignore[no-any-return]

    return Target(os.path.basename(path), f"profile {path}", build)


def _extra_rule(target: Target, program: Program, syscall: str) -> Optional[str]:
    """Return ``syscall`` when the syscall stage must add an ALLOW rule for
    it, or None when the target's filter already allows the loop's call.

    Raises InvalidArgumentError when the filter has a rule for ``syscall``
    with another action, which an ALLOW rule would conflict with, or when
    its default action is ALLOW, which libseccomp rejects as a rule action.
    """
    action = program.simulate(syscall, (SYSCALLS[syscall],))
    if action.kind is ActionKind.ALLOW:
        return None
    probe = target.build()
    try:
        default = probe.default_action
        if default.kind is ActionKind.ALLOW:
            # A rule returns the action, and no rule can override it.
            reason = (
                f"the filter's default action is {default!r}, and libseccomp "
                "rejects a rule with the default action"
            )
        else:
            try:
                probe.allow(syscall)
                return syscall
            except InvalidArgumentError as error:
                reason = str(error)
    finally:
        probe.close()
    raise InvalidArgumentError(
        f"{target.name} has a rule that returns {action!r} for {syscall}, so "
        f"the per-syscall loop cannot add an ALLOW rule for it: {reason}; "
        "choose another --syscall"
    )


def run(
    targets: Sequence[Target],
    samples: int,
    syscall: str = "getppid",
    iterations: int = 10000,
    timeout: float = 30.0,
) -> Dict[str, Any]:
    """Measure every stage of every target; return the report as a dict.

    Each sample of each stage runs in its own forked child, and the stages
    take turns sample by sample so that a drift in machine speed affects
    them alike.  Build-stage times come from the build+load children.
    Children are forked as :func:`sample_in_children` forks them, and each
    may run for ``timeout`` seconds.

    ``iterations`` is the number of calls of one per-syscall sample, at
    least SYSCALL_CHUNKS.  Raises InvalidArgumentError for an invalid
    count, timeout or syscall, or a filter that returns NOTIFY for a
    syscall the benchmark child makes after loading it, TypeError for a
    timeout that is not a number, and BenchmarkError when a sample fails.
    """
    _check_count(samples, "samples", 1)
    _check_count(iterations, "iterations", SYSCALL_CHUNKS)
    _check_timeout(timeout)
    if syscall not in SYSCALLS:
        raise InvalidArgumentError(
            f"syscall {syscall!r} is not offered for the per-syscall loop; "
            f"use one of {', '.join(SYSCALLS)} (each is harmless when "
            "called in a loop with these fixed arguments)"
        )
    number = resolve_syscall(syscall)
    reports = [
        _run_target(target, samples, syscall, number, iterations, timeout)
        for target in targets
    ]
    from . import __version__

    return {
        "tool": "seccompx bench",
        "seccompx": __version__,
        "machine": machine_info(),
        "warmup": WARMUP_NOTE,
        "samples": samples,
        "syscall": {
            "name": syscall,
            "iterations": iterations,
            "chunks": SYSCALL_CHUNKS,
        },
        "targets": reports,
    }


WARMUP_NOTE = (
    "libseccomp and Python were warmed in the parent: each filter was built, "
    "exported and compiled once before sampling, so neither an import nor "
    "the first seccomp_init's probe of the kernel lands in any sample"
)


def _check_count(value: int, option: str, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise InvalidArgumentError(
            f"{option} must be an integer of at least {minimum}, not {value!r}"
        )


@dataclass
class _Warm:
    """The results of building a target once in the parent."""

    bpf: bytes
    rules: int
    program: Program
    options: Dict[str, bool]


def _warm_up(target: Target) -> _Warm:
    """Build and compile the target once in the parent."""
    warm = target.build()
    try:
        bpf = warm.export_bpf()
        return _Warm(bpf, warm.rule_count, warm.compile(), load_options(warm))
    finally:
        warm.close()


# SECCOMP_FILTER_FLAG_* bits of seccomp(2) (linux/seccomp.h).
_FLAG_TSYNC = 1
_FLAG_LOG = 2
_FLAG_SPEC_ALLOW = 4
_FLAG_NEW_LISTENER = 8
_FLAG_TSYNC_ESRCH = 16


def load_options(built: Filter) -> Dict[str, bool]:
    """Return the :meth:`Program.load` options that load ``built``'s program
    the way ``built.load()`` loads the filter.

    ``new_listener`` is true when ``built.load()`` creates a notification
    listener: libseccomp requests one from the kernel when the filter's
    default action or a rule added to the filter is NOTIFY.  A profile's
    ``listenerPath`` only names a supervisor's socket and creates none.
    """
    return {
        "tsync": built.tsync,
        "log": built.log,
        "spec_allow": built.ssb,
        "new_listener": _creates_listener(built),
    }


def _creates_listener(built: Filter) -> bool:
    if built._has_notify_action():
        return True
    if built._rules is not None:
        return False
    # After merge() the rules are not recorded.  merge() rejects NOTIFY
    # rules merged into a filter without any, so a NOTIFY return in the
    # program means that the filter added one itself and gets a listener.
    return _returns_notify(built._export_bpf())


def load_flags(built: Filter) -> int:
    """Return the seccomp(2) flags that ``Program.load(**load_options(built))``
    passes."""
    options = load_options(built)
    flags = _FLAG_TSYNC if options["tsync"] else 0
    if options["log"]:
        flags |= _FLAG_LOG
    if options["spec_allow"]:
        flags |= _FLAG_SPEC_ALLOW
    if options["new_listener"]:
        flags |= _FLAG_NEW_LISTENER
        if options["tsync"]:
            # The kernel accepts TSYNC with NEW_LISTENER only with this flag.
            flags |= _FLAG_TSYNC_ESRCH
    return flags


# Argument values that _check_child_syscalls runs the program with: all
# zero and all ones.
_PROBE_ARGS: Tuple[Tuple[int, ...], ...] = ((), (-1,) * 6)


def _check_child_syscalls(target: Target, program: Program) -> None:
    """Raise InvalidArgumentError when ``program`` returns NOTIFY for a
    syscall the benchmark child makes after loading it.

    Nothing responds to notifications in a benchmark, so such a child
    would wait until it timed out.  A NOTIFY rule that only some argument values
    reach is left to the timeout's message.
    """
    for name in _CHILD_SYSCALLS:
        actions = [program.simulate(name, args) for args in _PROBE_ARGS]
        if all(action.kind is ActionKind.NOTIFY for action in actions):
            raise InvalidArgumentError(
                f"{target.name} returns NOTIFY for {name}, and nothing responds "
                "to notifications in a benchmark, so the benchmark child would "
                f"wait until it timed out. {_CHILD_NEEDS}"
            )


def _run_target(
    target: Target,
    samples: int,
    syscall: str,
    number: int,
    iterations: int,
    timeout: float,
) -> Dict[str, Any]:
    warm = _warm_up(target)
    _check_child_syscalls(target, warm.program)
    extra = _extra_rule(target, warm.program, syscall)
    bodies: Dict[str, Callable[[], Sequence[int]]] = {
        "build+load": _build_load_body(target.build),
        "compile": _compile_body(target.build),
        "precompiled-load": _precompiled_body(warm.program, warm.options),
        "syscall": _syscall_body(
            target.build, number, SYSCALLS[syscall], iterations, extra
        ),
    }

    raw: Dict[str, List[Tuple[int, ...]]] = {stage: [] for stage in bodies}
    with _sampling():
        for _ in range(samples):
            for stage, body in bodies.items():
                raw[stage].append(_sample_once(body, timeout))

    return {
        "name": target.name,
        "description": target.description,
        "rules": warm.rules,
        "instructions": len(warm.bpf) // 8,
        "dropped": list(target.dropped),
        "stages": _stage_summaries(raw),
        "syscall_cost": _syscall_summaries(raw["syscall"], iterations, extra),
    }


def _microseconds(values: Sequence[int]) -> Summary:
    return summarize([value / 1000 for value in values], "us")


def _stage_summaries(raw: Dict[str, List[Tuple[int, ...]]]) -> Dict[str, Any]:
    pairs = raw["build+load"]
    stages: Dict[str, Any] = {
        "build": _microseconds([build for build, _ in pairs]).to_json(),
        "compile": _microseconds([one for (one,) in raw["compile"]]).to_json(),
        "load": _microseconds([load for _, load in pairs]).to_json(),
        "build+load": _microseconds([build + load for build, load in pairs]).to_json(),
        "precompiled-load": _microseconds(
            [one for (one,) in raw["precompiled-load"]]
        ).to_json(),
    }
    return stages


def _syscall_summaries(
    pairs: List[Tuple[int, ...]], iterations: int, extra: Optional[str]
) -> Dict[str, Any]:
    unfiltered = [before / iterations for before, _ in pairs]
    filtered = [after / iterations for _, after in pairs]
    overhead = [after - before for before, after in zip(unfiltered, filtered)]
    return {
        "unfiltered": summarize(unfiltered, "ns").to_json(),
        "filtered": summarize(filtered, "ns").to_json(),
        "overhead": summarize(overhead, "ns").to_json(),
        "rule_added": extra is not None,
    }


# Machine -------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> Dict[str, Any]:
    """Return the facts a benchmark result depends on: CPUs, kernel and
    versions."""
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": _cpu_model(),
        "kernel": platform.release(),
        "libseccomp": ".".join(map(str, libseccomp_version())),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
    }
