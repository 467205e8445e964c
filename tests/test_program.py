"""seccompx.Program: value behaviour, disassembly, simulation, checks and
audit, plus the errors of Program.load in child processes."""

from __future__ import annotations

import ctypes
import errno
import os
import pickle
import signal
import struct
import threading
import warnings
from typing import List, Optional

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Arg, Filter, Program
from seccompx import _bpf
from seccompx._bpfcode import encode
from childproc import report, run_in_child
from test_program_asm import (
    ALLOW as RAW_ALLOW,
    ALU_K,
    ALU_X,
    JA,
    JEQ_K,
    JGE_K,
    JSET_K,
    JSET_X,
    KILL_PROCESS as RAW_KILL,
    LD_IMM,
    LD_LEN,
    LD_MEM,
    LD_W_ABS,
    LDX_IMM,
    LDX_MEM,
    NEG,
    NR_GETPID,
    OFFSET_ARCH,
    OFFSET_NR,
    RET_A,
    ST,
    STX,
    TAX,
    TXA,
    errno_value,
    issue,
    jump,
    no_core_dumps,
    program,
    ret,
    stmt,
)

X86_64 = int(Arch.X86_64)
X86 = int(Arch.X86)
X32_BIT = 0x40000000

pytestmark = pytest.mark.skipif(
    Arch.native() is not Arch.X86_64,
    reason="the hand-written programs use x86_64 syscall numbers",
)


def simple_program() -> Program:
    """An x86_64 allowlist laid out the way libseccomp lays it out."""
    return program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 12),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JGE_K, X32_BIT, 0, 1),
        jump(JEQ_K, 0xFFFFFFFF, 0, 9),
        jump(JEQ_K, 0, 1, 0),
        jump(JEQ_K, 1, 0, 1),
        ret(RAW_ALLOW),
        jump(JEQ_K, 257, 0, 5),
        stmt(LD_W_ABS, 36),
        jump(JEQ_K, 0, 0, 3),
        stmt(LD_W_ABS, 32),
        jump(JEQ_K, 5, 0, 1),
        ret(errno_value(1)),
        ret(RAW_KILL),
    )


def default_filter(
    default: seccompx.Action = KILL_PROCESS, **options: object
) -> Filter:
    f = Filter(default=default, **options)  # type: ignore[arg-type]
    f.allow("read", "write", "close", "exit_group")
    f.add_rule(ERRNO(errno.EACCES), "openat", Arg(2).masked_eq(3, 1))
    f.add_rule(ALLOW, "mmap", Arg(2) < 8, Arg(3) == 0x22)
    return f


# Value behaviour -------------------------------------------------------------


def test_program_length_and_bytes() -> None:
    prog = simple_program()
    assert len(prog) == 15
    assert len(bytes(prog)) == 15 * 8
    assert struct.unpack_from("=HBBI", bytes(prog)) == (LD_W_ABS, 0, 0, OFFSET_ARCH)


def test_program_equality_by_bytes() -> None:
    first = simple_program()
    second = Program(bytes(first), arches=[Arch.X86])
    assert first == second
    assert hash(first) == hash(second)
    assert first != program(ret(RAW_ALLOW))
    assert len({first, second}) == 1


def test_program_pickles() -> None:
    prog = Program(bytes(simple_program()), arches=["x86_64", "x32"])
    copy = pickle.loads(pickle.dumps(prog))
    assert copy == prog
    assert copy.arches == (Arch.X86_64, Arch.X32)


class TaggedProgram(Program):
    """A subclass that pickling must keep."""

    __slots__ = ()


def test_subclass_pickles() -> None:
    prog = TaggedProgram(bytes(simple_program()), arches=["x86_64"])
    copy = pickle.loads(pickle.dumps(prog))
    assert type(copy) is TaggedProgram
    assert copy == prog


@pytest.mark.parametrize(
    "arches,shown",
    [
        ("x86_64", "the string 'x86_64'"),
        (b"x86_64", "the bytes b'x86_64'"),
        (bytearray(b"x86_64"), "the bytearray bytearray(b'x86_64')"),
        (memoryview(b"x86_64"), "the memoryview b'x86_64'"),
    ],
)
def test_program_arches_string_rejected(arches, shown) -> None:
    data = bytes(simple_program())
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        Program(data, arches=arches)
    message = str(info.value)
    assert message.startswith(f"arches must be a list of architectures, not {shown}")
    assert message.endswith("write arches=['x86_64']")
    # The suggestion works.
    assert Program(data, arches=["x86_64"]).arches == (Arch.X86_64,)
    with pytest.raises(seccompx.InvalidArgumentError) as from_filter:
        Filter(KILL_PROCESS, arches=arches)
    assert str(info.value) == str(from_filter.value)


@pytest.mark.parametrize("arches", ["", "bogus", b"\xff"])
def test_program_arches_bad_string_no_suggestion(arches) -> None:
    data = bytes(simple_program())
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        Program(data, arches=arches)
    message = str(info.value)
    assert "write arches=" not in message
    assert "known architecture names are x86, x86_64" in message


@pytest.mark.parametrize(
    "arches", [["x86_64", "x86_64"], [Arch.native(), "native"], ["x86", Arch.X86]]
)
def test_program_arches_duplicate_rejected(arches) -> None:
    data = bytes(simple_program())
    with pytest.raises(seccompx.InvalidArgumentError, match="listed twice") as info:
        Program(data, arches=arches)
    with pytest.raises(seccompx.InvalidArgumentError) as from_filter:
        Filter(KILL_PROCESS, arches=arches)
    assert str(info.value) == str(from_filter.value)


def test_program_arches_not_iterable_rejected() -> None:
    with pytest.raises(TypeError, match="arches must be an iterable"):
        Program(bytes(simple_program()), arches=5)


def test_program_is_immutable() -> None:
    prog = simple_program()
    with pytest.raises(AttributeError):
        prog._data = b""  # type: ignore[misc]
    with pytest.raises(AttributeError):
        prog.foo = 1  # type: ignore[attr-defined]


def test_program_rejects_partial_instruction() -> None:
    with pytest.raises(seccompx.ProgramError, match="multiple of 8"):
        Program(b"\x00" * 12)
    with pytest.raises(TypeError):
        Program("text")  # type: ignore[arg-type]


def test_program_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "filter.bpf"
    f = default_filter()
    with open(path, "wb") as file:
        f.export_bpf_to(file)
    read = Program.from_file(path)
    assert read == f.compile()
    assert read.arches == (Arch.X86_64,)
    bad = tmp_path / "bad.bpf"
    bad.write_bytes(b"\x06\x00")
    with pytest.raises(seccompx.ProgramError, match="bad.bpf"):
        Program.from_file(bad)


