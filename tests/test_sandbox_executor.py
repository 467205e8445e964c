"""seccompx.sandbox.Executor: workers that load a filter once and serve
many tasks.  Each worker is a child that loads the filter itself, so
these tests assert what the kernel did to the workers."""

from __future__ import annotations

import concurrent.futures
import gc
import math
import os
import signal
import socket
import threading
import time
import warnings

import pytest

import seccompx
from seccompx import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    Filter,
    SandboxError,
    SandboxTimeout,
    SandboxViolation,
)
from seccompx.sandbox import Executor

SIGSYS = int(signal.SIGSYS)


def deny(*names: str, action=KILL_PROCESS) -> Filter:
    f = Filter(default=ALLOW)
    for name in names:
        f.add_rule(action, name)
    return f


def allowlist() -> Filter:
    """The transport and memory syscalls of docs/sandbox.md, nothing else."""
    f = Filter(default=KILL_PROCESS)
    f.allow("read", "write", "exit_group", "brk", "mmap", "munmap", "mremap")
    return f


def square(value: int) -> int:
    return value * value


def worker_pid(_: object = None) -> int:
    return os.getpid()


def open_socket(_: object = None) -> None:
    socket.socket().close()


def fail(message: str) -> None:
    raise KeyError(message)


def sleep_then(seconds: float, value: int) -> int:
    time.sleep(seconds)
    return value


def task_or_violation(value: int) -> int:
    if value == 100:
        open_socket()
    return value * 2


# State the initializer leaves in each worker.
_background: dict = {}


def start_socket_thread() -> None:
    """Start a thread, before the filter is loaded, that opens a socket on
    request."""
    go = threading.Event()

    def wait_then_open() -> None:
        go.wait()
        open_socket()

    thread = threading.Thread(target=wait_then_open, daemon=True)
    thread.start()
    _background["go"] = go
    _background["thread"] = thread


def trigger_background_thread() -> str:
    _background["go"].set()
    _background["thread"].join()
    return "background thread survived"


def open_socket_in_new_thread() -> str:
    thread = threading.Thread(target=open_socket)
    thread.start()
    thread.join()
    return "new thread survived"


def failing_initializer() -> None:
    raise RuntimeError("initializer failed on purpose")


def read_marker(path: str) -> str:
    return _background["marker"]


def load_marker(path: str) -> None:
    # Runs before the filter: reading a file here is allowed.
    with open(path) as file:
        _background["marker"] = file.read()


def test_executor_runs_tasks():
    with Executor(2, filter=deny("socket")) as executor:
        futures = [executor.submit(square, value) for value in range(20)]
        assert [future.result(timeout=30) for future in futures] == [
            value * value for value in range(20)
        ]


def test_executor_200_tasks_survive_violation():
    with Executor(2, filter=deny("socket")) as executor:
        futures = [
            executor.submit(task_or_violation, value) for value in range(200)
        ]
        pids = [executor.submit(worker_pid) for _ in range(10)]
        results = {}
        for value, future in enumerate(futures):
            if value == 100:
                with pytest.raises(SandboxViolation) as info:
                    future.result(timeout=60)
                assert info.value.syscall == "socket"
                assert info.value.signal == SIGSYS
            else:
                results[value] = future.result(timeout=60)
        worker_pids = {future.result(timeout=60) for future in pids}
    assert results == {
        value: value * 2 for value in range(200) if value != 100
    }
    assert len(results) == 199
    assert os.getpid() not in worker_pids


def test_executor_replaces_dead_worker():
    with Executor(1, filter=deny("socket")) as executor:
        first = executor.submit(worker_pid).result(timeout=30)
        with pytest.raises(SandboxViolation):
            executor.submit(open_socket).result(timeout=30)
        second = executor.submit(worker_pid).result(timeout=30)
    assert first != second


def test_executor_reuses_worker():
    with Executor(1, filter=deny("socket")) as executor:
        pids = {
            executor.submit(worker_pid).result(timeout=30) for _ in range(5)
        }
    assert len(pids) == 1


def test_executor_exception_crosses_back():
    with Executor(1, filter=deny("socket")) as executor:
        future = executor.submit(fail, "missing key")
        with pytest.raises(KeyError, match="missing key") as info:
            future.result(timeout=30)
    assert isinstance(info.value.__cause__, seccompx.sandbox.ChildTraceback)
    assert "fail" in info.value.__cause__.text


def test_executor_exception_under_allowlist():
    with Executor(1, filter=allowlist()) as executor:
        future = executor.submit(int, "abc")
        with pytest.raises(ValueError, match="abc") as info:
            future.result(timeout=30)
        # The worker survived sending the exception and serves another task.
        assert executor.submit(square, 7).result(timeout=30) == 49
    assert isinstance(info.value.__cause__, seccompx.sandbox.ChildTraceback)


def test_executor_map():
    with Executor(2, filter=deny("socket")) as executor:
        assert list(executor.map(square, range(10), timeout=30)) == [
            value * value for value in range(10)
        ]


def test_executor_initializer_runs_before_filter(tmp_path):
    marker = tmp_path / "marker"
    marker.write_text("loaded before the filter")
    f = deny("socket", "openat", "open")
    with Executor(
        1, filter=f, initializer=load_marker, initargs=(str(marker),)
    ) as executor:
        assert executor.submit(read_marker, str(marker)).result(
            timeout=30
        ) == ("loaded before the filter")
        with pytest.raises(SandboxViolation) as info:
            executor.submit(load_marker, str(marker)).result(timeout=30)
    assert info.value.syscall in ("openat", "open")


