"""Architectures, filter attributes and argument comparisons."""

from __future__ import annotations

import enum
import collections

# typing costs about 2 ms to import, and type checkers treat this name as
# true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

from . import _core
from ._errors import ArchitectureError, InvalidArgumentError

__all__ = ["Arch", "Attr", "Op", "Arg", "Comparison", "U64_MAX", "U32_MAX"]

U64_MAX = 2**64 - 1
U32_MAX = 2**32 - 1


class Arch(enum.IntEnum):
    """Architectures, valued as libseccomp's ``SCMP_ARCH_*`` tokens.

    The tokens are the kernel's ``AUDIT_ARCH_*`` values, the ones a filter
    compares with ``seccomp_data.arch``.  ``NATIVE`` (0) stands for the
    architecture of the running process.
    """

    NATIVE = 0
    X86 = 0x40000003
    X86_64 = 0xC000003E
    X32 = 0x4000003E
    ARM = 0x40000028
    AARCH64 = 0xC00000B7
    MIPS = 0x00000008
    MIPS64 = 0x80000008
    MIPS64N32 = 0xA0000008
    MIPSEL = 0x40000008
    MIPSEL64 = 0xC0000008
    MIPSEL64N32 = 0xE0000008
    PPC = 0x00000014
    PPC64 = 0x80000015
    PPC64LE = 0xC0000015
    S390 = 0x00000016
    S390X = 0x80000016
    PARISC = 0x0000000F
    PARISC64 = 0x8000000F
    RISCV64 = 0xC00000F3
    # Added in libseccomp 2.6; a 2.5 build rejects them with ArchitectureError.
    LOONGARCH64 = 0xC0000102
    M68K = 0x00000004
    SH = 0x4000002A
    SHEB = 0x0000002A

    @classmethod
    def native(cls) -> "Arch":
        """The architecture of the running process."""
        return cls(_core.arch_native())

    @classmethod
    def parse(cls, value: Union["Arch", str, int]) -> "Arch":
        """Convert a name (``"x86_64"``, ``"SCMP_ARCH_X86_64"``), token or
        member to an :class:`Arch`."""
        if isinstance(value, Arch):
            return value
        if isinstance(value, str):
            key = value.strip()
            if key.upper().startswith("SCMP_ARCH_"):
                key = key[len("SCMP_ARCH_"):]
            key = _ARCH_ALIASES.get(key.lower(), key)
            try:
                return cls[key.upper()]
            except KeyError:
                raise ArchitectureError(
                    f"unknown architecture {value!r}; known names are "
                    + ", ".join(m.name.lower() for m in cls if m)
                ) from None
        if isinstance(value, int) and not isinstance(value, bool):
            try:
                return cls(value)
            except ValueError:
                raise ArchitectureError(
                    f"unknown architecture token {value:#x}; use a member "
                    "of seccompx.Arch"
                ) from None
        raise TypeError(
            f"architecture must be an Arch, name or token, not "
            f"{type(value).__name__}"
        )

    @property
    def libseccomp_name(self) -> str:
        """The name libseccomp and profiles use, such as ``x86_64``."""
        if self is Arch.NATIVE:
            return Arch.native().libseccomp_name
        return self.name.lower()

    def __str__(self) -> str:
        return self.libseccomp_name


def _reject_string_arches(arches: object) -> None:
    """Raise InvalidArgumentError when ``arches`` is one string or bytes
    object rather than a list, suggesting a list only when it would
    work."""
    if not isinstance(arches, (str, bytes, bytearray, memoryview)):
        return
    if isinstance(arches, str):
        name = arches
        shown = f"the string {arches!r}"
    else:
        name = bytes(arches).decode("ascii", "replace")
        value = bytes(arches) if isinstance(arches, memoryview) else arches
        shown = f"the {type(arches).__name__} {value!r}"
    message = f"arches must be a list of architectures, not {shown}"
    try:
        Arch.parse(name)
    except ArchitectureError:
        raise InvalidArgumentError(
            f"{message}; known architecture names are "
            + ", ".join(m.name.lower() for m in Arch if m)
        ) from None
    raise InvalidArgumentError(f"{message}; write arches=[{name!r}]")


