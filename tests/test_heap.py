"""The block allocator that a static build links into its extensions
(csrc/heap/heap.c).

The program tests build tests/c/heap_test.c together with heap.c, linked
with ``--wrap`` for malloc, calloc, realloc and free the way setup.py links
a static build, and run it: once plainly and once under AddressSanitizer
and UndefinedBehaviorSanitizer.

The filter tests need a static build, where ``seccompx._core._heap_stats()``
returns the allocator's counters, and check them around real filters.  In
a build against the shared libseccomp they skip.
"""

from __future__ import annotations

import errno
import fcntl
import gc
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import pytest

from childproc import report, run_in_child
import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Action, Arg, Comparison, Filter, _core

ROOT = Path(__file__).resolve().parents[1]
HEAP_SOURCE = ROOT / "csrc" / "heap" / "heap.c"
PROGRAM_SOURCE = ROOT / "tests" / "c" / "heap_test.c"
WRAP = "-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free"
CFLAGS = ["-Wall", "-Wextra", "-Werror", "-O1", f"-I{ROOT / 'csrc'}", "-pthread"]
SANITIZER_FLAGS = [
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=all",
    "-fno-omit-frame-pointer",
]
# The program checks that a malloc() too large for any allocator returns
# NULL, which AddressSanitizer reports as an error unless
# allocator_may_return_null is set.  LeakSanitizer finds C library blocks
# that the wrapped free() failed to release.
SANITIZER_ENV = {
    "ASAN_OPTIONS": "allocator_may_return_null=1:detect_leaks=1",
    "UBSAN_OPTIONS": "print_stacktrace=1",
}
COMPILE_TIMEOUT = 120
# The program takes under a second, or a few seconds with the sanitizers.
# A deadlocked child costs it 10 s (60 s with the sanitizers) before it
# reports the deadlock.
RUN_TIMEOUT = 180
LAST_SECTION = "heap_test: fallback: ok"

RULES = 300
# ioctl request numbers that a pipe does not implement: on the result
# pipe of run_in_child() they fail with ENOTTY unless the filter matches.
REQUEST_BASE = 0x7A000
THREADS = 4
BUILDS_PER_THREAD = 5


# The C program ----------------------------------------------------------


def find_gcc() -> str:
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    return gcc


def compile_program(
    gcc: str, sources: Sequence[Path], output: Path, flags: Sequence[str]
) -> subprocess.CompletedProcess[str]:
    command = [gcc, *CFLAGS, *flags, *map(str, sources), WRAP, "-o", str(output)]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT,
        check=False,
    )


def run_program(
    path: Path, extra_env: Dict[str, str]
) -> subprocess.CompletedProcess[str]:
    # The program runs without the preload of `make sanitize` or `make
    # valgrind`: it is built with its own instrumentation or none.
    env = {key: value for key, value in os.environ.items() if key != "LD_PRELOAD"}
    env.update(extra_env)
    return subprocess.run(
        [str(path)], capture_output=True, text=True, timeout=RUN_TIMEOUT,
        check=False, env=env,
    )


def build_and_run(tmp_path: Path, flags: Sequence[str], env: Dict[str, str]) -> None:
    program = tmp_path / "heap_test"
    built = compile_program(
        find_gcc(), [PROGRAM_SOURCE, HEAP_SOURCE], program, flags
    )
    assert built.returncode == 0, f"compiling {PROGRAM_SOURCE} failed:\n{built.stderr}"

    result = run_program(program, env)
    output = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, output
    assert result.stdout.splitlines()[-1:] == [LAST_SECTION], output


def probe_sanitizers(tmp_path: Path) -> None:
    """Skip unless gcc can build and run a program with the sanitizers."""
    gcc = find_gcc()
    source = tmp_path / "probe.c"
    source.write_text(
        "#include <stdlib.h>\nint main(void) { free(malloc(1)); return 0; }\n"
    )
    program = tmp_path / "probe"
    command = [gcc, *SANITIZER_FLAGS, str(source), "-o", str(program)]
    built = subprocess.run(
        command, capture_output=True, text=True, timeout=COMPILE_TIMEOUT,
        check=False,
    )
    if built.returncode != 0:
        pytest.skip(
            f"gcc cannot build with {SANITIZER_FLAGS[0]}: {built.stderr.strip()}"
        )
    ran = run_program(program, SANITIZER_ENV)
    if ran.returncode != 0:
        pytest.skip(
            f"a program built with {SANITIZER_FLAGS[0]} fails to run here: "
            f"{ran.stderr.strip()}"
        )


def test_heap_program_passes(tmp_path: Path) -> None:
    build_and_run(tmp_path, [], {})


def test_heap_program_passes_with_sanitizers(tmp_path: Path) -> None:
    probe_sanitizers(tmp_path)
    build_and_run(tmp_path, SANITIZER_FLAGS, SANITIZER_ENV)


# Filters in a static build -------------------------------------------------


