"""seccompx.sandbox.spawn() and run_program(): external programs with a
filter loaded just before execve.  The filter is loaded in the spawned
child, so these tests assert the child's exit status or signal."""

from __future__ import annotations

import errno
import gc
import hashlib
import math
import os
import signal
import subprocess
import threading
import warnings

import pytest

import seccompx
from seccompx import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    Filter,
    SandboxError,
    SandboxViolation,
)
from seccompx.sandbox import Process, _spawn, run_program, spawn

SIGSYS = int(signal.SIGSYS)
TRUE = "/bin/true"
SH = "/bin/sh"


def deny(*names: str, action=KILL_PROCESS) -> Filter:
    f = Filter(default=ALLOW)
    for name in names:
        f.add_rule(action, name)
    return f


def status_fields(text: str) -> dict:
    return {
        key: value.strip()
        for key, _, value in (
            line.partition(":") for line in text.splitlines()
        )
    }


def test_spawn_true_exits_zero():
    process = spawn([TRUE], filter=deny("socket"))
    assert isinstance(process, Process)
    assert process.pid > 0
    assert process.wait(timeout=30) == 0
    assert process.returncode == 0
    assert process.violation is None


def test_spawn_false_exits_one():
    assert spawn(["/bin/false"], filter=deny("socket")).wait(timeout=30) == 1


def test_spawn_searches_path():
    assert spawn(["true"], filter=deny("socket")).wait(timeout=30) == 0


def test_spawned_program_is_filtered():
    result = run_program(
        ["cat", "/proc/self/status"],
        filter=deny("socket"),
        capture_output=True,
        timeout=30,
    )
    fields = status_fields(result.stdout.decode())
    assert result.returncode == 0
    assert fields["Seccomp"] == "2"
    assert fields["Seccomp_filters"] == "1"
    assert fields["NoNewPrivs"] == "1"


def test_spawn_forbidden_syscall_kills_program():
    process = spawn(["uname"], filter=deny("uname"), stdout=subprocess.DEVNULL)
    assert process.wait(timeout=30) == -SIGSYS
    violation = process.violation
    assert isinstance(violation, SandboxViolation)
    assert violation.signal == SIGSYS
    assert violation.syscall is None
    assert "SIGSYS" in str(violation)


