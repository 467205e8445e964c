"""Memory stays flat over many create/add/export/release cycles, with and
without errors.

Each test runs in a fresh child: it warms up, records the resident set size
(RSS, from /proc/self/statm), runs the cycles, and reports the growth.  The
bound is 2 MiB after warm-up; a leak of one rule's storage (about 170
bytes) per cycle would grow 3 MiB over 20,000 cycles.  `make leaks` runs
100,000 cycles (SECCOMPX_LEAK_CYCLES=100000).
"""

from __future__ import annotations

import errno
import gc
import os
import warnings
from typing import Callable

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Arg, Filter, _core
from childproc import report, run_in_child

CYCLES = int(os.environ.get("SECCOMPX_LEAK_CYCLES", "20000"))
WARMUP = 2000
MAX_GROWTH = 2 * 1024 * 1024
PAGE = os.sysconf("SC_PAGE_SIZE")


def _instrumented() -> str:
    """Name the memory tool this process runs under, or return ''."""
    with open("/proc/self/maps") as maps:
        text = maps.read()
    for marker, tool in (("libasan", "AddressSanitizer"), ("vgpreload", "valgrind")):
        if marker in text:
            return tool
    return ""


# AddressSanitizer's quarantine and valgrind's allocator change RSS on
# their own, so the measurement means nothing under them.
pytestmark = pytest.mark.skipif(
    bool(_instrumented()), reason=f"RSS is not comparable under {_instrumented()}"
)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE


def _measure(cycle: Callable[[int], None]) -> int:
    """Run cycle WARMUP then CYCLES times in a child; return RSS growth."""

    def body(out: int) -> int:
        warnings.simplefilter("ignore")
        for i in range(WARMUP):
            cycle(i)
        gc.collect()
        before = _rss()
        for i in range(CYCLES):
            cycle(i)
        gc.collect()
        report(out, str(_rss() - before))
        return 0

    result = run_in_child(body, timeout=300)
    assert result.exitcode == 0, result
    return int(result.text)


def _build_cycle(i: int) -> None:
    f = Filter(default=KILL_PROCESS, arches=[Arch.native(), Arch.AARCH64])
    f.allow("read", "write", "exit_group")
    f.add_rule(ERRNO(errno.EPERM), "openat", Arg(2).masked_eq(3, 1))
    f.add_rules([(ERRNO(1), "close", [Arg(0) == i]), (ERRNO(2), "dup", [Arg(0) > 5])])
    f.syscall_priority("read", 10)
    f.add_arch(Arch.RISCV64)
    f.export_bpf()
    f.export_pfc()
    f.close()


def _error_cycle(i: int) -> None:
    f = Filter(default=ALLOW, arches=[Arch.native(), Arch.AARCH64])
    f.add_rule(ERRNO(1), "getppid")
    if i % 20 == 0:
        # Suggestions run difflib over every syscall name (about 5 ms).
        try:
            f.add_rule(ERRNO(1), "getpdi")
        except seccompx.UnknownSyscallError:
            pass
    for bad in (
        lambda: f.add_rule(ERRNO(1), "x" * 100),                # too long
        lambda: f.add_rule(ERRNO(2), "getppid"),                # conflict
        lambda: f.add_rule(ALLOW, "read"),                      # default action
        lambda: f.add_rule(ERRNO(1), "open", strict=True),      # missing arch
        lambda: f.add_rule(ERRNO(1), "read", Arg(0) == 1, Arg(0) == 2),
        lambda: f._add_rule(ERRNO(1).value, "read", [(0, 7, 1, 2)]),
        lambda: f.add_rules([(ERRNO(1), "read"), (ERRNO(1), "read\0")]),
        lambda: f.add_arch(Arch.AARCH64),
        lambda: f.merge(Filter(default=ERRNO(3), arches=["riscv64"])),
        lambda: f.set_attr(seccompx.Attr.BAD_ARCH_ACTION, 0x12340000),
        lambda: f.export_bpf_to(1_000_000),
        lambda: f.syscall_priority("read", 300),
    ):
        try:
            bad()
        except (seccompx.SeccompError, TypeError):
            pass
    f.add_rule(ERRNO(1), "open")                                # warns
    f.close()
    try:
        f.export_bpf()
    except seccompx.FilterStateError:
        pass


def _partial_batch_cycle(i: int) -> None:
    f = Filter(default=ALLOW)
    # libseccomp 2.5 keeps the first rule and marks the filter broken.
    # 2.6 undoes the batch in a transaction and raises the rule's error.
    try:
        f._add_rules([(ERRNO(1).value, "read"), (ERRNO(1).value, "socketcall")],
                     exact=True, missing=2)
    except (seccompx.FilterStateError, seccompx.UnsupportedError):
        pass
    f.reset()
    f.close()


def _raw_context_cycle(i: int) -> None:
    context = _core.Context(ALLOW.value)
    context._add_rule(ERRNO(1).value, i % 300, [(0, 4, i, 0)], False, 2)
    context._export_bpf()
    # Dropped without close(): dealloc releases the context.


@pytest.mark.parametrize(
    "cycle",
    [_build_cycle, _error_cycle, _partial_batch_cycle, _raw_context_cycle],
    ids=["build", "errors", "partial-batch", "dealloc"],
)
def test_rss_stays_flat(cycle):
    growth = _measure(cycle)
    assert growth < MAX_GROWTH, f"RSS grew {growth} bytes over {CYCLES} cycles"


def test_leak_check_detects_a_leak():
    """The measurement itself can fail: keeping every filter alive grows RSS."""
    kept = []

    def leaking(i: int) -> None:
        f = Filter(default=ALLOW)
        f.add_rules([(ERRNO(1), "close", [Arg(0) == i + n]) for n in range(4)])
        kept.append(f)

    assert _measure(leaking) > MAX_GROWTH
