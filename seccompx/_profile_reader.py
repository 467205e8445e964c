"""Reading the JSON of a seccomp profile into rules and a report.

This is the checking half of :mod:`seccompx.profile`: every field of the
OCI ``linux.seccomp`` object and of Docker's extensions is validated here,
and problems raise ProfileError with their JSON path.
"""

from __future__ import annotations

import errno as _errno
import json
import logging
import os
import re
from dataclasses import dataclass, field
from typing import (
    Any,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Mapping,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _core
from . import groups as _groups
from ._actions import MAX_ERRNO, MAX_TRACE, Action, ActionKind
from ._errors import (
    ArchitectureError,
    InvalidArgumentError,
    ProfileError,
    unknown_syscall,
)
from ._types import U64_MAX, Arch, Attr, Comparison, Op, _wait_kill_available

log = logging.getLogger("seccompx")


# Action names of the OCI specification.  SCMP_ACT_KILL is libseccomp's
# old name for KILL_THREAD.
_ACTIONS: Dict[str, ActionKind] = {
    "SCMP_ACT_KILL": ActionKind.KILL_THREAD,
    "SCMP_ACT_KILL_THREAD": ActionKind.KILL_THREAD,
    "SCMP_ACT_KILL_PROCESS": ActionKind.KILL_PROCESS,
    "SCMP_ACT_TRAP": ActionKind.TRAP,
    "SCMP_ACT_ERRNO": ActionKind.ERRNO,
    "SCMP_ACT_TRACE": ActionKind.TRACE,
    "SCMP_ACT_ALLOW": ActionKind.ALLOW,
    "SCMP_ACT_LOG": ActionKind.LOG,
    "SCMP_ACT_NOTIFY": ActionKind.NOTIFY,
}
_ACTION_NAMES: Dict[ActionKind, str] = {
    ActionKind.KILL_THREAD: "SCMP_ACT_KILL_THREAD",
    ActionKind.KILL_PROCESS: "SCMP_ACT_KILL_PROCESS",
    ActionKind.TRAP: "SCMP_ACT_TRAP",
    ActionKind.ERRNO: "SCMP_ACT_ERRNO",
    ActionKind.TRACE: "SCMP_ACT_TRACE",
    ActionKind.ALLOW: "SCMP_ACT_ALLOW",
    ActionKind.LOG: "SCMP_ACT_LOG",
    ActionKind.NOTIFY: "SCMP_ACT_NOTIFY",
}
_OPS: Dict[str, Op] = {
    "SCMP_CMP_NE": Op.NE,
    "SCMP_CMP_LT": Op.LT,
    "SCMP_CMP_LE": Op.LE,
    "SCMP_CMP_EQ": Op.EQ,
    "SCMP_CMP_GE": Op.GE,
    "SCMP_CMP_GT": Op.GT,
    "SCMP_CMP_MASKED_EQ": Op.MASKED_EQ,
}
_OP_NAMES: Dict[Op, str] = {op: name for name, op in _OPS.items()}

_FLAG_TSYNC = "SECCOMP_FILTER_FLAG_TSYNC"
_FLAG_LOG = "SECCOMP_FILTER_FLAG_LOG"
_FLAG_SPEC_ALLOW = "SECCOMP_FILTER_FLAG_SPEC_ALLOW"
_FLAG_WAIT_KILLABLE = "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"
_FLAGS = (_FLAG_TSYNC, _FLAG_LOG, _FLAG_SPEC_ALLOW, _FLAG_WAIT_KILLABLE)

_TOP_FIELDS = frozenset(
    {
        "defaultAction",
        "defaultErrnoRet",
        "architectures",
        "archMap",
        "flags",
        "listenerPath",
        "listenerMetadata",
        "syscalls",
    }
)
_ENTRY_FIELDS = frozenset(
    {"names", "name", "action", "errnoRet", "args", "comment", "includes", "excludes"}
)
_ARG_FIELDS = frozenset({"index", "value", "valueTwo", "op"})
_CONDITION_FIELDS = frozenset({"caps", "arches", "minKernel"})
_ARCH_MAP_FIELDS = frozenset({"architecture", "subArchitectures"})

# Capability names by number (include/uapi/linux/capability.h, Linux 5.9+).
CAPABILITIES: Tuple[str, ...] = (
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
)
_CAPABILITY_SET = frozenset(CAPABILITIES)

# Go's GOARCH names, which Docker's includes/excludes "arches" use.
_GO_ARCHES: Dict[Arch, str] = {
    Arch.X86_64: "amd64",
    Arch.X86: "386",
    Arch.ARM: "arm",
    Arch.AARCH64: "arm64",
    Arch.MIPS: "mips",
    Arch.MIPSEL: "mipsle",
    Arch.MIPS64: "mips64",
    Arch.MIPSEL64: "mips64le",
    Arch.MIPS64N32: "mips64p32",
    Arch.MIPSEL64N32: "mips64p32le",
    Arch.PPC: "ppc",
    Arch.PPC64: "ppc64",
    Arch.PPC64LE: "ppc64le",
    Arch.S390: "s390",
    Arch.S390X: "s390x",
    Arch.RISCV64: "riscv64",
    Arch.LOONGARCH64: "loong64",
}

# Architectures with 64-bit syscall arguments; libseccomp compares only
# the low 32 bits of an argument on every other one, x32 and MIPS n32
# included.
_ARCHES_64BIT = frozenset(
    {
        Arch.X86_64,
        Arch.AARCH64,
        Arch.MIPS64,
        Arch.MIPSEL64,
        Arch.PPC64,
        Arch.PPC64LE,
        Arch.S390X,
        Arch.PARISC64,
        Arch.RISCV64,
        Arch.LOONGARCH64,
    }
)

# Syscall names are C identifiers; anything else is reported as unknown
# without being passed to libseccomp.  Keys of this form are written
# plainly in JSON paths.
_SYSCALL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Version parts have at most 9 digits, so int() never meets Python's
# limit on the length of integer strings.
_KERNEL_VERSION = re.compile(r"(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?(?!\d)")
_MIN_KERNEL = re.compile(r"(\d{1,9})\.(\d{1,9})(?:\.(\d{1,9}))?\Z")
# Messages show at most this many characters of a value from a profile,
# and describe an int wider than _SHOW_BITS by its size instead.
_SHOW_CHARS = 80
_SHOW_BITS = 128
# Integer literals longer than this are not converted (U64_MAX has 20
# digits), so a huge number cannot reach int()'s length limit.
MAX_INTEGER_DIGITS = 64


# Report -------------------------------------------------------------------


@dataclass
class SkippedName:
    """A syscall name of the profile that got no rule, and why."""

    path: str
    name: str
    reason: str


@dataclass
class ExcludedEntry:
    """A ``syscalls`` entry left out by its ``includes`` or ``excludes``."""

    path: str
    reason: str


@dataclass
class ProfileReport:
    """The outcome of :meth:`seccompx.Filter.from_profile` for a profile.

    ``rules`` counts the rules added to the filter and ``syscalls`` the
    distinct syscalls they name.  ``warnings`` are messages about parts of
    the profile that seccompx read differently from how they are written
    (each starts with its JSON path).  ``enosys`` is the range of native
    syscall numbers that fail with ENOSYS when ``enosys_for_unknown`` took
    effect, else None.
    """

    source: str
    default_action: Action
    arches: Tuple[Arch, ...] = ()
    flags: Tuple[str, ...] = ()
    listener_path: Optional[str] = None
    listener_metadata: Optional[str] = None
    entries: int = 0
    excluded: List[ExcludedEntry] = field(default_factory=list)
    rules: int = 0
    syscalls: int = 0
    skipped: List[SkippedName] = field(default_factory=list)
    group_members_skipped: int = 0
    warnings: List[str] = field(default_factory=list)
    enosys: Optional[Tuple[int, int]] = None

    def to_dict(self) -> Dict[str, Any]:
        """Return the report as plain JSON-ready data."""
        return {
            "source": self.source,
            "default_action": repr(self.default_action),
            "architectures": [str(arch) for arch in self.arches],
            "flags": list(self.flags),
            "listener_path": self.listener_path,
            "listener_metadata": self.listener_metadata,
            "entries": self.entries,
            "excluded": [vars(item) for item in self.excluded],
            "rules": self.rules,
            "syscalls": self.syscalls,
            "skipped": [vars(item) for item in self.skipped],
            "group_members_skipped": self.group_members_skipped,
            "warnings": list(self.warnings),
            "enosys": list(self.enosys) if self.enosys else None,
        }


# Values -------------------------------------------------------------------


class HugeInteger:
    """A JSON integer literal with more than MAX_INTEGER_DIGITS digits.

    :func:`seccompx.profile.parse_json` keeps such a number unconverted,
    and the reader rejects it with its JSON path.
    """

    __slots__ = ("digits", "negative")

    def __init__(self, literal: str) -> None:
        self.negative = literal.startswith("-")
        self.digits = len(literal) - self.negative

    def __repr__(self) -> str:
        sign = "negative " if self.negative else ""
        return f"a {sign}{self.digits}-digit integer"


def parse_integer(literal: str) -> Union[int, HugeInteger]:
    """Convert a JSON integer literal, keeping huge ones as HugeInteger."""
    if len(literal) > MAX_INTEGER_DIGITS:
        return HugeInteger(literal)
    return int(literal)


def _stricter_than(action: Action, default: Action) -> bool:
    """Return whether ``action`` blocks a syscall that ``default`` lets
    run."""
    allowing = (ActionKind.ALLOW, ActionKind.LOG)
    return default.kind in allowing and action.kind not in allowing


def _spelling_hint(suggestions: Sequence[str], otherwise: str) -> str:
    """Return "did you mean ...?" for ``suggestions``, or ``otherwise``."""
    if not suggestions:
        return otherwise
    return "did you mean " + ", ".join(map(repr, suggestions)) + "?"


def _show(value: Any) -> str:
    """Return a short repr of a value for a message.

    A huge int is described by its size, because str() of an int with more
    than 4300 digits raises ValueError, and long values are cut short.
    """
    if isinstance(value, HugeInteger):
        return repr(value)
    if isinstance(value, int) and value.bit_length() > _SHOW_BITS:
        kind = "a negative integer" if value < 0 else "an integer"
        return f"{kind} of {value.bit_length()} bits"
    try:
        text = repr(value)
    except ValueError:  # a container that contains a huge int
        return "(too large to show)"
    if len(text) > _SHOW_CHARS:
        text = text[: _SHOW_CHARS - 3] + "..."
    return text


def join_path(path: str, key: Any) -> str:
    """Append an object member to a JSON path.

    An identifier is appended as ``.key``.  Any other key is written as
    ``["key"]`` in JSON string syntax, so that control characters in it
    reach messages and terminals escaped.
    """
    text = str(key)
    if _SYSCALL_NAME.match(text):
        return f"{path}.{text}" if path else text
    if len(text) > _SHOW_CHARS:
        return f"{path}[{json.dumps(text[:_SHOW_CHARS])}...]"
    return f"{path}[{json.dumps(text)}]"


def _kind_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float, HugeInteger)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def _want_object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProfileError(f"expected an object, got {_kind_name(value)}", path)
    return value


