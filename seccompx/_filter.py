"""The Filter class: build a seccomp filter with libseccomp and load it."""

from __future__ import annotations

import _thread
import errno as _errno
import functools
import importlib as _importlib
import os
import sys as _sys
import warnings

from . import _core
from ._actions import ALLOW, KILL_PROCESS, KILL_THREAD, Action, ActionKind, ERRNO
from ._errors import (
    FilterNotLoadedWarning,
    FilterStateError,
    InvalidArgumentError,
    MultiplexedRuleWarning,
    LoadError,
    SeccompError,
    UnknownSyscallError,
    UnmatchableRuleWarning,
    UnsupportedError,
)
from ._types import Arch, Attr, Comparison, _reject_string_arches, _wait_kill_available

# typing costs about 2 ms to import, a third of the package's start-up,
# and is needed only by type checkers, which treat this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import (
        Any,
        Callable,
        Dict,
        FrozenSet,
        Iterable,
        List,
        Mapping,
        Optional,
        Sequence,
        Tuple,
        Union,
    )

    Syscall = Union[str, int]
    ActionLike = Union[Action, int]
    RuleSpec = Union[
        Tuple[ActionLike, Syscall],
        Tuple[ActionLike, Syscall, Sequence[Comparison]],
    ]

    import os as _os

    from .profile import ProfileReport
    from .program import Program

__all__ = [
    "Filter",
    "actions_available",
    "resolve_syscall",
    "syscall_name",
    "libseccomp_version",
    "libseccomp_build_version",
    "api_level",
    "set_api_level",
]


# Kernel limit on the instructions of one filter (BPF_MAXINSNS).
MAX_INSTRUCTIONS = 4096
# Kernel limit on the instructions of all filters stacked on a task
# (MAX_INSNS_PER_PATH in kernel/seccomp.c).  The kernel counts each filter
# in its eBPF form, plus 4 per filter; see program.py.
MAX_STACKED_INSTRUCTIONS = 32768

# The package imports program, groups and profile on first use, to keep
# `import seccompx` fast.  A thread that imports a module holds that
# module's import lock, and a child forked meanwhile inherits the lock held
# by a thread it does not have, so the child's own first use of the module
# waits forever.  The first uses therefore import under this lock, which a
# fork handler holds across os.fork(), so that no fork happens in the
# middle of one.  It is reentrant because a submodule's import may need
# another.
_submodule_lock = _thread.RLock()


def _import_submodule(name: str) -> Any:
    """Import seccompx.``name`` as a first use, safely for fork()."""
    with _submodule_lock:
        return _importlib.import_module(f"seccompx.{name}")


def _renew_submodule_lock() -> None:
    # The forking thread held the lock, and it is the child's only thread.
    global _submodule_lock
    _submodule_lock = _thread.RLock()


os.register_at_fork(
    before=lambda: _submodule_lock.acquire(),
    after_in_parent=lambda: _submodule_lock.release(),
    after_in_child=_renew_submodule_lock,
)

# program._compiled once imported.  A module global spares compile() the
# import statement's work, which touches several objects and so costs page
# faults in a freshly forked child.
_compiled_program: Optional[Callable[[bytes, Tuple[int, ...]], "Program"]] = None


def _import_compiled_program() -> Callable[[bytes, Tuple[int, ...]], "Program"]:
    global _compiled_program
    with _submodule_lock:
        from .program import _compiled
    _compiled_program = _compiled
    return _compiled


# Modes of _core for a rule whose syscall is missing on some architecture.
_MISSING_WARN = 0
_MISSING_RAISE = 1
_MISSING_IGNORE = 2

_ACTIONS_AVAIL = "/proc/sys/kernel/seccomp/actions_avail"
# BPF_RET | BPF_K: return the constant in the instruction.
_BPF_RET_K = 0x06
_X32_SYSCALL_BIT = 0x40000000
_RET_ACTION_FULL = 0xFFFF0000
_NOTIFY = int(ActionKind.NOTIFY)

# Calls that some architectures reach only through a multiplexer, mapped
# to it: socketcall(2) for sockets, ipc(2) for System V IPC.
_MULTIPLEXER = dict.fromkeys(
    (
        "socket", "bind", "connect", "listen", "accept", "accept4",
        "getsockname", "getpeername", "socketpair", "send", "recv",
        "sendto", "recvfrom", "shutdown", "setsockopt", "getsockopt",
        "sendmsg", "recvmsg", "recvmmsg", "sendmmsg",
    ),
    "socketcall",
)
_MULTIPLEXER.update(
    dict.fromkeys(
        (
            "semop", "semget", "semctl", "semtimedop", "msgsnd", "msgrcv",
            "msgget", "msgctl", "shmat", "shmdt", "shmget", "shmctl",
        ),
        "ipc",
    )
)



@functools.lru_cache(maxsize=1)
def actions_available() -> Optional[FrozenSet[ActionKind]]:
    """Return the actions the running kernel supports, or None if unknown.

    Read from ``/proc/sys/kernel/seccomp/actions_avail`` (Linux 4.14+).
    """
    try:
        with open(_ACTIONS_AVAIL) as file:
            names = set(file.read().split())
    except OSError:
        return None
    return frozenset(kind for kind in ActionKind if kind.kernel_name in names)


_clear_available_cache = actions_available.cache_clear


def _clear_actions_available() -> None:
    """Clear actions_available()'s cache and the defaults that Filter()'s
    one-call path recorded from its result."""
    # Clearing first, then forgetting: a _process_defaults() that read the
    # epoch after _forget_defaults() reads the list after the clear.
    _clear_available_cache()
    _core._forget_defaults()


# The extension trusts the defaults it recorded until this runs, so that
# Filter() and add_rules() need not call actions_available() each time.
actions_available.cache_clear = _clear_actions_available  # type: ignore[method-assign]


