"""Property-based tests of filters built from random input.

Random valid rule sets build, export and load, and the kernel's verdicts
agree with a model of the rules.  Random invalid input raises SeccompError
or TypeError and never crashes the interpreter.  seccompx's architecture
checks agree with the code libseccomp generates.

Exceptions for random input, by what is wrong:
- a value of the wrong type (float, bytes, None, a list where an int is
  expected) raises TypeError;
- a value of the right type that is not allowed raises a SeccompError
  subclass (InvalidArgumentError, UnknownSyscallError, ArchitectureError,
  UnsupportedError, FilterStateError).
"""

from __future__ import annotations

import ctypes
import errno
import re
import warnings
from typing import Any, Dict, List, Tuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seccompx
from seccompx import ALLOW, ERRNO, Arch, Arg, Filter, Op, _core
from seccompx._errors import _known_syscall_names
from childproc import report, run_in_child

NATIVE = Arch.native()
needs_x86_64 = pytest.mark.skipif(NATIVE is not Arch.X86_64, reason="x86_64 numbers")

# Syscalls that are harmless to run for real with any arguments in a child.
HARMLESS = ["getppid", "getpgid", "getpriority", "sched_yield", "getsid", "umask"]

U64 = st.integers(min_value=0, max_value=2**64 - 1)
SMALL = st.integers(min_value=0, max_value=8)
VALUES = st.one_of(SMALL, U64, st.sampled_from([2**32 - 1, 2**32, 2**63, 2**64 - 1]))


def _supported_arches() -> List[Arch]:
    found = []
    for arch in Arch:
        if arch is Arch.NATIVE:
            continue
        try:
            probe = Filter(default=ALLOW, arches=[arch])
        except seccompx.SeccompError:
            continue
        probe.close()
        found.append(arch)
    return found


SUPPORTED = _supported_arches()


@st.composite
def comparisons(draw) -> Tuple[Any, ...]:
    indexes = draw(st.lists(st.integers(0, 5), unique=True, max_size=3))
    result = []
    for index in indexes:
        kind = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "masked"]))
        arg = Arg(index)
        value = draw(VALUES)
        # Arg(n) < 0 and Arg(n) > 2**64-1 can never match and are rejected.
        if kind == "<" and value == 0:
            kind = "<="
        if kind == ">" and value == 2**64 - 1:
            kind = ">="
        if kind == "masked":
            mask = draw(VALUES)
            result.append(arg.masked_eq(mask, value & mask))
        else:
            result.append({"==": arg.__eq__, "!=": arg.__ne__, "<": arg.__lt__,
                           "<=": arg.__le__, ">": arg.__gt__,
                           ">=": arg.__ge__}[kind](value))
    return tuple(result)


@st.composite
def rule_sets(draw) -> Dict[str, Tuple[int, List[Tuple[Any, ...]]]]:
    """syscall -> (errno, [comparisons ...]); one action per syscall, so the
    rules never shadow each other."""
    names = draw(st.lists(st.sampled_from(HARMLESS), min_size=1, unique=True))
    rules = {}
    for name in names:
        code = draw(st.integers(200, seccompx.MAX_ERRNO))
        sets = draw(st.lists(comparisons(), min_size=1, max_size=4, unique=True))
        rules[name] = (code, sets)
    return rules


def _matches(comparison: Any, args: List[int]) -> bool:
    value = args[comparison.arg]
    op = comparison.op
    if op is Op.MASKED_EQ:
        return value & comparison.datum_a == comparison.datum_b
    return {
        Op.EQ: value == comparison.datum_a,
        Op.NE: value != comparison.datum_a,
        Op.LT: value < comparison.datum_a,
        Op.LE: value <= comparison.datum_a,
        Op.GT: value > comparison.datum_a,
        Op.GE: value >= comparison.datum_a,
    }[op]


def _build(rules: Dict[str, Tuple[int, List[Tuple[Any, ...]]]]) -> Filter:
    """Build the filter, dropping from rules the comparison sets seccompx
    rejects because libseccomp would compile them wrongly."""
    f = Filter(default=ALLOW)
    for name, (code, sets) in rules.items():
        for comparison_set in list(sets):
            try:
                f.add_rule(ERRNO(code), name, *comparison_set)
            except seccompx.InvalidArgumentError as error:
                message = str(error)
                assert "high 32 bits differ" in message or "!=, <, <=, > or >=" in message
                sets.remove(comparison_set)
    return f


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rule_sets(), probes=st.lists(st.lists(VALUES, min_size=6, max_size=6),
                                          min_size=1, max_size=4))
