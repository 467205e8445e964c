"""Classic BPF instructions of seccomp programs, and the facts of each path.

:func:`analyze` walks every path of a program once, forward, and records
at each instruction what the paths reaching it have established: where A,
X and the scratch words were loaded from, which architecture the
``arch ==`` checks have fixed or excluded, and the range of syscall
numbers still possible.  Disassembly, :attr:`seccompx.Program.arches` and
the audit read these facts.  The walk is cheap because BPF jumps only go
forward: a program is a directed acyclic graph, visited in index order.
"""

from __future__ import annotations

import struct
import sys
from typing import Dict, FrozenSet, Iterator, List, NamedTuple, Optional, Tuple

from ._actions import Action, ActionKind

# Instruction classes, fields and operations (linux/bpf_common.h).
LD, LDX, ST, STX, ALU, JMP, RET, MISC = range(8)
SIZE_W, SIZE_H, SIZE_B = 0x00, 0x08, 0x10
MODE_IMM, MODE_ABS, MODE_IND, MODE_MEM, MODE_LEN, MODE_MSH = (
    0x00,
    0x20,
    0x40,
    0x60,
    0x80,
    0xA0,
)
SRC_K, SRC_X = 0x00, 0x08
RVAL_K, RVAL_A = 0x00, 0x10
OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_OR, OP_AND, OP_LSH, OP_RSH = (
    0x00,
    0x10,
    0x20,
    0x30,
    0x40,
    0x50,
    0x60,
    0x70,
)
OP_NEG, OP_MOD, OP_XOR = 0x80, 0x90, 0xA0
JA, JEQ, JGT, JGE, JSET = 0x00, 0x10, 0x20, 0x30, 0x40
TAX, TXA = 0x00, 0x80

LD_W_ABS = LD | SIZE_W | MODE_ABS

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6].
SECCOMP_DATA_SIZE = 64
OFFSET_NR = 0
OFFSET_ARCH = 4
U32_MAX = 0xFFFFFFFF
# x32 syscalls reach the x86_64 entry point with this bit set in nr.
X32_SYSCALL_BIT = 0x40000000

_LITTLE_ENDIAN = sys.byteorder == "little"


class Instruction(NamedTuple):
    """One ``struct sock_filter``: opcode, jump offsets and constant."""

    code: int
    jt: int
    jf: int
    k: int

    @property
    def cls(self) -> int:
        return self.code & 0x07

    @property
    def op(self) -> int:
        return self.code & 0xF0

    @property
    def uses_x(self) -> bool:
        return bool(self.code & SRC_X)

    def is_conditional_jump(self) -> bool:
        return self.cls == JMP and self.op != JA


def decode(data: bytes) -> Tuple[Instruction, ...]:
    """Split a program in kernel format (native endian) into instructions."""
    return tuple(
        Instruction._make(fields) for fields in struct.iter_unpack("=HBBI", data)
    )


def encode(instructions: "List[Instruction]") -> bytes:
    """Pack instructions into the kernel format, native endian."""
    return b"".join(struct.pack("=HBBI", *insn) for insn in instructions)


def data_field(offset: int) -> Optional[str]:
    """Name the 32-bit word of ``struct seccomp_data`` at ``offset``.

    Returns None for an offset that seccomp cannot load (unaligned or past
    the end of the struct).
    """
    if offset % 4 or not 0 <= offset < SECCOMP_DATA_SIZE:
        return None
    if offset == OFFSET_NR:
        return "sys_number"
    if offset == OFFSET_ARCH:
        return "arch"
    # The 64-bit fields: which half sits first depends on byte order.
    first_half = "low" if _LITTLE_ENDIAN else "high"
    second_half = "high" if _LITTLE_ENDIAN else "low"
    half = first_half if offset % 8 == 0 else second_half
    if offset < 16:
        return f"instruction_pointer {half}"
    return f"args[{(offset - 16) // 8}] {half}"


def arg_offset(index: int, high: bool) -> int:
    """Offset of the low or high 32 bits of ``args[index]``."""
    base = 16 + 8 * index
    return base + 4 if high == _LITTLE_ENDIAN else base


