"""Misuse of a filter's life cycle: use after close or merge, double
initialisation and loading, merging mismatched filters, exporting to bad
descriptors, callbacks that re-enter the filter, and architectures added
after rules."""

from __future__ import annotations

import copy
import ctypes
import errno
import fcntl
import os
import threading
import warnings
from typing import Any, Callable, List, Tuple

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Arg, Attr, Filter, _core
from childproc import F_SETPIPE_SZ, report, run_in_child

NATIVE = Arch.native()
needs_x86_64 = pytest.mark.skipif(
    NATIVE is not Arch.X86_64, reason="uses x86_64 architecture pairs"
)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6


def raw_syscall(number: int, *args: int) -> int:
    values = list(args) + [0] * (6 - len(args))
    ctypes.set_errno(0)
    result = libc.syscall(number, *values)
    return -ctypes.get_errno() if result == -1 else result


@pytest.fixture(autouse=True)
def _quiet_unloaded_filters():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.FilterNotLoadedWarning)
        yield


# Every method that needs the libseccomp context, as (name, call).
METHODS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("add_rule", lambda f: f.add_rule(ERRNO(1), "read")),
    ("add_rule_exact", lambda f: f.add_rule_exact(ERRNO(1), "read")),
    ("add_rules", lambda f: f.add_rules([(ERRNO(1), "read")])),
    ("allow", lambda f: f.allow("read")),
    ("deny", lambda f: f.deny("read")),
    ("syscall_priority", lambda f: f.syscall_priority("read", 5)),
    ("arches", lambda f: f.arches),
    ("add_arch", lambda f: f.add_arch(Arch.AARCH64)),
    ("remove_arch", lambda f: f.remove_arch(NATIVE)),
    ("has_arch", lambda f: f.has_arch(NATIVE)),
    ("get_attr", lambda f: f.get_attr(Attr.TSYNC)),
    ("set_attr", lambda f: f.set_attr(Attr.LOG, 1)),
    ("default_action", lambda f: f.default_action),
    ("bad_arch_action", lambda f: f.bad_arch_action),
    ("tsync", lambda f: f.tsync),
    ("optimize", lambda f: setattr(f, "optimize", 2)),
    ("reset", lambda f: f.reset()),
    ("load", lambda f: f.load()),
    ("export_pfc", lambda f: f.export_pfc()),
    ("export_bpf", lambda f: f.export_bpf()),
    ("export_bpf_to", lambda f: f.export_bpf_to(1)),
    ("instruction_count", lambda f: f.instruction_count()),
    ("merge into", lambda f: f.merge(Filter(default=ALLOW, arches=["aarch64"]))),
    ("merge from", lambda f: Filter(default=ALLOW, arches=["aarch64"]).merge(f)),
]

RAW_METHODS: List[Tuple[str, Callable[[Any], Any]]] = [
    ("_add_rule", lambda c: c._add_rule(ERRNO(1).value, "read")),
    ("_add_rules", lambda c: c._add_rules([(ERRNO(1).value, "read")])),
    ("_add_arch", lambda c: c._add_arch(int(Arch.AARCH64))),
    ("_remove_arch", lambda c: c._remove_arch(int(NATIVE))),
    ("_has_arch", lambda c: c._has_arch(int(NATIVE))),
    ("_get_attr", lambda c: c._get_attr(int(Attr.TSYNC))),
    ("_set_attr", lambda c: c._set_attr(int(Attr.LOG), 1)),
    ("_syscall_priority", lambda c: c._syscall_priority("read", 1)),
    ("_reset", lambda c: c._reset(ALLOW.value)),
    ("_load", lambda c: c._load()),
    ("_export_pfc", lambda c: c._export_pfc()),
    ("_export_bpf", lambda c: c._export_bpf()),
    ("_export_fd", lambda c: c._export_fd(1, False)),
    ("_notify_fd", lambda c: c._notify_fd()),
    ("_arch_tokens", lambda c: c._arch_tokens),
]


def _closed() -> Filter:
    f = Filter(default=KILL_PROCESS)
    f.allow("read")
    f.close()
    return f


def _merged() -> Filter:
    target = Filter(default=KILL_PROCESS)
    source = Filter(default=KILL_PROCESS, arches=["aarch64"])
    target.merge(source)
    return source


