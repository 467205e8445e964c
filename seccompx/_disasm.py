"""Readable listings of seccomp programs, one line per instruction.

Each line shows the instruction as a statement on A, X and the scratch
memory M[0..15]: ``A = sys_number``, ``if (A != x86_64) goto 14``,
``return ERRNO(1)``.  Comparisons take their meaning from what the paths
reaching them loaded into A, so a syscall number is named for the
architecture that the ``arch ==`` checks fixed on every path there.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, List, NamedTuple, Optional

from . import _bpfcode as code
from ._bpfcode import Flow, Instruction
from ._errors import SeccompError
from ._types import Arch

_ALU_SYMBOLS = {
    code.OP_ADD: "+=",
    code.OP_SUB: "-=",
    code.OP_MUL: "*=",
    code.OP_DIV: "/=",
    code.OP_MOD: "%=",
    code.OP_AND: "&=",
    code.OP_OR: "|=",
    code.OP_XOR: "^=",
    code.OP_LSH: "<<=",
    code.OP_RSH: ">>=",
}

# (condition when the jump is taken, condition when it falls through).
_JUMP_TESTS = {
    code.JEQ: ("A == {}", "A != {}"),
    code.JGT: ("A > {}", "A <= {}"),
    code.JGE: ("A >= {}", "A < {}"),
    code.JSET: ("A & {}", "!(A & {})"),
}

# The column comments start at, unless a statement is longer.
_COMMENT_COLUMN = 36


class Line(NamedTuple):
    """One line of a listing."""

    position: int
    instruction: Instruction
    text: str
    comment: str

    def as_dict(self) -> Dict[str, Any]:
        code_, jt, jf, k = self.instruction
        return {
            "index": self.position,
            "code": code_,
            "jt": jt,
            "jf": jf,
            "k": k,
            "text": self.text,
            "comment": self.comment,
        }


@functools.lru_cache(maxsize=4096)
def _syscall_name(number: int, arch: int) -> Optional[str]:
    from ._filter import syscall_name

    if number > 0x7FFFFFFF:
        return None
    try:
        return syscall_name(number, Arch(arch))
    except (SeccompError, ValueError):
        return None


def _arch_name(token: int) -> str:
    try:
        return Arch(token).libseccomp_name
    except ValueError:
        return f"{token:#x}"


def _number(value: int) -> str:
    return str(value) if value < 10 else f"{value:#x}"


def _syscall_number(number: int) -> str:
    """Decimal for syscall numbers, hex for bit patterns such as x32's."""
    return str(number) if number <= 0xFFFF else f"{number:#x}"


def _syscall_operand(number: int, arch: Optional[int]) -> str:
    if arch is None:
        return _syscall_number(number)
    if arch == Arch.X86_64 and number & code.X32_SYSCALL_BIT and number != code.U32_MAX:
        name = _syscall_name(number, int(Arch.X32))
        return f"x32:{name}" if name else f"{number:#x}"
    name = _syscall_name(number, arch)
    return name if name else _syscall_number(number)