def _action_value(action: ActionLike) -> int:
    """Return the raw value of an action, checked against the kernel."""
    if type(action) is Action:
        # The common case, kept to few calls: in a freshly forked child
        # every Python function touched costs page faults.
        value = action._value
        available = actions_available()
        if available is None or value & _RET_ACTION_FULL in available:
            return value
        kind = action._kind
    elif isinstance(action, Action):
        kind = action.kind
        value = action.value
    elif isinstance(action, ActionKind):
        raise InvalidArgumentError(
            f"ActionKind.{action.name} is an action kind, not an action; use "
            "the constant or factory such as ALLOW, KILL_PROCESS or ERRNO(1)"
        )
    elif isinstance(action, int) and not isinstance(action, bool):
        value = action
        kind = Action.from_raw(action).kind
    else:
        raise TypeError(
            f"action must be a seccompx.Action such as ALLOW or ERRNO(1), "
            f"not {type(action).__name__}"
        )
    available = actions_available()
    if available is not None and kind not in available:
        raise UnsupportedError(
            f"the running kernel does not support the {kind.name} action "
            f"(it offers {', '.join(sorted(k.name for k in available))})"
        )
    return value


def _bad_arch_value(action: ActionLike) -> int:
    """Return the raw value of a bad-architecture action, which may not be
    NOTIFY."""
    value = _action_value(action)
    if value & _RET_ACTION_FULL == _NOTIFY:
        raise InvalidArgumentError(
            "bad_arch=NOTIFY is invalid: libseccomp loads such a filter "
            "without a listener, so the kernel fails every syscall from "
            "another architecture with ENOSYS instead of stopping it; use "
            "KILL_PROCESS, KILL_THREAD, TRAP, ERRNO(n) or LOG"
        )
    return value


def libseccomp_version() -> Tuple[int, int, int]:
    """The version of the libseccomp the process is running."""
    return _core.runtime_version()


def libseccomp_build_version() -> Tuple[int, int, int]:
    """The version of the libseccomp headers seccompx was built against."""
    return (
        _core.BUILD_VERSION_MAJOR,
        _core.BUILD_VERSION_MINOR,
        _core.BUILD_VERSION_MICRO,
    )


def api_level() -> int:
    """libseccomp's API level: which kernel features it found and uses."""
    return _core.api_get()


def set_api_level(level: int) -> None:
    """Force libseccomp's API level, for testing older kernels' behaviour."""
    _core.api_set(level)


def resolve_syscall(name: str, arch: Union[Arch, str, int, None] = None) -> int:
    """Return the number of syscall ``name`` on ``arch`` (native if None).

    Raises UnknownSyscallError when the name is unknown, or known only on
    other architectures.
    """
    token = Arch.parse(arch) if arch is not None else Arch.native()
    if not isinstance(name, str):
        raise TypeError(f"syscall name must be str, not {type(name).__name__}")
    number = _core.resolve_name(name, int(token))
    if number < 0:
        multiplexer = _MULTIPLEXER.get(name)
        if multiplexer is not None and _core.resolve_name(multiplexer, int(token)) >= 0:
            raise UnknownSyscallError(
                f"syscall {name!r} has no number of its own on {token} in "
                f"this libseccomp: it is reached through {multiplexer}(2); "
                f"use {multiplexer!r}, or the number of the direct syscall "
                "where the kernel has one",
                syscall=name,
                arch=token,
            )
        raise UnknownSyscallError(
            f"syscall {name!r} does not exist on {token}",
            syscall=name,
            arch=token,
        )
    return number


def syscall_name(number: int, arch: Union[Arch, str, int, None] = None) -> str:
    """Return the name of syscall ``number`` on ``arch`` (native if None)."""
    token = Arch.parse(arch) if arch is not None else Arch.native()
    if isinstance(number, bool) or not isinstance(number, int):
        raise TypeError(
            f"syscall number must be int, not {type(number).__name__}"
        )
    if not 0 <= number <= 0x7FFFFFFF:
        raise InvalidArgumentError(
            f"syscall number {number} is out of range: use 0..2**31-1"
        )
    name = _core.resolve_number(number, int(token))
    if name is None:
        raise UnknownSyscallError(
            f"no syscall has number {number} on {token}",
            syscall=number,
            arch=token,
        )
    return name


def _secure_bad_arch_action() -> int:
    available = actions_available()
    # libseccomp accepts KILL_PROCESS from API level 3 on.
    if api_level() < 3:
        return KILL_THREAD.value
    if available is None or ActionKind.KILL_PROCESS in available:
        return KILL_PROCESS.value
    return KILL_THREAD.value


# libseccomp's attribute numbers as plain ints, for Filter's hot path.
_ATTR_DEFAULT_ACTION = int(Attr.DEFAULT_ACTION)
# The action kinds that let a syscall run.
_ALLOWING_KINDS = (int(ActionKind.ALLOW), int(ActionKind.LOG))
# The attributes Filter.reset() keeps.
_KEPT_BY_RESET = (
    Attr.BAD_ARCH_ACTION,
    Attr.NO_NEW_PRIVS,
    Attr.TSYNC,
    Attr.LOG,
    Attr.SSB,
    Attr.OPTIMIZE,
    Attr.RAW_RC,
) + ((Attr.WAIT_KILL,) if _wait_kill_available() else ())
_defaults_cache: Optional[Tuple[int, object, int, bool, int]] = None


def _process_defaults() -> Tuple[int, bool]:
    """Return the secure bad-architecture action and whether thread sync
    is available, recomputed only when the API level or the kernel's
    action list changes, or actions_available.cache_clear() ran."""
    global _defaults_cache
    # Read before actions_available(), so that the extension can tell a
    # list read before a cache_clear() from one read after it.
    epoch = _core._defaults_epoch()
    level = _core.api_get()
    available = actions_available()
    cached = _defaults_cache
    if (
        cached is None
        or cached[0] != level
        or cached[1] is not available
        or cached[4] != epoch
    ):
        cached = (level, available, _secure_bad_arch_action(), level >= 2, epoch)
        _defaults_cache = cached
        # Hand them to the extension too, for Filter's one-call path.
        kinds = None if available is None else tuple(int(k) for k in available)
        _core._set_defaults(
            Action, available, kinds, level, cached[2], cached[3], epoch
        )
    return cached[2], cached[3]