def test_from_file_keeps_descriptor_open() -> None:
    data = bytes(simple_program())
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, data)
        os.close(write_end)
        assert Program.from_file(read_end) == simple_program()
        os.fstat(read_end)  # raises EBADF if from_file closed it
    finally:
        os.close(read_end)


def test_from_file_bad_data_names_descriptor() -> None:
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"\x06\x00\x00")
        os.close(write_end)
        with pytest.raises(seccompx.ProgramError, match="file descriptor"):
            Program.from_file(read_end)
        os.fstat(read_end)
    finally:
        os.close(read_end)


def test_from_file_reads_binary_file_object(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "filter.bpf"
    path.write_bytes(bytes(simple_program()))
    with open(path, "rb") as file:
        assert Program.from_file(file) == simple_program()
        assert not file.closed
    path.write_bytes(b"\x06")
    with open(path, "rb") as file:
        with pytest.raises(seccompx.ProgramError, match="filter.bpf"):
            Program.from_file(file)
    with open(path) as text_file:
        with pytest.raises(TypeError, match="binary mode"):
            Program.from_file(text_file)  # type: ignore[arg-type]


def test_from_file_rejects_other_sources() -> None:
    with pytest.raises(TypeError, match="path, a binary file object or a file descriptor"):
        Program.from_file(1.5)  # type: ignore[arg-type]
    with pytest.raises(seccompx.InvalidArgumentError, match="NUL"):
        Program.from_file("bad\x00name.bpf")


def test_repr_names_size_and_arches() -> None:
    assert repr(simple_program()) == "<seccompx.Program 15 instructions arches=x86_64>"


# Architectures -------------------------------------------------------------


def test_compile_passes_filter_arches() -> None:
    f = default_filter(arches=["x86_64", "x86", "aarch64"])
    assert f.compile().arches == (Arch.X86_64, Arch.X86, Arch.AARCH64)


@pytest.mark.parametrize(
    "arches",
    [
        ["x86_64"],
        ["x86_64", "x86"],
        ["x86_64", "x32"],
        ["x32"],
        ["x86_64", "x32", "x86", "aarch64", "arm", "riscv64"],
    ],
)
def test_arches_read_from_program(arches: List[str]) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.UnmatchableRuleWarning)
        f = default_filter(arches=arches)
    found = Program(bytes(f.compile())).arches
    assert sorted(found) == sorted(Arch.parse(a) for a in arches)


def test_arches_of_program_without_check() -> None:
    assert program(ret(RAW_ALLOW)).arches == ()


# Disassembly ---------------------------------------------------------------


def test_disassemble_simple_program() -> None:
    expected = [
        " 0: A = arch",
        " 1: if (A != x86_64) goto 14      # architecture check",
        " 2: A = sys_number",
        " 3: if (A < 0x40000000) goto 5    # x32 guard",
        " 4: if (A != 0xffffffff) goto 14",
        " 5: if (A == read) goto 7",
        " 6: if (A != write) goto 8",
        " 7: return ALLOW",
        " 8: if (A != openat) goto 14",
        " 9: A = args[2] high",
        "10: if (A != 0) goto 14",
        "11: A = args[2] low",
        "12: if (A != 5) goto 14",
        "13: return ERRNO(1)",
        "14: return KILL_PROCESS",
    ]
    lines = simple_program().disassemble().splitlines()
    assert len(lines) == len(expected)
    for got, want in zip(lines, expected):
        assert got.rstrip() == want


@pytest.mark.parametrize("raw", [1, 0, "yes", None])
def test_disassemble_raw_needs_bool(raw: object) -> None:
    with pytest.raises(TypeError, match="raw must be True or False"):
        simple_program().disassemble(raw=raw)  # type: ignore[arg-type]


def test_disassemble_names_syscalls_per_arch() -> None:
    # Number 3 is close on x86_64 and read on x86; the x86 block is only
    # reached when arch == x86.
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 2),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 3, 4, 5),
        jump(JEQ_K, X86, 0, 4),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 3, 0, 2),
        ret(RAW_ALLOW),
        ret(errno_value(1)),
        ret(RAW_KILL),
    )
    lines = [line.rstrip() for line in prog.disassemble().splitlines()]
    assert lines[3] == "3: if (A == close) goto 8 else goto 9"
    assert lines[4] == "4: if (A != x86) goto 9                # architecture check"
    assert lines[6] == "6: if (A != read) goto 9"


def test_disassemble_alu_memory_and_jumps() -> None:
    prog = program(
        stmt(LD_W_ABS, 16),
        stmt(ST, 3),
        stmt(LDX_IMM, 2),
        stmt(ALU_X["lsh"]),
        stmt(ALU_K["add"], 0x10),
        stmt(NEG),
        stmt(TAX),
        stmt(LD_MEM, 3),
        stmt(STX, 4),
        stmt(LDX_MEM, 4),
        stmt(TXA),
        stmt(LD_LEN),
        jump(JSET_X, 0, 1, 0),
        stmt(JA, 1),
        stmt(LD_IMM, 0x50002),
        stmt(RET_A),
    )
    expected = [
        " 0: A = args[0] low",
        " 1: M[3] = A",
        " 2: X = 2",
        " 3: A <<= X",
        " 4: A += 0x10",
        " 5: A = -A",
        " 6: X = A",
        " 7: A = M[3]",
        " 8: M[4] = X",
        " 9: X = M[4]",
        "10: A = X",
        "11: A = sizeof(seccomp_data)",
        "12: if (A & X) goto 14",
        "13: goto 15",
        "14: A = 0x50002",
        "15: return A",
    ]
    assert [line.rstrip() for line in prog.disassemble().splitlines()] == expected


def test_disassemble_marks_unreachable_and_invalid() -> None:
    prog = program(
        stmt(LD_W_ABS, 2),
        stmt(JA, 1),
        ret(RAW_ALLOW),
        stmt(0x28, 0),
        ret(errno_value(4095)),
    )
    lines = [line.rstrip() for line in prog.disassemble().splitlines()]
    assert lines[0] == "0: A = seccomp_data[2]  (invalid offset)"
    assert lines[1] == "1: goto 3"
    assert lines[2] == "2: return ALLOW                          # unreachable"
    assert lines[3] == "3: invalid opcode 0x28 (k=0x0)"
    assert lines[4] == "4: return ERRNO(4095)"