def heap_stats() -> Dict[str, int]:
    """Return the allocator's counters, or skip in a shared build."""
    stats = _core._heap_stats()
    if stats is None:
        pytest.skip(
            "seccompx._core._heap_stats() is None: this build links the "
            "shared libseccomp, which uses the C library's malloc; build "
            "with SECCOMPX_LIBSECCOMP_STATIC=/path/to/libseccomp.a to test "
            "the allocator"
        )
    return stats


Rule = Tuple[Action, str, Tuple[Comparison, ...]]


def rule_list(count: int) -> List[Rule]:
    """Return ``count`` ioctl rules, one per request number, and a few others."""
    rules: List[Rule] = [
        (ERRNO(errno.EPERM), "ioctl", (Arg(1) == REQUEST_BASE + value,))
        for value in range(count)
    ]
    rules += [
        (ERRNO(errno.EACCES), "openat", (Arg(2) == value,)) for value in range(8)
    ]
    rules += [(ERRNO(errno.ENOENT), name, ()) for name in ("mkdir", "rmdir", "unlink")]
    return rules


def build_filter(count: int = RULES) -> Filter:
    """Build a filter of about ``count`` rules.

    Half of them are added one by one and half in one add_rules() call,
    because the two paths allocate differently.
    """
    f = Filter(default=ALLOW)
    rules = rule_list(count)
    middle = len(rules) // 2
    for action, syscall, comparisons in rules[:middle]:
        f.add_rule(action, syscall, *comparisons)
    f.add_rules(rules[middle:])
    return f


def export_and_close(f: Filter) -> bytes:
    program = f.export_bpf()
    f.export_pfc()
    f.close()
    return program


def settle() -> Dict[str, int]:
    """Build and release one filter, then return the counters.

    After that, anything the extension sets up on first use exists, so
    later counts change only with the filters a test builds.
    """
    heap_stats()
    export_and_close(build_filter())
    gc.collect()
    return heap_stats()