def test_shell_command_with_forbidden_syscall():
    # The shell forks mkdir, the kernel kills mkdir, and the shell reports
    # 128 + SIGSYS as its own status.
    result = run_program(
        [SH, "-c", "mkdir /nonexistent-dir/x; echo status $?"],
        filter=deny("mkdir", "mkdirat"),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0
    assert result.stdout.decode().split() == ["status", str(128 + SIGSYS)]


def test_shell_exec_of_forbidden_syscall():
    result = run_program(
        [SH, "-c", "exec uname"],
        filter=deny("uname"),
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == -SIGSYS


def test_run_program_check_raises_violation():
    with pytest.raises(SandboxViolation, match="uname"):
        run_program(
            ["uname"],
            filter=deny("uname"),
            capture_output=True,
            check=True,
            timeout=30,
        )


def test_run_program_check_raises_called_process_error():
    with pytest.raises(subprocess.CalledProcessError) as info:
        run_program(
            [SH, "-c", "exit 3"], filter=deny("socket"), check=True, timeout=30
        )
    assert info.value.returncode == 3


def test_errno_rule_fails_syscall_in_program():
    result = run_program(
        [SH, "-c", "mkdir /tmp/seccompx-denied-$$ 2>&1; echo status $?"],
        filter=deny("mkdir", "mkdirat", action=ERRNO(errno.EACCES)),
        capture_output=True,
        timeout=30,
    )
    assert "Permission denied" in result.stdout.decode()
    assert result.stdout.decode().split()[-1] == "1"


def test_filter_forbidding_execve_is_rejected():
    with pytest.raises(SandboxError, match="execve") as info:
        spawn([TRUE], filter=deny("execve"))
    assert info.value.errno == errno.EPERM
    assert "KILL_PROCESS" in str(info.value)


def test_filter_failing_execve_is_rejected():
    with pytest.raises(SandboxError, match=r"ERRNO\(1\)"):
        spawn([TRUE], filter=deny("execve", action=ERRNO(errno.EPERM)))


def test_allowlist_without_execve_is_rejected():
    f = Filter(default=KILL_PROCESS)
    f.allow("read", "write", "exit_group")
    with pytest.raises(SandboxError, match="allow execve"):
        spawn([TRUE], filter=f)


def test_missing_program_is_file_not_found():
    with pytest.raises(FileNotFoundError) as info:
        spawn(["/nonexistent/program"], filter=deny("socket"))
    assert info.value.filename == "/nonexistent/program"


def test_missing_program_in_path_is_file_not_found():
    with pytest.raises(FileNotFoundError):
        spawn(
            ["seccompx-no-such-program"],
            filter=deny("socket"),
            env={"PATH": "/bin"},
        )


def test_non_executable_is_permission_error():
    with pytest.raises(PermissionError):
        spawn(["/etc/passwd"], filter=deny("socket"))


def test_missing_cwd_is_file_not_found():
    with pytest.raises(FileNotFoundError) as info:
        spawn([TRUE], filter=deny("socket"), cwd="/nonexistent-dir")
    assert info.value.filename == "/nonexistent-dir"


def test_spawn_env_cwd_and_capture(tmp_path):
    result = run_program(
        [SH, "-c", 'echo "$SECCOMPX_TEST"; pwd; echo to-stderr >&2'],
        filter=deny("socket"),
        env={"SECCOMPX_TEST": "value", "PATH": "/bin:/usr/bin"},
        cwd=tmp_path,
        capture_output=True,
        timeout=30,
    )
    lines = result.stdout.decode().splitlines()
    assert lines == ["value", str(tmp_path)]
    assert result.stderr == b"to-stderr\n"


def test_spawn_input_and_text():
    result = run_program(
        ["cat"],
        filter=deny("socket"),
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.stdout == "hello\n"


def test_spawn_large_input_round_trip():
    data = os.urandom(1 << 20)
    result = run_program(
        ["cat"],
        filter=deny("socket"),
        input=data,
        capture_output=True,
        timeout=30,
    )
    assert result.stdout == data


def test_spawn_stderr_to_stdout():
    result = run_program(
        [SH, "-c", "echo out; echo err >&2"],
        filter=deny("socket"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=30,
    )
    assert sorted(result.stdout.split()) == [b"err", b"out"]


def test_spawn_closes_other_descriptors():
    read_end, write_end = os.pipe()
    os.set_inheritable(write_end, True)
    probe = f"test -e /proc/self/fd/{write_end} && echo open || echo closed"
    try:
        result = run_program(
            [
                SH,
                "-c",
                probe,
            ],
            filter=deny("socket"),
            capture_output=True,
            timeout=30,
        )
        passed = run_program(
            [
                SH,
                "-c",
                probe,
            ],
            filter=deny("socket"),
            capture_output=True,
            pass_fds=[write_end],
            timeout=30,
        )
    finally:
        os.close(read_end)
        os.close(write_end)
    assert result.stdout == b"closed\n"
    assert passed.stdout == b"open\n"


def closed_descriptor() -> int:
    """Return the number of a descriptor that was just closed."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    os.close(write_end)
    return write_end


@pytest.mark.parametrize("fd", [-1, -5])
def test_spawn_rejects_negative_pass_fds(fd):
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        spawn([TRUE], filter=deny(), pass_fds=(fd,))
    assert f"pass_fds contains {fd}" in str(info.value)
    assert "0 or more" in str(info.value)


@pytest.mark.parametrize("fd", [None, 2**31, 2**40])
def test_spawn_rejects_closed_pass_fds(fd):
    if fd is None:
        fd = closed_descriptor()
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        spawn([TRUE], filter=deny(), pass_fds=(fd,))
    assert f"pass_fds contains {fd}," in str(info.value)
    assert "not an open file descriptor" in str(info.value)


@pytest.mark.parametrize("pass_fds", [("3",), (1.5,), (True,), 5])
def test_spawn_rejects_pass_fds_of_wrong_type(pass_fds):
    with pytest.raises(TypeError, match="pass_fds must"):
        spawn([TRUE], filter=deny(), pass_fds=pass_fds)


def test_pass_fd_closed_after_check(monkeypatch):
    # A descriptor that another thread closes between the check and the
    # start of the child: the child reports which step failed.
    fd = closed_descriptor()
    monkeypatch.setattr(_spawn, "_kept_fds", lambda pass_fds: (fd,))
    with pytest.raises(OSError) as info:
        spawn([TRUE], filter=deny(), pass_fds=())
    assert info.value.errno == errno.EBADF
    assert f"pass_fds descriptors [{fd}]" in str(info.value)


def test_spawn_accepts_standard_pass_fds():
    process = spawn([TRUE], filter=deny(), pass_fds=(0, 1, 2))
    assert process.wait(timeout=30) == 0


def test_spawn_rejects_closed_stdio_descriptor():
    fd = closed_descriptor()
    with pytest.raises(seccompx.InvalidArgumentError, match=f"stdout={fd} "):
        spawn([TRUE], filter=deny(), stdout=fd)


def test_spawn_restores_sigpipe_default():
    result = run_program(
        ["cat", "/proc/self/status"],
        filter=deny("socket"),
        capture_output=True,
        timeout=30,
    )
    ignored = int(status_fields(result.stdout.decode())["SigIgn"], 16)
    assert not ignored & (1 << (signal.SIGPIPE - 1))


def test_spawn_new_session():
    result = run_program(
        ["cat", "/proc/self/stat"],
        filter=deny("socket"),
        capture_output=True,
        start_new_session=True,
        timeout=30,
    )
    fields = result.stdout.decode().rsplit(")", 1)[1].split()
    pid, session = int(result.stdout.split()[0]), int(fields[3])
    assert session == pid


def test_wait_timeout_expires():
    process = spawn(["sleep", "30"], filter=deny("socket"))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0.2)
    finally:
        process.kill()
    assert process.wait(timeout=30) == -signal.SIGKILL


def test_wait_opens_pidfd_only_for_timeout():
    # A wait without a timeout blocks in waitpid, so spawn() does not open
    # a pidfd for it; a wait with one opens it then.
    quick = spawn(["true"], filter=deny("socket"))
    assert quick._watcher.fd is None
    assert quick.wait() == 0
    assert quick._watcher.fd is None
    slow = spawn(["sleep", "30"], filter=deny("socket"))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            slow.wait(timeout=0.1)
        if hasattr(os, "pidfd_open"):
            assert slow._watcher.fd is not None
    finally:
        slow.kill()
    assert slow.wait(timeout=30) == -signal.SIGKILL


def test_run_program_timeout_kills():
    with pytest.raises(subprocess.TimeoutExpired):
        run_program(["sleep", "30"], filter=deny("socket"), timeout=0.3)


@pytest.mark.parametrize("timeout", [0, -1, math.nan])
def test_run_program_rejects_invalid_timeout(timeout):
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        run_program([TRUE], filter=deny(), timeout=timeout)
    assert f"timeout={timeout!r}" in str(info.value)
    assert "greater than 0" in str(info.value)


@pytest.mark.parametrize("timeout", [math.inf, 1e30])
def test_run_program_unbounded_timeout(timeout):
    result = run_program([TRUE], filter=deny("socket"), timeout=timeout)
    assert result.returncode == 0


def test_wait_accepts_zero_and_unbounded_timeouts():
    process = spawn(["sleep", "30"], filter=deny("socket"))
    try:
        with pytest.raises(subprocess.TimeoutExpired):
            process.wait(timeout=0)
        with pytest.raises(seccompx.InvalidArgumentError, match="timeout=-1"):
            process.wait(timeout=-1)
    finally:
        process.kill()
    assert process.wait(timeout=math.inf) == -signal.SIGKILL


def test_rejected_arguments_do_not_warn_unused_filter():
    def reject() -> None:
        with pytest.raises(seccompx.InvalidArgumentError):
            spawn([TRUE], filter=deny("socket"), pass_fds=(-1,))
        with pytest.raises(seccompx.InvalidArgumentError):
            spawn([], filter=deny("socket"))
        with pytest.raises(seccompx.InvalidArgumentError):
            run_program([TRUE], filter=deny("socket"), timeout=-1)
        with pytest.raises(seccompx.InvalidArgumentError):
            run_program([TRUE], filter=deny("socket"), input=b"", stdin=0)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reject()
        gc.collect()
    categories = [item.category for item in caught]
    assert seccompx.FilterNotLoadedWarning not in categories


def test_poll_returns_none_while_running():
    process = spawn(["sleep", "30"], filter=deny("socket"))
    try:
        assert process.poll() is None
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGTERM


def test_spawn_accepts_bpf_bytes():
    program = deny("uname").export_bpf()
    assert spawn([TRUE], filter=program).wait(timeout=30) == 0


def test_spawn_rejects_empty_args():
    with pytest.raises(seccompx.InvalidArgumentError, match="args is empty"):
        spawn([], filter=deny())


def test_spawn_rejects_null_byte():
    with pytest.raises(ValueError, match="null byte"):
        spawn([TRUE, "a\0b"], filter=deny())


def test_spawn_rejects_bad_env_name():
    with pytest.raises(seccompx.InvalidArgumentError, match="A=B"):
        spawn([TRUE], filter=deny(), env={"A=B": "1"})


def test_spawn_leaves_parent_unfiltered():
    spawn([TRUE], filter=deny("socket")).wait(timeout=30)
    with open("/proc/self/status") as status:
        assert status_fields(status.read())["Seccomp"] == "0"


def test_spawn_from_busy_threaded_parent():
    # Eight threads keep the allocator busy and hash without the GIL, so
    # they hold C-level locks at random moments while another thread
    # spawns sandboxed programs; the bound is a deadlock guard only.
    stop = threading.Event()
    block = os.urandom(1 << 20)

    def busy() -> None:
        while not stop.is_set():
            hashlib.sha256(block).digest()
            [bytearray(256) for _ in range(100)]

    threads = [threading.Thread(target=busy, daemon=True) for _ in range(8)]
    for thread in threads:
        thread.start()
    results = []
    try:
        f = deny("socket")

        def spawn_all() -> None:
            for _ in range(100):
                results.append(spawn([TRUE], filter=f).wait(timeout=60))

        spawner = threading.Thread(target=spawn_all)
        spawner.start()
        spawner.join(timeout=120)
        assert not spawner.is_alive(), "spawning 100 programs did not finish"
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert results == [0] * 100


def wait_for_exit(pid: int) -> None:
    """Wait until the child ``pid`` exits, leaving it to be reaped."""
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)


def is_reaped(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return False


def test_dropped_exited_process_is_reaped():
    process = spawn([TRUE], filter=deny("socket"))
    pid = process.pid
    wait_for_exit(pid)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        del process
        gc.collect()
    assert is_reaped(pid)


def test_dropped_running_process_warns():
    process = spawn(["/bin/sleep", "30"], filter=deny("socket"))
    pid = process.pid
    with pytest.warns(ResourceWarning, match=rf"program {pid} \(/bin/sleep\)"):
        del process
        gc.collect()
    os.kill(pid, signal.SIGKILL)
    wait_for_exit(pid)
    spawn([TRUE], filter=deny("socket")).wait()
    assert is_reaped(pid)
    assert not _spawn._dropped


def test_dropped_process_reaped_elsewhere():
    process = spawn(["/bin/sleep", "30"], filter=deny("socket"))
    pid = process.pid
    with pytest.warns(ResourceWarning):
        del process
        gc.collect()
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    # A later spawn() finds the child gone and removes it from the list.
    assert spawn([TRUE], filter=deny("socket")).wait() == 0
    assert not _spawn._dropped


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_dropped_processes_reaped_across_threads():
    f = deny("socket")
    pids = []

    def drop_some():
        for _ in range(10):
            process = spawn([TRUE], filter=f)
            pids.append(process.pid)
            del process

    threads = [threading.Thread(target=drop_some) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gc.collect()
    for pid in pids:
        try:
            wait_for_exit(pid)
        except ChildProcessError:
            pass  # Reaped already, when its Process was deleted.
    spawn([TRUE], filter=f).wait()
    assert len(pids) == 40
    assert [pid for pid in pids if not is_reaped(pid)] == []
    assert not _spawn._dropped


def test_run_program_timeout_message_as_given():
    with pytest.raises(subprocess.TimeoutExpired) as raised:
        run_program(["/bin/sleep", "30"], filter=deny("socket"), timeout=0.3)
    assert raised.value.timeout == 0.3
    assert "timed out after 0.3 seconds" in str(raised.value)