def _want_array(value: Any, path: str) -> Sequence[Any]:
    if not isinstance(value, (list, tuple)):
        raise ProfileError(f"expected an array, got {_kind_name(value)}", path)
    return value


def _want_string(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise ProfileError(f"expected a string, got {_kind_name(value)}", path)
    return value


def _want_uint(value: Any, path: str, maximum: int) -> int:
    if isinstance(value, HugeInteger) or (
        isinstance(value, int)
        and not isinstance(value, bool)
        and not 0 <= value <= maximum
    ):
        raise ProfileError(f"{_show(value)} is out of range: use 0..{maximum}", path)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProfileError(
            f"expected an unsigned integer, got {_kind_name(value)} {_show(value)}",
            path,
        )
    return value


def _optional(mapping: Mapping[str, Any], key: str) -> Any:
    # Go's encoding/json, which runc and Docker use, reads null as absent.
    return mapping.get(key)


def _string_list(value: Any, path: str) -> List[str]:
    if value is None:
        return []
    items = _want_array(value, path)
    return [_want_string(item, f"{path}[{i}]") for i, item in enumerate(items)]


def _name_list(names: Sequence[Tuple[str, str]], limit: int = 5) -> str:
    """Return up to ``limit`` syscall names of an entry for a message."""
    text = ", ".join(_show(name) for name, _ in names[:limit])
    if len(names) > limit:
        text += f" and {len(names) - limit} more"
    return text


def _arch_label(tokens: Sequence[int]) -> str:
    return ", ".join(str(Arch(token)) for token in tokens)


def _libseccomp_label() -> str:
    return "libseccomp " + ".".join(map(str, _core.runtime_version()))


def _wait_kill_missing() -> str:
    """Return why this seccompx cannot set Attr.WAIT_KILL, and what to do."""
    built = (
        f"{_core.BUILD_VERSION_MAJOR}.{_core.BUILD_VERSION_MINOR}."
        f"{_core.BUILD_VERSION_MICRO}"
    )
    if _core.ATTR_MAX <= Attr.WAIT_KILL:
        return (
            f"seccompx was built against libseccomp {built}, which has no "
            "attribute for it; install a seccompx wheel, which bundles "
            "libseccomp 2.6, or rebuild seccompx against libseccomp 2.6 "
            "or newer"
        )
    return (
        f"seccompx was built against libseccomp {built} but runs with "
        f"{_libseccomp_label()}, which cannot set it; run it with "
        "libseccomp 2.6 or newer"
    )


# Context: capabilities, kernel version, architecture ----------------------


def _capabilities_from_status(path: str = "/proc/self/status") -> FrozenSet[str]:
    try:
        with open(path) as file:
            for line in file:
                if line.startswith("CapEff:"):
                    mask = int(line.split(":", 1)[1].strip(), 16)
                    return _capabilities_from_mask(mask)
    except (OSError, ValueError):
        pass
    return frozenset()


def _capabilities_from_mask(mask: int) -> FrozenSet[str]:
    return frozenset(
        name for number, name in enumerate(CAPABILITIES) if mask >> number & 1
    )


def _normalize_capability(value: Union[str, int]) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < len(CAPABILITIES):
            return CAPABILITIES[value]
        raise InvalidArgumentError(
            f"capability number {_show(value)} is unknown; use "
            f"0..{len(CAPABILITIES) - 1}"
        )
    if not isinstance(value, str):
        raise TypeError(
            f"a capability must be a name or number, not {type(value).__name__}"
        )
    name = value.strip().upper()
    if not name.startswith("CAP_"):
        name = "CAP_" + name
    if name not in _CAPABILITY_SET:
        raise InvalidArgumentError(
            f"unknown capability {_show(value)}; use a name such as CAP_SYS_ADMIN "
            "(see capabilities(7))"
        )
    return name


def _parse_kernel_release(release: str) -> Optional[Tuple[int, int, int]]:
    match = _KERNEL_VERSION.match(release.strip())
    if match is None:
        return None
    return (int(match[1]), int(match[2]), int(match[3] or 0))


def _kernel_tuple(
    value: Union[str, Sequence[int], None],
) -> Optional[Tuple[int, int, int]]:
    if value is None:
        return _parse_kernel_release(os.uname().release)
    if isinstance(value, str):
        parsed = _parse_kernel_release(value)
        if parsed is None:
            raise InvalidArgumentError(
                f"kernel_version {_show(value)} has no version number; write it "
                "like '6.1' or '6.1.12'"
            )
        return parsed
    if not isinstance(value, Sequence):
        raise TypeError(
            "kernel_version must be a string such as '6.1' or a tuple of 2 "
            f"or 3 ints such as (6, 1), not {type(value).__name__}"
        )
    numbers: List[Any] = list(value)
    if not 2 <= len(numbers) <= 3 or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers
    ):
        raise InvalidArgumentError(
            f"kernel_version {_show(value)} is invalid; give a string such as "
            "'6.1' or a tuple of 2 or 3 non-negative ints"
        )
    return (numbers[0], numbers[1], numbers[2] if len(numbers) == 3 else 0)


