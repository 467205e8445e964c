"""Differential tests: the simulator and checker against the kernel.

Every program here is loaded in a child, which then issues syscalls with
ctypes and reports the result and errno of each on the pipe.  Every action
the programs can reach is ERRNO(k) or a kill, so no tested syscall really
runs.  The programs allow only the few syscalls the child needs to report
and exit (see test_program_asm.RESERVED).
"""

from __future__ import annotations

import ctypes
import errno
import functools
import mmap
import os
import random
import signal
import warnings
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import seccompx
from seccompx import ERRNO, Arch, Arg, Filter, Op, Program
from seccompx._bpfcode import Instruction, encode
from childproc import run_in_child
from test_program_asm import (
    ALU_K,
    ALU_X,
    JA,
    JEQ_K,
    JEQ_X,
    JGE_K,
    JGE_X,
    JGT_K,
    JGT_X,
    JSET_K,
    JSET_X,
    LD_IMM,
    LD_LEN,
    LD_MEM,
    LD_W_ABS,
    LDX_IMM,
    LDX_LEN,
    LDX_MEM,
    NEG,
    RESERVED,
    RET_A,
    ST,
    STX,
    TAX,
    TXA,
    errno_value,
    expected_outcome,
    no_core_dumps,
    parse_results,
    report_issue,
    ret,
    stmt,
    with_escape_hatch,
)

pytestmark = [
    pytest.mark.skipif(
        Arch.native() is not Arch.X86_64,
        reason="the reserved syscall numbers are x86_64 ones",
    ),
    # A test that means to trigger these warnings asserts them.
    pytest.mark.filterwarnings("error::seccompx.TruncatedValueWarning"),
    pytest.mark.filterwarnings("error::seccompx.MultiplexedRuleWarning"),
]

U64 = 2**64 - 1
EDGES_32 = [
    0,
    1,
    2,
    3,
    31,
    32,
    33,
    63,
    64,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFE,
    0xFFFFFFFF,
]
EDGES_64 = EDGES_32 + [
    2**32,
    2**32 + 1,
    2**63,
    2**63 - 1,
    U64,
    U64 - 1,
    0xFFFFFFFF00000000,
]

RESERVED_NAMES = ("write", "exit_group", "mmap", "munmap", "brk", "madvise")
# Syscalls the random rules and calls use; some are missing on some
# architectures, which libseccomp reports with UnmatchableRuleWarning.
POOL = (
    "read",
    "close",
    "getpid",
    "getuid",
    "dup",
    "dup3",
    "fcntl",
    "ioctl",
    "lseek",
    "kill",
    "openat",
    "socket",
    "connect",
    "pipe2",
    "getcwd",
    "chdir",
    "mkdirat",
    "unlinkat",
    "prctl",
    "mprotect",
    "nanosleep",
    "clock_gettime",
    "fstat",
    "setsockopt",
    "sendto",
)
X32_BIT = 0x40000000


def reserved_numbers(arch: str) -> frozenset:
    return frozenset(seccompx.resolve_syscall(name, arch) for name in RESERVED_NAMES)


RESERVED_NUMBERS = frozenset(RESERVED) | reserved_numbers("x32")
RESERVED_X86 = reserved_numbers("x86")
# Linux assigns no x86_64 syscall from 335 to 423.  Some virtual machines
# use these numbers for calls of their own and handle them before seccomp
# runs (one test machine raised SIGILL for 335 under a filter), so random
# syscalls leave the gap out.
UNASSIGNED_GAP = range(335, 424)


def usable(nr: int) -> bool:
    """Whether a random syscall number may be issued in a child."""
    return nr not in RESERVED_NUMBERS and nr not in UNASSIGNED_GAP


class Call(NamedTuple):
    """One syscall to issue: through the native entry, or int 0x80."""

    nr: int
    args: Tuple[int, ...]
    arch: Optional[str] = None  # None for native, "x86" for int 0x80


# A function (nr, a0, a1, a2, a3, a4) -> result that makes an i386
# syscall with int 0x80 from this x86_64 process: it moves the arguments
# from the x86_64 calling convention into eax, ebx, ecx, edx, esi and edi,
# sets ebp (the sixth argument) to 0, and sign-extends eax into the
# return value.
IA32_SYSCALL_CODE = bytes.fromhex(
    "53"  # push rbx
    "55"  # push rbp
    "31ed"  # xor ebp, ebp
    "89f8"  # mov eax, edi
    "89f3"  # mov ebx, esi
    "4189d2"  # mov r10d, edx
    "89ca"  # mov edx, ecx
    "4489d1"  # mov ecx, r10d
    "4489c6"  # mov esi, r8d
    "4489cf"  # mov edi, r9d
    "cd80"  # int 0x80
    "4863c0"  # movsxd rax, eax
    "5d"  # pop rbp
    "5b"  # pop rbx
    "c3"  # ret
)


