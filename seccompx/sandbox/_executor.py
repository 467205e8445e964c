"""seccompx.sandbox.Executor: a pool of filtered worker processes."""

from __future__ import annotations

import collections
import collections.abc
import concurrent.futures
import logging
import os
import pickle
import select
import signal
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import (
    Any,
    Callable,
    Deque,
    Dict,
    Iterable,
    List,
    NoReturn,
    Optional,
    Tuple,
    TypeVar,
)

from .. import _sandbox
from .._errors import (
    InvalidArgumentError,
    SandboxError,
    SandboxTimeout,
)
from ._child import _call, _flush_stdio, _start_child
from ._program import _check_transport, _mark_used, _prepare, _Prepared
from ._protocol import (
    _EXIT_INTERNAL,
    _STAGE_INITIALIZING,
    _STAGE_LOADING,
    _STAGE_NAMES,
    _STAGE_RUNNING,
    _STAGE_SENDING,
    _STAGE_STARTED,
    _STAGE_WAITING,
    EXECUTOR_TRANSPORT_SYSCALLS,
    FilterLike,
    _decode,
    _encode_exception,
    _frame,
    _FrameReader,
    _outcome_error,
    _read_frame,
    _send_frame,
)
from ._report import _death_error, _status_text
from ._run import _func_name
from ._wait import _MAX_WAIT, _ChildWatcher, _drain, _timeout_seconds

_log = logging.getLogger("seccompx")
_T = TypeVar("_T")


@dataclass
class _Task:
    future: "concurrent.futures.Future[Any]"
    payload: bytes
    name: str
    attempts: int = 0


@dataclass
class _Worker:
    pid: int
    watcher: _ChildWatcher
    task_fd: int  # parent's write end, non-blocking
    result_fd: int  # parent's read end, non-blocking
    reporter: _sandbox.Reporter
    reader: _FrameReader = field(default_factory=_FrameReader)
    task: Optional[_Task] = None
    outbox: memoryview = field(default_factory=lambda: memoryview(b""))
    deadline: Optional[float] = None
    timed_out: bool = False
    ready: bool = False  # reached the task loop once


# A task whose worker died before it began is given to another worker at
# most this many times.
_MAX_ATTEMPTS = 3


def _worker_main(
    prepared: _Prepared,
    reporter: _sandbox.Reporter,
    task_fd: int,
    result_fd: int,
    initializer: Optional[Callable[..., Any]],
    initargs: Tuple[Any, ...],
) -> NoReturn:
    """The main function of an executor worker.  Never returns."""
    code = _EXIT_INTERNAL
    try:
        reporter.set_stage(_STAGE_INITIALIZING)
        if _initialize(initializer, initargs, result_fd) and _start_child(
            reporter, prepared, result_fd
        ):
            _serve(reporter, task_fd, result_fd)
            code = 0
    finally:
        os._exit(code)


def _initialize(
    initializer: Optional[Callable[..., Any]],
    initargs: Tuple[Any, ...],
    result_fd: int,
) -> bool:
    """Run the initializer; send its exception and return False if it
    raised."""
    if initializer is None:
        return True
    try:
        initializer(*initargs)
    except BaseException as exc:
        _send_frame(result_fd, _encode_exception(exc, "init_failed"))
        return False
    return True


def _serve(reporter: _sandbox.Reporter, task_fd: int, result_fd: int) -> None:
    while True:
        reporter.set_stage(_STAGE_WAITING)
        payload = _read_frame(task_fd)
        if payload is None:
            return
        reporter.set_stage(_STAGE_RUNNING)
        try:
            func, args, kwargs = pickle.loads(payload)
        except BaseException as exc:
            result = _encode_exception(exc)
        else:
            result = _call(reporter, func, args, kwargs)
        _send_frame(result_fd, result)