class _Context(NamedTuple):
    """The architecture, capabilities and kernel version that includes and
    excludes are checked against."""

    arch: Arch
    arch_names: FrozenSet[str]
    capabilities: FrozenSet[str]
    kernel: Optional[Tuple[int, int, int]]


def _make_context(
    arch: Union[Arch, str, int, None],
    capabilities: Optional[Iterable[Union[str, int]]],
    kernel_version: Union[str, Sequence[int], None],
) -> _Context:
    base = Arch.native() if arch is None else Arch.parse(arch)
    if base is Arch.NATIVE:
        base = Arch.native()
    names = {base.libseccomp_name}
    if base in _GO_ARCHES:
        names.add(_GO_ARCHES[base])
    if capabilities is None:
        caps = _capabilities_from_status()
    elif isinstance(capabilities, (str, int)):
        raise TypeError(
            "capabilities must be an iterable of names or numbers, such as "
            "['CAP_SYS_ADMIN']"
        )
    else:
        caps = frozenset(_normalize_capability(cap) for cap in capabilities)
    return _Context(base, frozenset(names), caps, _kernel_tuple(kernel_version))


# Parsed form --------------------------------------------------------------


class _Rule(NamedTuple):
    """One rule as seccompx adds it: comparisons sorted by argument."""

    action: Action
    syscall: str
    comparisons: Tuple[Comparison, ...]
    path: str

    def sort_key(self) -> Tuple[Any, ...]:
        return (
            self.syscall,
            len(self.comparisons),
            tuple(tuple(int(part) for part in cmp) for cmp in self.comparisons),
            self.action.value,
        )