def action_name(value: int) -> str:
    """Name a return value, such as ``ERRNO(1)`` or ``ALLOW``."""
    try:
        return repr(Action.from_raw(value))
    except ValueError:
        return f"{value:#010x}"


def effective_action(value: int) -> Action:
    """Return the action the kernel takes for a program's return value.

    Like the kernel (``__seccomp_filter()`` in kernel/seccomp.c), an
    unknown action kind kills the process, the data of actions other than
    ERRNO and TRACE is ignored, and an errno above 4095 is capped there.
    """
    try:
        kind = ActionKind(value & 0xFFFF0000)
    except ValueError:
        return Action(ActionKind.KILL_PROCESS)
    data = value & 0xFFFF
    if kind is ActionKind.ERRNO:
        return Action.from_raw(int(kind) | min(data, 4095))
    if kind is ActionKind.TRACE:
        return Action(kind, data)
    return Action(kind)


def is_allowing(value: int) -> bool:
    """Whether a return value lets the syscall run (ALLOW or LOG)."""
    return value & 0xFFFF0000 in (ActionKind.ALLOW, ActionKind.LOG)


# Facts ---------------------------------------------------------------------

# The origin of a register or scratch word's value: a word of struct
# seccomp_data, a constant, or something unknown (None).
Source = Optional[Tuple[str, int]]


class ArchFact(NamedTuple):
    """The facts a path has established about ``seccomp_data.arch``.

    ``token`` is the architecture when an ``arch ==`` check fixed it;
    otherwise ``excluded`` lists the architectures ruled out, and
    ``checked`` says whether any check was passed at all.
    """

    token: Optional[int]
    excluded: FrozenSet[int]
    checked: bool


UNCHECKED = ArchFact(None, frozenset(), False)


class Facts(NamedTuple):
    """The facts that one route to an instruction has established."""

    a: Source
    x: Source
    mem: Tuple[Source, ...]
    arch: ArchFact
    nr_low: int
    nr_high: int
    # Bit 30 of the syscall number (the x32 bit): True, False or unknown.
    nr_bit30: Optional[bool]

    def may_be_x32(self) -> bool:
        """Return whether the syscall number may be an x32 one (bit 30)."""
        return (
            self.nr_bit30 is not False
            and self.nr_low <= 0x7FFFFFFF
            and self.nr_high >= X32_SYSCALL_BIT
        )

    def may_be_native(self) -> bool:
        """Return whether the syscall number may be below the x32 range."""
        return self.nr_bit30 is not True and self.nr_low < X32_SYSCALL_BIT


ENTRY = Facts(("const", 0), ("const", 0), (None,) * 16, UNCHECKED, 0, U32_MAX, None)

# Routes through an instruction are kept apart up to this many distinct
# facts.  Beyond that, routes that agree on everything but the syscall
# number range are merged into one.
_MAX_FACTS_PER_INSN = 48


class Flow(NamedTuple):
    """The result of :func:`analyze`."""

    instructions: Tuple[Instruction, ...]
    # facts[i] lists what the routes reaching instruction i know; an empty
    # list means no path reaches it.
    facts: Tuple[Tuple[Facts, ...], ...]

    def common(self, index: int) -> Optional[Facts]:
        """Return the facts at ``index`` if all routes agree on A and arch."""
        routes = self.facts[index]
        if not routes:
            return None
        first = routes[0]
        for other in routes[1:]:
            if other.a != first.a or other.arch.token != first.arch.token:
                return None
        return first

    def a_source(self, index: int) -> Source:
        """Return where A comes from at ``index``, if every route agrees."""
        routes = self.facts[index]
        if not routes or any(f.a != routes[0].a for f in routes):
            return None
        return routes[0].a

    def arch_at(self, index: int) -> Optional[int]:
        """Return the architecture fixed at ``index`` on every route."""
        routes = self.facts[index]
        if not routes:
            return None
        token = routes[0].arch.token
        if token is None or any(f.arch.token != token for f in routes):
            return None
        return token


