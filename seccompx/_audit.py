"""Common weaknesses of seccomp programs, found by reading every path.

Each check works on the facts of :func:`seccompx._bpfcode.analyze`, and
the checks that depend on the default action run the program on probe
syscalls with the extension's interpreter.  A check reports a path only
when the program lets it reach a return of ALLOW or LOG: a weakness that
ends in KILL or ERRNO costs nothing.  Two low-severity checks report the
opposite mistake, a program that stops its own process from working.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

from . import _bpf
from . import _bpfcode as code
from ._actions import ActionKind
from ._bpfcode import Facts, Flow
from ._errors import ProgramError, SeccompError
from ._types import Arch

if TYPE_CHECKING:
    from .program import Program

__all__ = ["Finding", "audit_program"]

HIGH = "high"
MEDIUM = "medium"
LOW = "low"
_SEVERITY_ORDER = {HIGH: 0, MEDIUM: 1, LOW: 2}

# Call numbers of socketcall(2) (SYS_SOCKET ... in linux/net.h) and ipc(2)
# (SEMOP ... in linux/ipc.h) for the syscalls they multiplex.
SOCKETCALL_CALLS = {
    "socket": 1,
    "bind": 2,
    "connect": 3,
    "listen": 4,
    "accept": 5,
    "getsockname": 6,
    "getpeername": 7,
    "socketpair": 8,
    "send": 9,
    "recv": 10,
    "sendto": 11,
    "recvfrom": 12,
    "shutdown": 13,
    "setsockopt": 14,
    "getsockopt": 15,
    "sendmsg": 16,
    "recvmsg": 17,
    "accept4": 18,
    "recvmmsg": 19,
    "sendmmsg": 20,
}
IPC_CALLS = {
    "semop": 1,
    "semget": 2,
    "semctl": 3,
    "semtimedop": 4,
    "msgsnd": 11,
    "msgrcv": 12,
    "msgget": 13,
    "msgctl": 14,
    "shmat": 21,
    "shmdt": 22,
    "shmget": 23,
    "shmctl": 24,
}

# Syscalls that few filters name, run to find the default action.
_PROBE_SYSCALLS = (
    "getppid",
    "getpgrp",
    "times",
    "sysinfo",
    "umask",
    "getpriority",
    "sched_yield",
    "getrusage",
    "uname",
    "getcwd",
    "alarm",
    "pause",
)
_PROBES_PER_ARCH = 3

# Exit statuses that check_exit passes to exit_group: success, the usual
# failure and the highest status, so that a rule allowing only some
# statuses (such as only 0) is reported.
_EXIT_PROBE_STATUSES = (0, 1, 255)

# The consequence, for the exit-blocked message, of each action that
# exit_group can get instead of running.  ALLOW and LOG are missing because
# they let exit_group run, and effective_action() maps unknown kinds to
# KILL_PROCESS, as the kernel does.
_EXIT_CONSEQUENCES: Dict[ActionKind, str] = {
    # glibc's _exit() (2.36) calls exit_group, then exit, then faults.
    ActionKind.ERRNO: "exit_group fails, so glibc's _exit() calls exit, which "
    "ends only the calling thread, and faults (SIGSEGV on x86) if exit fails "
    "too",
    ActionKind.KILL_PROCESS: "the kernel kills the process with SIGSYS "
    "instead of letting it exit",
    ActionKind.KILL_THREAD: "the kernel kills the calling thread with SIGSYS "
    "instead of letting the process exit",
    ActionKind.TRAP: "the process gets SIGSYS instead of exiting",
    ActionKind.TRACE: "whether the process exits depends on its tracer, and "
    "without a tracer exit_group fails with ENOSYS",
    ActionKind.NOTIFY: "whether the process exits depends on its "
    "supervisor, and without one exit_group fails with ENOSYS",
}


# The no-x32-guard message names at most this many syscalls.
_X32_NAMES_SHOWN = 5


@functools.lru_cache(maxsize=1)
def _x32_counterparts() -> Tuple[Tuple[str, int, int], ...]:
    """Return (name, x86_64 number, x32 number) for every syscall name that
    libseccomp resolves on both ABIs."""
    from .groups import syscall_table

    x32_numbers = syscall_table(int(Arch.X32))
    return tuple(
        (name, native_nr, x32_numbers[name])
        for name, native_nr in syscall_table(int(Arch.X86_64)).items()
        if name in x32_numbers
    )


@dataclass(frozen=True)
class Finding:
    """One weakness found by :meth:`seccompx.Program.audit`.

    ``severity`` is ``"high"``, ``"medium"`` or ``"low"``.  ``code`` is a
    short stable identifier such as ``"no-x32-guard"``.  ``index`` is the
    instruction the finding points at, or None when it concerns the whole
    program.
    """

    severity: str
    code: str
    message: str
    index: Optional[int]

    def __str__(self) -> str:
        where = "" if self.index is None else f" at instruction {self.index}"
        return f"{self.severity}: {self.code}{where}: {self.message}"


def _arch_name(token: Optional[int]) -> str:
    if token is None:
        return "any architecture"
    try:
        return Arch(token).libseccomp_name
    except ValueError:
        return f"arch {token:#x}"


def _return_values(flow: Flow, index: int) -> List[Tuple[Facts, int]]:
    """The return values each route to a return instruction may produce."""
    insn = flow.instructions[index]
    result = []
    for facts in flow.facts[index]:
        if insn.code == code.RET | code.RVAL_K:
            result.append((facts, insn.k))
        elif insn.code == code.RET | code.RVAL_A and facts.a and facts.a[0] == "const":
            result.append((facts, facts.a[1]))
    return result


def _allowing_returns(flow: Flow) -> List[Tuple[int, Facts, int]]:
    found = []
    for index in range(len(flow.instructions)):
        if flow.instructions[index].cls != code.RET:
            continue
        for facts, value in _return_values(flow, index):
            if code.is_allowing(value):
                found.append((index, facts, value))
    return found


class _Auditor:
    def __init__(self, program: "Program", flow: Flow) -> None:
        self.program = program
        self.flow = flow
        self.findings: List[Finding] = []
        self.allowing = _allowing_returns(flow)
        self.valid = program.is_valid

    def add(self, severity: str, kind: str, message: str, index: Optional[int]) -> None:
        self.findings.append(Finding(severity, kind, message, index))

    def run(
        self, raw: bytes, nr: int, token: int, first_arg: int = 0
    ) -> Tuple[int, int]:
        """Run the program for syscall nr with args (first_arg, 0, ...)."""
        value, index = _bpf.run(raw, nr, token, 0, (first_arg, 0, 0, 0, 0, 0))
        return value, index

    # Checks ----------------------------------------------------------------

    def check_invalid(self) -> None:
        try:
            self.program.validate()
        except ProgramError as error:
            self.add(
                HIGH,
                "invalid-program",
                f"the kernel would reject the program: {error}",
                error.index,
            )

    def check_arch(self) -> None:
        for index, insn in enumerate(self.flow.instructions):
            if insn.code != code.LD_W_ABS or insn.k == code.OFFSET_ARCH:
                continue
            if any(not f.arch.checked for f in self.flow.facts[index]):
                field = code.data_field(insn.k) or f"offset {insn.k}"
                self.add(
                    HIGH,
                    "no-arch-check",
                    f"{field} is read before any "
                    "check of seccomp_data.arch: syscall numbers differ "
                    "between architectures, so a process can reach other "
                    "syscalls through another architecture's entry point "
                    "(such as int 0x80 on x86_64)",
                    index,
                )
                return

    def check_foreign(self) -> None:
        for index, facts, value in self.allowing:
            if facts.arch.token is None and facts.arch.checked:
                excluded = ", ".join(sorted(_arch_name(t) for t in facts.arch.excluded))
                self.add(
                    HIGH,
                    "foreign-arch-allowed",
                    f"syscalls from "
                    f"architectures other than {excluded} reach "
                    f"{code.action_name(value)}: make the action for "
                    "unknown architectures KILL_PROCESS",
                    index,
                )
                return

    def check_x32(self) -> None:
        arches = self.program.arches
        if Arch.X32 in arches:
            if Arch.X86_64 in arches and self.valid:
                self.check_x32_counterparts()
            return
        for index, facts, value in self.allowing:
            if (
                facts.arch.token == Arch.X86_64
                and facts.may_be_x32()
                and facts.may_be_native()
            ):
                self.add(
                    HIGH,
                    "no-x32-guard",
                    "x32 syscalls (numbers with bit "
                    f"30 set) reach {code.action_name(value)} through the "
                    "rules for x86_64 numbers: reject sys_number >= "
                    "0x40000000 on x86_64 unless the filter covers x32",
                    index,
                )
                return

    def check_x32_counterparts(self) -> None:
        """Report x32 syscalls that reach ALLOW or LOG where the x86_64
        syscall of the same name does not.

        A program that covers both ABIs compares x32 numbers itself and
        needs no x32 guard, so each syscall is run on both.
        """
        # NOTE: each syscall runs with all arguments 0, so a difference
        # that only other argument values reach is not reported.
        raw = bytes(self.program)
        token = int(Arch.X86_64)
        bypasses: List[Tuple[str, int, int, int]] = []
        for name, native_nr, x32_nr in _x32_counterparts():
            native_value, _ = self.run(raw, native_nr, token)
            if code.is_allowing(native_value):
                continue
            x32_value, index = self.run(raw, x32_nr, token)
            if code.is_allowing(x32_value):
                bypasses.append((name, native_value, x32_value, index))
        if not bypasses:
            return
        name, native_value, x32_value, index = bypasses[0]
        names_shown = ", ".join(item[0] for item in bypasses[:_X32_NAMES_SHOWN])
        if len(bypasses) > _X32_NAMES_SHOWN:
            names_shown += f" and {len(bypasses) - _X32_NAMES_SHOWN} more"
        self.add(
            HIGH,
            "no-x32-guard",
            f"x32 syscalls reach {code.action_name(x32_value)} where the "
            f"x86_64 syscalls of the same name do not ({names_shown}; x86_64 "
            f"{name} reaches {code.action_name(native_value)}): give the "
            "x32 rules the actions of the x86_64 rules, or reject "
            "sys_number >= 0x40000000 on x86_64",
            index,
        )

    def probe_arches(self) -> List[Arch]:
        arches = list(self.program.arches)
        return arches if arches else [Arch.native()]

    def compared_numbers(self) -> Set[int]:
        numbers = set()
        for index, insn in enumerate(self.flow.instructions):
            if insn.code == code.JMP | code.JEQ and any(
                f.a == ("data", code.OFFSET_NR) for f in self.flow.facts[index]
            ):
                numbers.add(insn.k)
        return numbers

    def check_default(self) -> None:
        from ._filter import resolve_syscall

        compared = self.compared_numbers()
        raw = bytes(self.program)
        for arch in self.probe_arches():
            token = int(Arch.X86_64) if arch is Arch.X32 else int(arch)
            tried = 0
            for name in _PROBE_SYSCALLS:
                try:
                    nr = resolve_syscall(name, arch)
                except SeccompError:
                    continue
                if nr in compared:
                    continue
                value, index = self.run(raw, nr, token)
                if code.is_allowing(value):
                    self.add(
                        MEDIUM,
                        "default-allow",
                        f"syscalls that no rule "
                        f"names are allowed on {arch} ({name} reaches "
                        f"{code.action_name(value)}): the filter is a "
                        "denylist, which lets through every syscall it "
                        "does not know, including new ones",
                        index,
                    )
                    break
                tried += 1
                if tried == _PROBES_PER_ARCH:
                    break

    def check_exit(self) -> None:
        from ._filter import resolve_syscall

        raw = bytes(self.program)
        for arch in self.probe_arches():
            token = int(Arch.X86_64) if arch is Arch.X32 else int(arch)
            try:
                nr = resolve_syscall("exit_group", arch)
            except SeccompError:
                continue
            for status in _EXIT_PROBE_STATUSES:
                value, index = self.run(raw, nr, token, status)
                if code.is_allowing(value):
                    continue
                kind = code.effective_action(value).kind
                consequence = _EXIT_CONSEQUENCES[kind]
                self.add(
                    LOW,
                    "exit-blocked",
                    f"exit_group({status}) on {arch} reaches "
                    f"{code.action_name(value)}, so a process under the "
                    f"filter cannot exit normally with status {status}: "
                    f"{consequence}; "
                    "allow exit_group and exit for every status",
                    index,
                )
                return

    def check_native(self) -> None:
        arches = list(self.program.arches)
        native = Arch.native()
        if arches and native not in arches:
            names = ", ".join(str(arch) for arch in arches)
            self.add(
                LOW,
                "native-arch-missing",
                f"the program covers {names} but not {native}, the "
                "architecture of this machine: loaded here, every syscall "
                "gets the bad-architecture action",
                None,
            )

    def checked_syscalls(self) -> Dict[Tuple[int, int], int]:
        """Map (arch token, nr) to the first instruction that reads an
        argument of that syscall on a path where both are fixed."""
        found: Dict[Tuple[int, int], int] = {}
        for index, insn in enumerate(self.flow.instructions):
            if insn.code != code.LD_W_ABS or insn.k < 16:
                continue
            for facts in self.flow.facts[index]:
                token = facts.arch.token
                if token is not None and facts.nr_low == facts.nr_high:
                    found.setdefault((token, facts.nr_low), index)
        return found

    def check_multiplexers(self) -> None:
        from ._disasm import _syscall_name
        from ._filter import resolve_syscall

        raw = bytes(self.program)
        reported = set()
        for (token, nr), checked_at in sorted(self.checked_syscalls().items()):
            name = _syscall_name(nr, token) if token in set(Arch) else None
            if name in SOCKETCALL_CALLS:
                multiplexer, call = "socketcall", SOCKETCALL_CALLS[name]
            elif name in IPC_CALLS:
                multiplexer, call = "ipc", IPC_CALLS[name]
            else:
                continue
            try:
                multiplexer_nr = resolve_syscall(multiplexer, Arch(token))
            except SeccompError:
                continue
            value, index = self.run(raw, multiplexer_nr, token, call)
            if code.is_allowing(value) and (token, name) not in reported:
                reported.add((token, name))
                self.add(
                    HIGH,
                    "multiplexer-bypass",
                    f"on {_arch_name(token)} "
                    f"the filter checks the arguments of {name} (at "
                    f"instruction {checked_at}), but {multiplexer}("
                    f"{call}, ...) reaches {code.action_name(value)}, and "
                    f"{multiplexer} passes those arguments in memory, "
                    "where a filter cannot read them: deny "
                    f"{multiplexer} or drop the argument checks",
                    index,
                )

    def check_unreachable(self) -> None:
        seen = code.reachable(self.flow.instructions)
        index = 0
        while index < len(seen):
            if seen[index]:
                index += 1
                continue
            end = index
            while end + 1 < len(seen) and not seen[end + 1]:
                end += 1
            which = (
                f"instruction {index} is"
                if end == index
                else f"instructions {index} to {end} are"
            )
            message = f"{which} unreachable: no jump or fall-through leads there"
            twin = self.reachable_twin(index, end, seen)
            if twin is not None:
                message += (
                    f"; it repeats the return at instruction {twin}. "
                    "libseccomp leaves such a return at the end when the "
                    "checks that would jump to it are more than 255 "
                    "instructions away (a conditional jump's offset has 8 "
                    "bits) and get a copy next to them instead; the dead "
                    "copy is harmless"
                )
            self.add(LOW, "unreachable", message, index)
            index = end + 1

    def reachable_twin(self, first: int, last: int, seen: List[bool]) -> Optional[int]:
        """Find the reachable copy of a trailing dead return, as libseccomp
        leaves one when a check cannot jump to the end of a long program."""
        instructions = self.flow.instructions
        if first != last or last != len(instructions) - 1:
            return None
        dead = instructions[last]
        if dead.code != code.RET | code.RVAL_K:
            return None
        for index, insn in enumerate(instructions[:last]):
            if seen[index] and insn.code == dead.code and insn.k == dead.k:
                return index
        return None

    def audit(self) -> List[Finding]:
        self.check_invalid()
        self.check_arch()
        self.check_foreign()
        self.check_x32()
        self.check_native()
        if self.valid:
            self.check_default()
            self.check_multiplexers()
            self.check_exit()
        self.check_unreachable()
        return sorted(
            self.findings,
            key=lambda f: (
                _SEVERITY_ORDER[f.severity],
                -1 if f.index is None else f.index,
            ),
        )


def audit_program(program: "Program", flow: Flow) -> List[Finding]:
    """Run every check on ``program``; see :meth:`seccompx.Program.audit`."""
    return _Auditor(program, flow).audit()