@dataclass
class _Flags:
    """Filter attributes set by a profile's flags.  ``tsync`` is None when
    the profile leaves thread synchronisation to seccompx's default."""

    tsync: Optional[bool]
    log: bool
    ssb: bool
    wait_kill: bool


@dataclass
class _Profile:
    default: Action
    arches: List[Arch]
    flags: _Flags
    rules: List[_Rule]
    native_numbers: List[int]


class _Reader:
    """Turn a profile mapping into rules, collecting the report."""

    def __init__(
        self, report: ProfileReport, context: _Context, strict: bool, prefix: str
    ) -> None:
        self.report = report
        self.context = context
        self.strict = strict
        self.prefix = prefix
        self.tokens: Tuple[int, ...] = ()
        self.native_numbers: List[int] = []

    def path(self, *parts: str) -> str:
        return self.prefix + "".join(parts)

    def warn(self, path: str, message: str) -> None:
        if self.strict:
            raise ProfileError(message + " (strict mode)", path)
        self.report.warnings.append(f"{path}: {message}")
        log.debug("profile %s: %s: %s", self.report.source, path, message)

    def check_fields(
        self, mapping: Mapping[str, Any], known: FrozenSet[str], path: str
    ) -> None:
        for key in mapping:
            if key not in known:
                where = join_path(path, key)
                self.warn(
                    where,
                    f"unknown field {_show(key)} ignored; known fields are "
                    + ", ".join(sorted(known)),
                )

    # Top level ------------------------------------------------------------

    def read(self, profile: Mapping[str, Any]) -> _Profile:
        self.check_fields(profile, _TOP_FIELDS, self.prefix.rstrip("."))
        default = self.read_default(profile)
        arches = self.read_arches(profile)
        self.tokens = tuple(int(arch) for arch in arches)
        flags = self.read_flags(profile)
        self.read_listener(profile)
        rules = self.read_syscalls(profile, default)
        return _Profile(default, arches, flags, rules, self.native_numbers)

    def read_default(self, profile: Mapping[str, Any]) -> Action:
        path = self.path("defaultAction")
        if _optional(profile, "defaultAction") is None:
            raise ProfileError(
                "missing: a profile needs a default action such as "
                '"SCMP_ACT_ERRNO"',
                path,
            )
        kind = self.read_action_name(profile["defaultAction"], path)
        errno_value = _optional(profile, "defaultErrnoRet")
        action = self.make_action(
            kind, errno_value, self.path("defaultErrnoRet"), "defaultAction"
        )
        self.report.default_action = action
        return action

    def read_action_name(self, value: Any, path: str) -> ActionKind:
        name = _want_string(value, path)
        kind = _ACTIONS.get(name)
        if kind is None:
            raise ProfileError(
                f"unknown action {_show(name)}; use one of " + ", ".join(_ACTIONS),
                path,
            )
        return kind

    def make_action(
        self, kind: ActionKind, errno_value: Any, path: str, action_field: str
    ) -> Action:
        if kind not in (ActionKind.ERRNO, ActionKind.TRACE):
            if errno_value is not None:
                raise ProfileError(
                    f"{_ACTION_NAMES[kind]} takes no errno; only "
                    "SCMP_ACT_ERRNO and SCMP_ACT_TRACE do, so remove this "
                    f"field or change {action_field}",
                    path,
                )
            return Action(kind)
        if errno_value is None:
            # runc uses EPERM for both when no errno is given.
            return Action(kind, _errno.EPERM)
        number = _want_uint(errno_value, path, MAX_TRACE)
        if kind is ActionKind.ERRNO and number > MAX_ERRNO:
            self.warn(
                path,
                f"errno {number} is above {MAX_ERRNO}, the largest value "
                f"libseccomp accepts (the kernel caps errno values at 4095); "
                f"using {MAX_ERRNO}",
            )
            number = MAX_ERRNO
        return Action(kind, number)

    def read_arches(self, profile: Mapping[str, Any]) -> List[Arch]:
        base = self.context.arch
        listed = _optional(profile, "architectures")
        arch_map = _optional(profile, "archMap")
        chosen: List[Tuple[Arch, str]] = [(base, "")]
        if listed is not None and arch_map is not None and listed and arch_map:
            raise ProfileError(
                "both architectures and archMap are given; use one of them",
                self.path("archMap"),
            )
        if listed is not None:
            path = self.path("architectures")
            for i, item in enumerate(_want_array(listed, path)):
                chosen.append((self.parse_arch(item, f"{path}[{i}]"), f"{path}[{i}]"))
        if arch_map is not None:
            chosen.extend(self.read_arch_map(arch_map, base))
        arches: List[Arch] = []
        for arch, where in chosen:
            if arch in arches:
                continue
            if _core.arch_resolve_name(arch.libseccomp_name) == 0:
                raise ProfileError(
                    f"architecture {arch} is not supported by "
                    f"{_libseccomp_label()}",
                    where or self.path("architectures"),
                )
            arches.append(arch)
        self.report.arches = tuple(arches)
        return arches

    def parse_arch(self, value: Any, path: str) -> Arch:
        name = _want_string(value, path)
        try:
            arch = Arch.parse(name)
        except ArchitectureError:
            raise ProfileError(
                f"unknown architecture {_show(name)}; use a name such as "
                "SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64 or SCMP_ARCH_X86",
                path,
            ) from None
        if arch is Arch.NATIVE:
            return Arch.native()
        return arch

    def read_arch_map(self, value: Any, base: Arch) -> List[Tuple[Arch, str]]:
        path = self.path("archMap")
        selected: List[Tuple[Arch, str]] = []
        for i, item in enumerate(_want_array(value, path)):
            where = f"{path}[{i}]"
            entry = _want_object(item, where)
            self.check_fields(entry, _ARCH_MAP_FIELDS, where)
            if _optional(entry, "architecture") is None:
                raise ProfileError("missing architecture", f"{where}.architecture")
            main = self.parse_arch(entry["architecture"], f"{where}.architecture")
            subs_path = f"{where}.subArchitectures"
            raw_subs = _optional(entry, "subArchitectures")
            subs = [
                (self.parse_arch(sub, f"{subs_path}[{j}]"), f"{subs_path}[{j}]")
                for j, sub in enumerate(
                    [] if raw_subs is None else _want_array(raw_subs, subs_path)
                )
            ]
            if main is base:
                selected.extend(subs)
        return selected

    def read_flags(self, profile: Mapping[str, Any]) -> _Flags:
        path = self.path("flags")
        names = _string_list(_optional(profile, "flags"), path)
        for i, name in enumerate(names):
            if name not in _FLAGS:
                raise ProfileError(
                    f"unknown flag {_show(name)}; use one of " + ", ".join(_FLAGS),
                    f"{path}[{i}]",
                )
            if name == _FLAG_WAIT_KILLABLE and not _wait_kill_available():
                self.warn(f"{path}[{i}]", f"{name} is ignored: {_wait_kill_missing()}")
        self.report.flags = tuple(dict.fromkeys(names))
        return _Flags(
            tsync=True if _FLAG_TSYNC in names else None,
            log=_FLAG_LOG in names,
            ssb=_FLAG_SPEC_ALLOW in names,
            wait_kill=_FLAG_WAIT_KILLABLE in names and _wait_kill_available(),
        )

    def read_listener(self, profile: Mapping[str, Any]) -> None:
        listener = _optional(profile, "listenerPath")
        metadata = _optional(profile, "listenerMetadata")
        if listener is not None:
            self.report.listener_path = _want_string(listener, self.path("listenerPath"))
        if metadata is not None:
            path = self.path("listenerMetadata")
            self.report.listener_metadata = _want_string(metadata, path)
            if listener is None:
                raise ProfileError(
                    "listenerMetadata is set without listenerPath; the OCI "
                    "specification allows it only with listenerPath",
                    path,
                )

    # Syscall entries ------------------------------------------------------

    def read_syscalls(self, profile: Mapping[str, Any], default: Action) -> List[_Rule]:
        path = self.path("syscalls")
        entries = _optional(profile, "syscalls")
        rules: List[_Rule] = []
        if entries is None:
            return rules
        for i, item in enumerate(_want_array(entries, path)):
            rules.extend(self.read_entry(item, f"{path}[{i}]", default))
        self.report.entries = len(entries)
        return rules

    def read_entry(self, item: Any, path: str, default: Action) -> List[_Rule]:
        entry = _want_object(item, path)
        self.check_fields(entry, _ENTRY_FIELDS, path)
        names = self.read_names(entry, path)
        if _optional(entry, "action") is None:
            raise ProfileError("missing: an entry needs an action", f"{path}.action")
        kind = self.read_action_name(entry["action"], f"{path}.action")
        action = self.make_action(
            kind, _optional(entry, "errnoRet"), f"{path}.errnoRet", f"{path}.action"
        )
        condition_sets = self.read_args(entry, path)
        comment = _optional(entry, "comment")
        if comment is not None:
            _want_string(comment, f"{path}.comment")
        includes = self.read_condition(entry, "includes", path)
        excludes = self.read_condition(entry, "excludes", path)
        reason = self.exclusion(includes, excludes, path)
        if reason is not None:
            self.report.excluded.append(ExcludedEntry(path, reason))
            return []
        if action != default:
            self.check_shared_indexes(entry, names, path)
        return self.make_rules(names, action, condition_sets, path, default)

    def read_names(self, entry: Mapping[str, Any], path: str) -> List[Tuple[str, str]]:
        single = _optional(entry, "name")
        several = _optional(entry, "names")
        if single is not None and several is not None:
            raise ProfileError(
                "both name and names are given; use names", f"{path}.name"
            )
        if single is not None:
            name = _want_string(single, f"{path}.name")
            if not name:
                raise ProfileError("empty syscall name", f"{path}.name")
            return [(name, f"{path}.name")]
        if several is None:
            raise ProfileError(
                "missing: an entry needs names, a list of syscall names",
                f"{path}.names",
            )
        names = _string_list(several, f"{path}.names")
        if not names:
            raise ProfileError(
                "names is empty; list at least one syscall", f"{path}.names"
            )
        result = []
        for j, name in enumerate(names):
            if not name:
                raise ProfileError("empty syscall name", f"{path}.names[{j}]")
            result.append((name, f"{path}.names[{j}]"))
        return result

    def read_args(
        self, entry: Mapping[str, Any], path: str
    ) -> Optional[List[Tuple[Comparison, ...]]]:
        """Return the comparison sets (one per rule), or None if none can match."""
        args_path = f"{path}.args"
        raw_args = _optional(entry, "args")
        items = [] if raw_args is None else _want_array(raw_args, args_path)
        comparisons: List[Optional[Comparison]] = [
            self.read_arg(arg, f"{args_path}[{k}]") for k, arg in enumerate(items)
        ]
        if not comparisons:
            return [()]
        indexes = [int(item["index"]) for item in items]
        if len(set(indexes)) < len(indexes):
            # runc: several conditions on one argument become one rule
            # each, so any of them matching applies the action.
            sets: List[Tuple[Comparison, ...]] = [
                (cmp,) for cmp in comparisons if cmp is not None
            ]
            return sets or None
        if any(cmp is None for cmp in comparisons):
            return None
        return [tuple(sorted(cmp for cmp in comparisons if cmp is not None))]

    def check_shared_indexes(
        self, entry: Mapping[str, Any], names: List[Tuple[str, str]], path: str
    ) -> None:
        """Warn when read_args split the entry's conditions into OR rules.

        Call it only after read_args has validated the entry's args.
        """
        items = _optional(entry, "args") or ()
        counts: Dict[int, int] = {}
        for item in items:
            counts[int(item["index"])] = counts.get(int(item["index"]), 0) + 1
        shared = sorted(index for index, count in counts.items() if count > 1)
        if not shared:
            return
        label = "index" if len(shared) == 1 else "indexes"
        self.warn(
            f"{path}.args",
            f"the conditions for {_name_list(names)} share argument {label} "
            f"{', '.join(map(str, shared))}, so each of the {len(items)} "
            "conditions becomes a rule of its own, as in runc. The entry now "
            "matches when any one of the conditions holds, not only when all "
            "of them hold",
        )

    def read_arg(self, item: Any, path: str) -> Optional[Comparison]:
        arg = _want_object(item, path)
        self.check_fields(arg, _ARG_FIELDS, path)
        for key in ("index", "value", "op"):
            if _optional(arg, key) is None:
                raise ProfileError(f"missing: an argument needs {key}", f"{path}.{key}")

        index = _want_uint(arg["index"], f"{path}.index", 5)
        value = _want_uint(arg["value"], f"{path}.value", U64_MAX)
        second = _optional(arg, "valueTwo")
        value_two = 0 if second is None else _want_uint(second, f"{path}.valueTwo", U64_MAX)
        op_name = _want_string(arg["op"], f"{path}.op")
        op = _OPS.get(op_name)
        if op is None:
            raise ProfileError(
                f"unknown operator {_show(op_name)}; use one of " + ", ".join(_OPS),
                f"{path}.op",
            )

        comparison = self.make_comparison(index, op, value, value_two, path)
        if comparison is not None:
            self.check_width(op, value, value_two, path)
        return comparison

    def make_comparison(
        self, index: int, op: Op, value: int, value_two: int, path: str
    ) -> Optional[Comparison]:
        """Return the comparison, or None for one that can never match."""
        if op is not Op.MASKED_EQ:
            if value_two:
                self.warn(
                    f"{path}.valueTwo",
                    "valueTwo is ignored: only SCMP_CMP_MASKED_EQ uses it, "
                    f"and {_OP_NAMES[op]} compares with value alone",
                )
            if (op is Op.LT and value == 0) or (op is Op.GT and value == U64_MAX):
                self.warn(
                    path,
                    f"{_OP_NAMES[op]} with value {value:#x} can never match: "
                    "arguments are unsigned 64-bit values, so the rule is "
                    "left out",
                )
                return None
            return Comparison(index, op, value)

        # runc passes value as libseccomp's datum_a, the mask, and
        # valueTwo as datum_b, the value the masked argument must equal.
        if value_two & ~value:
            self.warn(
                path,
                f"SCMP_CMP_MASKED_EQ can never match: valueTwo {value_two:#x} "
                f"has bits outside the mask value {value:#x}, so the rule is "
                "left out",
            )
            return None
        return Comparison(index, op, value, value_two)

    def check_width(self, op: Op, value: int, value_two: int, path: str) -> None:
        compared = value_two if op is Op.MASKED_EQ else value
        if compared <= 0xFFFFFFFF:
            return
        narrow = [token for token in self.tokens if Arch(token) not in _ARCHES_64BIT]
        if narrow:
            field = "valueTwo" if op is Op.MASKED_EQ else "value"
            self.warn(
                f"{path}.{field}",
                f"{compared:#x} is above 32 bits, but libseccomp compares only "
                f"the low 32 bits on {_arch_label(narrow)}, so the rule also "
                "matches other values there",
            )

    def read_condition(
        self, entry: Mapping[str, Any], key: str, path: str
    ) -> Dict[str, Any]:
        where = f"{path}.{key}"
        value = _optional(entry, key)
        if value is None:
            return {}
        condition = _want_object(value, where)
        self.check_fields(condition, _CONDITION_FIELDS, where)
        result: Dict[str, Any] = {
            "caps": _string_list(_optional(condition, "caps"), f"{where}.caps"),
            "arches": _string_list(_optional(condition, "arches"), f"{where}.arches"),
        }
        for i, cap in enumerate(result["caps"]):
            if cap.upper() not in _CAPABILITY_SET:
                self.warn(
                    f"{where}.caps[{i}]",
                    f"unknown capability {_show(cap)}, taken as not held",
                )
        min_kernel = _optional(condition, "minKernel")
        if min_kernel is not None:
            text = _want_string(min_kernel, f"{where}.minKernel")
            match = _MIN_KERNEL.match(text)
            if match is None:
                raise ProfileError(
                    f"invalid kernel version {_show(text)}; write it like "
                    '"4.8" (parts of at most 9 digits)',
                    f"{where}.minKernel",
                )
            result["minKernel"] = (
                tuple(int(part) for part in match.groups() if part is not None),
                f"{where}.minKernel",
            )
        return result

    def kernel_at_least(self, minimum: Tuple[Tuple[int, ...], str]) -> bool:
        version, path = minimum
        running = self.context.kernel
        if running is None:
            raise ProfileError(
                f"cannot compare with minKernel: the running kernel release "
                f"{os.uname().release!r} has no version number; pass "
                "kernel_version",
                path,
            )
        return running[: len(version)] >= version

    def exclusion(
        self, includes: Dict[str, Any], excludes: Dict[str, Any], path: str
    ) -> Optional[str]:
        """Return why an entry does not apply here, or None if it does.

        The checks and their order are Docker's.
        """
        held = self.context.capabilities
        names = self.context.arch_names
        arch = self.context.arch
        if any(item.lower() in names for item in excludes.get("arches", ())):
            return f"excludes.arches lists {arch}"
        for cap in excludes.get("caps", ()):
            if cap.upper() in held:
                return f"excludes.caps: {cap} is held"
        if "minKernel" in excludes and self.kernel_at_least(excludes["minKernel"]):
            return "excludes.minKernel: the kernel is that version or newer"
        arches = includes.get("arches", ())
        if arches and not any(item.lower() in names for item in arches):
            return f"includes.arches does not list {arch}"
        for cap in includes.get("caps", ()):
            if cap.upper() not in held:
                return f"includes.caps: {cap} is not held"
        if "minKernel" in includes and not self.kernel_at_least(includes["minKernel"]):
            return "includes.minKernel: the kernel is older"
        return None

    # Names to rules -------------------------------------------------------

    def make_rules(
        self,
        names: List[Tuple[str, str]],
        action: Action,
        condition_sets: Optional[List[Tuple[Comparison, ...]]],
        path: str,
        default: Action,
    ) -> List[_Rule]:
        rules: List[_Rule] = []
        for name, name_path in names:
            if action == default:
                # runc leaves these out before looking the name up, but
                # still counts them for the ENOSYS stub.
                self.note_native_numbers(name)
                self.skip(
                    name_path, name, f"its action {action!r} is the default action"
                )
                continue
            syscalls = self.resolve(name, name_path)
            if not syscalls and _stricter_than(action, default):
                self.warn_unknown_in_stricter(name, name_path, action, default)
            for syscall in syscalls:
                for comparisons in condition_sets or ():
                    rules.append(_Rule(action, syscall, comparisons, path))
        return rules

    def warn_unknown_in_stricter(
        self, name: str, path: str, action: Action, default: Action
    ) -> None:
        """Warn when an unknown name drops out of an entry stricter than the
        default, which leaves that syscall to the default action."""
        if _groups.is_group_name(name):
            self.warn_unknown_group(name, path, action, default)
            return
        if _groups.syscall_number(name, 0) is not None:
            return  # A real syscall absent on these arches weakens nothing.
        suggestions = unknown_syscall(name, str(Arch.native())).suggestions
        hint = _spelling_hint(suggestions, "check the spelling")
        self.warn(
            path,
            f"syscall {_show(name)} is unknown, so this entry's {action!r} "
            f"does not apply to it and the default action {default!r} does; "
            f"{hint}",
        )

    def warn_unknown_group(
        self, name: str, path: str, action: Action, default: Action
    ) -> None:
        if name in _groups.group_names():
            return  # Members of a known group are skipped quietly.
        hint = _spelling_hint(
            _groups.close_group_names(name),
            "check the spelling against seccompx.groups.group_names()",
        )
        self.warn(
            path,
            f"syscall group {_show(name)} is unknown, so this entry's "
            f"{action!r} does not apply to its syscalls and the default "
            f"action {default!r} does; {hint}",
        )

    def skip(self, path: str, name: str, reason: str) -> None:
        self.report.skipped.append(SkippedName(path, name, reason))
        log.debug(
            "profile %s: %s: syscall %r skipped: %s",
            self.report.source,
            path,
            name,
            reason,
        )

    def resolve(self, name: str, path: str) -> List[str]:
        """Return the syscalls ``name`` stands for on the filter's arches."""
        if _groups.is_group_name(name):
            return self.resolve_group(name, path)
        reason = self.missing_reason(name)
        if reason is not None:
            if self.strict:
                raise ProfileError(
                    f"syscall {_show(name)} is {reason} (strict mode)", path
                )
            self.skip(path, name, reason)
            return []
        self.note_native_numbers(name)
        return [name]

    def resolve_group(self, name: str, path: str) -> List[str]:
        try:
            members = _groups.expand(name)
        except InvalidArgumentError as error:
            if self.strict:
                raise ProfileError(str(error) + " (strict mode)", path) from None
            self.skip(path, name, "unknown syscall group")
            return []
        kept = [member for member in members if self.missing_reason(member) is None]
        self.report.group_members_skipped += len(members) - len(kept)
        for member in kept:
            self.note_native_numbers(member)
        return kept

    def missing_reason(self, name: str) -> Optional[str]:
        if any(_groups.syscall_exists(name, token) for token in self.tokens):
            return None
        if not _SYSCALL_NAME.match(name):
            return "not a valid syscall name"
        if _groups.syscall_number(name, 0) is None:
            return f"unknown to {_libseccomp_label()}"
        return f"not a syscall on {_arch_label(self.tokens)}"

    def note_native_numbers(self, name: str) -> None:
        """Remember the native numbers of ``name`` for the ENOSYS stub."""
        members: Sequence[str] = (name,)
        if _groups.is_group_name(name):
            try:
                members = _groups.expand(name)
            except InvalidArgumentError:
                return
        for member in members:
            number = _groups.syscall_number(member, self.tokens[0])
            if number is not None and number >= 0:
                self.native_numbers.append(number)
