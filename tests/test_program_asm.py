"""A small assembler for hand-written seccomp programs, and its tests.

The other test_program modules import the helpers from here.
"""

from __future__ import annotations

import ctypes
import faulthandler
import os
import resource
import signal
from typing import List, Sequence, Tuple

import seccompx
from seccompx._bpfcode import Instruction, decode, encode

# Opcodes, spelled as in linux/bpf_common.h.
LD_W_ABS = 0x20
LD_IMM = 0x00
LDX_IMM = 0x01
LD_LEN = 0x80
LDX_LEN = 0x81
LD_MEM = 0x60
LDX_MEM = 0x61
ST = 0x02
STX = 0x03
TAX = 0x07
TXA = 0x87
RET_K = 0x06
RET_A = 0x16
JA = 0x05
JEQ_K, JGT_K, JGE_K, JSET_K = 0x15, 0x25, 0x35, 0x45
JEQ_X, JGT_X, JGE_X, JSET_X = 0x1D, 0x2D, 0x3D, 0x4D
ALU_K = {
    "add": 0x04,
    "sub": 0x14,
    "mul": 0x24,
    "div": 0x34,
    "or": 0x44,
    "and": 0x54,
    "lsh": 0x64,
    "rsh": 0x74,
    "mod": 0x94,
    "xor": 0xA4,
}
ALU_X = {name: value | 0x08 for name, value in ALU_K.items()}
NEG = 0x84

OFFSET_NR = 0
OFFSET_ARCH = 4

ALLOW = 0x7FFF0000
KILL_PROCESS = 0x80000000

# Syscall numbers on x86_64, the machine these tests run on.
NR_WRITE = 1
NR_MMAP = 9
NR_MUNMAP = 11
NR_BRK = 12
NR_MADVISE = 28
NR_GETPID = 39
NR_EXIT_GROUP = 231
# Syscalls the child needs after loading a test program: reporting on
# the pipe, exiting, and memory for the interpreter.
RESERVED = (NR_WRITE, NR_EXIT_GROUP, NR_MMAP, NR_MUNMAP, NR_BRK, NR_MADVISE)

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def stmt(code: int, k: int = 0) -> Instruction:
    return Instruction(code, 0, 0, k)


def jump(code: int, k: int, jt: int, jf: int) -> Instruction:
    return Instruction(code, jt, jf, k)


def ret(value: int) -> Instruction:
    return stmt(RET_K, value)


def errno_value(number: int) -> int:
    return 0x00050000 | number


def program(*instructions: Instruction) -> seccompx.Program:
    return seccompx.Program(encode(list(instructions)))


def with_escape_hatch(body: Sequence[Instruction]) -> seccompx.Program:
    """Prefix ``body`` with jumps that let the reserved syscalls through.

    The result starts by comparing sys_number with each reserved syscall
    and jumps to a final ``return ALLOW`` on a match, so a child can still
    report and exit.  ``body`` starts with A = sys_number and must not
    jump past its own end.
    """
    count = len(RESERVED)
    head = [stmt(LD_W_ABS, OFFSET_NR)]
    allow_at = 1 + count + len(body)
    for position, nr in enumerate(RESERVED):
        index = 1 + position
        head.append(jump(JEQ_K, nr, allow_at - index - 1, 0))
    return seccompx.Program(encode(head + list(body) + [ret(ALLOW)]))


def issue(nr: int, args: Sequence[int]) -> Tuple[int, int]:
    """Make a raw syscall with full 64-bit arguments; return (result, errno)."""
    ctypes.set_errno(0)
    values = [ctypes.c_ulong(a & (2**64 - 1)) for a in args]
    values += [ctypes.c_ulong(0)] * (6 - len(values))
    result = LIBC.syscall(ctypes.c_long(nr), *values)
    return int(result), ctypes.get_errno()


def no_core_dumps() -> None:
    """Let a child die quickly and quietly when its filter blocks exit.

    No core file for SIGSYS, and no faulthandler: if a filter makes
    exit_group fail, glibc's _exit ends in a fault, and faulthandler's
    handler would then loop on syscalls the filter refuses.  The same
    holds for AddressSanitizer's fault handlers under make sanitize, so
    the fault signals get their default action back.
    """
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    faulthandler.disable()
    for number in (signal.SIGSEGV, signal.SIGBUS, signal.SIGILL, signal.SIGFPE):
        signal.signal(number, signal.SIG_DFL)


def expected_outcome(action: seccompx.Action) -> Tuple[int, int]:
    """(result, errno) a syscall returns under an ERRNO action."""
    assert action.kind is seccompx.ActionKind.ERRNO, action
    if action.data == 0:
        return 0, 0
    return -1, action.data


def parse_results(text: str) -> List[Tuple[int, int]]:
    """Parse the ``result errno`` lines a child reports."""
    pairs = []
    for line in text.splitlines():
        result, error = line.split()
        pairs.append((int(result), int(error)))
    return pairs


def report_issue(fd: int, nr: int, args: Sequence[int]) -> None:
    result, error = issue(nr, args)
    os.write(fd, f"{result} {error}\n".encode())


# Tests of the helpers --------------------------------------------------------


def test_encode_decode_round_trip() -> None:
    insns = [
        stmt(LD_W_ABS, 4),
        jump(JEQ_K, 0xC000003E, 1, 0),
        ret(KILL_PROCESS),
        ret(ALLOW),
    ]
    assert list(decode(encode(insns))) == insns


def test_escape_hatch_jumps_to_allow() -> None:
    prog = with_escape_hatch([ret(errno_value(7))])
    assert prog.simulate(NR_WRITE) == seccompx.ALLOW
    assert prog.simulate(NR_EXIT_GROUP) == seccompx.ALLOW
    assert prog.simulate(NR_GETPID) == seccompx.ERRNO(7)
