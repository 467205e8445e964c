"""Compiled seccomp programs: load them, read them, simulate and audit them.

A :class:`Program` is the list of classic BPF instructions the kernel
runs for every syscall, as an immutable value.  Get one from
:meth:`seccompx.Filter.compile`, from a file of raw ``struct sock_filter``
records, or from a running process with :func:`dump`.

None of this module uses libseccomp to run, check or load a program: the
``seccompx._bpf`` extension implements the kernel's checks and its
interpreter, and calls prctl(2), seccomp(2) and ptrace(2) itself.
libseccomp is used only to name syscalls in listings and to resolve
syscall names given to :meth:`Program.simulate`.
"""

from __future__ import annotations

import errno as _errno
import io
import os
from collections import abc as _abc
from typing import (
    TYPE_CHECKING,
    BinaryIO,
    Callable,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _bpf
from . import _bpfcode as code
from ._actions import Action
from ._audit import Finding, audit_program
from ._errors import (
    InvalidArgumentError,
    LoadError,
    ProgramError,
    SeccompError,
    UnsupportedError,
)
from ._types import Arch, _reject_string_arches

__all__ = [
    "Program",
    "Finding",
    "RawResult",
    "dump",
    "simulate_filters",
    "MAX_INSTRUCTIONS",
    "MAX_PROGRAM_BYTES",
]

ArchLike = Union[Arch, str, int]
Syscall = Union[str, int]

# Kernel limit on the instructions of one program (BPF_MAXINSNS).
MAX_INSTRUCTIONS = 4096
# The largest program file Program.from_file reads: MAX_INSTRUCTIONS
# struct sock_filter records of 8 bytes.
MAX_PROGRAM_BYTES = MAX_INSTRUCTIONS * 8
# Kernel limit on all filters stacked on a task (MAX_INSNS_PER_PATH in
# kernel/seccomp.c).  seccomp_attach_filter() sums each filter's length
# after the kernel converted it to eBPF, plus 4 per filter, so the classic
# lengths do not predict when a load fails.
MAX_STACKED_INSTRUCTIONS = 32768
# __AUDIT_ARCH_64BIT: set in the tokens of 64-bit architectures.
_ARCH_64BIT = 0x80000000
_U64_MAX = 2**64 - 1
# The largest pid_t; the kernel's own limit (pid_max) is lower.
_PID_MAX = 2**31 - 1


class RawResult(NamedTuple):
    """The 32-bit return value of a program, and the index of the
    instruction that returned it."""

    value: int
    instruction: int

    @property
    def action(self) -> Action:
        """The action the kernel takes for ``value``."""
        return code.effective_action(self.value)


class Program(_bpf.ProgramBase):
    """The BPF instructions of a seccomp filter, as an immutable value.

    ``data`` is the program in kernel format: an array of ``struct
    sock_filter`` (8 bytes each, native byte order).  ``arches`` lists the
    architectures the program checks for; when None they are read from
    the program's ``arch ==`` comparisons.  Programs compare equal, and
    hash, by their bytes alone.

    A Program may contain instructions the kernel would reject: construction
    checks only the length.  :meth:`validate` applies the kernel's rules,
    and :meth:`simulate` and :meth:`load` reject such programs.
    """

    # _data, the program's bytes, is a read-only member of the base type.
    __slots__ = ("_given_arches", "_found_arches", "_flow")
    _given_arches: Optional[Tuple[Arch, ...]]
    _found_arches: Optional[Tuple[Arch, ...]]
    _flow: Optional[code.Flow]

    def __init__(
        self, data: bytes, arches: Optional[Iterable[ArchLike]] = None
    ) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"program data must be bytes, not {type(data).__name__}")
        raw = bytes(data)
        if len(raw) % 8:
            raise ProgramError(
                f"program data is {len(raw)} bytes, not a multiple of 8: "
                "a seccomp program is an array of 8-byte struct sock_filter"
            )
        given = None if arches is None else _parse_arches(arches)
        self._set_data(raw)
        object.__setattr__(self, "_given_arches", given)
        object.__setattr__(self, "_found_arches", None)
        object.__setattr__(self, "_flow", None)

    @classmethod
    def from_file(
        cls, source: Union[str, bytes, "os.PathLike[str]", int, BinaryIO]
    ) -> "Program":
        """Read a program from a file of raw ``struct sock_filter`` records.

        This is the format of :meth:`seccompx.Filter.export_bpf_to`,
        ``bytes(program)`` and ``seccompx dump --output``.  ``source`` is a
        path, a file object opened in binary mode, or a file descriptor.
        A file object or descriptor is read from its current position to
        the end of the file and stays open.  A non-blocking file that has
        no data before its end raises InvalidArgumentError, also when some
        data arrived first: a part of a program is a different program.
        """
        data, label = _read_source(source)
        try:
            return cls(data)
        except ProgramError as error:
            raise ProgramError(f"{label}: {error}") from None

    # Value behaviour -------------------------------------------------------

    def __len__(self) -> int:
        return len(self._data) // 8

    def __bytes__(self) -> bytes:
        return self._data

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Program):
            return self._data == other._data
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("seccompx.Program", self._data))

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Program objects are immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Program objects are immutable")

    def __reduce__(self) -> Tuple[type, Tuple[bytes, Optional[Tuple[Arch, ...]]]]:
        return (type(self), (self._data, self._given_arches))

    def __repr__(self) -> str:
        arches = ",".join(str(arch) for arch in self.arches) or "none"
        return f"<seccompx.Program {len(self)} instructions arches={arches}>"

    # Contents --------------------------------------------------------------

    @property
    def instructions(self) -> Tuple[code.Instruction, ...]:
        """The instructions as ``(code, jt, jf, k)`` named tuples."""
        return self._analysis().instructions

    @property
    def arches(self) -> Tuple[Arch, ...]:
        """The architectures the program checks for, in program order.

        Read from the program's comparisons of ``seccomp_data.arch``
        unless given to the constructor.  x86_64 and x32 share one arch
        token, so the syscall numbers compared under it distinguish them
        (x32 numbers have bit 30 set).
        """
        if self._given_arches is not None:
            return self._given_arches
        if self._found_arches is None:
            object.__setattr__(self, "_found_arches", _find_arches(self))
        assert self._found_arches is not None
        return self._found_arches

    def _analysis(self) -> code.Flow:
        if self._flow is None:
            flow = code.analyze(code.decode(self._data))
            object.__setattr__(self, "_flow", flow)
        assert self._flow is not None
        return self._flow

    def validate(self) -> None:
        """Raise ProgramError if the kernel would reject the program.

        The error names the instruction at fault in ``index``.  The rules
        are those of Linux 6.18's seccomp(2) (see docs/inspect.md).
        """
        _bpf.check(self._data)

    @property
    def is_valid(self) -> bool:
        """Whether the kernel would accept the program."""
        try:
            _bpf.check(self._data)
        except ProgramError:
            return False
        return True

    # Loading ---------------------------------------------------------------

    # load() is the base type's, written in C: a Python method would run in
    # a frame of its own, whose objects cost page faults in the freshly
    # forked child that usually loads a precompiled program.  This
    # definition documents it for type checkers and the documentation.
    if TYPE_CHECKING:

        def load(
            self,
            *,
            tsync: bool = True,
            log: bool = False,
            spec_allow: bool = False,
            new_listener: bool = False,
            wait_killable_recv: bool = False,
            no_new_privs: bool = True,
        ) -> Optional[int]:
            """Install the program as a seccomp filter of the calling process.

            One call into the extension sets PR_SET_NO_NEW_PRIVS (when
            ``no_new_privs`` is true) and calls seccomp(SECCOMP_SET_MODE_FILTER)
            with the flags chosen:

            * ``tsync``: install on every thread of the process (TSYNC).
            * ``log``: log every action except ALLOW (LOG).
            * ``spec_allow``: keep speculative store bypass mitigation off
              (SPEC_ALLOW).
            * ``new_listener``: create a user-notification listener and return
              its file descriptor (NEW_LISTENER).  With ``tsync`` this also
              sets TSYNC_ESRCH, which the kernel requires for the pair.
            * ``wait_killable_recv``: notified tasks wait killably
              (WAIT_KILLABLE_RECV, Linux 5.19+), only with ``new_listener``;
              without it this raises InvalidArgumentError.

            Every keyword takes only True or False; any other value raises
            TypeError before anything is loaded.
            Returns the listener descriptor with ``new_listener``, else None.
            Raises LoadError with a ``reason`` when the kernel rejects it; a
            program that fails :meth:`validate` is rejected before anything is set.
            Loading cannot be undone.
            """
            ...

    # Reading ---------------------------------------------------------------

    def disassemble(self, arch: Optional[ArchLike] = None, raw: bool = False) -> str:
        """Return a readable listing, one numbered line per instruction.

        Syscall numbers are named for the architecture that the program's
        ``arch ==`` checks fixed on the paths to each comparison.  Where no
        check decides, they are named for ``arch``, by default the native
        architecture.
        ``raw`` adds the opcode, jump offsets and constant in hex.
        """
        from ._disasm import listing, render

        if raw is not True and raw is not False:
            raise TypeError(f"raw must be True or False, not {raw!r}")
        return render(listing(self._analysis(), _fallback_arch(arch)), raw=raw)

    def simulate_raw(
        self,
        syscall: Syscall,
        args: Sequence[int] = (),
        arch: Optional[ArchLike] = None,
        instruction_pointer: int = 0,
    ) -> RawResult:
        """Run the program like :meth:`simulate`; return the raw result.

        The result contains the program's 32-bit return value and the
        index of the instruction that returned it.  A division by an X of 0 ends
        the program with value 0 at the dividing instruction, as in the
        kernel.
        """
        nr, token, ip, values = seccomp_data(syscall, args, arch, instruction_pointer)
        value, index = _bpf.run(self._data, nr, token, ip, values)
        return RawResult(value, index)

    def simulate(
        self,
        syscall: Syscall,
        args: Sequence[int] = (),
        arch: Optional[ArchLike] = None,
        instruction_pointer: int = 0,
    ) -> Action:
        """Return the action the kernel takes for one syscall.

        ``syscall`` is a name, resolved for ``arch``, or the number the
        kernel puts in ``seccomp_data.nr``.  ``arch`` defaults to the
        native architecture; for x32 the kernel reports the x86_64 token
        and the x32 number (bit 30 set).  ``args`` holds up to six
        register values (missing ones are 0).  On a 64-bit architecture a
        value may be -2**63 to 2**64-1, negative values taken as their
        two's complement; on a 32-bit one, -2**31 to 2**32-1.

        As in the kernel, a return value with an unknown action kills the
        process, and ERRNO data above 4095 is capped at 4095.  Raises
        ProgramError if the kernel would reject the program.
        """
        return self.simulate_raw(syscall, args, arch, instruction_pointer).action

    def audit(self) -> List[Finding]:
        """Look for common weaknesses; return them, most severe first.

        See :class:`Finding` and docs/inspect.md for the checks.  Filters
        built by :class:`seccompx.Filter` with its default settings can
        still give two findings.  ``unreachable`` points at the dead final
        return that libseccomp leaves in long programs, and
        ``multiplexer-bypass`` at argument rules on socket or IPC syscalls
        in a filter that covers x86.
        """
        return audit_program(self, self._analysis())