def ia32_syscall() -> Tuple[Any, Callable[..., int]]:
    """Map IA32_SYSCALL_CODE; return the mapping (keep it) and the function."""
    memory = mmap.mmap(
        -1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
    )
    memory.write(IA32_SYSCALL_CODE)
    address = ctypes.addressof(ctypes.c_char.from_buffer(memory))
    function = ctypes.CFUNCTYPE(ctypes.c_long, *[ctypes.c_long] * 6)(address)
    return memory, function


@functools.lru_cache(maxsize=1)
def ia32_works() -> bool:
    """Whether the kernel runs i386 syscalls made with int 0x80 (it may
    lack IA32 emulation, or have it switched off)."""

    def body(fd: int) -> int:
        no_core_dumps()
        _, function = ia32_syscall()
        return 0 if function(20, 0, 0, 0, 0, 0) == os.getpid() else 1  # getpid

    return run_in_child(body).exitcode == 0


def report_call(fd: int, call: Call, ia32: Optional[Callable[..., int]]) -> None:
    if call.arch is None:
        report_issue(fd, call.nr, call.args)
        return
    assert ia32 is not None
    result = ia32(call.nr, *call.args[:5])
    pair = (-1, -result) if -4096 < result < 0 else (result, 0)
    os.write(fd, f"{pair[0]} {pair[1]}\n".encode())


def run_calls(
    prog: Program, calls: Sequence[Call]
) -> Tuple[List[Tuple[int, int]], Optional[int]]:
    """Load prog in a child, issue calls in order; return what it saw.

    Returns the (result, errno) pairs reported and the signal that ended
    the child, if one did.
    """

    def body(fd: int) -> int:
        no_core_dumps()
        memory, ia32 = ia32_syscall() if any(c.arch for c in calls) else (None, None)
        prog.load()
        for call in calls:
            report_call(fd, call, ia32)
        return 0

    result = run_in_child(body, timeout=30)
    if result.signal is None:
        assert result.exitcode == 0, result
    return parse_results(result.text), result.signal


def compare_with_kernel(prog: Program, calls: Sequence[Call]) -> None:
    """Assert the kernel's result for every call equals the simulator's.

    Calls the simulator says kill go last, and only the first of them is
    issued: the child cannot report after it.
    """
    errno_calls = []
    kill_calls = []
    for call in calls:
        action = prog.simulate(call.nr, call.args, arch=call.arch)
        if action.kind in (
            seccompx.ActionKind.KILL_THREAD,
            seccompx.ActionKind.KILL_PROCESS,
        ):
            kill_calls.append(call)
        else:
            errno_calls.append((call, expected_outcome(action)))
    issued = [call for call, _ in errno_calls] + kill_calls[:1]
    seen, killed_by = run_calls(prog, issued)
    for (call, want), got in zip(errno_calls, seen):
        assert got == want, f"syscall {call}: kernel {got}, simulator {want}"
    assert len(seen) == len(errno_calls), (seen, errno_calls)
    if kill_calls:
        assert killed_by == signal.SIGSYS
    else:
        assert killed_by is None


# Filters built by seccompx.Filter --------------------------------------------


@st.composite
def comparisons(draw: st.DrawFn, index: int) -> seccompx.Comparison:
    width = draw(st.sampled_from([64, 64, 32]))
    if width == 32:
        values = st.one_of(st.sampled_from(EDGES_32), st.integers(0, 2**32 - 1))
        op = draw(st.sampled_from([Op.EQ, Op.MASKED_EQ]))
    else:
        values = st.one_of(
            st.sampled_from(EDGES_64), st.integers(0, U64), st.integers(0, 300)
        )
        op = draw(st.sampled_from(list(Op)))
    arg = Arg(index, width=width)
    if op is Op.MASKED_EQ:
        mask = draw(values)
        return arg.masked_eq(mask, draw(values) & mask)
    value = draw(values)
    # Arg rejects "< 0" and "> 2**64-1", which can never match; test the
    # edge with the inclusive operator instead.
    if op is Op.LT and value == 0:
        op = Op.LE
    elif op is Op.GT and value == U64:
        op = Op.GE
    symbols = {
        Op.EQ: arg.__eq__,
        Op.NE: arg.__ne__,
        Op.LT: arg.__lt__,
        Op.LE: arg.__le__,
        Op.GT: arg.__gt__,
        Op.GE: arg.__ge__,
    }
    return symbols[op](value)