def test_disassemble_raw_columns() -> None:
    first = simple_program().disassemble(raw=True).splitlines()[1]
    assert first.startswith(" 1: 0015   0  12 c000003e  if (A != x86_64) goto 14")


def test_disassemble_x32_names_and_fallback_arch() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 3),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, X32_BIT | 0, 0, 1),
        ret(RAW_ALLOW),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 3, 0, 1),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    lines = [line.rstrip() for line in prog.disassemble().splitlines()]
    assert lines[3] == "3: if (A != x32:read) goto 5"
    # No arch check decides at 6: names come from the arch argument.
    assert lines[6] == "6: if (A != close) goto 8"
    x86_lines = prog.disassemble(arch="x86").splitlines()
    assert x86_lines[6].rstrip() == "6: if (A != read) goto 8"


def test_disassemble_libseccomp_filter() -> None:
    text = default_filter(optimize=2).compile().disassemble()
    assert "A = arch" in text
    assert "# x32 guard" in text
    assert "A = args[2] low" in text
    assert "return ERRNO(13)" in text
    assert "return KILL_PROCESS" in text
    assert "unreachable" not in text


# Simulation ----------------------------------------------------------------


def test_simulate_simple_program() -> None:
    prog = simple_program()
    assert prog.simulate("read") == ALLOW
    assert prog.simulate(1) == ALLOW
    assert prog.simulate("openat", (0, 0, 5)) == ERRNO(1)
    assert prog.simulate("openat", [0, 0, 5 | 1 << 32]) == KILL_PROCESS
    assert prog.simulate("getpid") == KILL_PROCESS
    assert prog.simulate("read", arch="x86") == KILL_PROCESS
    assert prog.simulate(0 | X32_BIT) == KILL_PROCESS
    assert prog.simulate(-1) == KILL_PROCESS


def test_simulate_raw_reports_instruction() -> None:
    result = simple_program().simulate_raw("openat", (0, 0, 5))
    assert result.instruction == 13
    assert result.value == errno_value(1)
    assert result.action == ERRNO(1)


def test_simulate_x32_token_and_number() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 3),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, X32_BIT, 0, 1),
        ret(errno_value(32)),
        ret(RAW_KILL),
    )
    assert prog.simulate("read", arch="x32") == ERRNO(32)
    assert prog.simulate("read", arch="x86_64") == KILL_PROCESS


def test_simulate_instruction_pointer_and_64bit_args() -> None:
    prog = program(
        stmt(LD_W_ABS, 12),
        jump(JEQ_K, 0x7FFF, 0, 3),
        stmt(LD_W_ABS, 16 + 8 * 5 + 4),
        jump(JEQ_K, 0xFFFFFFFF, 0, 1),
        ret(errno_value(2)),
        ret(errno_value(3)),
    )
    ip = 0x7FFF_0000_1000
    assert prog.simulate(
        "getpid", [0, 0, 0, 0, 0, -1], instruction_pointer=ip
    ) == ERRNO(2)
    assert prog.simulate(
        "getpid", [0, 0, 0, 0, 0, 2**64 - 1], instruction_pointer=ip
    ) == ERRNO(2)
    assert prog.simulate(
        "getpid", [0, 0, 0, 0, 0, 2**32 - 1], instruction_pointer=ip
    ) == ERRNO(3)
    assert prog.simulate("getpid", [0] * 6) == ERRNO(3)


def test_simulate_32bit_arch_registers() -> None:
    prog = program(stmt(LD_W_ABS, 16), stmt(RET_A))
    with pytest.raises(seccompx.InvalidArgumentError, match="32-bit register"):
        prog.simulate("getpid", [2**32], arch="x86")
    value = prog.simulate_raw("getpid", [-1], arch="x86").value
    assert value == 0xFFFFFFFF


def test_simulate_rejects_bad_input() -> None:
    prog = simple_program()
    with pytest.raises(seccompx.InvalidArgumentError, match="at most 6"):
        prog.simulate("read", [0] * 7)
    with pytest.raises(seccompx.InvalidArgumentError, match="64-bit register"):
        prog.simulate("read", [2**64])
    with pytest.raises(seccompx.UnknownSyscallError):
        prog.simulate("no_such_syscall")
    with pytest.raises(TypeError):
        prog.simulate(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value, action",
    [
        (0x12340000, KILL_PROCESS),
        (0x7FFF0007, ALLOW),
        (0x00050000 | 5000, seccompx.Action.from_raw(0x00050FFF)),
        (0x7FF00009, seccompx.TRACE(9)),
        (0x00000000, seccompx.KILL_THREAD),
    ],
)
def test_simulate_decodes_like_kernel(value: int, action: seccompx.Action) -> None:
    assert program(ret(value)).simulate("getpid") == action


def test_simulate_division_by_zero_x_returns_zero() -> None:
    prog = program(
        stmt(LDX_IMM, 0), stmt(LD_IMM, 10), stmt(ALU_X["div"]), ret(RAW_ALLOW)
    )
    result = prog.simulate_raw("getpid")
    assert result.value == 0
    assert result.instruction == 2


def test_simulate_filters_most_restrictive_wins() -> None:
    first = program(ret(errno_value(1)))
    second = program(ret(errno_value(2)))
    killer = program(ret(RAW_KILL))
    allow = program(ret(RAW_ALLOW))
    action, position, _ = seccompx.program.simulate_filters([first, second], "getpid")
    assert (action, position) == (ERRNO(2), 1)
    action, position, _ = seccompx.program.simulate_filters(
        [allow, killer, first], "read"
    )
    assert (action, position) == (KILL_PROCESS, 1)


def test_simulate_argument_types_named() -> None:
    prog = simple_program()
    with pytest.raises(TypeError, match="args must be a sequence of up to 6 ints"):
        prog.simulate("read", 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="args must be a sequence"):
        prog.simulate("read", "12")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="argument 1 must be an int"):
        prog.simulate("read", [1, "2"])  # type: ignore[list-item]
    with pytest.raises(seccompx.InvalidArgumentError, match="integer of 16610 bits"):
        prog.simulate("read", [10**5000])


def test_simulate_filters_checks_programs() -> None:
    prog = simple_program()
    simulate_filters = seccompx.program.simulate_filters
    with pytest.raises(TypeError, match=r"programs\[1\] must be a seccompx.Program, not str"):
        simulate_filters([prog, "x"], "read")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="programs must be a sequence"):
        simulate_filters(prog, "read")  # type: ignore[arg-type]
    with pytest.raises(seccompx.InvalidArgumentError, match="no filters"):
        simulate_filters([], "read")