@pytest.mark.parametrize("name,call", METHODS, ids=[m[0] for m in METHODS])
def test_closed_filter_rejects(name, call):
    with pytest.raises(seccompx.FilterStateError) as info:
        call(_closed())
    assert "closed" in str(info.value)
    assert info.value.errno == errno.EBADF


@pytest.mark.parametrize("name,call", METHODS, ids=[m[0] for m in METHODS])
def test_merged_filter_rejects(name, call):
    with pytest.raises(seccompx.FilterStateError) as info:
        call(_merged())
    assert "merge" in str(info.value)


@pytest.mark.parametrize("name,call", RAW_METHODS, ids=[m[0] for m in RAW_METHODS])
def test_uninitialised_context_rejects(name, call):
    context = _core.Context.__new__(_core.Context)
    with pytest.raises(seccompx.FilterStateError, match="never initialised"):
        call(context)
    assert context.closed
    context.close()


@pytest.mark.parametrize("name,call", RAW_METHODS, ids=[m[0] for m in RAW_METHODS])
def test_closed_context_rejects(name, call):
    context = _core.Context(ALLOW.value)
    context.close()
    with pytest.raises(seccompx.FilterStateError, match="closed"):
        call(context)


def test_closed_filter_properties_still_work():
    f = _closed()
    assert f.closed
    assert not f.loaded
    assert f.rule_count == 0
    assert repr(f) == "<seccompx.Filter closed>"
    f.close()


def test_uninitialised_subclass_repr_and_error():
    class Forgetful(seccompx.Filter):
        def __init__(self):
            pass

    f = Forgetful()
    assert repr(f) == (
        f"<{__name__}.test_uninitialised_subclass_repr_and_error.<locals>."
        "Forgetful never initialised>"
    )
    with pytest.raises(seccompx.FilterStateError) as info:
        f.allow("read")
    message = str(info.value)
    assert message.startswith("this Forgetful was never initialised")
    assert "super().__init__(default)" in message
    plain = seccompx.Filter.__new__(seccompx.Filter)
    assert repr(plain) == "<seccompx.Filter never initialised>"


def test_subclass_repr_names_class():
    class Named(seccompx.Filter):
        pass

    f = Named(ALLOW)
    assert repr(f).startswith(f"<{__name__}.test_subclass_repr_names_class")
    assert "Named default=ALLOW" in repr(f)
    f.close()
    assert repr(f).endswith(".Named closed>")


def test_filter_cannot_be_copied():
    f = seccompx.Filter(ALLOW)
    f.deny("socket")
    for copier in (copy.copy, copy.deepcopy):
        with pytest.raises(TypeError) as info:
            copier(f)
        message = str(info.value)
        assert message.startswith("a Filter cannot be copied")
        assert "Filter.from_profile(filter.to_profile())" in message
        assert "filter.compile()" in message
    second = seccompx.Filter.from_profile(f.to_profile())
    assert second.rule_count == f.rule_count
    second.close()
    f.close()


def test_context_cannot_be_copied():
    with pytest.raises(TypeError, match="Context"):
        copy.copy(_core.Context(ALLOW.value))


def test_init_twice_rejected():
    context = _core.Context(ALLOW.value)
    with pytest.raises(seccompx.FilterStateError, match="already initialised"):
        context.__init__(KILL_PROCESS.value)
    assert context._get_attr(int(Attr.DEFAULT_ACTION)) == ALLOW.value


def test_init_after_close_rejected():
    context = _core.Context(ALLOW.value)
    context.close()
    with pytest.raises(seccompx.FilterStateError, match="closed"):
        context.__init__(ALLOW.value)
    assert context.closed


def test_failed_init_leaves_closed_filter():
    with pytest.raises(seccompx.InvalidArgumentError):
        Filter(default=0x12340000)
    context = _core.Context.__new__(_core.Context)
    with pytest.raises(TypeError):
        context.__init__()
    assert context.closed


def test_load_twice_rejected_and_filter_loaded_once():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(errno.EDOM), "getppid")
        f.load()
        try:
            f.load()
        except seccompx.FilterStateError as error:
            report(out, f"{error.errno} {error}")
        with open("/proc/self/status") as status:
            report(out, [line for line in status if "Seccomp_filters" in line][0])
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    lines = result.text.splitlines()
    assert lines[0].startswith(f"{errno.EBUSY} the filter is already loaded")
    assert lines[1].split() == ["Seccomp_filters:", "1"]