@st.composite
def rules(draw: st.DrawFn) -> Tuple[str, List[seccompx.Comparison]]:
    name = draw(st.sampled_from(POOL))
    indexes = draw(st.lists(st.integers(0, 5), unique=True, max_size=3))
    return name, [draw(comparisons(index)) for index in indexes]


FilterSpec = Tuple[
    List[Tuple[str, List[seccompx.Comparison]]], List[str], Optional[int], int
]


@st.composite
def filter_specs(draw: st.DrawFn) -> FilterSpec:
    rule_list = draw(st.lists(rules(), max_size=12))
    extra = draw(st.lists(st.sampled_from(["x32", "x86", "aarch64"]), unique=True))
    optimize = draw(st.sampled_from([None, 2]))
    seed = draw(st.integers(0, 2**32 - 1))
    return rule_list, extra, optimize, seed


def build_filter(spec: FilterSpec) -> Program:
    rule_list, extra, optimize, _ = spec
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.UnmatchableRuleWarning)
        # Values above 32 bits on x86 and x32, and argument rules on
        # socketcall(2) there, are part of what the kernel comparison
        # checks.  test_truncated_value_warns asserts the first warning.
        warnings.simplefilter("ignore", seccompx.TruncatedValueWarning)
        warnings.simplefilter("ignore", seccompx.MultiplexedRuleWarning)
        f = Filter(
            default=ERRNO(1),
            bad_arch=ERRNO(2),
            arches=["x86_64", *extra],
            optimize=optimize,
        )
        f.allow(*RESERVED_NAMES)
        for position, (name, comps) in enumerate(rule_list):
            try:
                f.add_rule(ERRNO(10 + position), name, *comps)
            except seccompx.SeccompError:
                continue  # a conflict libseccomp rejects, such as a duplicate
    prog = f.compile()
    f.close()
    return prog


def matching_value(rng: random.Random, comparison: seccompx.Comparison) -> int:
    """A value at or next to the edge of a comparison."""
    base = comparison.datum_b if comparison.op is Op.MASKED_EQ else comparison.datum_a
    choice = rng.randrange(6)
    if choice == 0:
        return (base + 1) & U64
    if choice == 1:
        return (base - 1) & U64
    if choice == 2:
        return base ^ (rng.getrandbits(32) << 32)
    if choice == 3 and comparison.op is Op.MASKED_EQ:
        return base | (rng.getrandbits(64) & ~comparison.datum_a & U64)
    return base


def random_x86_call(
    rng: random.Random, rule_list: List[Tuple[str, List[seccompx.Comparison]]]
) -> Optional[Call]:
    """An i386 syscall, often one that a rule names, with 32-bit args."""
    args = [
        rng.choice([0, rng.choice(EDGES_32), rng.getrandbits(32)]) for _ in range(5)
    ]
    kind = rng.randrange(3)
    names = [name for name, _ in rule_list] if kind < 2 and rule_list else list(POOL)
    try:
        nr = seccompx.resolve_syscall(rng.choice(names), "x86")
    except seccompx.UnknownSyscallError:
        nr = rng.randrange(460)
    if kind == 2:
        nr = rng.choice([nr, rng.randrange(460), rng.getrandbits(32)])
    if kind == 0 and rule_list:
        for comparison in rng.choice(rule_list)[1]:
            if comparison.arg < 5:
                args[comparison.arg] = matching_value(rng, comparison) & 0xFFFFFFFF
    if nr in RESERVED_X86:
        return None
    return Call(nr, tuple(args) + (0,), "x86")


def random_calls(spec: FilterSpec, count: int, x86: bool = False) -> List[Call]:
    rule_list, _, _, seed = spec
    rng = random.Random(seed)
    calls: List[Call] = []
    while len(calls) < count:
        if x86 and rng.randrange(2):
            call = random_x86_call(rng, rule_list)
            if call is not None:
                calls.append(call)
            continue
        args = [
            rng.choice([0, rng.choice(EDGES_64), rng.getrandbits(64)]) for _ in range(6)
        ]
        kind = rng.randrange(4)
        if kind < 2 and rule_list:
            name, comps = rng.choice(rule_list)
            nr = seccompx.resolve_syscall(name)
            for comparison in comps:
                args[comparison.arg] = matching_value(rng, comparison)
        elif kind == 2:
            nr = seccompx.resolve_syscall(rng.choice(POOL))
        else:
            nr = rng.choice([rng.randrange(460), rng.getrandbits(32), 0xFFFFFFFF])
        if rng.randrange(8) == 0:
            nr |= X32_BIT
        if not usable(nr):
            continue
        calls.append(Call(nr, tuple(args)))
    return calls