def _parse_attr(attr: Union[Attr, int]) -> Attr:
    if isinstance(attr, bool) or not isinstance(attr, int):
        raise TypeError(
            f"attribute must be a seccompx.Attr, not {type(attr).__name__}"
        )
    try:
        parsed = Attr(attr)
    except ValueError:
        raise InvalidArgumentError(
            f"filter attribute {attr!r} is unknown; use a member of "
            "seccompx.Attr"
        ) from None
    if parsed >= _core.ATTR_MAX:
        version = ".".join(map(str, libseccomp_build_version()))
        raise UnsupportedError(
            f"attribute {parsed.name} needs a newer libseccomp than the "
            f"{version} seccompx was built against"
        )
    return parsed


def _check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(
            f"{name} must be True or False, not {value!r}"
        )
    return value


def _check_strict(strict: object) -> None:
    """Raise TypeError unless ``strict`` is True, False or None."""
    if strict is not None and not isinstance(strict, bool):
        raise TypeError(
            f"strict must be True, False or None (the filter's setting), "
            f"not {strict!r}"
        )


def _flag_property(attr: Attr, doc: str) -> Any:
    """Build a bool property over a 0/1 libseccomp attribute."""

    def get(self: "Filter") -> bool:
        return bool(self.get_attr(attr))

    def set(self: "Filter", on: bool) -> None:
        value = int(_check_bool(attr.name.lower(), on))
        self._check_not_loaded()
        self._set_attr(int(attr), value)

    return property(get, set, doc=doc)


class _InitSignature:
    """Filter.__signature__: the signature of Filter(), computed on first
    use, because inspect takes milliseconds to import and the extension's
    __init__ carries none."""

    def __get__(self, instance: object, owner: type) -> Any:
        # A subclass with its own __init__ or __new__ takes other arguments.
        # None makes inspect.signature() read those methods instead.
        for cls in owner.__mro__:
            if cls is Filter:
                break
            if "__init__" in cls.__dict__ or "__new__" in cls.__dict__:
                return None
        import inspect

        signature = inspect.signature(Filter._init_general)
        parameters = list(signature.parameters.values())[1:]
        return signature.replace(parameters=parameters)