def test_closing_after_load_keeps_kernel_filter():
    getppid = seccompx.resolve_syscall("getppid")

    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(errno.EDOM), "getppid")
        f.load()
        f.close()
        report(out, str(raw_syscall(getppid)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.EDOM


# Merge ------------------------------------------------------------------------

# (attribute, how to set it on the second filter, name in the message)
MERGE_MISMATCHES = [
    ("default", lambda: Filter(default=ERRNO(1), arches=["aarch64"]), "default action"),
    ("bad_arch", lambda: Filter(default=ALLOW, arches=["aarch64"],
                                bad_arch=ERRNO(1)), "bad_arch"),
    ("no_new_privs", lambda: Filter(default=ALLOW, arches=["aarch64"],
                                    no_new_privs=False), "no_new_privs"),
    ("tsync", lambda: Filter(default=ALLOW, arches=["aarch64"], tsync=False),
     "tsync"),
    ("log", lambda: Filter(default=ALLOW, arches=["aarch64"], log=True), "log"),
    ("ssb", lambda: Filter(default=ALLOW, arches=["aarch64"], ssb=True), "ssb"),
    ("optimize", lambda: Filter(default=ALLOW, arches=["aarch64"], optimize=2),
     "optimize"),
]


@pytest.mark.parametrize("name,make,named", MERGE_MISMATCHES,
                         ids=[m[0] for m in MERGE_MISMATCHES])
def test_merge_with_different_attribute_rejected(name, make, named):
    target = Filter(default=ALLOW, tsync=True)
    source = make()
    source.add_rule(KILL_PROCESS, "getppid")
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        target.merge(source)
    assert f"whose {named} differs" in str(info.value)
    assert not source.closed
    assert source.rule_count == 1
    assert target.arches == (NATIVE,)
    target.close()
    source.close()


def test_merge_overlapping_arch_names_it():
    target = Filter(default=ALLOW, arches=[NATIVE, "aarch64"])
    source = Filter(default=ALLOW, arches=["riscv64", "aarch64"])
    with pytest.raises(seccompx.ArchitectureError, match="aarch64"):
        target.merge(source)
    assert not source.closed


def test_merge_into_itself_rejected():
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError, match="itself"):
        f.merge(f)
    assert not f.closed


def test_merge_wrong_type_rejected():
    with pytest.raises(TypeError, match="str"):
        Filter(default=ALLOW).merge("filter")


def test_use_after_merge_names_merge():
    source = _merged()
    with pytest.raises(seccompx.FilterStateError, match="merge"):
        source.add_rule(ERRNO(1), "read")
    with pytest.raises(seccompx.FilterStateError, match="merged into another"):
        Filter(default=KILL_PROCESS, arches=["riscv64"]).merge(source)


@needs_x86_64
def test_merged_rules_follow_a_later_arch():
    target = Filter(default=ALLOW)
    target.add_rule(ERRNO(1), "getppid")
    source = Filter(default=ALLOW, arches=["aarch64"])
    source.add_rule(ERRNO(2), "getpid")
    target.merge(source)
    target.add_arch(Arch.X32)
    pfc = target.export_pfc()
    x32_part = pfc[pfc.index("arch x32"):]
    assert "getppid" in x32_part
    assert "getpid" in x32_part
    target.close()


# Export ------------------------------------------------------------------------


def test_export_to_closed_descriptor():
    read_fd, write_fd = os.pipe()
    os.close(read_fd)
    os.close(write_fd)
    f = Filter(default=ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError, match=f"descriptor {write_fd}"):
        f.export_bpf_to(write_fd)
    with pytest.raises(seccompx.InvalidArgumentError, match=f"descriptor {write_fd}"):
        f.export_pfc_to(write_fd)


@pytest.mark.parametrize("bad", [-1, 2**31, 2**64])
def test_export_to_out_of_range_descriptor(bad):
    with pytest.raises(seccompx.InvalidArgumentError, match=str(bad)):
        Filter(default=ALLOW)._export_fd(bad, False)


def test_export_to_read_only_descriptor(tmp_path):
    path = tmp_path / "filter.bpf"
    path.write_bytes(b"")
    with open(path, "rb") as file:
        with pytest.raises(seccompx.InvalidArgumentError, match="not open for writing"):
            Filter(default=ALLOW).export_bpf_to(file.fileno())


def test_export_to_full_nonblocking_pipe_reports_partial_write():
    f = Filter(default=ALLOW)
    for value in range(2000):
        f.add_rule(ERRNO(1), "getppid", Arg(0) == value)
    read_fd, write_fd = os.pipe()
    try:
        fcntl.fcntl(write_fd, F_SETPIPE_SZ, 4096)
        os.set_blocking(write_fd, False)
        with pytest.raises(seccompx.SeccompError, match="non-blocking and full"):
            f.export_bpf_to(write_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)


def test_export_through_small_pipe_writes_everything():
    f = Filter(default=ALLOW)
    for value in range(3000):
        f.add_rule(ERRNO(1), "getppid", Arg(0) == (value << 32 | value))
    expected = f.export_bpf()
    assert len(expected) > 65536
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(write_fd, F_SETPIPE_SZ, 4096)
    chunks: List[bytes] = []

    def drain() -> None:
        while True:
            data = os.read(read_fd, 1000)
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    f.export_bpf_to(write_fd)
    os.close(write_fd)
    reader.join(30)
    os.close(read_fd)
    assert b"".join(chunks) == expected


# Callbacks that run while the filter is in use ---------------------------------------


def _in_child(body: Callable[[int], int]) -> Any:
    result = run_in_child(body, timeout=20)
    assert result.signal is None, result
    return result


def test_comparisons_list_mutated_during_parse():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        comparisons: List[Any] = []

        class Shrinking(int):
            def __index__(self) -> int:
                comparisons.clear()
                return 0

        comparisons.extend([(Shrinking(0), 4, 1, 0)] + [(i, 4, 2, 0) for i in range(1, 6)])

        def gen():
            yield from comparisons
            comparisons.clear()

        try:
            f._add_rule(ERRNO(1).value, "read", gen())
        except seccompx.SeccompError as error:
            report(out, f"error {error}")
        report(out, f"rules {f.rule_count}")
        return 0

    result = _in_child(body)
    assert result.exitcode == 0, result
    assert "rules 1" in result.text


def test_rules_list_mutated_while_iterating():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        rules: List[Any] = [(ERRNO(1).value, name) for name in ("read", "write", "close")]

        def gen():
            for rule in list(rules):
                rules.clear()
                yield rule

        report(out, f"added {f._add_rules(gen())}")
        return 0

    result = _in_child(body)
    assert result.exitcode == 0, result
    assert "added 3" in result.text


def test_generator_using_filter_while_adding():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)

        def gen():
            for name in ("read", "write"):
                f.export_pfc()              # re-enters the filter
                yield (ERRNO(1).value, name, iter([Arg(0) == 3]))

        report(out, f"added {f._add_rules(gen())}")
        return 0

    result = _in_child(body)
    assert result.exitcode == 0, result
    assert "added 2" in result.text


