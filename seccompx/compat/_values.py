"""Values of the official module's API: Arch, Attr, Arg, and the checks
that turn its loosely typed arguments into what seccompx._core takes.

The official module passes its arguments to C ``int`` and ``uint32_t``
parameters, so a number that does not fit raises OverflowError and any
other type raises TypeError.  Actions and architecture tokens are signed
32-bit values there (``KILL_PROCESS`` is ``-0x80000000``, ``Arch.X86_64``
is ``-0x3fffffc2``).  Every function here accepts both the signed and the
unsigned spelling of a 32-bit value.
"""

from __future__ import annotations

import operator
from typing import Any, Optional, Union

from .. import _core
from .._errors import ArchitectureError, UnknownSyscallError
from .._types import Arch as _Arch
from .._types import Attr as _Attr
from .._types import Comparison, Op
from ._errors import (
    CompatArchitectureError,
    CompatInvalidArgumentError,
    CompatOverflowError,
    CompatTypeError,
)

__all__ = ["Arch", "Attr", "Arg", "ArchLike"]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

# libseccomp's pseudo syscall numbers for the calls that some
# architectures multiplex through socketcall(2) and ipc(2) (the __PNR_*
# values of libseccomp 2.5: socket is -101, semop is -201 ...).
_SOCKET_PSEUDO = range(-120, -100)
_IPC_PSEUDO = range(-224, -200)


def to_int(value: object, what: str) -> int:
    """Return ``value`` as an int, accepting anything with ``__index__``."""
    try:
        return operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise CompatTypeError(
            f"{what} must be an int, not {type(value).__name__}"
        ) from None


def to_range(value: object, what: str, low: int, high: int) -> int:
    """Return ``value`` as an int between ``low`` and ``high``."""
    number = to_int(value, what)
    if not low <= number <= high:
        raise CompatOverflowError(
            f"{what} {number} is out of range: use {low}..{high}"
        )
    return number


def to_u32(value: object, what: str) -> int:
    """Return a signed or unsigned 32-bit value as unsigned."""
    return to_range(value, what, INT32_MIN, UINT32_MAX) & UINT32_MAX


def signed32(value: int) -> int:
    """Return an unsigned 32-bit value as the C ``int`` with its bits."""
    number = int(value)
    return number - 2**32 if number > INT32_MAX else number


def to_action(value: object) -> int:
    """Return an action (``ALLOW``, ``ERRNO(1)`` ...) as its unsigned value.

    Validity is left to seccompx._core, which rejects unknown action kinds
    and out-of-range errno values as libseccomp does.
    """
    return to_u32(value, "action")


class Arch:
    """An architecture token, built from a name or a token.

    The class attributes are the tokens as signed 32-bit ints, the values
    the official module uses.  ``Arch()`` is the native architecture, and
    ``int(Arch("x86"))`` is the token.
    """

    __slots__ = ("_token",)

    NATIVE = 0
    X86 = signed32(_Arch.X86)
    X86_64 = signed32(_Arch.X86_64)
    X32 = signed32(_Arch.X32)
    ARM = signed32(_Arch.ARM)
    AARCH64 = signed32(_Arch.AARCH64)
    MIPS = signed32(_Arch.MIPS)
    MIPS64 = signed32(_Arch.MIPS64)
    MIPS64N32 = signed32(_Arch.MIPS64N32)
    MIPSEL = signed32(_Arch.MIPSEL)
    MIPSEL64 = signed32(_Arch.MIPSEL64)
    MIPSEL64N32 = signed32(_Arch.MIPSEL64N32)
    PARISC = signed32(_Arch.PARISC)
    PARISC64 = signed32(_Arch.PARISC64)
    PPC = signed32(_Arch.PPC)
    PPC64 = signed32(_Arch.PPC64)
    PPC64LE = signed32(_Arch.PPC64LE)
    S390 = signed32(_Arch.S390)
    S390X = signed32(_Arch.S390X)
    RISCV64 = signed32(_Arch.RISCV64)

    def __init__(self, arch: Union[int, str] = NATIVE) -> None:
        if isinstance(arch, str):
            token = _core.arch_resolve_name(arch)
            if token == 0:
                raise CompatArchitectureError(
                    f"unknown architecture name {arch!r}; use a libseccomp "
                    "name such as 'x86_64', 'x86' or 'aarch64'"
                )
        elif isinstance(arch, int):
            token = to_u32(arch, "architecture token")
            if token == self.NATIVE:
                token = _core.arch_native()
            elif signed32(token) not in _KNOWN_TOKENS:
                raise CompatArchitectureError(
                    f"unknown architecture token {arch}; use a constant "
                    "such as Arch.X86_64 or a name such as Arch('x86_64')"
                )
        else:
            raise CompatTypeError(
                "architecture must be a token (int) or a name (str), not "
                f"{type(arch).__name__}"
            )
        self._token = signed32(token)

    def __int__(self) -> int:
        return self._token

    __index__ = __int__

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Arch):
            return self._token == other._token
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("seccompx.compat.Arch", self._token))

    def __repr__(self) -> str:
        return f"Arch({_core_arch_name(self._token)!r})"


