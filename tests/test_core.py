"""Core API against the real kernel: actions, comparisons, architectures,
attributes, export, syscall resolution and the main errors."""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import pickle
import signal
import struct
import tempfile
import threading
import warnings

import pytest

import seccompx
from seccompx import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    KILL_THREAD,
    LOG,
    NOTIFY,
    TRACE,
    TRAP,
    Arch,
    Arg,
    Attr,
    Filter,
)
from seccompx._types import _wait_kill_available
from childproc import report, run_in_child

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6

NATIVE = Arch.native()
needs_x86_64 = pytest.mark.skipif(
    NATIVE is not Arch.X86_64, reason="uses x86_64 syscall numbers"
)
SYS_GETPPID = seccompx.resolve_syscall("getppid")


def raw_syscall(number: int, *args: int) -> int:
    """Call a syscall with full 64-bit arguments; return -errno on failure."""
    values = list(args) + [0] * (6 - len(args))
    ctypes.set_errno(0)
    result = libc.syscall(number, *values)
    if result == -1:
        return -ctypes.get_errno()
    return result


# Actions ----------------------------------------------------------------


def test_kill_process_kills_with_sigsys():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(KILL_PROCESS, "getppid")
        f.load()
        report(out, "loaded")
        os.getppid()
        report(out, "survived")

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