class Filter(_core.FilterBase):
    """A seccomp filter under construction.

    ``default`` is the action for every syscall no rule matches.  The
    other arguments set the filter's attributes; the defaults are the
    secure ones:

    * ``bad_arch=KILL_PROCESS``: a syscall made through another
      architecture's entry point (i386 ``int 0x80`` or x32 on x86_64) kills
      the process whatever the default action is.
    * ``no_new_privs=True``: the process can no longer gain privileges
      through set-user-ID programs, which also lets it load a filter
      without CAP_SYS_ADMIN.
    * ``tsync=None``: synchronise the filter to every thread of the process
      when the kernel supports it; pass False to filter only the calling
      thread.
    * ``strict=False``: a rule naming a syscall that does not exist on an
      architecture of the filter warns with UnmatchableRuleWarning; with
      ``strict=True`` it raises UnknownSyscallError.

    ``arches`` lists the architectures the filter covers; by default only
    the native one.

    As a context manager, leaving the ``with`` block releases the libseccomp
    context.  It does not load the filter and does not unload one already
    loaded (the kernel cannot unload filters).  Leaving the block, or
    dropping the filter, after adding rules but without loading, exporting
    or compiling it warns with FilterNotLoadedWarning, because such code
    usually meant to load it.
    """

    # Filter(), allow(), add_rules() and load() are methods of the
    # extension's FilterBase (csrc/core/entry.c), so that the common calls
    # run no Python frame: in a freshly forked child every frame costs page
    # faults, and building a filter there is a common case.  Each passes
    # the calls it does not handle to a Python method below:
    # _init_general and _add_rules_general take the same arguments, and
    # allow() and load() fall back to _add_checked and _load_general.  The
    # stubs give type checkers and the documentation their signatures, and
    # a test keeps their docstrings equal to the extension's.
    if TYPE_CHECKING:

        def __init__(
            self,
            default: ActionLike,
            *,
            arches: Optional[Iterable[Union[Arch, str, int]]] = None,
            bad_arch: ActionLike = KILL_PROCESS,
            no_new_privs: bool = True,
            tsync: Optional[bool] = None,
            log: bool = False,
            ssb: bool = False,
            optimize: Optional[int] = None,
            strict: bool = False,
        ) -> None:
            """Create a filter whose unmatched syscalls get ``default``."""

        def allow(self, *syscalls: Syscall, strict: Optional[bool] = None) -> int:
            """Allow each of ``syscalls``, in one call to the extension."""

        def add_rules(
            self, rules: Iterable[RuleSpec], *, strict: Optional[bool] = None
        ) -> int:
            """Add many ``(action, syscall[, comparisons])`` rules in one call.

            Returns the number of rules added.  With libseccomp 2.6 a batch is
            all or nothing: when a rule fails, the rules of the batch added before
            it are undone, the rule's own error is raised, and the filter keeps
            the rules of earlier calls.  libseccomp 2.5 has no transactions, so a
            rule that fails after others were added leaves the filter incomplete:
            this raises FilterStateError, and so does load() until reset().  The
            same happens with 2.6 if libseccomp fails to commit the batch.
            """

        def load(self) -> None:
            """Load the filter into the kernel for this process.

            Raises LoadError naming the cause when the kernel rejects it.
            Loading cannot be undone.
            """

    else:
        __signature__ = _InitSignature()

    def _init_general(
        self,
        default: ActionLike,
        *,
        arches: Optional[Iterable[Union[Arch, str, int]]] = None,
        bad_arch: ActionLike = KILL_PROCESS,
        no_new_privs: bool = True,
        tsync: Optional[bool] = None,
        log: bool = False,
        ssb: bool = False,
        optimize: Optional[int] = None,
        strict: bool = False,
    ) -> None:
        secure_bad_arch, tsync_default = _process_defaults()
        for name, flag in (
            ("no_new_privs", no_new_privs),
            ("log", log),
            ("ssb", ssb),
            ("strict", strict),
        ):
            _check_bool(name, flag)
        if tsync is not None:
            _check_bool("tsync", tsync)
        _reject_string_arches(arches)
        # Context's own initialiser: FilterBase's would call this method.
        _core.Context.__init__(self, _action_value(default))
        override = getattr(type(self), "strict", None)
        if isinstance(override, property) and override.fset is None:
            # A subclass that computes strict in a read-only property
            # decides it there, so strict= only fills the unused slot.
            _core.Context.strict.__set__(self, strict)
        else:
            self.strict = strict
        # Set once the filter was loaded, exported in any form, or handed to
        # code that does so; silences FilterNotLoadedWarning.
        self._used = False
        # The rules as added, for to_profile(); None once they can differ
        # between architectures, after merge().
        self._rules: Optional[List[Tuple[Any, ...]]] = []
        # What from_profile() did with its profile.
        self.profile_report: Optional[ProfileReport] = None
        bad_arch_value = (
            secure_bad_arch if bad_arch is KILL_PROCESS else _bad_arch_value(bad_arch)
        )
        self._set_attr(Attr.BAD_ARCH_ACTION, bad_arch_value)
        self._set_attr(Attr.NO_NEW_PRIVS, int(bool(no_new_privs)))
        # Report the kernel's own error codes from load, not ECANCELED.
        self._set_attr(Attr.RAW_RC, 1)
        if tsync is None:
            tsync = tsync_default
        if tsync:
            self._set_attr(Attr.TSYNC, 1)
        if log:
            self._set_attr(Attr.LOG, 1)
        if ssb:
            self._set_attr(Attr.SSB, 1)
        if optimize is not None:
            self.optimize = optimize
        if arches is not None:
            self._set_arches(arches)

    def _set_arches(self, arches: Iterable[Union[Arch, str, int]]) -> None:
        wanted = []
        for arch in arches:
            token = Arch.parse(arch)
            if token is Arch.NATIVE:
                token = Arch.native()
            if token in wanted:
                raise InvalidArgumentError(f"architecture {token} is listed twice")
            wanted.append(token)
        if not wanted:
            raise InvalidArgumentError(
                "arches is empty: a filter needs at least one architecture"
            )
        native = Arch.native()
        for token in wanted:
            if token is not native:
                self._add_arch(int(token))
        if native not in wanted:
            self._remove_arch(int(native))

    # Rules -----------------------------------------------------------------

    def _missing_mode(self, strict: Optional[bool]) -> int:
        if strict is None:
            strict = self.strict
        return _MISSING_RAISE if strict else _MISSING_WARN

    def add_rule(
        self,
        action: ActionLike,
        syscall: Syscall,
        *comparisons: Comparison,
        strict: Optional[bool] = None,
    ) -> None:
        """Apply ``action`` to ``syscall`` when every comparison holds.

        ``syscall`` is a name such as ``"openat"`` or a number on the
        native architecture.  Comparisons come from :class:`Arg`, for
        example ``Arg(0) == 1``; at most one per argument.  libseccomp may
        rewrite the rule for an architecture where the syscall is
        multiplexed (``socketcall`` on x86); use :meth:`add_rule_exact` to
        forbid that.
        """
        _check_strict(strict)
        value = _action_value(action)
        self._check_rule(syscall, comparisons, strict)
        self._add_rule(value, syscall, comparisons, False, self._missing_mode(strict))
        self._record_rules([(value, syscall, comparisons)])

    def add_rule_exact(
        self,
        action: ActionLike,
        syscall: Syscall,
        *comparisons: Comparison,
        strict: Optional[bool] = None,
    ) -> None:
        """Add a rule exactly as given, or raise UnsupportedError.

        Unlike :meth:`add_rule`, libseccomp may not rewrite the rule for
        architectures where the syscall is multiplexed.
        """
        _check_strict(strict)
        value = _action_value(action)
        self._check_not_loaded()
        if not isinstance(syscall, (str, bool)) and isinstance(syscall, int):
            self._check_number(syscall, strict)
        self._add_rule(value, syscall, comparisons, True, self._missing_mode(strict))
        self._record_rules([(value, syscall, comparisons)])

    def _add_rules_general(
        self, rules: Iterable[RuleSpec], *, strict: Optional[bool] = None
    ) -> int:
        """Add the rules that add_rules() leaves to Python: anything but a
        list or tuple of (Action, name[, comparisons]) tuples, and rules
        for loaded filters."""
        _check_strict(strict)
        checked: Dict[Any, int] = {}
        batch: List[Tuple[Any, ...]] = []
        try:
            items = iter(rules)
        except TypeError:
            raise TypeError(
                "rules must be an iterable of (action, syscall[, comparisons]) "
                f"tuples, not {type(rules).__name__}"
            ) from None
        for index, rule in enumerate(items):
            if not isinstance(rule, (tuple, list)):
                raise TypeError(
                    f"rules[{index}] must be an (action, syscall[, "
                    f"comparisons]) tuple, not {type(rule).__name__} "
                    f"{repr(rule)[:80]}"
                )
            if not 2 <= len(rule) <= 3:
                items_text = "1 item" if len(rule) == 1 else f"{len(rule)} items"
                raise TypeError(
                    f"rules[{index}] has {items_text}, but a rule needs 2 or 3: "
                    "(action, syscall[, comparisons])"
                )
            if len(rule) == 3:
                comparisons = rule[2]
                # Checking the exact types first keeps the usual tuple or
                # list as cheap as before.
                if (
                    type(comparisons) is not tuple
                    and type(comparisons) is not list
                    and comparisons is not None
                ):
                    if isinstance(comparisons, Comparison):
                        raise TypeError(
                            f"rules[{index}]: comparisons must be a sequence "
                            f"such as ({comparisons!r},), not a single "
                            "Comparison"
                        )
                    try:
                        iter(comparisons)
                        iterable = not isinstance(comparisons, (str, bytes))
                    except TypeError:
                        iterable = False
                    if not iterable:
                        raise TypeError(
                            f"rules[{index}]: comparisons must be a sequence "
                            "of Comparison such as (Arg(0) == 1,), not "
                            f"{type(comparisons).__name__} "
                            f"{repr(comparisons)[:80]}"
                        )
            action = rule[0]
            if isinstance(action, Action):
                value = checked.get(action)
                if value is None:
                    value = checked[action] = _action_value(action)
            else:
                value = _action_value(action)
            if len(rule) == 3 and rule[2] is not None:
                # A copy: the record must not follow later changes to the
                # caller's list, and a generator can be read only once.
                batch.append((value, rule[1], tuple(rule[2])))
            else:
                batch.append((value,) + tuple(rule[1:]))
        self._check_not_loaded()
        for item in batch:
            self._check_rule(item[1], item[2] if len(item) == 3 else (), strict)
        added = self._add_rules(batch, missing=self._missing_mode(strict))
        self._record_rules(batch)
        return added

    def deny(
        self,
        *syscalls: Syscall,
        action: ActionLike = ERRNO(_errno.EPERM),
        strict: Optional[bool] = None,
    ) -> int:
        """Apply ``action`` (by default ``ERRNO(EPERM)``) to each syscall.

        ``action`` may not be ALLOW or LOG, which let the syscalls run; use
        :meth:`allow` for those.
        """
        _check_strict(strict)
        value = _action_value(action)
        if value & _RET_ACTION_FULL in _ALLOWING_KINDS:
            raise InvalidArgumentError(
                f"deny() with {Action.from_raw(value)!r} would let the "
                "syscalls run; pass a refusing action such as ERRNO(n), "
                "KILL_PROCESS or TRAP, or use allow()"
            )
        if strict is None:
            strict = bool(self.strict)
        added = self._add_same(value, syscalls, strict)
        if added is NotImplemented:
            return self._add_checked(value, syscalls, strict)
        return added  # type: ignore[no-any-return]

    def _add_checked(
        self, value: int, syscalls: Sequence[Syscall], strict: Optional[bool]
    ) -> int:
        """The general path of allow() and deny(), for syscall numbers and
        loaded filters, which the extension's one call leaves to it."""
        _check_strict(strict)
        self._check_not_loaded()
        batch = []
        for syscall in syscalls:
            if not isinstance(syscall, (str, bool)) and isinstance(syscall, int):
                self._check_number(syscall, strict)
            batch.append((value, syscall))
        added = self._add_rules(batch, missing=self._missing_mode(strict))
        self._record_rules(batch)
        return added

    def _check_not_loaded(self) -> None:
        if self.loaded:
            raise FilterStateError(
                "the filter is already loaded, so a change made now would "
                "never take effect; build a new Filter and load it as well"
            )

    def _check_rule(
        self, syscall: Syscall, comparisons: Sequence[Comparison], strict: Optional[bool]
    ) -> None:
        """Warn or raise for a rule libseccomp would not apply as written."""
        self._check_not_loaded()
        if not isinstance(syscall, (str, bool)) and isinstance(syscall, int):
            self._check_number(syscall, strict)
        if comparisons:
            self._check_multiplexed(syscall, strict, self.arches)

    def _problem(self, message: str, warning: type, strict: Optional[bool]) -> None:
        if self.strict if strict is None else strict:
            raise InvalidArgumentError(message)
        warnings.warn(message, warning, stacklevel=4)

    def _check_number(self, number: int, strict: Optional[bool]) -> None:
        if not 0 <= number <= 0x7FFFFFFF:
            return  # the core rejects it as out of range
        native = Arch.native()
        if (
            native is Arch.X86_64
            and number & _X32_SYSCALL_BIT
            and not self.has_arch(Arch.X32)
        ):
            self._problem(
                f"syscall number {number:#x} has the x32 bit set, but the "
                "filter does not cover x32, so the x32 guard gives such calls "
                "the bad-architecture action before any rule; add Arch.X32 "
                "or use the x86_64 number",
                UnmatchableRuleWarning,
                strict,
            )
        elif _core.resolve_number(number, int(native)) is None:
            self._problem(
                f"syscall number {number} has no name on {native} in this "
                "libseccomp, so the rule matches only if the kernel has such "
                "a syscall, and it cannot be translated to other "
                "architectures; check the number",
                UnmatchableRuleWarning,
                strict,
            )

    def _check_multiplexed(
        self, syscall: Syscall, strict: Optional[bool], arches: Sequence[Arch]
    ) -> None:
        name: Optional[str]
        if isinstance(syscall, str):
            name = syscall
        else:
            name = _core.resolve_number(syscall, int(Arch.native()))
        multiplexer = _MULTIPLEXER.get(name) if name else None
        if multiplexer is None:
            return
        affected = [
            str(arch)
            for arch in arches
            if _core.resolve_name(multiplexer, int(arch)) >= 0
        ]
        if affected:
            self._problem(
                f"the argument comparisons of the rule for {name!r} cannot "
                f"be checked on {', '.join(affected)}, where {name} is "
                f"reached through {multiplexer}(2) with its arguments in "
                "memory; there libseccomp matches the rule for every "
                "argument value (add_rule_exact() raises instead of "
                "rewriting the rule)",
                MultiplexedRuleWarning,
                strict,
            )

    def _record_rules(self, batch: Sequence[Tuple[Any, ...]]) -> None:
        if self._rules is not None:
            self._rules.extend(batch)

    def allow_group(self, *groups: str) -> int:
        """Allow every syscall of the named groups, such as ``"@basic-io"``.

        Members that exist on none of the filter's architectures are
        skipped quietly; see :mod:`seccompx.groups`.  Returns the number of
        rules added.
        """
        with _submodule_lock:
            from .groups import add_groups
        self._check_not_loaded()
        return add_groups(self, groups, _action_value(ALLOW))

    def deny_group(
        self, *groups: str, action: ActionLike = ERRNO(_errno.EPERM)
    ) -> int:
        """Apply ``action`` (by default ``ERRNO(EPERM)``) to the groups."""
        with _submodule_lock:
            from .groups import add_groups
        self._check_not_loaded()
        return add_groups(self, groups, _action_value(action))

    def syscall_priority(self, syscall: Syscall, priority: int) -> None:
        """Hint that ``syscall`` is frequent (0-255, higher is checked first)."""
        self._syscall_priority(syscall, priority)

    # Architectures ---------------------------------------------------------

    @property
    def arches(self) -> Tuple[Arch, ...]:
        """The architectures the filter covers."""
        return tuple(Arch(token) for token in self._arch_tokens)

    def add_arch(
        self, arch: Union[Arch, str, int], *, strict: Optional[bool] = None
    ) -> None:
        """Cover another architecture, applying the rules already added.

        Rules naming a syscall that ``arch`` lacks warn with
        UnmatchableRuleWarning, or raise with ``strict=True``, as in
        :meth:`add_rule`.
        """
        _check_strict(strict)
        self._check_not_loaded()
        token = Arch.parse(arch)
        if token is Arch.NATIVE:
            token = Arch.native()
        for rule in self._rules or ():
            if len(rule) == 3 and rule[2]:
                self._check_multiplexed(rule[1], strict, [token])
        self._add_arch(int(token), self._missing_mode(strict))

    def remove_arch(self, arch: Union[Arch, str, int]) -> None:
        """Stop covering ``arch``; raises if it is the last one."""
        self._remove_arch(int(Arch.parse(arch)))

    def has_arch(self, arch: Union[Arch, str, int]) -> bool:
        """Return whether the filter covers ``arch``."""
        return bool(self._has_arch(int(Arch.parse(arch))))

    # Attributes ------------------------------------------------------------

    def get_attr(self, attr: Attr) -> int:
        """Return the raw value of a libseccomp filter attribute."""
        return int(self._get_attr(int(_parse_attr(attr))))

    def set_attr(self, attr: Attr, value: int) -> None:
        """Set a libseccomp filter attribute to a raw value."""
        attr = _parse_attr(attr)
        if attr is Attr.DEFAULT_ACTION:
            raise InvalidArgumentError(
                "the default action cannot be changed after creation; "
                "use reset(default) or build a new Filter"
            )
        if attr is Attr.BAD_ARCH_ACTION:
            value = _bad_arch_value(value)
        elif attr is Attr.OPTIMIZE:
            # libseccomp returns EOPNOTSUPP for a level it lacks, which
            # would read as a missing feature rather than a bad value.
            self.optimize = value
            return
        self._check_not_loaded()
        self._set_attr(int(attr), value)

    @property
    def default_action(self) -> Action:
        """The action for syscalls that no rule matches."""
        return Action.from_raw(self.get_attr(Attr.DEFAULT_ACTION))

    @property
    def bad_arch_action(self) -> Action:
        """The action for syscalls from architectures the filter lacks."""
        return Action.from_raw(self.get_attr(Attr.BAD_ARCH_ACTION))

    @bad_arch_action.setter
    def bad_arch_action(self, action: ActionLike) -> None:
        self._set_attr(int(Attr.BAD_ARCH_ACTION), _bad_arch_value(action))

    no_new_privs = _flag_property(
        Attr.NO_NEW_PRIVS, "Set PR_SET_NO_NEW_PRIVS when loading."
    )
    tsync = _flag_property(
        Attr.TSYNC, "Synchronise the filter to all threads when loading."
    )
    log = _flag_property(
        Attr.LOG, "Log every action other than ALLOW (SECCOMP_FILTER_FLAG_LOG)."
    )
    ssb = _flag_property(
        Attr.SSB, "Disable the speculative store bypass mitigation."
    )
    raw_rc = _flag_property(
        Attr.RAW_RC, "Have libseccomp report the kernel's own error codes."
    )

    @property
    def optimize(self) -> int:
        """Optimisation level: 1 sorts syscalls by priority, 2 builds a
        binary tree."""
        return self.get_attr(Attr.OPTIMIZE)

    @optimize.setter
    def optimize(self, level: int) -> None:
        if isinstance(level, bool) or not isinstance(level, int):
            raise TypeError(
                f"optimize level must be an int, 1 or 2, not "
                f"{type(level).__name__} {level!r}"
            )
        if level not in (1, 2):
            raise InvalidArgumentError(
                f"optimize level {level!r} is invalid: use 1 (priority "
                "order) or 2 (binary tree)"
            )
        self._check_not_loaded()
        self._set_attr(int(Attr.OPTIMIZE), level)

    # Whole-filter operations ----------------------------------------------

    def merge(self, other: "Filter") -> None:
        """Move the rules and architectures of ``other`` into this filter.

        The filters must have equal attributes and no architecture in
        common, and if ``other`` has NOTIFY rules this filter needs one too:
        libseccomp requests a notification listener only for NOTIFY rules
        added to the filter it loads.  ``other`` is closed afterwards.
        """
        if not isinstance(other, Filter):
            raise TypeError(
                f"can only merge a seccompx.Filter, not {type(other).__name__}"
            )
        had_rules = bool(self._rules) or bool(other._rules)
        self._merge(other)
        if had_rules:
            self._rules = None

    def reset(self, default: Optional[ActionLike] = None) -> None:
        """Remove every rule and extra architecture.

        The default action becomes ``default``, or stays as it is when None.
        Every other attribute (bad_arch, no_new_privs, tsync, log, ssb,
        optimize, raw_rc, and wait_kill with libseccomp 2.6) keeps its
        value, and so does ``strict``.
        """
        value = (
            self.get_attr(Attr.DEFAULT_ACTION)
            if default is None
            else _action_value(default)
        )
        # libseccomp's reset returns every attribute to its own default, so
        # the filter's settings are read first and set again after it.
        kept = [(attr, self.get_attr(attr)) for attr in _KEPT_BY_RESET]
        self._reset(value)
        self._rules = []
        self.profile_report = None
        for attr, setting in kept:
            if self._get_attr(int(attr)) != setting:
                self._set_attr(int(attr), setting)

    def _load_general(self) -> None:
        """Load a filter with NOTIFY actions, for load().

        The extension's load() has already marked the filter used: a
        failed load still counts as use, because the warning for unused
        filters would only repeat the LoadError.
        """
        if self._needs_second_listener():
            raise self._load_error(_errno.EBUSY)
        err = self._load()
        if err is not None:
            raise self._load_error(err)

    @property
    def notify_fd(self) -> int:
        """The listener descriptor of a loaded filter with NOTIFY rules.

        Pass it to the functions of :mod:`seccompx.notify`.  libseccomp
        keeps one listener per process, so every filter of the process
        returns the same number.  Raises SeccompError before such a load.
        """
        return int(self._notify_fd())

    def _needs_second_listener(self) -> bool:
        # With a listener already open, libseccomp 2.5 loads a filter with
        # NOTIFY actions without asking for a listener, and the kernel then
        # fails its notified syscalls with ENOSYS.  The kernel itself
        # allows one listener per process and returns EBUSY.
        if self._rules is not None and not self._has_notify_action():
            return False
        try:
            self._notify_fd()
        except SeccompError:
            return False
        return _returns_notify(self._export_bpf())

    def _has_notify_action(self) -> bool:
        if self._get_attr(_ATTR_DEFAULT_ACTION) & _RET_ACTION_FULL == _NOTIFY:
            return True
        for rule in self._rules or ():
            if int(rule[0]) & _RET_ACTION_FULL == _NOTIFY:
                return True
        return False

    def _load_error(self, err: int) -> LoadError:
        # The kernel returns EACCES only while no_new_privs is off.
        if err == _errno.EACCES and self.no_new_privs and _process_has_filter():
            return _stacked_load_error(err)
        if err == _errno.EACCES:
            return LoadError(
                "the kernel rejected the filter: no_new_privs is off and the "
                "process lacks CAP_SYS_ADMIN; keep no_new_privs=True or run "
                "with CAP_SYS_ADMIN",
                err,
                reason="no_new_privs",
            )
        if err == _errno.EINVAL:
            try:
                count = self.instruction_count()
            except SeccompError:
                count = 0
            if count > MAX_INSTRUCTIONS:
                return LoadError(
                    f"the filter compiles to {count} BPF instructions, over "
                    f"the kernel's limit of {MAX_INSTRUCTIONS}; use fewer "
                    "rules, or optimize=2 for a binary tree",
                    err,
                    reason="too_large",
                )
            earlier = (
                "; or a seccomp filter loaded earlier returns EINVAL for "
                "prctl or seccomp"
                if _process_has_filter()
                else ""
            )
            return LoadError(
                "the kernel rejected the filter or a load flag (EINVAL): "
                f"tsync={self.tsync}, log={self.log}, ssb={self.ssb}; the "
                f"kernel may not support one of these flags{earlier}",
                err,
                reason="flag",
            )
        if err == _errno.ESRCH:
            thread = _conflicting_thread()
            where = f"thread {thread}" if thread else "another thread"
            return LoadError(
                f"thread sync failed: {where} of this process already has "
                "a filter that is not an ancestor of the calling thread's; "
                "load the filter before starting threads, or set tsync=False",
                err,
                reason="tsync",
                thread=thread,
            )
        if err == _errno.ENOMEM:
            with _submodule_lock:
                from .program import _stacked_limit_message

            try:
                size: Optional[int] = self.instruction_count()
            except SeccompError:
                size = None
            return LoadError(
                _stacked_limit_message(size), err, reason="too_large"
            )
        if err == _errno.EBUSY:
            return LoadError(
                "the kernel rejected the filter: a filter with a notification "
                "listener is already loaded in this process, and a process "
                "can have only one",
                err,
                reason="listener",
            )
        if err in (_errno.EFAULT, _errno.EPERM) and _process_has_filter():
            # libseccomp calls prctl() and seccomp() to load; a filter
            # loaded earlier that rejects them surfaces as EFAULT or EPERM.
            return _stacked_load_error(err)
        return LoadError(
            f"loading the filter failed: {os.strerror(err)}", err, reason="kernel"
        )

    def export_pfc(self) -> str:
        """Return the filter as libseccomp's Pseudo Filter Code text."""
        return self._export_pfc()

    def export_bpf(self) -> bytes:
        """Return the filter as the BPF program the kernel would receive."""
        return self._export_bpf()

    def export_pfc_to(self, file: Any) -> None:
        """Write the PFC text to a file object with ``fileno()`` or an fd.

        Raises InvalidArgumentError for a closed file, a file without a
        real descriptor (such as io.BytesIO) or a negative fd.
        """
        self._export_fd(_export_fileno(file), True)

    def export_bpf_to(self, file: Any) -> None:
        """Write the BPF program to a file object with ``fileno()`` or an fd.

        Raises InvalidArgumentError like :meth:`export_pfc_to`.
        """
        self._export_fd(_export_fileno(file), False)

    def instruction_count(self) -> int:
        """Return the number of BPF instructions the filter compiles to."""
        return len(self._export_bpf()) // 8

    def compile(self) -> "Program":
        """The filter compiled to a :class:`seccompx.Program`."""
        build = _compiled_program or _import_compiled_program()
        return build(self._export_bpf(), self._arch_tokens)

    # Profiles --------------------------------------------------------------

    @classmethod
    def from_profile(
        cls,
        profile: Union[str, "_os.PathLike[str]", Mapping[str, Any]],
        *,
        capabilities: Optional[Iterable[Union[str, int]]] = None,
        kernel_version: Union[str, Sequence[int], None] = None,
        strict: bool = False,
        enosys_for_unknown: bool = False,
        arch: Union[Arch, str, int, None] = None,
        bad_arch: Action = KILL_PROCESS,
        no_new_privs: bool = True,
        optimize: Optional[int] = None,
    ) -> "Filter":
        """Build a filter from an OCI or Docker seccomp profile.

        ``profile`` is a path to a JSON file or the parsed mapping.
        Docker's ``includes`` and ``excludes`` are checked against
        ``capabilities`` (default: the effective set of this process),
        ``kernel_version`` (default: the running kernel) and ``arch``
        (default: native), which is also the filter's main architecture.
        ``enosys_for_unknown=True`` answers ENOSYS for native syscall
        numbers above the highest one the profile names.  The result's
        ``profile_report`` lists what was skipped and why.  Raises
        ProfileError, naming the JSON path, for an invalid profile; with
        ``strict=True`` also for unknown syscall names and anything that
        would be a warning.  docs/profiles.md describes every field.
        """
        with _submodule_lock:
            from .profile import build_filter
        return build_filter(
            cls,
            profile,
            capabilities=capabilities,
            kernel_version=kernel_version,
            strict=strict,
            enosys_for_unknown=enosys_for_unknown,
            arch=arch,
            bad_arch=bad_arch,
            no_new_privs=no_new_privs,
            optimize=optimize,
        )

    def to_profile(self) -> Dict[str, Any]:
        """The filter as an OCI seccomp profile, ready for ``json.dump``.

        Rules with the same action and conditions share one entry.  Reading
        the result with from_profile() gives the same BPF program when this
        filter came from from_profile() itself.
        """
        with _submodule_lock:
            from .profile import dump
        profile = dump(self)
        self._mark_used()
        return profile

    def _mark_used(self) -> None:
        """Record that the filter's rules went somewhere (a profile, a
        sandbox), so that dropping it does not warn."""
        self._used = True

    # Lifecycle -------------------------------------------------------------

    def _warn_if_unused(self, stacklevel: int) -> None:
        if (
            not self.closed
            and self.rule_count
            and not self.loaded
            and not self.exported
            and not getattr(self, "_used", False)
        ):
            warnings.warn(
                f"{self!r} has {self.rule_count} rules but was released "
                "without being loaded, exported or compiled; call load() "
                "before the filter is dropped or its with block ends",
                FilterNotLoadedWarning,
                stacklevel=stacklevel,
            )

    def __enter__(self) -> "Filter":
        if self.closed:
            # Reading an attribute of the extension raises FilterStateError
            # saying whether close() or merge() closed the filter.
            self._arch_tokens  # noqa: B018
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self._warn_if_unused(stacklevel=3)
        self.close()

    def __del__(self) -> None:
        try:
            self._warn_if_unused(stacklevel=2)
        except Exception:  # interpreter shutdown: never raise from __del__
            pass
        self.close()

    def __repr__(self) -> str:
        cls = type(self)
        if cls is Filter:
            name = "seccompx.Filter"
        else:
            name = f"{cls.__module__}.{cls.__qualname__}"
        if not self._initialised:
            return f"<{name} never initialised>"
        if self.closed:
            return f"<{name} closed>"
        arches = ",".join(str(arch) for arch in self.arches)
        state = " loaded" if self.loaded else ""
        return (
            f"<{name} default={self.default_action!r} "
            f"arches={arches} rules={self.rule_count}{state}>"
        )

    def __reduce__(self) -> Any:
        raise TypeError(
            "a Filter cannot be pickled; send filter.compile() (a Program) "
            "or a profile from filter.to_profile() instead"
        )

    def __copy__(self) -> Any:
        raise TypeError(
            "a Filter cannot be copied, because its libseccomp context "
            "cannot be duplicated; build a second one with "
            "Filter.from_profile(filter.to_profile()), or take "
            "filter.compile() for a Program of the same instructions"
        )

    def __deepcopy__(self, memo: Any) -> Any:
        return self.__copy__()