Arch.__module__ = "seccompx.compat"

_KNOWN_TOKENS = frozenset(
    value
    for name, value in vars(Arch).items()
    if name.isupper() and isinstance(value, int) and value != Arch.NATIVE
)


def _core_arch_name(token: int) -> str:
    try:
        return str(_Arch(token & UINT32_MAX))
    except ValueError:
        return f"{token & UINT32_MAX:#x}"


ArchLike = Union[Arch, int]


def to_arch(value: object) -> int:
    """Return an architecture argument as an unsigned token, native for 0.

    Unknown tokens pass through: seccompx._core rejects them with
    ArchitectureError, which the callers translate.
    """
    if isinstance(value, Arch):
        token = value._token & UINT32_MAX
    else:
        token = to_u32(value, "architecture")
    if token == 0:
        return int(_core.arch_native())
    return token


def arch_label(token: int) -> str:
    """Return a readable name for an unsigned token."""
    return _core_arch_name(token)


class Attr:
    """Filter attributes, valued as libseccomp 2.5's ``SCMP_FLTATR_*``."""

    ACT_DEFAULT = int(_Attr.DEFAULT_ACTION)
    ACT_BADARCH = int(_Attr.BAD_ARCH_ACTION)
    CTL_NNP = int(_Attr.NO_NEW_PRIVS)
    CTL_TSYNC = int(_Attr.TSYNC)
    API_TSKIP = int(_Attr.TSKIP)
    CTL_LOG = int(_Attr.LOG)
    CTL_SSB = int(_Attr.SSB)
    CTL_OPTIMIZE = int(_Attr.OPTIMIZE)
    API_SYSRAWRC = int(_Attr.RAW_RC)


Attr.__module__ = "seccompx.compat"

_UNSET: Any = object()


class Arg:
    """One argument comparison of a rule: ``Arg(arg, op, datum_a, datum_b)``.

    ``op`` is one of ``NE``, ``LT``, ``LE``, ``EQ``, ``GE``, ``GT`` and
    ``MASKED_EQ``.  For ``MASKED_EQ`` the rule matches when
    ``argument & datum_a == datum_b``; the other operators compare with
    ``datum_a`` and ignore ``datum_b``.  pyseccomp's keyword names
    ``data_a`` and ``data_b`` are accepted as well.

    Types and ranges are checked here, as the official module does.  The
    argument index (0-5) and the operator are checked when the rule is
    added, which is where the official module reports them.
    """

    __slots__ = ("_arg", "_op", "_datum_a", "_datum_b")

    def __init__(
        self,
        arg: int,
        op: int,
        datum_a: int = _UNSET,
        datum_b: int = _UNSET,
        *,
        data_a: int = _UNSET,
        data_b: int = _UNSET,
    ) -> None:
        datum_a = _pick(datum_a, data_a, "datum_a", "data_a")
        datum_b = _pick(datum_b, data_b, "datum_b", "data_b")
        if datum_a is _UNSET:
            raise CompatTypeError("Arg() needs datum_a, the value to compare with")
        if datum_b is _UNSET:
            datum_b = 0
        self._arg = to_range(arg, "argument index", 0, UINT32_MAX)
        self._op = to_range(op, "comparison operator", INT32_MIN, INT32_MAX)
        self._datum_a = _to_datum(datum_a, "datum_a")
        self._datum_b = _to_datum(datum_b, "datum_b")

    @property
    def arg(self) -> int:
        """The index of the syscall argument, 0 to 5."""
        return self._arg

    @property
    def op(self) -> int:
        """The comparison operator (``EQ``, ``MASKED_EQ`` ...)."""
        return self._op

    @property
    def datum_a(self) -> int:
        """The value to compare with, or the mask for ``MASKED_EQ``."""
        return self._datum_a

    @property
    def datum_b(self) -> int:
        """The value the masked argument must equal for ``MASKED_EQ``."""
        return self._datum_b

    def comparison(self) -> Comparison:
        """Return the comparison in the form seccompx._core takes.

        libseccomp ignores ``datum_b`` for every operator but ``MASKED_EQ``
        and compares the masked argument with ``datum_b & datum_a``.  Both
        are normalised here the same way, because seccompx._core rejects
        the unnormalised forms as likely mistakes.
        """
        if self._op == Op.MASKED_EQ:
            return Comparison(
                self._arg, Op.MASKED_EQ, self._datum_a, self._datum_b & self._datum_a
            )
        try:
            op: Any = Op(self._op)
        except ValueError:
            # An unknown operator: seccompx._core rejects it when the rule
            # is added, as libseccomp does.
            op = self._op
        return Comparison(self._arg, op, self._datum_a, 0)

    def __repr__(self) -> str:
        try:
            op_name = Op(self._op).name
        except ValueError:
            op_name = str(self._op)
        return (
            f"Arg({self._arg}, {op_name}, {self._datum_a:#x}, "
            f"{self._datum_b:#x})"
        )