def _read_source(
    source: Union[str, bytes, "os.PathLike[str]", int, BinaryIO],
) -> Tuple[bytes, str]:
    """Return the bytes of a path, descriptor or binary file, and a label.

    Reads at most MAX_PROGRAM_BYTES + 1 bytes, so that a huge or endless
    source such as /dev/zero fails fast instead of filling memory.
    """
    if isinstance(source, (str, bytes, os.PathLike)):
        label = repr(os.fsdecode(source))
        try:
            file = open(source, "rb")
        except ValueError:  # open() rejects a path with a NUL byte
            raise InvalidArgumentError(
                f"program path {label} is invalid: it contains a NUL byte"
            ) from None
        except OSError as error:
            number = error.errno if error.errno is not None else _errno.EINVAL
            raise InvalidArgumentError(
                f"cannot read the program from {label}: "
                f"{error.strerror or error} "
                f"({_errno.errorcode.get(number, str(number))})",
                number,
            ) from error
        with file:
            return _read_limited(file.read, label), label
    if isinstance(source, int) and not isinstance(source, bool):
        label = f"file descriptor {source}"
        return _read_descriptor(source, label), label
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(
            "a program source must be a path, a binary file object or a file "
            f"descriptor, not {type(source).__name__}"
        )
    name = getattr(source, "name", None)
    label = repr(name) if isinstance(name, str) else type(source).__name__
    if isinstance(source, io.TextIOBase):
        raise TypeError(
            f"cannot read the program from {label}: it is a text file, but a "
            "program is binary data; open the file in binary mode ('rb')"
        )
    if getattr(source, "closed", False) is True:
        raise InvalidArgumentError(
            f"cannot read the program from {label}: the file is closed; pass "
            "a binary file object open for reading, a path, or a "
            "non-negative int fd"
        )
    if isinstance(source, io.IOBase) and not source.readable():
        raise InvalidArgumentError(
            f"cannot read the program from {label}: the file is not open for "
            "reading; pass a binary file object open for reading, a path, or "
            "a non-negative int fd"
        )
    return _read_limited(read, label), label


