"""seccompx.compat: programs written for libseccomp's official ``seccomp``
module (and pyseccomp) run through the compat layer, against the kernel.

Every test that loads a filter runs in a child and asserts what the
kernel did.  Comparisons with the official module itself are in
test_compat_official.py.
"""

from __future__ import annotations

import ctypes
import errno
import io
import os
import pickle
import signal
import tempfile
import textwrap
import threading
from typing import Any, Callable, List

import pytest
from childproc import report, run_in_child

import seccompx
import seccompx.compat as seccomp
from seccompx import compat

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6

NATIVE = seccompx.Arch.native()
needs_x86_64 = pytest.mark.skipif(
    NATIVE is not seccompx.Arch.X86_64, reason="uses x86_64 syscall numbers"
)
SYS_GETPPID = seccompx.resolve_syscall("getppid")
SYS_GETPID = seccompx.resolve_syscall("getpid")


def raw_syscall(number: int, *args: int) -> int:
    """Call a syscall with full 64-bit arguments; return -errno on failure."""
    values = list(args) + [0] * (6 - len(args))
    ctypes.set_errno(0)
    result = libc.syscall(number, *values)
    if result == -1:
        return -ctypes.get_errno()
    return result


def pfc(f: Any) -> str:
    with tempfile.TemporaryFile("w+") as file:
        f.export_pfc(file)
        file.seek(0)
        return file.read()


def status_field(name: str) -> str:
    with open("/proc/self/status") as file:
        for line in file:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    raise AssertionError(f"{name} missing from /proc/self/status")


# The namespace ----------------------------------------------------------

STAR_NAMES = {
    "ALLOW", "Arch", "Arg", "Attr", "EQ", "ERRNO", "GE", "GT", "KILL",
    "KILL_PROCESS", "KILL_THREAD", "LE", "LOG", "LT", "MASKED_EQ", "NE",
    "NOTIFY", "Notification", "NotificationResponse", "SyscallFilter",
    "TRACE", "TRAP", "c_str", "errno", "get_api", "resolve_syscall",
    "set_api", "system_arch",
}  # fmt: skip


def test_star_import_binds_official_names():
    namespace: dict = {}
    exec("from seccompx.compat import *", namespace)
    names = {name for name in namespace if name != "__builtins__"}
    assert names == STAR_NAMES
    assert namespace["errno"] is errno


def test_all_names_exist():
    for name in compat.__all__:
        assert hasattr(compat, name), name


def test_action_values_match_official_ints():
    assert seccomp.ALLOW == 0x7FFF0000
    assert seccomp.KILL == 0
    assert seccomp.KILL_THREAD == 0
    assert seccomp.KILL_PROCESS == -0x80000000
    assert seccomp.TRAP == 0x00030000
    assert seccomp.LOG == 0x7FFC0000
    assert seccomp.NOTIFY == 0x7FC00000
    for name in ("ALLOW", "KILL", "KILL_PROCESS", "TRAP", "LOG", "NOTIFY"):
        assert type(getattr(seccomp, name)) is int, name


def test_errno_and_trace_keep_low_16_bits():
    assert seccomp.ERRNO(1) == 0x00050001
    assert seccomp.ERRNO(-1) == 0x0005FFFF
    assert seccomp.ERRNO(70000) == 0x00050000 | (70000 & 0xFFFF)
    assert seccomp.TRACE(5) == 0x7FF00005
    assert seccomp.TRACE(-1) == 0x7FF0FFFF


def test_errno_rejects_bad_types_and_sizes():
    with pytest.raises(TypeError):
        seccomp.ERRNO("1")
    with pytest.raises(TypeError):
        seccomp.ERRNO(1.5)
    with pytest.raises(OverflowError):
        seccomp.ERRNO(2**40)
    with pytest.raises(OverflowError):
        seccomp.TRACE(-(2**40))


def test_operator_values():
    ops = [seccomp.NE, seccomp.LT, seccomp.LE, seccomp.EQ, seccomp.GE, seccomp.GT]
    assert ops == [1, 2, 3, 4, 5, 6]
    assert seccomp.MASKED_EQ == 7


def test_arch_constants_are_signed_tokens():
    assert seccomp.Arch.NATIVE == 0
    assert seccomp.Arch.X86 == 0x40000003
    assert seccomp.Arch.X86_64 == 0xC000003E - 2**32
    assert seccomp.Arch.AARCH64 == 0xC00000B7 - 2**32
    assert seccomp.Arch.MIPS == 8
    assert seccomp.Arch.RISCV64 == 0xC00000F3 - 2**32
    names = [name for name in vars(seccomp.Arch) if name.isupper()]
    assert len(names) == 20


def test_arch_objects():
    assert int(seccomp.Arch()) == int(NATIVE) - (2**32 if NATIVE > 2**31 else 0)
    assert int(seccomp.Arch("x86")) == seccomp.Arch.X86
    assert int(seccomp.Arch(seccomp.Arch.X32)) == seccomp.Arch.X32
    # The unsigned spelling and seccompx's own enum work too.
    assert int(seccomp.Arch(0xC00000B7)) == seccomp.Arch.AARCH64
    assert int(seccomp.Arch(seccompx.Arch.PPC64LE)) == seccomp.Arch.PPC64LE
    assert seccomp.Arch("x86") == seccomp.Arch(seccomp.Arch.X86)
    assert "x86" in repr(seccomp.Arch("x86"))


def test_arch_rejects_unknown():
    with pytest.raises(ValueError):
        seccomp.Arch("vax")
    with pytest.raises(ValueError):
        seccomp.Arch(123)
    with pytest.raises(TypeError):
        seccomp.Arch(1.5)
    with pytest.raises(TypeError):
        seccomp.Arch(b"x86")


def test_attr_values():
    assert seccomp.Attr.ACT_DEFAULT == 1
    assert seccomp.Attr.ACT_BADARCH == 2
    assert seccomp.Attr.CTL_NNP == 3
    assert seccomp.Attr.CTL_TSYNC == 4
    assert seccomp.Attr.API_TSKIP == 5
    assert seccomp.Attr.CTL_LOG == 6
    assert seccomp.Attr.CTL_SSB == 7
    assert seccomp.Attr.CTL_OPTIMIZE == 8
    assert seccomp.Attr.API_SYSRAWRC == 9


def test_c_str_encodes_ascii():
    assert seccomp.c_str("read") == b"read"
    with pytest.raises(UnicodeEncodeError):
        seccomp.c_str("r\u00e9ad")