EVERY_OPERATOR: FilterSpec = (
    [
        ("read", [Arg(0) == 2**32 + 5, Arg(1) != 0, Arg(2) < 2**63]),
        ("close", [Arg(0) <= 0xFFFFFFFF, Arg(3) > 7, Arg(5) >= 2**40]),
        ("getpid", [Arg(1).masked_eq(0xFF00_0000_0000_00FF, 0x1200_0000_0000_0034)]),
        (
            "openat",
            [Arg(2, width=32) == 0xFFFFFFFF, Arg(4, width=32).masked_eq(0xF0, 0x30)],
        ),
    ],
    ["x32", "x86"],
    2,
    12345,
)


def test_truncated_value_warns() -> None:
    f = Filter(default=ERRNO(1), arches=["x86_64", "x32", "x86"])
    read_comparisons = EVERY_OPERATOR[0][0][1]
    expected = "rule for 'read' compares a value above 32 bits"
    with pytest.warns(seccompx.TruncatedValueWarning, match=expected) as caught:
        f.add_rule(ERRNO(10), "read", *read_comparisons)
    assert len(caught) == 1
    assert "x32" in str(caught[0].message)
    assert "x86" in str(caught[0].message)
    f.compile()
    f.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(spec=EVERY_OPERATOR)
@given(spec=filter_specs())
def test_filter_matches_kernel(spec: FilterSpec) -> None:
    prog = build_filter(spec)
    calls = random_calls(spec, 30)
    for call in calls:
        action = prog.simulate(call.nr, call.args)
        assert action.kind is seccompx.ActionKind.ERRNO, (call, action)
    compare_with_kernel(prog, calls)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example(spec=EVERY_OPERATOR)
@given(spec=filter_specs())
def test_filter_matches_kernel_on_x86(spec: FilterSpec) -> None:
    if not ia32_works():
        pytest.skip("the kernel does not run int 0x80 syscalls")
    rules_, extra, optimize, seed = spec
    if "x86" not in extra:
        extra = extra + ["x86"]
    spec = (rules_, extra, optimize, seed)
    prog = build_filter(spec)
    calls = random_calls(spec, 30, x86=True)
    assert any(call.arch == "x86" for call in calls)
    compare_with_kernel(prog, calls)


# Hand-assembled programs ---------------------------------------------------

DATA_OFFSETS = [0, 4] + list(range(16, 64, 4))
# Offsets 8 and 12 (instruction_pointer) are left out: the parent cannot
# know the address of the syscall instruction in libc.
EPILOGUE = [stmt(ALU_K["and"], 0x3FF), stmt(ALU_K["or"], 0x50000), stmt(RET_A)]
_ALU_NAMES = ["add", "sub", "mul", "div", "and", "or", "xor", "lsh", "rsh"]
_JUMPS_K = [JEQ_K, JGT_K, JGE_K, JSET_K]
_JUMPS_X = [JEQ_X, JGT_X, JGE_X, JSET_X]


def constant(rng: random.Random) -> int:
    return rng.choice(EDGES_32) if rng.randrange(2) else rng.getrandbits(32)