def test_kill_thread_kills_only_calling_thread():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(KILL_THREAD, "getppid")
        f.load()
        # ctypes releases the GIL around the call, so the thread dies
        # without holding it.
        worker = threading.Thread(target=raw_syscall, args=(SYS_GETPPID,), daemon=True)
        worker.start()
        # The killed thread never finishes, so wait for its task to vanish.
        for _ in range(2000):
            if len(os.listdir("/proc/self/task")) == 1:
                break
            os.sched_yield()
            threading.Event().wait(0.005)
        tasks = len(os.listdir("/proc/self/task"))
        report(out, f"tasks={tasks}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "tasks=1\n"


def test_kill_thread_in_only_thread_ends_process():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(KILL_THREAD, "getppid")
        f.load()
        os.getppid()
        report(out, "survived")

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.output == b""


class SigsysInfo(ctypes.Structure):
    # struct siginfo for SIGSYS on 64-bit Linux: the _sigsys member of the
    # union starts at offset 16.
    _fields_ = [
        ("si_signo", ctypes.c_int),
        ("si_errno", ctypes.c_int),
        ("si_code", ctypes.c_int),
        ("_pad", ctypes.c_int),
        ("call_addr", ctypes.c_void_p),
        ("syscall", ctypes.c_int),
        ("arch", ctypes.c_uint),
    ]


class SigAction(ctypes.Structure):
    _fields_ = [
        ("sa_sigaction", ctypes.c_void_p),
        ("sa_mask", ctypes.c_ulong * 16),
        ("sa_flags", ctypes.c_int),
        ("sa_restorer", ctypes.c_void_p),
    ]


SA_SIGINFO = 4
SYS_SECCOMP = 1
HANDLER_TYPE = ctypes.CFUNCTYPE(
    None, ctypes.c_int, ctypes.POINTER(SigsysInfo), ctypes.c_void_p
)


@pytest.mark.skipif(ctypes.sizeof(ctypes.c_void_p) != 8, reason="64-bit layout")
def test_trap_delivers_sigsys_with_syscall_number():
    def body(out):
        def handler(signum, info, context):
            i = info.contents
            report(
                out,
                f"signo={i.si_signo} code={i.si_code} errno={i.si_errno} "
                f"nr={i.syscall} arch={i.arch:#x}",
            )

        callback = HANDLER_TYPE(handler)
        action = SigAction()
        action.sa_sigaction = ctypes.cast(callback, ctypes.c_void_p)
        action.sa_flags = SA_SIGINFO
        assert libc.sigaction(signal.SIGSYS, ctypes.byref(action), None) == 0
        f = Filter(default=ALLOW)
        f.add_rule(TRAP, "getppid")
        f.load()
        raw_syscall(SYS_GETPPID)
        report(out, "returned")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text.splitlines() == [
        f"signo={int(signal.SIGSYS)} code={SYS_SECCOMP} errno=0 "
        f"nr={SYS_GETPPID} arch={int(NATIVE):#x}",
        "returned",
    ]


@pytest.mark.parametrize("code", [errno.EPERM, errno.EACCES, 0, 4094])
def test_errno_action_returns_errno(code):
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(code), "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    # ERRNO(0) makes the syscall return 0 without running it.
    assert int(result.text) == -code


def test_log_action_lets_syscall_run():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(LOG, "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == os.getpid()


def test_allow_list_with_default_errno():
    def body(out):
        getpid = seccompx.resolve_syscall("getpid")
        f = Filter(default=ERRNO(errno.ENOSYS))
        # The interpreter may need memory while it formats the report.
        f.allow("write", "exit_group", "getppid", "mmap", "munmap", "brk", "madvise")
        f.load()
        allowed = raw_syscall(SYS_GETPPID)
        refused = raw_syscall(getpid)
        report(out, f"{allowed} {refused}")

    result = run_in_child(body)
    assert result.exitcode == 0, result
    ppid, pid = result.text.split()
    assert int(ppid) == os.getpid()
    assert int(pid) == -errno.ENOSYS


def test_trace_without_tracer_fails_with_enosys():
    # With no ptrace tracer attached, the kernel fails the syscall with ENOSYS.
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(TRACE(7), "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.ENOSYS


def test_starting_scenario_kill_then_eperm():
    def attempt(default):
        def body(out):
            f = Filter(default=default)
            f.allow("read", "write", "exit", "exit_group")
            f.load()
            report(out, "hello")
            try:
                os.execv("/bin/sh", ["/bin/sh", "-c", "true"])
            except OSError as error:
                report(out, f"errno={error.errno}")
            return 3

        return run_in_child(body)

    killed = attempt(KILL_PROCESS)
    assert killed.signal == signal.SIGSYS, killed
    assert killed.text == "hello\n"
    refused = attempt(ERRNO(errno.EPERM))
    assert refused.exitcode == 3, refused
    assert refused.text == f"hello\nerrno={errno.EPERM}\n"


# Comparisons ------------------------------------------------------------

BIG = 0x1_2345_6789  # above 2**32
HUGE = 0xFFFF_FFFF_0000_0001

COMPARISON_CASES = [
    # (comparison, argument value, matches)
    (Arg(0) == BIG, BIG, True),
    (Arg(0) == BIG, BIG & 0xFFFFFFFF, False),
    (Arg(0) == HUGE, HUGE, True),
    (Arg(1) != 5, 5, False),
    (Arg(1) != 5, 5 + 2**32, True),
    (Arg(2) < BIG, BIG - 1, True),
    (Arg(2) < BIG, BIG, False),
    (Arg(2) <= BIG, BIG, True),
    (Arg(2) <= BIG, BIG + 1, False),
    (Arg(3) > BIG, BIG + 1, True),
    (Arg(3) > BIG, BIG, False),
    (Arg(3) >= HUGE, HUGE, True),
    (Arg(3) >= HUGE, HUGE - 1, False),
    (Arg(4).masked_eq(0xFF00_0000_0000, 0x1200_0000_0000), 0x12AB_0000_0001, True),
    (Arg(4).masked_eq(0xFF00_0000_0000, 0x1200_0000_0000), 0x13AB_0000_0001, False),
    (Arg(5, width=32) == -1, 0xFFFFFFFF, True),
    (Arg(5, width=32) == -1, 0xFFFFFFFF_FFFFFFFF, True),
    (Arg(5, width=32) == -1, 0xFFFFFFFE, False),
]


@pytest.mark.parametrize("comparison,value,matches", COMPARISON_CASES)
def test_comparison_against_kernel(comparison, value, matches):
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(errno.EDOM), SYS_GETPPID, comparison)
        f.load()
        args = [0] * 6
        args[comparison.arg] = value
        report(out, str(raw_syscall(SYS_GETPPID, *args)))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    expected = -errno.EDOM if matches else os.getpid()
    assert int(result.text) == expected, f"{comparison!r} on {value:#x}"


def test_several_comparisons_are_anded():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(errno.EDOM), "getppid", Arg(0) == 1, Arg(1) > BIG)
        f.load()
        both = raw_syscall(SYS_GETPPID, 1, BIG + 1)
        first_only = raw_syscall(SYS_GETPPID, 1, BIG)
        report(out, f"{both} {first_only}")

    result = run_in_child(body)
    assert result.exitcode == 0, result
    both, first_only = map(int, result.text.split())
    assert both == -errno.EDOM
    assert first_only == os.getpid()


def test_comparison_repr_and_values():
    assert repr(Arg(1) == 5) == "Arg(1) == 0x5"
    assert repr(Arg(0).masked_eq(0xF0, 0x10)) == "Arg(0).masked_eq(0xf0, 0x10)"
    assert (Arg(2, width=32) == -100).datum_b == 0xFFFFFF9C
    assert (Arg(2, width=32) == -100).datum_a == 0xFFFFFFFF


@pytest.mark.parametrize(
    "build,expected",
    [
        (
            lambda: Arg(0, width=32).masked_eq(0xFFFFFFFF00000000, 0),
            "argument 0 mask 0xffffffff00000000 does not fit in 32 bits",
        ),
        (
            lambda: Arg(0, width=32) == 2**32 + 5,
            "argument 0 value 0x100000005 does not fit in 32 bits",
        ),
        (
            lambda: Arg(0, width=32) == -(2**31) - 1,
            "argument 0 value -0x80000001 does not fit in 32 bits",
        ),
    ],
)
def test_width32_range_error_in_hex(build, expected):
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        build()
    message = str(info.value)
    assert message.startswith(expected)
    assert message.endswith("use -0x80000000..0xffffffff (-2**31..2**32-1)")


def test_negative_value_is_rejected_with_explanation():
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        Arg(0) == -1  # noqa: B015
    message = str(info.value)
    assert "-1" in message
    assert "width=32" in message
    assert "0xffffffffffffffff" in message


def test_width32_rejects_ordering():
    with pytest.raises(seccompx.InvalidArgumentError, match="only == and masked_eq") as info:
        Arg(0, width=32) < 5  # noqa: B015
    assert "an ordering test" in str(info.value)
    assert "compare Arg(0) with < and a 64-bit value" in str(info.value)


def test_width32_rejects_not_equal_without_ordering_wording():
    with pytest.raises(seccompx.InvalidArgumentError, match="only == and masked_eq") as info:
        Arg(1, width=32) != 5  # noqa: B015
    message = str(info.value)
    assert "ordering" not in message
    assert "no masked inequality" in message
    assert "compare Arg(1) with != and a 64-bit value" in message


# Foreign architectures --------------------------------------------------

INT80_GETPID = bytes([0xB8, 20, 0, 0, 0, 0xCD, 0x80, 0xC3])  # mov eax,20; int 0x80; ret


def _int80_function():
    area = mmap.mmap(
        -1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
    )
    area.write(INT80_GETPID)
    address = ctypes.addressof(ctypes.c_char.from_buffer(area))
    return area, ctypes.CFUNCTYPE(ctypes.c_int)(address)


def _probe_int80(out):
    # Keep the mapping alive while the code in it runs.
    area, function = _int80_function()
    report(out, str(function()))
    area.close()


def skip_without_i386_emulation():
    probe = run_in_child(_probe_int80)
    if probe.exitcode != 0 or int(probe.text) != probe.pid:
        pytest.skip(f"kernel has no i386 emulation ({probe})")


@needs_x86_64
def test_i386_syscall_killed_whatever_default():
    skip_without_i386_emulation()

    def body(out):
        area, function = _int80_function()
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.load()
        report(out, "loaded")
        function()
        report(out, "survived")

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


@needs_x86_64
def test_x32_syscall_killed_whatever_default():
    x32_getpid = 0x40000000 | 39

    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.load()
        report(out, "loaded")
        raw_syscall(x32_getpid)
        report(out, "survived")

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


@needs_x86_64
def test_x86_arch_in_filter_applies_rules_to_int80():
    skip_without_i386_emulation()

    def body(out):
        area, function = _int80_function()
        f = Filter(default=ALLOW, arches=[Arch.X86_64, Arch.X86])
        f.add_rule(ERRNO(errno.EDOM), "getpid")
        f.load()
        report(out, str(function()))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.EDOM


# Architectures ----------------------------------------------------------


def test_arches_add_remove_has():
    f = Filter(default=ALLOW)
    assert f.arches == (NATIVE,)
    f.add_arch("x86")
    f.add_arch(Arch.AARCH64)
    assert f.has_arch(Arch.X86)
    assert f.has_arch("aarch64")
    assert not f.has_arch(Arch.ARM)
    f.remove_arch(Arch.X86)
    assert not f.has_arch(Arch.X86)
    assert set(f.arches) == {NATIVE, Arch.AARCH64}
    f.close()


def test_arches_argument_replaces_native():
    f = Filter(default=ALLOW, arches=["aarch64", "riscv64"])
    assert f.arches == (Arch.AARCH64, Arch.RISCV64)
    assert not f.has_arch(NATIVE)
    f.close()


def test_arch_parse_names():
    assert Arch.parse("SCMP_ARCH_X86_64") is Arch.X86_64
    assert Arch.parse("amd64") is Arch.X86_64
    assert Arch.parse("arm64") is Arch.AARCH64
    assert Arch.parse(0xC000003E) is Arch.X86_64
    assert str(Arch.X86_64) == "x86_64"
    with pytest.raises(seccompx.ArchitectureError, match="'vax'"):
        Arch.parse("vax")


def test_arch_errors():
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.ArchitectureError, match="already"):
        f.add_arch(NATIVE)
    with pytest.raises(seccompx.ArchitectureError, match="last architecture"):
        f.remove_arch(NATIVE)
    with pytest.raises(seccompx.ArchitectureError, match="not in the filter"):
        f.remove_arch(Arch.S390X)
    f.close()