# Resolution -------------------------------------------------------------


def test_resolve_name_returns_int():
    assert seccomp.resolve_syscall(seccomp.Arch(), "getppid") == SYS_GETPPID
    assert seccomp.resolve_syscall(seccomp.Arch.NATIVE, "getppid") == SYS_GETPPID
    assert seccomp.resolve_syscall(seccomp.Arch.X86, "read") == 3
    assert seccomp.resolve_syscall(seccomp.Arch("aarch64"), "openat") == 56


def test_resolve_name_unknown_is_negative():
    assert seccomp.resolve_syscall(seccomp.Arch.NATIVE, "no_such_call") == -1
    assert seccomp.resolve_syscall(12345, "read") == -1


def test_resolve_name_rewrites_multiplexed_calls():
    # 32-bit x86 reaches socket(2) and semop(2) through socketcall (102)
    # and ipc (117); the official module returns the multiplexer.
    assert seccomp.resolve_syscall(seccomp.Arch.X86, "socket") == 102
    assert seccomp.resolve_syscall(seccomp.Arch.X86, "connect") == 102
    assert seccomp.resolve_syscall(seccomp.Arch.X86, "semop") == 117
    assert seccomp.resolve_syscall(seccomp.Arch.S390X, "socket") == 102


@needs_x86_64
def test_resolve_name_missing_gives_pseudo_number():
    assert seccomp.resolve_syscall(seccomp.Arch.NATIVE, "socketcall") < -1


def test_resolve_number_returns_bytes():
    assert seccomp.resolve_syscall(seccomp.Arch.NATIVE, SYS_GETPPID) == b"getppid"
    assert seccomp.resolve_syscall(seccomp.Arch.X86, 102) == b"socketcall"
    assert seccomp.resolve_syscall(seccomp.Arch(), SYS_GETPID) == b"getpid"


def test_resolve_number_unknown_raises_value_error():
    with pytest.raises(ValueError) as info:
        seccomp.resolve_syscall(seccomp.Arch.NATIVE, 99999)
    assert isinstance(info.value, seccompx.UnknownSyscallError)
    assert "99999" in str(info.value)
    with pytest.raises(ValueError):
        seccomp.resolve_syscall(12345, 1)


def test_resolve_rejects_other_types():
    with pytest.raises(TypeError):
        seccomp.resolve_syscall(0, b"read")
    with pytest.raises(TypeError):
        seccomp.resolve_syscall(0, 1.0)


def test_system_arch_is_unsigned_native_token():
    assert seccomp.system_arch() == int(NATIVE)


def test_api_level_get_and_set():
    level = seccomp.get_api()
    assert level >= 1
    try:
        seccomp.set_api(1)
        assert seccomp.get_api() == 1
    finally:
        seccomp.set_api(level)
    assert seccomp.get_api() == level


def test_set_api_rejects_invalid_levels():
    with pytest.raises(ValueError):
        seccomp.set_api(0)
    with pytest.raises(ValueError):
        seccomp.set_api(999)
    with pytest.raises(OverflowError):
        seccomp.set_api(-1)
    with pytest.raises(TypeError):
        seccomp.set_api("3")


# Filters without loading ------------------------------------------------


def test_filter_attributes_start_at_libseccomp_defaults():
    f = seccomp.SyscallFilter(seccomp.ERRNO(3))
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x00050003
    assert f.get_attr(seccomp.Attr.ACT_BADARCH) == seccomp.KILL
    assert f.get_attr(seccomp.Attr.CTL_NNP) == 1
    assert f.get_attr(seccomp.Attr.CTL_TSYNC) == 0
    assert f.get_attr(seccomp.Attr.API_TSKIP) == 0
    assert f.get_attr(seccomp.Attr.CTL_LOG) == 0
    assert f.get_attr(seccomp.Attr.CTL_SSB) == 0
    assert f.get_attr(seccomp.Attr.CTL_OPTIMIZE) == 1
    assert f.get_attr(seccomp.Attr.API_SYSRAWRC) == 0


def test_kill_process_default_reads_back_unsigned():
    f = seccomp.SyscallFilter(seccomp.KILL_PROCESS)
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x80000000
    f = seccomp.SyscallFilter(0x80000000)
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x80000000


def test_set_attr_round_trips():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.KILL_PROCESS)
    f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 2)
    f.set_attr(seccomp.Attr.CTL_LOG, 1)
    assert f.get_attr(seccomp.Attr.CTL_NNP) == 0
    assert f.get_attr(seccomp.Attr.ACT_BADARCH) == 0x80000000
    assert f.get_attr(seccomp.Attr.CTL_OPTIMIZE) == 2
    assert f.get_attr(seccomp.Attr.CTL_LOG) == 1


def test_attr_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(RuntimeError):
        f.set_attr(seccomp.Attr.ACT_DEFAULT, seccomp.KILL)
    with pytest.raises(ValueError):
        f.get_attr(99)
    with pytest.raises(ValueError):
        f.set_attr(99, 1)
    with pytest.raises(ValueError):
        f.set_attr(seccomp.Attr.ACT_BADARCH, 0x12345678)
    with pytest.raises(RuntimeError):
        f.set_attr(seccomp.Attr.CTL_OPTIMIZE, 3)
    with pytest.raises(TypeError):
        f.set_attr(seccomp.Attr.CTL_NNP, "1")
    with pytest.raises(OverflowError):
        f.set_attr(seccomp.Attr.CTL_NNP, 2**33)


def test_constructor_errors():
    with pytest.raises(RuntimeError):
        seccomp.SyscallFilter(seccomp.ALLOW + 1)
    with pytest.raises(RuntimeError):
        seccomp.SyscallFilter(seccomp.ERRNO(5000))
    with pytest.raises(TypeError):
        seccomp.SyscallFilter("ALLOW")
    with pytest.raises(TypeError):
        seccomp.SyscallFilter()  # type: ignore[call-arg]
    assert seccomp.SyscallFilter(defaction=seccomp.ALLOW) is not None


