"""Tests of seccompx.notify: the listener calls and both supervisors.

Each scenario runs in a child made by run_in_child, which starts the
targets (grandchildren) and reports what happened as one JSON line.  The
pytest process loads no filter, and a hung scenario is killed at the
timeout instead of hanging the run.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import logging
import os
import queue
import select
import signal
import threading
from typing import Any, Callable, Dict, List

import pytest

import seccompx
from seccompx import notify
from seccompx._types import _wait_kill_available
from childproc import report, run_in_child

KERNEL_ACTIONS = seccompx.actions_available()
pytestmark = pytest.mark.skipif(
    KERNEL_ACTIONS is not None and seccompx.ActionKind.NOTIFY not in KERNEL_ACTIONS,
    reason="the kernel has no user notifications (SECCOMP_RET_USER_NOTIF)",
)

OPENAT = seccompx.resolve_syscall("openat")


def run_json(body: Callable[[], Dict[str, Any]], timeout: float = 20.0) -> Dict[str, Any]:
    """Run ``body()`` in a child; return the dict it returned."""

    def child(fd: int) -> int:
        report(fd, json.dumps(body()))
        return 0

    result = run_in_child(child, timeout=timeout)
    assert result.exitcode == 0, str(result)
    data: Dict[str, Any] = json.loads(result.text.strip().splitlines()[-1])
    return data


def openat_filter() -> seccompx.Filter:
    f = seccompx.Filter(default=seccompx.ALLOW)
    f.add_rule(seccompx.NOTIFY, "openat")
    return f


def open_paths(paths: List[str], out: int) -> Callable[[], int]:
    """A target that opens each path and writes the outcomes as JSON."""

    def target() -> int:
        outcomes = []
        for path in paths:
            try:
                fd = os.open(path, os.O_RDONLY)
                outcomes.append(["fd", fd])
            except OSError as error:
                outcomes.append(["errno", error.errno])
        os.write(out, json.dumps(outcomes).encode() + b"\n")
        return 0

    return target


def read_all(fd: int) -> bytes:
    chunks: List[bytes] = []
    while True:
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


class Records(logging.Handler):
    """Collect log records of the seccompx logger."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: List[logging.LogRecord] = []
        logger = logging.getLogger("seccompx")
        logger.setLevel(logging.DEBUG)
        logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# Replies ---------------------------------------------------------------------


def test_reply_factories() -> None:
    assert notify.fail(errno.EACCES) == notify.Reply(error=errno.EACCES)
    assert notify.succeed(7) == notify.Reply(value=7)
    assert notify.CONTINUE.flags == notify.FLAG_CONTINUE
    assert notify.CONTINUE.value == 0
    assert notify.CONTINUE.error == 0


@pytest.mark.parametrize("bad", [0, -1, 4096])
def test_fail_rejects_errno_out_of_range(bad: int) -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match=str(bad)):
        notify.fail(bad)


def test_fail_rejects_non_int() -> None:
    with pytest.raises(TypeError):
        notify.fail(True)


def test_succeed_rejects_value_beyond_64_bits() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="64-bit"):
        notify.succeed(2**63)


# Low-level API -----------------------------------------------------------------


def test_notif_sizes_cover_structs() -> None:
    sizes = notify.notif_sizes()
    assert sizes.notif >= seccompx._notify.NOTIF_STRUCT_SIZE
    assert sizes.resp >= seccompx._notify.RESP_STRUCT_SIZE
    assert sizes.data >= seccompx._notify.DATA_STRUCT_SIZE


