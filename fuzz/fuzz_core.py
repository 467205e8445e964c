"""Fuzz target for seccompx._core and seccompx.Filter.

Each input is decoded into a short program of calls on one filter: rules,
batches, the one-call paths, architectures, attributes, priorities,
merges, exports, resets and closes, with arguments drawn from valid
values, boundary values and junk.  Filters are never loaded, so the fuzzing process stays unfiltered.
A call may raise SeccompError or TypeError; any other exception, and any
crash of the interpreter, is a finding.

Run ``make fuzz`` (atheris, bounded time; new inputs are kept in
fuzz/corpus/).  tests/test_fuzz_corpus.py replays the corpus without
atheris.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, List, Sequence

import seccompx
from seccompx import Arch, Attr, _core

INTERESTING = [
    0, 1, 2, 5, 6, 7, 8, 255, 256, 4094, 4095, 65535, 65536, 2**31 - 1, 2**31,
    2**32 - 1, 2**32, 2**63, 2**64 - 1, 2**64, -1, -(2**63),
]
ACTIONS = [
    seccompx.ALLOW.value, seccompx.KILL_PROCESS.value, seccompx.KILL_THREAD.value,
    seccompx.TRAP.value, seccompx.LOG.value, seccompx.NOTIFY.value,
    seccompx.ERRNO(1).value, seccompx.ERRNO(4094).value, 0x00050FFF,
    seccompx.TRACE(7).value, 0x7FFF0001, 0x12340000,
]
NAMES = [
    "read", "write", "open", "openat", "close", "socket", "socketcall", "ipc",
    "shmget", "mmap2", "arch_prctl", "getppid", "", "\0", "read\0", "r\u00e9ad",
    "x" * 70, "nosuchcall",
]
ARCHES = [int(arch) for arch in Arch] + [0x1234, 2**32 + 3]
# Action objects and other values for the one-call paths, which read an
# Action's value themselves.
ACTION_OBJECTS = [
    seccompx.ALLOW, seccompx.KILL_PROCESS, seccompx.ERRNO(1), seccompx.TRAP,
    seccompx.NOTIFY, seccompx.TRACE(3), seccompx.ALLOW.value, None,
]
RECORDS = [[], None, (), "x", [(1, "read")]]


class Reader:
    """Draw small values from a byte string; zeros once it runs out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.position = 0

    def byte(self) -> int:
        if self.position >= len(self.data):
            return 0
        value = self.data[self.position]
        self.position += 1
        return value

    def done(self) -> bool:
        return self.position >= len(self.data)

    def pick(self, choices: Sequence[Any]) -> Any:
        return choices[self.byte() % len(choices)]

    def number(self) -> int:
        kind = self.byte() % 4
        if kind == 0:
            return int(self.pick(INTERESTING))
        if kind == 1:
            return self.byte()
        value = 0
        for _ in range(8):
            value = value << 8 | self.byte()
        return value if kind == 2 else -value

    def junk(self) -> Any:
        kind = self.byte() % 8
        if kind == 0:
            return None
        if kind == 1:
            return float(self.number())
        if kind == 2:
            return bytes(self.byte() for _ in range(self.byte() % 6))
        if kind == 3:
            return "".join(chr(self.byte()) for _ in range(self.byte() % 6))
        if kind == 4:
            return [self.number() for _ in range(self.byte() % 4)]
        if kind == 5:
            return bool(self.byte() & 1)
        return self.number()

    def maybe_junk(self, valid: Callable[[], Any]) -> Any:
        return self.junk() if self.byte() % 8 == 0 else valid()

    def action(self) -> Any:
        return self.maybe_junk(lambda: self.pick(ACTIONS))

    def syscall(self) -> Any:
        if self.byte() % 3 == 0:
            return self.maybe_junk(lambda: self.byte() * 2)
        return self.maybe_junk(lambda: self.pick(NAMES))

    def comparison(self) -> Any:
        return self.maybe_junk(lambda: (self.byte() % 8, self.byte() % 9,
                                        self.number(), self.number()))

    def comparisons(self) -> Any:
        return self.maybe_junk(lambda: [self.comparison()
                                        for _ in range(self.byte() % 8)])

    def arch(self) -> Any:
        return self.maybe_junk(lambda: self.pick(ARCHES))