def test_rule_errors_are_runtime_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    cases: List[Callable[[], None]] = [
        lambda: f.add_rule(seccomp.ALLOW, "read"),  # the default action
        lambda: f.add_rule(seccomp.KILL - 1, "read"),
        lambda: f.add_rule(seccomp.KILL, "no_such_call"),
        lambda: f.add_rule(seccomp.ERRNO(0xFFFF), "read"),
        lambda: f.add_rule(seccomp.KILL, "read", seccomp.Arg(6, seccomp.EQ, 1)),
        lambda: f.add_rule(seccomp.KILL, "read", seccomp.Arg(0, 0, 1)),
        lambda: f.add_rule(
            seccomp.KILL,
            "read",
            seccomp.Arg(0, seccomp.EQ, 1),
            seccomp.Arg(0, seccomp.EQ, 2),
        ),
        lambda: f.add_rule(
            seccomp.KILL, "read", *[seccomp.Arg(i, seccomp.EQ, i) for i in range(7)]
        ),
        lambda: f.add_rule(seccomp.KILL, -1001),
    ]
    for case in cases:
        with pytest.raises(RuntimeError) as info:
            case()
        assert isinstance(info.value, seccompx.SeccompError)
        assert info.value.errno


def test_rule_type_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(TypeError):
        f.add_rule(seccomp.KILL, b"read")
    with pytest.raises(TypeError):
        f.add_rule(seccomp.KILL, 1.0)
    with pytest.raises(TypeError):
        f.add_rule("KILL", "read")
    with pytest.raises(TypeError):
        f.add_rule(seccomp.KILL, "read", (0, seccomp.EQ, 1))


def test_unknown_syscall_error_keeps_seccompx_fields():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(compat.CompatUnknownSyscallError) as info:
        f.add_rule(seccomp.KILL, "getppidd")
    error = info.value
    assert isinstance(error, seccompx.UnknownSyscallError)
    assert isinstance(error, RuntimeError)
    assert isinstance(error, OSError)
    assert error.errno == errno.EINVAL
    assert error.syscall == "getppidd"
    assert "getppid" in error.suggestions


def test_arg_checks_types_and_ranges():
    with pytest.raises(OverflowError):
        seccomp.Arg(0, seccomp.EQ, -1)
    with pytest.raises(OverflowError):
        seccomp.Arg(0, seccomp.EQ, 2**64)
    with pytest.raises(OverflowError):
        seccomp.Arg(2**33, seccomp.EQ, 1)
    with pytest.raises(TypeError):
        seccomp.Arg("0", seccomp.EQ, 1)
    arg = seccomp.Arg(arg=1, op=seccomp.MASKED_EQ, datum_a=0xF0, datum_b=0x10)
    assert (arg.arg, arg.op, arg.datum_a, arg.datum_b) == (1, 7, 0xF0, 0x10)
    # pyseccomp's keyword names.
    arg = seccomp.Arg(2, seccomp.EQ, data_a=5)
    assert (arg.arg, arg.datum_a, arg.datum_b) == (2, 5, 0)
    assert "EQ" in repr(arg)


def test_masked_eq_value_is_masked_as_libseccomp_does():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    a.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(2, seccomp.MASKED_EQ, 1, 2))
    b = seccomp.SyscallFilter(seccomp.ALLOW)
    b.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(2, seccomp.MASKED_EQ, 1, 0))
    assert a.export_bpf_mem() == b.export_bpf_mem()


def test_datum_b_ignored_outside_masked_eq():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    a.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.GT, 1, 7))
    b = seccomp.SyscallFilter(seccomp.ALLOW)
    b.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.GT, 1))
    assert a.export_bpf_mem() == b.export_bpf_mem()


def test_seccompx_comparisons_accepted_as_args():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    a.add_rule(seccomp.ERRNO(1), "getppid", seccompx.Arg(0) == 5)
    b = seccomp.SyscallFilter(seccomp.ALLOW)
    b.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.EQ, 5))
    assert a.export_bpf_mem() == b.export_bpf_mem()


def test_syscall_priority_orders_checks():
    def order(first: str, second: str) -> List[str]:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(1), "getppid")
        f.add_rule(seccomp.ERRNO(1), "getpid")
        f.syscall_priority(first, 255)
        f.syscall_priority(seccomp.resolve_syscall(seccomp.Arch(), second), 3)
        text = pfc(f)
        return sorted(["getpid", "getppid"], key=lambda name: text.index(f'"{name}"'))

    assert order("getpid", "getppid") == ["getpid", "getppid"]
    assert order("getppid", "getpid") == ["getppid", "getpid"]


def test_syscall_priority_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(ValueError):
        f.syscall_priority("read", 256)
    with pytest.raises(ValueError):
        f.syscall_priority("read", -1)
    with pytest.raises(RuntimeError):
        f.syscall_priority("no_such_call", 1)
    with pytest.raises(RuntimeError):
        f.syscall_priority(-10000, 1)
    with pytest.raises(TypeError):
        f.syscall_priority(b"read", 1)


def test_arches_add_exist_remove():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    assert f.exist_arch(seccomp.Arch.NATIVE)
    assert f.exist_arch(seccomp.Arch())
    assert f.exist_arch(int(NATIVE))
    assert not f.exist_arch(seccomp.Arch.X86)
    f.add_arch(seccomp.Arch.X86)
    f.add_arch(seccomp.Arch("x32"))
    assert f.exist_arch(seccomp.Arch.X86)
    assert f.exist_arch(seccomp.Arch.X32)
    f.remove_arch(seccomp.Arch.X86)
    assert not f.exist_arch(seccomp.Arch.X86)


def test_arch_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(RuntimeError):
        f.add_arch(seccomp.Arch.NATIVE)
    with pytest.raises(RuntimeError):
        f.remove_arch(seccomp.Arch.X86)
    with pytest.raises(ValueError):
        f.add_arch(12345)
    with pytest.raises(ValueError):
        f.exist_arch(12345)
    with pytest.raises(TypeError):
        f.exist_arch("x86")


def test_remove_last_arch_then_add_another():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.remove_arch(seccomp.Arch())
    assert not f.exist_arch(seccomp.Arch())
    with pytest.raises(RuntimeError):
        f.add_rule(seccomp.ERRNO(1), "getppid")
    with pytest.raises(RuntimeError):
        f.remove_arch(seccomp.Arch())
    with pytest.raises(RuntimeError):
        f.export_bpf_mem()
    f.add_arch(seccomp.Arch.X86)
    f.add_rule(seccomp.ERRNO(2), "getpid")
    text = pfc(f)
    assert "x86 (1073741827)" in text
    assert "x86_64" not in text
    assert "ERRNO(1)" not in text