# Attributes --------------------------------------------------------------


def test_secure_defaults():
    f = Filter(default=ERRNO(1))
    assert f.default_action == ERRNO(1)
    assert f.bad_arch_action == KILL_PROCESS
    assert f.no_new_privs is True
    assert f.tsync is (seccompx.api_level() >= 2)
    assert f.raw_rc is True
    assert f.log is False
    f.close()


@pytest.mark.parametrize(
    "name,attr",
    [
        ("no_new_privs", Attr.NO_NEW_PRIVS),
        ("tsync", Attr.TSYNC),
        ("log", Attr.LOG),
        ("ssb", Attr.SSB),
        ("raw_rc", Attr.RAW_RC),
    ],
)
def test_flag_attribute_round_trip(name, attr):
    f = Filter(default=ALLOW)
    for value in (True, False, True):
        setattr(f, name, value)
        assert getattr(f, name) is value
        assert f.get_attr(attr) == int(value)
    f.close()


def test_optimize_and_bad_arch_round_trip():
    f = Filter(default=ALLOW, optimize=2)
    assert f.optimize == 2
    f.optimize = 1
    assert f.get_attr(Attr.OPTIMIZE) == 1
    f.bad_arch_action = ERRNO(9)
    assert f.bad_arch_action == ERRNO(9)
    f.set_attr(Attr.BAD_ARCH_ACTION, KILL_THREAD)
    assert f.get_attr(Attr.BAD_ARCH_ACTION) == KILL_THREAD.value
    with pytest.raises(seccompx.InvalidArgumentError, match="optimize level 3"):
        f.optimize = 3
    with pytest.raises(seccompx.InvalidArgumentError, match="reset"):
        f.set_attr(Attr.DEFAULT_ACTION, ALLOW)
    f.close()


def test_optimize_two_still_enforces():
    def body(out):
        f = Filter(default=ALLOW, optimize=2)
        for name in ("getppid", "getuid", "getgid", "geteuid"):
            f.add_rule(ERRNO(errno.EDOM), name)
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))

    result = run_in_child(body)
    assert int(result.text) == -errno.EDOM, result