def test_receive_rejects_non_listener() -> None:
    read_fd, write_fd = os.pipe()
    try:
        with pytest.raises(seccompx.NotifyError, match="not a seccomp"):
            notify.receive(read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_notify_fd_before_load_raises() -> None:
    f = openat_filter()
    with pytest.raises(seccompx.SeccompError, match="no notification"):
        f.notify_fd
    f.close()


def test_filter_notify_fd_served_by_thread(tmp_path: Any) -> None:
    """A thread left out of the filter (tsync=False) serves the listener of
    Filter.notify_fd: a value, then a descriptor installed with addfd."""
    marker = str(tmp_path / "marker")

    def body() -> Dict[str, Any]:
        listeners: "queue.Queue[int]" = queue.Queue()
        seen: Dict[str, Any] = {}
        read_end, write_end = os.pipe()

        def serve() -> None:
            fd = listeners.get()
            first = notify.receive(fd)
            seen["nr"] = first.nr
            seen["valid_before"] = notify.id_valid(fd, first.id)
            notify.respond(fd, first.id, value=1234)
            seen["valid_after"] = notify.id_valid(fd, first.id)
            second = notify.receive(fd)
            seen["sent_fd"] = notify.addfd(fd, second.id, write_end, send=True)

        server = threading.Thread(target=serve)
        server.start()
        f = seccompx.Filter(default=seccompx.ALLOW, tsync=False)
        f.add_rule(seccompx.NOTIFY, "openat")
        f.load()
        listeners.put(f.notify_fd)
        value = os.open(marker, os.O_RDONLY)
        installed = os.open(marker, os.O_RDONLY)
        server.join()
        os.write(installed, b"via addfd")
        os.close(installed)
        os.close(write_end)
        return {
            "value": value,
            "installed": installed,
            "piped": read_all(read_end).decode(),
            **seen,
        }

    result = run_json(body)
    assert result["nr"] == OPENAT
    assert result["valid_before"] is True
    assert result["valid_after"] is False
    assert result["value"] == 1234
    assert result["installed"] == result["sent_fd"]
    assert result["piped"] == "via addfd"


def test_respond_after_target_killed_raises() -> None:
    def body() -> Dict[str, Any]:
        supervisor = notify.Supervisor(lambda request: notify.CONTINUE)
        target = supervisor.spawn_callable(
            open_paths(["/"], 1), openat_filter()
        )
        request = notify.Request(
            notify.receive(target.listener), target.listener, target
        )
        target.kill()
        while request.is_valid():
            pass
        outcome: Dict[str, Any] = {}
        try:
            notify.respond(target.listener, request.id, flags=notify.FLAG_CONTINUE)
        except seccompx.TargetGoneError as error:
            outcome["respond"] = ["TargetGoneError", error.errno]
        try:
            request.read_string(1)
        except seccompx.TargetGoneError as error:
            outcome["read"] = "TargetGoneError"
        supervisor.serve()
        outcome["returncode"] = target.returncode
        supervisor.close()
        return outcome

    result = run_json(body)
    assert result["respond"] == ["TargetGoneError", errno.ENOENT]
    assert result["read"] == "TargetGoneError"
    assert result["returncode"] == -signal.SIGKILL


# SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV -----------------------------------------

GETPPID = seccompx.resolve_syscall("getppid")
LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def _kernel_at_least(major: int, minor: int) -> bool:
    fields = os.uname().release.split("-")[0].split(".")
    return (int(fields[0]), int(fields[1])) >= (major, minor)


def _pending_while_killable(pid: int, pipe: int) -> bool:
    """Return whether the SIGUSR1 sent to ``pid`` while it waits for a reply
    stays pending in a killable sleep (state D in /proc/PID/stat).  Waits
    for that, or for the signal to end the wait, after which the target
    writes to ``pipe``."""
    mask = 1 << (signal.SIGUSR1 - 1)
    while True:
        readable, _, _ = select.select([pipe], [], [], 0.01)
        if readable:
            return False
        with open(f"/proc/{pid}/stat") as file:
            state = file.read().rsplit(")", 1)[1].split()[0]
        pending = 0
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith(("SigPnd:", "ShdPnd:")):
                    pending |= int(line.split()[1], 16)
        if state == "D" and pending & mask:
            return True


def _notified_getppid(out: int) -> int:
    """Call getppid, which the filter notifies, with a SIGUSR1 handler
    installed; write its result, and a line when the handler runs, to
    ``out``."""
    signal.signal(signal.SIGUSR1, lambda signum, frame: os.write(out, b"handled\n"))
    value = LIBC.syscall(ctypes.c_long(GETPPID))
    os.write(out, f"getppid {value}\n".encode())
    return 0


@pytest.mark.skipif(
    not _wait_kill_available(),
    reason="the flag sets Attr.WAIT_KILL, which needs seccompx built against "
    "and running with libseccomp 2.6; this one has libseccomp "
    + ".".join(map(str, seccompx.libseccomp_version())),
)
@pytest.mark.skipif(
    not _kernel_at_least(5, 19),
    reason="the kernel accepts SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV from 5.19 on",
)
def test_wait_killable_profile_defers_signal() -> None:
    """A target under a profile with SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
    keeps a non-fatal signal pending once its notification was received,
    so the supervisor's reply still reaches it."""
    source = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_NOTIFY"}],
    }

    def body() -> Dict[str, Any]:
        f = seccompx.Filter.from_profile(source, capabilities=[])
        out_read, out_write = os.pipe()
        supervisor = notify.Supervisor(lambda request: notify.CONTINUE)
        target = supervisor.spawn_callable(lambda: _notified_getppid(out_write), f)
        f.close()
        os.close(out_write)
        request = notify.receive(target.listener)
        target.send_signal(signal.SIGUSR1)
        result: Dict[str, Any] = {
            "pending": _pending_while_killable(target.pid, out_read)
        }
        try:
            notify.respond(target.listener, request.id, value=4242)
            result["respond"] = "sent"
        except seccompx.TargetGoneError as error:
            result["respond"] = errno.errorcode[error.errno]
        supervisor.serve()
        result["returncode"] = target.returncode
        supervisor.close()
        result["output"] = sorted(read_all(out_read).decode().splitlines())
        return result

    result = run_json(body)
    assert result["pending"] is True
    assert result["respond"] == "sent"
    assert result["output"] == ["getppid 4242", "handled"]
    assert result["returncode"] == 0