def test_readding_last_arch_drops_rules():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.remove_arch(seccomp.Arch())
    f.add_arch(seccomp.Arch())
    assert f.exist_arch(seccomp.Arch())
    fresh = seccomp.SyscallFilter(seccomp.ALLOW)
    assert f.export_bpf_mem() == fresh.export_bpf_mem()


def test_existing_rules_do_not_cover_new_arch():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.add_arch(seccomp.Arch.X86)
    text = pfc(f)
    x86_part = text.split("filter for arch x86 (")[1]
    assert "getpid" not in x86_part


def test_other_byte_order_alone_is_unsupported():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.remove_arch(seccomp.Arch())
    other = seccomp.Arch.S390X if NATIVE is not seccompx.Arch.S390X else seccomp.Arch.X86_64
    with pytest.raises(RuntimeError) as info:
        f.add_arch(other)
    assert isinstance(info.value, seccompx.UnsupportedError)
    assert not f.exist_arch(other)
    f.add_arch(seccomp.Arch())
    assert f.exist_arch(seccomp.Arch())


def test_reset_keeps_current_default():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    f.add_arch(seccomp.Arch.X86)
    f.reset()
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == seccomp.ALLOW
    assert f.get_attr(seccomp.Attr.CTL_NNP) == 1
    assert not f.exist_arch(seccomp.Arch.X86)
    assert f.export_bpf_mem() == seccomp.SyscallFilter(seccomp.ALLOW).export_bpf_mem()
    f.reset(seccomp.ERRNO(2))
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x00050002
    f.reset(-1)
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x00050002
    f.reset(defaction=seccomp.KILL_PROCESS)
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == 0x80000000


def test_reset_rejects_invalid_action():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(ValueError):
        f.reset(seccomp.KILL + 1)
    assert f.get_attr(seccomp.Attr.ACT_DEFAULT) == seccomp.ALLOW


def test_reset_restores_removed_arch():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.remove_arch(seccomp.Arch())
    f.reset()
    assert f.exist_arch(seccomp.Arch())
    f.add_rule(seccomp.ERRNO(1), "getpid")


def x86_filter(action: int = seccomp.ALLOW) -> Any:
    f = seccomp.SyscallFilter(action)
    f.remove_arch(seccomp.Arch())
    f.add_arch(seccomp.Arch.X86)
    return f


def test_merge_moves_rules_and_resets_other():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    a.add_rule(seccomp.ERRNO(1), "getpid")
    b = x86_filter()
    b.add_rule(seccomp.ERRNO(2), "getpid")
    a.merge(b)
    text = pfc(a)
    assert "ERRNO(1)" in text
    assert "ERRNO(2)" in text
    assert a.exist_arch(seccomp.Arch.X86)
    # The merged-away filter is reset and usable.
    assert b.exist_arch(seccomp.Arch())
    assert not b.exist_arch(seccomp.Arch.X86)
    assert b.get_attr(seccomp.Attr.ACT_DEFAULT) == seccomp.ALLOW
    b.add_rule(seccomp.ERRNO(3), "getpid")
    assert "ERRNO(3)" in pfc(b)


def test_merge_errors():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(RuntimeError):
        a.merge(seccomp.SyscallFilter(seccomp.ALLOW))  # same architecture
    with pytest.raises(RuntimeError):
        a.merge(x86_filter(seccomp.KILL))  # another default action
    with pytest.raises(RuntimeError):
        a.merge(a)
    empty = seccomp.SyscallFilter(seccomp.ALLOW)
    empty.remove_arch(seccomp.Arch())
    with pytest.raises(RuntimeError):
        a.merge(empty)
    with pytest.raises(RuntimeError):
        empty.merge(x86_filter())
    with pytest.raises(TypeError):
        a.merge(5)  # type: ignore[arg-type]
    # A failed merge leaves both filters as they were.
    assert a.exist_arch(seccomp.Arch())
    assert not a.exist_arch(seccomp.Arch.X86)


def rules_of(f: Any) -> List[str]:
    """The action lines of a filter's PFC, in order."""
    return [line.strip() for line in pfc(f).splitlines() if "action" in line]