def test_priority_and_merge():
    a = Filter(default=ALLOW)
    a.add_rule(ERRNO(1), "getppid")
    a.syscall_priority("getppid", 200)
    b = Filter(default=ALLOW, arches=["aarch64"])
    b.add_rule(ERRNO(2), "getppid")
    a.merge(b)
    assert b.closed
    assert set(a.arches) == {NATIVE, Arch.AARCH64}
    assert a.rule_count == 2
    pfc = a.export_pfc()
    assert "aarch64" in pfc or str(int(Arch.AARCH64)) in pfc
    a.close()


def test_merge_overlapping_arches_rejected():
    a = Filter(default=ALLOW)
    b = Filter(default=ALLOW)
    with pytest.raises(seccompx.ArchitectureError, match="x86_64|both filters"):
        a.merge(b)
    assert not b.closed
    a.close()
    b.close()


def test_merge_notify_without_listener_rejected():
    a = Filter(default=ALLOW)
    a.add_rule(ERRNO(1), "getppid")
    b = Filter(default=ALLOW, arches=["aarch64"])
    b.add_rule(NOTIFY, "getppid")
    with pytest.raises(seccompx.InvalidArgumentError, match="NOTIFY rule to this filter"):
        a.merge(b)
    assert not b.closed
    assert a.rule_count == 1
    a.close()
    b.close()


def test_merge_notify_shares_listener():
    a = Filter(default=ALLOW)
    a.add_rule(NOTIFY, "getppid")
    b = Filter(default=ALLOW, arches=["aarch64"])
    b.add_rule(NOTIFY, "getppid")
    a.merge(b)

    def body(out):
        a.load()
        report(out, f"listener: {a.notify_fd >= 0}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "listener: True\n"
    a.close()


def test_reset_clears_rules_and_keeps_defaults():
    f = Filter(default=ALLOW)
    f.add_arch("x86")
    f.add_rule(ERRNO(1), "getppid")
    f.reset(ERRNO(3))
    assert f.rule_count == 0
    assert f.arches == (NATIVE,)
    assert f.default_action == ERRNO(3)
    assert f.bad_arch_action == KILL_PROCESS
    f.reset()
    assert f.default_action == ERRNO(3)
    f.close()


# Export -------------------------------------------------------------------


def test_export_pfc_and_bpf():
    f = Filter(default=ERRNO(errno.EPERM))
    f.allow("read", "write")
    pfc = f.export_pfc()
    assert isinstance(pfc, str)
    assert "action ALLOW" in pfc
    assert "action ERRNO(1)" in pfc
    bpf = f.export_bpf()
    assert isinstance(bpf, bytes)
    assert len(bpf) % 8 == 0
    assert f.instruction_count() == len(bpf) // 8
    # The last instruction returns the bad-architecture action.
    code, _, _, k = struct.unpack("=HBBI", bpf[-8:])
    assert code == 0x06
    assert k == KILL_PROCESS.value
    f.close()


def test_export_to_file_objects():
    f = Filter(default=ERRNO(1))
    f.allow("read")
    with tempfile.TemporaryFile() as file:
        f.export_bpf_to(file)
        file.seek(0)
        assert file.read() == f.export_bpf()
    with tempfile.TemporaryFile("w+") as file:
        f.export_pfc_to(file)
        file.seek(0)
        assert file.read() == f.export_pfc()
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    os.close(write_fd)
    with pytest.raises(seccompx.InvalidArgumentError, match=str(write_fd)):
        f.export_bpf_to(write_fd)
    f.close()


def test_exported_filter_loads_as_exported():
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(errno.EDOM), "getppid")
    expected = f.export_bpf()

    def body(out):
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))

    result = run_in_child(body)
    assert int(result.text) == -errno.EDOM, result
    assert f.export_bpf() == expected
    f.close()


# Syscall resolution -------------------------------------------------------


@needs_x86_64
def test_resolve_native_and_foreign():
    assert seccompx.resolve_syscall("read") == 0
    assert seccompx.resolve_syscall("execve") == 59
    assert seccompx.resolve_syscall("read", "x86") == 3
    assert seccompx.resolve_syscall("openat", Arch.AARCH64) == 56
    assert seccompx.syscall_name(59) == "execve"
    assert seccompx.syscall_name(11, "x86") == "execve"
    assert seccompx.syscall_name(221, "aarch64") == "execve"


def test_resolve_errors():
    with pytest.raises(seccompx.UnknownSyscallError) as info:
        seccompx.resolve_syscall("opne")
    assert "'opne'" in str(info.value)
    assert "open" in info.value.suggestions
    with pytest.raises(seccompx.UnknownSyscallError, match="socketcall.*aarch64"):
        seccompx.resolve_syscall("socketcall", "aarch64")
    with pytest.raises(seccompx.UnknownSyscallError, match="99999"):
        seccompx.syscall_name(99999)
    with pytest.raises(seccompx.InvalidArgumentError, match="-5"):
        seccompx.syscall_name(-5)
    with pytest.raises(TypeError):
        seccompx.resolve_syscall(59)  # type: ignore[arg-type]


def test_versions_and_api():
    running = seccompx.libseccomp_version()
    built = seccompx.libseccomp_build_version()
    assert running >= (2, 5, 0)
    assert built >= (2, 5, 0)
    assert seccompx.api_level() >= 1


# Actions as values -----------------------------------------------------------