def test_warning_handler_using_filter_does_not_deadlock():
    def body(out: int) -> int:
        f = Filter(default=ALLOW, arches=[NATIVE, Arch.AARCH64])
        seen: List[str] = []

        def showwarning(message, category, filename, lineno, file=None, line=None):
            seen.append(f.export_pfc()[:10])
            f.add_rule(ERRNO(2), "write")   # changes the filter mid-add

        warnings.simplefilter("always")
        warnings.showwarning = showwarning
        f.add_rule(ERRNO(1), "open")
        report(out, f"warnings {len(seen)} rules {f.rule_count}")
        return 0

    if NATIVE is not Arch.X86_64:
        pytest.skip("open exists on aarch64 elsewhere")
    result = _in_child(body)
    assert result.exitcode == 0, result
    # The handler ran once, and its rule was added before the warned one.
    assert result.text.startswith("warnings 1 rules 2"), result


def test_warning_handler_closing_filter():
    def body(out: int) -> int:
        f = Filter(default=ALLOW, arches=[NATIVE, Arch.AARCH64])
        warnings.simplefilter("always")
        warnings.showwarning = lambda *args, **kwargs: f.close()
        try:
            f.add_rule(ERRNO(1), "open")
        except seccompx.FilterStateError as error:
            report(out, f"state {error}")
        return 0

    if NATIVE is not Arch.X86_64:
        pytest.skip("open exists on aarch64 elsewhere")
    result = _in_child(body)
    assert result.exitcode == 0, result
    assert result.text.startswith("state the filter is closed"), result