def test_valid_rules_load_and_match_model(rules, probes):
    f = _build(rules)
    program = f.export_bpf()
    assert len(program) % 8 == 0
    assert f.instruction_count() == len(program) // 8
    pfc = f.export_pfc()
    for name in rules:
        assert f'"{name}"' in pfc
    expected: List[Tuple[str, List[int], int]] = []
    for name, (code, sets) in rules.items():
        for args in probes:
            hit = any(all(_matches(c, args) for c in s) for s in sets)
            expected.append((name, args, code if hit else 0))

    def body(out: int) -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6
        numbers = {name: seccompx.resolve_syscall(name) for name in rules}
        f.load()
        for name, args, _ in expected:
            ctypes.set_errno(0)
            result = libc.syscall(numbers[name], *args)
            report(out, str(ctypes.get_errno() if result == -1 else 0))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    got = [int(line) for line in result.text.split()]
    for (name, args, code), errno_seen in zip(expected, got):
        if code:
            assert errno_seen == code, (name, args, code, errno_seen)
        else:
            assert errno_seen < 200, (name, args, errno_seen)
    f.close()


@needs_x86_64
@settings(max_examples=40, deadline=None)
@given(rules=rule_sets(), later=st.sampled_from([a for a in SUPPORTED
                                                 if a is not Arch.X86_64]))
def test_arch_order_does_not_change_filter(rules, later):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        second = _build(rules)
        second.add_arch(later)
        first = Filter(default=ALLOW, arches=[NATIVE, later])
        for name, (code, sets) in rules.items():
            for comparison_set in sets:
                first.add_rule(ERRNO(code), name, *comparison_set)
    assert first.export_pfc() == second.export_pfc()
    assert first.export_bpf() == second.export_bpf()
    first.close()
    second.close()


@settings(max_examples=60, deadline=None)
@given(rules=rule_sets(), position=st.integers(0, 20),
       bad=st.sampled_from([(ERRNO(1), "nosuchcall"), (ERRNO(1), "read", [(7, 4, 1, 0)]),
                            (ALLOW, "read"), ("ALLOW", "read"),
                            (ERRNO(1), "read", [(0, 7, 1, 2)])]))
def test_batch_with_bad_rule_adds_nothing(rules, position, bad):
    _build(rules).close()
    batch = [(ERRNO(code), name, c) for name, (code, sets) in rules.items() for c in sets]
    batch.insert(min(position, len(batch)), bad)
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(1), "getppid", Arg(5) == 77)
    before = f.export_pfc()
    with pytest.raises((seccompx.SeccompError, TypeError)):
        f.add_rules(batch)
    assert f.rule_count == 1
    assert f.export_pfc() == before
    assert not f.broken
    f.close()


# Random junk at every entry point ---------------------------------------------------

JUNK = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.floats(allow_nan=True),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.sampled_from([0, 1, 5, 6, 7, 0x7FFF0000, 0x00050001, 0x80000000,
                         int(Arch.X86), int(Arch.AARCH64), 2**32, 2**64, -1]),
        st.text(max_size=12), st.binary(max_size=8),
        st.sampled_from(["read", "open", "socketcall", "", "\0", "x" * 80]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=7), st.tuples(inner, inner),
                            st.tuples(inner, inner, inner, inner)),
    max_leaves=12,
)

RAW_CALLS = [
    ("_add_rule", 2, 5), ("_add_rules", 1, 3), ("_add_arch", 1, 2),
    ("_remove_arch", 1, 1), ("_has_arch", 1, 1), ("_get_attr", 1, 1),
    ("_set_attr", 2, 2), ("_syscall_priority", 2, 2), ("_reset", 1, 1),
    ("_merge", 1, 1), ("_export_fd", 2, 2),
]
MODULE_CALLS = [
    ("resolve_name", 1, 2), ("resolve_number", 1, 2), ("arch_resolve_name", 1, 1),
    ("api_set", 1, 1),
]
FILTER_CALLS = [
    ("add_rule", 2, 4), ("add_rules", 1, 1), ("allow", 1, 3), ("deny", 1, 3),
    ("add_arch", 1, 1), ("remove_arch", 1, 1), ("has_arch", 1, 1),
    ("get_attr", 1, 1), ("set_attr", 2, 2), ("syscall_priority", 2, 2),
    ("merge", 1, 1), ("reset", 0, 1), ("export_bpf_to", 1, 1),
]


@st.composite
def junk_calls(draw) -> Tuple[str, str, List[Any]]:
    layer = draw(st.sampled_from(["raw", "module", "filter", "init"]))
    if layer == "init":
        return layer, "__init__", [draw(JUNK)]
    table = {"raw": RAW_CALLS, "module": MODULE_CALLS, "filter": FILTER_CALLS}[layer]
    name, low, high = draw(st.sampled_from(table))
    args = draw(st.lists(JUNK, min_size=low, max_size=high))
    return layer, name, args


def _call_junk(layer: str, name: str, args: List[Any]) -> Any:
    if layer == "init":
        return Filter(*args)
    if layer == "module":
        return getattr(_core, name)(*args)
    if layer == "raw":
        target: Any = _core.Context(ALLOW.value)
    else:
        target = Filter(default=ERRNO(1), arches=[NATIVE, Arch.AARCH64])
    return getattr(target, name)(*args)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(call=junk_calls())