# The largest file descriptor number: descriptors are C ints.
_FD_MAX = 2**31 - 1


def _read_descriptor(fd: int, label: str) -> bytes:
    """Read file descriptor ``fd``; raise InvalidArgumentError if unusable."""
    if not 0 <= fd <= _FD_MAX:
        raise InvalidArgumentError(
            f"{label} is invalid: pass a non-negative int fd (at most "
            f"{_FD_MAX}), a path, or a binary file object open for reading"
        )
    try:
        # closefd=False: the descriptor belongs to the caller.
        with open(fd, "rb", closefd=False) as file:
            return _read_limited(file.read, label)
    except SeccompError:
        raise  # _read_limited's InvalidArgumentError, also an OSError
    except OSError as error:
        number = error.errno if error.errno is not None else _errno.EINVAL
        name = _errno.errorcode.get(number, str(number))
        raise InvalidArgumentError(
            f"cannot read the program from {label}: "
            f"{error.strerror or error} ({name}); pass a descriptor that is "
            "open for reading, a path, or a binary file object",
            number,
        ) from error


def _read_limited(read: Callable[[int], object], label: str) -> bytes:
    """Call ``read(size)`` until end of file; raise if over the limit.

    Loops because a raw or unbuffered file may return fewer bytes than
    requested before its end.
    """
    chunks: List[bytes] = []
    total = 0
    while total <= MAX_PROGRAM_BYTES:
        chunk = read(MAX_PROGRAM_BYTES + 1 - total)
        if chunk is None:
            raise InvalidArgumentError(_no_data_message(label, total))
        if not isinstance(chunk, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"reading the program returned {type(chunk).__name__}, not "
                "bytes; open the file in binary mode ('rb')"
            )
        if not chunk:
            break
        chunks.append(bytes(chunk))
        total += len(chunks[-1])
    if total > MAX_PROGRAM_BYTES:
        raise InvalidArgumentError(
            f"program source {label} is larger than {MAX_PROGRAM_BYTES} "
            f"bytes: the kernel loads at most {MAX_INSTRUCTIONS} instructions "
            "of 8 bytes, so a larger program can never be loaded"
        )
    return b"".join(chunks)