def test_syscall_repr_using_filter_in_error_message():
    def body(out: int) -> int:
        f = Filter(default=ALLOW)

        class Name(str):
            def __repr__(self) -> str:
                f.export_pfc()
                f.close()
                return "'evil'"

        try:
            f.add_rule(ALLOW, Name("read"))
        except seccompx.InvalidArgumentError as error:
            report(out, str(error))
        return 0

    result = _in_child(body)
    assert result.exitcode == 0, result
    assert "'evil' has action ALLOW" in result.text


# Architectures added after rules ----------------------------------------------------


@needs_x86_64
@pytest.mark.parametrize("later", [Arch.X86, Arch.X32, Arch.AARCH64, Arch.ARM])
def test_arch_added_later_gets_the_rules(later):
    def build(first: bool) -> str:
        f = Filter(default=KILL_PROCESS, arches=[NATIVE, later] if first else None)
        f.allow("read", "write", "getpid")
        f.add_rule(ERRNO(1), "close", Arg(0) == 5)
        f.syscall_priority("write", 200)
        if not first:
            f.add_arch(later)
        return f.export_pfc()

    assert build(first=False) == build(first=True)


@needs_x86_64
def test_arch_added_later_enforced_by_kernel():
    x32_getpid = 0x40000000 | 39

    def body(out: int) -> int:
        f = Filter(default=ALLOW)
        f.add_rule(ERRNO(errno.EDOM), "getpid")
        f.add_arch(Arch.X32)
        f.load()
        report(out, str(raw_syscall(x32_getpid)))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) == -errno.EDOM


def test_reset_forgets_rules_for_conflicts_and_arches():
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(1), "read")
    f.reset()
    f.add_rule(ERRNO(2), "read")
    f.add_arch(Arch.AARCH64)
    assert f.export_pfc().count("ERRNO(2)") == 2
    assert "ERRNO(1)" not in f.export_pfc()
    f.close()


def test_arch_after_merge_of_conflicting_rules_rejected():
    target = Filter(default=ALLOW)
    target.add_rule(ERRNO(1), "write", Arg(0) == 2)
    source = Filter(default=ALLOW, arches=["aarch64"])
    source.add_rule(ERRNO(2), "write")
    target.merge(source)
    with pytest.raises(seccompx.ArchitectureError, match="conflicting rules for syscall write"):
        target.add_arch(Arch.RISCV64)
    assert not target.has_arch(Arch.RISCV64)
    target.close()


def test_bad_arch_notify_rejected() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="bad_arch=NOTIFY"):
        Filter(ALLOW, bad_arch=seccompx.NOTIFY)
    f = Filter(ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError, match="ENOSYS"):
        f.bad_arch_action = seccompx.NOTIFY
    with pytest.raises(seccompx.InvalidArgumentError, match="bad_arch=NOTIFY"):
        f.set_attr(seccompx.Attr.BAD_ARCH_ACTION, seccompx.NOTIFY)
    assert f.bad_arch_action == seccompx.KILL_PROCESS
    f.close()


def test_profile_of_uninitialised_filter() -> None:
    with pytest.raises(seccompx.FilterStateError, match="uninitialised"):
        Filter.__new__(Filter).to_profile()


def test_reset_keeps_attributes() -> None:
    attrs = (seccompx.Attr.BAD_ARCH_ACTION, seccompx.Attr.NO_NEW_PRIVS,
             seccompx.Attr.TSYNC, seccompx.Attr.LOG, seccompx.Attr.SSB,
             seccompx.Attr.OPTIMIZE, seccompx.Attr.RAW_RC)
    f = Filter(seccompx.ERRNO(1), log=True, ssb=True, optimize=2,
               no_new_privs=False, bad_arch=seccompx.TRAP, tsync=False)
    before = {attr: f.get_attr(attr) for attr in attrs}
    f.allow("read")
    f.reset(seccompx.ERRNO(2))
    assert {attr: f.get_attr(attr) for attr in attrs} == before
    assert f.default_action == seccompx.ERRNO(2)
    assert f.rule_count == 0
    f.close()