def test_duplicate_rule_with_other_action_is_ignored():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getppid")
    f.add_rule(seccomp.ERRNO(2), "getppid")
    f.add_rule(seccomp.ERRNO(3), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
    assert rules_of(f)[:1] == ["action ERRNO(1);"]
    assert "ERRNO(2)" not in pfc(f)
    assert "ERRNO(3)" not in pfc(f)


def test_rule_without_args_replaces_narrower_rules():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
    f.add_rule(seccomp.ERRNO(3), "getppid", seccomp.Arg(0, seccomp.EQ, 2))
    f.add_rule(seccomp.ERRNO(2), "getppid")
    expected = seccomp.SyscallFilter(seccomp.ALLOW)
    expected.add_rule(seccomp.ERRNO(2), "getppid")
    assert f.export_bpf_mem() == expected.export_bpf_mem()


def test_broader_rule_with_same_action_covers_narrower():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    two = (seccomp.Arg(0, seccomp.EQ, 1), seccomp.Arg(1, seccomp.EQ, 2))
    f.add_rule(seccomp.ERRNO(1), "getppid", *two)
    f.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
    # The narrower rule is gone, so this one no longer clashes with it.
    f.add_rule(seccomp.ERRNO(2), "getppid", seccomp.Arg(0, seccomp.EQ, 2))
    text = pfc(f)
    assert "$a1" not in text
    assert "ERRNO(2)" in text


def test_clashing_rules_that_libseccomp_rejects():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
    with pytest.raises(RuntimeError) as info:
        f.add_rule(seccomp.ERRNO(2), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
    assert info.value.errno == errno.EEXIST
    g = seccomp.SyscallFilter(seccomp.ALLOW)
    g.add_rule(
        seccomp.ERRNO(1),
        "getppid",
        seccomp.Arg(0, seccomp.EQ, 1),
        seccomp.Arg(1, seccomp.EQ, 2),
    )
    with pytest.raises(RuntimeError):
        g.add_rule(seccomp.ERRNO(2), "getppid", seccomp.Arg(0, seccomp.EQ, 1))


def test_clashing_pair_libseccomp_keeps_is_refused():
    # libseccomp keeps both; seccompx refuses the pair (documented).
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(
        seccomp.ERRNO(1),
        "getppid",
        seccomp.Arg(0, seccomp.EQ, 1),
        seccomp.Arg(1, seccomp.EQ, 2),
    )
    with pytest.raises(RuntimeError) as info:
        f.add_rule(seccomp.ERRNO(2), "getppid", seccomp.Arg(1, seccomp.EQ, 2))
    assert "seccompx refuses" in str(info.value)
    assert "ERRNO(2)" not in pfc(f)


def test_ignored_rule_is_still_checked():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getppid")
    with pytest.raises(RuntimeError):
        f.add_rule(seccomp.ALLOW, "getppid")
    with pytest.raises(RuntimeError):
        f.add_rule(seccomp.ERRNO(2), "getppid", seccomp.Arg(7, seccomp.EQ, 1))
    with pytest.raises(RuntimeError):
        f.add_rule(seccomp.ALLOW + 1, "getppid")


def test_exact_rule_needs_single_arch():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_arch(seccomp.Arch.X86)
    with pytest.raises(RuntimeError):
        f.add_rule_exactly(seccomp.ERRNO(1), "getpid")
    f.add_rule(seccomp.ERRNO(1), "getpid")


def test_clash_after_arch_change_is_per_arch():
    # The x86 part starts empty, so the second rule goes in there only.
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.add_arch(seccomp.Arch.X86)
    f.add_rule(seccomp.ERRNO(2), "getpid")
    native, x86 = pfc(f).split("filter for arch x86 (")
    assert "ERRNO(1)" in native
    assert "ERRNO(2)" not in native
    assert "ERRNO(2)" in x86


def test_attributes_need_an_arch():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.remove_arch(seccomp.Arch())
    with pytest.raises(ValueError):
        f.get_attr(seccomp.Attr.CTL_NNP)
    with pytest.raises(ValueError):
        f.set_attr(seccomp.Attr.CTL_LOG, 1)
    f.add_arch(seccomp.Arch.X86)
    assert f.get_attr(seccomp.Attr.CTL_NNP) == 1


def test_merge_keeps_own_uncompared_attributes():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    b = x86_filter()
    b.set_attr(seccomp.Attr.CTL_LOG, 1)
    b.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.TRAP)
    a.merge(b)
    assert a.get_attr(seccomp.Attr.CTL_LOG) == 0
    assert a.get_attr(seccomp.Attr.ACT_BADARCH) == seccomp.KILL
    with pytest.raises(RuntimeError):
        seccomp.SyscallFilter(seccomp.ALLOW).merge(
            (lambda f: (f.set_attr(seccomp.Attr.CTL_NNP, 0), f)[1])(x86_filter())
        )


def test_repeated_load_keeps_rules():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
        f.syscall_priority("getppid", 9)
        f.load()
        before = f.export_bpf_mem()
        f.load()
        f.add_rule(seccomp.ERRNO(errno.ENOTTY), "getpid")
        f.load()
        report(
            out,
            f"{before == seccomp_program(f)} {raw_syscall(SYS_GETPPID, 1)} "
            f"{raw_syscall(SYS_GETPID)} {status_field('Seccomp_filters')}",
        )
        return 0

    def seccomp_program(f: Any) -> bytes:
        g = seccomp.SyscallFilter(seccomp.ALLOW)
        g.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
        g.syscall_priority("getppid", 9)
        return bytes(g.export_bpf_mem())

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"True {-errno.EXDEV} {-errno.ENOTTY} 3\n"


def test_rule_replacement_is_enforced():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
        f.add_rule(seccomp.ERRNO(errno.ENOTTY), "getppid")
        f.load()
        report(out, f"{raw_syscall(SYS_GETPPID, 1)} {raw_syscall(SYS_GETPPID, 2)}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{-errno.ENOTTY} {-errno.ENOTTY}\n"


def test_add_rule_exactly_rejects_multiplexed_rewrite():
    f = x86_filter()
    with pytest.raises(RuntimeError):
        f.add_rule_exactly(seccomp.KILL, "socket", seccomp.Arg(0, seccomp.EQ, 2))
    f.add_rule(seccomp.KILL, "socket", seccomp.Arg(0, seccomp.EQ, 2))
    assert "socketcall" in pfc(f) or "102" in pfc(f)


def test_export_targets():
    f = seccomp.SyscallFilter(seccomp.KILL)
    f.add_rule(seccomp.ALLOW, "read")
    program = f.export_bpf_mem()
    assert isinstance(program, bytes)
    assert len(program) % 8 == 0
    with tempfile.TemporaryFile() as file:
        f.export_bpf(file)
        file.seek(0)
        assert file.read() == program
    with tempfile.TemporaryFile() as file:
        f.export_bpf(file.fileno())
        file.seek(0)
        assert file.read() == program
    binary = io.BytesIO()
    f.export_bpf(binary)
    assert binary.getvalue() == program
    text = io.StringIO()
    f.export_pfc(text)
    assert text.getvalue() == pfc(f)
    assert '"read"' in text.getvalue()
    raw = io.BytesIO()
    f.export_pfc(raw)
    assert raw.getvalue() == text.getvalue().encode()


def test_export_keeps_python_buffer_order():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with tempfile.TemporaryFile("w+") as file:
        file.write("# before\n")
        f.export_pfc(file)
        file.seek(0)
        assert file.read().startswith("# before\n#")


def test_export_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(TypeError):
        f.export_bpf(object())
    read_fd, write_fd = os.pipe()
    os.close(write_fd)
    try:
        with pytest.raises(RuntimeError):
            f.export_bpf(read_fd)
    finally:
        os.close(read_fd)
    with pytest.raises(RuntimeError):
        f.export_pfc(9999)


def test_precompute_raises_unsupported():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(RuntimeError) as info:
        f.precompute()
    assert isinstance(info.value, seccompx.UnsupportedError)
    assert "2.6" in str(info.value)


def test_transaction_reject_undoes_rules_and_arches():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.add_rule(seccomp.ERRNO(1), "getpid")
    f.syscall_priority("getpid", 9)
    before = f.export_bpf_mem()
    f.start_transaction()
    f.add_rule(seccomp.ERRNO(2), "getppid")
    f.add_arch(seccomp.Arch.X86)
    f.remove_arch(seccomp.Arch())
    f.reject_transaction()
    assert f.exist_arch(seccomp.Arch())
    assert not f.exist_arch(seccomp.Arch.X86)
    assert f.export_bpf_mem() == before


def test_transaction_reject_keeps_attributes():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    f.start_transaction()
    f.set_attr(seccomp.Attr.CTL_NNP, 0)
    f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.TRAP)
    f.add_rule(seccomp.ERRNO(2), "getppid")
    f.reject_transaction()
    assert f.get_attr(seccomp.Attr.CTL_NNP) == 0
    assert f.get_attr(seccomp.Attr.ACT_BADARCH) == seccomp.TRAP
    assert "getppid" not in pfc(f)


def test_transactions_nest_like_libseccomp_2_6():
    # The nesting pattern of libseccomp's own transaction test.
    def build(m_filter: Any) -> None:
        f = m_filter
        f.start_transaction()
        f.add_rule_exactly(seccomp.KILL, 1000)
        f.commit_transaction()
        f.add_rule_exactly(seccomp.KILL, 1001)
        f.start_transaction()
        for i in range(1, 11):
            for _ in range(i + 1):
                f.start_transaction()
            f.add_rule_exactly(seccomp.KILL, 1100 + i)
            for _ in range(i + 1):
                if i % 5:
                    f.commit_transaction()
                else:
                    f.reject_transaction()
        f.commit_transaction()
        f.start_transaction()
        f.add_rule_exactly(seccomp.KILL, 1200)
        f.reject_transaction()

    f = seccomp.SyscallFilter(seccomp.ALLOW)
    build(f)
    expected = seccomp.SyscallFilter(seccomp.ALLOW)
    for number in [1000, 1001] + [1100 + i for i in range(1, 11) if i % 5]:
        expected.add_rule_exactly(seccomp.KILL, number)
    assert f.export_bpf_mem() == expected.export_bpf_mem()


def test_transaction_errors():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    with pytest.raises(RuntimeError):
        f.commit_transaction()
    with pytest.raises(RuntimeError):
        f.reject_transaction()
    f.start_transaction()
    f.reset()
    with pytest.raises(RuntimeError):
        f.commit_transaction()


def test_reject_undoes_merge():
    a = seccomp.SyscallFilter(seccomp.ALLOW)
    before = a.export_bpf_mem()
    b = x86_filter()
    b.add_rule(seccomp.ERRNO(2), "getpid")
    a.start_transaction()
    a.merge(b)
    assert a.exist_arch(seccomp.Arch.X86)
    a.reject_transaction()
    assert not a.exist_arch(seccomp.Arch.X86)
    assert a.export_bpf_mem() == before


def test_notification_objects():
    n = seccomp.Notification(1, 2, 3, 4, 5, 6, [1, 2, 3, 4, 5, 6, 7])
    assert (n.id, n.pid, n.flags, n.syscall, n.syscall_arch, n.syscall_ip) == (
        1, 2, 3, 4, 5, 6,
    )  # fmt: skip
    assert n.syscall_args == [1, 2, 3, 4, 5, 6]
    with pytest.raises(AttributeError):
        n.id = 9  # type: ignore[misc]
    n2 = seccomp.Notification(
        id=1, pid=2, flags=0, syscall=4, syscall_arch=5, syscall_ip=6,
        syscall_args=[0] * 6,
    )  # fmt: skip
    assert n2.syscall_arch == 5
    with pytest.raises(IndexError):
        seccomp.Notification(1, 2, 3, 4, 5, 6, [1, 2])
    with pytest.raises(OverflowError):
        seccomp.Notification(-1, 2, 3, 4, 5, 6, [0] * 6)


def test_notification_response_forms():
    n = seccomp.Notification(7, 2, 0, 4, 5, 6, [0] * 6)
    r = seccomp.NotificationResponse(n)
    assert (r.id, r.val, r.error, r.flags) == (7, 0, 0, 0)
    r = seccomp.NotificationResponse(n, 5, -1, 1)
    assert (r.id, r.val, r.error, r.flags) == (7, 5, -1, 1)
    r.id = 9
    r.val = -5
    assert (r.id, r.val) == (9, -5)
    with pytest.raises(OverflowError):
        r.error = 2**40
    # pyseccomp's order (error, flags, id, val), positional and by keyword.
    r = seccomp.NotificationResponse(-1, 0, 7, 42)
    assert (r.id, r.val, r.error, r.flags) == (7, 42, -1, 0)
    r = seccomp.NotificationResponse(error=0, flags=1, id=7, val=0)
    assert (r.id, r.val, r.error, r.flags) == (7, 0, 0, 1)
    with pytest.raises(TypeError):
        seccomp.NotificationResponse("x")


def test_notify_calls_without_listener_fail():
    f = seccomp.SyscallFilter(seccomp.ALLOW)
    n = seccomp.Notification(1, 2, 3, 4, 5, 6, [0] * 6)
    for call in (
        f.get_notify_fd,
        f.receive_notify,
        lambda: f.respond_notify(seccomp.NotificationResponse(n)),
    ):
        with pytest.raises(RuntimeError) as info:
            call()
        assert isinstance(info.value, seccompx.NotifyError)


def test_filter_cannot_be_pickled():
    with pytest.raises(TypeError):
        pickle.dumps(seccomp.SyscallFilter(seccomp.ALLOW))


def test_exception_classes_are_both_kinds():
    assert issubclass(compat.CompatRuntimeError, seccompx.SeccompError)
    assert issubclass(compat.CompatRuntimeError, RuntimeError)
    assert issubclass(compat.CompatInvalidArgumentError, ValueError)
    assert issubclass(compat.CompatInvalidArgumentError, RuntimeError)
    assert issubclass(compat.CompatLoadError, seccompx.LoadError)
    assert issubclass(compat.CompatTypeError, TypeError)
    assert issubclass(compat.CompatOverflowError, OverflowError)
    assert issubclass(compat.CompatIndexError, IndexError)
    assert issubclass(compat.CompatNotifyError, seccompx.NotifyError)
    assert issubclass(compat.CompatTargetGoneError, seccompx.TargetGoneError)
    assert compat.CompatRuntimeError.__module__ == "seccompx.compat"
    error = compat.CompatUnknownSyscallError("m", syscall="x")
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is compat.CompatUnknownSyscallError
    assert copy.syscall == "x"


# Loading: what the kernel does -------------------------------------------

# Syscalls CPython needs between loading an allowlist and os._exit().
PYTHON_BASICS = [
    "read", "write", "exit", "exit_group", "brk", "mmap", "munmap",
    "mremap", "madvise", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction",
    "futex", "getpid", "gettid", "clock_gettime", "sigaltstack",
]  # fmt: skip


def test_official_style_allowlist_kills_with_sigsys():
    def body(out: int) -> int:
        namespace = {"out": out, "report": report, "PYTHON_BASICS": PYTHON_BASICS}
        exec(
            textwrap.dedent(
                """
                import os
                from seccompx.compat import *

                f = SyscallFilter(defaction=KILL)
                for name in PYTHON_BASICS:
                    f.add_rule(ALLOW, name)
                f.load()
                report(out, "loaded")
                os.getppid()
                report(out, "survived")
                """
            ),
            namespace,
        )
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


@pytest.mark.parametrize("code", [errno.EPERM, errno.EACCES, 0, 4094])
def test_errno_rule_returns_errno(code):
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(code), "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -code


def test_errno_default_with_allowed_rule():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ERRNO(errno.ENOTSUP))
        for name in PYTHON_BASICS:
            f.add_rule(seccomp.ALLOW, name)
        f.load()
        report(out, f"{raw_syscall(SYS_GETPPID)} {raw_syscall(SYS_GETPID) > 0}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{-errno.ENOTSUP} True\n"


def test_trap_raises_sigsys():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.TRAP, "getppid")
        f.load()
        report(out, "loaded")
        raw_syscall(SYS_GETPPID)
        report(out, "survived")
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


