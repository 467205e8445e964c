"""seccompx.sandbox.spawn() and run_program(): external programs under a
filter loaded just before execve."""

from __future__ import annotations

import collections
import collections.abc
import errno as _errno
import fcntl
import io
import os
import selectors
import signal
import subprocess
import threading
import warnings
from typing import (
    IO,
    Any,
    Dict,
    Iterable,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .. import _sandbox
from .._errors import (
    InvalidArgumentError,
    SandboxError,
    SandboxViolation,
)
from .._filter import resolve_syscall
from .._types import Arch
from ._child import _load_error
from ._program import _describe_action, _mark_used, _prepare
from ._protocol import FilterLike
from ._wait import (
    _ChildWatcher,
    _deadline,
    _remaining,
    _timeout_seconds,
    _wait_time,
)

_SPAWN_STEPS = {
    _sandbox.STAGE_SIGNALS: "resetting signal handlers",
    _sandbox.STAGE_SESSION: "setsid()",
    _sandbox.STAGE_STDIO: "setting up stdin, stdout and stderr",
    _sandbox.STAGE_PASS_FDS: "keeping the pass_fds descriptors open",
    _sandbox.STAGE_CLOSE_FDS: "closing file descriptors",
    _sandbox.STAGE_CWD: "changing directory",
    _sandbox.STAGE_NO_NEW_PRIVS: "prctl(PR_SET_NO_NEW_PRIVS)",
    _sandbox.STAGE_LOAD: "loading the filter",
    _sandbox.STAGE_EXEC: "execve",
}

Argument = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


class _DroppedChild:
    """A child whose Process was deleted while the child still ran.

    A pidfd, where the kernel has them, names this very process, so a
    later reap cannot take another child that was given the same pid
    after someone else reaped this one.
    """

    def __init__(self, pid: int, pidfd: Optional[int]) -> None:
        self.pid = pid
        self.pidfd = pidfd

    def reap(self) -> bool:
        """Reap the child if it has exited; return whether it is gone."""
        try:
            if self.pidfd is not None:
                result = os.waitid(
                    os.P_PIDFD,
                    self.pidfd,
                    os.WEXITED | os.WNOHANG,
                )
                if result is None:
                    return False
            else:
                pid, _ = os.waitpid(self.pid, os.WNOHANG)
                if not pid:
                    return False
        except ChildProcessError:
            # Reaped elsewhere, for example by os.wait().
            pass
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        return True


# Children of deleted Process objects that still ran, reaped by later
# spawn() calls.  deque.append() and popleft() are atomic, so __del__,
# which the garbage collector may run in any thread, needs no lock.
_dropped: "collections.deque[_DroppedChild]" = collections.deque()


def _reap_dropped() -> None:
    """Reap the children of deleted Process objects that have exited."""
    for _ in range(len(_dropped)):
        try:
            child = _dropped.popleft()
        except IndexError:
            return
        if not child.reap():
            _dropped.append(child)
StdioSpec = Union[None, int, IO[Any]]


class Process:
    """A program started by :func:`spawn`.

    It offers the parts of :class:`subprocess.Popen` that a sandboxed
    program needs: ``args``, ``pid``, ``returncode``, the ``stdin``,
    ``stdout`` and ``stderr`` pipes, :meth:`poll`, :meth:`wait`,
    :meth:`communicate`, :meth:`send_signal`, :meth:`terminate`,
    :meth:`kill`, and use as a context manager.  ``returncode`` is
    negative when a signal ended the program, as with Popen.

    Deleting a Process reaps its program if it has exited.  If it still
    runs, deletion warns with ResourceWarning and a later :func:`spawn`
    reaps it once it exits, so dropped programs do not stay zombies.
    """

    def __init__(
        self,
        args: Sequence[Argument],
        pid: int,
        stdin: Optional[IO[Any]],
        stdout: Optional[IO[Any]],
        stderr: Optional[IO[Any]],
    ) -> None:
        self.args = args
        self.pid = pid
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.returncode: Optional[int] = None
        self._watcher = _ChildWatcher(pid, open_now=False)
        self._lock = threading.Lock()
        self._chunks: Dict[int, List[bytes]] = {}

    def __del__(self) -> None:
        watcher = getattr(self, "_watcher", None)
        if watcher is None or self.returncode is not None:
            return
        # No other thread can hold the lock, because it would need a
        # reference to this Process.
        if self.poll() is not None:
            return
        warnings.warn(
            f"program {self.pid} ({_program_name(self.args)}) still runs "
            "while its seccompx.sandbox.Process is deleted; call wait() or "
            "use the Process as a context manager",
            ResourceWarning,
            source=self,
        )
        if hasattr(os, "P_PIDFD"):
            watcher._open()
        _dropped.append(_DroppedChild(self.pid, watcher.fd))
        # The dropped child owns the pidfd now.
        watcher.fd = None

    def __repr__(self) -> str:
        return (
            f"<seccompx.sandbox.Process pid={self.pid} "
            f"returncode={self.returncode} args={list(self.args)!r}>"
        )

    def _set_status(self, status: int) -> None:
        self.returncode = os.waitstatus_to_exitcode(status)
        self._watcher.close()

    def poll(self) -> Optional[int]:
        """Return the returncode if the program has exited, else None."""
        if self.returncode is None and self._lock.acquire(blocking=False):
            try:
                if self.returncode is None:
                    status = self._watcher.poll()
                    if status is not None:
                        self._set_status(status)
            finally:
                self._lock.release()
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for the program to exit and return its returncode.

        Raises :class:`subprocess.TimeoutExpired` after ``timeout``
        seconds: 0 or more, or None or ``math.inf`` for no limit.
        """
        deadline = _deadline(_timeout_seconds(timeout, allow_zero=True))
        return self._wait_until(deadline, timeout)

    def _wait_until(
        self, deadline: Optional[float], timeout: Optional[float]
    ) -> int:
        """Wait until ``deadline``; ``timeout`` is the caller's value for
        the TimeoutExpired error."""
        while self.returncode is None:
            step = _wait_time(deadline)
            if not self._lock.acquire(timeout=-1 if step is None else step):
                if _remaining(deadline) == 0:
                    raise _timeout_expired(self.args, timeout)
                continue
            try:
                if self.returncode is None:
                    status = self._watcher.wait(deadline)
                    if status is None:
                        raise _timeout_expired(self.args, timeout)
                    self._set_status(status)
            finally:
                self._lock.release()
        return self.returncode

    @property
    def violation(self) -> Optional[SandboxViolation]:
        """A SandboxViolation if SIGSYS ended the program, else None.

        The kernel kills a program for a forbidden syscall without telling
        the parent which syscall it was, so ``syscall`` is None.
        """
        # TODO: name the syscall, for example through a user-notification
        # listener that receives the forbidden call before the kill.
        if self.returncode != -signal.SIGSYS:
            return None
        program = _program_name(self.args)
        return SandboxViolation(
            f"{program} (pid {self.pid}) was killed by SIGSYS: it made a "
            "syscall that its filter forbids, or another process sent it "
            "SIGSYS; the kernel does not tell the parent which syscall it "
            "was",
            signal=int(signal.SIGSYS),
        )

    def communicate(
        self,
        input: Optional[Union[bytes, str]] = None,
        timeout: Optional[float] = None,
    ) -> Tuple[Any, Any]:
        """Send ``input``, read stdout and stderr to the end, and wait.

        Returns ``(stdout_data, stderr_data)``, with None for a stream that
        is not a pipe.  ``timeout`` is in seconds: 0 or more, or None or
        ``math.inf`` for no limit.  After :class:`subprocess.TimeoutExpired`
        the data read so far is kept, and a later call goes on from there.
        """
        deadline = _deadline(_timeout_seconds(timeout, allow_zero=True))
        self._exchange(input, deadline, timeout)
        outputs: List[Any] = []
        for stream in (self.stdout, self.stderr):
            if stream is None:
                outputs.append(None)
                continue
            data = b"".join(self._chunks.pop(id(stream), []))
            text = isinstance(stream, io.TextIOBase)
            stream.close()
            outputs.append(_decode_text(data) if text else data)
        self._wait_until(deadline, timeout)
        return outputs[0], outputs[1]

    def _exchange(
        self,
        input: Optional[Union[bytes, str]],
        deadline: Optional[float],
        timeout: Optional[float],
    ) -> None:
        with selectors.DefaultSelector() as selector:
            self._register(selector, input)
            while selector.get_map():
                step = _wait_time(deadline)
                if step is not None and step <= 0:
                    raise _timeout_expired(self.args, timeout)
                for key, _ in selector.select(step):
                    self._transfer(selector, key)

    def _register(
        self,
        selector: selectors.BaseSelector,
        input: Optional[Union[bytes, str]],
    ) -> None:
        if self.stdin is not None and not self.stdin.closed:
            data = input.encode() if isinstance(input, str) else (input or b"")
            if data:
                raw = _raw(self.stdin)
                os.set_blocking(raw, False)
                selector.register(raw, selectors.EVENT_WRITE, memoryview(data))
            else:
                self.stdin.close()
        for stream in (self.stdout, self.stderr):
            if stream is not None and not stream.closed:
                self._chunks.setdefault(id(stream), [])
                selector.register(_raw(stream), selectors.EVENT_READ, stream)

    def _transfer(
        self, selector: selectors.BaseSelector, key: selectors.SelectorKey
    ) -> None:
        if isinstance(key.data, memoryview):
            try:
                written = os.write(key.fd, key.data[:65536])
            except BrokenPipeError:
                written = len(key.data)
            except BlockingIOError:
                return
            rest = key.data[written:]
            if rest:
                selector.modify(key.fd, selectors.EVENT_WRITE, rest)
            else:
                selector.unregister(key.fd)
                assert self.stdin is not None
                self.stdin.close()
            return
        data = os.read(key.fd, 65536)
        if data:
            self._chunks[id(key.data)].append(data)
        else:
            selector.unregister(key.fd)

    def send_signal(self, sig: int) -> None:
        """Send ``sig`` to the program, unless it has been reaped."""
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def terminate(self) -> None:
        """Send SIGTERM."""
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Send SIGKILL."""
        self.send_signal(signal.SIGKILL)

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        for stream in (self.stdout, self.stderr, self.stdin):
            if stream is not None:
                try:
                    stream.close()
                except OSError:
                    pass
        self.wait()


def _program_name(args: Sequence[Argument]) -> str:
    return os.fsdecode(args[0]) if args else "the program"


def _timeout_expired(
    args: Sequence[Argument], timeout: Optional[float]
) -> subprocess.TimeoutExpired:
    return subprocess.TimeoutExpired(args, timeout)  # type: ignore[arg-type]


def _raw(stream: IO[Any]) -> int:
    if isinstance(stream, io.TextIOBase):
        stream.flush()
    return stream.fileno()


def _decode_text(data: bytes) -> str:
    return io.TextIOWrapper(io.BytesIO(data)).read()


def _fsencode_arg(value: Argument, what: str) -> bytes:
    try:
        return os.fsencode(value)
    except TypeError:
        raise TypeError(
            f"{what} must be str, bytes or os.PathLike, not "
            f"{type(value).__name__}"
        ) from None


def _environment(
    env: Optional[Mapping[Any, Any]],
) -> Optional[Tuple[bytes, ...]]:
    if env is None:
        return None
    entries = []
    for key, value in env.items():
        key_bytes = _fsencode_arg(key, "environment variable names")
        if not key_bytes or b"=" in key_bytes:
            raise InvalidArgumentError(
                f"environment variable name {key!r} is invalid: it must be "
                "non-empty and contain no '='"
            )
        entries.append(
            key_bytes + b"=" + _fsencode_arg(value, "environment values")
        )
    return tuple(entries)


def _executables(
    program: bytes, env: Optional[Mapping[Any, Any]]
) -> Tuple[bytes, ...]:
    """Return the paths to try for a program name, as execvp would."""
    if b"/" in program:
        return (program,)
    search_env = None if env is None else dict(env)
    directories = os.get_exec_path(search_env)
    return tuple(os.path.join(os.fsencode(d), program) for d in directories)


_STDIO_NAMES = ("stdin", "stdout", "stderr")
# Descriptors above this cannot be open: the kernel stores them as int.
_MAX_FD = 2**31 - 1


def _is_open(fd: int) -> bool:
    if fd > _MAX_FD:
        return False
    try:
        fcntl.fcntl(fd, fcntl.F_GETFD)
    except OSError:
        return False
    return True


def _kept_fds(pass_fds: Iterable[int]) -> Tuple[int, ...]:
    """Check pass_fds; return its descriptors above 2, sorted.

    0, 1 and 2 stay open in the child anyway, as stdin, stdout and stderr.
    """
    if isinstance(pass_fds, (str, bytes)) or not isinstance(
        pass_fds, collections.abc.Iterable
    ):
        raise TypeError(
            "pass_fds must be an iterable of file descriptors, not "
            f"{type(pass_fds).__name__}"
        )
    if pass_fds == ():
        return ()
    descriptors = set()
    for fd in pass_fds:
        if isinstance(fd, bool) or not isinstance(fd, int):
            raise TypeError(
                "pass_fds must contain file descriptors (int), not "
                f"{fd!r} of type {type(fd).__name__}"
            )
        if fd < 0:
            raise InvalidArgumentError(
                f"pass_fds contains {fd}, which is not a file descriptor: "
                "use descriptors of 0 or more"
            )
        if not _is_open(fd):
            raise InvalidArgumentError(
                f"pass_fds contains {fd}, which is not an open file "
                "descriptor in this process; open it or leave it out"
            )
        if fd > 2:
            descriptors.add(fd)
    return tuple(sorted(descriptors))


class _Stdio:
    """The three descriptors for the child and the parent's pipe ends."""

    def __init__(self) -> None:
        self.child = [-1, -1, -1]
        self.parent: List[Optional[int]] = [None, None, None]
        self.close_after: List[int] = []

    def setup(self, slot: int, spec: StdioSpec) -> None:
        if spec is None:
            return
        if spec == subprocess.PIPE:
            read_end, write_end = os.pipe()
            if slot == 0:
                self.child[0], self.parent[0] = read_end, write_end
                self.close_after.append(read_end)
            else:
                self.child[slot], self.parent[slot] = write_end, read_end
                self.close_after.append(write_end)
        elif spec == subprocess.DEVNULL:
            fd = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
            self.child[slot] = fd
            self.close_after.append(fd)
        elif spec == subprocess.STDOUT:
            if slot != 2:
                raise InvalidArgumentError(
                    f"{_STDIO_NAMES[slot]}=subprocess.STDOUT is invalid: "
                    "only stderr may be subprocess.STDOUT"
                )
            self.child[2] = self.child[1] if self.child[1] >= 0 else 1
        elif isinstance(spec, int) and not isinstance(spec, bool):
            name = _STDIO_NAMES[slot]
            if spec < 0:
                raise InvalidArgumentError(
                    f"{name}={spec} is invalid: use a file descriptor of 0 "
                    "or more, subprocess.PIPE, DEVNULL or None"
                )
            if not _is_open(spec):
                raise InvalidArgumentError(
                    f"{name}={spec} is not an open file descriptor in this "
                    "process"
                )
            self.child[slot] = spec
        elif hasattr(spec, "fileno"):
            self.child[slot] = spec.fileno()
        else:
            raise TypeError(
                "stdin, stdout and stderr must be None, subprocess.PIPE, "
                "DEVNULL, a file descriptor or a file object, not "
                f"{type(spec).__name__}"
            )

    def close_child_ends(self) -> None:
        for fd in self.close_after:
            os.close(fd)
        self.close_after = []

    def close_all(self) -> None:
        self.close_child_ends()
        for fd in self.parent:
            if fd is not None:
                os.close(fd)
        self.parent = [None, None, None]

    def streams(self, text: bool) -> List[Optional[IO[Any]]]:
        streams: List[Optional[IO[Any]]] = []
        for slot, fd in enumerate(self.parent):
            if fd is None:
                streams.append(None)
                continue
            mode = "wb" if slot == 0 else "rb"
            stream: IO[Any] = open(fd, mode)
            if text:
                stream = io.TextIOWrapper(stream, write_through=slot == 0)
            streams.append(stream)
        self.parent = [None, None, None]
        return streams


def _spawn_failure(
    stage: int,
    err: int,
    program: bytes,
    cwd: Optional[bytes],
    keep: Tuple[int, ...],
) -> BaseException:
    if stage == _sandbox.STAGE_LOAD:
        return _load_error(err)
    if stage == _sandbox.STAGE_EXEC and err == _errno.EPERM:
        return SandboxError(
            f"execve of {os.fsdecode(program)!r} failed with EPERM after "
            "the filter was loaded: the filter may forbid execve for these "
            "arguments; allow execve",
            err,
        )
    if stage == _sandbox.STAGE_EXEC:
        return OSError(err, os.strerror(err), os.fsdecode(program))
    if stage == _sandbox.STAGE_CWD and cwd is not None:
        return OSError(err, os.strerror(err), os.fsdecode(cwd))
    if stage == _sandbox.STAGE_PASS_FDS:
        return OSError(
            err,
            f"keeping the pass_fds descriptors {list(keep)} open in the "
            f"child failed: {os.strerror(err)}; one was probably closed "
            "after spawn() checked it",
        )
    step = _SPAWN_STEPS.get(stage, f"step {stage}")
    return OSError(err, f"{step} in the child failed: {os.strerror(err)}")


def spawn(
    args: Union[Argument, Sequence[Argument]],
    *,
    filter: FilterLike,
    executable: Optional[Argument] = None,
    stdin: StdioSpec = None,
    stdout: StdioSpec = None,
    stderr: StdioSpec = None,
    env: Optional[Mapping[Any, Any]] = None,
    cwd: Optional[Argument] = None,
    pass_fds: Iterable[int] = (),
    close_fds: bool = True,
    start_new_session: bool = False,
    text: bool = False,
) -> Process:
    """Start a program with ``filter`` loaded just before ``execve``.

    The arguments mean what they mean for :class:`subprocess.Popen`
    (without ``shell``); a program name without ``/`` is searched in
    ``PATH``.  The child is started with ``vfork`` and runs only
    async-signal-safe C code until ``execve``: it resets signal handlers,
    sets up the descriptors, changes directory, sets
    ``PR_SET_NO_NEW_PRIVS``, loads the filter and calls ``execve``.  This
    is safe in a process with threads.  The filter is loaded unchanged,
    so the kernel applies its actions to the program as they are; see
    :attr:`Process.violation`.

    The filter must let ``execve`` run: if it kills, traps or fails that
    very call, this raises :class:`seccompx.SandboxError` without starting
    a child.  A program that cannot be executed raises OSError, as
    subprocess does (FileNotFoundError for a missing program).
    ``pass_fds`` must contain open descriptors of this process; 0, 1 and
    2 stay open anyway.
    """
    _mark_used(filter)
    if _dropped:
        _reap_dropped()
    argv = _argv(args)
    prepared = _prepare(filter, "kill")
    program = (
        _fsencode_arg(executable, "executable")
        if executable is not None
        else argv[0]
    )
    executables = _executables(program, env)
    environment = _environment(env)
    directory = _fsencode_arg(cwd, "cwd") if cwd is not None else None
    keep = _kept_fds(pass_fds)
    exec_check = _exec_check()
    stdio = _Stdio()
    try:
        for slot, spec in enumerate((stdin, stdout, stderr)):
            stdio.setup(slot, spec)
        pid, stage, err, action = _sandbox.spawn(
            executables,
            argv,
            environment,
            directory,
            (stdio.child[0], stdio.child[1], stdio.child[2]),
            keep,
            close_fds or bool(keep),
            start_new_session,
            prepared.program,
            prepared.flags,
            prepared.no_new_privs,
            exec_check,
        )
        stdio.close_child_ends()
        if stage == _sandbox.STAGE_EXEC_FORBIDDEN:
            raise SandboxError(
                f"the filter forbids execve ({exec_check[0]}): it returns "
                f"{_describe_action(action)} for it, so no program can start "
                "under it; allow execve (and the syscalls the program needs)",
                _errno.EPERM,
            )
        if stage:
            os.waitpid(pid, 0)
            raise _spawn_failure(stage, err, program, directory, keep)
    except BaseException:
        stdio.close_all()
        raise
    streams = stdio.streams(text)
    return Process(
        args if not isinstance(args, (str, bytes, os.PathLike)) else [args],
        pid,
        streams[0],
        streams[1],
        streams[2],
    )


_exec_check_cache: Optional[Tuple[int, int]] = None


def _exec_check() -> Tuple[int, int]:
    """Return execve's number and the native architecture's token, which
    the child checks the filter with before it starts the program.  Both
    are fixed for the process, and looking them up on each spawn() costs
    microseconds right after a child ran, when the caches are cold."""
    global _exec_check_cache
    if _exec_check_cache is None:
        _exec_check_cache = (resolve_syscall("execve"), int(Arch.native()))
    return _exec_check_cache


def _argv(args: Union[Argument, Sequence[Argument]]) -> Tuple[bytes, ...]:
    if isinstance(args, (str, bytes, os.PathLike)):
        items: Sequence[Argument] = [args]
    else:
        items = list(args)
    if not items:
        raise InvalidArgumentError(
            "args is empty: give at least the program to run"
        )
    return tuple(_fsencode_arg(item, "each argument") for item in items)


def run_program(
    args: Union[Argument, Sequence[Argument]],
    *,
    filter: FilterLike,
    input: Optional[Union[bytes, str]] = None,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    **options: Any,
) -> "subprocess.CompletedProcess[Any]":
    """Run a program under ``filter`` and wait for it, like subprocess.run.

    ``options`` go to :func:`spawn`.  With ``check`` true, a program that
    SIGSYS ended raises its :attr:`Process.violation`, and any other
    non-zero returncode raises :class:`subprocess.CalledProcessError`.
    After ``timeout`` seconds (greater than 0, or None or ``math.inf``
    for no limit) the program is killed and
    :class:`subprocess.TimeoutExpired` is raised.
    """
    _mark_used(filter)
    _timeout_seconds(timeout)
    if input is not None:
        if options.get("stdin") is not None:
            raise InvalidArgumentError("stdin and input cannot both be given")
        options["stdin"] = subprocess.PIPE
    if capture_output:
        if (
            options.get("stdout") is not None
            or options.get("stderr") is not None
        ):
            raise InvalidArgumentError(
                "stdout and stderr cannot be given with capture_output"
            )
        options["stdout"] = options["stderr"] = subprocess.PIPE
    with spawn(args, filter=filter, **options) as process:
        try:
            out, err = process.communicate(input, timeout)
        except BaseException:
            process.kill()
            process.wait()
            raise
    returncode = process.returncode
    assert returncode is not None
    if check:
        violation = process.violation
        if violation is not None:
            raise violation
        if returncode:
            raise subprocess.CalledProcessError(
                returncode, process.args, out, err
            )
    return subprocess.CompletedProcess(process.args, returncode, out, err)