def test_action_values_and_reprs():
    assert repr(ALLOW) == "ALLOW"
    assert repr(ERRNO(1)) == "ERRNO(1)"
    assert repr(TRACE(5)) == "TRACE(5)"
    assert int(KILL_PROCESS) == 0x80000000
    assert int(ERRNO(13)) == 0x0005000D
    assert int(NOTIFY) == 0x7FC00000
    assert seccompx.Action.from_raw(0x00050001) == ERRNO(1)
    assert pickle.loads(pickle.dumps(ERRNO(5))) == ERRNO(5)
    assert hash(ERRNO(5)) == hash(ERRNO(5))
    assert ERRNO(5) != ERRNO(6)


@pytest.mark.parametrize("bad", [-1, 4095, 65536])
def test_errno_out_of_range(bad):
    with pytest.raises(seccompx.InvalidArgumentError, match=str(bad)):
        ERRNO(bad)


def test_trace_out_of_range():
    with pytest.raises(seccompx.InvalidArgumentError, match="65536"):
        TRACE(65536)


# Errors -----------------------------------------------------------------------


def test_unknown_syscall_in_rule_suggests():
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.UnknownSyscallError) as info:
        f.add_rule(ERRNO(1), "getpdi")
    assert "'getpdi'" in str(info.value)
    assert "getpid" in info.value.suggestions
    assert info.value.errno == errno.EINVAL
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, OSError)
    f.close()


def test_rule_equal_to_default_rejected():
    f = Filter(default=ERRNO(1))
    with pytest.raises(seccompx.InvalidArgumentError, match="default action"):
        f.add_rule(ERRNO(1), "read")
    f.close()


def test_same_argument_twice_rejected():
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError, match="argument 0 is compared twice"):
        f.add_rule(ERRNO(1), "read", Arg(0) == 1, Arg(0) == 2)
    f.close()


def test_unmatchable_rule_warns_and_strict_raises():
    f = Filter(default=ALLOW, arches=[NATIVE, Arch.AARCH64])
    with pytest.warns(seccompx.UnmatchableRuleWarning, match="aarch64"):
        f.add_rule(ERRNO(1), "open")
    with pytest.raises(seccompx.UnknownSyscallError, match="aarch64"):
        f.add_rule(ERRNO(1), "open", strict=True)
    f.close()


OTHER_ARCH = Arch.X86_64 if NATIVE is Arch.AARCH64 else Arch.AARCH64
STRICT_CALLS = {
    "add_rule": lambda f, s: f.add_rule(ERRNO(1), "open", strict=s),
    "add_rule_exact": lambda f, s: f.add_rule_exact(ERRNO(1), "open", strict=s),
    "add_rules": lambda f, s: f.add_rules([(ERRNO(1), "open")], strict=s),
    "add_rules_generator": lambda f, s: f.add_rules(
        ((ERRNO(1), name) for name in ["open"]), strict=s
    ),
    "allow": lambda f, s: f.allow("open", strict=s),
    "allow_number": lambda f, s: f.allow(0, strict=s),
    "deny": lambda f, s: f.deny("open", strict=s),
    "deny_number": lambda f, s: f.deny(0, strict=s),
    "add_arch": lambda f, s: f.add_arch(Arch.X86, strict=s),
}