_ARCH_ALIASES = {
    "i386": "x86",
    "i686": "x86",
    "amd64": "x86_64",
    "arm64": "aarch64",
    "ppc64el": "ppc64le",
}


class Attr(enum.IntEnum):
    """Filter attributes, valued as libseccomp's ``SCMP_FLTATR_*``."""

    DEFAULT_ACTION = 1
    BAD_ARCH_ACTION = 2
    NO_NEW_PRIVS = 3
    TSYNC = 4
    TSKIP = 5
    LOG = 6
    SSB = 7
    OPTIMIZE = 8
    RAW_RC = 9
    # libseccomp 2.6 and newer.
    WAIT_KILL = 10


def _wait_kill_available() -> bool:
    """Return whether filters accept ``Attr.WAIT_KILL``.

    seccompx must be built against libseccomp 2.6 or newer, whose header
    defines the attribute, and run with such a libseccomp, because
    libseccomp 2.5 rejects the attribute with EINVAL.
    """
    return (
        _core.ATTR_MAX > Attr.WAIT_KILL
        and _core.runtime_version() >= (2, 6, 0)
    )


class Op(enum.IntEnum):
    """Comparison operators, valued as libseccomp's ``SCMP_CMP_*``."""

    NE = 1
    LT = 2
    LE = 3
    EQ = 4
    GE = 5
    GT = 6
    MASKED_EQ = 7


_SYMBOLS = {
    Op.NE: "!=",
    Op.LT: "<",
    Op.LE: "<=",
    Op.EQ: "==",
    Op.GE: ">=",
    Op.GT: ">",
}


if TYPE_CHECKING:
    from typing import NamedTuple

    class _ComparisonFields(NamedTuple):
        arg: int
        op: Op
        datum_a: int
        datum_b: int = 0

else:
    _ComparisonFields = collections.namedtuple(
        "_ComparisonFields", ["arg", "op", "datum_a", "datum_b"], defaults=[0]
    )


class Comparison(_ComparisonFields):
    """One argument comparison of a rule.

    For ``MASKED_EQ``, ``datum_a`` is the mask and ``datum_b`` the value the
    masked argument must equal; the other operators use ``datum_a`` alone.
    All values are unsigned 64-bit.
    """

    __slots__ = ()

    def __bool__(self) -> bool:
        # Without this, ``if Arg(0) == 5:`` would always be true, because a
        # non-empty tuple is.
        raise TypeError(
            f"{self!r} is a seccomp comparison, not a truth value; pass it "
            "to Filter.add_rule()"
        )

    def __repr__(self) -> str:
        if self.op is Op.MASKED_EQ:
            return (
                f"Arg({self.arg}).masked_eq({self.datum_a:#x}, "
                f"{self.datum_b:#x})"
            )
        return f"Arg({self.arg}) {_SYMBOLS[self.op]} {self.datum_a:#x}"


def _check_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    return value