# Kernel checks -------------------------------------------------------------

# Programs the kernel rejects, with the index ProgramError must name.
INVALID_PROGRAMS = {
    "empty": ([], None),
    "unknown opcode": ([stmt(0xFF), ret(RAW_ALLOW)], 0),
    "ret X": ([stmt(LD_IMM), stmt(0x0E)], 1),
    "division by constant 0": ([stmt(ALU_K["div"], 0), ret(RAW_ALLOW)], 0),
    "modulo by constant 0": ([stmt(ALU_K["mod"], 0), ret(RAW_ALLOW)], 0),
    "modulo": ([stmt(ALU_K["mod"], 3), ret(RAW_ALLOW)], 0),
    "shift by 32": ([stmt(ALU_K["lsh"], 32), ret(RAW_ALLOW)], 0),
    "right shift by 40": ([stmt(ALU_K["rsh"], 40), ret(RAW_ALLOW)], 0),
    "scratch index 16": ([stmt(ST, 16), ret(RAW_ALLOW)], 0),
    "ja past end": ([stmt(JA, 1), ret(RAW_ALLOW)], 0),
    "jeq past end": ([jump(JEQ_K, 0, 1, 0), ret(RAW_ALLOW)], 0),
    "last not return": ([ret(RAW_ALLOW), stmt(LD_IMM, 1)], 1),
    "unaligned load": ([stmt(LD_W_ABS, 2), ret(RAW_ALLOW)], 0),
    "load past seccomp_data": ([stmt(LD_W_ABS, 64), ret(RAW_ALLOW)], 0),
    "halfword load": ([stmt(0x28, 0), ret(RAW_ALLOW)], 0),
    "indirect load": ([stmt(0x40, 0), ret(RAW_ALLOW)], 0),
    "msh load": ([stmt(0xB1, 0), ret(RAW_ALLOW)], 0),
    "ancillary load": ([stmt(LD_W_ABS, 0xFFFFF000), ret(RAW_ALLOW)], 0),
    "unknown ancillary": ([stmt(LD_W_ABS, 0xFFFFF040), ret(RAW_ALLOW)], 0),
    "uninitialized memory": ([stmt(LD_MEM, 0), ret(RAW_ALLOW)], 0),
    "memory written on one path": (
        [jump(JEQ_K, 0, 1, 0), stmt(ST, 2), stmt(LDX_MEM, 2), ret(RAW_ALLOW)],
        2,
    ),
    "memory written after jump target": (
        [
            stmt(ST, 1),
            jump(JEQ_K, 0, 0, 1),
            stmt(ST, 5),
            stmt(LD_MEM, 5),
            ret(RAW_ALLOW),
        ],
        3,
    ),
}

# Programs the kernel accepts although they look odd.
VALID_ODD_PROGRAMS = {
    # The kernel's memory check carries the words written before a return
    # into the instruction after it.
    "memory carried past return": [
        stmt(ST, 0),
        ret(RAW_ALLOW),
        stmt(LD_MEM, 0),
        ret(RAW_ALLOW),
    ],
    "written on both paths": [
        jump(JEQ_K, 0, 0, 2),
        stmt(ST, 7),
        stmt(JA, 1),
        stmt(STX, 7),
        stmt(LD_MEM, 7),
        ret(RAW_ALLOW),
    ],
    "length loads": [stmt(LD_LEN), stmt(0x81), ret(RAW_ALLOW)],
    "last aligned word": [stmt(LD_W_ABS, 60), ret(RAW_ALLOW)],
    "shift by 31": [stmt(ALU_K["lsh"], 31), stmt(ALU_K["rsh"], 31), ret(RAW_ALLOW)],
}


@pytest.mark.parametrize("name", sorted(INVALID_PROGRAMS))
def test_invalid_program_raises(name: str) -> None:
    insns, index = INVALID_PROGRAMS[name]
    prog = Program(encode(insns))
    with pytest.raises(seccompx.ProgramError) as caught:
        prog.simulate("getpid")
    assert caught.value.index == index
    if index is not None:
        assert str(caught.value).startswith(f"instruction {index}: ")
    assert not prog.is_valid


def test_too_long_program_raises() -> None:
    prog = Program(encode([stmt(LD_IMM)] * 4096 + [ret(RAW_ALLOW)]))
    with pytest.raises(seccompx.ProgramError, match="4097 instructions"):
        prog.validate()


@pytest.mark.parametrize("name", sorted(VALID_ODD_PROGRAMS))
def test_odd_program_is_valid(name: str) -> None:
    Program(encode(VALID_ODD_PROGRAMS[name])).validate()


def test_kernel_agrees_with_checker() -> None:
    invalid = [Program(encode(insns)) for insns, _ in INVALID_PROGRAMS.values()]
    invalid.append(Program(encode([stmt(LD_IMM)] * 4096 + [ret(RAW_ALLOW)])))
    valid = [Program(encode(insns)) for insns in VALID_ODD_PROGRAMS.values()]

    # _bpf.load() leaves every check to the kernel, whereas Program.load()
    # rejects these programs before calling it.
    def body(fd: int) -> int:
        for prog in invalid:
            try:
                _bpf.load(prog._data, _bpf.FLAG_TSYNC, True)
            except seccompx.LoadError as error:
                os.write(fd, f"{error.errno} {error.reason}\n".encode())
            else:
                os.write(fd, b"loaded\n")
        # Each valid program allows everything, so they can stack.
        for prog in valid:
            _bpf.load(prog._data, _bpf.FLAG_TSYNC, True)
            os.write(fd, b"loaded\n")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    lines = result.text.splitlines()
    assert len(lines) == len(invalid) + len(valid), result
    for line in lines[: len(invalid) - 1]:
        assert line == f"{errno.EINVAL} program"
    assert lines[len(invalid) - 1] == f"{errno.EINVAL} too_large"
    assert lines[len(invalid) :] == ["loaded"] * len(valid)