def test_junk_input_raises_cleanly(call):
    layer, name, args = call

    def body(out: int) -> int:
        warnings.simplefilter("ignore")
        try:
            _call_junk(layer, name, args)
        except (seccompx.SeccompError, TypeError) as error:
            report(out, f"raised {type(error).__name__}")
            return 0
        except BaseException as error:
            report(out, f"unexpected {type(error).__name__}: {error}")
            return 2
        report(out, "accepted")
        return 0

    result = run_in_child(body)
    assert result.signal is None, (call, result)
    assert result.exitcode == 0, (call, result.text)


# Checks against what libseccomp generates -------------------------------------------


def _single_arch_filter(arch: Arch) -> Any:
    context = _core.Context(ALLOW.value)
    if arch is not NATIVE:
        context._add_arch(int(arch))
        context._remove_arch(int(NATIVE))
    return context


def _all_names() -> List[str]:
    names = set()
    for arch in SUPPORTED:
        names.update(_known_syscall_names(arch.libseccomp_name))
    return sorted(names)


@pytest.mark.parametrize("arch", SUPPORTED, ids=str)
def test_unmatchable_check_agrees_with_libseccomp(arch):
    """A rule warns as unmatchable exactly when libseccomp compiles it to a
    comparison no real syscall number can satisfy."""
    disagreements = []
    for name in _all_names():
        context = _single_arch_filter(arch)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            context._add_rule(ERRNO(1).value, name, None, False, 0)
        warned = any(issubclass(w.category, seccompx.UnmatchableRuleWarning)
                     for w in caught)
        numbers = [int(n) for n in re.findall(r"\$syscall == (\d+)", context._export_pfc())]
        generated = any(n < 2**31 for n in numbers)
        if warned == generated:
            disagreements.append((name, warned, numbers))
        context.close()
    assert disagreements == []


@pytest.mark.parametrize("arch", SUPPORTED, ids=str)
def test_truncation_check_agrees_with_libseccomp(arch):
    context = _single_arch_filter(arch)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        context._add_rule(ERRNO(1).value, "close", [(0, int(Op.EQ), 2**32 + 1, 0)],
                          False, 0)
    warned = any(issubclass(w.category, seccompx.TruncatedValueWarning) for w in caught)
    compares_high_word = "hi32" in context._export_pfc()
    assert warned is not compares_high_word
    context.close()


# Two rules with different actions on one argument ---------------------------

# Comparisons of argument 1 with values below 63 and masks that fix every
# bit above bit 5.  A value matches both rules of a pair exactly when one
# below PAIR_SPAN does: masked sets lie below 64, two intervals share
# max(low, low'), and a != leaves a second value within one of another
# set's.
PAIR_SPAN = 128
_HIGH_BITS = (2**64 - 1) & ~63


@st.composite
def pair_comparisons(draw) -> Any:
    value = draw(st.integers(1, 62))
    kind = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">=", "masked"]))
    if kind == "masked":
        mask = draw(st.integers(0, 63)) | _HIGH_BITS
        return Arg(1).masked_eq(mask, value & mask)
    return {"==": Arg(1).__eq__, "!=": Arg(1).__ne__, "<": Arg(1).__lt__,
            "<=": Arg(1).__le__, ">": Arg(1).__gt__, ">=": Arg(1).__ge__}[kind](value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=pair_comparisons(), second=pair_comparisons())
def test_rule_pair_kept_or_rejected(first, second):
    # libseccomp gives a call that two rules of different actions match the
    # action of the rule it tests first.  So seccompx must reject exactly
    # the pairs that share a value, and the kernel must apply both rules of
    # every other pair.
    shared = [x for x in range(PAIR_SPAN)
              if _matches(first, [0, x]) and _matches(second, [0, x])]
    f = Filter(default=ALLOW)
    f.add_rule(ERRNO(300), "getpriority", first)
    if shared:
        with pytest.raises(seccompx.InvalidArgumentError) as info:
            f.add_rule(ERRNO(301), "getpriority", second)
        assert info.value.errno == errno.EEXIST
        found = re.search(r"argument 1 equal to (0x[0-9a-f]+)", str(info.value))
        if found is None:
            # The older check: the rules make the same comparison.
            assert first == second, str(info.value)
        else:
            witness = int(found.group(1), 16)
            assert _matches(first, [0, witness])
            assert _matches(second, [0, witness])
        f.close()
        return
    f.add_rule(ERRNO(301), "getpriority", second)
    expected = []
    for x in range(PAIR_SPAN):
        if _matches(first, [0, x]):
            expected.append(300)
        elif _matches(second, [0, x]):
            expected.append(301)
        else:
            expected.append(0)

    def body(out: int) -> int:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        libc.syscall.argtypes = [ctypes.c_long] + [ctypes.c_ulong] * 6
        number = seccompx.resolve_syscall("getpriority")
        f.load()
        for x in range(PAIR_SPAN):
            ctypes.set_errno(0)
            result = libc.syscall(number, 0, x, 0, 0, 0, 0)
            report(out, str(ctypes.get_errno() if result == -1 else 0))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    got = [int(line) for line in result.text.split()]
    assert len(got) == PAIR_SPAN, result
    for x, (code, seen) in enumerate(zip(expected, got)):
        if code:
            assert seen == code, (first, second, x, seen)
        else:
            assert seen < 200, (first, second, x, seen)
    f.close()
