"""Filter.to_profile(): writing filters back as OCI profiles."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any, Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seccompx
from seccompx import ALLOW, ERRNO, Arch, Arg, Filter, FilterStateError, ProfileError
from seccompx._types import _wait_kill_available

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
ON_X86_64 = Arch.native() is Arch.X86_64


def bpf_of(filter: Filter) -> bytes:
    program = filter.export_bpf()
    filter.close()
    return program


def round_trip(source: Any, **options: Any) -> None:
    """Assert profile -> filter -> profile -> filter keeps the BPF."""
    first = Filter.from_profile(source, **options)
    written = first.to_profile()
    json.dumps(written)  # must be plain JSON data
    second = Filter.from_profile(written, **options)
    assert second.to_profile() == written
    assert bpf_of(second) == bpf_of(first)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json") if p.name != "bad_operator.json"))
def test_fixture_round_trip(name: str) -> None:
    round_trip(FIXTURES / name, capabilities=[], kernel_version="6.1")


def test_round_trip_with_enosys_stub() -> None:
    source = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read", "write", "futex"], "action": "SCMP_ACT_ALLOW"}],
    }
    round_trip(source, enosys_for_unknown=True)


def test_written_profile_groups_names() -> None:
    f = Filter(ERRNO(errno.EPERM))
    f.allow("read", "write")
    f.add_rule(ERRNO(5), "openat", Arg(2) == 0)
    f.add_rule(ERRNO(5), "open", Arg(2) == 0)
    f.deny("close", action=ERRNO(9))
    written = f.to_profile()
    f.close()
    assert written["defaultAction"] == "SCMP_ACT_ERRNO"
    assert written["defaultErrnoRet"] == errno.EPERM
    assert written["architectures"] == ["SCMP_ARCH_" + Arch.native().name]
    assert written["syscalls"] == [
        {"names": ["close"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9},
        {
            "names": ["open", "openat"],
            "action": "SCMP_ACT_ERRNO",
            "errnoRet": 5,
            "args": [{"index": 2, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
        },
        {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
    ]


def test_hand_built_filter_round_trip() -> None:
    f = Filter(ERRNO(errno.EPERM))
    f.add_rules(
        [
            (ALLOW, "read"),
            (ALLOW, "write", [Arg(0) == 1]),
            (ERRNO(7), seccompx.resolve_syscall("getppid")),
            (ALLOW, "mmap", [Arg(2, width=32).masked_eq(0xFFFF, 3), Arg(3) < 9]),
        ]
    )
    written = f.to_profile()
    names = sorted(name for item in written["syscalls"] for name in item["names"])
    assert names == ["getppid", "mmap", "read", "write"]
    again = Filter.from_profile(written)
    assert again.to_profile() == written
    again.close()
    f.close()


def test_flags_written_from_attributes() -> None:
    f = Filter(ALLOW, tsync=False, log=True, ssb=True)
    assert f.to_profile()["flags"] == ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
    f.close()
    f = Filter(ALLOW, tsync=False)
    assert "flags" not in f.to_profile()
    f.close()


@pytest.mark.skipif(
    not _wait_kill_available(),
    reason="Attr.WAIT_KILL needs seccompx built against and running with "
    "libseccomp 2.6, and this one has libseccomp "
    + ".".join(map(str, seccompx.libseccomp_version())),
)
def test_wait_killable_flag_round_trip() -> None:
    f = Filter(ALLOW, tsync=False)
    f.add_rule(seccompx.NOTIFY, "getppid")
    f.set_attr(seccompx.Attr.WAIT_KILL, 1)
    written = f.to_profile()
    f.close()
    assert written["flags"] == ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
    again = Filter.from_profile(written)
    assert again.get_attr(seccompx.Attr.WAIT_KILL) == 1
    assert again.to_profile()["flags"][-1] == "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
    again.close()


def test_reset_clears_recorded_rules() -> None:
    f = Filter(ERRNO(1))
    f.allow("read")
    f.reset()
    assert f.to_profile()["syscalls"] == []
    f.close()


def test_merge_makes_rules_unknown() -> None:
    f = Filter(ERRNO(1))
    f.allow("read")
    other = Filter(ERRNO(1), arches=["x86"] if ON_X86_64 else ["x86_64"])
    f.merge(other)
    with pytest.raises(FilterStateError):
        f.to_profile()
    f.close()


@pytest.mark.skipif(not ON_X86_64, reason="adds the x86 architecture")
def test_add_arch_after_rules_round_trip() -> None:
    f = Filter(ERRNO(1))
    f.allow("read", "write")
    f.add_arch("x86")
    written = f.to_profile()
    assert written["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]
    again = Filter.from_profile(written)
    assert again.to_profile() == written
    assert bpf_of(again) == bpf_of(f)


def test_number_without_name_cannot_be_written() -> None:
    f = Filter(ERRNO(1))
    with pytest.warns(seccompx.UnmatchableRuleWarning, match="number 1000 has no name"):
        f.add_rule(ALLOW, 1000)
    with pytest.raises(seccompx.InvalidArgumentError):
        f.to_profile()
    f.close()


# Property: random profiles survive the round trip ---------------------------

NAMES = ["read", "write", "getppid", "getpid", "openat", "close", "clone", "socket", "@basic-io", "@timer", "no_such_call"]
ACTIONS = ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_KILL"]
OPS = ["SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"]


@st.composite
def profile_args(draw: Any) -> Dict[str, Any]:
    op = draw(st.sampled_from(OPS))
    value = draw(st.sampled_from([0, 1, 2, 0xFF, 2**32, 2**64 - 1]))
    value_two = draw(st.sampled_from([0, 1, 3])) if op == "SCMP_CMP_MASKED_EQ" else 0
    return {"index": draw(st.integers(0, 2)), "value": value, "valueTwo": value_two, "op": op}


@st.composite
def profile_entries(draw: Any) -> Dict[str, Any]:
    action = draw(st.sampled_from(ACTIONS))
    item: Dict[str, Any] = {
        "names": draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3)),
        "action": action,
    }
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE") and draw(st.booleans()):
        item["errnoRet"] = draw(st.sampled_from([1, 5, 38]))
    args = draw(st.lists(profile_args(), max_size=3))
    if args:
        item["args"] = args
    return item


@st.composite
def profiles(draw: Any) -> Dict[str, Any]:
    source: Dict[str, Any] = {
        "defaultAction": draw(st.sampled_from(["SCMP_ACT_ERRNO", "SCMP_ACT_ALLOW", "SCMP_ACT_KILL_PROCESS"])),
        "syscalls": draw(st.lists(profile_entries(), max_size=6)),
    }
    if ON_X86_64:
        arches = draw(st.lists(st.sampled_from(["SCMP_ARCH_X86", "SCMP_ARCH_X32"]), unique=True))
        if arches:
            source["architectures"] = arches
    return source


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles())
def test_random_profile_round_trip(source: Dict[str, Any]) -> None:
    try:
        first = Filter.from_profile(source, capabilities=[])
    except ProfileError:
        return  # conflicting random entries; covered by other tests
    written = first.to_profile()
    second = Filter.from_profile(written, capabilities=[])
    assert second.profile_report is not None
    assert second.profile_report.skipped == []
    assert second.to_profile() == written
    assert bpf_of(second) == bpf_of(first)


def test_random_profiles_mostly_valid() -> None:
    # The property above must not pass by rejecting everything.
    valid: List[bool] = []

    @settings(max_examples=60, deadline=None, database=None)
    @given(profiles())
    def count(source: Dict[str, Any]) -> None:
        try:
            Filter.from_profile(source, capabilities=[]).close()
            valid.append(True)
        except ProfileError:
            valid.append(False)

    count()
    assert sum(valid) > len(valid) // 2
