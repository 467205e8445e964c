"""seccompx.sandbox.run() and the raw loader against the real kernel.

sandbox.run() forks and loads the filter in its own child, so these tests
call it directly and assert what the kernel did to that child.  Tests of
the raw loader itself go through childproc.run_in_child.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import gc
import linecache
import math
import os
import pickle
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import warnings

import pytest
from childproc import report, run_in_child

import seccompx
from seccompx import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    KILL_THREAD,
    TRAP,
    Arch,
    Filter,
    SandboxError,
    SandboxTimeout,
    SandboxViolation,
    _sandbox,
    sandbox,
)
from seccompx.program import Program
from seccompx.sandbox import _program

NATIVE = Arch.native()
SIGSYS = int(signal.SIGSYS)


def deny(*names: str, action=KILL_PROCESS) -> Filter:
    """A filter that allows everything but ``names``."""
    f = Filter(default=ALLOW)
    for name in names:
        f.add_rule(action, name)
    return f


def allowlist(*extra: str) -> Filter:
    """A filter that kills on every syscall but the transport and memory."""
    f = Filter(default=KILL_PROCESS)
    f.allow("write", "exit_group", "brk", "mmap", "munmap", "mremap", *extra)
    return f


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (
            other.x,
            other.y,
        )


class CustomError(Exception):
    pass


def open_socket() -> None:
    socket.socket(socket.AF_INET, socket.SOCK_STREAM)


def write_file(path: str) -> None:
    with open(path, "w") as file:
        file.write("data")


def raise_custom() -> None:
    def inner() -> None:
        raise CustomError("custom failure")

    inner()


def exit_three() -> None:
    sys.exit(3)


def raise_local_class() -> None:
    class Local(Exception):
        pass

    raise Local("local class")


class NeedsTwo(Exception):
    """Pickles, but unpickling calls NeedsTwo(message) and fails."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}/{text}")


def raise_needs_two() -> None:
    raise NeedsTwo(4, "four")


def raise_chained() -> None:
    try:
        {}["missing"]
    except KeyError as error:
        raise ValueError("chained failure") from error


class FromUnloadedModule(Exception):
    pass


# pickle imports a class's module by name; this one is not loaded, so
# importing it would search sys.path (stat and openat).
FromUnloadedModule.__module__ = "seccompx_test_module_not_loaded"


def raise_from_unloaded_module() -> None:
    raise FromUnloadedModule("not importable")