def _blocked_in_ioctl(tid: int) -> bool:
    with open(f"/proc/self/task/{tid}/syscall") as file:
        fields = file.read().split()
    return bool(fields) and fields[0] == str(IOCTL)


IOCTL = 16 if seccompx.Arch.native() is seccompx.Arch.X86_64 else None


def _can_see_syscall() -> bool:
    try:
        with open("/proc/self/syscall") as file:
            return bool(file.read().split())
    except OSError:
        return False


needs_syscall_file = pytest.mark.skipif(
    IOCTL is None or not _can_see_syscall(),
    reason="needs x86_64 and /proc/PID/syscall to see a blocked ioctl",
)


def _interrupt_receive(handler: Callable[[int, Any], None]) -> Dict[str, Any]:
    """Block in receive(), deliver SIGUSR1 there, return what happened.

    ``handler`` runs as the SIGUSR1 handler; it gets the write end of the
    pipe the target waits on before it opens a file.
    """
    go_read, go_write = os.pipe()
    out_read, out_write = os.pipe()
    opener = open_paths(["/"], out_write)

    def target() -> int:
        os.read(go_read, 1)
        return opener()

    supervisor = notify.Supervisor(lambda request: notify.CONTINUE)
    target_handle = supervisor.spawn_callable(target, openat_filter())
    main_tid = threading.get_native_id()
    main_ident = threading.get_ident()
    observed = {"blocked": False}

    def interrupter() -> None:
        while not _blocked_in_ioctl(main_tid):
            pass
        observed["blocked"] = True
        signal.pthread_kill(main_ident, signal.SIGUSR1)

    signal.signal(signal.SIGUSR1, lambda signum, frame: handler(go_write, frame))
    helper = threading.Thread(target=interrupter)
    helper.start()
    result: Dict[str, Any] = {}
    try:
        notification = notify.receive(target_handle.listener)
        result["nr"] = notification.nr
        notify.respond(
            target_handle.listener, notification.id, flags=notify.FLAG_CONTINUE
        )
    except KeyboardInterrupt:
        result["raised"] = "KeyboardInterrupt"
        os.write(go_write, b"g")
    helper.join()
    supervisor.serve()
    result["blocked"] = observed["blocked"]
    result["returncode"] = target_handle.returncode
    result["outcomes"] = json.loads(os.read(out_read, 4096))
    supervisor.close()
    return result


@needs_syscall_file
def test_receive_retries_after_eintr() -> None:
    def body() -> Dict[str, Any]:
        calls: List[int] = []

        def on_signal(go_write: int, frame: Any) -> None:
            calls.append(1)
            os.write(go_write, b"g")

        result = _interrupt_receive(on_signal)
        result["handler_calls"] = len(calls)
        return result

    result = run_json(body)
    assert result["blocked"] is True
    assert result["handler_calls"] == 1
    assert "raised" not in result
    assert result["nr"] == OPENAT
    assert result["returncode"] == 0
    assert result["outcomes"][0][0] == "fd"