# Python names a function by its __qualname__ (by its code's co_name before
# 3.10) in the TypeError for arguments that do not fit its signature, and
# Filter(...) and add_rules() pass the arguments they do not handle to these
# methods unchanged.  Renaming them makes those errors name the methods
# that the caller called.
for _general, _public in (
    (Filter._init_general, "__init__"),
    (Filter._add_rules_general, "add_rules"),
):
    _general.__qualname__ = f"Filter.{_public}"
    if _sys.version_info < (3, 10):
        _general.__code__ = _general.__code__.replace(co_name=_public)
del _general, _public

# Filter(default) and Filter(default, optimize=level) skip type.__call__,
# which would pack the arguments into a new tuple and dict first
# (csrc/core/entry.c explains why that matters).  Subclasses keep
# type.__call__.
_core._enable_vectorcall(Filter)


def _returns_notify(program: bytes) -> bool:
    """Check whether a BPF program returns SECCOMP_RET_USER_NOTIF anywhere."""
    import struct

    for code, _jt, _jf, k in struct.iter_unpack("=HBBI", program):
        if code == _BPF_RET_K and k & 0xFFFF0000 == ActionKind.NOTIFY:
            return True
    return False


def _fileno(file: Any) -> int:
    if isinstance(file, int) and not isinstance(file, bool):
        return file
    fileno = getattr(file, "fileno", None)
    if fileno is None:
        raise TypeError(
            f"expected a file descriptor or an object with fileno(), not "
            f"{type(file).__name__}"
        )
    flush = getattr(file, "flush", None)
    if flush is not None:
        flush()
    return int(fileno())


