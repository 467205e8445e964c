"""Seccomp user notifications: decide a target's syscalls in Python.

A filter rule with the :data:`seccompx.NOTIFY` action suspends the syscall
and sends a notification to a *listener* descriptor.  A supervisor process
reads the notification, decides, and responds: the syscall then returns a
value, fails with an errno, or runs as made (``CONTINUE``).

Three layers:

* :func:`receive`, :func:`respond`, :func:`id_valid` and :func:`addfd`
  work on any listener descriptor, such as :attr:`seccompx.Filter.notify_fd`.
* :class:`Supervisor` (threads) and :class:`AsyncSupervisor` (asyncio)
  start programs or callables under a filter in child processes and pass
  each notification to a handler that returns a :class:`Reply`.
* :func:`trace` runs a program with every syscall notified and let
  through with ``CONTINUE``, and returns the syscalls it made as an OCI profile.

Neither ``CONTINUE`` nor anything read from the target's memory is a
security decision: the target can change its memory after the supervisor
has read it, and a continued syscall runs with the arguments the target
has then.  See :meth:`Request.read_memory`.
"""

from __future__ import annotations

import asyncio
import errno as _errno
import inspect
import logging
import os
import select
import shutil
import signal
import socket
import struct
import sys
import threading
import traceback
from dataclasses import dataclass, field
from typing import (
    Any,
    Awaitable,
    Callable,
    Dict,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    NoReturn,
    Optional,
    Sequence,
    Set,
    Tuple,
    Union,
)

from . import _notify
from ._actions import NOTIFY
from ._errors import (
    InvalidArgumentError,
    NotifyError,
    TargetGoneError,
    UnknownSyscallError,
)
from ._filter import Filter, syscall_name
from ._types import Arch, Attr, _wait_kill_available

__all__ = [
    "CONTINUE",
    "FLAG_CONTINUE",
    "AsyncSupervisor",
    "Notification",
    "NotifSizes",
    "Reply",
    "Request",
    "Supervisor",
    "Target",
    "Trace",
    "addfd",
    "fail",
    "id_valid",
    "notif_sizes",
    "receive",
    "respond",
    "succeed",
    "trace",
]

logger = logging.getLogger("seccompx.notify")

Notification = _notify.Notification
FLAG_CONTINUE: int = _notify.FLAG_CONTINUE

# Largest errno a response may carry (the kernel's MAX_ERRNO).
_MAX_ERRNO = 4095
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
# Bytes read from the target per step when looking for a string's end.
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
# SECCOMP_FILTER_FLAG_LOG, SECCOMP_FILTER_FLAG_SPEC_ALLOW and
# SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19+).
_FLAG_LOG = 1 << 1
_FLAG_SPEC_ALLOW = 1 << 2
_FLAG_WAIT_KILLABLE_RECV = 1 << 5
# Exit statuses of a child that failed before running its target.
_EXIT_SETUP_FAILED = 126
_EXIT_EXEC_FAILED = 127
# Messages from a starting child on its socket: the listener (with the
# descriptor attached), an errno from loading the filter, any other set-up
# failure as text, or an errno from execve.
_TAG_LISTENER = b"L"
_TAG_LOAD_ERRNO = b"E"
_TAG_SETUP_FAILED = b"F"
_TAG_EXEC_ERRNO = b"X"
_ERRNO_FORMAT = "=i"


# Low-level API ------------------------------------------------------------


class NotifSizes(NamedTuple):
    """Sizes in bytes of the kernel's notification structures."""

    notif: int
    resp: int
    data: int


def notif_sizes() -> NotifSizes:
    """Return the structure sizes the running kernel uses.

    The kernel copies structures of its own size, which may grow in newer
    kernels; :func:`receive` and :func:`respond` allocate the larger of
    these sizes and the ones seccompx was built with.  Raises
    UnsupportedError on kernels without user notifications.
    """
    return NotifSizes(*_notify.notif_sizes())


def receive(fd: int) -> Any:
    """Wait for the next notification on listener ``fd`` and return it.

    The result is a :data:`Notification` with fields ``id``, ``pid``,
    ``flags``, ``nr``, ``arch``, ``instruction_pointer`` and ``args``.
    The call blocks with the GIL released.  A signal interrupts it only to
    run Python's signal handlers, so Ctrl-C raises KeyboardInterrupt;
    otherwise it waits on.  Raises TargetGoneError when the target died (or
    its syscall was interrupted) before the notification could be read:
    call again for the next one.

    The descriptor is pollable: it is readable while a notification waits,
    and reports POLLHUP once no process uses the filter any more (a
    process uses it until it has been reaped).  Use
    ``select``, ``selectors`` or ``loop.add_reader`` to wait without a
    thread, then call :func:`receive`.
    """
    return _notify.receive(fd)


def respond(
    fd: int, id: int, value: int = 0, error: int = 0, flags: int = 0
) -> None:
    """Respond to notification ``id`` on listener ``fd``.

    The syscall returns ``value``, or fails with the positive errno
    ``error``, or with ``flags=FLAG_CONTINUE`` (and value and error 0) runs
    as the target made it.  Raises TargetGoneError when the target exited
    or was interrupted by a signal while it waited.
    """
    _notify.respond(fd, id, value, error, flags)


def id_valid(fd: int, id: int) -> bool:
    """Whether notification ``id`` still waits for a response.

    False once the target has died, its syscall was interrupted, or the
    supervisor has responded.  Check it after reading the target's memory:
    a pid seen in a notification may belong to another process by then.
    """
    return bool(_notify.id_valid(fd, id))