def test_log_lets_syscall_run():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.LOG, "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == os.getpid()


def test_trace_without_tracer_fails_with_enosys():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.TRACE(7), "getppid")
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.ENOSYS


def test_kill_process_from_thread_ends_process():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.KILL_PROCESS, "getppid")
        f.set_attr(seccomp.Attr.CTL_TSYNC, 1)
        f.load()
        worker = threading.Thread(target=raw_syscall, args=(SYS_GETPPID,))
        worker.start()
        worker.join()
        report(out, "survived")
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.output == b""


def test_kill_ends_only_calling_thread():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.KILL, "getppid")
        f.set_attr(seccomp.Attr.CTL_TSYNC, 1)
        f.load()
        worker = threading.Thread(target=raw_syscall, args=(SYS_GETPPID,), daemon=True)
        worker.start()
        for _ in range(2000):
            if len(os.listdir("/proc/self/task")) == 1:
                break
            threading.Event().wait(0.005)
        report(out, f"tasks={len(os.listdir('/proc/self/task'))}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "tasks=1\n"


@pytest.mark.parametrize(
    "op, datum_a, datum_b, value, matches",
    [
        (seccomp.EQ, 5, 0, 5, True),
        (seccomp.EQ, 5, 0, 6, False),
        (seccomp.EQ, 0x1_0000_0005, 0, 5, False),
        (seccomp.NE, 5, 0, 6, True),
        (seccomp.NE, 5, 0, 5, False),
        (seccomp.LT, 5, 0, 4, True),
        (seccomp.LT, 5, 0, 5, False),
        (seccomp.LE, 5, 0, 5, True),
        (seccomp.LE, 5, 0, 6, False),
        (seccomp.GT, 5, 0, 6, True),
        (seccomp.GT, 5, 0, 5, False),
        (seccomp.GE, 5, 0, 5, True),
        (seccomp.GE, 5, 0, 4, False),
        (seccomp.GT, 0xFFFF_FFFF, 0, 0x1_0000_0000, True),
        (seccomp.MASKED_EQ, 0xF0, 0x30, 0x3F, True),
        (seccomp.MASKED_EQ, 0xF0, 0x30, 0x4F, False),
        # A value with bits outside the mask: libseccomp masks it, so
        # (1, 2) matches an argument whose low bit is clear.
        (seccomp.MASKED_EQ, 1, 2, 4, True),
        (seccomp.MASKED_EQ, 1, 2, 5, False),
    ],
)
def test_arg_comparison_in_kernel(op, datum_a, datum_b, value, matches):
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(
            seccomp.ERRNO(errno.EXDEV),
            "getppid",
            seccomp.Arg(1, op, datum_a, datum_b),
        )
        f.load()
        report(out, str(raw_syscall(SYS_GETPPID, 0, value)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    expected = -errno.EXDEV if matches else os.getpid()
    assert int(result.text) == expected


def test_rule_with_two_args_needs_both():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule_exactly(
            seccomp.ERRNO(errno.EXDEV),
            SYS_GETPPID,
            seccomp.Arg(0, seccomp.EQ, 1),
            seccomp.Arg(2, seccomp.EQ, 3),
        )
        f.load()
        results = [
            raw_syscall(SYS_GETPPID, 1, 0, 3),
            raw_syscall(SYS_GETPPID, 1, 0, 4),
            raw_syscall(SYS_GETPPID, 0, 0, 3),
        ]
        report(out, " ".join(map(str, results)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    parent = os.getpid()
    assert result.text == f"{-errno.EXDEV} {parent} {parent}\n"


def test_load_twice_stacks_two_filters():
    def body(out: int) -> int:
        before = int(status_field("Seccomp_filters"))
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid")
        f.load()
        f.load()
        after = int(status_field("Seccomp_filters"))
        report(out, f"{after - before} {raw_syscall(SYS_GETPPID)}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"2 {-errno.EXDEV}\n"


def test_second_thread_loads_same_filter():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid")
        started = threading.Event()
        loaded = threading.Event()
        results: List[int] = []

        def worker() -> None:
            started.set()
            loaded.wait()
            results.append(raw_syscall(SYS_GETPPID))
            f.load()
            results.append(raw_syscall(SYS_GETPPID))

        thread = threading.Thread(target=worker)
        thread.start()
        started.wait()
        f.load()  # without CTL_TSYNC: this thread only
        loaded.set()
        thread.join()
        report(out, f"{raw_syscall(SYS_GETPPID)} {results}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{-errno.EXDEV} [{os.getpid()}, {-errno.EXDEV}]\n"


def test_tsync_attribute_filters_other_threads():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid")
        f.set_attr(seccomp.Attr.CTL_TSYNC, 1)
        go = threading.Event()
        results: List[int] = []

        def worker() -> None:
            go.wait()
            results.append(raw_syscall(SYS_GETPPID))

        thread = threading.Thread(target=worker)
        thread.start()
        f.load()
        go.set()
        thread.join()
        report(out, str(results))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"[{-errno.EXDEV}]\n"


def test_nnp_attribute_controls_no_new_privs():
    if os.geteuid() != 0:
        pytest.skip("loading without no_new_privs needs CAP_SYS_ADMIN")

    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.set_attr(seccomp.Attr.CTL_NNP, 0)
        f.load()
        first = status_field("NoNewPrivs")
        g = seccomp.SyscallFilter(seccomp.ALLOW)
        g.load()
        report(out, f"{first} {status_field('NoNewPrivs')}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "0 1\n"


@needs_x86_64
def test_bad_arch_action_default_kills_x32_call():
    x32_getpid = 0x40000000 | SYS_GETPID

    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.load()
        report(out, "loaded")
        raw_syscall(x32_getpid)
        report(out, "survived")
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


@needs_x86_64
def test_bad_arch_action_attribute_applies():
    x32_getpid = 0x40000000 | SYS_GETPID

    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.set_attr(seccomp.Attr.ACT_BADARCH, seccomp.ERRNO(errno.EXDEV))
        f.load()
        report(out, str(raw_syscall(x32_getpid)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.EXDEV


def test_rejected_transaction_rule_not_enforced():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getpid")
        f.start_transaction()
        f.add_rule(seccomp.KILL_PROCESS, "getppid")
        f.reject_transaction()
        f.start_transaction()
        f.add_rule(seccomp.ERRNO(errno.ENOTTY), "getppid", seccomp.Arg(0, seccomp.EQ, 1))
        f.commit_transaction()
        f.load()
        results = [
            raw_syscall(SYS_GETPID),
            raw_syscall(SYS_GETPPID, 0),
            raw_syscall(SYS_GETPPID, 1),
        ]
        report(out, " ".join(map(str, results)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{-errno.EXDEV} {os.getpid()} {-errno.ENOTTY}\n"


def test_merged_filter_enforces_both_and_other_is_reusable():
    def body(out: int) -> int:
        a = seccomp.SyscallFilter(seccomp.ALLOW)
        a.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid")
        b = x86_filter()
        b.add_rule(seccomp.ERRNO(errno.ENOTTY), "getpid")
        a.merge(b)
        b.add_rule(seccomp.ERRNO(errno.ENOTTY), "getpid")
        a.load()
        b.load()
        report(out, f"{raw_syscall(SYS_GETPPID)} {raw_syscall(SYS_GETPID)}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{-errno.EXDEV} {-errno.ENOTTY}\n"


def test_readded_native_arch_drops_old_rules():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid")
        f.remove_arch(seccomp.Arch())
        f.add_arch(seccomp.Arch())
        f.add_rule(seccomp.ERRNO(errno.ENOTTY), "getpid")
        f.load()
        report(out, f"{raw_syscall(SYS_GETPPID)} {raw_syscall(SYS_GETPID)}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{os.getpid()} {-errno.ENOTTY}\n"


def test_load_without_arch_fails():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.remove_arch(seccomp.Arch())
        try:
            f.load()
        except RuntimeError as error:
            report(out, f"{type(error).__name__} {status_field('Seccomp')}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "CompatInvalidArgumentError 0\n"


def test_exported_program_loads_with_same_decisions():
    program_module = pytest.importorskip("seccompx.program")

    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.ERRNO(errno.EXDEV), "getppid", seccomp.Arg(0, seccomp.GE, 10))
        program_module.Program(f.export_bpf_mem()).load()
        report(out, f"{raw_syscall(SYS_GETPPID, 9)} {raw_syscall(SYS_GETPPID, 10)}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == f"{os.getpid()} {-errno.EXDEV}\n"


def notify_body(response: Callable[[Any], Any], magic_check: Callable[[int], bool]):
    """Build a child body: load a NOTIFY rule on getuid, fork a target that
    calls getuid, and respond with ``response(notification)``."""

    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.NOTIFY, "getuid")
        f.load()
        fd = f.get_notify_fd()
        pid = os.fork()
        if pid == 0:
            value = raw_syscall(seccompx.resolve_syscall("getuid"))
            os._exit(0 if magic_check(value) else 1)
        notification = f.receive_notify()
        same = notification.syscall == seccomp.resolve_syscall(seccomp.Arch(), "getuid")
        f.respond_notify(response(notification))
        _, status = os.waitpid(pid, 0)
        report(
            out,
            f"fd={fd >= 0} pid={notification.pid == pid} syscall={same} "
            f"arch={notification.syscall_arch == seccomp.system_arch()} "
            f"status={os.waitstatus_to_exitcode(status)}",
        )
        return 0

    return body


def test_notify_round_trip_with_value():
    magic = os.getuid() + 1
    result = run_in_child(
        notify_body(
            lambda n: seccomp.NotificationResponse(n, magic, 0, 0),
            lambda value: value == magic,
        )
    )
    assert result.exitcode == 0, result
    assert result.text == "fd=True pid=True syscall=True arch=True status=0\n"


def test_notify_round_trip_with_error():
    result = run_in_child(
        notify_body(
            lambda n: seccomp.NotificationResponse(n, 0, -errno.EPERM, 0),
            lambda value: value == -errno.EPERM,
        )
    )
    assert result.exitcode == 0, result
    assert result.text.endswith("status=0\n"), result


def test_notify_continue_flag_runs_syscall():
    uid = os.getuid()
    result = run_in_child(
        notify_body(
            lambda n: seccomp.NotificationResponse(n, 0, 0, 1),
            lambda value: value == uid,
        )
    )
    assert result.exitcode == 0, result
    assert result.text.endswith("status=0\n"), result


def test_notify_pyseccomp_response_and_positive_error():
    # pyseccomp's keyword form; a positive "error" is returned as the value.
    result = run_in_child(
        notify_body(
            lambda n: seccomp.NotificationResponse(error=5, flags=0, id=n.id, val=0),
            lambda value: value == 5,
        )
    )
    assert result.exitcode == 0, result
    assert result.text.endswith("status=0\n"), result


def test_receive_notify_releases_gil():
    def body(out: int) -> int:
        f = seccomp.SyscallFilter(seccomp.ALLOW)
        f.add_rule(seccomp.NOTIFY, "getuid")
        f.load()
        ready_read, ready_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.read(ready_read, 1)
            os.getuid()
            os._exit(0)
        ticked = threading.Event()

        def ticker() -> None:
            # Runs only if receive_notify() released the GIL.
            ticked.set()
            os.write(ready_write, b"x")

        timer = threading.Timer(0.05, ticker)
        timer.start()
        notification = f.receive_notify()
        f.respond_notify(seccomp.NotificationResponse(notification, 0, 0, 0))
        timer.join()
        os.waitpid(pid, 0)
        report(out, f"ticked={ticked.is_set()}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "ticked=True\n"