def run_threads(count: int, work: Callable[[int], None]) -> List[BaseException]:
    """Run ``work(index)`` in ``count`` threads at once; return their errors."""
    barrier = threading.Barrier(count)
    errors: List[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait()
            work(index)
        except BaseException as error:  # reported by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread hung"
    return errors


def test_filter_close_returns_blocks() -> None:
    before = settle()

    f = build_filter()
    built = heap_stats()
    # libseccomp allocates at least one block for each rule.
    assert built["blocks"] >= before["blocks"] + RULES
    assert built["bytes"] > before["bytes"]
    f.export_bpf()
    f.close()
    after = heap_stats()
    assert after["blocks"] == before["blocks"]
    assert after["bytes"] == before["bytes"]
    assert after["fallbacks"] == before["fallbacks"]
    # Every live block lies in a 1 MiB region.
    assert built["bytes"] <= built["regions"] << 20


def test_filter_dealloc_returns_blocks() -> None:
    before = settle()

    f = build_filter()
    f.export_bpf()
    assert heap_stats()["blocks"] > before["blocks"]
    del f
    gc.collect()
    after = heap_stats()
    assert after["blocks"] == before["blocks"]
    assert after["bytes"] == before["bytes"]


def test_small_second_batch_keeps_store() -> None:
    # The first store has room for twice its batch, so three more rules add
    # only libseccomp's blocks (under 2 KiB).  Moving the store adds 8 KiB.
    first = rule_list(RULES)
    second = [(ERRNO(errno.ENOENT), name, ()) for name in ("chmod", "chown", "link")]
    settle()
    f = Filter(default=ALLOW)
    f.add_rules(first)
    before = heap_stats()
    f.add_rules(second)
    after = heap_stats()
    export_and_close(f)
    assert after["blocks"] > before["blocks"]
    assert after["bytes"] - before["bytes"] < 4 << 10


def test_filter_loop_keeps_regions_bounded() -> None:
    start = settle()
    for _ in range(3):
        export_and_close(build_filter())
    settled = heap_stats()

    for _ in range(30):
        export_and_close(build_filter())
    end = heap_stats()
    assert end["regions"] == settled["regions"]
    assert end["blocks"] == start["blocks"]
    assert end["bytes"] == start["bytes"]
    assert end["fallbacks"] == start["fallbacks"]


def test_filters_built_in_threads_match() -> None:
    start = settle()
    expected = export_and_close(build_filter())
    programs: List[bytes] = []

    def work(index: int) -> None:
        for _ in range(BUILDS_PER_THREAD):
            programs.append(export_and_close(build_filter()))

    errors = run_threads(THREADS, work)
    assert errors == []
    assert len(programs) == THREADS * BUILDS_PER_THREAD
    for program in programs:
        assert program == expected
    assert heap_stats()["blocks"] == start["blocks"]
    assert heap_stats()["fallbacks"] == start["fallbacks"]


def build_in_order(rules: Sequence[Rule]) -> Filter:
    f = Filter(default=ALLOW)
    for action, syscall, comparisons in rules:
        f.add_rule(action, syscall, *comparisons)
    return f


def test_filter_shared_by_threads_matches() -> None:
    start = settle()
    rules = rule_list(RULES)
    expected = export_and_close(build_in_order(rules))
    # The threads add the rules in an unpredictable order, so the test
    # needs a program that does not depend on the order.
    shuffled = list(rules)
    random.Random(1).shuffle(shuffled)
    for order in (rules[::-1], shuffled):
        program = export_and_close(build_in_order(order))
        assert program == expected, "the program depends on the rule order"
    shared = Filter(default=ALLOW)

    def work(index: int) -> None:
        for action, syscall, comparisons in rules[index::THREADS]:
            shared.add_rule(action, syscall, *comparisons)

    errors = run_threads(THREADS, work)
    assert errors == []
    assert export_and_close(shared) == expected
    assert heap_stats()["blocks"] == start["blocks"]


def ioctl_error(fd: int, request: int) -> str:
    """Return the errno name of ioctl(fd, request), or "none"."""
    try:
        fcntl.ioctl(fd, request)
    except OSError as error:
        return errno.errorcode.get(error.errno or 0, str(error.errno))
    return "none"


def load_in_child(out: int) -> Optional[int]:
    before = heap_stats()["blocks"]
    f = build_filter()
    f.add_rule(KILL_PROCESS, "getppid")
    report(out, f"heap used: {heap_stats()['blocks'] > before}")
    f.load()
    report(out, f"matched: {ioctl_error(out, REQUEST_BASE + 7)}")
    report(out, f"unmatched: {ioctl_error(out, REQUEST_BASE + RULES + 1)}")
    os.getppid()
    report(out, "survived getppid")
    return 0


def test_child_forked_during_builds_loads_filter() -> None:
    settle()
    stop = threading.Event()
    rounds = [0] * THREADS
    errors: List[BaseException] = []

    def build_until_stopped(index: int) -> None:
        try:
            while not stop.is_set():
                export_and_close(build_filter(100))
                rounds[index] += 1
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [
        threading.Thread(target=build_until_stopped, args=(i,), daemon=True)
        for i in range(THREADS)
    ]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while min(rounds) == 0 and not errors and time.monotonic() < deadline:
            time.sleep(0.001)
        assert min(rounds) > 0, f"a builder thread never finished a filter: {errors}"
        results = [run_in_child(load_in_child) for _ in range(3)]
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert errors == []
    for result in results:
        assert result.signal == signal.SIGSYS, result
        assert result.text == (
            "heap used: True\nmatched: EPERM\nunmatched: ENOTTY\n"
        ), result


def test_child_builds_on_fresh_slab() -> None:
    # A forked child leaves the free blocks it inherited alone and claims
    # a slab of its own, so its filter's blocks lie together on pages it
    # does not share with its parent.
    settle()
    parent = heap_stats()

    def build_in_child(out: int) -> int:
        f = build_filter(50)
        built = heap_stats()
        report(out, f"new slabs: {built['regions'] - parent['regions']}")
        report(out, f"fallbacks: {built['fallbacks'] - parent['fallbacks']}")
        export_and_close(f)
        report(out, f"blocks back: {heap_stats()['blocks'] == parent['blocks']}")
        return 0

    result = run_in_child(build_in_child)
    assert result.exitcode == 0, result
    assert result.text == "new slabs: 1\nfallbacks: 0\nblocks back: True\n", result
    assert heap_stats()["regions"] == parent["regions"]


def test_rule_store_stays_in_allocator() -> None:
    # A store of 360 rules fills most of the allocator's largest block
    # (64 KiB).  Adding 30 more must not double it into a 128 KiB block,
    # which only the C library serves: the move would copy the whole store
    # onto new pages.
    settle()
    from seccompx._errors import _known_syscall_names

    names = []
    for name in sorted(_known_syscall_names(seccompx.Arch.native().libseccomp_name)):
        if name in ("ioctl", "exit", "exit_group") or seccompx.resolve_syscall(name) < 0:
            continue
        names.append(name)
    assert len(names) >= 360
    f = Filter(default=KILL_PROCESS)
    f.allow(*names[:360])
    before = heap_stats()
    f.add_rules(
        [(ERRNO(errno.EPERM), "ioctl", (Arg(1) == REQUEST_BASE + value,))
         for value in range(30)]
    )
    after = heap_stats()
    # The new rules only add blocks: a store that moved out would take
    # its 64 KiB block back from the allocator's live bytes.
    assert after["bytes"] > before["bytes"]
    assert after["fallbacks"] == before["fallbacks"]
    f.export_bpf()
    f.close()


def test_small_filter_loop_keeps_slabs() -> None:
    # libseccomp grows each filter's program buffer with realloc().  A
    # block grown in place must not leave its small class short every
    # time, or a loop of small filters claims slab after slab.
    settle()

    def build_small() -> None:
        f = Filter(ERRNO(errno.EPERM))
        f.allow("read", "write", "close")
        f.add_rule(ALLOW, "ioctl", Arg(1) == 5)
        f.compile()
        f.close()

    for _ in range(100):
        build_small()
    settled = heap_stats()
    for _ in range(20000):
        build_small()
    end = heap_stats()
    assert end["regions"] == settled["regions"]
    assert end["fallbacks"] == settled["fallbacks"]
    assert end["blocks"] == settled["blocks"]
