"""Run Python callables and external programs under a seccomp filter.

Three ways to run work in a filtered child process:

* :func:`run` forks, loads the filter in the child, calls a function there
  and returns its result (or raises its exception) in the parent.
* :class:`Executor` is a :class:`concurrent.futures.Executor` whose worker
  processes load the filter once and then serve many tasks.
* :func:`spawn` and :func:`run_program` start an external program with
  the filter loaded just before ``execve``.

The filter is compiled to BPF in the parent and loaded in the child with a
raw ``seccomp(2)`` call, always with ``SECCOMP_FILTER_FLAG_TSYNC``; the
parent's own filter state never changes.

When a child of :func:`run` or :class:`Executor` makes a forbidden syscall,
the parent raises :class:`seccompx.SandboxViolation` naming the syscall,
its number, architecture and arguments.  By default (``report="trap"``)
the loaded program is a copy of the filter in which every action that
would kill the child is replaced with ``SECCOMP_RET_TRAP``, so the kernel
sends SIGSYS instead; a handler written in C records the syscall in a page
shared with the parent and ends the child at once.  ``report="kill"``
loads the filter unchanged, and the parent can then only say that the
kernel killed the child with SIGSYS.

The result of :func:`run` and of executor tasks, or the exception they
raised, travels back over a pipe with :mod:`pickle`, which needs
``write`` and ``exit_group`` after the filter is loaded (executor workers
also ``read`` their tasks).  The child's traceback is recorded without
reading source files, and the parent adds the source lines.  The
sandbox adds no rule to the filter: when the filter forbids one of these
syscalls, the call raises :class:`seccompx.SandboxError` before any child
starts.  See ``docs/sandbox.md`` for what a filter cannot protect against.
"""

from __future__ import annotations

from ._executor import Executor
from ._protocol import (
    EXECUTOR_TRANSPORT_SYSCALLS,
    TRANSPORT_SYSCALLS,
    ChildTraceback,
    FilterLike,
)
from ._run import run
from ._spawn import Process, run_program, spawn

__all__ = [
    "run",
    "Executor",
    "spawn",
    "run_program",
    "Process",
    "ChildTraceback",
    "FilterLike",
    "TRANSPORT_SYSCALLS",
    "EXECUTOR_TRANSPORT_SYSCALLS",
]