def addfd(
    fd: int,
    id: int,
    srcfd: int,
    newfd: Optional[int] = None,
    flags: int = 0,
    send: bool = False,
) -> int:
    """Copy descriptor ``srcfd`` into the target of notification ``id``.

    Returns the descriptor's number in the target.  ``newfd`` chooses the
    number, replacing whatever the target had open there; by default the
    kernel takes the lowest free one.  ``flags`` is 0 or ``os.O_CLOEXEC``.
    With ``send=True`` the kernel also responds to the notification with that
    number, atomically (Linux 5.14+): do not respond to it afterwards.
    Uses SECCOMP_IOCTL_NOTIF_ADDFD (Linux 5.9+).
    """
    return int(_notify.addfd(fd, id, srcfd, newfd, flags, send))


# Replies ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A supervisor's response to one notification.

    Build replies with :data:`CONTINUE`, :func:`fail` and :func:`succeed`.
    """

    value: int = 0
    error: int = 0
    flags: int = 0


CONTINUE = Reply(flags=FLAG_CONTINUE)
"""Let the syscall run as the target made it.

This is never a security decision.  The kernel runs the syscall with the
arguments as they are when the target resumes.  Another thread of the
target, or a process sharing its memory, may have changed them since the
handler looked at them.
"""


def fail(errno: int) -> Reply:
    """Return the reply that makes the syscall fail with ``errno``."""
    if isinstance(errno, bool) or not isinstance(errno, int):
        raise TypeError(f"errno must be an int, not {type(errno).__name__}")
    if not 1 <= errno <= _MAX_ERRNO:
        raise InvalidArgumentError(
            f"errno {errno} is out of range: use 1 to {_MAX_ERRNO}, such as "
            "errno.EPERM"
        )
    return Reply(error=errno)


def succeed(value: int = 0) -> Reply:
    """Return the reply that makes the syscall return ``value`` unrun."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"value must be an int, not {type(value).__name__}")
    if not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidArgumentError(
            f"value {value} does not fit the kernel's signed 64-bit return "
            "value"
        )
    return Reply(value=value)


# Requests --------------------------------------------------------------------


class Request:
    """One notification, as passed to a handler.

    ``target`` is the :class:`Target` whose filter sent it; the syscall may
    come from that process or any of its descendants (``pid``).
    """

    __slots__ = ("notification", "listener", "target", "_syscall", "responded")

    def __init__(
        self, notification: Any, listener: int, target: Optional["Target"]
    ) -> None:
        self.notification = notification
        self.listener = listener
        self.target = target
        self._syscall: Optional[str] = None
        self.responded = False

    @property
    def id(self) -> int:
        """The kernel's cookie for this notification."""
        return int(self.notification.id)

    @property
    def pid(self) -> int:
        """The thread that made the syscall, in the supervisor's pid
        namespace."""
        return int(self.notification.pid)

    @property
    def nr(self) -> int:
        """The syscall number on :attr:`arch`."""
        return int(self.notification.nr)

    @property
    def arch(self) -> Union[Arch, int]:
        """The architecture of the syscall (an int when seccompx has no
        member for it)."""
        token = int(self.notification.arch)
        try:
            return Arch(token)
        except ValueError:
            return token

    @property
    def args(self) -> Tuple[int, ...]:
        """The six argument registers, as unsigned 64-bit ints."""
        return tuple(self.notification.args)

    @property
    def instruction_pointer(self) -> int:
        """The address just after the target's syscall instruction."""
        return int(self.notification.instruction_pointer)

    @property
    def syscall(self) -> Optional[str]:
        """The syscall's name, or None when libseccomp has none for it."""
        if self._syscall is None:
            try:
                self._syscall = syscall_name(self.nr, self.notification.arch)
            except (UnknownSyscallError, ValueError):
                return None
        return self._syscall

    def is_valid(self) -> bool:
        """Check whether the target still waits for a response."""
        return id_valid(self.listener, self.id)

    def read_memory(self, address: int, size: int) -> bytes:
        """Read ``size`` bytes at ``address`` in the target's memory.

        Reads ``/proc/PID/mem`` (the supervisor needs ptrace access to the
        target: the same user and the target as a descendant, or
        CAP_SYS_PTRACE), then checks that the notification is still
        pending, so that a pid reused by another process is detected.

        Warning: this is not a basis for a security check.  The target, or
        another thread or process sharing its memory, can change the bytes
        after they were read and before the syscall runs (a time-of-check
        to time-of-use race), so an allowed path may not be the path the
        kernel opens.  Use what you read for logging, emulation or
        decisions that fail safe, and enforce security with filter rules
        or by doing the operation in the supervisor (see :meth:`add_fd`).
        """
        if size < 0:
            raise InvalidArgumentError(f"size {size} is negative")
        with _TargetMemory(self) as memory:
            data = memory.read(address, size)
        self._check_valid()
        return data

    def read_string(self, arg_index: int, max_size: int = 4096) -> str:
        """Read the NUL-terminated string that argument ``arg_index`` points
        to, such as the path of ``openat`` (argument 1).

        Decoded like a file name (``os.fsdecode``).  ``max_size`` counts the
        terminating NUL; a longer string raises NotifyError (ENAMETOOLONG).
        The warning of :meth:`read_memory` applies: the target can change
        the string after it was read.
        """
        if not 0 <= arg_index <= 5:
            raise InvalidArgumentError(
                f"argument index {arg_index} is out of range: syscalls have "
                "arguments 0 to 5"
            )
        address = self.args[arg_index]
        if address == 0:
            raise NotifyError(
                f"argument {arg_index} of {self.syscall or self.nr} is a "
                "NULL pointer",
                _errno.EFAULT,
            )
        with _TargetMemory(self) as memory:
            data = memory.read_string(address, max_size)
        self._check_valid()
        return os.fsdecode(data)

    def add_fd(
        self,
        fd: int,
        newfd: Optional[int] = None,
        cloexec: bool = False,
        send: bool = False,
    ) -> int:
        """Copy descriptor ``fd`` into the target; return its number there.

        With ``send=True`` the syscall returns that number and the request
        counts as responded to: the supervisor ignores what the handler
        returns.
        See :func:`addfd`.
        """
        number = addfd(
            self.listener,
            self.id,
            fd,
            newfd=newfd,
            flags=os.O_CLOEXEC if cloexec else 0,
            send=send,
        )
        if send:
            self.responded = True
        return number

    def _check_valid(self) -> None:
        if not self.is_valid():
            raise TargetGoneError(
                f"notification {self.id} of pid {self.pid} is no longer "
                "pending: the target exited or was interrupted, and the "
                "memory read may belong to another process"
            )

    def __repr__(self) -> str:
        return (
            f"<seccompx.notify.Request id={self.id} pid={self.pid} "
            f"syscall={self.syscall or self.nr} arch={self.arch}>"
        )