@pytest.mark.parametrize("strict", [0, 1, "", "false", [], 0.0])
@pytest.mark.parametrize("method", sorted(STRICT_CALLS))
def test_per_call_strict_rejects_non_bool(method, strict):
    f = Filter(KILL_PROCESS, arches=[NATIVE, OTHER_ARCH], strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(TypeError, match="strict must be True, False or None"):
            STRICT_CALLS[method](f, strict)
    assert f.rule_count == 0
    assert f.arches == (NATIVE, OTHER_ARCH)
    f.close()


def test_per_call_strict_none_uses_filter_setting():
    f = Filter(KILL_PROCESS, arches=[NATIVE, OTHER_ARCH], strict=True)
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("open", strict=None)
    with pytest.warns(seccompx.UnmatchableRuleWarning):
        f.allow("open", strict=False)
    f.export_bpf()
    f.close()


def test_from_profile_strict_rejects_non_bool():
    profile = {"defaultAction": "SCMP_ACT_ALLOW"}
    for value in (0, "false", None):
        with pytest.raises(TypeError, match="strict must be True or False"):
            Filter.from_profile(profile, strict=value)
    with pytest.raises(TypeError, match="enosys_for_unknown must be True or False"):
        Filter.from_profile(profile, enosys_for_unknown=1)


def test_closed_filter_raises():
    f = Filter(default=ALLOW)
    f.close()
    f.close()
    assert f.closed
    with pytest.raises(seccompx.FilterStateError, match="closed"):
        f.add_rule(ERRNO(1), "read")
    with pytest.raises(seccompx.FilterStateError):
        f.export_bpf()
    with pytest.raises(seccompx.FilterStateError):
        f.load()
    assert repr(f) == "<seccompx.Filter closed>"


def test_with_closed_filter_raises_on_entry():
    f = Filter(default=ALLOW)
    f.close()
    entered = False
    with pytest.raises(seccompx.FilterStateError, match="the filter is closed") as info:
        with f:
            entered = True
    assert not entered
    assert info.value.errno == errno.EBADF


def test_with_merged_filter_raises_on_entry():
    target = Filter(default=ALLOW)
    merged = Filter(default=ALLOW, arches=[OTHER_ARCH])
    target.merge(merged)
    with pytest.raises(seccompx.FilterStateError, match="merge\\(\\) moved its rules"):
        with merged:
            pass
    target.close()


def test_with_block_closes_filter_once():
    with Filter(default=ALLOW) as f:
        assert not f.closed
    assert f.closed
    with pytest.raises(seccompx.FilterStateError):
        with f:
            pass


def test_load_twice_rejected():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.load()
        try:
            f.load()
        except seccompx.FilterStateError as error:
            report(out, str(error))
            return 0
        return 1

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert "already loaded" in result.text


def test_load_error_no_new_privs_without_cap_sys_admin():
    def body(out):
        os.setgid(65534)
        os.setuid(65534)
        f = Filter(default=ALLOW, no_new_privs=False)
        f.add_rule(ERRNO(1), "getppid")
        try:
            f.load()
        except seccompx.LoadError as error:
            report(out, f"{error.reason} {error.errno}")
            return 0
        return 1

    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"no_new_privs {errno.EACCES}\n"


def test_load_error_too_large_names_count():
    def body(out):
        f = Filter(default=ALLOW)
        for value in range(2500):
            f.add_rule(ERRNO(1), "getppid", Arg(0) == (value << 32 | value))
        try:
            f.load()
        except seccompx.LoadError as error:
            report(out, f"{error.reason}|{error}")
            return 0
        return 1

    result = run_in_child(body)
    assert result.exitcode == 0, result
    reason, message = result.text.strip().split("|", 1)
    assert reason == "too_large"
    assert "4096" in message
    count = int(message.split("compiles to ")[1].split()[0])
    assert count > 4096


def test_action_unsupported_by_kernel(monkeypatch, tmp_path):
    fake = tmp_path / "actions_avail"
    fake.write_text("kill_process kill_thread trap errno trace allow\n")
    monkeypatch.setattr(seccompx._filter, "_ACTIONS_AVAIL", str(fake))
    seccompx.actions_available.cache_clear()
    try:
        f = Filter(default=ALLOW)
        with pytest.raises(seccompx.UnsupportedError, match="LOG"):
            f.add_rule(LOG, "read")
        f.close()
    finally:
        seccompx.actions_available.cache_clear()


# Lifecycle ------------------------------------------------------------------


def test_context_manager_closes():
    with Filter(default=ALLOW) as f:
        f.add_rule(ERRNO(1), "getppid")
        f.export_bpf()
    assert f.closed


def test_unloaded_filter_warns_on_exit():
    with pytest.warns(seccompx.FilterNotLoadedWarning, match="1 rules"):
        with Filter(default=ALLOW) as f:
            f.add_rule(ERRNO(1), "getppid")
    assert f.closed


def test_dropped_filter_warns():
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(1), "getppid")
    with pytest.warns(seccompx.FilterNotLoadedWarning):
        del f


def test_empty_or_exported_filter_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with Filter(default=ALLOW):
            pass
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.export_pfc()
        del f
        converted = Filter(default=ALLOW)
        converted.add_rule(ERRNO(1), "getppid")
        converted.to_profile()
        del converted


def test_filter_does_not_pickle():
    f = Filter(default=ALLOW)
    with pytest.raises(TypeError, match="compile"):
        pickle.dumps(f)
    f.close()


def test_exceptions_pickle_with_message():
    error = seccompx.UnknownSyscallError("msg", syscall="x", arch="y", suggestions=["z"])
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == "msg"
    assert copy.suggestions == ("z",)
    assert copy.errno == errno.EINVAL
    assert repr(type(copy)) == "<class 'seccompx.UnknownSyscallError'>"


def test_demo_command_succeeds():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "demo"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "killed by signal 31 (SIGSYS)" in result.stdout
    assert "EPERM" in result.stdout
    assert "action KILL_PROCESS" in result.stdout


# Rules libseccomp would not apply as written ------------------------------


def test_socket_arguments_on_x86_warn_and_strict_raises():
    f = Filter(default=ERRNO(1), arches=[NATIVE, Arch.X86])
    with pytest.warns(seccompx.MultiplexedRuleWarning, match="on x86.*socketcall"):
        f.add_rule(ALLOW, "socket", Arg(0) == 1)
    with pytest.raises(seccompx.InvalidArgumentError, match="'socket'"):
        f.add_rule(ALLOW, "socket", Arg(0) == 2, strict=True)
    f.close()


def test_socket_arguments_warn_when_x86_added_later():
    f = Filter(default=ERRNO(1))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.add_rule(ALLOW, "socket", Arg(0) == 1)
    with pytest.warns(seccompx.MultiplexedRuleWarning, match="x86"):
        f.add_arch(Arch.X86)
    f.close()


def test_socket_without_arguments_does_not_warn():
    f = Filter(default=ERRNO(1), arches=[NATIVE, Arch.X86])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.add_rule(ALLOW, "socket")
        f.add_rule(ALLOW, "openat", Arg(0) == 3)
    with pytest.raises(seccompx.UnsupportedError, match="'connect'"):
        f.add_rule_exact(ALLOW, "connect", Arg(0) == 3)
    f.close()


@needs_x86_64
def test_x32_number_without_x32_arch_warns():
    f = Filter(default=ERRNO(1))
    with pytest.warns(seccompx.UnmatchableRuleWarning, match="x32"):
        f.add_rule(ALLOW, 0x40000001)
    with pytest.raises(seccompx.InvalidArgumentError, match="0x40000001"):
        f.add_rule(ALLOW, 0x40000001, strict=True)
    f.close()


def test_unnamed_number_warns():
    f = Filter(default=ERRNO(1))
    with pytest.warns(seccompx.UnmatchableRuleWarning, match="99999"):
        f.allow(99999)
    f.close()


