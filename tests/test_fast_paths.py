"""The one-call paths of Filter(default), allow(), deny() and load().

Filter with every keyword at its default, allow() and deny() of names, and
load() of a filter without NOTIFY actions each run as a single call into
the extension, and so does add_rules() of (Action, name[, comparisons])
tuples.  These tests check that those calls build exactly the filter the
general path builds, and that they hand every other case to it.
"""

from __future__ import annotations

import errno
import os
import pickle
import sys
import warnings

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Attr, Filter

from childproc import run_in_child

ATTRS = [Attr.DEFAULT_ACTION, Attr.BAD_ARCH_ACTION, Attr.NO_NEW_PRIVS, Attr.TSYNC,
         Attr.LOG, Attr.SSB, Attr.OPTIMIZE, Attr.RAW_RC]


def attrs(f: Filter) -> dict:
    return {attr: f.get_attr(attr) for attr in ATTRS}


def general(default: seccompx.Action) -> Filter:
    # Naming the native architecture takes the general path and changes
    # nothing else.
    return Filter(default, arches=[Arch.native()])


@pytest.mark.parametrize("default", [KILL_PROCESS, ERRNO(1), ALLOW, seccompx.TRAP])
def test_default_filter_matches_general(default):
    Filter(default).close()  # records the defaults if nothing did yet
    fast, slow = Filter(default), general(default)
    assert fast.__dict__ == {}, "the one-call path should need no instance dict"
    assert attrs(fast) == attrs(slow)
    assert fast.strict is False
    assert slow.strict is False
    assert fast._rules == []
    assert slow._rules == []
    assert fast.profile_report is None
    fast.close()
    slow.close()


def test_allow_deny_same_program():
    names = ("read", "write", "close", "fstat", "exit_group")
    fast = Filter(ERRNO(errno.EACCES))
    fast.allow(*names)
    fast.deny("openat", "socket")
    slow = general(ERRNO(errno.EACCES))
    slow.add_rules([(ALLOW, name) for name in names])
    slow.add_rules([(ERRNO(errno.EPERM), name) for name in ("openat", "socket")])
    assert fast.rule_count == slow.rule_count == 7
    assert fast.export_bpf() == slow.export_bpf()
    # The profile lists the same rules, whichever path recorded them.
    assert fast.to_profile()["syscalls"] == slow.to_profile()["syscalls"]


def test_allow_numbers_general_path():
    f = Filter(ERRNO(1))
    number = seccompx.resolve_syscall("getpid")
    assert f.allow(number, "getppid") == 2
    assert (ALLOW.value, number) in f._rules
    with pytest.warns(seccompx.UnmatchableRuleWarning):
        f.allow(0x7FFFFFF0)
    f.export_bpf()


def test_strict_filter_raises():
    f = Filter(ERRNO(1), strict=True)
    f.allow("read")
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("no_such_syscall")
    f.close()


def test_failed_batch_records_nothing():
    f = Filter(ERRNO(1))
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("read", "no_such_syscall")
    assert f.rule_count == 0
    assert f._rules == []
    f.close()


def test_changes_after_load_rejected():
    def body(fd: int) -> int:
        f = Filter(ALLOW)
        f.deny("getppid", action=ERRNO(errno.EPERM))
        f.load()
        for change in (lambda: f.allow("read"), lambda: f.deny("getpid")):
            try:
                change()
            except seccompx.FilterStateError:
                continue
            return 3
        try:
            os.getppid()
        except OSError:
            return 4
        # os.getppid() does not check for errors, so the raw call shows the
        # errno.
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.syscall(seccompx.resolve_syscall("getppid")) != -1:
            return 5
        return 0 if ctypes.get_errno() == errno.EPERM else 6

    result = run_in_child(body)
    assert result.exitcode == 0, result


def test_one_call_load_enforces():
    def body(fd: int) -> int:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            f = Filter(ERRNO(errno.ENOSYS))
            f.allow("write", "exit_group", "exit", "rt_sigreturn", "brk", "mmap",
                    "munmap", "futex")
            f.load()
        if not f._used:
            os.write(fd, b"not marked used")
            return 3
        os.write(fd, b"loaded")
        try:
            os.open("/", os.O_RDONLY)
        except OSError as error:
            return 0 if error.errno == errno.ENOSYS else 4
        return 5

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.output == b"loaded"