class Arg:
    """A syscall argument, to compare with ``==``, ``<``, ``masked_eq`` ...

    ``Arg(1) == 5`` compares all 64 bits of argument 1.  Values must be
    between 0 and 2**64-1.  A negative number is rejected rather than
    guessed at, because a C ``int`` of -1 reaches the kernel as either
    0xffffffff or 0xffffffffffffffff depending on the caller.

    ``Arg(1, width=32)`` compares only the low 32 bits, so it matches both
    encodings of a 32-bit value and accepts negative numbers down to
    -2**31.  seccomp has no 32-bit comparison of its own: the comparison is
    built from masked equality, so only ``==`` and ``masked_eq`` are
    offered at this width.
    """

    __slots__ = ("index", "width")

    def __init__(self, index: int, width: int = 64) -> None:
        _check_int(index, "argument index")
        if not 0 <= index <= 5:
            raise InvalidArgumentError(
                f"argument index {index} is out of range: syscalls have "
                "arguments 0 to 5"
            )
        _check_int(width, "argument width")
        if width not in (32, 64):
            raise InvalidArgumentError(
                f"argument width {width!r} is invalid: use 32 or 64 bits"
            )
        self.index = index
        self.width = width

    def __repr__(self) -> str:
        if self.width == 32:
            return f"Arg({self.index}, width=32)"
        return f"Arg({self.index})"

    def _value(self, value: object, what: str = "value") -> int:
        number = _check_int(value, f"argument {self.index} {what}")
        if self.width == 32:
            if not -(2**31) <= number <= U32_MAX:
                raise InvalidArgumentError(
                    f"argument {self.index} {what} {number:#x} does not fit "
                    "in 32 bits: use -0x80000000..0xffffffff "
                    "(-2**31..2**32-1)"
                )
            return number & U32_MAX
        if number < 0:
            raise InvalidArgumentError(
                f"argument {self.index} {what} {number} is negative; seccomp "
                "compares unsigned 64-bit values and a negative C int may "
                "reach the kernel sign-extended or not, so write the 64-bit "
                f"value (for example {number & U64_MAX:#x}) or use "
                f"Arg({self.index}, width=32), which matches both"
            )
        if number > U64_MAX:
            raise InvalidArgumentError(
                f"argument {self.index} {what} {number:#x} is larger than "
                "2**64-1"
            )
        return number

    def _ordered(self, op: Op, value: object) -> Comparison:
        if self.width == 32:
            if op is Op.NE:
                reason = (
                    "seccomp has masked equality but no masked inequality, "
                    "so a != test on the low 32 bits alone cannot be built"
                )
            else:
                reason = (
                    "seccomp compares 64-bit values, and an ordering test on "
                    "the low 32 bits alone cannot be built from its "
                    "comparisons"
                )
            raise InvalidArgumentError(
                f"Arg({self.index}, width=32) supports only == and "
                f"masked_eq: {reason}; compare Arg({self.index}) with "
                f"{_SYMBOLS[op]} and a 64-bit value instead"
            )
        number = self._value(value)
        if (op is Op.LT and number == 0) or (op is Op.GT and number == U64_MAX):
            raise InvalidArgumentError(
                f"Arg({self.index}) {_SYMBOLS[op]} {number:#x} can never "
                "match: arguments are unsigned 64-bit values"
            )
        return Comparison(self.index, op, number)

    def __eq__(self, value: object) -> Comparison:  # type: ignore[override]
        if self.width == 32:
            return Comparison(self.index, Op.MASKED_EQ, U32_MAX, self._value(value))
        return Comparison(self.index, Op.EQ, self._value(value))

    def __ne__(self, value: object) -> Comparison:  # type: ignore[override]
        return self._ordered(Op.NE, value)

    def __lt__(self, value: object) -> Comparison:
        return self._ordered(Op.LT, value)

    def __le__(self, value: object) -> Comparison:
        return self._ordered(Op.LE, value)

    def __gt__(self, value: object) -> Comparison:
        return self._ordered(Op.GT, value)

    def __ge__(self, value: object) -> Comparison:
        return self._ordered(Op.GE, value)

    __hash__ = None  # type: ignore[assignment]

    def masked_eq(self, mask: int, value: int) -> Comparison:
        """Match when ``argument & mask == value``."""
        mask_number = self._value(mask, "mask")
        value_number = self._value(value)
        if value_number & ~mask_number:
            raise InvalidArgumentError(
                f"masked_eq on argument {self.index} can never match: value "
                f"{value_number:#x} has bits outside mask {mask_number:#x}"
            )
        return Comparison(self.index, Op.MASKED_EQ, mask_number, value_number)