def random_insn(rng: random.Random, position: int, length: int) -> Instruction:
    """Return a random instruction for ``position`` in a body of ``length``.

    Jumps land inside the body or on the first instruction after it.
    """
    room = length - position - 1
    kind = rng.randrange(14)

    # Loads, moves and ALU operations.
    if kind == 0:
        return stmt(LD_W_ABS, rng.choice(DATA_OFFSETS))
    if kind == 1:
        return stmt(rng.choice([LD_IMM, LDX_IMM]), constant(rng))
    if kind == 2:
        return stmt(rng.choice([LD_LEN, LDX_LEN, TAX, TXA, NEG]))
    if kind in (3, 4):
        name = rng.choice(_ALU_NAMES)
        k = constant(rng)
        if name == "div" and k == 0:
            k = 7
        if name in ("lsh", "rsh"):
            k %= 32
        return stmt(ALU_K[name], k)
    if kind == 5:
        return stmt(ALU_X[rng.choice(_ALU_NAMES)])

    # Scratch memory.
    if kind == 6:
        return stmt(rng.choice([ST, STX]), rng.randrange(16))
    if kind == 7:
        return stmt(rng.choice([LD_MEM, LDX_MEM]), rng.randrange(16))

    # Jumps and returns.
    if kind in (8, 9):
        code = rng.choice(_JUMPS_K)
        return Instruction(
            code, rng.randint(0, room), rng.randint(0, room), constant(rng)
        )
    if kind == 10:
        code = rng.choice(_JUMPS_X)
        return Instruction(code, rng.randint(0, room), rng.randint(0, room), 0)
    if kind == 11:
        return stmt(JA, rng.randint(0, room))
    if kind == 12:
        return ret(errno_value(rng.randrange(1, 4096)))
    return stmt(ST, rng.randrange(16))


def random_body(rng: random.Random, length: int) -> List[Instruction]:
    return [random_insn(rng, position, length) for position in range(length)]


def repair_memory_reads(body: List[Instruction]) -> List[Instruction]:
    """Turn reads of scratch words some path never wrote into constants."""
    body = list(body)
    while True:
        try:
            Program(encode(body + EPILOGUE)).validate()
            return body
        except seccompx.ProgramError as error:
            assert error.index is not None and error.index < len(body), error
            bad = body[error.index]
            assert bad.code in (LD_MEM, LDX_MEM), error
            body[error.index] = stmt(LD_IMM if bad.code == LD_MEM else LDX_IMM, bad.k)


def raw_calls(rng: random.Random, count: int) -> List[Call]:
    calls = []
    while len(calls) < count:
        nr = rng.choice([39, 102, 110, rng.randrange(460), rng.getrandbits(32)])
        if not usable(nr):
            continue
        args = tuple(
            rng.choice(
                [0, rng.randrange(64), rng.choice(EDGES_64), rng.getrandbits(64)]
            )
            for _ in range(6)
        )
        calls.append(Call(nr, args))
    return calls


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), length=st.integers(1, 40))
def test_assembled_program_matches_kernel(seed: int, length: int) -> None:
    rng = random.Random(seed)
    body = repair_memory_reads(random_body(rng, length))
    prog = with_escape_hatch(body + EPILOGUE)
    compare_with_kernel(prog, raw_calls(rng, 12))


@pytest.mark.parametrize(
    "name, insns, args, want",
    [
        (
            "shift by X of 33",
            [stmt(LD_W_ABS, 16), stmt(LDX_IMM, 33), stmt(ALU_X["lsh"])],
            (3,),
            6,
        ),
        (
            "right shift by X",
            [stmt(LD_W_ABS, 16), stmt(LDX_IMM, 36), stmt(ALU_X["rsh"])],
            (0x80,),
            8,
        ),
        (
            "unsigned division",
            [stmt(LD_W_ABS, 16), stmt(ALU_K["div"], 3)],
            (0xFFFFFFFF,),
            0x155,
        ),
        (
            "32-bit wrap",
            [stmt(LD_W_ABS, 16), stmt(ALU_K["mul"], 0x10001)],
            (0xFFFF,),
            0x3FF,
        ),
        ("negate", [stmt(LD_W_ABS, 16), stmt(NEG)], (5,), 0x3FB),
        ("length", [stmt(LD_LEN)], (), 64),
        ("high word", [stmt(LD_W_ABS, 20)], (0x123_0000_0000,), 0x123),
        (
            "scratch memory",
            [
                stmt(LD_W_ABS, 24),
                stmt(ST, 9),
                stmt(LD_IMM, 0),
                stmt(LDX_MEM, 9),
                stmt(TXA),
            ],
            (0, 77),
            77,
        ),
        (
            "jset taken",
            [stmt(LD_W_ABS, 16), Instruction(JSET_K, 0, 1, 4), stmt(LD_IMM, 11)],
            (4,),
            11,
        ),
        (
            "jgt unsigned",
            [stmt(LD_W_ABS, 16), Instruction(JGT_K, 1, 0, 5), stmt(LD_IMM, 12)],
            (0xFFFFFFFF,),
            0x3FF,
        ),
    ],
)
def test_assembled_semantics(
    name: str, insns: List[Instruction], args: Tuple[int, ...], want: int
) -> None:
    prog = with_escape_hatch(insns + EPILOGUE)
    assert prog.simulate(39, args) == ERRNO(want)
    compare_with_kernel(prog, [Call(39, args)])


