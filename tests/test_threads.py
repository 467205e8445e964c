"""One filter used from many threads at once, and filters forked into
children while the parent's threads keep using them.

Each stress test runs in a child process, so that a crash or a deadlock
shows up as a signal or a timeout instead of taking pytest down.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import threading
import warnings
from typing import Any, Callable, Dict, List

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Arg, Attr, Filter
from childproc import report, run_in_child

THREADS = 16
NATIVE = Arch.native()


def _run_threads(count: int, work: Callable[[int], None]) -> List[BaseException]:
    """Start count threads at once on work(index); return their errors."""
    barrier = threading.Barrier(count)
    errors: List[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            work(index)
        except BaseException as error:  # reported to the test below
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return errors


def test_sixteen_threads_build_one_filter():
    def body(out: int) -> int:
        f = Filter(default=KILL_PROCESS)
        per_thread = 40

        def work(index: int) -> None:
            rng = random.Random(index)
            for step in range(per_thread):
                value = index * 1000 + step
                f.add_rule(ERRNO(1 + index), "ioctl", Arg(1) == value)
                if rng.random() < 0.3:
                    f.export_bpf()
                if rng.random() < 0.3:
                    assert f.get_attr(Attr.DEFAULT_ACTION) == KILL_PROCESS.value
                    assert f.arches == (NATIVE,)
                    assert f.has_arch(NATIVE)
                if rng.random() < 0.1:
                    f.export_pfc()

        errors = _run_threads(THREADS, work)
        report(out, f"errors {errors!r}")
        report(out, f"rules {f.rule_count}")
        pfc = f.export_pfc()
        missing = [
            (i, s) for i in range(THREADS) for s in range(40)
            if f"{i * 1000 + s}" not in pfc and f"0x{i * 1000 + s:x}" not in pfc
        ]
        report(out, f"missing {len(missing)}")
        report(out, f"instructions {f.instruction_count()}")
        return 0

    result = run_in_child(body, timeout=120)
    assert result.signal is None, result
    assert result.exitcode == 0, result
    lines = dict(line.split(" ", 1) for line in result.text.splitlines())
    assert lines["errors"] == "[]"
    assert int(lines["rules"]) == THREADS * 40
    assert lines["missing"] == "0"


def test_threads_racing_close():
    def body(out: int) -> int:
        outcomes: Dict[str, int] = {}
        lock = threading.Lock()

        for round_number in range(20):
            f = Filter(default=ALLOW)
            f.add_rule(ERRNO(1), "getppid")

            def work(index: int) -> None:
                calls: List[Callable[[], Any]] = [
                    lambda: f.add_rule(ERRNO(2), "mkdir", Arg(0) == index),
                    lambda: f.add_rules([(ERRNO(3), "rmdir", [Arg(1) == index])]),
                    f.export_bpf,
                    f.export_pfc,
                    lambda: f.get_attr(Attr.TSYNC),
                    lambda: f.add_arch(Arch.AARCH64),
                    lambda: f.syscall_priority("getppid", index),
                    lambda: f.arches,
                    lambda: f.rule_count,
                    f.close,
                ]
                for step in range(30):
                    call = calls[(index + step) % len(calls)]
                    try:
                        call()
                        name = "ok"
                    except seccompx.FilterStateError:
                        name = "closed"
                    except seccompx.ArchitectureError:
                        name = "arch"
                    except seccompx.InvalidArgumentError as error:
                        name = "conflict" if "conflicts" in str(error) else repr(error)
                    with lock:
                        outcomes[name] = outcomes.get(name, 0) + 1

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                errors = _run_threads(THREADS, work)
            if errors:
                report(out, f"errors {errors!r}")
                return 1
        report(out, " ".join(sorted(outcomes)))
        return 0

    result = run_in_child(body, timeout=120)
    assert result.signal is None, result
    assert result.exitcode == 0, result
    assert set(result.text.split()) <= {"ok", "closed", "arch", "conflict"}


def test_opposite_merges_do_not_deadlock():
    def body(out: int) -> int:
        for _ in range(200):
            a = Filter(default=ALLOW)
            b = Filter(default=ALLOW, arches=["aarch64"])

            def work(index: int) -> None:
                first, second = (a, b) if index == 0 else (b, a)
                try:
                    first.merge(second)
                except seccompx.FilterStateError:
                    pass

            errors = _run_threads(2, work)
            if errors or (a.closed == b.closed):
                report(out, f"errors {errors!r} {a.closed} {b.closed}")
                return 1
        return 0

    result = run_in_child(body, timeout=60)
    assert result.signal is None, result
    assert result.exitcode == 0, result


def test_fork_while_parent_threads_use_filters():
    getppid = seccompx.resolve_syscall("getppid")

    def body(out: int) -> int:
        import ctypes
        import errno

        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        shared = Filter(default=ALLOW)
        shared.add_rule(ERRNO(errno.EDOM), "getppid")
        stop = threading.Event()

        def churn(index: int) -> None:
            step = 0
            while not stop.is_set():
                shared.export_bpf()
                shared.get_attr(Attr.NO_NEW_PRIVS)
                scratch = Filter(default=ALLOW)
                scratch.add_rule(ERRNO(1), "mkdir", Arg(0) == step)
                scratch.export_bpf()
                scratch.close()
                step += 1

        threads = [threading.Thread(target=churn, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        failures = 0
        for _ in range(40):
            def child(child_out: int) -> int:
                shared.load()
                ctypes.set_errno(0)
                libc.syscall(ctypes.c_long(getppid))
                return 0 if ctypes.get_errno() == errno.EDOM else 3

            result = run_in_child(child, timeout=20)
            if result.exitcode != 0:
                failures += 1
                report(out, str(result))
        stop.set()
        for thread in threads:
            thread.join()
        report(out, f"failures {failures}")
        return 0

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads
        result = run_in_child(body, timeout=120)
    assert result.signal is None, result
    assert result.exitcode == 0, result
    assert result.text.strip().endswith("failures 0"), result


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="needs os.register_at_fork")
def test_filter_built_before_threads_loads_in_children():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        program = f.export_bpf()
        codes = []

        def work(index: int) -> None:
            result = run_in_child(lambda child_out: 0 if f.export_bpf() == program else 5)
            codes.append(result.exitcode)

        errors = _run_threads(4, work)
        report(out, f"{errors!r} {codes}")
        return 0 if not errors and codes == [0, 0, 0, 0] else 1

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = run_in_child(body, timeout=60)
    assert result.exitcode == 0, result


# A fresh interpreter per attempt, so that seccompx.program is not imported
# yet: a thread's first compile() imports it while the main thread forks.
# The child's own compile() must not wait on the import lock the thread
# held at the fork.  Prints the number of children that hung.
FIRST_IMPORT_RACE = textwrap.dedent(
    """
    import os, signal, threading, time
    import seccompx

    def build():
        f = seccompx.Filter(seccompx.ERRNO(1))
        f.allow("read")
        f.compile()

    thread = threading.Thread(target=build)
    thread.start()
    time.sleep(DELAY)
    pid = os.fork()
    if pid == 0:
        build()
        os._exit(0)
    thread.join()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.waitpid(pid, os.WNOHANG)[0]:
            print(0)
            break
        time.sleep(0.01)
    else:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        print(1)
    """
)


def test_fork_during_first_import_does_not_hang():
    hung = 0
    for attempt in range(8):
        script = FIRST_IMPORT_RACE.replace("DELAY", str(0.001 * (attempt % 4)))
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True,
            timeout=60, check=False,
        )
        assert result.returncode == 0, result.stderr
        hung += int(result.stdout)
    assert hung == 0