class _TargetMemory:
    """An open ``/proc/PID/mem`` of a request's target."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._fd = -1

    def __enter__(self) -> "_TargetMemory":
        path = f"/proc/{self._request.pid}/mem"
        try:
            self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except (FileNotFoundError, ProcessLookupError):
            # ENOENT once the process is reaped, ESRCH while it is a zombie.
            raise TargetGoneError(
                f"pid {self._request.pid} has exited (cannot open {path})"
            ) from None
        except PermissionError as error:
            raise NotifyError(
                f"cannot open {path}: the supervisor needs ptrace access to "
                "the target (same user and an ancestor of it, or "
                "CAP_SYS_PTRACE)",
                error.errno or _errno.EACCES,
            ) from error
        # Opened before this check, the descriptor refers to the process
        # the notification came from, even if its pid is reused later.
        self._request._check_valid()
        return self

    def __exit__(self, *exc: Any) -> None:
        os.close(self._fd)

    def read(self, address: int, size: int) -> bytes:
        if not 0 <= address <= _INT64_MAX - size:
            raise NotifyError(
                f"cannot read {size} bytes at {address:#x}: the address is "
                "outside the target's address space",
                _errno.EFAULT,
            )
        chunks = []
        done = 0
        while done < size:
            chunk = self._pread(size - done, address + done)
            if not chunk:
                break
            chunks.append(chunk)
            done += len(chunk)
        data = b"".join(chunks)
        if len(data) < size:
            raise NotifyError(
                f"cannot read {size} bytes at {address:#x} in pid "
                f"{self._request.pid}: only {len(data)} are mapped",
                _errno.EFAULT,
            )
        return data

    def read_string(self, address: int, max_size: int) -> bytes:
        data = b""
        while len(data) < max_size:
            here = address + len(data)
            # Read to the end of the page at most: the next page may be
            # unmapped even when the string ends on this one.
            step = min(_PAGE_SIZE - here % _PAGE_SIZE, max_size - len(data))
            chunk = self.read(here, step)
            end = chunk.find(b"\0")
            if end >= 0:
                return data + chunk[:end]
            data += chunk
        raise NotifyError(
            f"the string at {address:#x} in pid {self._request.pid} has no "
            f"NUL in its first {max_size} bytes; raise max_size to read it",
            _errno.ENAMETOOLONG,
        )

    def _pread(self, size: int, offset: int) -> bytes:
        try:
            return os.pread(self._fd, size, offset)
        except OSError as error:
            raise NotifyError(
                f"reading {size} bytes at {offset:#x} in pid "
                f"{self._request.pid} failed: {error.strerror}",
                error.errno if error.errno else _errno.EIO,
            ) from error


# Targets ---------------------------------------------------------------------


class Target:
    """A process started under a filter whose listener a supervisor serves.

    ``returncode`` is None until the supervisor has reaped the process,
    then its exit status, or minus the signal that killed it (as in
    :mod:`subprocess`).  ``exec_error`` is the OSError of a failed execve
    (the process then exits with status 127).
    """

    def __init__(
        self,
        pid: int,
        pidfd: int,
        listener: int,
        status_socket: socket.socket,
        argv: Optional[Sequence[str]],
    ) -> None:
        self.pid = pid
        self.argv = tuple(argv) if argv is not None else None
        self.returncode: Optional[int] = None
        self.exec_error: Optional[OSError] = None
        self._pidfd = pidfd
        self._listener = listener
        self._status_socket: Optional[socket.socket] = status_socket
        self._reaped = threading.Event()

    @property
    def listener(self) -> int:
        """The listener descriptor in the supervisor, or -1 once closed."""
        return self._listener

    @property
    def finished(self) -> bool:
        """Whether the process is reaped and no process uses the filter."""
        return self._reaped.is_set() and self._listener < 0

    def send_signal(self, signum: int) -> None:
        """Send ``signum`` to the process, unless it has been reaped."""
        if not self._reaped.is_set():
            signal.pidfd_send_signal(self._pidfd, signum)

    def kill(self) -> None:
        """Send SIGKILL to the process, unless it has been reaped."""
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait until the supervisor has reaped the process; return its
        ``returncode``.

        The serving loop reaps targets, so call this while a supervisor
        serves in another thread (:meth:`Supervisor.start`) or after
        :meth:`Supervisor.serve` returned.  Raises TimeoutError after
        ``timeout`` seconds.
        """
        if not self._reaped.wait(timeout):
            raise TimeoutError(
                f"target pid {self.pid} still running after {timeout} s"
            )
        assert self.returncode is not None
        return self.returncode

    def _reap(self, block: bool = False) -> bool:
        """Collect the exit status if the process has exited."""
        if self._reaped.is_set():
            return True
        pid, status = os.waitpid(self.pid, 0 if block else os.WNOHANG)
        if pid == 0:
            return False
        self.returncode = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else (
            os.WEXITSTATUS(status)
        )
        self._read_exec_status()
        os.close(self._pidfd)
        self._pidfd = -1
        self._reaped.set()
        return True

    def _read_exec_status(self) -> None:
        sock = self._status_socket
        if sock is None:
            return
        self._status_socket = None
        try:
            sock.setblocking(False)
            data = sock.recv(64)
        except OSError:
            data = b""
        finally:
            sock.close()
        if data[:1] == _TAG_EXEC_ERRNO and len(data) >= 5:
            (number,) = struct.unpack_from(_ERRNO_FORMAT, data, 1)
            path = self.argv[0] if self.argv else None
            self.exec_error = OSError(number, os.strerror(number), path)

    def _close_listener(self) -> None:
        if self._listener >= 0:
            os.close(self._listener)
            self._listener = -1

    def _abandon(self) -> None:
        """Close the listener, then kill and reap the process if it runs."""
        self._close_listener()
        if not self._reaped.is_set():
            try:
                self.kill()
            except ProcessLookupError:
                pass
            self._reap(block=True)

    def __repr__(self) -> str:
        state = (
            f"returncode={self.returncode}"
            if self._reaped.is_set()
            else "running"
        )
        what = f" argv={list(self.argv)!r}" if self.argv else ""
        return f"<seccompx.notify.Target pid={self.pid}{what} {state}>"