def _no_data_message(label: str, total: int) -> str:
    """Describe a non-blocking read that returned None after total bytes."""
    if total:
        state = f"had no more data after {total} bytes, before end of file"
    else:
        state = "had no data yet"
    return (
        f"cannot read the program from {label}: the file is non-blocking and "
        f"{state}; pass a blocking file, or wait until the writer has closed it"
    )


# Arch members by token, for _compiled(): a dictionary lookup runs no
# Python frame, where Arch(token) runs several in the enum machinery.
_ARCH_BY_TOKEN = {int(arch): arch for arch in Arch}
_set_slot = object.__setattr__


def _compiled(data: bytes, tokens: Tuple[int, ...]) -> Program:
    """Return Filter.compile()'s Program of ``data`` exported by a filter
    of the architectures ``tokens``.

    The filter has checked both, so this skips the constructor's checks.
    It runs few Python frames and touches few objects, because each
    object touched for the first time in a freshly forked child costs a
    page fault (see docs/benchmarks.md).
    """
    program = Program.__new__(Program)
    program._set_data(data)
    _set_slot(program, "_given_arches", tuple(map(_ARCH_BY_TOKEN.__getitem__, tokens)))
    _set_slot(program, "_found_arches", None)
    _set_slot(program, "_flow", None)
    return program


def _parse_arches(arches: Iterable[ArchLike]) -> Tuple[Arch, ...]:
    """Check ``arches`` as Filter(arches=...) does; an empty list is
    allowed, for a program that checks no architecture."""
    _reject_string_arches(arches)
    try:
        items = iter(arches)
    except TypeError:
        raise TypeError(
            f"arches must be an iterable of architectures, not "
            f"{type(arches).__name__} {arches!r}"
        ) from None
    result: List[Arch] = []
    for arch in items:
        token = Arch.parse(arch)
        if token is Arch.NATIVE:
            token = Arch.native()
        if token in result:
            raise InvalidArgumentError(f"architecture {token} is listed twice")
        result.append(token)
    return tuple(result)


def _fallback_arch(arch: Optional[ArchLike]) -> int:
    if arch is None:
        return int(Arch.native())
    token = Arch.parse(arch)
    return int(Arch.native() if token is Arch.NATIVE else token)


def _data_arch(target: Arch) -> int:
    """Return the token the kernel stores in ``seccomp_data.arch``."""
    return int(Arch.X86_64) if target is Arch.X32 else int(target)