def no_new_privs() -> str:
    """Return the NoNewPrivs value of /proc/self/status."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("NoNewPrivs:"):
                return line.split()[1]
    return "missing"


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "program"),
        (b"\xff" * 16, "program"),
        (encode([stmt(LD_IMM)] * 4096 + [ret(RAW_ALLOW)]), "too_large"),
    ],
    ids=["empty", "bad opcode", "4097 instructions"],
)
def test_invalid_load_keeps_privileges(data: bytes, reason: str) -> None:
    prog = Program(data)

    def body(fd: int) -> int:
        try:
            prog.load()
        except seccompx.LoadError as error:
            report(fd, f"{error.errno} {error.reason}")
        report(fd, f"no_new_privs {no_new_privs()}")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text.splitlines() == [
        f"{errno.EINVAL} {reason}",
        "no_new_privs 0",
    ]


@pytest.mark.parametrize(
    "syscall, answer, reason",
    [
        ("prctl", errno.EPERM, "stacked"),
        ("seccomp", errno.EPERM, "stacked"),
        ("seccomp", errno.EACCES, "stacked"),
        ("seccomp", errno.EINVAL, "flag"),
    ],
)
def test_load_under_blocking_filter(syscall: str, answer: int, reason: str) -> None:
    first = Filter(ALLOW)
    first.add_rule(ERRNO(answer), syscall)
    blocking = first.compile()
    first.close()
    prog = program(ret(RAW_ALLOW))

    def body(fd: int) -> int:
        blocking.load()
        try:
            prog.load()
        except seccompx.LoadError as error:
            report(fd, f"{error.errno} {error.reason}")
            report(fd, str(error))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    lines = result.text.splitlines()
    assert lines[0] == f"{answer} {reason}"
    assert "seccomp filter" in lines[1]


# Loading -------------------------------------------------------------------


def test_load_applies_program() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, NR_GETPID, 0, 1),
        ret(errno_value(errno.EXDEV)),
        ret(RAW_ALLOW),
    )

    def body(fd: int) -> int:
        assert prog.load() is None
        return 0 if issue(NR_GETPID, ()) == (-1, errno.EXDEV) else 1

    result = run_in_child(body)
    assert result.exitcode == 0, result


def test_load_flags_and_listener() -> None:
    def body(fd: int) -> int:
        listener = program(ret(RAW_ALLOW)).load(
            log=True, spec_allow=True, new_listener=True
        )
        assert listener is not None
        os.write(fd, os.readlink(f"/proc/self/fd/{listener}").encode())
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "anon_inode:seccomp notify"


def load_error_in_child(body_load) -> str:  # type: ignore[no-untyped-def]
    def body(fd: int) -> int:
        try:
            body_load()
        except seccompx.LoadError as error:
            os.write(
                fd, f"{error.reason} {error.errno} {error.thread}\n{error}".encode()
            )
            return 0
        return 1

    result = run_in_child(body)
    assert result.exitcode == 0, result
    return result.text


def test_load_error_without_no_new_privs() -> None:
    def attempt() -> None:
        os.setuid(65534)
        program(ret(RAW_ALLOW)).load(no_new_privs=False)

    text = load_error_in_child(attempt)
    assert text.startswith(f"no_new_privs {errno.EACCES} None\n")
    assert "CAP_SYS_ADMIN" in text


def test_load_error_too_large() -> None:
    big = Program(encode([stmt(LD_IMM)] * 5000 + [ret(RAW_ALLOW)]))
    text = load_error_in_child(big.load)
    assert text.startswith(f"too_large {errno.EINVAL} None\n")
    assert "5001 BPF instructions" in text


def test_load_error_bad_flag() -> None:
    # A flag bit the kernel does not define; Program.load() itself only
    # passes known flags, and refuses wait_killable_recv without a listener.
    text = load_error_in_child(
        lambda: _bpf.load(bytes(program(ret(RAW_ALLOW))), 1 << 20, True)
    )
    assert text.startswith(f"flag {errno.EINVAL} None\n")


def test_load_error_stacked_limit() -> None:
    # 4096 instructions plus 4 per filter: the eighth exceeds 32768.
    big = Program(encode([stmt(LD_IMM)] * 4095 + [ret(RAW_ALLOW)]))

    def attempt() -> None:
        for _ in range(8):
            big.load(tsync=False)

    text = load_error_in_child(attempt)
    assert text.startswith(f"too_large {errno.ENOMEM} None\n")


def test_load_error_second_listener() -> None:
    def attempt() -> None:
        fd = program(ret(RAW_ALLOW)).load(new_listener=True)
        assert isinstance(fd, int) and fd >= 0
        program(ret(RAW_ALLOW)).load(new_listener=True)

    text = load_error_in_child(attempt)
    assert text.startswith(f"listener {errno.EBUSY} None\n")


@pytest.mark.parametrize("new_listener", [False, True])
def test_load_error_tsync_names_thread(new_listener: bool) -> None:
    def attempt() -> None:
        loaded = threading.Event()
        done = threading.Event()
        tids = []

        def other() -> None:
            tids.append(threading.get_native_id())
            program(ret(RAW_ALLOW)).load(tsync=False)
            loaded.set()
            done.wait()

        thread = threading.Thread(target=other)
        thread.start()
        loaded.wait()
        try:
            program(ret(RAW_ALLOW)).load(new_listener=new_listener)
        except seccompx.LoadError as error:
            if error.thread != tids[0]:
                raise AssertionError(f"thread {error.thread}, expected {tids[0]}")
            raise
        finally:
            done.set()
            thread.join()

    text = load_error_in_child(attempt)
    assert text.startswith(f"tsync {errno.ESRCH} ")


# Audit ---------------------------------------------------------------------


# Findings about programs that stop their own process, which the
# hand-assembled programs below give besides the one each test is about.
SELF_BLOCKING = ("exit-blocked", "native-arch-missing")


def codes(prog: Program) -> List[str]:
    return [finding.code for finding in prog.audit()]


@pytest.mark.parametrize("default", [KILL_PROCESS, ERRNO(errno.EPERM), seccompx.TRAP])
@pytest.mark.parametrize("optimize", [None, 2])
def test_audit_default_filter_is_clean(
    default: seccompx.Action, optimize: object
) -> None:
    f = default_filter(default, optimize=optimize)
    assert f.compile().audit() == []
    assert Program(bytes(f.compile())).audit() == []


def test_audit_multiarch_allowlist_is_clean() -> None:
    f = default_filter(arches=["x86_64", "x32", "aarch64"])
    assert f.compile().audit() == []


def test_audit_default_allow() -> None:
    f = Filter(default=ALLOW)
    f.deny("ptrace", "kexec_load")
    findings = f.compile().audit()
    assert [finding.code for finding in findings] == ["default-allow"]
    assert findings[0].severity == "medium"
    assert findings[0].index is not None


def test_audit_no_arch_check() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 0, 0, 1),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    findings = prog.audit()
    assert [f.code for f in findings if f.code not in SELF_BLOCKING] == ["no-arch-check"]
    assert findings[0].index == 0


def test_audit_foreign_arch_allowed() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 1, 0),
        ret(RAW_ALLOW),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JGE_K, X32_BIT, 2, 0),
        jump(JEQ_K, 0, 0, 1),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    findings = prog.audit()
    assert [f.code for f in findings if f.code not in SELF_BLOCKING] == ["foreign-arch-allowed"]
    assert findings[0].index == 2
    assert "x86_64" in findings[0].message


def test_audit_missing_x32_guard() -> None:
    # A denylist without the x32 guard: x32's ptrace has another number.
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 3),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 101, 1, 0),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    assert codes(prog) == ["no-x32-guard", "default-allow"]
    guarded = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 4),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JSET_K, X32_BIT, 2, 0),
        jump(JEQ_K, 101, 1, 0),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    assert codes(guarded) == ["default-allow"]


NR_EXECVE = 59
X32_NR_EXECVE = X32_BIT | 520


def execve_denylist(x32_execve: Optional[int] = None) -> Program:
    """Return an x86_64 denylist that kills execve, with no x32 guard.

    Given ``x32_execve``, the program also compares x32's execve number
    and returns that value for it.
    """
    if x32_execve is None:
        return program(
            stmt(LD_W_ABS, OFFSET_ARCH),
            jump(JEQ_K, X86_64, 0, 3),
            stmt(LD_W_ABS, OFFSET_NR),
            jump(JEQ_K, NR_EXECVE, 1, 0),
            ret(RAW_ALLOW),
            ret(RAW_KILL),
        )
    return program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 0, 5),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, NR_EXECVE, 3, 0),
        jump(JEQ_K, X32_NR_EXECVE, 0, 1),
        ret(x32_execve),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )


def test_audit_x32_guard_only_on_bypass() -> None:
    plain = execve_denylist()
    assert plain.arches == (Arch.X86_64,)
    # (case, program, whether x32's execve escapes the x86_64 rule)
    cases = [
        ("x86_64 only", plain, True),
        ("x32 listed, no x32 rule", Program(bytes(plain), arches=["x86_64", "x32"]), True),
        ("x32 allowed", execve_denylist(RAW_ALLOW), True),
        ("x32 killed", execve_denylist(RAW_KILL), False),
        ("x32 gets ERRNO", execve_denylist(errno_value(1)), False),
    ]
    for case, prog, expected in cases:
        found = [f for f in prog.audit() if f.code == "no-x32-guard"]
        assert bool(found) == expected, case
        if found:
            assert found[0].severity == "high", case
    assert execve_denylist(RAW_KILL).arches == (Arch.X86_64, Arch.X32)


def test_audit_x32_bypass_names_syscall() -> None:
    prog = execve_denylist(RAW_ALLOW)
    (finding,) = [f for f in prog.audit() if f.code == "no-x32-guard"]
    assert "(execve; x86_64 execve reaches KILL_PROCESS)" in finding.message
    assert finding.index == 5


def test_audit_x32_covered_denylist_clean() -> None:
    f = Filter(ALLOW, arches=["x86_64", "x32"])
    f.deny("execve", action=KILL_PROCESS)
    prog = f.compile()
    assert prog.simulate("execve", arch="x32") == KILL_PROCESS
    assert codes(prog) == ["default-allow", "default-allow"]
    assert codes(Program(bytes(prog))) == ["default-allow", "default-allow"]

    def body(out: int) -> None:
        f.load()
        report(out, "loaded")
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall(ctypes.c_long(X32_NR_EXECVE), 0, 0, 0)
        report(out, "survived")

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


def test_audit_oci_example_profile_clean() -> None:
    # The example profile of the OCI runtime specification (config-linux.md).
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [{"names": ["getcwd", "chmod"], "action": "SCMP_ACT_ERRNO"}],
    }
    f = Filter.from_profile(profile, capabilities=[])
    prog = f.compile()
    f.close()
    assert prog.arches == (Arch.X86_64, Arch.X86, Arch.X32)
    for arch in ("x86_64", "x86", "x32"):
        assert prog.simulate("getcwd", arch=arch) == ERRNO(1), arch
    assert "no-x32-guard" not in codes(prog)
    assert codes(prog) == ["default-allow"] * 3


def test_audit_socketcall_bypass() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", seccompx.UnmatchableRuleWarning)
        f = Filter(default=KILL_PROCESS, arches=["x86_64", "x86"])
        f.allow("read", "write")
        with pytest.warns(seccompx.MultiplexedRuleWarning, match="connect"):
            f.add_rule(ALLOW, "connect", Arg(0) == 3)
    findings = f.compile().audit()
    assert [finding.code for finding in findings if finding.code not in SELF_BLOCKING] == ["multiplexer-bypass"]
    assert "socketcall" in findings[0].message
    assert "x86" in findings[0].message


def test_audit_ipc_bypass() -> None:
    # On x86: allow semctl(3) only when args[2] == 0, and allow ipc.
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86, 0, 7),
        stmt(LD_W_ABS, OFFSET_NR),
        jump(JEQ_K, 394, 0, 3),
        stmt(LD_W_ABS, 32),
        jump(JEQ_K, 0, 2, 3),
        ret(RAW_KILL),
        jump(JEQ_K, 117, 0, 1),
        ret(RAW_ALLOW),
        ret(RAW_KILL),
    )
    findings = prog.audit()
    assert [f.code for f in findings if f.code not in SELF_BLOCKING] == ["multiplexer-bypass", "unreachable"]
    assert "ipc(3, ...)" in findings[0].message
    assert "semctl" in findings[0].message


def test_audit_unreachable() -> None:
    prog = program(
        stmt(LD_W_ABS, OFFSET_ARCH),
        jump(JEQ_K, X86_64, 3, 3),
        ret(RAW_ALLOW),
        ret(RAW_ALLOW),
        ret(errno_value(1)),
        ret(RAW_KILL),
    )
    findings = prog.audit()
    assert [f.code for f in findings if f.code not in SELF_BLOCKING] == ["unreachable"]
    assert findings[0].index == 2
    assert findings[0].severity == "low"
    assert "instructions 2 to 4 are unreachable" in findings[0].message


def test_audit_explains_libseccomp_dead_return() -> None:
    # With 254 rules the jumps to the final bad-architecture return would
    # span more than 255 instructions, so libseccomp puts a copy of it
    # after the architecture check and never jumps to the original.
    names = [seccompx.syscall_name(number) for number in range(254)]
    f = Filter(default=ERRNO(1))
    f.allow(*names)
    prog = f.compile()
    f.close()
    findings = prog.audit()
    assert [finding.code for finding in findings] == ["unreachable"]
    last = len(prog) - 1
    assert findings[0].index == last
    assert prog.instructions[last] == (0x06, 0, 0, 0x80000000)
    assert "libseccomp leaves such a return" in findings[0].message
    assert "harmless" in findings[0].message


def test_audit_invalid_program() -> None:
    findings = program(stmt(LD_MEM, 0), ret(RAW_ALLOW)).audit()
    assert findings[0].code == "invalid-program"
    assert findings[0].index == 0


def test_finding_is_frozen() -> None:
    finding = program(ret(RAW_ALLOW)).audit()[0]
    with pytest.raises(AttributeError):
        finding.code = "x"  # type: ignore[misc]
    assert str(finding).startswith("medium: default-allow at instruction 0: ")


# Reading filters of other processes ----------------------------------------


def dump_from_parent(target, before=None) -> str:  # type: ignore[no-untyped-def]
    """Fork a target that runs target() and waits; dump it from a child.

    The dumping process is itself a run_in_child child, so nothing here
    touches the test process.  Returns what the dumper reported.
    """

    def dumper(fd: int) -> int:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 70
            try:
                os.close(ready_r)
                os.close(go_w)
                code = target(ready_w, go_r)
            finally:
                os._exit(code)
        os.close(ready_w)
        os.close(go_r)
        os.read(ready_r, 1)
        if before is not None:
            before()
        try:
            programs = seccompx.program.dump(pid)
            os.write(
                fd,
                b"programs "
                + b" ".join(bytes(p).hex().encode() for p in programs)
                + b"\n",
            )
        except seccompx.SeccompError as error:
            os.write(fd, f"error {error.errno} {error}\n".encode())
        os.write(go_w, b"g")
        _, status = os.waitpid(pid, 0)
        os.write(fd, f"target {status}\n".encode())
        return 0

    result = run_in_child(dumper)
    assert result.exitcode == 0, result
    return result.text


FIRST = program(
    stmt(LD_W_ABS, OFFSET_NR),
    jump(JEQ_K, NR_GETPID, 0, 1),
    ret(errno_value(errno.EPERM)),
    ret(RAW_ALLOW),
)


def test_dump_returns_loaded_filters() -> None:
    second = Filter(default=ALLOW)
    second.deny("uname", action=ERRNO(errno.EIO))
    second_program = second.compile()
    second.close()

    def target(ready: int, go: int) -> int:
        FIRST.load()
        second_program.load()
        os.write(ready, b"r")
        os.read(go, 1)
        # Still filtered after the dumper detached.
        return 0 if issue(NR_GETPID, ()) == (-1, errno.EPERM) else 1

    lines = dump_from_parent(target).splitlines()
    assert lines[0] == f"programs {bytes(FIRST).hex()} {bytes(second_program).hex()}"
    assert lines[1] == "target 0"


def test_dump_process_without_filters() -> None:
    def target(ready: int, go: int) -> int:
        os.write(ready, b"r")
        os.read(go, 1)
        return 0

    assert dump_from_parent(target).splitlines() == ["programs ", "target 0"]


def test_dump_refused_under_seccomp() -> None:
    def target(ready: int, go: int) -> int:
        FIRST.load()
        os.write(ready, b"r")
        os.read(go, 1)
        return 0

    lines = dump_from_parent(
        target, before=lambda: program(ret(RAW_ALLOW)).load()
    ).splitlines()
    assert lines[0].startswith(f"error {errno.EACCES} ")
    assert "CAP_SYS_ADMIN" in lines[0]
    assert lines[1] == "target 0"


def test_dump_rejects_own_pid() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="calling process"):
        seccompx.program.dump(os.getpid())
    started = threading.Event()
    done = threading.Event()
    tids = []

    def wait() -> None:
        tids.append(threading.get_native_id())
        started.set()
        done.wait()

    thread = threading.Thread(target=wait)
    thread.start()
    try:
        started.wait()
        with pytest.raises(seccompx.InvalidArgumentError, match="threads"):
            seccompx.program.dump(tids[0])
    finally:
        done.set()
        thread.join()
    with pytest.raises(seccompx.InvalidArgumentError):
        seccompx.program.dump(0)


def test_dump_missing_process() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    with pytest.raises(seccompx.SeccompError) as caught:
        seccompx.program.dump(pid)
    assert caught.value.errno == errno.ESRCH


@pytest.mark.parametrize("pid", [-1, 2**31, 10**5000], ids=["negative", "2**31", "huge"])
def test_dump_rejects_pid_out_of_range(pid: int) -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="up to 2147483647"):
        seccompx.program.dump(pid)


def test_killed_child_reports_sigsys() -> None:
    # A sanity check of the child helper used by the kernel tests.
    def body(fd: int) -> int:
        no_core_dumps()
        program(ret(RAW_KILL)).load()
        issue(NR_GETPID, ())
        return 0

    assert run_in_child(body).signal == signal.SIGSYS


def test_audit_exit_blocked() -> None:
    f = Filter(default=ERRNO(errno.EPERM))
    f.allow("read", "write")
    findings = [x for x in f.compile().audit() if x.code == "exit-blocked"]
    assert len(findings) == 1
    assert findings[0].severity == "low"
    assert "exit_group" in findings[0].message
    assert "ERRNO(1)" in findings[0].message


def exit_blocked(prog: Program) -> List[seccompx.program.Finding]:
    return [finding for finding in prog.audit() if finding.code == "exit-blocked"]


def exit_blocked_above(limit: int, action: seccompx.Action) -> Filter:
    """Return a filter that gives exit_group ``action`` for a status above
    ``limit`` and allows everything else."""
    f = Filter(default=ALLOW)
    f.add_rule(action, "exit_group", Arg(0) > limit)
    return f


def test_audit_exit_blocked_nonzero_status() -> None:
    # exit_group is allowed only with status 0, so a probe with status 0
    # alone would miss this.
    f = Filter(default=KILL_PROCESS)
    f.allow("read", "write", "exit")
    f.add_rule(ALLOW, "exit_group", Arg(0) == 0)
    findings = exit_blocked(f.compile())
    assert len(findings) == 1
    message = findings[0].message
    assert message.startswith(f"exit_group(1) on {Arch.native()} reaches KILL_PROCESS,")
    assert "cannot exit normally with status 1" in message
    assert findings[0].index is not None


def test_audit_exit_blocked_status_255() -> None:
    findings = exit_blocked(exit_blocked_above(1, KILL_PROCESS).compile())
    assert len(findings) == 1
    assert findings[0].message.startswith("exit_group(255) on ")
    assert "with status 255" in findings[0].message


def test_audit_exit_allowed_every_status() -> None:
    assert exit_blocked(exit_blocked_above(255, KILL_PROCESS).compile()) == []


EXIT_CONSEQUENCES = [
    (ERRNO(errno.EPERM), "ERRNO(1)",
     "exit_group fails, so glibc's _exit() calls exit, which ends only the "
     "calling thread, and faults (SIGSEGV on x86) if exit fails too"),
    (KILL_PROCESS, "KILL_PROCESS", "the kernel kills the process with SIGSYS"),
    (seccompx.KILL_THREAD, "KILL_THREAD",
     "the kernel kills the calling thread with SIGSYS"),
    (seccompx.TRAP, "TRAP", "the process gets SIGSYS instead of exiting"),
    (seccompx.TRACE(7), "TRACE(7)", "depends on its tracer"),
    (seccompx.NOTIFY, "NOTIFY", "depends on its supervisor"),
]


@pytest.mark.parametrize(
    "action, name, consequence",
    EXIT_CONSEQUENCES,
    ids=[name for _, name, _ in EXIT_CONSEQUENCES],
)
def test_audit_exit_blocked_consequence(
    action: seccompx.Action, name: str, consequence: str
) -> None:
    findings = exit_blocked(exit_blocked_above(0, action).compile())
    assert len(findings) == 1
    message = findings[0].message
    assert message.startswith(f"exit_group(1) on {Arch.native()} reaches {name},")
    assert consequence in message
    if name != "ERRNO(1)":
        assert "glibc" not in message
        assert "SIGSEGV" not in message


KERNEL_EXIT_OUTCOMES = [
    (KILL_PROCESS, signal.SIGSYS),
    (seccompx.KILL_THREAD, signal.SIGSYS),
    (seccompx.TRAP, signal.SIGSYS),
]


@pytest.mark.parametrize(
    "action, expected",
    KERNEL_EXIT_OUTCOMES,
    ids=[repr(action) for action, _ in KERNEL_EXIT_OUTCOMES],
)
def test_exit_blocked_in_kernel(action: seccompx.Action, expected: int) -> None:
    # The consequence that the exit-blocked message states, for _exit(1).
    def body(fd: int) -> int:
        no_core_dumps()
        exit_blocked_above(0, action).load()
        os._exit(1)

    result = run_in_child(body)
    assert result.signal == expected, result


@pytest.mark.parametrize("exit_allowed", [True, False])
def test_exit_group_errno_in_kernel(exit_allowed: bool) -> None:
    # Under ERRNO, glibc's _exit() falls back to exit, which ends this
    # single-threaded child, and faults when exit fails too.
    if not exit_allowed and Arch.native() is not Arch.X86_64:
        pytest.skip("glibc's _exit() faults with SIGSEGV where it ends in hlt (x86)")

    def body(fd: int) -> int:
        no_core_dumps()
        f = exit_blocked_above(0, ERRNO(errno.EPERM))
        if not exit_allowed:
            f.add_rule(ERRNO(errno.EPERM), "exit")
        f.load()
        os._exit(1)

    result = run_in_child(body)
    if exit_allowed:
        assert result.exitcode == 1, result
    else:
        assert result.signal == signal.SIGSEGV, result


@pytest.mark.parametrize("status", [0, 1])
def test_exit_zero_only_in_kernel(status: int) -> None:
    # The filter of test_audit_exit_blocked_nonzero_status: the kernel
    # lets only _exit(0) end the process normally.
    def body(fd: int) -> int:
        no_core_dumps()
        f = Filter(default=KILL_PROCESS)
        f.allow("read", "write", "exit")
        f.add_rule(ALLOW, "exit_group", Arg(0) == 0)
        f.load()
        os._exit(status)

    result = run_in_child(body)
    if status == 0:
        assert result.exitcode == 0, result
    else:
        assert result.signal == signal.SIGSYS, result


def test_audit_native_arch_missing() -> None:
    other = Arch.AARCH64 if Arch.native() is not Arch.AARCH64 else Arch.X86_64
    f = Filter(default=KILL_PROCESS, arches=[other])
    f.allow("read", "write", "exit_group")
    found = {x.code: x for x in f.compile().audit()}
    assert "native-arch-missing" in found
    assert str(Arch.native()) in found["native-arch-missing"].message
    assert "native-arch-missing" not in codes(default_filter().compile())


def _documented_load() -> "ast.FunctionDef":
    import ast
    import inspect as _inspect

    import seccompx.program

    tree = ast.parse(_inspect.getsource(seccompx.program))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "load":
            return node
    raise AssertionError("program.py documents no load()")


def test_load_doc_matches_extension() -> None:
    import ast
    import inspect as _inspect

    documented = _documented_load()
    assert _inspect.getdoc(Program.load) == ast.get_docstring(documented)
    names = [arg.arg for arg in documented.args.kwonlyargs]
    defaults = [ast.literal_eval(value) for value in documented.args.kw_defaults]
    parameters = list(_inspect.signature(Program.load).parameters.values())[1:]
    assert [p.name for p in parameters] == names
    assert [p.default for p in parameters] == defaults
    assert all(p.kind is _inspect.Parameter.KEYWORD_ONLY for p in parameters)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda p: p.load(True), "only keyword arguments"),
        (lambda p: p.load(tsnyc=True), "unexpected keyword argument 'tsnyc'"),
        (lambda p: p.load(log=1), "log must be True or False, not 1"),
        (lambda p: p.load(no_new_privs=None), "no_new_privs must be True or False, not None"),
    ],
)
def test_load_rejects_bad_arguments(call, message) -> None:  # type: ignore[no-untyped-def]
    # Nothing is loaded: each case fails before the system calls.
    prog = default_filter().compile()
    with pytest.raises(TypeError, match=message):
        call(prog)


def test_program_base_data_is_read_only() -> None:
    prog = default_filter().compile()
    with pytest.raises(AttributeError):
        prog._data = b""  # type: ignore[misc]
    with pytest.raises(TypeError, match="built by its constructor"):
        Program.__new__(Program).load()


def test_from_missing_file_is_seccomp_error(tmp_path) -> None:
    missing = tmp_path / "missing.bpf"
    with pytest.raises(seccompx.InvalidArgumentError) as caught:
        Program.from_file(missing)
    assert caught.value.errno == errno.ENOENT
    assert str(caught.value) == (
        f"cannot read the program from {str(missing)!r}: No such file or "
        "directory (ENOENT)"
    )