@dataclass
class _Launch:
    """Settings a child needs to load its filter and run its target."""

    program: bytes
    arch: int
    no_new_privs: bool
    flags: int
    exec_args: Optional[Tuple[bytes, List[bytes], List[bytes]]] = None
    function: Optional[Callable[[], Any]] = None
    cwd: Optional[str] = None
    close_fds: List[int] = field(default_factory=list)


def _launch_for(f: Filter) -> _Launch:
    flags = 0
    if f.log:
        flags |= _FLAG_LOG
    if f.ssb:
        flags |= _FLAG_SPEC_ALLOW
    if _wait_kill_available() and f.get_attr(Attr.WAIT_KILL):
        flags |= _FLAG_WAIT_KILLABLE_RECV
    return _Launch(
        program=f.export_bpf(),
        arch=int(Arch.native()),
        no_new_privs=bool(f.no_new_privs),
        flags=flags,
    )


def _encode(value: str, what: str) -> bytes:
    data = os.fsencode(value)
    if b"\0" in data:
        raise InvalidArgumentError(f"{what} {value!r} contains a NUL character")
    return data


def _exec_args(
    argv: Sequence[str], env: Optional[Mapping[str, str]]
) -> Tuple[bytes, List[bytes], List[bytes]]:
    if isinstance(argv, (str, bytes)) or not argv:
        raise InvalidArgumentError(
            f"argv {argv!r} is invalid: pass a non-empty list such as "
            "['/bin/ls', '/']"
        )
    environment = dict(os.environ if env is None else env)
    program = argv[0]
    path = program if "/" in program else shutil.which(
        program, path=environment.get("PATH", os.defpath)
    )
    if path is None:
        raise FileNotFoundError(
            _errno.ENOENT, f"program {program!r} not found in PATH", program
        )
    return (
        _encode(path, "program path"),
        [_encode(arg, "argument") for arg in argv],
        [_encode(f"{key}={value}", "environment entry") for key, value in environment.items()],
    )


def _child_main(sock: socket.socket, launch: _Launch) -> NoReturn:
    """Run in the forked child: load the filter, send the listener, run."""
    code = _EXIT_SETUP_FAILED
    try:
        code = _child_setup_and_run(sock, launch)
    finally:
        os._exit(code)


def _child_setup_and_run(sock: socket.socket, launch: _Launch) -> int:
    try:
        # A signal handler's write to the wakeup descriptor would be a
        # notified syscall before the supervisor has the listener.
        signal.set_wakeup_fd(-1)
    except (ValueError, OSError):
        pass
    try:
        for fd in launch.close_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        if launch.cwd is not None:
            os.chdir(launch.cwd)
        listener, exec_errno = _notify.install_listener(
            launch.program,
            launch.arch,
            sock.fileno(),
            no_new_privs=launch.no_new_privs,
            flags=launch.flags,
            exec_args=launch.exec_args,
        )
    except OSError as error:
        _send_setup_report(sock, _TAG_LOAD_ERRNO, error)
        return _EXIT_SETUP_FAILED
    except BaseException as error:  # report any failure before the load
        _send_setup_report(sock, _TAG_SETUP_FAILED, error)
        return _EXIT_SETUP_FAILED
    # The filter is loaded: every syscall from here on may be notified.
    if launch.exec_args is not None:
        try:
            sock.send(_TAG_EXEC_ERRNO + struct.pack(_ERRNO_FORMAT, exec_errno))
        except OSError:
            pass
        return _EXIT_EXEC_FAILED
    os.close(listener)
    sock.close()
    assert launch.function is not None
    return _run_function(launch.function)


def _send_setup_report(
    sock: socket.socket, tag: bytes, error: BaseException
) -> None:
    if tag == _TAG_LOAD_ERRNO and isinstance(error, OSError) and error.errno:
        payload = struct.pack(_ERRNO_FORMAT, error.errno)
    else:
        payload = f"{type(error).__name__}: {error}".encode(errors="replace")
        tag = _TAG_SETUP_FAILED
    try:
        sock.sendall(tag + payload)
    except OSError:
        pass