@pytest.mark.parametrize(
    "make",
    [lambda: Arg(0) < 0, lambda: Arg(1) > 2**64 - 1],
    ids=["below zero", "above max"],
)
def test_never_matching_comparison_rejected(make):
    with pytest.raises(seccompx.InvalidArgumentError, match="can never match"):
        make()


def test_comparison_has_no_truth_value():
    with pytest.raises(TypeError, match="not a truth value"):
        bool(Arg(0) == 1)
    with pytest.raises(TypeError):
        Arg(0) in [1, 2]  # noqa: B015


def test_rule_after_load_rejected():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.load()
        failures = []
        for add in (
            lambda: f.add_rule(ERRNO(2), "getuid"),
            lambda: f.allow("getgid"),
            lambda: f.add_rules([(ERRNO(2), "getuid")]),
        ):
            try:
                add()
            except seccompx.FilterStateError as error:
                failures.append("already loaded" in str(error))
        report(out, str(failures))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "[True, True, True]\n"


def test_arches_string_rejected():
    with pytest.raises(seccompx.InvalidArgumentError, match=r"arches=\['x86_64'\]"):
        Filter(default=ALLOW, arches="x86_64")


@pytest.mark.parametrize("name", ["tsync", "log", "ssb", "no_new_privs", "strict"])
def test_flags_must_be_bool(name):
    with pytest.raises(TypeError, match=name):
        Filter(default=ALLOW, **{name: "no"})


def test_flag_setter_must_be_bool():
    f = Filter(default=ALLOW)
    with pytest.raises(TypeError, match="log"):
        f.log = "no"
    assert f.log is False
    f.close()


def test_action_kind_is_not_an_action():
    with pytest.raises(seccompx.InvalidArgumentError, match="ERRNO"):
        Filter(default=seccompx.ActionKind.ERRNO)


def test_attribute_newer_than_build_unsupported():
    if seccompx.libseccomp_build_version() >= (2, 6, 0):
        pytest.skip("built against libseccomp 2.6, which has WAIT_KILL")
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.UnsupportedError, match="WAIT_KILL"):
        f.get_attr(Attr.WAIT_KILL)
    f.close()


needs_wait_kill = pytest.mark.skipif(
    not _wait_kill_available(),
    reason="Attr.WAIT_KILL needs seccompx built against and running with "
    "libseccomp 2.6; this one is built against "
    + ".".join(map(str, seccompx.libseccomp_build_version()))
    + " and runs with "
    + ".".join(map(str, seccompx.libseccomp_version())),
)


@needs_wait_kill
def test_wait_kill_get_set_reset():
    f = Filter(default=ALLOW)
    assert f.get_attr(Attr.WAIT_KILL) == 0
    f.set_attr(Attr.WAIT_KILL, 1)
    assert f.get_attr(Attr.WAIT_KILL) == 1
    f.add_rule(NOTIFY, "getppid")
    f.reset()
    assert f.rule_count == 0
    assert f.get_attr(Attr.WAIT_KILL) == 1
    f.set_attr(Attr.WAIT_KILL, 0)
    assert f.get_attr(Attr.WAIT_KILL) == 0
    f.close()


@needs_wait_kill
def test_wait_kill_merge():
    first = Filter(default=ALLOW, arches=[Arch.X86_64])
    second = Filter(default=ALLOW, arches=[Arch.X86])
    first.set_attr(Attr.WAIT_KILL, 1)
    with pytest.raises(seccompx.InvalidArgumentError, match="wait_kill differs"):
        first.merge(second)
    second.set_attr(Attr.WAIT_KILL, 1)
    first.merge(second)
    assert first.arches == (Arch.X86_64, Arch.X86)
    assert first.get_attr(Attr.WAIT_KILL) == 1
    first.close()


def test_failed_load_does_not_warn_unused():
    def body(out):
        os.setgid(65534)
        os.setuid(65534)
        f = Filter(default=ALLOW, no_new_privs=False)
        f.add_rule(ERRNO(1), "getppid")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                f.load()
            except seccompx.LoadError:
                pass
            del f
        report(out, str(len(caught)))

    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    result = run_in_child(body)
    assert result.text == "0\n", result


@pytest.mark.parametrize(
    "denied, answer, reason, text",
    [
        (("prctl", "seccomp"), errno.EPERM, "stacked", "prctl or seccomp"),
        (("seccomp",), errno.EACCES, "stacked", "already has a seccomp filter"),
        (("seccomp",), errno.EINVAL, "flag", "a seccomp filter loaded earlier"),
    ],
)
def test_stacked_load_blocked_by_first_filter(denied, answer, reason, text):
    def body(out):
        first = Filter(default=ALLOW)
        for name in denied:
            first.add_rule(ERRNO(answer), name)
        first.load()
        second = Filter(default=ALLOW)
        second.add_rule(ERRNO(1), "getppid")
        try:
            second.load()
        except seccompx.LoadError as error:
            report(out, f"{error.reason}|{error}")
            return 0
        return 1

    result = run_in_child(body)
    assert result.exitcode == 0, result
    found, message = result.text.strip().split("|", 1)
    assert found == reason
    assert text in message