def test_stale_defaults_use_general_path(monkeypatch, tmp_path):
    fake = tmp_path / "actions_avail"
    fake.write_text("kill_thread trap errno user_notif trace log allow\n")
    Filter(ALLOW).close()
    monkeypatch.setattr(seccompx._filter, "_ACTIONS_AVAIL", str(fake))
    seccompx.actions_available.cache_clear()
    try:
        f = Filter(ALLOW)
        assert f.bad_arch_action == seccompx.KILL_THREAD
        f.close()
    finally:
        monkeypatch.undo()
        seccompx.actions_available.cache_clear()
    f = Filter(ALLOW)
    assert f.bad_arch_action == KILL_PROCESS
    f.close()


def fast_path_ready(default: seccompx.Action = ALLOW) -> bool:
    """Return whether the extension would build Filter(default) itself."""
    probe = Filter.__new__(Filter)
    done = probe._init_default(default, seccompx.actions_available(), None)
    if done:
        probe.close()
    return done


def test_fast_path_does_not_call_actions_available():
    Filter(ALLOW).close()
    before = seccompx.actions_available.cache_info()
    f = Filter(ALLOW)
    f.add_rules([(ERRNO(1), "getppid")])
    f.close()
    after = seccompx.actions_available.cache_info()
    assert after.hits == before.hits
    assert after.misses == before.misses


def test_cache_clear_forgets_defaults():
    Filter(ALLOW).close()
    assert fast_path_ready()
    seccompx.actions_available.cache_clear()
    assert not fast_path_ready()
    Filter(ALLOW).close()
    assert fast_path_ready()


def test_cache_clear_keeps_lru_cache_api():
    seccompx.actions_available()
    seccompx.actions_available.cache_clear()
    info = seccompx.actions_available.cache_info()
    assert info.currsize == 0
    assert seccompx.actions_available.cache_parameters()["maxsize"] == 1


def test_defaults_from_before_cache_clear_ignored():
    from seccompx import _core

    Filter(ALLOW).close()
    epoch = _core._defaults_epoch()
    stale = seccompx.actions_available()
    seccompx.actions_available.cache_clear()
    assert _core._defaults_epoch() != epoch
    kinds = None if stale is None else tuple(int(k) for k in stale)
    _core._set_defaults(seccompx.Action, stale, kinds, seccompx.api_level(),
                        int(KILL_PROCESS), True, epoch)
    assert not fast_path_ready()
    Filter(ALLOW).close()
    assert fast_path_ready()


def test_action_value_follows_class_change(monkeypatch):
    Filter(ALLOW).close()
    slot = seccompx.Action.__dict__["_value"]
    errno_one, one, two = ERRNO(1), int(ERRNO(1)), int(ERRNO(2))

    def errno_one_as_two(action):
        value = slot.__get__(action)
        return two if value == one else value

    # The one-call paths read _value from its slot while Action keeps it
    # there, and through getattr once the class changed.
    monkeypatch.setattr(seccompx.Action, "_value", property(errno_one_as_two))
    try:
        f = Filter(errno_one)
        assert f.get_attr(Attr.DEFAULT_ACTION) == two
        f.close()
        f = Filter(ALLOW)
        f.add_rules([(errno_one, "getppid")])
        assert "ERRNO(2)" in f.export_pfc()
        f.close()
    finally:
        monkeypatch.undo()
        seccompx.actions_available.cache_clear()
    f = Filter(errno_one)
    assert f.get_attr(Attr.DEFAULT_ACTION) == one
    f.close()


def test_action_without_value_rejected():
    empty = seccompx.Action.__new__(seccompx.Action)
    Filter(ALLOW).close()
    with pytest.raises(AttributeError):
        Filter(empty)
    f = Filter(ALLOW)
    with pytest.raises(AttributeError):
        f.add_rules([(empty, "getppid")])
    assert f.rule_count == 0
    f.close()


def test_comparison_order_irrelevant():
    Arg = seccompx.Arg
    shuffled = (Arg(5) == 6, Arg(2) == 3, Arg(0) == 1, Arg(4) == 5, Arg(1) == 2)
    ordered = tuple(sorted(shuffled, key=lambda cmp: cmp[0]))
    programs = []
    for cmps in (shuffled, ordered):
        f = Filter(ALLOW)
        f.add_rules([(ERRNO(1), "pread64", cmps)])
        programs.append(f.export_bpf())
        f.close()
    assert programs[0] == programs[1]
    f = Filter(ALLOW)
    f.add_rules([(ERRNO(1), "pread64", shuffled)])
    with pytest.raises(seccompx.InvalidArgumentError, match="conflict"):
        f.add_rules([(ERRNO(2), "pread64", ordered)])
    f.close()