def _run_function(function: Callable[[], Any]) -> int:
    try:
        result = function()
    except SystemExit as exit:
        # sys.exit() semantics: None is success, other non-ints are failure.
        if exit.code is None:
            result = 0
        elif isinstance(exit.code, int):
            result = exit.code
        else:
            result = 1
    except BaseException:
        traceback.print_exc()
        result = 1
    _flush_standard_streams()
    return result if isinstance(result, int) else 0


def _flush_standard_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError):
            pass


def _fork_target(launch: _Launch) -> Tuple[int, int, socket.socket]:
    """Fork a child that runs ``launch``; return (pid, pidfd, socket)."""
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    _flush_standard_streams()
    try:
        pid = os.fork()
    except BaseException:
        parent_sock.close()
        child_sock.close()
        raise
    if pid == 0:
        parent_sock.close()
        _child_main(child_sock, launch)
    child_sock.close()
    try:
        pidfd = os.pidfd_open(pid)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        parent_sock.close()
        raise
    return pid, pidfd, parent_sock


def _take_listener(
    sock: socket.socket, pid: int, pidfd: int, f: Filter
) -> int:
    """Read the child's first message: its listener, or why it failed."""
    data, fds, _flags, _address = socket.recv_fds(
        sock, 512, 1, socket.MSG_CMSG_CLOEXEC
    )
    if data[:1] == _TAG_LISTENER and fds:
        return fds[0]
    for fd in fds:
        os.close(fd)
    while True:
        more = sock.recv(4096)
        if not more:
            break
        data += more
    _, status = os.waitpid(pid, 0)
    os.close(pidfd)
    sock.close()
    if data[:1] == _TAG_LOAD_ERRNO and len(data) >= 5:
        (number,) = struct.unpack_from(_ERRNO_FORMAT, data, 1)
        raise f._load_error(number)
    if data[:1] == _TAG_SETUP_FAILED:
        raise NotifyError(
            f"the target's set-up failed before its filter was loaded: "
            f"{data[1:].decode(errors='replace')}",
            _errno.ECHILD,
        )
    raise NotifyError(
        f"target pid {pid} ended before sending its listener (wait status "
        f"{status:#x})",
        _errno.ECHILD,
    )


def _kill_unstarted(
    pid: int, pidfd: int, sock: socket.socket, timeout: float
) -> NoReturn:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    os.close(pidfd)
    sock.close()
    raise NotifyError(
        f"target pid {pid} did not send its listener within {timeout} s; "
        "killed it",
        _errno.ETIMEDOUT,
    )


# Supervisors -----------------------------------------------------------------

Handler = Callable[[Request], Any]


class _SupervisorBase:
    """Code shared by the threaded and the asyncio supervisor."""

    def __init__(
        self,
        handler: Handler,
        *,
        on_error: int = _errno.EPERM,
        start_timeout: float = 10.0,
    ) -> None:
        if not callable(handler):
            raise TypeError(
                f"handler must be callable, not {type(handler).__name__}"
            )
        self._error_reply = fail(on_error)
        self._handler = handler
        self._start_timeout = start_timeout
        self._targets: List[Target] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def targets(self) -> Tuple[Target, ...]:
        """Every target started and not yet finished."""
        with self._lock:
            return tuple(self._targets)

    def _launch(
        self,
        f: Filter,
        argv: Optional[Sequence[str]],
        function: Optional[Callable[[], Any]],
        env: Optional[Mapping[str, str]],
        cwd: Optional[str],
    ) -> _Launch:
        if self._closed:
            raise NotifyError("the supervisor is closed", _errno.EBADF)
        if not isinstance(f, Filter):
            raise TypeError(
                f"filter must be a seccompx.Filter, not {type(f).__name__}"
            )
        launch = _launch_for(f)
        launch.cwd = cwd
        if argv is not None:
            launch.exec_args = _exec_args(argv, env)
        launch.function = function
        with self._lock:
            launch.close_fds = [
                fd
                for target in self._targets
                for fd in (target._listener, target._pidfd)
                if fd >= 0
            ]
        return launch

    def _add_target(
        self,
        pid: int,
        pidfd: int,
        listener: int,
        sock: socket.socket,
        argv: Optional[Sequence[str]],
    ) -> Target:
        target = Target(pid, pidfd, listener, sock, argv)
        with self._lock:
            self._targets.append(target)
        logger.debug("started target pid %d with listener %d", pid, listener)
        return target

    def _drop_if_finished(self, target: Target) -> None:
        if target.finished:
            with self._lock:
                if target in self._targets:
                    self._targets.remove(target)
            logger.debug(
                "target pid %d finished with returncode %s",
                target.pid,
                target.returncode,
            )

    def _receive(self, target: Target) -> Optional[Request]:
        try:
            notification = receive(target.listener)
        except TargetGoneError as error:
            logger.debug("notification lost: %s", error)
            return None
        return Request(notification, target.listener, target)

    def _check_reply(self, request: Request, reply: Any) -> Optional[Reply]:
        if request.responded:
            return None
        if isinstance(reply, Reply):
            return reply
        logger.error(
            "handler returned %r for %r, not a seccompx.notify.Reply; "
            "responding with errno %d",
            reply,
            request,
            self._error_reply.error,
        )
        return self._error_reply

    def _handler_failed(self, request: Request) -> Reply:
        logger.exception(
            "handler raised on %r; responding with errno %d",
            request,
            self._error_reply.error,
        )
        return self._error_reply

    def _send(self, request: Request, reply: Optional[Reply]) -> None:
        if reply is None or request.listener < 0:
            return
        try:
            respond(
                request.listener, request.id, reply.value, reply.error, reply.flags
            )
        except TargetGoneError as error:
            logger.debug("response to %r dropped: %s", request, error)

    def _call_handler(self, request: Request) -> Optional[Reply]:
        try:
            reply = self._handler(request)
        except Exception:
            return self._handler_failed(request)
        except BaseException:
            self._send(request, self._error_reply)
            raise
        return self._check_reply(request, reply)

    def _close_targets(self) -> None:
        with self._lock:
            targets = list(self._targets)
            self._targets.clear()
        for target in targets:
            target._abandon()