class _Listing:
    def __init__(self, flow: Flow, fallback_arch: Optional[int]) -> None:
        self.flow = flow
        self.fallback_arch = fallback_arch
        self.reached = [bool(facts) for facts in flow.facts]

    def operand(self, index: int, insn: Instruction) -> str:
        """Render the constant of a comparison for what A contains there."""
        if insn.uses_x:
            return "X"
        source = self.flow.a_source(index)
        if source == ("data", code.OFFSET_ARCH):
            return _arch_name(insn.k)
        if source == ("data", code.OFFSET_NR):
            if insn.op != code.JEQ:
                return _syscall_number(insn.k)
            arch = self.flow.arch_at(index)
            if arch is None:
                arch = self.fallback_arch
            return _syscall_operand(insn.k, arch)
        return _number(insn.k)

    def comment(self, index: int, insn: Instruction) -> str:
        if not self.reached[index]:
            return "unreachable"
        if insn.cls != code.JMP or insn.op == code.JA or insn.uses_x:
            return ""
        source = self.flow.a_source(index)
        if source == ("data", code.OFFSET_ARCH) and insn.op == code.JEQ:
            return "architecture check"
        if source == ("data", code.OFFSET_NR) and self._is_x32_guard(index, insn):
            return "x32 guard"
        return ""

    def _is_x32_guard(self, index: int, insn: Instruction) -> bool:
        if self.flow.arch_at(index) != Arch.X86_64:
            return False
        return (insn.op, insn.k) in (
            (code.JGE, code.X32_SYSCALL_BIT),
            (code.JGT, code.X32_SYSCALL_BIT - 1),
            (code.JSET, code.X32_SYSCALL_BIT),
        )

    def jump(self, index: int, insn: Instruction) -> str:
        if insn.op == code.JA:
            return f"goto {index + 1 + insn.k}"
        tests = _JUMP_TESTS.get(insn.op)
        if tests is None:
            return f"invalid jump opcode {insn.code:#04x}"
        operand = self.operand(index, insn)
        taken, falls = (test.format(operand) for test in tests)
        target_true = index + 1 + insn.jt
        target_false = index + 1 + insn.jf
        if insn.jt == insn.jf:
            return f"goto {target_true}"
        if insn.jt == 0:
            return f"if ({falls}) goto {target_false}"
        if insn.jf == 0:
            return f"if ({taken}) goto {target_true}"
        return f"if ({taken}) goto {target_true} else goto {target_false}"

    def statement(self, index: int, insn: Instruction) -> str:
        cls = insn.cls
        if cls == code.JMP:
            return self.jump(index, insn)
        if insn.code == code.RET | code.RVAL_K:
            return f"return {code.action_name(insn.k)}"
        if insn.code == code.RET | code.RVAL_A:
            return "return A"
        if cls == code.ALU:
            return _alu_statement(insn)
        return _move_statement(insn)

    def ret_a_comment(self, index: int, insn: Instruction) -> str:
        """Name the action of ``return A`` when A is a known constant."""
        source = self.flow.a_source(index)
        if insn.code == code.RET | code.RVAL_A and source and source[0] == "const":
            return code.action_name(source[1])
        return ""

    def lines(self) -> List[Line]:
        result = []
        for index, insn in enumerate(self.flow.instructions):
            note = self.comment(index, insn) or self.ret_a_comment(index, insn)
            result.append(Line(index, insn, self.statement(index, insn), note))
        return result


def _alu_statement(insn: Instruction) -> str:
    if insn.code == code.ALU | code.OP_NEG:
        return "A = -A"
    symbol = _ALU_SYMBOLS.get(insn.op)
    if symbol is None or insn.code & 0x07 != code.ALU:
        return f"invalid opcode {insn.code:#04x}"
    operand = "X" if insn.uses_x else _number(insn.k)
    return f"A {symbol} {operand}"


def _move_statement(insn: Instruction) -> str:
    c, k = insn.code, insn.k
    if c == code.LD_W_ABS:
        field = code.data_field(k)
        return f"A = {field}" if field else f"A = seccomp_data[{k}]  (invalid offset)"
    simple = {
        code.LD | code.MODE_LEN: "A = sizeof(seccomp_data)",
        code.LDX | code.MODE_LEN: "X = sizeof(seccomp_data)",
        code.LD | code.MODE_IMM: f"A = {_number(k)}",
        code.LDX | code.MODE_IMM: f"X = {_number(k)}",
        code.LD | code.MODE_MEM: f"A = M[{k}]",
        code.LDX | code.MODE_MEM: f"X = M[{k}]",
        code.ST: f"M[{k}] = A",
        code.STX: f"M[{k}] = X",
        code.MISC | code.TAX: "X = A",
        code.MISC | code.TXA: "A = X",
    }
    text = simple.get(c)
    if text is None:
        return f"invalid opcode {c:#04x} (k={k:#x})"
    return text


def listing(flow: Flow, fallback_arch: Optional[int]) -> List[Line]:
    """Build the lines of a listing for the analysed program."""
    return _Listing(flow, fallback_arch).lines()


def render(lines: List[Line], raw: bool = False) -> str:
    """Format listing lines as text, comments aligned after ``#``."""
    if not lines:
        return ""
    width = len(str(len(lines) - 1))
    column = min(max(len(line.text) for line in lines), _COMMENT_COLUMN)
    out = []
    for line in lines:
        prefix = f"{line.position:>{width}}: "
        if raw:
            c, jt, jf, k = line.instruction
            prefix += f"{c:04x} {jt:3} {jf:3} {k:08x}  "
        text = line.text
        if line.comment:
            text = f"{text:<{column}}  # {line.comment}"
        out.append(prefix + text)
    return "\n".join(out) + "\n"