def test_conflict_found_among_many_rules():
    # The conflict check skips rules for other syscalls; a clash with a
    # rule added long before, or earlier in the same batch, still raises.
    others = ["read", "getuid", "getgid", "geteuid", "getegid", "getpid"]
    f = Filter(default=ERRNO(1))
    f.add_rule(ERRNO(2), "getppid", Arg(0) == 1)
    f.allow(*others)
    with pytest.raises(seccompx.InvalidArgumentError, match="getppid"):
        f.allow("getppid")
    g = Filter(default=ERRNO(1))
    batch = [(ERRNO(2), "getppid", [Arg(0) == 1])]
    batch += [(ALLOW, name) for name in others]
    batch.append((ALLOW, "getppid"))
    with pytest.raises(seccompx.InvalidArgumentError, match="getppid"):
        g.add_rules(batch)
    assert g.rule_count == 0
    f.close()
    g.close()


def test_changes_after_load_rejected():
    def body(out):
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(1), "getppid")
        f.load()
        failures = []
        for change in (
            lambda: f.add_arch(Arch.AARCH64),
            lambda: setattr(f, "log", True),
            lambda: f.set_attr(Attr.SSB, 1),
        ):
            try:
                change()
            except seccompx.FilterStateError as error:
                failures.append("already loaded" in str(error))
        report(out, str(failures))

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "[True, True, True]\n"


@pytest.mark.parametrize("level", [True, False, 1.0, "2", None])
def test_optimize_rejects_non_int(level):
    f = Filter(default=ALLOW)
    expected = f"optimize level must be an int, 1 or 2, not {type(level).__name__}"
    with pytest.raises(TypeError, match=expected):
        f.optimize = level
    with pytest.raises(TypeError, match="optimize level must be an int"):
        f.set_attr(Attr.OPTIMIZE, level)
    f.close()
    if level is not None:
        with pytest.raises(TypeError, match=repr(level)):
            Filter(default=ALLOW, optimize=level)


@pytest.mark.parametrize(
    "make",
    [
        lambda data: ERRNO(data),
        lambda data: TRACE(data),
        lambda data: seccompx.Action(seccompx.ActionKind.ERRNO, data),
        lambda data: seccompx.Action(seccompx.ActionKind.TRAP, data),
        lambda data: seccompx.Action.from_raw(data),
        lambda data: Arg(0, width=data),
    ],
    ids=["ERRNO", "TRACE", "Action-ERRNO", "Action-TRAP", "from_raw", "Arg-width"],
)
@pytest.mark.parametrize("data", [True, 1.5, "1", None, 32.0], ids=repr)
def test_int_parameter_rejects_other_types(make, data):
    with pytest.raises(TypeError, match=type(data).__name__):
        make(data)


def test_action_kind_rejects_bool():
    with pytest.raises(TypeError, match="ActionKind"):
        seccompx.Action(True)


def test_submodules_reachable_as_attributes():
    assert seccompx.groups.__name__ == "seccompx.groups"
    assert seccompx.profile.__name__ == "seccompx.profile"
    with pytest.raises(AttributeError, match="nothing"):
        seccompx.nothing  # noqa: B018


def test_rule_pair_that_hangs_libseccomp_rejected():
    # libseccomp 2.5.4 loops forever in seccomp_rule_add() on this pair.
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(200), "getppid", Arg(2) != 2, Arg(3) > 2)
    with pytest.raises(seccompx.InvalidArgumentError, match="can hang"):
        f.add_rule(ERRNO(200), "getppid", Arg(2) != 2, Arg(3) == 1)
    f.close()


def test_rule_pair_libseccomp_miscompiles_rejected():
    # libseccomp 2.5.4 compiles this pair to a filter that misses a2 == 0.
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(200), "getppid", Arg(2) == 0)
    with pytest.raises(seccompx.InvalidArgumentError, match="misses calls"):
        f.add_rule(ERRNO(200), "getppid", Arg(3) > 4, Arg(2) != 2)
    f.add_rule(ERRNO(200), "getppid", Arg(3) > 4, Arg(1) != 2)
    assert f.rule_count == 2
    f.close()


@pytest.mark.parametrize("wide_first", [True, False])
def test_truncation_clash_names_rules_and_arch(wide_first):
    wide = (KILL_PROCESS, "getpriority", [Arg(0) == 2**32 + 5])
    narrow = (ALLOW, "getpriority", [Arg(0) == 5])
    first, second = (wide, narrow) if wide_first else (narrow, wide)
    f = Filter(ERRNO(99), arches=["x86_64", "x86"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.TruncatedValueWarning)
        f.add_rule(first[0], first[1], *first[2])
        with pytest.raises(seccompx.InvalidArgumentError) as info:
            f.add_rule(second[0], second[1], *second[2])
    message = str(info.value)
    assert info.value.errno == errno.EEXIST
    assert "Arg(0) == 0x100000005" in message
    assert "Arg(0) == 0x5" in message
    assert "an earlier rule for the same syscall" in message
    assert "only the low 32 bits of each value on x86" in message
    assert "leave x86 out of the filter's arches" in message
    assert f.rule_count == 1
    f.close()


def test_truncation_clash_in_batch_names_index():
    f = Filter(ERRNO(99), arches=["x86_64", "x86"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.TruncatedValueWarning)
        # Without libseccomp transactions (before 2.6) the first two rules
        # stay, and FilterStateError wraps the same message.
        errors = (seccompx.InvalidArgumentError, seccompx.FilterStateError)
        with pytest.raises(errors) as info:
            f.add_rules([
                (ALLOW, "getppid"),
                (KILL_PROCESS, "getpriority", [Arg(0) == 2**32 + 5]),
                (ALLOW, "getpriority", [Arg(0) == 5]),
            ])
    message = str(info.value)
    assert "and rules[1] for the same syscall" in message
    assert "on x86" in message
    f.close()