def _poll_listener(fd: int) -> Tuple[bool, bool]:
    """Return (a notification waits, no process uses the filter)."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    events = poller.poll(0)
    mask = events[0][1] if events else 0
    return bool(mask & select.POLLIN), bool(mask & (select.POLLHUP | select.POLLNVAL))


class Supervisor(_SupervisorBase):
    """Serve notifications of targets in a thread, with a handler.

    ``handler(request)`` runs in the serving thread for each notification,
    one at a time, and returns a :class:`Reply`: :data:`CONTINUE`,
    ``fail(errno)`` or ``succeed(value)``.  When the handler raises, the
    exception is logged on the ``seccompx.notify`` logger and the syscall
    fails with ``on_error`` (EPERM by default); serving goes on.

    Start targets with :meth:`spawn` or :meth:`spawn_callable`, then call
    :meth:`serve` (returns once every target has finished) or
    :meth:`start` (serves in a background thread).  Leaving a ``with``
    block stops serving and calls :meth:`close`.
    """

    def __init__(
        self,
        handler: Handler,
        *,
        on_error: int = _errno.EPERM,
        start_timeout: float = 10.0,
    ) -> None:
        if inspect.iscoroutinefunction(handler):
            raise TypeError(
                "handler is a coroutine function: use AsyncSupervisor, or a "
                "plain function with Supervisor"
            )
        super().__init__(handler, on_error=on_error, start_timeout=start_timeout)
        self._wake_read, self._wake_write = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._stopping = False
        self._serving = False
        self._thread: Optional[threading.Thread] = None

    # Starting targets ------------------------------------------------------

    def spawn(
        self,
        argv: Sequence[str],
        filter: Filter,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Target:
        """Start program ``argv`` under ``filter`` and return its Target.

        The child loads the filter, passes its listener to this process
        and calls execve; so execve and everything after it go through the
        filter.  ``argv[0]`` without a slash is looked up in PATH.  ``env``
        replaces the environment.  Returns once the listener has arrived,
        before the program runs.  Raises LoadError when the kernel rejects
        the filter, FileNotFoundError when the program is not found.
        """
        launch = self._launch(filter, argv, None, env, cwd)
        return self._start(launch, filter, argv)

    def spawn_callable(
        self,
        function: Callable[[], Any],
        filter: Filter,
        *,
        cwd: Optional[str] = None,
    ) -> Target:
        """Run ``function()`` in a forked child under ``filter``.

        The child exits with the int the function returns (0 otherwise, 1
        if it raised, after printing the traceback).  Only the syscalls
        made after the filter is loaded are filtered.
        """
        if not callable(function):
            raise TypeError(
                f"function must be callable, not {type(function).__name__}"
            )
        launch = self._launch(filter, None, function, None, cwd)
        return self._start(launch, filter, None)

    def _start(
        self, launch: _Launch, f: Filter, argv: Optional[Sequence[str]]
    ) -> Target:
        pid, pidfd, sock = _fork_target(launch)
        ready, _, _ = select.select([sock], [], [], self._start_timeout)
        if not ready:
            _kill_unstarted(pid, pidfd, sock, self._start_timeout)
        listener = _take_listener(sock, pid, pidfd, f)
        target = self._add_target(pid, pidfd, listener, sock, argv)
        self._wake()
        return target

    # Serving ----------------------------------------------------------------

    def serve(self) -> None:
        """Serve notifications until every target has finished.

        A target has finished when its process is reaped and no process
        uses its filter any more (descendants keep it in use).  Returns
        early after :meth:`stop`.
        """
        with self._lock:
            if self._serving:
                raise NotifyError(
                    "the supervisor is already serving", _errno.EBUSY
                )
            self._serving = True
            self._stopping = False
        try:
            self._serve_loop()
        finally:
            with self._lock:
                self._serving = False

    def _serve_loop(self) -> None:
        poller = select.poll()
        poller.register(self._wake_read, select.POLLIN)
        watched: Dict[int, Tuple[bool, Target]] = {}
        while not self._stopping:
            self._watch_new_targets(poller, watched)
            if not self.targets:
                return
            for fd, mask in poller.poll():
                if fd == self._wake_read:
                    self._drain_wake()
                    continue
                entry = watched.get(fd)
                if entry is None:
                    continue
                is_listener, target = entry
                if is_listener:
                    self._on_listener(target, fd, mask, poller, watched)
                else:
                    self._on_exit(target, fd, poller, watched)

    def _watch_new_targets(
        self, poller: Any, watched: Dict[int, Tuple[bool, Target]]
    ) -> None:
        for target in self.targets:
            if target.listener >= 0 and target.listener not in watched:
                poller.register(target.listener, select.POLLIN)
                watched[target.listener] = (True, target)
            pidfd = target._pidfd
            if pidfd >= 0 and pidfd not in watched:
                poller.register(pidfd, select.POLLIN)
                watched[pidfd] = (False, target)

    def _on_listener(
        self,
        target: Target,
        fd: int,
        mask: int,
        poller: Any,
        watched: Dict[int, Tuple[bool, Target]],
    ) -> None:
        if mask & select.POLLIN and target.listener == fd:
            request = self._receive(target)
            if request is not None:
                self._send(request, self._call_handler(request))
            return
        # POLLHUP: every process using the filter has exited and been
        # reaped, so no notification can come any more.  (POLLNVAL: a
        # handler closed the supervisor.)
        # NOTE: kernels before 5.8 never report POLLHUP on a listener, so
        # there serve() returns only after stop().
        poller.unregister(fd)
        del watched[fd]
        target._close_listener()
        self._drop_if_finished(target)

    def _on_exit(
        self,
        target: Target,
        pidfd: int,
        poller: Any,
        watched: Dict[int, Tuple[bool, Target]],
    ) -> None:
        poller.unregister(pidfd)
        del watched[pidfd]
        target._reap(block=True)
        self._drop_if_finished(target)

    def _wake(self) -> None:
        try:
            os.write(self._wake_write, b"\0")
        except BlockingIOError:
            pass

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_read, 512):
                pass
        except BlockingIOError:
            pass

    def start(self) -> None:
        """Serve in a background thread; see :meth:`join` and :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            raise NotifyError("the supervisor is already serving", _errno.EBUSY)
        self._thread = threading.Thread(
            target=self.serve, name="seccompx-supervisor", daemon=True
        )
        self._thread.start()

    def join(self, timeout: Optional[float] = None) -> None:
        """Wait for the background thread of :meth:`start` to finish."""
        if self._thread is not None:
            self._thread.join(timeout)

    def stop(self) -> None:
        """Make :meth:`serve` return after the notification in hand.

        Targets keep their listeners: their notified syscalls wait until
        serving resumes or :meth:`close` is called.
        """
        self._stopping = True
        self._wake()

    def close(self) -> None:
        """Stop serving, close every listener and kill unfinished targets.

        After a listener is closed, the kernel fails its filter's notified
        syscalls with ENOSYS; targets still running are then killed with
        SIGKILL and reaped.
        """
        if self._closed:
            return
        self.stop()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._closed = True
        self._close_targets()
        os.close(self._wake_read)
        os.close(self._wake_write)

    def __enter__(self) -> "Supervisor":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