def test_add_rules_matches_general():
    rules = [
        (ALLOW, "read"),
        (ALLOW, "write", ()),
        (ALLOW, "mmap", (seccompx.Arg(2) < 8, seccompx.Arg(3) == 0x22)),
        (ERRNO(errno.EACCES), "openat", [seccompx.Arg(2).masked_eq(3, 1)]),
        (ALLOW, "close", None),
    ]
    fast = Filter(KILL_PROCESS)
    assert fast.add_rules(rules) == 5
    slow = general(KILL_PROCESS)
    for rule in rules:
        slow.add_rule(rule[0], rule[1], *(rule[2] if len(rule) == 3 and rule[2] else ()))
    assert fast.export_bpf() == slow.export_bpf()
    assert fast.to_profile() == slow.to_profile()


@pytest.mark.parametrize(
    "rules",
    [
        iter([(ALLOW, "read")]),  # not a list or tuple
        [(int(ALLOW), "read")],  # a raw action value
        [(ALLOW, seccompx.resolve_syscall("read"))],  # a number
        [[ALLOW, "read"]],  # a list for a rule
        [(ALLOW, "read", {seccompx.Arg(0) == 1})],  # a set of comparisons
    ],
)
def test_add_rules_general_cases_add(rules):
    f = Filter(ERRNO(1))
    assert f.add_rules(rules) == 1
    assert f.rule_count == 1
    f.export_bpf()


def test_add_rules_multiplexed_still_warns():
    f = Filter(ERRNO(1), arches=["x86_64", "x86"])
    with pytest.warns(seccompx.MultiplexedRuleWarning):
        f.add_rules([(ALLOW, "socket", (seccompx.Arg(0) == 1,))])
    f.close()
    f = Filter(ERRNO(1))
    f.add_arch("x86")
    with pytest.warns(seccompx.MultiplexedRuleWarning):
        f.add_rules([(ALLOW, "socket", (seccompx.Arg(0) == 1,))])
    f.close()


def test_add_rules_failure_adds_nothing():
    f = Filter(ERRNO(1))
    with pytest.raises(seccompx.UnknownSyscallError):
        f.add_rules([(ALLOW, "read"), (ALLOW, "no_such_syscall")])
    assert f.rule_count == 0
    assert f._rules == []
    with pytest.raises(seccompx.InvalidArgumentError):
        f.add_rules([(ALLOW, "read"), (ERRNO(1), "write")])  # the default action
    assert f.rule_count == 0
    f.close()


@pytest.mark.parametrize("level", [1, 2])
def test_optimize_matches_general_path(level):
    fast = Filter(KILL_PROCESS, optimize=level)
    slow = Filter(KILL_PROCESS, optimize=level, arches=[Arch.native()])
    assert fast.optimize == level
    assert attrs(fast) == attrs(slow)
    for f in (fast, slow):
        f.allow(*("read", "write", "close", "fstat", "lseek", "exit_group"))
    assert fast.export_bpf() == slow.export_bpf()


@pytest.mark.parametrize("level", [0, 3])
def test_invalid_optimize_still_rejected(level):
    with pytest.raises(seccompx.InvalidArgumentError, match="optimize level"):
        Filter(KILL_PROCESS, optimize=level)


@pytest.mark.parametrize("level", [True, "2", 2.0])
def test_non_int_optimize_is_type_error(level):
    with pytest.raises(TypeError, match="optimize level must be an int"):
        Filter(KILL_PROCESS, optimize=level)


def test_float_optimize_is_type_error():
    with pytest.raises(TypeError, match="2.0"):
        Filter(KILL_PROCESS, optimize=2.0)


def test_add_rules_sees_changed_action_list(monkeypatch, tmp_path):
    fake = tmp_path / "actions_avail"
    fake.write_text("kill_process kill_thread errno allow\n")
    f = Filter(ERRNO(1))
    monkeypatch.setattr(seccompx._filter, "_ACTIONS_AVAIL", str(fake))
    seccompx.actions_available.cache_clear()
    try:
        for rules in ([(seccompx.LOG, "read")], ((seccompx.TRAP, "write"),)):
            with pytest.raises(seccompx.UnsupportedError):
                f.add_rules(rules)
        assert f.rule_count == 0
    finally:
        monkeypatch.undo()
        seccompx.actions_available.cache_clear()
    f.close()