def _merge_partner(reader: Reader) -> Any:
    other = _core.Context(reader.action())
    token = reader.arch()
    other._add_arch(token)
    other._remove_arch(int(Arch.native()))
    return other


def _export_fd(context: Any, reader: Reader) -> None:
    fd = os.memfd_create("fuzz", os.MFD_CLOEXEC)
    if reader.byte() & 1:
        os.close(fd)
        context._export_fd(fd, bool(reader.byte() & 1))
        return
    try:
        context._export_fd(fd, bool(reader.byte() & 1))
    finally:
        os.close(fd)


def _operations(context: Any, reader: Reader) -> List[Callable[[], Any]]:
    r = reader
    return [
        lambda: context._add_rule(r.action(), r.syscall(), r.comparisons(),
                                  bool(r.byte() & 1), r.byte() % 4),
        lambda: context._add_rules(
            [(r.action(), r.syscall(), r.comparisons()) for _ in range(r.byte() % 5)],
            exact=bool(r.byte() & 1), missing=r.byte() % 4),
        lambda: context._add_arch(r.arch(), r.byte() % 4),
        lambda: context._remove_arch(r.arch()),
        lambda: context._has_arch(r.arch()),
        lambda: context._set_attr(r.maybe_junk(lambda: r.byte() % 12), r.number()),
        lambda: context._get_attr(r.maybe_junk(lambda: r.byte() % 12)),
        lambda: context._syscall_priority(r.syscall(), r.number()),
        lambda: context._export_bpf(),
        lambda: context._export_pfc(),
        lambda: context._reset(r.action()),
        lambda: context._merge(_merge_partner(r)),
        lambda: context._merge(context),
        lambda: context.close(),
        lambda: _export_fd(context, r),
        lambda: (context.closed, context.rule_count, context.broken,
                 context._arch_tokens),
        lambda: _core.resolve_name(r.syscall(), r.arch()),
        lambda: _core.resolve_number(r.number(), r.arch()),
        lambda: context._add_same(
            r.action(), tuple(r.syscall() for _ in range(r.byte() % 5)),
            r.pick([None, True, False, r.junk()])),
        lambda: context._add_rules_plain(
            r.maybe_junk(lambda: [
                (r.pick(ACTION_OBJECTS), r.syscall(), r.comparisons())[: 2 + r.byte() % 2]
                for _ in range(r.byte() % 5)
            ]),
            r.pick([None, True, False]),
            r.pick([seccompx.actions_available(), None, frozenset()])),
        lambda: setattr(context, "_rules", r.pick(RECORDS)),
        lambda: setattr(context, "strict", r.pick([True, False, None, r.junk()])),
        lambda: _core.Context.__new__(_core.Context)._init_default(
            r.pick(ACTION_OBJECTS), seccompx.actions_available(),
            r.pick([None, 1, 2, 3, r.junk()])),
        lambda: context._init_default(
            r.pick(ACTION_OBJECTS), seccompx.actions_available(), None),
    ]


def run_input(data: bytes) -> None:
    """Decode data into calls on one filter; raise on an unexpected error."""
    reader = Reader(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            context = _core.Context(reader.action())
        except (seccompx.SeccompError, TypeError):
            return
        for _ in range(64):
            if reader.done():
                break
            operations = _operations(context, reader)
            operation = operations[reader.byte() % len(operations)]
            try:
                operation()
            except (seccompx.SeccompError, TypeError):
                pass
        context.close()


def main(argv: List[str]) -> None:
    import atheris  # type: ignore[import-untyped]

    # Coverage comes from the Python code: this decoder and seccompx's
    # modules.  The C extension is built without libFuzzer's
    # instrumentation, so the fuzzer finds its crashes, but its branches do
    # not guide the search.
    atheris.instrument_all()
    atheris.Setup(argv, run_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