AsyncHandler = Callable[[Request], Union[Reply, Awaitable[Reply]]]


class AsyncSupervisor(_SupervisorBase):
    """Serve notifications of targets from an asyncio event loop.

    ``handler(request)`` may be a plain function or a coroutine function;
    each notification is handled in its own task, so a slow handler does
    not hold up other targets.  Errors are handled as in
    :class:`Supervisor`.  The listeners are watched with
    ``loop.add_reader``, so the loop's thread does not block.
    """

    def __init__(
        self,
        handler: AsyncHandler,
        *,
        on_error: int = _errno.EPERM,
        start_timeout: float = 10.0,
    ) -> None:
        super().__init__(handler, on_error=on_error, start_timeout=start_timeout)
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._tasks: Set["asyncio.Task[None]"] = set()
        self._idle: Optional["asyncio.Future[None]"] = None

    async def spawn(
        self,
        argv: Sequence[str],
        filter: Filter,
        *,
        env: Optional[Mapping[str, str]] = None,
        cwd: Optional[str] = None,
    ) -> Target:
        """Start program ``argv`` under ``filter``; see
        :meth:`Supervisor.spawn`."""
        launch = self._launch(filter, argv, None, env, cwd)
        return await self._start(launch, filter, argv)

    async def spawn_callable(
        self,
        function: Callable[[], Any],
        filter: Filter,
        *,
        cwd: Optional[str] = None,
    ) -> Target:
        """Run ``function()`` in a child under ``filter``; see
        :meth:`Supervisor.spawn_callable`."""
        if not callable(function):
            raise TypeError(
                f"function must be callable, not {type(function).__name__}"
            )
        launch = self._launch(filter, None, function, None, cwd)
        return await self._start(launch, filter, None)

    async def _start(
        self, launch: _Launch, f: Filter, argv: Optional[Sequence[str]]
    ) -> Target:
        loop = asyncio.get_running_loop()
        pid, pidfd, sock = _fork_target(launch)
        readable: "asyncio.Future[None]" = loop.create_future()
        loop.add_reader(sock.fileno(), _resolve, readable)
        try:
            await asyncio.wait_for(readable, self._start_timeout)
        except asyncio.TimeoutError:
            _kill_unstarted(pid, pidfd, sock, self._start_timeout)
        finally:
            loop.remove_reader(sock.fileno())
        listener = _take_listener(sock, pid, pidfd, f)
        target = self._add_target(pid, pidfd, listener, sock, argv)
        if self._loop is not None:
            self._watch(target)
        return target

    async def serve(self) -> None:
        """Serve notifications until every target has finished.

        Returns early after :meth:`stop`; handler tasks still running are
        then cancelled and their syscalls fail with ``on_error``.
        """
        if self._loop is not None:
            raise NotifyError("the supervisor is already serving", _errno.EBUSY)
        self._loop = asyncio.get_running_loop()
        self._idle = self._loop.create_future()
        try:
            for target in self.targets:
                self._watch(target)
            self._check_idle()
            await self._idle
        finally:
            self._unwatch_all()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            self._loop = None
            self._idle = None

    def stop(self) -> None:
        """Make :meth:`serve` return; call from the loop's thread."""
        if self._idle is not None and not self._idle.done():
            self._idle.set_result(None)

    def close(self) -> None:
        """Close every listener and kill unfinished targets; see
        :meth:`Supervisor.close`.  Call it after :meth:`serve` returned."""
        if self._closed:
            return
        self.stop()
        self._closed = True
        self._close_targets()

    async def __aenter__(self) -> "AsyncSupervisor":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.stop()
        self.close()

    def _watch(self, target: Target) -> None:
        assert self._loop is not None
        if target.listener >= 0:
            self._loop.add_reader(target.listener, self._on_listener, target)
        if target._pidfd >= 0:
            self._loop.add_reader(target._pidfd, self._on_exit, target)

    def _unwatch_all(self) -> None:
        assert self._loop is not None
        for target in self.targets:
            if target.listener >= 0:
                self._loop.remove_reader(target.listener)
            if target._pidfd >= 0:
                self._loop.remove_reader(target._pidfd)

    def _on_listener(self, target: Target) -> None:
        assert self._loop is not None
        # The event loop reports POLLHUP as readable too; tell them apart,
        # because receive() would block forever on a hung-up listener.
        waiting, hung_up = _poll_listener(target.listener)
        if waiting:
            request = self._receive(target)
            if request is not None:
                task = self._loop.create_task(self._handle(request))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        elif hung_up:
            self._loop.remove_reader(target.listener)
            target._close_listener()
            self._drop_if_finished(target)
            self._check_idle()

    def _on_exit(self, target: Target) -> None:
        assert self._loop is not None
        self._loop.remove_reader(target._pidfd)
        target._reap(block=True)
        self._drop_if_finished(target)
        self._check_idle()

    async def _handle(self, request: Request) -> None:
        try:
            result = self._handler(request)
            if inspect.isawaitable(result):
                result = await result
        except Exception:
            reply: Optional[Reply] = self._handler_failed(request)
        except BaseException:
            # Cancelled by stop() or loop shutdown: the target must not
            # wait for a response that never comes.
            self._send(request, self._error_reply)
            raise
        else:
            reply = self._check_reply(request, result)
        self._send(request, reply)

    def _task_done(self, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        self._check_idle()

    def _check_idle(self) -> None:
        if self._idle is None or self._idle.done():
            return
        if not self.targets and not self._tasks:
            self._idle.set_result(None)


def _resolve(future: "asyncio.Future[None]") -> None:
    if not future.done():
        future.set_result(None)


# Learning mode ---------------------------------------------------------------

# Architectures a program on the native one may also call through (the
# i386 and x32 entry points on x86_64, AArch32 on AArch64).
_COMPAT_ARCHES: Dict[Arch, Tuple[Arch, ...]] = {
    Arch.X86_64: (Arch.X86, Arch.X32),
    Arch.AARCH64: (Arch.ARM,),
}


@dataclass
class Trace:
    """The syscalls one run of a program made, by architecture.

    ``unknown`` contains numbers libseccomp has no name for; a profile cannot
    name them, so :meth:`to_profile` leaves them out.
    """

    argv: Tuple[str, ...]
    returncode: int
    syscalls: Dict[Arch, Set[str]]
    unknown: Dict[Arch, Set[int]]

    @property
    def names(self) -> List[str]:
        """Every syscall name seen, on any architecture, sorted."""
        return sorted(set().union(*self.syscalls.values()))

    def to_profile(self) -> Dict[str, Any]:
        """Return an OCI seccomp profile that allows exactly these syscalls.

        Other syscalls fail with EPERM (``defaultErrnoRet`` 1).  The names
        are allowed on every listed architecture.
        """
        native = Arch.native()
        arches = sorted(self.syscalls, key=lambda arch: (arch is not native, arch.name))
        return {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": _errno.EPERM,
            "architectures": [f"SCMP_ARCH_{arch.name}" for arch in arches],
            "syscalls": [{"names": self.names, "action": "SCMP_ACT_ALLOW"}],
        }


def _learning_filter() -> Filter:
    native = Arch.native()
    f = Filter(default=NOTIFY)
    for arch in _COMPAT_ARCHES.get(native, ()):
        try:
            f.add_arch(arch)
        except Exception as error:  # libseccomp may lack the architecture
            logger.debug("tracing without %s: %s", arch, error)
    return f


def trace(
    argv: Sequence[str],
    *,
    env: Optional[Mapping[str, str]] = None,
    cwd: Optional[str] = None,
) -> Trace:
    """Run ``argv`` with every syscall notified and record them.

    Each syscall of the program and of every process it starts (a filter
    is inherited across fork and clone) gets the response CONTINUE, so the
    program runs as it would unfiltered, except that no_new_privs is set:
    set-user-ID programs do not gain privileges.  Returns once the program
    and all its descendants have exited.

    The child's own set-up makes no notified syscall before execve, so
    everything recorded is the program's doing, starting with execve.
    """
    f = _learning_filter()
    seen: Set[Tuple[int, int]] = set()

    def record(request: Request) -> Reply:
        seen.add((int(request.notification.arch), request.nr))
        return CONTINUE

    try:
        with Supervisor(record) as supervisor:
            target = supervisor.spawn(argv, f, env=env, cwd=cwd)
            supervisor.serve()
    finally:
        f.close()
    return _build_trace(argv, target, seen)


def _build_trace(
    argv: Sequence[str], target: Target, seen: Iterable[Tuple[int, int]]
) -> Trace:
    syscalls: Dict[Arch, Set[str]] = {}
    unknown: Dict[Arch, Set[int]] = {}
    for token, number in seen:
        arch = Arch(token)
        try:
            name = syscall_name(number, arch)
        except UnknownSyscallError:
            unknown.setdefault(arch, set()).add(number)
        else:
            syscalls.setdefault(arch, set()).add(name)
    if target.exec_error is not None:
        raise target.exec_error
    assert target.returncode is not None
    return Trace(tuple(argv), target.returncode, syscalls, unknown)