Arg.__module__ = "seccompx.compat"


def _pick(official: Any, alias: Any, name: str, alias_name: str) -> Any:
    if alias is _UNSET:
        return official
    if official is not _UNSET:
        raise CompatTypeError(f"Arg() got both {name} and {alias_name}")
    return alias


def _to_datum(value: object, what: str) -> int:
    number = to_int(value, what)
    if number < 0:
        raise CompatOverflowError(
            f"{what} {number} is negative; syscall arguments are compared "
            "as unsigned 64-bit values, so write the value with its bits "
            f"set (for example {number & UINT64_MAX:#x})"
        )
    if number > UINT64_MAX:
        raise CompatOverflowError(f"{what} {number:#x} is larger than 2**64-1")
    return number


def to_comparison(value: object) -> Comparison:
    """Return a rule argument (an Arg or a seccompx comparison) for _core."""
    if isinstance(value, Arg):
        return value.comparison()
    if isinstance(value, Comparison):
        return value
    raise CompatTypeError(
        "rule arguments must be Arg objects such as Arg(0, EQ, 1), not "
        f"{type(value).__name__}"
    )


def to_syscall(value: object) -> Union[str, int]:
    """Return a rule's syscall as a name or a non-negative number.

    A negative number is one of libseccomp's pseudo numbers for a syscall
    the native architecture lacks.  seccompx._core takes such syscalls by
    name only, so the number is turned back into its name.
    """
    if isinstance(value, str):
        return value
    if not isinstance(value, int):
        raise CompatTypeError(
            "syscall must be a name (str) or a number (int), not "
            f"{type(value).__name__}"
        )
    number = to_range(value, "syscall number", INT32_MIN, INT32_MAX)
    if number >= 0:
        return number
    name = _core.resolve_number(number, 0)
    if name is None:
        # NOTE: the official module passes any negative number on to
        # libseccomp, which accepts some of them (-1001, or -1 with
        # API_TSKIP set).  seccompx._core takes only names and
        # non-negative numbers, so those rules fail here.
        raise CompatInvalidArgumentError(
            f"syscall number {number} is invalid: a negative number must be "
            "a libseccomp pseudo number of the native architecture, as "
            "returned by resolve_syscall(Arch.NATIVE, name)"
        )
    return str(name)


def is_multiplexed(token: int, syscall: Union[str, int]) -> bool:
    """Return whether architecture ``token`` reaches ``syscall`` (a name or
    native number) through socketcall(2) or ipc(2)."""
    name: Optional[str]
    if isinstance(syscall, str):
        name = syscall
    else:
        found = _core.resolve_number(syscall, 0)
        name = None if found is None else str(found)
    if name is None:
        return False
    return resolve_name(token, name) != _pseudo_number(token, name)


def _pseudo_number(token: int, name: str) -> int:
    try:
        return int(_core.resolve_name(name, token))
    except (UnknownSyscallError, ArchitectureError):
        return -1


def resolve_name(token: int, name: str) -> int:
    """Resolve ``name`` on ``token`` as seccomp_syscall_resolve_name_rewrite
    does: a call that the architecture multiplexes through socketcall(2)
    or ipc(2) gives the number of the multiplexer.  Returns -1 for an
    unknown name or architecture."""
    try:
        number = int(_core.resolve_name(name, token))
    except (UnknownSyscallError, ArchitectureError):
        return -1
    if number in _SOCKET_PSEUDO:
        multiplexer = "socketcall"
    elif number in _IPC_PSEUDO:
        multiplexer = "ipc"
    else:
        return number
    try:
        direct = int(_core.resolve_name(multiplexer, token))
    except UnknownSyscallError:
        return number
    return direct if direct >= 0 else number


def resolve_number(token: int, number: int) -> Optional[str]:
    """Return the name of syscall ``number`` on ``token``, or None.

    Raises CompatArchitectureError for an unknown architecture.
    """
    try:
        name = _core.resolve_number(number, token)
    except ArchitectureError as error:
        raise CompatArchitectureError(str(error)) from None
    return None if name is None else str(name)