def test_subclass_strict_attribute_agrees():
    # The constructor's strict argument sets the instance's value on every
    # path, over a class attribute of the same name.
    class Strict(Filter):
        strict = True

    for f in (Strict(ERRNO(1)), Strict(ERRNO(1), arches=[Arch.native()])):
        assert f.strict is False
        f.add_arch("x86")
        with pytest.warns(seccompx.MultiplexedRuleWarning):
            f.add_rules([(ALLOW, "socket", (seccompx.Arg(0) == 1,))])
        with pytest.warns(seccompx.UnmatchableRuleWarning):
            f.allow("tuxcall")  # x86_64 only
        f.export_bpf()
        f.close()
    strict = Strict(ERRNO(1), strict=True)
    assert strict.strict is True
    with pytest.raises(seccompx.UnknownSyscallError):
        strict.allow("no_such_syscall")
    strict.close()


def test_recorded_comparisons_are_copies():
    cmps = [seccompx.Arg(0) == 1]
    fast = Filter(ERRNO(1))
    fast.add_rules([(ALLOW, "write", cmps)])
    slow = Filter(ERRNO(1))
    slow.add_rules(iter([(ALLOW, "write", cmps)]))
    generated = Filter(ERRNO(1))
    generated.add_rules([(ALLOW, "write", (c for c in [seccompx.Arg(0) == 1]))])
    expected = fast.to_profile()
    cmps.append(seccompx.Arg(1) == 2)
    assert fast.to_profile() == expected
    assert slow.to_profile() == expected
    assert generated.to_profile() == expected
    rebuilt = Filter.from_profile(fast.to_profile())
    assert rebuilt.export_bpf() == fast.export_bpf()


@pytest.mark.parametrize("replacement", ["delete", None, {}])
@pytest.mark.parametrize("method", ["add_rules", "allow"])
def test_warning_handler_replacing_record(replacement, method):
    # newfstatat is missing on x86, so adding it warns, and the handler runs
    # Python code in the middle of the call.
    f = Filter(KILL_PROCESS, arches=["x86_64", "x86"])

    def handler(*args, **kwargs):
        if replacement == "delete":
            del f._rules
        else:
            f._rules = replacement

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = handler
        if method == "add_rules":
            added = f.add_rules([(ALLOW, "newfstatat")])
        else:
            added = f.allow("newfstatat")
    assert added == 1
    assert f.rule_count == 1
    assert f._rules == (None if replacement == "delete" else replacement)
    f.export_bpf()


def test_subclass_property_uses_general_path():
    class Tracked(Filter):
        seen = []

        @property
        def _used(self):
            return self.__dict__.get("used", False)

        @_used.setter
        def _used(self, value):
            self.seen.append(value)
            self.__dict__["used"] = value

    f = Tracked(ERRNO(1))
    assert Tracked.seen == [False]
    f.export_bpf()
    f.close()


def test_program_data_cannot_be_replaced():
    program = Filter(ERRNO(1)).compile()
    with pytest.raises(AttributeError):
        object.__setattr__(program, "_data", program)
    with pytest.raises(AttributeError, match="immutable"):
        program._set_data(b"")
    assert len(program) > 0


# The extension's Filter methods (csrc/core/entry.c) ------------------------