@needs_syscall_file
def test_receive_raises_from_signal_handler() -> None:
    def body() -> Dict[str, Any]:
        def on_signal(go_write: int, frame: Any) -> None:
            raise KeyboardInterrupt

        return _interrupt_receive(on_signal)

    result = run_json(body)
    assert result["blocked"] is True
    assert result["raised"] == "KeyboardInterrupt"
    # serve() responded to the notification that receive() left pending.
    assert result["returncode"] == 0
    assert result["outcomes"][0][0] == "fd"


# Threaded supervisor -----------------------------------------------------------


def test_supervisor_decides_openat(tmp_path: Any) -> None:
    allowed = tmp_path / "allowed"
    allowed.write_text("contents")
    denied = str(tmp_path / "denied")
    faked = str(tmp_path / "faked")

    def handler(request: notify.Request) -> notify.Reply:
        path = request.read_string(1)
        if path == denied:
            return notify.fail(errno.EACCES)
        if path == faked:
            return notify.succeed(77)
        return notify.CONTINUE

    def body() -> Dict[str, Any]:
        out_read, out_write = os.pipe()
        with notify.Supervisor(handler) as supervisor:
            target = supervisor.spawn_callable(
                open_paths([str(allowed), denied, faked], out_write),
                openat_filter(),
            )
            supervisor.serve()
        return {
            "returncode": target.returncode,
            "outcomes": json.loads(os.read(out_read, 4096)),
        }

    result = run_json(body)
    assert result["returncode"] == 0
    allowed_outcome, denied_outcome, faked_outcome = result["outcomes"]
    assert allowed_outcome[0] == "fd"
    assert denied_outcome == ["errno", errno.EACCES]
    assert faked_outcome == ["fd", 77]


def test_supervisor_runs_program(tmp_path: Any) -> None:
    secret = tmp_path / "secret"
    secret.write_text("hidden")
    public = tmp_path / "public"
    public.write_text("shown")

    def handler(request: notify.Request) -> notify.Reply:
        if request.read_string(1) == str(secret):
            return notify.fail(errno.EACCES)
        return notify.CONTINUE

    def body() -> Dict[str, Any]:
        out_read, out_write = os.pipe()
        os.dup2(out_write, 1)
        os.dup2(out_write, 2)
        os.close(out_write)
        with notify.Supervisor(handler) as supervisor:
            shown = supervisor.spawn(["cat", str(public)], openat_filter())
            hidden = supervisor.spawn(["cat", str(secret)], openat_filter())
            supervisor.serve()
        os.close(1)
        os.close(2)
        return {
            "shown": shown.returncode,
            "hidden": hidden.returncode,
            "output": read_all(out_read).decode(),
        }

    result = run_json(body)
    assert result["shown"] == 0
    assert result["hidden"] == 1
    assert "shown" in result["output"]
    assert "hidden" not in result["output"]
    assert "Permission denied" in result["output"]


def test_handler_exception_responds_errno() -> None:
    def handler(request: notify.Request) -> Any:
        path = request.read_string(1)
        if path == "/raise":
            raise RuntimeError("handler bug")
        if path == "/not-a-reply":
            return 5
        return notify.CONTINUE

    def body() -> Dict[str, Any]:
        records = Records()
        out_read, out_write = os.pipe()
        with notify.Supervisor(handler, on_error=errno.ENOSYS) as supervisor:
            target = supervisor.spawn_callable(
                open_paths(["/raise", "/not-a-reply", "/"], out_write),
                openat_filter(),
            )
            supervisor.serve()
        errors = [r for r in records.records if r.levelno == logging.ERROR]
        return {
            "returncode": target.returncode,
            "outcomes": json.loads(os.read(out_read, 4096)),
            "logger": sorted({r.name for r in errors}),
            "exc_types": [
                type(r.exc_info[1]).__name__ for r in errors if r.exc_info
            ],
            "messages": [r.getMessage() for r in errors],
        }

    result = run_json(body)
    assert result["returncode"] == 0
    raised, not_a_reply, allowed = result["outcomes"]
    assert raised == ["errno", errno.ENOSYS]
    assert not_a_reply == ["errno", errno.ENOSYS]
    # Serving went on after both failures.
    assert allowed[0] == "fd"
    assert result["logger"] == ["seccompx.notify"]
    assert result["exc_types"] == ["RuntimeError"]
    assert len(result["messages"]) == 2
    assert "not a seccompx.notify.Reply" in result["messages"][1]