def _alu(op: int, a: int, b: int) -> Optional[int]:
    """Fold a 32-bit ALU operation; None for a division by zero."""
    if op == OP_ADD:
        return (a + b) & U32_MAX
    if op == OP_SUB:
        return (a - b) & U32_MAX
    if op == OP_MUL:
        return (a * b) & U32_MAX
    if op in (OP_DIV, OP_MOD):
        if b == 0:
            return None
        return a // b if op == OP_DIV else a % b
    if op == OP_AND:
        return a & b
    if op == OP_OR:
        return a | b
    if op == OP_XOR:
        return a ^ b
    if op == OP_LSH:
        return (a << (b & 31)) & U32_MAX
    if op == OP_RSH:
        return a >> (b & 31)
    if op == OP_NEG:
        return -a & U32_MAX
    return None


def _step(insn: Instruction, facts: Facts) -> Facts:
    """Return the facts after a non-jump, non-return instruction."""
    code = insn.code
    cls = insn.cls
    if code == LD_W_ABS:
        return facts._replace(a=("data", insn.k))

    if code in (LD | MODE_LEN, LDX | MODE_LEN):
        const: Source = ("const", SECCOMP_DATA_SIZE)
        return facts._replace(a=const) if cls == LD else facts._replace(x=const)
    if code == LD | MODE_IMM:
        return facts._replace(a=("const", insn.k))
    if code == LDX | MODE_IMM:
        return facts._replace(x=("const", insn.k))
    if code in (LD | MODE_MEM, LDX | MODE_MEM) and insn.k < 16:
        source = facts.mem[insn.k]
        return facts._replace(a=source) if cls == LD else facts._replace(x=source)
    if code in (ST, STX) and insn.k < 16:
        mem = list(facts.mem)
        mem[insn.k] = facts.a if code == ST else facts.x
        return facts._replace(mem=tuple(mem))
    if code == MISC | TAX:
        return facts._replace(x=facts.a)
    if code == MISC | TXA:
        return facts._replace(a=facts.x)

    if cls == ALU:
        operand = facts.x if insn.uses_x else ("const", insn.k)
        if (
            facts.a is not None
            and facts.a[0] == "const"
            and operand is not None
            and operand[0] == "const"
        ):
            folded = _alu(insn.op, facts.a[1], operand[1])
            if folded is not None:
                return facts._replace(a=("const", folded))
        return facts._replace(a=None)
    if cls == LDX:
        return facts._replace(x=None)
    return facts._replace(a=None)


def _decide(op: int, a: int, b: int) -> bool:
    if op == JEQ:
        return a == b
    if op == JGT:
        return a > b
    if op == JGE:
        return a >= b
    return bool(a & b)


def _narrow_arch(facts: Facts, token: int, taken: bool) -> Optional[Facts]:
    """Apply the outcome of ``arch == token``; None if impossible."""
    arch = facts.arch
    if arch.token is not None:
        if (arch.token == token) != taken:
            return None
        return facts
    if taken:
        if token in arch.excluded:
            return None
        return facts._replace(arch=ArchFact(token, arch.excluded, True))
    return facts._replace(arch=ArchFact(None, arch.excluded | {token}, True))


def _narrow_nr(facts: Facts, op: int, k: int, taken: bool) -> Optional[Facts]:
    """Apply the outcome of a comparison of the syscall number with k."""
    low, high, bit30 = facts.nr_low, facts.nr_high, facts.nr_bit30
    if op == JEQ:
        if taken:
            if not low <= k <= high:
                return None
            if bit30 is not None and bool(k & X32_SYSCALL_BIT) != bit30:
                return None
            low = high = k
        elif low == high == k:
            return None
        elif k == low:
            low += 1
        elif k == high:
            high -= 1
    elif op == JGT:
        if taken:
            low = max(low, k + 1)
        else:
            high = min(high, k)
    elif op == JGE:
        if taken:
            low = max(low, k)
        else:
            high = min(high, k - 1)
    elif op == JSET:
        if low == high:
            if bool(low & k) != taken:
                return None
        elif k == X32_SYSCALL_BIT:
            if bit30 is not None and bit30 != taken:
                return None
            bit30 = taken
    if low > high:
        return None
    return facts._replace(nr_low=low, nr_high=high, nr_bit30=bit30)