def test_division_by_zero_x_kills() -> None:
    prog = with_escape_hatch(
        [stmt(LD_W_ABS, 16), stmt(TAX), stmt(LD_IMM, 100), stmt(ALU_X["div"])]
        + EPILOGUE
    )
    assert prog.simulate(39, (5,)) == ERRNO(20)
    assert prog.simulate(39, (0,)) == seccompx.KILL_THREAD
    compare_with_kernel(prog, [Call(39, (5,)), Call(39, (0,))])


# The checker against the kernel --------------------------------------------

_ANY_CODES = [
    0x00,
    0x01,
    0x02,
    0x03,
    0x04,
    0x05,
    0x06,
    0x07,
    0x0C,
    0x0E,
    0x14,
    0x15,
    0x16,
    0x1D,
    0x20,
    0x28,
    0x30,
    0x40,
    0x48,
    0x50,
    0x60,
    0x61,
    0x80,
    0x81,
    0x84,
    0x87,
    0x8C,
    0x94,
    0x9C,
    0xA4,
    0xAC,
    0xB1,
    0xBC,
    0x6C,
    0x74,
    0x7C,
]


def mutate(rng: random.Random, insns: List[Instruction]) -> List[Instruction]:
    """Break one rule the kernel checks, or none, at random."""
    insns = list(insns)
    if not insns:
        return insns
    position = rng.randrange(len(insns))
    insn = insns[position]
    choice = rng.randrange(7)
    if choice == 0:
        insns[position] = insn._replace(code=rng.choice(_ANY_CODES))
    elif choice == 1:
        insns[position] = insn._replace(code=rng.getrandbits(16))
    elif choice == 2:
        insns[position] = insn._replace(
            k=rng.choice(EDGES_32 + [16, 17, 60, 61, 64, 0xFFFFF000, 0xFFFFF034])
        )
    elif choice == 3:
        insns[position] = insn._replace(jt=rng.randrange(256), jf=rng.randrange(4))
    elif choice == 4:
        insns.pop()
    elif choice == 5:
        insns[position] = stmt(rng.choice([LD_MEM, LDX_MEM]), rng.randrange(17))
    return insns


def checker_programs(seed: int, count: int) -> List[Program]:
    rng = random.Random(seed)
    programs = []
    for _ in range(count):
        length = rng.randrange(0, 24)
        insns = random_body(rng, length) + [ret(errno_value(rng.randrange(1, 4096)))]
        if rng.randrange(5):
            insns = mutate(rng, insns)
        programs.append(Program(encode(insns)))
    return programs


def kernel_accepts(programs: Sequence[Program]) -> Dict[int, Tuple[bool, int]]:
    """Load the programs in order in children; return index -> (accepted, errno).

    A child tries programs until the kernel accepts one, because an
    accepted program filters the child's later syscalls; the next child
    starts after it.
    """
    verdicts: Dict[int, Tuple[bool, int]] = {}
    start = 0
    while start < len(programs):

        def body(fd: int, first: int = start) -> int:
            no_core_dumps()
            for index in range(first, len(programs)):
                os.write(fd, f"T {index}\n".encode())
                try:
                    programs[index].load()
                except seccompx.LoadError as error:
                    os.write(fd, f"R {index} {error.errno}\n".encode())
                    continue
                os._exit(0)
            return 0

        result = run_in_child(body, timeout=30)
        assert result.exitcode != 71, result.text  # the body raised
        tried = None
        for line in result.text.splitlines():
            fields = line.split()
            if fields[0] == "T":
                tried = int(fields[1])
            elif fields[0] == "R":
                verdicts[int(fields[1])] = (False, int(fields[2]))
                tried = None
        if tried is None:
            break
        verdicts[tried] = (True, 0)
        start = tried + 1
    return verdicts


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_checker_matches_kernel(seed: int) -> None:
    programs = checker_programs(seed, 120)
    verdicts = kernel_accepts(programs)
    assert len(verdicts) == len(programs)
    accepted = 0
    for index, prog in enumerate(programs):
        kernel_ok, error = verdicts[index]
        accepted += kernel_ok
        if not kernel_ok:
            assert error == errno.EINVAL, (index, error)
        assert prog.is_valid == kernel_ok, (index, prog.disassemble(raw=True))
    # The mix must exercise both outcomes.
    assert 10 < accepted < len(programs) - 10