def _stub_docstrings() -> dict:
    """Return the docstrings of the stubs that _filter.py declares for the
    extension's Filter methods, by name."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(seccompx._filter))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", "") == "TYPE_CHECKING":
            stubs = {
                item.name: ast.get_docstring(item)
                for item in node.body
                if isinstance(item, ast.FunctionDef)
            }
            if "allow" in stubs:
                return stubs
    raise AssertionError("_filter.py declares no stubs for Filter's methods")


@pytest.mark.parametrize("name", ["allow", "add_rules", "load"])
def test_entry_doc_matches_stub(name):
    import inspect

    assert inspect.getdoc(getattr(Filter, name)) == _stub_docstrings()[name]


def test_entry_signatures():
    import inspect

    init = inspect.signature(Filter)
    assert list(init.parameters) == [
        "default", "arches", "bad_arch", "no_new_privs", "tsync", "log", "ssb",
        "optimize", "strict",
    ]
    assert init.parameters["bad_arch"].default is KILL_PROCESS
    allow = inspect.signature(Filter.allow)
    assert list(allow.parameters) == ["self", "syscalls", "strict"]
    assert allow.parameters["syscalls"].kind is inspect.Parameter.VAR_POSITIONAL
    assert list(inspect.signature(Filter.add_rules).parameters) == [
        "self", "rules", "strict",
    ]
    assert list(inspect.signature(Filter.load).parameters) == ["self"]


def test_subclass_signatures():
    import inspect

    class Named(Filter):
        def __init__(self, name):
            super().__init__(KILL_PROCESS)
            self.name = name

    class Created(Filter):
        def __new__(cls, name, *args, **kwargs):
            return super().__new__(cls)

    class Mixin:
        def __init__(self, label, default):
            super().__init__(default)

    class Mixed(Mixin, Filter):
        pass

    class Plain(Filter):
        pass

    class PlainOfNamed(Named):
        pass

    assert list(inspect.signature(Named).parameters) == ["name"]
    assert list(inspect.signature(Created).parameters) == [
        "name", "args", "kwargs",
    ]
    assert list(inspect.signature(Mixed).parameters) == ["label", "default"]
    assert list(inspect.signature(PlainOfNamed).parameters) == ["name"]
    assert inspect.signature(Plain) == inspect.signature(Filter)
    assert list(inspect.signature(Filter).parameters)[0] == "default"


def test_init_keywords_take_general_path():
    f = Filter(ALLOW, tsync=False, log=True, optimize=2)
    assert f.tsync is False
    assert f.log is True
    assert f.optimize == 2
    g = Filter(default=ERRNO(1))
    assert g.get_attr(Attr.DEFAULT_ACTION) == ERRNO(1).value
    with pytest.raises(TypeError, match="bogus"):
        Filter(ALLOW, bogus=1)
    with pytest.raises(TypeError):
        Filter()
    with pytest.raises(TypeError):
        Filter(ALLOW, ALLOW)


def test_init_rejects_bad_default_in_one_call():
    with pytest.raises(seccompx.InvalidArgumentError):
        Filter(0x12340000)
    with pytest.raises(TypeError):
        Filter("allow")


def test_allow_numbers_and_bad_keyword():
    f = Filter(KILL_PROCESS)
    number = seccompx.resolve_syscall("getppid")
    assert f.allow(number, "read") == 2
    assert f.rule_count == 2
    with pytest.raises(TypeError, match="unexpected keyword argument 'action'"):
        f.allow("write", action=ALLOW)
    with pytest.raises(TypeError, match="'bogus'"):
        f.allow("write", strict=True, bogus=1)
    assert f.allow() == 0
    f.close()


class Name(str):
    pass


@pytest.mark.parametrize("spread", [True, False])
def test_allow_records_names_as_given(spread):
    names = ("read", Name("write"), "getppid")
    fast = Filter(KILL_PROCESS)
    if spread:
        assert fast.allow(*names) == 3
    else:
        assert fast.allow("read", Name("write"), "getppid") == 3
    slow = general(KILL_PROCESS)
    slow.allow(*names)
    assert fast.to_profile() == slow.to_profile()
    recorded = fast._rules[0][1]
    assert recorded == names
    assert type(recorded[1]) is Name
    assert fast.export_pfc() == slow.export_pfc()
    fast.close()
    slow.close()


def test_allow_keywords_from_dict():
    f = Filter(KILL_PROCESS)
    assert f.allow(*("read", "write"), **{"strict": True}) == 2
    with pytest.raises(TypeError, match="'bogus'"):
        f.allow("close", **{"strict": True, "bogus": 1})
    with pytest.raises(TypeError, match="'bogus'"):
        f.allow("close", **{"bogus": 1, "strict": True})
    assert f.rule_count == 2
    f.close()


def test_allow_reads_subclass_strict():
    class Strict(Filter):
        @property
        def strict(self):
            return True

        @strict.setter
        def strict(self, value):
            pass

    f = Strict(KILL_PROCESS, arches=[Arch.X86_64, Arch.AARCH64])
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("arch_prctl")  # x86-only, so strict raises for aarch64
    with pytest.warns(seccompx.UnmatchableRuleWarning, match="aarch64"):
        assert f.allow("arch_prctl", strict=False) == 1
    f.close()


def test_add_rules_general_inputs():
    f = Filter(KILL_PROCESS)
    assert f.add_rules(((ALLOW, name) for name in ("read", "write"))) == 2
    assert f.add_rules(rules=[(ALLOW, "close")]) == 1
    with pytest.raises(TypeError):
        f.add_rules([(ALLOW, "read")], bogus=1)
    with pytest.raises(TypeError, match="rules\\[0\\]"):
        f.add_rules([ALLOW])
    assert f.rule_count == 3
    f.close()


def test_load_notify_takes_general_path():
    def body(fd: int) -> None:
        f = Filter(ALLOW)
        f.add_rule(seccompx.NOTIFY, "getppid")
        f.load()
        os.write(fd, f"{f.notify_fd >= 0}".encode())

    if seccompx.ActionKind.NOTIFY not in (seccompx.actions_available() or ()):
        pytest.skip("the kernel has no user notification")
    result = run_in_child(body)
    assert result.exitcode == 0, result.output
    assert result.output == b"True"


def python_calls(call):
    """Return the names of the Python functions that ``call()`` runs."""
    names = []

    def record(frame, event, arg):
        if event == "call":
            names.append(frame.f_code.co_name)

    sys.setprofile(record)
    try:
        call()
    finally:
        sys.setprofile(None)
    return names


def test_compile_runs_two_python_frames():
    # Each Python frame touches objects, which costs page faults in the
    # freshly forked child where compile() usually runs.
    f = Filter(KILL_PROCESS, arches=[Arch.native(), Arch.X86])
    f.allow("read", "write")
    f.compile()
    assert python_calls(f.compile) == ["compile", "_compiled"]
    f.close()


def test_compile_matches_program_constructor():
    f = Filter(KILL_PROCESS, arches=[Arch.native(), Arch.X86])
    f.allow("read", "write")
    compiled = f.compile()
    expected = seccompx.Program(f.export_bpf(), arches=f.arches)
    assert compiled == expected
    assert compiled.arches == expected.arches == (Arch.native(), Arch.X86)
    assert type(compiled) is seccompx.Program
    assert repr(compiled) == repr(expected)
    assert pickle.loads(pickle.dumps(compiled)).arches == expected.arches
    assert compiled.simulate("read") == ALLOW
    assert compiled.disassemble() == expected.disassemble()
    f.close()


def _as_this_python_names(text: str) -> str:
    """Drop the class from a method name in an argument error's text
    before Python 3.10, whose messages name the function alone."""
    if sys.version_info >= (3, 10):
        return text
    return text.replace("Filter\\.", "").replace("Filter.", "")


@pytest.mark.parametrize(
    "args, kwargs, text",
    [
        ((), {}, "Filter.__init__() missing 1 required positional argument: 'default'"),
        ((), {"arches": [Arch.native()]}, "Filter.__init__() missing 1 required"),
        ((KILL_PROCESS,), {"foo": 1}, "Filter.__init__() got an unexpected keyword argument 'foo'"),
        ((KILL_PROCESS,), {"optimize": 2, "foo": 1}, "Filter.__init__() got an unexpected"),
        ((KILL_PROCESS, 1), {}, "Filter.__init__() takes 2 positional arguments but 3"),
    ],
    ids=["nothing", "keywords-only", "unknown-keyword", "optimize-and-unknown", "extra-positional"],
)
def test_constructor_errors_name_filter(args, kwargs, text):
    text = _as_this_python_names(text)
    with pytest.raises(TypeError) as info:
        Filter(*args, **kwargs)
    assert text in str(info.value)
    assert "_init_general" not in str(info.value)


@pytest.mark.parametrize(
    "args, kwargs, text",
    [
        ((), {}, "Filter.add_rules() missing 1 required positional argument: 'rules'"),
        (([],), {"foo": 1}, "Filter.add_rules() got an unexpected keyword argument 'foo'"),
        (([], 1), {}, "Filter.add_rules() takes 2 positional arguments but 3"),
    ],
    ids=["nothing", "unknown-keyword", "extra-positional"],
)
def test_add_rules_errors_name_add_rules(args, kwargs, text):
    text = _as_this_python_names(text)
    f = Filter(KILL_PROCESS)
    with pytest.raises(TypeError) as info:
        f.add_rules(*args, **kwargs)
    assert text in str(info.value)
    assert "_add_rules_general" not in str(info.value)
    f.close()


# Filter(...) without type.__call__ -------------------------------------------


@pytest.mark.parametrize("optimize", [None, 1, 2])
def test_vectorcall_matches_general_path(optimize):
    # strict=False is the default, but any keyword other than optimize
    # takes type.__call__ and the Python initialiser.
    fast = Filter(ERRNO(errno.EPERM), optimize=optimize)
    general = Filter(ERRNO(errno.EPERM), optimize=optimize, strict=False)
    for f in (fast, general):
        f.allow("read", "write", "exit_group")
    assert fast.export_bpf() == general.export_bpf()
    assert fast.optimize == general.optimize
    assert fast.strict is False
    assert fast.tsync == general.tsync
    fast.close()
    general.close()


def test_vectorcall_subclass_init_runs():
    class Marked(Filter):
        def __init__(self, *args, **keywords):
            self.marker = "ran"
            super().__init__(*args, **keywords)

    f = Marked(KILL_PROCESS)
    assert type(f) is Marked
    assert f.marker == "ran"
    assert f.default_action == KILL_PROCESS
    f.close()


def test_vectorcall_honours_reassigned_init(monkeypatch):
    calls = []
    original = Filter.__init__

    def counting_init(self, *args, **keywords):
        calls.append(args)
        original(self, *args, **keywords)

    monkeypatch.setattr(Filter, "__init__", counting_init)
    f = Filter(KILL_PROCESS)
    assert calls == [(KILL_PROCESS,)]
    f.close()


def test_vectorcall_general_path_errors():
    with pytest.raises(TypeError, match=_as_this_python_names(r"Filter\.__init__\(\) missing")):
        Filter()
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'foo'"):
        Filter(KILL_PROCESS, foo=1)
    with pytest.raises(TypeError):
        Filter(KILL_PROCESS, optimize="2")


def test_enable_vectorcall_rejects_other_classes():
    with pytest.raises(TypeError, match="derived from FilterBase"):
        seccompx._core._enable_vectorcall(int)
    with pytest.raises(TypeError, match="derived from FilterBase"):
        seccompx._core._enable_vectorcall(object())


def test_subclass_getattribute_strict_honoured():
    # allow() and add_rules() must see strict as getattr reports it, even
    # when a subclass computes it in __getattribute__.
    class StrictByLookup(Filter):
        def __getattribute__(self, name):
            if name == "strict":
                return True
            return super().__getattribute__(name)

    native = Arch.native()
    other = Arch.AARCH64 if native is not Arch.AARCH64 else Arch.X86_64
    f = StrictByLookup(KILL_PROCESS, arches=[native, other])
    missing = "open" if native is Arch.X86_64 else "fork"
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow(missing)
    with pytest.raises(seccompx.UnknownSyscallError):
        f.add_rules([(ALLOW, missing)])
    assert f.rule_count == 0
    f.close()


def test_subclass_setattr_sees_initial_members():
    Filter(KILL_PROCESS).close()
    assert fast_path_ready(KILL_PROCESS)
    seen = []

    class Watching(Filter):
        def __setattr__(self, name, value):
            seen.append(name)
            super().__setattr__(name, value)

    f = Watching(KILL_PROCESS)
    assert "strict" in seen
    assert "_used" in seen
    assert f.strict is False
    f.close()


def test_strict_setter_rejects_non_bool():
    f = Filter(KILL_PROCESS, arches=[Arch.X86_64, Arch.AARCH64])
    for value in ("no", 0, 1, None, [], "false"):
        with pytest.raises(TypeError) as raised:
            f.strict = value
        assert str(raised.value) == f"strict must be True or False, not {value!r}"
        assert f.strict is False
    with pytest.raises(TypeError) as from_init:
        Filter(KILL_PROCESS, strict="no")
    assert str(from_init.value) == "strict must be True or False, not 'no'"
    with pytest.raises(AttributeError, match="cannot delete strict"):
        del f.strict
    f.strict = True
    assert f.strict is True
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("arch_prctl")  # x86-only, so strict raises for aarch64
    f.close()


def test_strict_read_only_property_subclass():
    class AlwaysStrict(Filter):
        @property
        def strict(self):
            return True

    f = AlwaysStrict(KILL_PROCESS, arches=[Arch.X86_64, Arch.AARCH64])
    assert f.strict is True
    with pytest.raises(seccompx.UnknownSyscallError):
        f.allow("arch_prctl")  # x86-only, so strict raises for aarch64
    with pytest.raises(AttributeError):
        f.strict = False
    f.close()