def test_handler_exception_defaults_to_eperm() -> None:
    def handler(request: notify.Request) -> notify.Reply:
        raise ValueError("no decision")

    def body() -> Dict[str, Any]:
        logging.getLogger("seccompx").addHandler(logging.NullHandler())
        out_read, out_write = os.pipe()
        with notify.Supervisor(handler) as supervisor:
            supervisor.spawn_callable(open_paths(["/"], out_write), openat_filter())
            supervisor.serve()
        return {"outcomes": json.loads(os.read(out_read, 4096))}

    assert run_json(body)["outcomes"] == [["errno", errno.EPERM]]


def test_target_killed_during_handler() -> None:
    def handler(request: notify.Request) -> notify.Reply:
        assert request.target is not None
        request.target.kill()
        # Wait until the kernel has dropped the request, so that the
        # response below is sure to find the target gone.
        while request.is_valid():
            pass
        return notify.CONTINUE

    def body() -> Dict[str, Any]:
        records = Records()
        with notify.Supervisor(handler) as supervisor:
            target = supervisor.spawn_callable(open_paths(["/"], 1), openat_filter())
            supervisor.serve()
        dropped = [
            r
            for r in records.records
            if r.levelno == logging.DEBUG and "dropped" in r.getMessage()
        ]
        return {"returncode": target.returncode, "dropped": len(dropped)}

    result = run_json(body)
    assert result["returncode"] == -signal.SIGKILL
    assert result["dropped"] == 1


def test_background_serving_and_wait() -> None:
    def body() -> Dict[str, Any]:
        out_read, out_write = os.pipe()
        supervisor = notify.Supervisor(lambda request: notify.fail(errno.EROFS))
        target = supervisor.spawn_callable(open_paths(["/"], out_write), openat_filter())
        supervisor.start()
        returncode = target.wait(timeout=10)
        supervisor.join(timeout=10)
        supervisor.close()
        return {
            "returncode": returncode,
            "outcomes": json.loads(os.read(out_read, 4096)),
            "finished": target.finished,
        }

    result = run_json(body)
    assert result["returncode"] == 0
    assert result["outcomes"] == [["errno", errno.EROFS]]
    assert result["finished"] is True


def test_close_reaps_unserved_target() -> None:
    def body() -> Dict[str, Any]:
        supervisor = notify.Supervisor(lambda request: notify.CONTINUE)
        target = supervisor.spawn_callable(open_paths(["/"], 1), openat_filter())
        supervisor.close()
        try:
            os.waitpid(target.pid, os.WNOHANG)
            left = "child"
        except ChildProcessError:
            left = "reaped"
        return {"returncode": target.returncode, "left": left}

    result = run_json(body)
    assert result["returncode"] is not None
    assert result["left"] == "reaped"


def test_read_string_limits() -> None:
    def handler(request: notify.Request) -> notify.Reply:
        try:
            request.read_string(1, max_size=8)
        except seccompx.NotifyError as error:
            return notify.fail(error.errno or errno.EIO)
        return notify.CONTINUE

    def body() -> Dict[str, Any]:
        out_read, out_write = os.pipe()
        with notify.Supervisor(handler) as supervisor:
            supervisor.spawn_callable(
                open_paths(["/short", "/a/path/longer/than/eight"], out_write),
                openat_filter(),
            )
            supervisor.serve()
        return {"outcomes": json.loads(os.read(out_read, 4096))}

    short, long = run_json(body)["outcomes"]
    assert short == ["errno", errno.ENOENT]
    assert long == ["errno", errno.ENAMETOOLONG]


def test_exec_failure_sets_exec_error(tmp_path: Any) -> None:
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)

    def body() -> Dict[str, Any]:
        with notify.Supervisor(lambda request: notify.CONTINUE) as supervisor:
            target = supervisor.spawn([str(script)], openat_filter())
            supervisor.serve()
        assert target.exec_error is not None
        return {
            "returncode": target.returncode,
            "errno": target.exec_error.errno,
            "filename": target.exec_error.filename,
        }

    result = run_json(body)
    assert result["returncode"] == 127
    assert result["errno"] == errno.EACCES
    assert result["filename"] == str(script)