def _register(value: object, what: str, bits: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int, not {type(value).__name__}")
    low = -(1 << (bits - 1))
    high = (1 << bits) - 1
    if not low <= value <= high:
        raise InvalidArgumentError(
            f"{what} {_show_int(value)} does not fit in a {bits}-bit "
            f"register: use {low} to {high:#x}"
        )
    return value & high


def _show_int(value: int) -> str:
    """Format an out-of-range int in hex, or by its size if it is huge."""
    if value.bit_length() > 128:
        return f"(an integer of {value.bit_length()} bits)"
    return f"{value:#x}"


def _argument_list(args: object) -> List[object]:
    if isinstance(args, (str, bytes, bytearray)) or not isinstance(args, _abc.Iterable):
        raise TypeError(
            "args must be a sequence of up to 6 ints, such as (3, 0x1000), "
            f"not {type(args).__name__}"
        )
    values = list(args)
    if len(values) > 6:
        raise InvalidArgumentError(
            f"{len(values)} syscall arguments given; syscalls take at most 6"
        )
    return values


def seccomp_data(
    syscall: Syscall,
    args: Sequence[int],
    arch: Optional[ArchLike],
    instruction_pointer: int,
) -> Tuple[int, int, int, Tuple[int, int, int, int, int, int]]:
    """Build ``(nr, arch token, instruction_pointer, args)`` for _bpf.run."""
    from ._filter import resolve_syscall

    target = Arch.native() if arch is None else Arch.parse(arch)
    if target is Arch.NATIVE:
        target = Arch.native()
    token = _data_arch(target)
    bits = 64 if token & _ARCH_64BIT else 32
    if isinstance(syscall, str):
        nr = resolve_syscall(syscall, target)
    elif isinstance(syscall, int) and not isinstance(syscall, bool):
        nr = _register(syscall, "syscall number", 32)
    else:
        raise TypeError(
            f"syscall must be a name or number, not {type(syscall).__name__}"
        )
    values = _argument_list(args)
    registers = [
        _register(value, f"argument {index}", bits)
        for index, value in enumerate(values)
    ]
    registers += [0] * (6 - len(registers))
    ip = _register(instruction_pointer, "instruction_pointer", bits)
    return nr, token, ip, tuple(registers)  # type: ignore[return-value]


def simulate_filters(
    programs: Sequence[Program],
    syscall: Syscall,
    args: Sequence[int] = (),
    arch: Optional[ArchLike] = None,
    instruction_pointer: int = 0,
) -> Tuple[Action, int, RawResult]:
    """Return what the kernel does with a stack of filters.

    ``programs`` lists the filters in the order they were installed, as
    :func:`dump` returns them.  Like ``seccomp_run_filters()`` in the
    kernel, every filter runs and the most restrictive action wins: the
    lowest action value, compared as a signed 32-bit number.  On a tie the
    filter installed last counts.  Returns the action, the position of the deciding
    filter in ``programs`` and its raw result.
    """
    stack = _program_list(programs)
    data = seccomp_data(syscall, args, arch, instruction_pointer)
    best: Optional[Tuple[int, int, RawResult]] = None
    for position, program in enumerate(stack):
        value, index = _bpf.run(bytes(program), *data)
        rank = _signed_action(value)
        if best is None or rank <= best[0]:
            best = (rank, position, RawResult(value, index))
    assert best is not None
    return best[2].action, best[1], best[2]


def _program_list(programs: object) -> List[Program]:
    if isinstance(programs, Program) or not isinstance(programs, _abc.Iterable):
        raise TypeError(
            "programs must be a sequence of seccompx.Program, oldest first, "
            f"not {type(programs).__name__}"
        )
    stack = list(programs)
    if not stack:
        raise InvalidArgumentError("no filters given; pass at least one Program")
    for position, program in enumerate(stack):
        if not isinstance(program, Program):
            raise TypeError(
                f"programs[{position}] must be a seccompx.Program, not "
                f"{type(program).__name__}"
            )
    return stack


def _signed_action(value: int) -> int:
    action = value & 0xFFFF0000
    return action - 2**32 if action & 0x80000000 else action


def _find_arches(program: Program) -> Tuple[Arch, ...]:
    flow = program._analysis()
    tokens: List[int] = []
    for index, insn in enumerate(flow.instructions):
        if insn.code != code.JMP | code.JEQ or not flow.facts[index]:
            continue
        if any(f.a == ("data", code.OFFSET_ARCH) for f in flow.facts[index]):
            if insn.k not in tokens:
                tokens.append(insn.k)
    found: List[Arch] = []
    for token in tokens:
        if token == Arch.X86_64:
            found.extend(_x86_64_variants(program, flow, tokens))
            continue
        try:
            found.append(Arch(token))
        except ValueError:
            continue  # a token this version of seccompx does not know
    return tuple(found)


def _x86_64_variants(
    program: Program, flow: code.Flow, tokens: List[int]
) -> List[Arch]:
    """Tell whether the x86_64 token stands for x86_64, x32 or both.

    Syscall numbers compared under the token decide first.  Otherwise
    the program runs for an uncompared x86_64 number, its x32 twin and a
    foreign architecture, and a kind whose result differs from the
    foreign one counts as covered.
    """
    compared = set()
    for index, insn in enumerate(flow.instructions):
        if insn.code != code.JMP | code.JEQ:
            continue
        for facts in flow.facts[index]:
            if facts.a == ("data", code.OFFSET_NR) and facts.arch.token == Arch.X86_64:
                compared.add(insn.k)
    native_compared = any(k < code.X32_SYSCALL_BIT for k in compared)
    native = native_compared
    x32 = any(k & code.X32_SYSCALL_BIT and k != code.U32_MAX for k in compared)
    if not (native and x32) and program.is_valid:
        probe = next(n for n in range(400, 2000) if n not in compared)
        foreign = next(t for t in range(1, 100) if t not in tokens)
        zeros = (0,) * 6
        data = bytes(program)
        bad = _bpf.run(data, probe, foreign, 0, zeros)[0]
        as_native = _bpf.run(data, probe, int(Arch.X86_64), 0, zeros)[0]
        x32_probe = probe | code.X32_SYSCALL_BIT
        as_x32 = _bpf.run(data, x32_probe, int(Arch.X86_64), 0, zeros)[0]
        native = native or as_native != bad
        # Only a program that turns x86_64 numbers away like foreign ones
        # but not x32 numbers covers x32 without naming an x32 syscall.
        # An x86_64 program without the x32 guard lets x32 numbers fall
        # into its own rules, which does not make it an x32 filter.
        if not x32 and not native_compared:
            x32 = as_native == bad and as_x32 != bad
    result = []
    if native or not x32:
        result.append(Arch.X86_64)
    if x32:
        result.append(Arch.X32)
    return result


# Loading errors ------------------------------------------------------------


def _flag_names(flags: int) -> str:
    names = [
        (_bpf.FLAG_TSYNC, "tsync"),
        (_bpf.FLAG_LOG, "log"),
        (_bpf.FLAG_SPEC_ALLOW, "spec_allow"),
        (_bpf.FLAG_NEW_LISTENER, "new_listener"),
        (_bpf.FLAG_TSYNC_ESRCH, "tsync_esrch"),
        (_bpf.FLAG_WAIT_KILLABLE_RECV, "wait_killable_recv"),
    ]
    chosen = [name for bit, name in names if flags & bit]
    return ", ".join(chosen) if chosen else "none"


def _stacked_limit_message(count: Optional[int]) -> str:
    """Explain an ENOMEM from seccomp(2) for a filter of ``count``
    instructions, or of an unknown size."""
    if count is None:
        what = "the filter"
    elif count == 1:
        what = "the filter of 1 instruction"
    else:
        what = f"the filter of {count} instructions"
    return (
        f"the kernel rejected {what} (ENOMEM): with the filters already "
        f"loaded, the task would pass the kernel's limit of "
        f"{MAX_STACKED_INSTRUCTIONS} instructions, or memory ran out. The "
        "kernel counts each filter in its converted eBPF form, which can be "
        "about twice as long as the classic program, plus 4 per filter; "
        "load fewer or smaller filters"
    )


def _load_error(
    stage: int, err: int, thread: int, data: bytes, flags: int
) -> LoadError:
    """Build the LoadError for a failed Program.load (called from _bpf)."""
    count = len(data) // 8
    if stage == _bpf.STAGE_NO_NEW_PRIVS:
        if _has_filter():
            return _stacked_error("prctl(PR_SET_NO_NEW_PRIVS)", err)
        # Kernels before 3.5 lack the option.  Any other error comes from
        # outside prctl() itself, such as a security module.
        cause = (
            "the kernel may be older than 3.5"
            if err == _errno.EINVAL
            else "a security module may reject it"
        )
        return LoadError(
            f"prctl(PR_SET_NO_NEW_PRIVS) failed: {os.strerror(err)}; {cause}",
            err,
            reason="no_new_privs",
        )
    if stage == _bpf.STAGE_TSYNC or err == _errno.ESRCH:
        return _tsync_error(thread or None)
    # The kernel returns EACCES only while no_new_privs is off, so with it
    # on, a filter loaded earlier returned the error.
    if err == _errno.EACCES and _has_filter() and _no_new_privs_set():
        return _stacked_error("seccomp(2)", err)
    if err == _errno.EACCES:
        return LoadError(
            "the kernel rejected the filter: no_new_privs is off and the "
            "process lacks CAP_SYS_ADMIN; keep no_new_privs=True or run "
            "with CAP_SYS_ADMIN",
            err,
            reason="no_new_privs",
        )
    if err == _errno.EINVAL:
        return _invalid_error(data, count, flags)
    if err == _errno.ENOMEM:
        return LoadError(_stacked_limit_message(count), err, reason="too_large")
    if err == _errno.EBUSY:
        return LoadError(
            "the kernel rejected the filter: a filter with a notification "
            "listener is already loaded in this process, and a process "
            "can have only one",
            err,
            reason="listener",
        )
    if err in (_errno.EFAULT, _errno.EPERM) and _has_filter():
        return _stacked_error("seccomp(2)", err)
    if err == _errno.EFAULT:
        return LoadError(
            "the kernel could not read the program (EFAULT)", err, reason="fault"
        )
    return LoadError(
        f"loading the filter failed: {os.strerror(err)}", err, reason="kernel"
    )


def _has_filter() -> bool:
    """Return whether the calling process already has a seccomp filter."""
    from ._filter import _process_has_filter

    return _process_has_filter()


def _no_new_privs_set() -> bool:
    """Return whether no_new_privs is set for the calling thread."""
    try:
        with open("/proc/thread-self/status", encoding="ascii") as status:
            return any(line.split() == ["NoNewPrivs:", "1"] for line in status)
    except OSError:
        return False


def _stacked_error(call: str, err: int) -> LoadError:
    """Build the LoadError for ``call`` failing with ``err`` because a
    filter loaded earlier rejects it."""
    return LoadError(
        f"{call} failed ({_errno.errorcode.get(err, err)}): this process "
        "already has a seccomp filter, which probably rejects prctl or "
        "seccomp, the syscalls a load needs; allow both in the first filter "
        "to stack another",
        err,
        reason="stacked",
    )


def _tsync_error(thread: Optional[int]) -> LoadError:
    if thread is None:
        from ._filter import _conflicting_thread

        thread = _conflicting_thread()
    where = f"thread {thread}" if thread else "another thread"
    return LoadError(
        f"thread sync failed: {where} of this process already has a filter "
        "that is not an ancestor of the calling thread's; load the filter "
        "before starting threads, or pass tsync=False",
        _errno.ESRCH,
        reason="tsync",
        thread=thread,
    )


def _invalid_error(data: bytes, count: int, flags: int) -> LoadError:
    if count > MAX_INSTRUCTIONS:
        return LoadError(
            f"the program has {count} BPF instructions, over the kernel's "
            f"limit of {MAX_INSTRUCTIONS}; build it from a Filter with fewer "
            "rules, or with optimize=2 for a binary tree",
            _errno.EINVAL,
            reason="too_large",
        )
    try:
        _bpf.check(data)
    except ProgramError as error:
        return LoadError(
            f"the program fails the kernel's checks: {error}",
            _errno.EINVAL,
            reason="program",
        )
    earlier = (
        "; or a seccomp filter loaded earlier returns EINVAL for seccomp(2)"
        if _has_filter()
        else ""
    )
    return LoadError(
        f"the kernel rejected a load flag (EINVAL); flags: "
        f"{_flag_names(flags)}; the running kernel may not support one of "
        f"them, or the combination{earlier}",
        _errno.EINVAL,
        reason="flag",
    )


# Reading the filters of a process -----------------------------------------


def dump(pid: int) -> List[Program]:
    """Return the seccomp filters of process ``pid``, oldest first.

    The order is the kernel's filter index: 0 is the filter installed
    first, and the last one is the most recent.

    Attaches with ptrace (PTRACE_SEIZE, then PTRACE_INTERRUPT), reads each
    filter with PTRACE_SECCOMP_GET_FILTER and detaches, so the process
    goes on as before.  Needs CAP_SYS_ADMIN, the right to ptrace the
    process, and a calling process that is not under seccomp itself.
    Returns an empty list for a process without filters.  ``pid`` may be a
    thread id: filters belong to threads.
    """
    if isinstance(pid, bool) or not isinstance(pid, int):
        raise TypeError(f"pid must be an int, not {type(pid).__name__}")
    if not 0 < pid <= _PID_MAX:
        raise InvalidArgumentError(
            f"pid {_show_pid(pid)} is invalid: use a positive id up to "
            f"{_PID_MAX} (pid_t is a signed 32-bit int)"
        )
    if pid == os.getpid() or _is_own_thread(pid):
        raise InvalidArgumentError(
            f"pid {pid} is the calling process or one of its threads, which "
            "ptrace cannot attach to; read its filters from another process"
        )
    try:
        filters = _bpf.get_filters(pid)
    except OSError as error:
        raise _dump_error(pid, error) from None
    return [Program(data) for data in filters]


def _show_pid(pid: int) -> str:
    return str(pid) if pid.bit_length() <= 128 else _show_int(pid)


def _is_own_thread(tid: int) -> bool:
    return os.path.exists(f"/proc/self/task/{tid}")


# CAP_SYS_PTRACE's bit in the capability sets of /proc/PID/status.
_CAP_SYS_PTRACE = 19
# PF_KTHREAD in the flags field of /proc/PID/stat.
_PF_KTHREAD = 0x00200000


def _status_fields(pid: Union[int, str]) -> Dict[str, str]:
    """Return the fields of /proc/PID/status, or {} if it cannot be read."""
    try:
        with open(f"/proc/{pid}/status", encoding="utf-8", errors="replace") as file:
            lines = file.read().splitlines()
    except OSError:
        return {}
    fields = {}
    for line in lines:
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _is_kernel_thread(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as file:
            stat = file.read()
    except OSError:
        return False
    # The fields after the command name, which may contain spaces; the
    # flags are the 9th field of the line, the 7th after the name.
    fields = stat.rpartition(")")[2].split()
    try:
        return bool(int(fields[6]) & _PF_KTHREAD)
    except (IndexError, ValueError):
        return False


def _yama_scope() -> Optional[int]:
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as file:
            return int(file.read().strip())
    except (OSError, ValueError):
        return None


def _attach_refusal(pid: int) -> str:
    """Say why PTRACE_SEIZE of ``pid`` failed with EPERM, from what
    /proc shows; the kernel does not report which check failed."""
    tracer = _status_fields(pid).get("TracerPid", "0")
    if tracer not in ("", "0"):
        return (
            f"process {tracer} traces it already, and a process can have "
            "only one tracer"
        )
    if _is_kernel_thread(pid):
        return "it is a kernel thread, which ptrace cannot attach to"
    if _yama_scope() == 3:
        return (
            "Yama's ptrace_scope is 3, which forbids every ptrace attach "
            "until reboot"
        )
    try:
        effective = int(_status_fields("self").get("CapEff", ""), 16)
    except ValueError:
        effective = 0
    if not effective >> _CAP_SYS_PTRACE & 1:
        return (
            "it may belong to another user or be protected by Yama's "
            "ptrace_scope; run as root or with CAP_SYS_PTRACE"
        )
    return (
        "this process has CAP_SYS_PTRACE and the process has no tracer, so "
        "a security module (such as AppArmor or SELinux) forbids the "
        "attach, or the process is in a user namespace where this process "
        "lacks CAP_SYS_PTRACE"
    )


def _dump_error(pid: int, error: OSError) -> SeccompError:
    err = error.errno or _errno.EIO
    step = error.filename
    if err == _errno.ESRCH:
        return SeccompError(f"no process {pid}, or it exited", err)
    if step == "PTRACE_SEIZE" and err == _errno.EPERM:
        return SeccompError(
            f"ptrace cannot attach to process {pid} (EPERM): "
            + _attach_refusal(pid),
            err,
        )
    if step == "PTRACE_SECCOMP_GET_FILTER" and err == _errno.EACCES:
        return SeccompError(
            f"reading the filters of process {pid} was rejected (EACCES): it "
            "needs CAP_SYS_ADMIN, and the calling process must not be under "
            "seccomp itself",
            err,
        )
    if step == "PTRACE_SECCOMP_GET_FILTER" and err == _errno.EIO:
        return UnsupportedError(
            "the running kernel lacks PTRACE_SECCOMP_GET_FILTER (it needs "
            "CONFIG_CHECKPOINT_RESTORE)",
            err,
        )
    return SeccompError(
        f"reading the filters of process {pid} failed at {step}: {os.strerror(err)}",
        err,
    )