def _export_fileno(file: Any) -> int:
    """Return the descriptor of an export target; raise if it has none.

    _fileno() itself lets io.UnsupportedOperation through, because the
    compat layer falls back to file.write() on it.
    """
    name = getattr(file, "name", None)
    label = repr(name) if isinstance(name, (str, int)) else type(file).__name__
    accepted = (
        "pass a file object open for writing with a real file descriptor, "
        "or a non-negative int fd"
    )
    if getattr(file, "closed", False) is True:
        raise InvalidArgumentError(
            f"cannot export to {label}: the file is closed; {accepted}"
        )
    try:
        return _fileno(file)
    except ValueError as error:
        # An in-memory file such as BytesIO raises io.UnsupportedOperation,
        # which is a ValueError, and a file closed meanwhile a ValueError.
        raise InvalidArgumentError(
            f"cannot export to {label}: it has no usable file descriptor "
            f"({error}); {accepted}"
        ) from None


def _seccomp_filters(status_path: str) -> Optional[Tuple[str, str]]:
    try:
        with open(status_path) as file:
            fields = dict(
                line.split(":", 1) for line in file if line.startswith("Seccomp")
            )
    except OSError:
        return None
    return (
        fields.get("Seccomp", "").strip(),
        fields.get("Seccomp_filters", "").strip(),
    )


