"""Messages for bad input name the value and the fix.

Each table row is (description, call, exception class, texts the message
must contain).  No test here loads a filter: every call fails before a
filter could be loaded, or only reads a profile.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Dict, List, Tuple, Type

import pytest

import seccompx
from seccompx import (
    ALLOW,
    ERRNO,
    TRAP,
    ActionKind,
    Arg,
    Attr,
    Filter,
    ProfileError,
    groups,
)

Case = Tuple[str, Callable[[], Any], Type[BaseException], Tuple[str, ...]]

OTHER_ARCH = "aarch64" if seccompx.Arch.native() is not seccompx.Arch.AARCH64 else "x86_64"


def _ids(cases: List[Case]) -> List[str]:
    return [case[0] for case in cases]


def _check(
    call: Callable[[], Any], error: Type[BaseException], texts: Tuple[str, ...]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.FilterNotLoadedWarning)
        with pytest.raises(error) as info:
            call()
    assert type(info.value) is error, repr(info.value)
    message = str(info.value)
    for text in texts:
        assert text in message, f"{text!r} not in {message!r}"


# Profile entries split into OR rules ---------------------------------------


def _arg(index: int, value: int, op: str = "SCMP_CMP_EQ") -> Dict[str, Any]:
    return {"index": index, "value": value, "op": op}


def _profile(names: List[str], args: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
            {"names": names, "action": "SCMP_ACT_ERRNO", "args": args},
        ],
    }


RANGE_ARGS = [_arg(0, 1, "SCMP_CMP_GE"), _arg(0, 5, "SCMP_CMP_LE")]
SEVEN_ARGS = [_arg(i % 6, i) for i in range(7)]
TWO_SHARED_ARGS = [_arg(0, 1), _arg(0, 2), _arg(3, 4), _arg(3, 5)]

# (description, names, args, texts the warning must contain)
SPLIT_CASES = [
    ("range on one index", ["getppid"], RANGE_ARGS,
     ("syscalls[1].args: ", "'getppid'", "argument index 0",
      "each of the 2 conditions", "any one of the conditions")),
    ("seven conditions", ["getppid", "getuid"], SEVEN_ARGS,
     ("'getppid', 'getuid'", "argument index 0", "each of the 7 conditions")),
    ("two shared indexes", ["getppid"], TWO_SHARED_ARGS,
     ("argument indexes 0, 3", "each of the 4 conditions")),
]


def _read(profile: Dict[str, Any], strict: bool = False) -> Filter:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.FilterNotLoadedWarning)
        return Filter.from_profile(profile, strict=strict)


@pytest.mark.parametrize(
    "name,names,args,texts", SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES]
)
def test_split_entry_warns(name, names, args, texts):
    f = _read(_profile(names, args))
    report = f.profile_report
    f.close()
    assert report is not None
    assert len(report.warnings) == 1, report.warnings
    for text in texts:
        assert text in report.warnings[0], report.warnings[0]


@pytest.mark.parametrize(
    "name,names,args,texts", SPLIT_CASES, ids=[c[0] for c in SPLIT_CASES]
)
def test_split_entry_strict_raises(name, names, args, texts):
    _check(
        lambda: _read(_profile(names, args), strict=True),
        ProfileError,
        texts[1:] + ("(strict mode)",),
    )


def test_split_entry_keeps_runc_rules():
    f = _read(_profile(["getppid"], SEVEN_ARGS))
    report = f.profile_report
    f.close()
    assert report is not None
    # getpid's entry is one rule, and each of the seven conditions one more.
    assert report.rules == 8


def test_distinct_indexes_do_not_warn():
    f = _read(_profile(["getppid"], [_arg(0, 1), _arg(1, 2)]))
    report = f.profile_report
    f.close()
    assert report is not None
    assert report.warnings == []
    assert report.rules == 2


def test_excluded_split_entry_does_not_warn():
    profile = _profile(["getppid"], RANGE_ARGS)
    profile["syscalls"][1]["excludes"] = {"caps": ["CAP_SYS_ADMIN"]}
    f = _read(profile)
    report = f.profile_report
    f.close()
    assert report is not None
    assert report.warnings == []
    assert len(report.excluded) == 1


# add_rules -----------------------------------------------------------------


def _add_rules(rules: Any) -> Any:
    f = Filter(ERRNO(1))
    try:
        return f.add_rules(rules)
    finally:
        f.close()


ADD_RULES_CASES: List[Case] = [
    ("single comparison", lambda: _add_rules([(ALLOW, "read", Arg(0) == 1)]),
     TypeError, ("rules[0]: comparisons must be a sequence", "(Arg(0) == 0x1,)",
                 "not a single Comparison")),
    ("single comparison later", lambda: _add_rules(
        [(ALLOW, "read"), (ALLOW, "write", Arg(1) > 2)]),
     TypeError, ("rules[1]: ", "(Arg(1) > 0x2,)")),
    ("one item", lambda: _add_rules([("x",)]),
     TypeError, ("rules[0] has 1 item,", "needs 2 or 3")),
    ("four items", lambda: _add_rules([(ALLOW, "read", (), 4)]),
     TypeError, ("rules[0] has 4 items", "needs 2 or 3")),
    ("int comparisons", lambda: _add_rules([(ALLOW, "read", 5)]),
     TypeError, ("rules[0]: comparisons must be a sequence", "not int 5")),
    ("str comparisons", lambda: _add_rules([(ALLOW, "read", "ab")]),
     TypeError, ("rules[0]: comparisons", "not str 'ab'")),
    ("rule not a tuple", lambda: _add_rules([ALLOW]),
     TypeError, ("rules[0] must be an (action, syscall[, comparisons]) tuple",
                 "ALLOW")),
    ("rules None", lambda: _add_rules(None),
     TypeError, ("rules must be an iterable of (action, syscall",
                 "not NoneType")),
    ("rules int", lambda: _add_rules(3),
     TypeError, ("rules must be an iterable", "not int")),
]


@pytest.mark.parametrize(
    "name,call,error,texts", ADD_RULES_CASES, ids=_ids(ADD_RULES_CASES)
)
def test_add_rules_input_rejected(name, call, error, texts):
    _check(call, error, texts)


def test_add_rules_accepts_every_comparison_form():
    f = Filter(ERRNO(1))
    rules = [
        (ALLOW, "read"),
        [ALLOW, "write", [Arg(0) == 1]],
        (ALLOW, "close", None),
        (ALLOW, "dup", {Arg(0) == 3}),
        (ALLOW, "getpid", (cmp for cmp in [Arg(0) == 0])),
    ]
    added = f.add_rules(iter(rules))
    count = f.rule_count
    f.reset()
    f.close()
    assert added == 5
    assert count == 5


# Groups --------------------------------------------------------------------


def _allow_group(*names: Any) -> Any:
    f = Filter(ERRNO(1))
    try:
        return f.allow_group(*names)
    finally:
        f.close()


def _deny_group(*names: Any) -> Any:
    f = Filter(ALLOW)
    try:
        return f.deny_group(*names)
    finally:
        f.close()


GROUP_CASES: List[Case] = [
    ("allow_group None", lambda: _allow_group(None),
     TypeError, ("group name must be a str", "not NoneType None")),
    ("allow_group bytes", lambda: _allow_group("@sync", b"@aio"),
     TypeError, ("not bytes b'@aio'",)),
    ("deny_group int", lambda: _deny_group(7),
     TypeError, ("not int 7",)),
    ("expand None", lambda: groups.expand(None),
     TypeError, ("not NoneType None",)),
    ("unknown group", lambda: _allow_group("@nonsense"),
     seccompx.InvalidArgumentError, ("'@nonsense'", "@basic-io")),
    ("group_rules str action", lambda: groups.group_rules("@sync", "ALLOW", ["x86_64"]),
     TypeError, ("action must be a seccompx.Action", "not str 'ALLOW'")),
    ("group_rules action kind", lambda: groups.group_rules("@sync", ActionKind.ALLOW),
     TypeError, ("action must be a seccompx.Action", "ActionKind.ALLOW")),
    ("group_rules int action", lambda: groups.group_rules("@sync", 0x7FFF0000),
     TypeError, ("not int 2147418112",)),
]


@pytest.mark.parametrize("name,call,error,texts", GROUP_CASES, ids=_ids(GROUP_CASES))
def test_group_input_rejected(name, call, error, texts):
    _check(call, error, texts)


def test_group_rules_keep_the_action():
    rules = groups.group_rules("@sync", ERRNO(3))
    assert rules
    assert {action for action, _ in rules} == {ERRNO(3)}


# Attributes and merge ------------------------------------------------------


def _merge(**source_options: Any) -> Any:
    target = Filter(ERRNO(1))
    options: Dict[str, Any] = {"default": ERRNO(1), "arches": [OTHER_ARCH]}
    options.update(source_options)
    source = Filter(**options)
    try:
        return target.merge(source)
    finally:
        source.close()
        target.close()


def _set_attr(attr: Attr, value: Any) -> Any:
    f = Filter(ERRNO(1))
    try:
        return f.set_attr(attr, value)
    finally:
        f.close()


def _native_bad_arch_action() -> str:
    f = Filter(ERRNO(1))
    try:
        return repr(f.bad_arch_action)
    finally:
        f.close()


ATTR_CASES: List[Case] = [
    ("merge default action", lambda: _merge(default=ERRNO(2)),
     seccompx.InvalidArgumentError,
     ("default action differs", "ERRNO(1) in this filter", "ERRNO(2) in the other")),
    ("merge bad-arch action", lambda: _merge(bad_arch=TRAP),
     seccompx.InvalidArgumentError,
     ("bad_arch differs", f"{_native_bad_arch_action()} in this filter",
      "TRAP in the other")),
    ("merge flag", lambda: _merge(log=True),
     seccompx.InvalidArgumentError, ("log differs", "0x0", "0x1")),
    ("set_attr wrong type", lambda: _set_attr(Attr.NO_NEW_PRIVS, "on"),
     TypeError, ("attribute NO_NEW_PRIVS value must be an int", "not str 'on'")),
    ("set_attr out of range", lambda: _set_attr(Attr.LOG, 2**40),
     seccompx.InvalidArgumentError, ("attribute LOG value 1099511627776",)),
]


@pytest.mark.parametrize("name,call,error,texts", ATTR_CASES, ids=_ids(ATTR_CASES))
def test_attribute_input_rejected(name, call, error, texts):
    _check(call, error, texts)


@pytest.mark.parametrize("level", [0, 3, 7, -1])
def test_set_attr_optimize_invalid_level(level: int) -> None:
    f = Filter(ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        f.set_attr(seccompx.Attr.OPTIMIZE, level)
    assert f"optimize level {level}" in str(info.value)
    assert "use 1" in str(info.value)
    f.set_attr(seccompx.Attr.OPTIMIZE, 2)
    assert f.optimize == 2
    f.close()


def test_multiplexed_name_explained_on_x86() -> None:
    if seccompx._core.resolve_name("socketcall", int(seccompx.Arch.X86)) < 0:
        pytest.skip("this libseccomp has no socketcall on x86")
    try:
        number = seccompx.resolve_syscall("socket", "x86")
    except seccompx.UnknownSyscallError as error:
        message = str(error)
        assert "'socket'" in message
        assert "socketcall(2)" in message
        assert error.syscall == "socket"
        return
    assert number > 0  # a libseccomp that maps socket to its direct number


@pytest.mark.parametrize("arches", ["x86", b"x86", 3])
def test_group_available_rejects_single_arch(arches: object) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        seccompx.groups.available("@network-io", arches)  # type: ignore[arg-type]
    assert repr(arches) in str(info.value)
    assert "list of architectures" in str(info.value)


def _replace_sigsys_handler() -> int:
    import signal

    signal.signal(signal.SIGSYS, signal.SIG_IGN)
    return 1


def test_sandbox_guard_names_itself() -> None:
    from seccompx import sandbox

    with pytest.raises(seccompx.SandboxViolation) as info:
        sandbox.run(_replace_sigsys_handler, filter=Filter(ALLOW))
    message = str(info.value)
    assert "rt_sigaction(SIGSYS" in message
    assert "report='kill'" in message
    assert info.value.syscall == "rt_sigaction"
    # With report="kill" the sandbox installs no handler to protect.
    assert sandbox.run(_replace_sigsys_handler, filter=Filter(ALLOW), report="kill") == 1


@pytest.mark.parametrize(
    "rules, kind, expected",
    [
        ([(ALLOW, "read"), (ALLOW, "write", [(9, 4, 1, 0)])],
         seccompx.InvalidArgumentError, "rules[1]: argument index 9"),
        ([(ALLOW, "read"), (ALLOW, "write", [5])], TypeError, "rules[1]: "),
        (iter([(ALLOW, "write", [5])]), TypeError, "not int 5"),
    ],
)
def test_add_rules_comparison_error_names_rule(rules, kind, expected) -> None:
    f = Filter(ERRNO(1))
    with pytest.raises(kind) as info:
        f.add_rules(rules)
    assert expected in str(info.value)
    assert f.rule_count == 0
    f.close()


@pytest.mark.parametrize("action", [ALLOW, seccompx.LOG])
def test_deny_rejects_allowing_action(action) -> None:
    f = Filter(seccompx.KILL_PROCESS)
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        f.deny("read", action=action)
    assert repr(action) in str(info.value)
    assert "allow()" in str(info.value)
    assert f.rule_count == 0
    f.close()


def test_profile_typo_in_denylist_warns() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["exceve", "execve"], "action": "SCMP_ACT_ERRNO"}],
    }
    f = Filter.from_profile(profile)
    assert f.profile_report is not None
    warnings = f.profile_report.warnings
    assert len(warnings) == 1
    assert "'exceve'" in warnings[0]
    assert "did you mean 'execve'" in warnings[0]
    f.close()
    # In an allowlist the same typo only leaves the syscall refused.
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["exceve", "read"], "action": "SCMP_ACT_ALLOW"}],
    }
    g = Filter.from_profile(profile)
    assert g.profile_report is not None
    assert g.profile_report.warnings == []
    g.close()