def test_executor_thread_from_initializer_is_filtered():
    with Executor(
        1, filter=deny("socket"), initializer=start_socket_thread
    ) as executor:
        with pytest.raises(SandboxViolation) as info:
            executor.submit(trigger_background_thread).result(timeout=30)
    assert info.value.syscall == "socket"


def test_executor_thread_after_load_is_filtered():
    with Executor(1, filter=deny("socket")) as executor:
        with pytest.raises(SandboxViolation) as info:
            executor.submit(open_socket_in_new_thread).result(timeout=30)
    assert info.value.syscall == "socket"


def test_executor_failing_initializer_breaks_executor():
    executor = Executor(
        1, filter=deny("socket"), initializer=failing_initializer
    )
    try:
        future = executor.submit(square, 3)
        with pytest.raises(SandboxError, match="initializer") as info:
            future.result(timeout=30)
        assert isinstance(info.value.__cause__, RuntimeError)
        with pytest.raises(SandboxError, match="broken") as again:
            executor.submit(square, 4)
        message = str(again.value)
        assert message.count("the executor is broken") == 1
        assert "initializer raised" in message
        assert message.endswith("create a new executor to run more tasks")
    finally:
        executor.shutdown()


def test_executor_task_timeout():
    with Executor(1, filter=deny("socket"), timeout=0.5) as executor:
        slow = executor.submit(sleep_then, 30, 1)
        fast = executor.submit(sleep_then, 0, 2)
        with pytest.raises(SandboxTimeout):
            slow.result(timeout=30)
        assert fast.result(timeout=30) == 2


def test_executor_submit_after_shutdown():
    executor = Executor(1, filter=deny("socket"))
    executor.submit(square, 2).result(timeout=30)
    executor.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(square, 3)


def test_executor_shutdown_waits_for_tasks():
    executor = Executor(2, filter=deny("socket"))
    futures = [executor.submit(sleep_then, 0.05, value) for value in range(6)]
    executor.shutdown(wait=True)
    assert all(future.done() for future in futures)
    assert [future.result() for future in futures] == list(range(6))


def test_executor_shutdown_without_wait():
    executor = Executor(1, filter=deny("socket"))
    future = executor.submit(sleep_then, 0.2, 5)
    executor.shutdown(wait=False)
    assert future.result(timeout=30) == 5


def test_executor_shutdown_cancels_pending():
    executor = Executor(1, filter=deny("socket"))
    first = executor.submit(sleep_then, 0.5, 1)
    rest = [executor.submit(sleep_then, 0.5, value) for value in range(5)]
    time.sleep(0.1)
    executor.shutdown(wait=True, cancel_futures=True)
    assert first.result() == 1
    assert any(future.cancelled() for future in rest)


def test_executor_unpicklable_task_fails_future():
    with Executor(1, filter=deny("socket")) as executor:
        future = executor.submit(lambda: 1)
        with pytest.raises(Exception, match="pickle|lambda"):
            future.result(timeout=30)


def test_executor_rejects_filter_without_read():
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(1), "read")
    with pytest.raises(SandboxError, match="read"):
        Executor(1, filter=f)


@pytest.mark.parametrize("name", seccompx.sandbox.EXECUTOR_TRANSPORT_SYSCALLS)
def test_executor_transport_check_covers_syscall(name):
    with pytest.raises(SandboxError, match=name) as info:
        Executor(1, filter=deny(name, action=ERRNO(1)))
    assert not isinstance(info.value, SandboxViolation)


def test_executor_rejects_non_iterable_initargs():
    expected = "initargs must be an iterable"
    with pytest.raises(TypeError, match=expected) as info:
        Executor(1, filter=deny(), initializer=print, initargs=5)
    assert "not int" in str(info.value)


def test_executor_rejects_non_callable_initializer():
    with pytest.raises(TypeError, match="initializer must be callable"):
        Executor(1, filter=deny(), initializer=5)


@pytest.mark.parametrize("timeout", [0, -1, math.nan])
def test_executor_rejects_invalid_timeout(timeout):
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        Executor(1, filter=deny(), timeout=timeout)
    assert f"timeout={timeout!r}" in str(info.value)


@pytest.mark.parametrize("timeout", [math.inf, 1e30])
def test_executor_unbounded_timeout(timeout):
    with Executor(1, filter=deny("socket"), timeout=timeout) as executor:
        assert executor.submit(square, 3).result(timeout=30) == 9


def test_executor_rejected_arguments_do_not_warn():
    def reject() -> None:
        with pytest.raises(TypeError):
            Executor(1, filter=deny("socket"), initargs=5)
        with pytest.raises(seccompx.InvalidArgumentError):
            Executor(0, filter=deny("socket"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reject()
        gc.collect()
    categories = [item.category for item in caught]
    assert seccompx.FilterNotLoadedWarning not in categories


def test_executor_rejects_bad_max_workers():
    with pytest.raises(seccompx.InvalidArgumentError, match="max_workers=0"):
        Executor(0, filter=deny())


def test_executor_is_concurrent_futures_executor():
    executor = Executor(1, filter=deny())
    try:
        assert isinstance(executor, concurrent.futures.Executor)
        assert executor.max_workers == 1
    finally:
        executor.shutdown()


def test_executor_workers_exit_after_shutdown():
    executor = Executor(2, filter=deny("socket"))
    slow = [executor.submit(sleep_then, 0.1, value) for value in range(4)]
    worker_pids = {
        executor.submit(worker_pid).result(timeout=30) for _ in range(4)
    }
    executor.shutdown(wait=True)
    assert [future.result() for future in slow] == [0, 1, 2, 3]
    assert worker_pids
    for pid in worker_pids:
        # Reaped by the executor, so neither a process nor a zombie.
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
