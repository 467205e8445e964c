"""Load failures name their cause, with and without libseccomp's
raw-return-code attribute.

libseccomp folds most kernel errors from seccomp_load() into ECANCELED
unless the raw-return-code attribute is set.  seccompx sets it, and falls
back to errno when a caller turns it off; every case runs both ways.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct
import threading
import warnings

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, NOTIFY, Arg, Filter, LoadError
from childproc import report, run_in_child

CAP_SYS_ADMIN = 21
PR_CAPBSET_DROP = 24
LINUX_CAPABILITY_VERSION_3 = 0x20080522

RAW_RC = pytest.mark.parametrize("raw_rc", [True, False], ids=["raw_rc", "ecanceled"])


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_cap_sys_admin() -> None:
    """Drop CAP_SYS_ADMIN from the bounding, effective and permitted sets."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget")
    data[0].effective &= ~(1 << CAP_SYS_ADMIN)
    data[0].permitted &= ~(1 << CAP_SYS_ADMIN)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset")


def _load_and_report(out: int, f: Filter, raw_rc: bool) -> int:
    f.raw_rc = raw_rc
    try:
        f.load()
    except LoadError as error:
        report(out, f"{error.reason}|{error.errno}|{error.thread}|{error}")
        return 0
    report(out, "loaded")
    return 1


def _parse(result) -> tuple:
    assert result.exitcode == 0, result
    reason, err, thread, message = result.text.strip().split("|", 3)
    return reason, int(err), thread, message


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to drop privileges")


@needs_root
@RAW_RC
def test_no_new_privs_off_as_unprivileged_user(raw_rc):
    def body(out: int) -> int:
        os.setgid(65534)
        os.setuid(65534)
        f = Filter(default=ALLOW, no_new_privs=False)
        f.add_rule(ERRNO(1), "getppid")
        return _load_and_report(out, f, raw_rc)

    reason, err, _, message = _parse(run_in_child(body))
    assert reason == "no_new_privs"
    assert err == errno.EACCES
    assert "CAP_SYS_ADMIN" in message


@needs_root
@RAW_RC
def test_no_new_privs_off_without_cap_sys_admin(raw_rc):
    def body(out: int) -> int:
        _drop_cap_sys_admin()
        f = Filter(default=ALLOW, no_new_privs=False)
        f.add_rule(ERRNO(1), "getppid")
        return _load_and_report(out, f, raw_rc)

    reason, err, _, message = _parse(run_in_child(body))
    assert reason == "no_new_privs"
    assert err == errno.EACCES
    assert "no_new_privs is off" in message


@needs_root
def test_no_new_privs_off_as_root_loads():
    def body(out: int) -> int:
        f = Filter(default=ALLOW, no_new_privs=False)
        f.add_rule(ERRNO(errno.EDOM), "getppid")
        f.load()
        with open("/proc/self/status") as status:
            report(out, [line for line in status if line.startswith("NoNewPrivs")][0])
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text.split() == ["NoNewPrivs:", "0"]


@RAW_RC
def test_too_many_instructions_says_how_many(raw_rc):
    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        for value in range(1200):
            f.add_rule(ERRNO(1), "getppid", Arg(0) == (value << 33 | value))
        return _load_and_report(out, f, raw_rc)

    reason, err, _, message = _parse(run_in_child(body))
    assert reason == "too_large"
    assert err == errno.EINVAL
    count = int(message.split("compiles to ")[1].split()[0])
    assert count > seccompx.MAX_INSTRUCTIONS
    assert "limit of 4096" in message


def test_too_many_stacked_instructions():
    def body(out: int) -> int:
        # Each filter stays under 4096 instructions; the kernel counts all
        # filters of the task together against 32768.
        for number in range(12):
            f = Filter(default=ALLOW)
            f.add_rules(
                (ERRNO(1), "getppid", [Arg(0) == (value << 33 | value + number)])
                for value in range(900)
            )
            report(out, f"size {f.instruction_count()}")
            try:
                f.load()
            except LoadError as error:
                report(out, f"{error.reason}|{error.errno}|{number}|{error}")
                return 0
        return 1

    result = run_in_child(body, timeout=60)
    assert result.exitcode == 0, result
    lines = result.text.strip().splitlines()
    reason, err, number, message = lines[-1].split("|", 3)
    size = int(lines[-2].split()[1])
    assert reason == "too_large"
    assert int(err) == errno.ENOMEM
    assert int(number) >= 7
    assert "32768" in message
    assert "eBPF form" in message
    assert f"the kernel rejected the filter of {size} instructions" in message