def test_spawn_missing_program() -> None:
    with notify.Supervisor(lambda request: notify.CONTINUE) as supervisor:
        with pytest.raises(FileNotFoundError, match="no-such-program"):
            supervisor.spawn(["no-such-program-seccompx"], openat_filter())


def test_spawn_rejects_nul_in_argument() -> None:
    with notify.Supervisor(lambda request: notify.CONTINUE) as supervisor:
        with pytest.raises(seccompx.InvalidArgumentError, match="NUL"):
            supervisor.spawn(["/bin/true", "a\0b"], openat_filter())


# A second listener ---------------------------------------------------------------


def test_second_listener_in_process_is_load_error() -> None:
    def body() -> Dict[str, Any]:
        first = seccompx.Filter(default=seccompx.ALLOW)
        first.add_rule(seccompx.NOTIFY, "acct")
        first.load()
        second = seccompx.Filter(default=seccompx.ALLOW)
        second.add_rule(seccompx.NOTIFY, "acct")
        try:
            second.load()
        except seccompx.LoadError as error:
            return {"reason": error.reason, "errno": error.errno}
        return {"reason": None}

    result = run_json(body)
    assert result["reason"] == "listener"
    assert result["errno"] == errno.EBUSY


def test_spawn_under_listener_is_load_error() -> None:
    def body() -> Dict[str, Any]:
        outer = seccompx.Filter(default=seccompx.ALLOW)
        outer.add_rule(seccompx.NOTIFY, "acct")
        outer.load()
        with notify.Supervisor(lambda request: notify.CONTINUE) as supervisor:
            try:
                supervisor.spawn_callable(lambda: 0, openat_filter())
            except seccompx.LoadError as error:
                return {"reason": error.reason, "errno": error.errno}
        return {"reason": None}

    result = run_json(body)
    assert result["reason"] == "listener"
    assert result["errno"] == errno.EBUSY


# Asyncio supervisor --------------------------------------------------------------


def test_async_supervisor_serves_two_targets() -> None:
    def body() -> Dict[str, Any]:
        seen: Dict[str, int] = {}

        async def handler(request: notify.Request) -> notify.Reply:
            await asyncio.sleep(0)
            path = request.read_string(1)
            seen[path] = request.pid
            if path.startswith("/first"):
                return notify.fail(errno.EACCES)
            return notify.succeed(55)

        async def main() -> Dict[str, Any]:
            first_read, first_write = os.pipe()
            second_read, second_write = os.pipe()
            supervisor = notify.AsyncSupervisor(handler)
            first = await supervisor.spawn_callable(
                open_paths(["/first/a", "/first/b"], first_write), openat_filter()
            )
            second = await supervisor.spawn_callable(
                open_paths(["/second/a"], second_write), openat_filter()
            )
            await supervisor.serve()
            supervisor.close()
            return {
                "returncodes": [first.returncode, second.returncode],
                "first": json.loads(os.read(first_read, 4096)),
                "second": json.loads(os.read(second_read, 4096)),
                "pids_match": seen["/first/a"] == first.pid
                and seen["/second/a"] == second.pid,
                "paths": sorted(seen),
            }

        return asyncio.run(main())

    result = run_json(body)
    assert result["returncodes"] == [0, 0]
    assert result["first"] == [["errno", errno.EACCES], ["errno", errno.EACCES]]
    assert result["second"] == [["fd", 55]]
    assert result["pids_match"] is True
    assert result["paths"] == ["/first/a", "/first/b", "/second/a"]


def test_async_supervisor_sync_handler_error() -> None:
    def handler(request: notify.Request) -> notify.Reply:
        raise RuntimeError("handler bug")

    def body() -> Dict[str, Any]:
        records = Records()

        async def main() -> Dict[str, Any]:
            out_read, out_write = os.pipe()
            async with notify.AsyncSupervisor(handler, on_error=errno.EIO) as supervisor:
                target = await supervisor.spawn(
                    ["/bin/cat", "/etc/hostname"], openat_filter()
                )
                await supervisor.serve()
            return {"returncode": target.returncode}

        result = asyncio.run(main())
        result["errors"] = sum(1 for r in records.records if r.exc_info)
        return result

    result = run_json(body)
    # The dynamic loader's first openat fails with EIO, so cat cannot start.
    assert result["returncode"] != 0
    assert result["errors"] >= 1