def unused_filter_warnings(action) -> list:
    """Run ``action`` and collect the FilterNotLoadedWarning it caused.

    ``action`` builds its own filter, so the filter is released before
    this returns.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        action()
        gc.collect()
    return [
        item
        for item in caught
        if issubclass(item.category, seccompx.FilterNotLoadedWarning)
    ]


# Results and exceptions ---------------------------------------------------


def test_run_returns_result_under_allowlist():
    result = sandbox.run(
        lambda a, b: {"sum": a + b, "items": [a] * 3},
        2,
        b=5,
        filter=allowlist(),
    )
    assert result == {"sum": 7, "items": [2, 2, 2]}


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="ASan's allocator calls madvise, which the allowlist refuses",
)
def test_run_returns_large_result():
    data = sandbox.run(lambda: b"x" * 5_000_000, filter=allowlist())
    assert len(data) == 5_000_000


def test_run_returns_custom_object():
    assert sandbox.run(Point, 3, 4, filter=deny("socket")) == Point(3, 4)


def test_run_accepts_bpf_bytes():
    program = deny("socket").export_bpf()
    assert sandbox.run(pow, 2, 10, filter=program) == 1024


def test_run_accepts_object_with_bytes():
    class Wrapped:
        def __bytes__(self) -> bytes:
            return deny("socket").export_bpf()

    assert sandbox.run(pow, 3, 3, filter=Wrapped()) == 27


def test_run_accepts_program():
    program = Program(deny("socket").export_bpf())
    assert sandbox.run(pow, 2, 3, filter=program) == 8


def test_run_reraises_exception_with_traceback():
    with pytest.raises(CustomError, match="custom failure") as info:
        sandbox.run(raise_custom, filter=deny("socket"))
    cause = info.value.__cause__
    assert isinstance(cause, sandbox.ChildTraceback)
    assert "inner" in cause.text
    assert "raise CustomError" in cause.text


def test_run_unpicklable_exception_becomes_sandbox_error():
    with pytest.raises(SandboxError, match="Local: local class") as info:
        sandbox.run(raise_local_class, filter=deny("socket"))
    assert isinstance(info.value.__cause__, sandbox.ChildTraceback)


# Exceptions under the allowlist of docs/sandbox.md --------------------------


@pytest.mark.parametrize(
    "func, args, expected",
    [
        (int, ("abc",), ValueError),
        (raise_custom, (), CustomError),
        (exit_three, (), SystemExit),
        (raise_chained, (), ValueError),
    ],
)
def test_allowlist_run_reraises_exception(func, args, expected):
    # A file in linecache's cache is one that checkcache() would stat.
    linecache.getlines(__file__)
    with pytest.raises(expected) as info:
        sandbox.run(func, *args, filter=allowlist())
    assert not isinstance(info.value, SandboxError)
    assert isinstance(info.value.__cause__, sandbox.ChildTraceback)


def test_allowlist_run_keeps_exit_code():
    with pytest.raises(SystemExit) as info:
        sandbox.run(exit_three, filter=allowlist())
    assert info.value.code == 3


def test_child_traceback_has_source_lines():
    with pytest.raises(CustomError) as info:
        sandbox.run(raise_custom, filter=allowlist())
    text = info.value.__cause__.text
    assert text.startswith("Traceback (most recent call last):")
    assert f'File "{__file__}"' in text
    assert ", in inner" in text
    assert 'raise CustomError("custom failure")' in text
    assert text.endswith("CustomError: custom failure\n")


def test_child_traceback_shows_chain():
    with pytest.raises(ValueError) as info:
        sandbox.run(raise_chained, filter=allowlist())
    text = info.value.__cause__.text
    assert "KeyError: 'missing'" in text
    assert "direct cause" in text
    assert '{}["missing"]' in text
    assert text.index("KeyError") < text.index("ValueError: chained failure")


def raise_group() -> None:
    try:
        raise_chained()
    except ValueError as error:
        raise ExceptionGroup("two failures", [error, KeyError("other")])


needs_groups = pytest.mark.skipif(
    sys.version_info < (3, 11), reason="exception groups need Python 3.11"
)


@pytest.mark.parametrize(
    "func",
    [
        raise_custom,
        raise_chained,
        pytest.param(raise_group, marks=needs_groups),
    ],
)
def test_rendered_traceback_matches_python(func):
    # Captured and rendered in this process, the text must be what the
    # traceback module prints for the same exception.
    from seccompx.sandbox import _traceback

    try:
        func()
    except Exception as error:
        expected = "".join(
            traceback.format_exception(type(error), error, error.__traceback__)
        )
        records = pickle.loads(pickle.dumps(_traceback.capture(error)))
    assert _traceback.render(records) == expected


@needs_groups
def test_child_traceback_shows_exception_group():
    with pytest.raises(ExceptionGroup) as info:
        sandbox.run(raise_group, filter=allowlist())
    text = info.value.__cause__.text
    assert "ExceptionGroup: two failures (2 sub-exceptions)" in text
    assert "ValueError: chained failure" in text
    assert "KeyError: 'other'" in text


def test_allowlist_unpicklable_exception_stand_in():
    with pytest.raises(SandboxError, match="Local: local class") as info:
        sandbox.run(raise_local_class, filter=allowlist())
    assert not isinstance(info.value, SandboxViolation)
    cause = info.value.__cause__
    assert isinstance(cause, sandbox.ChildTraceback)
    assert 'raise Local("local class")' in cause.text


def test_exception_failing_to_unpickle_stand_in():
    with pytest.raises(SandboxError, match="NeedsTwo: 4/four") as info:
        sandbox.run(raise_needs_two, filter=allowlist())
    assert isinstance(info.value.__cause__, sandbox.ChildTraceback)
    assert "raise NeedsTwo(4" in info.value.__cause__.text


def test_exception_of_unloaded_module_stand_in():
    with pytest.raises(SandboxError, match="not importable") as info:
        sandbox.run(raise_from_unloaded_module, filter=allowlist())
    assert not isinstance(info.value, SandboxViolation)
    assert "FromUnloadedModule" in str(info.value)


def test_result_of_unloaded_module_is_sandbox_error():
    with pytest.raises(SandboxError, match="cannot be pickled") as info:
        sandbox.run(FromUnloadedModule, "result", filter=allowlist())
    assert not isinstance(info.value, SandboxViolation)
    assert "seccompx_test_module_not_loaded" in str(info.value)


def test_run_unpicklable_result_is_sandbox_error():
    with pytest.raises(SandboxError, match="cannot be pickled"):
        sandbox.run(lambda: threading.Lock(), filter=deny("socket"))


def test_run_errno_rule_is_normal_exception():
    with pytest.raises(PermissionError):
        sandbox.run(
            open_socket, filter=deny("socket", action=ERRNO(errno.EPERM))
        )


def test_run_passes_keyword_named_like_option():
    def takes(timeout: int) -> int:
        return timeout * 2

    assert sandbox.run(functools.partial(takes, timeout=4), filter=deny()) == 8


def test_run_leaves_parent_unfiltered():
    sandbox.run(pow, 1, 1, filter=deny("socket"))
    with open("/proc/self/status") as status:
        fields = dict(line.split(":", 1) for line in status if ":" in line)
    assert fields["Seccomp"].strip() == "0"
    socket.socket().close()


def test_run_child_is_filtered():
    def status() -> str:
        with open("/proc/self/status") as file:
            return file.read()

    text = sandbox.run(status, filter=deny("socket"))
    fields = dict(
        line.split(":", 1) for line in text.splitlines() if ":" in line
    )
    assert fields["Seccomp"].strip() == "2"
    assert fields["NoNewPrivs"].strip() == "1"


# Violations ---------------------------------------------------------------


def test_socket_violation_names_syscall():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(open_socket, filter=allowlist())
    violation = info.value
    assert violation.syscall == "socket"
    assert violation.number == seccompx.resolve_syscall("socket")
    assert violation.arch == NATIVE
    assert violation.signal == SIGSYS
    assert violation.args[0] == socket.AF_INET
    assert violation.args[1] & 0xF == socket.SOCK_STREAM
    assert "socket" in str(violation)
    assert "KILL_PROCESS" in str(violation)


def test_file_write_violation_is_openat(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(write_file, str(path), filter=allowlist())
    assert info.value.syscall in ("openat", "open")
    assert not path.exists()


def test_fork_violation_is_clone():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(os.fork, filter=allowlist())
    assert info.value.syscall in ("clone", "clone3", "fork")


def test_subprocess_violation_is_reported():
    # CPython blocks every signal around vfork, so the kernel kills the
    # child instead of running the SIGSYS handler: the report can only
    # name the likely syscalls.
    forbidden = ("clone", "clone3", "fork", "vfork", "execve")
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(subprocess.run, ["/bin/true"], filter=deny(*forbidden))
    assert info.value.signal == SIGSYS
    if info.value.syscall is None:
        assert "vfork" in str(info.value)
    else:
        assert info.value.syscall in forbidden


def test_exec_violation_is_execve():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(os.execv, "/bin/true", ["true"], filter=allowlist())
    assert info.value.syscall == "execve"
    assert info.value.number == seccompx.resolve_syscall("execve")


def test_violation_with_kill_thread_action():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(open_socket, filter=deny("socket", action=KILL_THREAD))
    assert info.value.syscall == "socket"
    assert "KILL_THREAD" in str(info.value)


def test_violation_with_trap_action():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(open_socket, filter=deny("socket", action=TRAP))
    assert info.value.syscall == "socket"


def test_violation_from_default_action():
    f = Filter(default=KILL_PROCESS)
    f.allow("write", "exit_group", "brk", "mmap", "munmap", "mremap")
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(os.getppid, filter=f)
    assert info.value.syscall == "getppid"


def test_violation_report_kill_mode():
    with pytest.raises(SandboxViolation) as info:
        sandbox.run(open_socket, filter=allowlist(), report="kill")
    violation = info.value
    assert violation.syscall is None
    assert violation.signal == SIGSYS
    assert "killed by SIGSYS" in str(violation)
    assert "report='trap'" in str(violation)


def test_replacing_sigsys_handler_is_violation():
    def replace() -> None:
        signal.signal(signal.SIGSYS, signal.SIG_IGN)

    with pytest.raises(SandboxViolation) as info:
        sandbox.run(replace, filter=deny("socket"))
    assert info.value.syscall == "rt_sigaction"
    assert info.value.args[0] == SIGSYS


def test_violation_in_thread_after_load():
    def in_thread() -> None:
        thread = threading.Thread(target=open_socket)
        thread.start()
        thread.join()

    with pytest.raises(SandboxViolation) as info:
        sandbox.run(in_thread, filter=deny("socket"))
    assert info.value.syscall == "socket"


def test_violation_in_forked_grandchild():
    def fork_and_violate() -> int:
        pid = os.fork()
        if pid == 0:
            try:
                open_socket()
            finally:
                os._exit(0)
        return os.waitpid(pid, 0)[1]

    with pytest.raises(SandboxViolation) as info:
        sandbox.run(fork_and_violate, filter=deny("socket"))
    assert info.value.syscall == "socket"


@pytest.mark.skipif(NATIVE is not Arch.X86_64, reason="uses int 0x80")
def test_violation_from_foreign_architecture():
    # int 0x80 enters the kernel as i386, an architecture this filter
    # lacks, so its bad-architecture action (KILL_PROCESS) applies.
    code = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # i386 getpid

    def call_int80() -> None:
        import mmap

        page = mmap.mmap(
            -1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
        )
        page.write(code)
        address = ctypes.addressof(ctypes.c_char.from_buffer(page))
        ctypes.CFUNCTYPE(ctypes.c_int)(address)()

    with pytest.raises(SandboxViolation) as info:
        sandbox.run(call_int80, filter=deny("socket"))
    assert info.value.arch == Arch.X86
    assert info.value.number == 20
    assert info.value.syscall == "getpid"


# Transport and options ----------------------------------------------------


def test_filter_forbidding_write_is_rejected():
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(errno.EPERM), "write")
    with pytest.raises(SandboxError, match="write") as info:
        sandbox.run(pow, 1, 1, filter=f)
    assert not isinstance(info.value, SandboxViolation)
    assert "ERRNO(1)" in str(info.value)


def test_filter_forbidding_exit_group_is_rejected():
    f = Filter(default=ALLOW)
    f.add_rule(KILL_PROCESS, "exit_group")
    with pytest.raises(SandboxError, match="exit_group"):
        sandbox.run(pow, 1, 1, filter=f)


def test_transport_syscalls_constant():
    assert sandbox.TRANSPORT_SYSCALLS == ("write", "exit_group")


@pytest.mark.parametrize("name", sandbox.TRANSPORT_SYSCALLS)
def test_transport_check_covers_syscall(name):
    with pytest.raises(SandboxError, match=name) as info:
        sandbox.run(pow, 1, 1, filter=deny(name, action=ERRNO(errno.EPERM)))
    assert not isinstance(info.value, SandboxViolation)


def test_timeout_kills_child(tmp_path):
    marker = tmp_path / "finished"

    def sleep_then_mark() -> None:
        time.sleep(30)
        marker.write_text("the child was not killed")

    with pytest.raises(SandboxTimeout, match="0.5 s"):
        sandbox.run(sleep_then_mark, filter=deny("socket"), timeout=0.5)
    assert not marker.exists()


def test_timeout_is_timeout_error():
    with pytest.raises(TimeoutError):
        sandbox.run(time.sleep, 30, filter=deny("socket"), timeout=0.2)


@pytest.mark.parametrize("timeout", [0, -1, -0.5, math.nan])
def test_invalid_timeout_rejected(timeout):
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        sandbox.run(pow, 1, 1, filter=deny(), timeout=timeout)
    assert f"timeout={timeout!r}" in str(info.value)
    assert "greater than 0" in str(info.value)


def test_timeout_of_wrong_type_rejected():
    with pytest.raises(TypeError, match="timeout must be a number"):
        sandbox.run(pow, 1, 1, filter=deny(), timeout="5")


@pytest.mark.parametrize("timeout", [math.inf, 1e30])
def test_unbounded_timeout_accepted(timeout):
    assert sandbox.run(pow, 2, 3, filter=deny(), timeout=timeout) == 8


def test_rejected_arguments_do_not_warn_unused_filter():
    def reject() -> None:
        with pytest.raises(seccompx.InvalidArgumentError):
            sandbox.run(pow, 1, 1, filter=deny("socket"), timeout=-1)
        with pytest.raises(TypeError):
            sandbox.run(42, filter=deny("socket"))

    assert unused_filter_warnings(reject) == []


def test_unused_filter_warning_still_fires():
    # The check above can fail: a filter that is never used does warn.
    assert len(unused_filter_warnings(lambda: deny("socket"))) == 1


def test_invalid_report_rejected():
    with pytest.raises(seccompx.InvalidArgumentError, match="report='loud'"):
        sandbox.run(pow, 1, 1, filter=deny(), report="loud")


def test_invalid_filter_type_rejected():
    with pytest.raises(TypeError, match="filter must be"):
        sandbox.run(pow, 1, 1, filter=42)


def test_truncated_program_rejected():
    with pytest.raises(seccompx.ProgramError, match="12 bytes"):
        sandbox.run(pow, 1, 1, filter=b"\x00" * 12)


RET_ALLOW = struct.pack("=HBBI", 0x06, 0, 0, int(ALLOW))
LOAD_NR = struct.pack("=HBBI", 0x20, 0, 0, 0)
# Programs the kernel rejects, the instruction at fault, and the cause.
INVALID_PROGRAMS = [
    pytest.param(b"\0" * 8, 0, "the last instruction must be a return", id="one"),
    pytest.param(b"\0" * 16, 1, "the last instruction must be a return", id="two"),
    pytest.param(
        RET_ALLOW + LOAD_NR, 1, "the last instruction must be a return", id="ret-ld"
    ),
    # Valid on the path that syscall 0 takes, but a jump lands past the
    # end.
    pytest.param(
        struct.pack("=HBBI", 0x15, 0, 5, 0) + RET_ALLOW, 0, "past the last", id="jump"
    ),
]


def sandbox_entry_points():
    def executor(program):
        with sandbox.Executor(filter=program):
            pass

    return {
        "run": lambda program: sandbox.run(pow, 1, 1, filter=program),
        "run_kill": lambda program: sandbox.run(
            pow, 1, 1, filter=program, report="kill"
        ),
        "executor": executor,
        "spawn": lambda program: sandbox.spawn(["true"], filter=program),
    }


@pytest.mark.parametrize("entry", sorted(sandbox_entry_points()))
@pytest.mark.parametrize("program, index, cause", INVALID_PROGRAMS)
def test_invalid_program_named_as_program_does(entry, program, index, cause):
    with pytest.raises(seccompx.ProgramError) as expected:
        seccompx.Program(program).validate()
    with pytest.raises(seccompx.ProgramError) as info:
        sandbox_entry_points()[entry](program)
    assert info.value.index == index
    assert f"instruction {index}: " in str(info.value)
    assert cause in str(info.value)
    assert str(info.value) == str(expected.value)


def test_child_exit_without_result_is_sandbox_error():
    with pytest.raises(SandboxError, match="exited with status 7"):
        sandbox.run(os._exit, 7, filter=deny("socket"))


# Program rewriting and evaluation -------------------------------------------


def evaluate(program: bytes, name: str, *args: int) -> int:
    return _sandbox.evaluate(
        program, seccompx.resolve_syscall(name), int(NATIVE), 0, args
    )


def test_evaluate_matches_filter_rules():
    f = Filter(default=KILL_PROCESS)
    f.allow("read")
    f.add_rule(ERRNO(errno.EACCES), "openat")
    program = f.export_bpf()
    assert evaluate(program, "read") == int(ALLOW)
    assert evaluate(program, "openat") == int(ERRNO(errno.EACCES))
    assert evaluate(program, "socket") == int(KILL_PROCESS)


def test_evaluate_checks_argument_comparisons():
    f = Filter(default=ALLOW)
    f.add_rule(KILL_PROCESS, "write", seccompx.Arg(0) == 5)
    program = f.export_bpf()
    assert evaluate(program, "write", 5) == int(KILL_PROCESS)
    assert evaluate(program, "write", 6) == int(ALLOW)


def test_trap_program_replaces_killing_actions():
    f = Filter(default=KILL_PROCESS)
    f.allow("read")
    f.add_rule(KILL_THREAD, "socket")
    f.add_rule(ERRNO(errno.EPERM), "openat")
    trapped = _program._trap_program(f.export_bpf())
    assert evaluate(trapped, "read") == int(ALLOW)
    assert evaluate(trapped, "socket") == int(TRAP)
    assert evaluate(trapped, "getppid") == int(TRAP)
    assert evaluate(trapped, "openat") == int(ERRNO(errno.EPERM))


def test_trap_program_rewrites_ret_a():
    # ld [0]; ret A: returns the syscall number as the action, so 0 (read)
    # is KILL_THREAD and everything else an unknown, killing action.
    program = struct.pack("=HBBI", 0x20, 0, 0, 0) + struct.pack(
        "=HBBI", 0x16, 0, 0, 0
    )
    trapped = _program._trap_program(program)
    assert evaluate(trapped, "read") == int(TRAP)
    allow_via_a = struct.pack("=HBBI", 0x00, 0, 0, int(ALLOW)) + struct.pack(
        "=HBBI", 0x16, 0, 0, 0
    )
    assert evaluate(_program._trap_program(allow_via_a), "read") == int(ALLOW)


def test_trap_program_guards_sigsys_handler():
    trapped = _program._trap_program(deny().export_bpf())
    assert evaluate(trapped, "rt_sigaction", SIGSYS) == int(TRAP)
    assert evaluate(trapped, "rt_sigaction", int(signal.SIGINT)) == int(ALLOW)


def test_trap_program_too_large_rejected():
    program = struct.pack("=HBBI", 0x06, 0, 0, int(ALLOW)) * 4095
    with pytest.raises(seccompx.ProgramError, match="report='kill'"):
        _program._trap_program(program)


def test_evaluate_rejects_invalid_instruction():
    with pytest.raises(seccompx.ProgramError) as info:
        _sandbox.evaluate(struct.pack("=HBBI", 0xFF, 0, 0, 0), 0, int(NATIVE))
    assert info.value.index == 0


# The raw loader -------------------------------------------------------------


def test_raw_loader_tsync_filters_earlier_thread():
    program = deny("getppid").export_bpf()

    def body(fd: int) -> int:
        go = threading.Event()

        def worker() -> None:
            go.wait()
            os.getppid()
            report(fd, "thread survived getppid")

        thread = threading.Thread(target=worker)
        thread.start()
        _sandbox.load(program, _sandbox.FLAG_TSYNC, True)
        go.set()
        thread.join()
        return 0

    result = run_in_child(body)
    assert result.signal == SIGSYS, result
    assert b"survived" not in result.output


def test_raw_loader_filters_later_thread():
    program = deny("getppid").export_bpf()

    def body(fd: int) -> int:
        _sandbox.load(program, _sandbox.FLAG_TSYNC, True)
        thread = threading.Thread(target=os.getppid)
        thread.start()
        thread.join()
        report(fd, "thread survived getppid")
        return 0

    result = run_in_child(body)
    assert result.signal == SIGSYS, result
    assert b"survived" not in result.output


def test_raw_loader_sets_no_new_privs():
    program = deny().export_bpf()

    def body(fd: int) -> int:
        _sandbox.load(program, _sandbox.FLAG_TSYNC, True)
        with open("/proc/self/status") as status:
            report(fd, status.read())
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert "NoNewPrivs:\t1" in result.text
    assert "Seccomp:\t2" in result.text


def test_reporter_records_trapped_syscall():
    program = _program._trap_program(deny("getppid").export_bpf())
    reporter = _sandbox.Reporter()
    try:

        def body(fd: int) -> int:
            reporter.install()
            reporter.set_stage(42)
            _sandbox.load(program, _sandbox.FLAG_TSYNC, True)
            os.getppid()
            return 0

        result = run_in_child(body)
        assert result.exitcode == _sandbox.EXIT_VIOLATION, result
        record = reporter.record()
        assert record is not None
        assert record["nr"] == seccompx.resolve_syscall("getppid")
        assert record["arch"] == int(NATIVE)
        assert record["stage"] == 42
        assert record["si_code"] == _sandbox.SYS_SECCOMP
        assert record["count"] == 1
    finally:
        reporter.close()