def _stacked_load_error(err: int) -> LoadError:
    """Build the LoadError for a load that a filter loaded earlier
    rejected with ``err``."""
    return LoadError(
        f"loading the filter failed ({_errno.errorcode.get(err, err)}): this "
        "process already has a seccomp filter, which probably rejects prctl "
        "or seccomp, the syscalls a load needs; allow both in the first "
        "filter to stack another",
        err,
        reason="stacked",
    )


def _process_has_filter() -> bool:
    state = _seccomp_filters("/proc/self/status")
    return state is not None and state[0] == "2"


def _conflicting_thread() -> Optional[int]:
    """Find a thread whose seccomp state differs from the calling thread's.

    The kernel's TSYNC failure names the thread only in seccomp(2)'s return
    value, which libseccomp does not pass on; the per-thread status files
    show which thread has a filter the caller lacks.
    """
    import threading

    me = threading.get_native_id()
    mine = _seccomp_filters(f"/proc/self/task/{me}/status")
    try:
        tids = sorted(int(name) for name in os.listdir("/proc/self/task"))
    except OSError:
        return None
    for tid in tids:
        if tid == me:
            continue
        theirs = _seccomp_filters(f"/proc/self/task/{tid}/status")
        if theirs is not None and theirs != mine:
            return tid
    return None