def test_stacked_limit_message_wording():
    from seccompx.program import _stacked_limit_message

    single = _stacked_limit_message(1)
    assert single.startswith("the kernel rejected the filter of 1 instruction (ENOMEM)")
    assert "  " not in single
    assert "the filter of 2 instructions (ENOMEM)" in _stacked_limit_message(2)
    assert _stacked_limit_message(None).startswith("the kernel rejected the filter (ENOMEM)")


def ret_allow_program(count: int) -> seccompx.Program:
    return seccompx.Program(struct.pack("=HBBI", 0x06, 0, 0, int(ALLOW)) * count)


def count_loads(program: seccompx.Program) -> str:
    """Load ``program`` in a child until the kernel refuses; return the
    number loaded and the error's reason and message."""

    def body(out: int) -> int:
        loaded = 0
        while loaded < 64:
            try:
                program.load(tsync=False)
            except LoadError as error:
                report(out, f"{loaded}|{error.reason}|{error.errno}|{error}")
                return 0
            loaded += 1
        return 1

    result = run_in_child(body)
    assert result.exitcode == 0, result
    return result.text.strip()


def test_stacked_limit_counts_converted_form():
    # Four programs of 4096 instructions are 4 * 4100 = 16400 classic
    # instructions, half the limit, yet the kernel refuses the fourth: it
    # counts the eBPF form, where each "ret" becomes two instructions.
    loaded, reason, err, message = count_loads(ret_allow_program(4096)).split("|", 3)
    assert int(loaded) < 4
    assert reason == "too_large"
    assert int(err) == errno.ENOMEM
    assert "4096 instructions" in message
    assert "eBPF form" in message
    assert "32768" in message
    assert "4 extra" not in message


@pytest.mark.skipif(
    seccompx.Arch.native() is not seccompx.Arch.X86_64,
    reason="the eBPF lengths were measured on x86_64",
)
def test_stacked_limit_measured_boundary():
    # Measured on x86_64 (Linux 6.18): a program of n "ret" instructions
    # counts as 2n + 3, so four fit up to n = 4093:
    # 4 * (2 * 4093 + 3) + 3 * 4 = 32768.
    assert count_loads(ret_allow_program(4093)).startswith("4|")
    assert count_loads(ret_allow_program(4094)).startswith("3|")


@RAW_RC
def test_tsync_conflict_names_thread(raw_rc):
    def body(out: int) -> int:
        loaded = threading.Event()
        finish = threading.Event()
        native_ids = []

        def other_thread() -> None:
            own = Filter(default=ALLOW, tsync=False)
            own.add_rule(ERRNO(errno.EDOM), "getppid")
            own.load()
            native_ids.append(threading.get_native_id())
            loaded.set()
            finish.wait(10)

        thread = threading.Thread(target=other_thread)
        thread.start()
        loaded.wait(10)
        f = Filter(default=ALLOW, tsync=True)
        f.add_rule(ERRNO(errno.EPERM), "getpid")
        code = _load_and_report(out, f, raw_rc)
        report(out, f"other {native_ids[0]}")
        finish.set()
        thread.join()
        return code

    result = run_in_child(body)
    assert result.exitcode == 0, result
    first, second = result.text.strip().splitlines()
    reason, err, thread, message = first.split("|", 3)
    other = second.split()[1]
    assert reason == "tsync"
    assert err == str(errno.ESRCH)
    assert thread == other
    assert f"thread {other}" in message


def test_tsync_without_conflict_syncs_every_thread():
    getppid = seccompx.resolve_syscall("getppid")

    def body(out: int) -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        started = threading.Event()
        finish = threading.Event()
        errors = []

        def other_thread() -> None:
            started.set()
            finish.wait(10)
            ctypes.set_errno(0)
            libc.syscall(ctypes.c_long(getppid))
            errors.append(ctypes.get_errno())

        thread = threading.Thread(target=other_thread)
        thread.start()
        started.wait(10)
        f = Filter(default=ALLOW, tsync=True)
        f.add_rule(ERRNO(errno.EDOM), "getppid")
        f.load()
        finish.set()
        thread.join()
        report(out, str(errors[0]))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == errno.EDOM


