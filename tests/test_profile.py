"""Reading OCI and Docker seccomp profiles: each semantic rule.

Tests that load a filter do it in a child and check what the kernel did
with a syscall made through ctypes.  The syscalls used as probes (getppid,
getpid, getuid) take no arguments, but the filter still compares the
values in the argument registers, so rules on their arguments can be
tested without side effects.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import signal
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, KILL_THREAD, LOG, NOTIFY, TRACE, TRAP
from seccompx import Arch, Filter, ProfileError
from seccompx._profile_reader import _capabilities_from_mask
from seccompx._types import _wait_kill_available
from seccompx.profile import CAPABILITIES, parse_json

from childproc import report, run_in_child

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
NATIVE = Arch.native()
ON_X86_64 = NATIVE is Arch.X86_64

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

Call = Tuple[str, Sequence[int]]


def nr(name: str) -> int:
    return seccompx.resolve_syscall(name)


def call_in_child(filter: Filter, calls: Sequence[Tuple[int, Sequence[int]]]) -> List[Tuple[int, int]]:
    """Load ``filter`` in a child, make each raw syscall, return (ret, errno)."""

    def body(fd: int) -> int:
        filter.load()
        results = []
        for number, args in calls:
            ctypes.set_errno(0)
            ret = LIBC.syscall(
                ctypes.c_long(number), *(ctypes.c_ulong(arg) for arg in args)
            )
            results.append(f"{ret}:{ctypes.get_errno()}")
        report(fd, " ".join(results))
        return 0

    result = run_in_child(body)
    filter.close()
    assert result.exitcode == 0, str(result)
    return [
        (int(ret), int(err))
        for ret, err in (item.split(":") for item in result.text.split())
    ]


def errnos(filter: Filter, calls: Sequence[Call]) -> List[int]:
    """The errno of each call (0 when it succeeded) under ``filter``."""
    raw = [(nr(name), args) for name, args in calls]
    return [err if ret == -1 else 0 for ret, err in call_in_child(filter, raw)]


def profile(*entries: Dict[str, Any], default: str = "SCMP_ACT_ALLOW", **top: Any) -> Dict[str, Any]:
    return {"defaultAction": default, "syscalls": list(entries), **top}


def entry(names: Sequence[str], action: str = "SCMP_ACT_ERRNO", **fields: Any) -> Dict[str, Any]:
    return {"names": list(names), "action": action, **fields}


def arg(index: int, value: int, op: str = "SCMP_CMP_EQ", value_two: int = 0) -> Dict[str, Any]:
    return {"index": index, "value": value, "valueTwo": value_two, "op": op}


def load(source: Any, **options: Any) -> Filter:
    options.setdefault("capabilities", [])
    return Filter.from_profile(source, **options)


def entries_of(filter: Filter) -> List[Dict[str, Any]]:
    entries = filter.to_profile()["syscalls"]
    filter.close()
    return list(entries)


# Arguments ------------------------------------------------------------------


def test_masked_eq_takes_value_as_mask() -> None:
    f = load(FIXTURES / "argument_rules.json")
    # mask 0xf0, datum 0x30: 0x35 and 0x3f match, 0x45 and 0x03 do not.
    result = errnos(
        f,
        [("getppid", [0x35]), ("getppid", [0x3F]), ("getppid", [0x45]), ("getppid", [0x03])],
    )
    assert result == [errno.EAGAIN, errno.EAGAIN, 0, 0]


def test_same_index_conditions_are_or() -> None:
    f = load(FIXTURES / "argument_rules.json")
    result = errnos(f, [("getpid", [1]), ("getpid", [2]), ("getpid", [3])])
    assert result == [errno.ENOMEM, errno.ENOMEM, 0]


def test_different_index_conditions_are_and() -> None:
    f = load(FIXTURES / "argument_rules.json")
    result = errnos(
        f, [("getuid", [1, 2]), ("getuid", [1, 3]), ("getuid", [0, 2])]
    )
    assert result == [errno.EACCES, 0, 0]


def test_same_index_becomes_separate_rules() -> None:
    f = load(FIXTURES / "argument_rules.json")
    report = f.profile_report
    assert report is not None
    # getppid: 1 rule, getpid: 2 (one per condition), getuid: 1 (AND).
    assert report.rules == 4
    assert report.syscalls == 3
    f.close()


def test_value_two_ignored_for_other_ops() -> None:
    source = profile(entry(["getppid"], errnoRet=5, args=[arg(0, 1, value_two=9)]))
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("syscalls[0].args[0].valueTwo: ")
    assert errnos(f, [("getppid", [1]), ("getppid", [9])]) == [errno.EIO, 0]


def test_masked_eq_never_matching_is_left_out() -> None:
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 0x0F, "SCMP_CMP_MASKED_EQ", 0x10)])
    )
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.rules == 0
    assert "can never match" in report.warnings[0]
    f.close()
    with pytest.raises(ProfileError) as caught:
        load(source, strict=True)
    assert caught.value.path == "syscalls[0].args[0]"


@pytest.mark.parametrize(
    "op, value, expected",
    [
        ("SCMP_CMP_NE", 5, [errno.EIO, 0, errno.EIO]),
        ("SCMP_CMP_LT", 5, [errno.EIO, 0, 0]),
        ("SCMP_CMP_LE", 5, [errno.EIO, errno.EIO, 0]),
        ("SCMP_CMP_EQ", 5, [0, errno.EIO, 0]),
        ("SCMP_CMP_GE", 5, [0, errno.EIO, errno.EIO]),
        ("SCMP_CMP_GT", 5, [0, 0, errno.EIO]),
    ],
)
def test_operators(op: str, value: int, expected: List[int]) -> None:
    f = load(profile(entry(["getppid"], errnoRet=5, args=[arg(0, value, op)])))
    calls: List[Call] = [("getppid", [4]), ("getppid", [5]), ("getppid", [6])]
    assert errnos(f, calls) == expected


def test_unknown_operator_names_path() -> None:
    with pytest.raises(ProfileError) as caught:
        load(FIXTURES / "bad_operator.json")
    error = caught.value
    assert error.path == "syscalls[3].args[0].op"
    assert str(error).startswith(
        "syscalls[3].args[0].op: unknown operator 'SCMP_CMP_FOO'; use one of "
    )
    assert "SCMP_CMP_MASKED_EQ" in str(error)
    assert isinstance(error, ValueError)


@pytest.mark.parametrize(
    "bad_arg, path",
    [
        ({"value": 1, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].index"),
        ({"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].index"),
        ({"index": True, "value": 1, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].index"),
        ({"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].value"),
        ({"index": 0, "value": 2**64, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].value"),
        ({"index": 0, "value": 1.5, "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].value"),
        ({"index": 0, "value": 1, "valueTwo": "x", "op": "SCMP_CMP_EQ"}, "syscalls[0].args[0].valueTwo"),
        ({"index": 0, "value": 1}, "syscalls[0].args[0].op"),
        ({"index": 0, "value": 1, "op": 4}, "syscalls[0].args[0].op"),
    ],
)
def test_invalid_argument_fields(bad_arg: Dict[str, Any], path: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(entry(["getppid"], args=[bad_arg])))
    assert caught.value.path == path


# Names ----------------------------------------------------------------------


def test_unknown_names_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    source = profile(entry(["getppid", "no_such_syscall_xyz"], errnoRet=5))
    with caplog.at_level(logging.DEBUG, logger="seccompx"):
        f = load(source)
    report = f.profile_report
    assert report is not None
    assert [(s.path, s.name) for s in report.skipped] == [
        ("syscalls[0].names[1]", "no_such_syscall_xyz")
    ]
    assert report.skipped[0].reason.startswith("unknown to libseccomp ")
    assert any(
        "no_such_syscall_xyz" in record.getMessage() and record.levelno == logging.DEBUG
        for record in caplog.records
    )
    assert errnos(f, [("getppid", [])]) == [errno.EIO]


def test_unknown_names_raise_in_strict_mode() -> None:
    source = profile(entry(["getppid", "no_such_syscall_xyz"], errnoRet=5))
    with pytest.raises(ProfileError) as caught:
        load(source, strict=True)
    assert caught.value.path == "syscalls[0].names[1]"
    assert "no_such_syscall_xyz" in str(caught.value)


@pytest.mark.skipif(not ON_X86_64, reason="uses x86_64 and x86 syscall tables")
def test_name_missing_on_every_arch_is_skipped() -> None:
    # set_tls exists on ARM only.
    f = load(profile(entry(["set_tls", "getppid"], errnoRet=5)))
    report = f.profile_report
    assert report is not None
    assert [s.name for s in report.skipped] == ["set_tls"]
    assert report.skipped[0].reason == "not a syscall on x86_64"
    f.close()


@pytest.mark.skipif(not ON_X86_64, reason="uses the x86 socketcall multiplexer")
def test_multiplexed_name_is_kept_for_x86() -> None:
    # recv exists on x86 only through socketcall(2), which libseccomp
    # filters by its first argument.
    source = profile(entry(["recv"]), architectures=["SCMP_ARCH_X86"])
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.skipped == []
    assert report.rules == 1
    f.close()


def test_old_single_name_field() -> None:
    f = load({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"name": "getppid", "action": "SCMP_ACT_ERRNO", "errnoRet": 5}]})
    assert errnos(f, [("getppid", []), ("getpid", [])]) == [errno.EIO, 0]


@pytest.mark.parametrize(
    "bad_entry, path",
    [
        ({"name": "read", "names": ["read"], "action": "SCMP_ACT_ALLOW"}, "syscalls[0].name"),
        ({"action": "SCMP_ACT_ALLOW"}, "syscalls[0].names"),
        ({"names": [], "action": "SCMP_ACT_ALLOW"}, "syscalls[0].names"),
        ({"names": ["read", 3], "action": "SCMP_ACT_ALLOW"}, "syscalls[0].names[1]"),
        ({"names": [""], "action": "SCMP_ACT_ALLOW"}, "syscalls[0].names[0]"),
        ({"names": ["read"]}, "syscalls[0].action"),
        ({"names": ["read"], "action": "SCMP_ACT_MAYBE"}, "syscalls[0].action"),
        ({"names": ["read"], "action": "SCMP_ACT_ALLOW", "comment": 5}, "syscalls[0].comment"),
        ({"names": ["read"], "action": "SCMP_ACT_ALLOW", "args": {}}, "syscalls[0].args"),
    ],
)
def test_invalid_entries(bad_entry: Dict[str, Any], path: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(bad_entry, default="SCMP_ACT_ERRNO"))
    assert caught.value.path == path


# Actions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, errno_ret, expected",
    [
        ("SCMP_ACT_KILL", None, KILL_THREAD),
        ("SCMP_ACT_KILL_THREAD", None, KILL_THREAD),
        ("SCMP_ACT_KILL_PROCESS", None, KILL_PROCESS),
        ("SCMP_ACT_TRAP", None, TRAP),
        ("SCMP_ACT_ERRNO", None, ERRNO(errno.EPERM)),
        ("SCMP_ACT_ERRNO", 38, ERRNO(38)),
        ("SCMP_ACT_TRACE", None, TRACE(errno.EPERM)),
        ("SCMP_ACT_TRACE", 9, TRACE(9)),
        ("SCMP_ACT_ALLOW", None, ALLOW),
        ("SCMP_ACT_LOG", None, LOG),
        ("SCMP_ACT_NOTIFY", None, NOTIFY),
    ],
)
def test_action_names(name: str, errno_ret: Any, expected: seccompx.Action) -> None:
    fields = {} if errno_ret is None else {"errnoRet": errno_ret}
    f = load(profile(entry(["getppid"], name, **fields), default="SCMP_ACT_ERRNO", defaultErrnoRet=50))
    [written] = entries_of(f)
    back = Filter.from_profile(profile(written, default="SCMP_ACT_ERRNO", defaultErrnoRet=50))
    assert back._rules is not None
    assert [seccompx.Action.from_raw(rule[0]) for rule in back._rules] == [expected]
    back.close()


@pytest.mark.parametrize(
    "action, killed_by",
    [
        ("SCMP_ACT_KILL", signal.SIGSYS),
        ("SCMP_ACT_KILL_PROCESS", signal.SIGSYS),
        ("SCMP_ACT_TRAP", signal.SIGSYS),
    ],
)
def test_killing_actions_in_kernel(action: str, killed_by: int) -> None:
    f = load(profile(entry(["getppid"], action)))
    number = nr("getppid")

    def body(fd: int) -> int:
        f.load()
        LIBC.syscall(ctypes.c_long(number))
        report(fd, "survived")
        return 0

    result = run_in_child(body)
    f.close()
    assert result.signal == killed_by, str(result)
    assert result.output == b""


def test_trace_without_tracer_answers_enosys() -> None:
    f = load(profile(entry(["getppid"], "SCMP_ACT_TRACE", errnoRet=3)))
    assert errnos(f, [("getppid", [])]) == [errno.ENOSYS]


def test_log_action_allows() -> None:
    f = load(profile(entry(["getppid"], "SCMP_ACT_LOG"), default="SCMP_ACT_ALLOW"))
    result = call_in_child(f, [(nr("getppid"), [])])
    assert result == [(os.getpid(), 0)]


@pytest.mark.parametrize("action", ["SCMP_ACT_ALLOW", "SCMP_ACT_KILL", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRAP"])
def test_errno_ret_on_action_without_errno(action: str) -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(entry(["getppid"], action, errnoRet=1), default="SCMP_ACT_ERRNO"))
    assert caught.value.path == "syscalls[0].errnoRet"
    assert "takes no errno" in str(caught.value)


def test_default_errno_ret_on_allow_default() -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(defaultErrnoRet=1))
    assert caught.value.path == "defaultErrnoRet"


def test_default_errno_ret_used_for_default() -> None:
    source = profile(
        entry(["write", "exit_group", "brk", "mmap", "munmap", "rt_sigprocmask", "futex"], "SCMP_ACT_ALLOW"),
        default="SCMP_ACT_ERRNO",
        defaultErrnoRet=errno.EACCES,
    )
    f = load(source)
    assert f.default_action == ERRNO(errno.EACCES)
    assert errnos(f, [("getppid", [])]) == [errno.EACCES]


def test_errno_above_libseccomp_limit_is_capped() -> None:
    f = load(profile(entry(["getppid"], errnoRet=12345)))
    report = f.profile_report
    assert report is not None
    assert report.warnings[0].startswith("syscalls[0].errnoRet: errno 12345 ")
    assert errnos(f, [("getppid", [])]) == [seccompx.MAX_ERRNO]
    with pytest.raises(ProfileError):
        load(profile(entry(["getppid"], errnoRet=12345)), strict=True)
    with pytest.raises(ProfileError) as caught:
        load(profile(entry(["getppid"], errnoRet=70000)))
    assert caught.value.path == "syscalls[0].errnoRet"


def test_rule_equal_to_default_is_skipped() -> None:
    source = profile(
        entry(["getppid"], "SCMP_ACT_ALLOW"),
        entry(["getpid"], errnoRet=5),
    )
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert [(s.path, s.name) for s in report.skipped] == [("syscalls[0].names[0]", "getppid")]
    assert "default action" in report.skipped[0].reason
    assert report.rules == 1
    assert errnos(f, [("getppid", []), ("getpid", [])]) == [0, errno.EIO]


def test_default_action_missing_or_unknown() -> None:
    with pytest.raises(ProfileError) as caught:
        load({"syscalls": []})
    assert caught.value.path == "defaultAction"
    with pytest.raises(ProfileError) as caught:
        load({"defaultAction": "SCMP_ACT_KILL_ALL"})
    assert caught.value.path == "defaultAction"
    assert "SCMP_ACT_KILL_PROCESS" in str(caught.value)


# Conflicts ------------------------------------------------------------------


def test_conflicting_actions_name_both_entries() -> None:
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 1)]),
        entry(["getppid"], errnoRet=6, args=[arg(0, 1)]),
    )
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "syscalls[1]"
    assert "syscalls[0]" in str(caught.value)


def test_unconditional_rule_wins() -> None:
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 1)]),
        entry(["getppid"], errnoRet=6),
        entry(["getppid"], errnoRet=7),
    )
    f = load(source)
    report = f.profile_report
    assert report is not None
    # The first rule without conditions wins, as libseccomp keeps it.
    assert len(report.warnings) == 2
    assert report.rules == 1
    assert errnos(f, [("getppid", [1]), ("getppid", [2])]) == [errno.ENXIO, errno.ENXIO]


def test_duplicate_rules_are_merged() -> None:
    source = profile(entry(["getppid"], errnoRet=5), entry(["getppid", "getpid"], errnoRet=5))
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.rules == 2
    assert report.warnings == []
    f.close()


def test_entry_order_does_not_change_bpf() -> None:
    entries = [
        entry(["getppid"], errnoRet=5, args=[arg(0, 1)]),
        entry(["getpid", "getuid"], "SCMP_ACT_LOG"),
        entry(["getppid"], errnoRet=6, args=[arg(0, 2)]),
    ]
    first = load(profile(*entries))
    second = load(profile(*reversed(entries)))
    assert first.export_bpf() == second.export_bpf()
    first.close()
    second.close()


# Includes and excludes ------------------------------------------------------


def names_of(filter: Filter) -> List[str]:
    names: List[str] = []
    for item in entries_of(filter):
        names.extend(item["names"])
    return sorted(names)


@pytest.mark.skipif(not ON_X86_64, reason="the fixture's arch conditions name amd64")
def test_includes_and_excludes() -> None:
    path = FIXTURES / "docker_conditions.json"
    plain = load(path, capabilities=[], kernel_version="5.2")
    assert names_of(plain) == ["arch_prctl", "ptrace", "read", "uselib", "write"]

    admin = load(path, capabilities=["CAP_SYS_ADMIN"], kernel_version="5.10")
    assert names_of(admin) == ["arch_prctl", "pidfd_open", "read", "write"]

    both = load(
        path,
        capabilities=["CAP_SYS_ADMIN", "net_admin", 18],
        kernel_version=(6, 1),
    )
    assert names_of(both) == ["arch_prctl", "chroot", "close", "pidfd_open", "read", "write"]


@pytest.mark.skipif(not ON_X86_64, reason="the fixture maps x86_64 to x86 and x32")
def test_arch_map_selects_native_entry() -> None:
    f = load(FIXTURES / "docker_conditions.json")
    assert f.arches == (Arch.X86_64, Arch.X86, Arch.X32)
    f.close()


def test_arch_option_evaluates_other_arch() -> None:
    f = load(FIXTURES / "docker_conditions.json", arch="aarch64", kernel_version="6.1")
    assert f.arches == (Arch.AARCH64, Arch.ARM)
    report = f.profile_report
    assert report is not None
    excluded = {item.path for item in report.excluded}
    assert "syscalls[4]" in excluded  # arch_prctl: amd64 and x32 only
    assert "syscalls[5]" not in excluded  # set_tls: arm and arm64
    assert "syscalls[6]" not in excluded  # getpid: excluded on amd64 only
    f.close()


def test_excluded_entries_are_reported() -> None:
    f = load(FIXTURES / "docker_conditions.json", kernel_version="6.1")
    report = f.profile_report
    assert report is not None
    reasons = {item.path: item.reason for item in report.excluded}
    assert reasons["syscalls[2]"] == "includes.caps: CAP_SYS_CHROOT is not held"
    assert reasons["syscalls[8]"] == "excludes.minKernel: the kernel is that version or newer"
    f.close()


def test_architectures_and_arch_map_together() -> None:
    source = profile(
        architectures=["SCMP_ARCH_X86"],
        archMap=[{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
    )
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "archMap"


def test_unknown_architecture() -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(architectures=["SCMP_ARCH_X86", "SCMP_ARCH_Z80"]))
    assert caught.value.path == "architectures[1]"


def test_invalid_min_kernel() -> None:
    source = profile(entry(["getppid"], includes={"minKernel": "five"}))
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "syscalls[0].includes.minKernel"


def test_unknown_capability_in_profile_warns() -> None:
    f = load(profile(entry(["getppid"], includes={"caps": ["CAP_FLY"]})))
    report = f.profile_report
    assert report is not None
    assert report.warnings[0].startswith("syscalls[0].includes.caps[0]: ")
    assert report.excluded[0].reason == "includes.caps: CAP_FLY is not held"
    f.close()


def test_capability_arguments_are_checked() -> None:
    with pytest.raises(seccompx.InvalidArgumentError):
        load(profile(), capabilities=["CAP_FLY"])
    with pytest.raises(TypeError):
        load(profile(), capabilities="CAP_SYS_ADMIN")


def test_capabilities_default_to_effective_set() -> None:
    with open("/proc/self/status") as file:
        line = next(item for item in file if item.startswith("CapEff:"))
    mask = int(line.split(":")[1], 16)
    expected = _capabilities_from_mask(mask)
    source = profile(
        *[entry([name], includes={"caps": [cap]}) for name, cap in [("getppid", "CAP_SYS_ADMIN"), ("getpid", "CAP_CHOWN")]]
    )
    f = Filter.from_profile(source)
    report = f.profile_report
    assert report is not None
    excluded = {item.path for item in report.excluded}
    assert ("syscalls[0]" in excluded) == ("CAP_SYS_ADMIN" not in expected)
    assert ("syscalls[1]" in excluded) == ("CAP_CHOWN" not in expected)
    f.close()
    assert _capabilities_from_mask(1 << 21) == {"CAP_SYS_ADMIN"}
    assert len(CAPABILITIES) == 41


# Flags, listener, top level -------------------------------------------------


def test_flags_map_to_attributes() -> None:
    f = load(FIXTURES / "oci_all_fields.json")
    assert f.tsync
    assert f.log
    assert f.ssb
    f.close()


def test_unknown_flag() -> None:
    source = profile(flags=["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_FAST"])
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "flags[1]"
    assert "SECCOMP_FILTER_FLAG_TSYNC" in str(caught.value)


WAIT_KILLABLE = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
LIBSECCOMP_VERSIONS = (
    "built against libseccomp "
    + ".".join(map(str, seccompx.libseccomp_build_version()))
    + ", running with "
    + ".".join(map(str, seccompx.libseccomp_version()))
)


@pytest.mark.skipif(
    not _wait_kill_available(),
    reason="the flag sets Attr.WAIT_KILL, which needs libseccomp 2.6 both to "
    f"build and to run seccompx; this one is {LIBSECCOMP_VERSIONS}",
)
@pytest.mark.parametrize("strict", [False, True])
def test_wait_killable_flag_sets_attribute(strict: bool) -> None:
    source = profile(entry(["getppid"], "SCMP_ACT_NOTIFY"), flags=[WAIT_KILLABLE])
    f = load(source, strict=strict)
    report = f.profile_report
    assert report is not None
    assert report.warnings == []
    assert report.flags == (WAIT_KILLABLE,)
    assert f.get_attr(seccompx.Attr.WAIT_KILL) == 1
    assert WAIT_KILLABLE in f.to_profile()["flags"]
    f.close()


@pytest.mark.skipif(
    _wait_kill_available(),
    reason="libseccomp 2.6 sets the flag as Attr.WAIT_KILL; "
    "test_wait_killable_flag_sets_attribute covers that",
)
def test_wait_killable_flag_ignored_on_2_5() -> None:
    source = profile(entry(["getppid"], "SCMP_ACT_NOTIFY"), flags=[WAIT_KILLABLE])
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert warning.startswith(f"flags[0]: {WAIT_KILLABLE} is ignored: ")
    assert "libseccomp 2.5" in warning
    assert "libseccomp 2.6 or newer" in warning
    assert "(libseccomp 2.6 can)" not in warning
    assert report.flags == (WAIT_KILLABLE,)
    assert WAIT_KILLABLE not in f.to_profile().get("flags", [])
    f.close()
    with pytest.raises(ProfileError) as caught:
        load(source, strict=True)
    assert caught.value.path == "flags[0]"
    assert "libseccomp 2.5" in str(caught.value)
    assert "(strict mode)" in str(caught.value)


def test_listener_fields_kept() -> None:
    f = load(FIXTURES / "oci_all_fields.json")
    written = f.to_profile()
    f.close()
    assert written["listenerPath"] == "/run/seccompx-agent.sock"
    assert written["listenerMetadata"] == "name=test"


def test_listener_metadata_needs_path() -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(listenerMetadata="x"))
    assert caught.value.path == "listenerMetadata"


def test_unknown_fields_warn_or_raise() -> None:
    source = profile(entry(["getppid"], colour="red"), extra=1)
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert [w.split(":")[0] for w in report.warnings] == ["extra", "syscalls[0].colour"]
    f.close()
    with pytest.raises(ProfileError) as caught:
        load(source, strict=True)
    assert caught.value.path == "extra"


def test_null_fields_read_as_absent() -> None:
    source = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "defaultErrnoRet": None,
        "architectures": None,
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "args": None, "errnoRet": None, "includes": None}],
    }
    f = load(source)
    assert errnos(f, [("getppid", [])]) == [errno.EPERM]


def test_whole_oci_config_is_accepted() -> None:
    f = load(FIXTURES / "oci_config.json")
    assert f.default_action == ALLOW
    assert errnos(f, [("getcwd", [0, 0])]) == [errno.EPERM]
    bad = json.loads((FIXTURES / "oci_config.json").read_text())
    bad["linux"]["seccomp"]["syscalls"][0]["action"] = "SCMP_ACT_NOPE"
    with pytest.raises(ProfileError) as caught:
        load(bad)
    assert caught.value.path == "linux.seccomp.syscalls[0].action"


def test_invalid_json_reports_position(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"defaultAction": "SCMP_ACT_ALLOW",\n  "syscalls": [}\n')
    with pytest.raises(ProfileError) as caught:
        load(path)
    assert "line 2 column" in str(caught.value)
    assert str(path) in str(caught.value)
    with pytest.raises(ProfileError):
        parse_json(b"\xff\xfe\x00")


def test_missing_file_is_profile_error(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as caught:
        load(tmp_path / "absent.json")
    assert "No such file" in str(caught.value)


def test_profile_must_be_object() -> None:
    with pytest.raises(ProfileError):
        load([])  # type: ignore[arg-type]
    with pytest.raises(ProfileError):
        load(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        load(object())  # type: ignore[arg-type]


# Groups in profiles ---------------------------------------------------------


def test_group_names_expand() -> None:
    f = load(FIXTURES / "groups.json")
    report = f.profile_report
    assert report is not None
    written = {item["action"]: item["names"] for item in entries_of(f)}
    assert {"read", "write", "close"} <= set(written["SCMP_ACT_ALLOW"])
    assert {"rt_sigaction", "rt_sigreturn"} & set(written["SCMP_ACT_ALLOW"])
    assert {"socket", "connect"} <= set(written["SCMP_ACT_ERRNO"])
    assert report.skipped == []


def test_group_in_profile_blocks_in_kernel() -> None:
    source = profile(entry(["@network-io"], errnoRet=errno.EACCES))
    f = load(source)
    result = errnos(f, [("socket", [2, 1, 0]), ("getppid", [])])
    assert result == [errno.EACCES, 0]


def test_unknown_group_in_profile() -> None:
    f = load(profile(entry(["@no-such-group", "getppid"])))
    report = f.profile_report
    assert report is not None
    assert [(s.name, s.reason) for s in report.skipped] == [("@no-such-group", "unknown syscall group")]
    f.close()
    with pytest.raises(ProfileError) as caught:
        load(profile(entry(["@no-such-group"])), strict=True)
    assert caught.value.path == "syscalls[0].names[0]"


def test_unknown_group_warns_in_denylist_only() -> None:
    f = load(profile(entry(["@netwrok-io", "getppid"])))
    report = f.profile_report
    f.close()
    assert report is not None
    assert len(report.warnings) == 1
    warning = report.warnings[0]
    assert warning.startswith("syscalls[0].names[0]: ")
    assert "'@netwrok-io' is unknown" in warning
    assert "default action ALLOW does" in warning
    assert "did you mean '@network-io'?" in warning
    # Skipping a name from an ALLOW entry only leaves its syscalls refused.
    source = profile(entry(["@netwrok-io", "getppid"], "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO")
    g = load(source)
    report = g.profile_report
    g.close()
    assert report is not None
    assert report.warnings == []
    assert [s.name for s in report.skipped] == ["@netwrok-io"]


def test_unknown_syscall_warning_suggests_name() -> None:
    f = load(profile(entry(["opne", "zzzzqq", "getppid"])))
    report = f.profile_report
    f.close()
    assert report is not None
    assert len(report.warnings) == 2
    assert report.warnings[0].startswith("syscalls[0].names[0]: syscall 'opne' is unknown")
    # The closest names depend on the native architecture's table.
    assert "; did you mean " in report.warnings[0]
    assert "'openat'" in report.warnings[0]
    assert report.warnings[1].endswith("; check the spelling")


def test_unknown_group_without_close_name() -> None:
    f = load(profile(entry(["@zzzz"], "SCMP_ACT_KILL_PROCESS")))
    report = f.profile_report
    f.close()
    assert report is not None
    assert len(report.warnings) == 1
    assert "did you mean" not in report.warnings[0]
    assert "seccompx.groups.group_names()" in report.warnings[0]


def test_unknown_group_strict_suggests_name() -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(entry(["@netwrok-io"])), strict=True)
    assert caught.value.path == "syscalls[0].names[0]"
    assert "did you mean '@network-io'?" in str(caught.value)


# ENOSYS for syscalls newer than the profile ---------------------------------

# Enough for a Python child to make ctypes calls, report and exit.
CHILD_BASICS = ["write", "exit_group", "brk", "mmap", "munmap", "rt_sigprocmask", "futex", "madvise"]


def test_enosys_for_numbers_above_profile() -> None:
    source = profile(entry(CHILD_BASICS, "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO")
    plain = load(source)
    stubbed = load(source, enosys_for_unknown=True)
    report = stubbed.profile_report
    assert report is not None and report.enosys is not None
    first, last = report.enosys
    highest = max(nr(name) for name in CHILD_BASICS)
    assert first == highest + 1
    below = min(nr(name) for name in ("getppid", "getpid") )
    assert below < highest
    calls = [(below, []), (last, []), (last + 1, [])]
    assert [err for _, err in call_in_child(plain, calls)] == [errno.EPERM] * 3
    assert [err for _, err in call_in_child(stubbed, calls)] == [errno.EPERM, errno.ENOSYS, errno.EPERM]


@pytest.mark.skipif(not ON_X86_64, reason="needs a second architecture for the filter")
def test_enosys_stub_stays_on_native_arch() -> None:
    source = profile(
        entry(CHILD_BASICS, "SCMP_ACT_ALLOW"),
        default="SCMP_ACT_ERRNO",
        architectures=["SCMP_ARCH_X86"],
    )
    f = load(source, enosys_for_unknown=True)
    assert f.arches == (Arch.X86_64, Arch.X86)
    pfc = f.export_pfc()
    f.close()
    x86_part = pfc.split("filter for arch x86 ")[1]
    assert "ERRNO(38)" not in x86_part


@pytest.mark.parametrize("default", ["SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_TRACE"])
def test_enosys_not_applied_to_permissive_default(default: str) -> None:
    f = load(profile(entry(["getppid"], "SCMP_ACT_KILL"), default=default), enosys_for_unknown=True)
    report = f.profile_report
    assert report is not None
    assert report.enosys is None
    assert report.warnings[0].startswith("enosys_for_unknown not applied")
    f.close()


def test_enosys_counts_rules_equal_to_default() -> None:
    source = profile(
        entry(["read"], "SCMP_ACT_ALLOW"),
        entry(["getppid"], "SCMP_ACT_ERRNO"),
        default="SCMP_ACT_ERRNO",
    )
    f = load(source, enosys_for_unknown=True)
    report = f.profile_report
    assert report is not None and report.enosys is not None
    assert report.enosys[0] == max(nr("read"), nr("getppid")) + 1
    f.close()


def test_rule_with_more_conditions_is_dropped() -> None:
    short = entry(["getppid"], errnoRet=5, args=[arg(0, 1)])
    long = entry(["getppid"], errnoRet=6, args=[arg(0, 1), arg(1, 2)])
    for order in ([short, long], [long, short]):
        f = load(profile(*order))
        report = f.profile_report
        assert report is not None
        assert report.rules == 1
        assert len(report.warnings) == 1
        assert "never applies" in report.warnings[0]
        assert errnos(f, [("getppid", [1, 2]), ("getppid", [1, 3])]) == [errno.EIO, errno.EIO]


def test_sibling_conditions_on_one_argument_both_kept() -> None:
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 1)]),
        entry(["getppid"], errnoRet=6, args=[arg(0, 2)]),
    )
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.rules == 2
    assert errnos(f, [("getppid", [1, 0]), ("getppid", [2, 0])]) == [errno.EIO, errno.ENXIO]


def test_sibling_conditions_matching_one_call_rejected() -> None:
    # getppid(1, 2) matches both entries, and libseccomp would give it the
    # errno of the entry on the higher argument.
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 1)]),
        entry(["getppid"], errnoRet=6, args=[arg(1, 2)]),
    )
    with pytest.raises(seccompx.ProfileError) as info:
        load(source)
    message = str(info.value)
    assert "syscalls[1]" in message
    assert "argument 0 equal to 0x1 and argument 1 equal to 0x2" in message


@pytest.mark.skipif(not ON_X86_64, reason="needs the 32-bit x86 architecture")
def test_wide_value_on_32bit_arch_warns() -> None:
    source = profile(
        entry(["getppid"], errnoRet=5, args=[arg(0, 2**32 + 1)]),
        architectures=["SCMP_ARCH_X86"],
    )
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.warnings[0].startswith("syscalls[0].args[0].value: 0x100000001 is above 32 bits")
    f.close()
    native_only = load(profile(entry(["getppid"], errnoRet=5, args=[arg(0, 2**32 + 1)])))
    assert native_only.profile_report is not None
    assert native_only.profile_report.warnings == []
    native_only.close()


# Never-matching comparisons -------------------------------------------------


@pytest.mark.parametrize(
    "op, value", [("SCMP_CMP_LT", 0), ("SCMP_CMP_GT", 2**64 - 1)]
)
def test_never_matching_comparison_is_left_out(op: str, value: int) -> None:
    source = profile(entry(["getppid"], errnoRet=5, args=[arg(0, value, op)]))
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.rules == 0
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith("syscalls[0].args[0]: ")
    assert f"{op} with value {value:#x} can never match" in report.warnings[0]
    f.close()
    with pytest.raises(ProfileError) as caught:
        load(source, strict=True)
    assert caught.value.path == "syscalls[0].args[0]"
    assert "never match" in str(caught.value)


def test_never_matching_condition_in_or_keeps_others() -> None:
    # Two conditions on one index are OR: the impossible one drops alone.
    args = [arg(0, 0, "SCMP_CMP_LT"), arg(0, 7)]
    f = load(profile(entry(["getppid"], errnoRet=5, args=args)))
    report = f.profile_report
    assert report is not None
    assert report.rules == 1
    assert errnos(f, [("getppid", [7]), ("getppid", [0])]) == [errno.EIO, 0]


def test_edge_comparisons_that_can_match_are_kept() -> None:
    args = [arg(0, 1, "SCMP_CMP_LT"), arg(1, 2**64 - 2, "SCMP_CMP_GT")]
    f = load(profile(entry(["getppid"], errnoRet=5, args=args)))
    report = f.profile_report
    assert report is not None
    assert report.rules == 1
    assert report.warnings == []
    assert errnos(f, [("getppid", [0, 2**64 - 1]), ("getppid", [1, 2**64 - 1])]) == [
        errno.EIO,
        0,
    ]


# Hostile input -------------------------------------------------------------

HUGE = 10**5000


def test_huge_integer_in_json_names_path() -> None:
    text = '{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1' + "0" * 5000 + "}"
    with pytest.raises(ProfileError) as caught:
        load(parse_json(text))
    assert caught.value.path == "defaultErrnoRet"
    assert "5001-digit integer is out of range" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "value, shown",
    [
        (HUGE, "an integer of 16610 bits"),
        (-HUGE, "a negative integer of 16610 bits"),
        ([HUGE], "(too large to show)"),
    ],
    ids=["huge", "huge-negative", "array-of-huge"],
)
def test_huge_integer_in_mapping_names_path(value: Any, shown: str) -> None:
    source = profile(entry(["getppid"], args=[arg(0, 0)]))
    source["syscalls"][0]["args"][0]["value"] = value
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "syscalls[0].args[0].value"
    assert shown in str(caught.value)


def test_huge_numbers_in_options_are_rejected() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="integer of 16610 bits"):
        load(profile(), capabilities=[HUGE])
    with pytest.raises(seccompx.InvalidArgumentError, match="no version number"):
        load(profile(), kernel_version="5" + "0" * 5000 + ".1")
    source = profile(entry(["getppid"], includes={"minKernel": "1" + "0" * 5000 + ".0"}))
    with pytest.raises(ProfileError) as caught:
        load(source)
    assert caught.value.path == "syscalls[0].includes.minKernel"


def test_kernel_version_type_is_checked() -> None:
    with pytest.raises(TypeError, match="kernel_version must be a string"):
        load(profile(), kernel_version=5)


def test_long_values_are_cut_short_in_messages() -> None:
    with pytest.raises(ProfileError) as caught:
        load(profile(default="SCMP_ACT_" + "X" * 10000))
    assert len(str(caught.value)) < 400


@pytest.mark.parametrize(
    "text, path, key",
    [
        ('{"defaultAction": "SCMP_ACT_KILL", "defaultAction": "SCMP_ACT_ALLOW"}',
         "defaultAction", "defaultAction"),
        ('{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"],'
         ' "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1,'
         ' "op": "SCMP_CMP_EQ", "op": "SCMP_CMP_NE"}]}]}',
         "syscalls[0].args[0].op", "op"),
        ('{"linux": {"seccomp": {"defaultAction": "SCMP_ACT_ALLOW", "flags": [],'
         ' "flags": []}}}',
         "linux.seccomp.flags", "flags"),
    ],
)
def test_duplicate_keys_are_rejected(text: str, path: str, key: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_json(text)
    assert caught.value.path == path
    assert f"duplicate key {key!r}" in str(caught.value)


def test_duplicate_keys_in_file_name_it(tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"defaultAction": "SCMP_ACT_KILL", "defaultAction": "SCMP_ACT_ALLOW"}')
    with pytest.raises(ProfileError) as caught:
        load(path)
    assert caught.value.path == "defaultAction"
    assert "twice.json" in str(caught.value)


def test_odd_field_name_is_escaped_in_path() -> None:
    source = profile(entry(["getppid"], **{"x\x00\x1b[31m": 1}))
    f = load(source)
    report = f.profile_report
    assert report is not None
    assert report.warnings[0].startswith('syscalls[0]["x\\u0000\\u001b[31m"]: ')
    assert report.warnings[0].isprintable()
    f.close()


def test_path_with_nul_is_profile_error() -> None:
    with pytest.raises(ProfileError, match="NUL"):
        load("bad\x00name.json")


MULTIPLEXED_PROFILE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
    "syscalls": [
        {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["socket"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
        },
    ],
}


def test_multiplexed_argument_rule_reported():
    f = seccompx.Filter.from_profile(MULTIPLEXED_PROFILE)
    warnings_text = " ".join(f.profile_report.warnings)
    assert "syscalls[1]" in warnings_text
    assert "socketcall" in warnings_text
    f.close()


def test_multiplexed_argument_rule_strict_raises():
    with pytest.raises(seccompx.ProfileError, match=r"syscalls\[1\].*socketcall"):
        seccompx.Filter.from_profile(MULTIPLEXED_PROFILE, strict=True)


def test_overlapping_entries_blame_seccompx_check() -> None:
    source = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {
                "names": ["read"],
                "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_LT"}],
            },
            {
                "names": ["read"],
                "action": "SCMP_ACT_KILL",
                "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_GT"}],
            },
        ],
    }
    with pytest.raises(ProfileError) as caught:
        load(source)
    message = str(caught.value)
    assert message.startswith("syscalls[1]: the rule for read cannot be added: ")
    assert "argument 0 equal to 0x2" in message