class _Pool:
    """The state of an :class:`Executor`, driven by one manager thread.

    The manager forks workers, hands each idle worker one task at a time,
    reads results, and replaces workers that die.  Only the manager thread
    touches workers; other threads touch the pending queue under the lock.
    """

    def __init__(
        self,
        prepared: _Prepared,
        max_workers: int,
        initializer: Optional[Callable[..., Any]],
        initargs: Tuple[Any, ...],
        timeout: Optional[float],
    ) -> None:
        self.prepared = prepared
        self.max_workers = max_workers
        self.initializer = initializer
        self.initargs = initargs
        self.timeout = timeout
        self.lock = threading.Lock()
        self.pending: Deque[_Task] = collections.deque()
        self.shutting_down = False
        self.broken: Optional[BaseException] = None
        self.workers: Dict[int, _Worker] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.thread: Optional[threading.Thread] = None

    # Called from any thread ----------------------------------------------

    def submit(self, task: _Task) -> None:
        with self.lock:
            if self.broken is not None:
                reason = str(self.broken)
                # Most reasons end by saying that the executor is broken.
                if "the executor is broken" not in reason:
                    reason = f"the executor is broken: {reason}"
                error = SandboxError(
                    f"{reason}; create a new executor to run more tasks"
                )
                error.__cause__ = self.broken
                raise error
            if self.shutting_down:
                raise RuntimeError(
                    "cannot schedule new futures after shutdown"
                )
            self.pending.append(task)
            if self.thread is None:
                self.thread = threading.Thread(
                    target=self.manage,
                    name="seccompx-sandbox-executor",
                    daemon=True,
                )
                self.thread.start()
        self.wake()

    def shutdown(self, wait: bool, cancel_futures: bool) -> None:
        with self.lock:
            self.shutting_down = True
            if cancel_futures:
                while self.pending:
                    self.pending.popleft().future.cancel()
            thread = self.thread
        self.wake()
        if thread is None:
            self.close_wake_pipe()
        elif wait:
            thread.join()

    def wake(self) -> None:
        # Under the lock, so that a descriptor number that the manager
        # closed and the process reused is never written to.
        with self.lock:
            if self.wake_w < 0:
                return
            try:
                os.write(self.wake_w, b"x")
            except BlockingIOError:
                pass  # The pipe is full, so the manager wakes anyway.

    def close_wake_pipe(self) -> None:
        with self.lock:
            for fd in (self.wake_r, self.wake_w):
                if fd >= 0:
                    os.close(fd)
            self.wake_r = self.wake_w = -1

    # The manager thread --------------------------------------------------

    def manage(self) -> None:
        try:
            while not self.finished():
                self.start_workers()
                self.dispatch()
                self.handle(self.poll())
                self.check_deadlines()
        except BaseException as exc:
            _log.exception("seccompx sandbox executor: manager thread failed")
            error = SandboxError(
                f"the executor's manager thread failed: {exc!r}"
            )
            error.__cause__ = exc
            self.fail_everything(error)
        finally:
            self.stop_workers()
            self.close_wake_pipe()

    def finished(self) -> bool:
        with self.lock:
            if self.broken is not None:
                return True
            if not self.shutting_down or self.pending:
                return False
        return all(worker.task is None for worker in self.workers.values())

    def start_workers(self) -> None:
        with self.lock:
            pending_count = len(self.pending)
        idle = sum(
            1 for worker in self.workers.values() if worker.task is None
        )
        count = min(pending_count - idle, self.max_workers - len(self.workers))
        for _ in range(max(0, count)):
            self.start_worker()

    def start_worker(self) -> None:
        task_r, task_w = os.pipe()
        result_r, result_w = os.pipe()
        reporter = _sandbox.Reporter()
        try:
            _check_transport(
                self.prepared, EXECUTOR_TRANSPORT_SYSCALLS, result_w, task_r
            )
            _flush_stdio()
            pid = os.fork()
        except BaseException:
            for fd in (task_r, task_w, result_r, result_w):
                os.close(fd)
            reporter.close()
            raise
        if pid == 0:
            self.enter_worker(task_w, result_r)
            _worker_main(
                self.prepared,
                reporter,
                task_r,
                result_w,
                self.initializer,
                self.initargs,
            )
        os.close(task_r)
        os.close(result_w)
        os.set_blocking(task_w, False)
        os.set_blocking(result_r, False)
        self.workers[pid] = _Worker(
            pid, _ChildWatcher(pid), task_w, result_r, reporter
        )

    def enter_worker(self, *own_parent_ends: int) -> None:
        """Close, in a new worker, the descriptors that belong to others."""
        fds = [self.wake_r, self.wake_w, *own_parent_ends]
        for worker in self.workers.values():
            fds += [worker.task_fd, worker.result_fd]
            if worker.watcher.fd is not None:
                fds.append(worker.watcher.fd)
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass

    def dispatch(self) -> None:
        for worker in self.workers.values():
            if worker.task is not None:
                continue
            task = self.next_task()
            if task is None:
                return
            worker.task = task
            worker.outbox = memoryview(_frame(task.payload))
            worker.deadline = None
            self.send(worker)

    def next_task(self) -> Optional[_Task]:
        with self.lock:
            while self.pending:
                task = self.pending.popleft()
                if task.attempts or task.future.set_running_or_notify_cancel():
                    return task
        return None

    def send(self, worker: _Worker) -> None:
        try:
            written = os.write(worker.task_fd, worker.outbox)
        except BlockingIOError:
            return
        except BrokenPipeError:
            # The worker is gone; its exit is handled through its watcher.
            worker.outbox = memoryview(b"")
            return
        worker.outbox = worker.outbox[written:]

    def poll(self) -> List[Tuple[int, int]]:
        poller = select.poll()
        if self.wake_r >= 0:
            poller.register(self.wake_r, select.POLLIN)
        wait_ms: Optional[int] = None
        now = time.monotonic()
        for worker in self.workers.values():
            poller.register(worker.result_fd, select.POLLIN)
            if worker.outbox:
                poller.register(worker.task_fd, select.POLLOUT)
            if worker.watcher.fd is not None:
                poller.register(worker.watcher.fd, select.POLLIN)
            else:
                wait_ms = 10
            if worker.task is not None and self.timeout is not None:
                if worker.deadline is None:
                    # Its clock starts once it runs tasks: check soon.
                    wait_ms = 10
                else:
                    seconds_left = min(worker.deadline - now, _MAX_WAIT)
                    left = int(seconds_left * 1000) + 1
                    wait_ms = max(
                        0, left if wait_ms is None else min(wait_ms, left)
                    )
        return poller.poll(wait_ms)

    def handle(self, events: List[Tuple[int, int]]) -> None:
        ready = {fd for fd, _ in events}
        if self.wake_r in ready:
            try:
                while os.read(self.wake_r, 4096):
                    pass
            except BlockingIOError:
                pass
        for worker in list(self.workers.values()):
            if worker.task_fd in ready and worker.outbox:
                self.send(worker)
            if worker.result_fd in ready:
                self.receive(worker)
            if worker.watcher.fd in ready or worker.watcher.fd is None:
                if worker.watcher.poll() is not None:
                    self.on_exit(worker)

    def receive(self, worker: _Worker) -> None:
        frames, _ = _drain(worker.result_fd, worker.reader)
        for payload in frames:
            self.complete(worker, payload)

    def complete(self, worker: _Worker, payload: bytes) -> None:
        try:
            message = _decode(payload)
        except SandboxError as exc:
            message = ("error", str(exc))
        kind = message[0]
        if kind.startswith(("init_failed", "load_failed")):
            error = _outcome_error(message)
            assert error is not None
            if not isinstance(error, SandboxError):
                wrapped = SandboxError(f"a worker could not start: {error}")
                wrapped.__cause__ = error
                error = wrapped
            self.fail_everything(error)
            return
        task = worker.task
        worker.task = None
        worker.deadline = None
        if task is None:
            _log.warning(
                "seccompx sandbox executor: worker %d sent a result "
                "without a task",
                worker.pid,
            )
            return
        error = _outcome_error(message)
        if error is None:
            task.future.set_result(message[1])
        else:
            task.future.set_exception(error)

    def on_exit(self, worker: _Worker) -> None:
        self.receive(worker)
        self.workers.pop(worker.pid, None)
        for fd in (worker.task_fd, worker.result_fd):
            os.close(fd)
        worker.watcher.close()
        stage = worker.reporter.stage
        record = worker.reporter.record()
        worker.reporter.close()

        status = worker.watcher.status
        task = worker.task
        if task is None:
            if status != 0 and not self.shutting_down:
                child_name = f"the sandbox worker {worker.pid}"
                _log.warning(
                    "seccompx sandbox executor: idle worker %d %s",
                    worker.pid,
                    _death_error(
                        record, status, stage, self.prepared, child_name
                    ),
                )
            return
        if stage in (_STAGE_INITIALIZING, _STAGE_LOADING, _STAGE_STARTED):
            # The worker died before its filter was loaded, for a reason
            # that would likely end every replacement the same way.
            self.fail_everything(
                SandboxError(
                    f"the sandbox worker {worker.pid} "
                    f"{_status_text(status or 0)} while "
                    f"{_STAGE_NAMES[stage]}; the executor is broken"
                )
            )
            return
        if self.retry(worker, task, stage, record):
            return
        task.future.set_exception(
            self.task_error(worker, task, status, stage, record)
        )

    def retry(
        self,
        worker: _Worker,
        task: _Task,
        stage: int,
        record: Optional[Dict[str, Any]],
    ) -> bool:
        """Queue a task again if its worker died before reading it."""
        if stage != _STAGE_WAITING or record is not None or worker.timed_out:
            return False
        task.attempts += 1
        if task.attempts >= _MAX_ATTEMPTS:
            return False
        with self.lock:
            self.pending.appendleft(task)
        return True

    def task_error(
        self,
        worker: _Worker,
        task: _Task,
        status: Optional[int],
        stage: int,
        record: Optional[Dict[str, Any]],
    ) -> BaseException:
        child_name = f"the sandbox worker {worker.pid} running {task.name}"
        if worker.timed_out:
            return SandboxTimeout(
                f"{child_name} did not finish within {self.timeout} s, so the "
                "worker was killed"
            )
        return _death_error(record, status, stage, self.prepared, child_name)

    def check_deadlines(self) -> None:
        if self.timeout is None:
            return
        now = time.monotonic()
        for worker in self.workers.values():
            if worker.task is None or worker.timed_out:
                continue
            if not worker.ready and worker.reporter.stage in (
                _STAGE_WAITING,
                _STAGE_RUNNING,
                _STAGE_SENDING,
            ):
                worker.ready = True
            if worker.deadline is None and worker.ready and not worker.outbox:
                worker.deadline = now + self.timeout
            if worker.deadline is not None and now >= worker.deadline:
                worker.timed_out = True
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def fail_everything(self, error: BaseException) -> None:
        with self.lock:
            if self.broken is None:
                self.broken = error
            tasks = list(self.pending)
            self.pending.clear()
        tasks += [w.task for w in self.workers.values() if w.task is not None]
        for worker in self.workers.values():
            worker.task = None
        for task in tasks:
            if not task.future.done():
                if (
                    task.future.running()
                    or task.future.set_running_or_notify_cancel()
                ):
                    task.future.set_exception(error)

    def stop_workers(self) -> None:
        """End every worker: EOF on its task pipe, or SIGKILL if broken."""
        for worker in self.workers.values():
            if self.broken is not None:
                try:
                    os.kill(worker.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            os.close(worker.task_fd)
            worker.task_fd = -1
        for worker in list(self.workers.values()):
            worker.watcher.wait(None)
            worker.watcher.close()
            os.close(worker.result_fd)
            worker.reporter.close()
        self.workers.clear()


class Executor(concurrent.futures.Executor):
    """A process pool whose workers run tasks under a seccomp filter.

    Each worker is forked from the calling process, runs ``initializer``
    (without the filter, so it may import modules and open files), loads
    the filter once and then runs many tasks.  A task function and its
    arguments are pickled; the function must be importable by name in the
    worker, which already has every module the parent had imported when
    the worker started, plus what the initializer imported.  A task that
    breaks the filter fails with :class:`seccompx.SandboxViolation`, its
    worker dies, and a new worker takes its place.  ``timeout`` limits
    each task in seconds (``SandboxTimeout``, and the worker is replaced);
    it must be greater than 0, or None or ``math.inf`` for no limit.

    The filter must allow :data:`EXECUTOR_TRANSPORT_SYSCALLS`; the
    constructor raises :class:`seccompx.SandboxError` otherwise.  If the
    initializer raises, or the filter fails to load, the executor is
    broken: pending tasks fail with SandboxError and submit() raises it.
    """

    def __init__(
        self,
        max_workers: Optional[int] = None,
        *,
        filter: FilterLike,
        initializer: Optional[Callable[..., Any]] = None,
        initargs: Iterable[Any] = (),
        timeout: Optional[float] = None,
        report: str = "trap",
    ) -> None:
        _mark_used(filter)
        if max_workers is None:
            max_workers = os.cpu_count() or 1
        if isinstance(max_workers, bool) or not isinstance(max_workers, int):
            raise TypeError(
                f"max_workers must be an int, not {type(max_workers).__name__}"
            )
        if max_workers <= 0:
            raise InvalidArgumentError(
                f"max_workers={max_workers} is invalid: use 1 or more"
            )
        if initializer is not None and not callable(initializer):
            raise TypeError(
                "initializer must be callable or None, not "
                f"{type(initializer).__name__}"
            )
        if not isinstance(initargs, collections.abc.Iterable):
            raise TypeError(
                "initargs must be an iterable of arguments for the "
                f"initializer, such as a tuple, not {type(initargs).__name__}"
            )
        seconds = _timeout_seconds(timeout)
        prepared = _prepare(filter, report)
        read_fd, write_fd = os.pipe()
        try:
            _check_transport(
                prepared, EXECUTOR_TRANSPORT_SYSCALLS, write_fd, read_fd
            )
        finally:
            os.close(read_fd)
            os.close(write_fd)
        self._pool = _Pool(
            prepared, max_workers, initializer, tuple(initargs), seconds
        )
        self._finalizer = weakref.finalize(
            self, self._pool.shutdown, False, False
        )

    @property
    def max_workers(self) -> int:
        """The largest number of worker processes."""
        return self._pool.max_workers

    def submit(
        self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any
    ) -> "concurrent.futures.Future[_T]":
        """Schedule ``fn(*args, **kwargs)`` in a worker; return its Future."""
        future: "concurrent.futures.Future[_T]" = concurrent.futures.Future()
        try:
            payload = pickle.dumps((fn, args, kwargs), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            future.set_exception(exc)
            return future
        self._pool.submit(_Task(future, payload, _func_name(fn)))
        return future

    def shutdown(
        self, wait: bool = True, *, cancel_futures: bool = False
    ) -> None:
        """Stop accepting tasks; workers exit when the pending ones are done.

        With ``wait`` true, return when every worker has exited.  With
        ``cancel_futures`` true, cancel the tasks that have not started.
        """
        self._pool.shutdown(wait, cancel_futures)