def test_rejected_flag_names_flags():
    # The running kernel accepts every flag libseccomp 2.5 sets, so the
    # kernel's EINVAL for a flag is fed to the mapping directly.
    f = Filter(default=ALLOW, log=True)
    f.add_rule(ERRNO(1), "getppid")
    error = f._load_error(errno.EINVAL)
    assert isinstance(error, LoadError)
    assert error.reason == "flag"
    assert "tsync=" in str(error)
    assert "log=True" in str(error)
    f.close()


def test_other_kernel_error_is_named():
    f = Filter(default=ALLOW)
    error = f._load_error(errno.EFAULT)
    assert error.reason == "kernel"
    assert os.strerror(errno.EFAULT) in str(error)
    f.close()


def test_notify_with_tsync_needs_api_level_6():
    def body(out: int) -> int:
        seccompx.set_api_level(5)
        f = Filter(default=ALLOW, tsync=True)
        try:
            f.add_rule(NOTIFY, "getppid")
        except seccompx.UnsupportedError as error:
            report(out, str(error))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert "tsync" in result.text
    assert "API level 5" in result.text


@pytest.mark.parametrize(
    "level,action,needed",
    [(2, seccompx.KILL_PROCESS, 3), (2, seccompx.LOG, 3), (4, NOTIFY, 5)],
)
def test_action_beyond_api_level_rejected(level, action, needed):
    def body(out: int) -> int:
        seccompx.set_api_level(level)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            f = Filter(default=ALLOW, tsync=False)
        for attempt in (lambda: f.add_rule(action, "getppid"),
                        lambda: Filter(default=action, tsync=False)):
            try:
                attempt()
            except seccompx.UnsupportedError as error:
                report(out, str(error))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    lines = result.text.strip().splitlines()
    assert len(lines) == 2, result
    for line in lines:
        assert repr(action) in line
        assert f"API level {needed}" in line
        assert f"the level is {level}" in line


def test_low_api_level_bad_arch_action():
    def body(out: int) -> int:
        seccompx.set_api_level(2)
        f = Filter(default=ALLOW)
        report(out, repr(f.bad_arch_action))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text.strip() == "KILL_THREAD"


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp from seccomp.h."""

    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def test_libseccomp_miscompiles_ranges_seccompx_rejects():
    """Two rules with ranges on one argument in different 2**32 blocks,
    added with libseccomp directly: the kernel misses a call that the first
    rule matches.  seccompx rejects such pairs (see test_hardening.py)."""
    if seccompx.libseccomp_version() >= (2, 6, 0):
        pytest.skip("only libseccomp 2.5 was checked for this miscompilation")
    try:
        library = ctypes.CDLL("libseccomp.so.2")
    except OSError:
        pytest.skip("the shared libseccomp is not installed")
    getpgid = seccompx.resolve_syscall("getpgid")

    def body(out: int) -> int:
        library.seccomp_init.restype = ctypes.c_void_p
        library.seccomp_init.argtypes = [ctypes.c_uint32]
        library.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
            ctypes.POINTER(_ArgCmp),
        ]
        library.seccomp_load.argtypes = [ctypes.c_void_p]
        context = library.seccomp_init(ALLOW.value)
        for op, value in ((int(seccompx.Op.LT), 2**33 + 5), (int(seccompx.Op.LE), 3)):
            comparison = (_ArgCmp * 1)(_ArgCmp(1, op, value, 0))
            if library.seccomp_rule_add_array(context, ERRNO(1026).value, getpgid,
                                              1, comparison) != 0:
                return 3
        if library.seccomp_load(context) != 0:
            return 4
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6
        ctypes.set_errno(0)
        # 10 < 2**33 + 5, so the first rule should fail the call with 1026.
        result = libc.syscall(getpgid, 0, 10, 0, 0, 0, 0)
        report(out, str(ctypes.get_errno() if result == -1 else 0))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) != 1026, (
        "libseccomp now compiles these ranges correctly; limit the check in "
        "csrc/core/rules.c (rules_miscompile) to the versions that need it"
    )