def _branch(insn: Instruction, facts: Facts, taken: bool) -> Optional[Facts]:
    """Return the facts on one side of a conditional jump, or None if that
    side cannot be taken."""
    operand = facts.x if insn.uses_x else ("const", insn.k)
    a = facts.a
    if (
        a is not None
        and a[0] == "const"
        and operand is not None
        and operand[0] == "const"
    ):
        return facts if _decide(insn.op, a[1], operand[1]) == taken else None
    if a is None or operand is None or operand[0] != "const":
        return facts
    if a == ("data", OFFSET_ARCH) and insn.op == JEQ:
        return _narrow_arch(facts, operand[1], taken)
    if a == ("data", OFFSET_NR):
        return _narrow_nr(facts, insn.op, operand[1], taken)
    return facts


def successors(insn: Instruction, index: int) -> Iterator[int]:
    """Indexes an instruction may continue at, ignoring conditions."""
    if insn.cls == RET:
        return iter(())
    if insn.cls == JMP:
        if insn.op == JA:
            return iter((index + 1 + insn.k,))
        return iter((index + 1 + insn.jt, index + 1 + insn.jf))
    return iter((index + 1,))


def _merge_key(facts: Facts) -> Tuple[object, ...]:
    return (
        facts.a,
        facts.x,
        facts.mem,
        facts.arch,
        facts.may_be_x32(),
        facts.may_be_native(),
    )


def _add(pending: Dict[Facts, None], facts: Facts) -> None:
    pending[facts] = None
    if len(pending) <= _MAX_FACTS_PER_INSN:
        return
    merged: Dict[Tuple[object, ...], Facts] = {}
    for item in pending:
        key = _merge_key(item)
        seen = merged.get(key)
        if seen is None:
            merged[key] = item
        else:
            merged[key] = seen._replace(
                nr_low=min(seen.nr_low, item.nr_low),
                nr_high=max(seen.nr_high, item.nr_high),
                nr_bit30=seen.nr_bit30 if seen.nr_bit30 == item.nr_bit30 else None,
            )
    pending.clear()
    pending.update(dict.fromkeys(merged.values()))


def analyze(instructions: Tuple[Instruction, ...]) -> Flow:
    """Collect, for every instruction, the facts of the paths reaching it.

    Works on invalid programs too: a jump past the end is dropped and an
    unknown opcode is treated as an instruction that clobbers A.
    """
    count = len(instructions)
    pending: List[Dict[Facts, None]] = [{} for _ in range(count)]
    if count:
        pending[0][ENTRY] = None
    for index, insn in enumerate(instructions):
        for facts in pending[index]:
            for target, after in _outcomes(insn, index, facts):
                if index < target < count:
                    _add(pending[target], after)
    return Flow(instructions, tuple(tuple(p) for p in pending))


def _outcomes(
    insn: Instruction, index: int, facts: Facts
) -> Iterator[Tuple[int, Facts]]:
    if insn.cls == RET:
        return
    if insn.cls != JMP:
        yield index + 1, _step(insn, facts)
        return
    if insn.op == JA:
        yield index + 1 + insn.k, facts
        return
    for taken, offset in ((True, insn.jt), (False, insn.jf)):
        after = _branch(insn, facts, taken)
        if after is not None:
            yield index + 1 + offset, after


def reachable(instructions: Tuple[Instruction, ...]) -> List[bool]:
    """Return which instructions some path reaches, ignoring conditions."""
    count = len(instructions)
    seen = [False] * count
    if count:
        seen[0] = True
    for index, insn in enumerate(instructions):
        if not seen[index]:
            continue
        for target in successors(insn, index):
            if target < count:
                seen[target] = True
    return seen
