"""SyscallFilter: the official module's filter class over seccompx._core.

libseccomp 2.5 keeps one rule database per architecture: a rule goes into
every database present when it is added, an architecture added later
starts empty, and two rules for one syscall are resolved per database.
seccompx.Filter deliberately behaves otherwise (a new architecture gets
the earlier rules, and conflicting rules raise), so a SyscallFilter keeps
its own model of libseccomp's databases and builds the seccompx context
from it: one part per architecture, merged into one.

Most calls change the context in place.  The model lets the class rebuild
it where seccompx refuses what libseccomp allows:

* a second load() (seccompx loads a context once);
* removing the last architecture, and adding one to an empty filter;
* a rule that libseccomp ignores or lets replace an earlier one;
* reject_transaction(), which libseccomp 2.5 lacks.
"""

from __future__ import annotations

import errno as _errno
import io
import logging
import threading
from typing import (
    Any,
    Dict,
    FrozenSet,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from .. import _core
from .._errors import ArchitectureError, InvalidArgumentError
from .._filter import Filter, _fileno
from .._types import Attr as _Attr
from .._types import Comparison, Op
from . import _notify
from ._errors import (
    CompatArchitectureError,
    CompatFilterStateError,
    CompatInvalidArgumentError,
    CompatTypeError,
    CompatUnsupportedError,
    compat_error,
    no_architecture_error,
    translated,
)
from ._values import (
    INT32_MAX,
    INT32_MIN,
    arch_label,
    is_multiplexed,
    to_action,
    to_arch,
    to_comparison,
    to_range,
    to_syscall,
    to_u32,
)

__all__ = ["SyscallFilter"]

logger = logging.getLogger("seccompx")

# The attributes other than the default action, which is fixed when a
# context is created.
_ATTRIBUTES = (
    int(_Attr.BAD_ARCH_ACTION),
    int(_Attr.NO_NEW_PRIVS),
    int(_Attr.TSYNC),
    int(_Attr.TSKIP),
    int(_Attr.LOG),
    int(_Attr.SSB),
    int(_Attr.OPTIMIZE),
    int(_Attr.RAW_RC),
)
# The attributes libseccomp 2.5's seccomp_merge() requires to be equal
# (besides the default action); the merged filter keeps the others from
# the filter merged into.
_MERGE_COMPARED = (int(_Attr.NO_NEW_PRIVS), int(_Attr.TSYNC))

# The seccompx._core mode for rules naming a syscall that some
# architecture lacks: add them without a warning, as libseccomp does.
_MISSING_IGNORE = 2


class _Context(Filter):
    """A seccompx.Filter with libseccomp's default attributes.

    Filter.__init__ is skipped on purpose: it sets seccompx's secure
    defaults, while the official module leaves libseccomp's in place.
    """

    def __init__(self, default: int) -> None:
        _core.Context.__init__(self, default)
        self.strict = False
        self._rules = None
        self.profile_report = None

    def _warn_if_unused(self, stacklevel: int) -> None:
        # The official module never warns about filters it did not load.
        return None


# The model -----------------------------------------------------------------


class _Rule(NamedTuple):
    action: int
    syscall: Union[str, int]
    comparisons: Tuple[Comparison, ...]
    exact: bool
    # The native syscall number, and the comparisons as a set and as
    # libseccomp's chain (ordered by argument index): what decides whether
    # two rules cover the same calls.
    nr: int
    key: FrozenSet[Tuple[int, int, int, int]]
    chain: Tuple[Tuple[int, int, int, int], ...]


class _Priority(NamedTuple):
    syscall: Union[str, int]
    priority: int


_Operation = Union[_Rule, _Priority]


class _Database(NamedTuple):
    """One architecture's rules and priorities, in the order made."""

    token: int
    operations: Tuple[_Operation, ...] = ()

    def with_operation(self, operation: _Operation) -> "_Database":
        return self._replace(operations=self.operations + (operation,))


class _Model:
    """A model of libseccomp's state: the attributes, and one database per
    architecture in the order the architectures were added."""

    def __init__(self, default: int) -> None:
        self.default = default
        self.attributes: Dict[int, int] = {}
        self.databases: List[_Database] = [_Database(int(_core.arch_native()))]

    def find(self, token: int) -> int:
        for index, database in enumerate(self.databases):
            if database.token == token:
                return index
        return -1


# Deciding what libseccomp does with a rule ----------------------------------

_ADD = "add"
_IGNORE = "ignore"
_EXISTS = "exists"
_REFUSED = "refused"


def _values_overlap(
    first: FrozenSet[Tuple[int, int, int, int]],
    second: FrozenSet[Tuple[int, int, int, int]],
) -> bool:
    """Return whether some call matches both rules' comparisons: on every
    argument both compare, some value satisfies both.  seccompx._core
    refuses such a pair with different actions, as it does a pair where
    one rule's comparisons contain the other's."""
    by_arg = {comparison[0]: comparison for comparison in second}
    for comparison in first:
        other = by_arg.get(comparison[0])
        if other is None or other == comparison:
            continue
        if _core._comparisons_intersect(comparison, other) is None:
            return False
    return True


def _decide(database: _Database, rule: _Rule) -> Tuple[str, FrozenSet[int]]:
    """Return what libseccomp 2.5 does with ``rule`` in ``database``.

    libseccomp stores a rule's comparisons as a chain ordered by argument
    index.  Where one rule's chain is a prefix of the other's, it keeps
    the rule that matches more calls (as observed in 2.5.4):

    * a new rule that an earlier one covers is ignored, except that equal
      chains with different actions fail with EEXIST unless both are
      empty;
    * a new rule that covers earlier ones replaces them, except that a
      non-empty chain with another action fails with EEXIST.

    Other rules for the same syscall are kept side by side.  seccompx._core
    refuses a pair with different actions where one rule's comparisons
    are a subset of the other's, or where some call matches both
    (``_REFUSED``), because which of them applies to such a call depends
    on libseccomp's order.

    Returns the decision and, for ``_ADD``, the indices of the operations
    the new rule replaces.  The database holds only rules that no other
    covers, so a rule cannot both cover one earlier rule and be covered
    by another.
    """
    removed = set()
    refused = False
    for index, operation in enumerate(database.operations):
        if not isinstance(operation, _Rule) or operation.nr != rule.nr:
            continue
        other_action = operation.action != rule.action
        if rule.chain[: len(operation.chain)] == operation.chain:
            if other_action and operation.chain == rule.chain and rule.chain:
                return _EXISTS, frozenset()
            return _IGNORE, frozenset()
        if operation.chain[: len(rule.chain)] == rule.chain:
            if other_action and rule.chain:
                return _EXISTS, frozenset()
            removed.add(index)
        elif other_action and (
            operation.key <= rule.key
            or rule.key <= operation.key
            or _values_overlap(operation.key, rule.key)
        ):
            refused = True
    if refused:
        return _REFUSED, frozenset()
    return _ADD, frozenset(removed)


# Building contexts -----------------------------------------------------------


def _new_part(model: _Model, token: Optional[int]) -> _Context:
    """Return a context with the model's attributes and one architecture
    (the native one for None), without rules."""
    part = _Context(model.default)
    for attr, value in model.attributes.items():
        # Set only values that differ: libseccomp refuses some attributes
        # the kernel lacks even when they are set to their defaults.
        if part._get_attr(attr) != value:
            part._set_attr(attr, value)
    native = int(_core.arch_native())
    if token is not None and token != native:
        # NOTE: seccompx._core adds before it removes, so an architecture
        # of the other byte order than the native one cannot be built.
        part._add_arch(token, _MISSING_IGNORE)
        part._remove_arch(native)
    return part


def _only_part(model: _Model, token: int) -> _Context:
    """Return the part for a filter whose only architecture is ``token``."""
    try:
        return _new_part(model, token)
    except ArchitectureError as error:
        if error.errno != _errno.EDOM:
            raise
        raise CompatUnsupportedError(
            f"a filter for {arch_label(token)} alone cannot be built: its "
            "byte order differs from the native architecture's, and "
            "seccompx builds every filter from one that holds the native "
            "architecture",
            _errno.EDOM,
        ) from None


def _apply(context: _Context, operation: _Operation) -> None:
    if isinstance(operation, _Rule):
        context._add_rule(
            operation.action,
            operation.syscall,
            operation.comparisons,
            operation.exact,
            _MISSING_IGNORE,
        )
    else:
        context._syscall_priority(operation.syscall, operation.priority)


def _build(model: _Model) -> _Context:
    """Build the context that the model describes."""
    if not model.databases:
        # A placeholder: libseccomp's filter has no architecture, so the
        # SyscallFilter raises for rules, exports and loads until one is
        # added.
        return _new_part(model, None)
    parts = []
    for database in model.databases:
        if len(model.databases) == 1:
            part = _only_part(model, database.token)
        else:
            part = _new_part(model, database.token)
        for operation in database.operations:
            _apply(part, operation)
        parts.append(part)
    context = parts[0]
    for part in parts[1:]:
        context._merge(part)
    return context


# The filter ------------------------------------------------------------------


class SyscallFilter:
    """A seccomp filter, built like the official ``seccomp.SyscallFilter``.

    ``defaction`` is the action for syscalls that no rule matches.  The
    attributes start at libseccomp's defaults (``ACT_BADARCH`` is ``KILL``,
    ``CTL_NNP`` is 1, ``CTL_TSYNC`` is 0), as in the official module.
    """

    def __init__(self, defaction: int) -> None:
        action = to_action(defaction)
        with translated():
            self._context = _Context(action)
        self._model = _Model(action)
        # The databases when each open transaction started.
        self._transactions: List[List[_Database]] = []
        self._lock = threading.RLock()

    def _rebuild(self, reason: str) -> None:
        logger.debug("rebuilding a compat filter's context: %s", reason)
        self._context = _build(self._model)

    def _require_arch(self, what: str) -> None:
        if not self._model.databases:
            raise no_architecture_error(what)

    # Whole-filter operations ---------------------------------------------

    def reset(self, defaction: Optional[int] = None) -> None:
        """Remove every rule, extra architecture and attribute change.

        The default action becomes ``defaction``; without one (or with -1,
        the official module's marker for none) it stays as it is.  Open
        transactions are dropped.
        """
        if defaction is None or defaction == -1:
            action = None
        else:
            action = to_action(defaction)
        with self._lock, translated():
            if action is None:
                action = self._model.default
            context = _Context(action)
            self._context = context
            self._model = _Model(action)
            self._transactions.clear()

    def merge(self, filter: "SyscallFilter") -> None:
        """Move the rules and architectures of ``filter`` into this one.

        The filters must have the same default action, ``CTL_NNP`` and
        ``CTL_TSYNC``, and no architecture in common.  The merged filter
        keeps this one's other attributes.  ``filter`` is reset afterwards:
        it keeps its default action and is otherwise empty.
        """
        if not isinstance(filter, SyscallFilter):
            raise CompatTypeError(
                f"merge() takes a SyscallFilter, not {type(filter).__name__}"
            )
        if filter is self:
            raise CompatInvalidArgumentError("cannot merge a filter into itself")
        # Lock in a fixed order, so that a.merge(b) and b.merge(a) in two
        # threads cannot deadlock.
        first, second = sorted((self, filter), key=id)
        with first._lock, second._lock, translated():
            self._check_merge(filter)
            other = filter._context
            for attr in _ATTRIBUTES:
                if attr in _MERGE_COMPARED:
                    continue
                value = self._context._get_attr(attr)
                if other._get_attr(attr) != value:
                    other._set_attr(attr, value)
            self._context._merge(other)
            self._model.databases.extend(filter._model.databases)
            default = filter._model.default
            filter._context = _Context(default)
            filter._model = _Model(default)
            filter._transactions.clear()

    def _check_merge(self, other: "SyscallFilter") -> None:
        self._require_arch("merge filters")
        if not other._model.databases:
            raise no_architecture_error("merge a filter")
        for database in other._model.databases:
            if self._model.find(database.token) >= 0:
                raise CompatArchitectureError(
                    "cannot merge: both filters contain architecture "
                    f"{arch_label(database.token)}",
                    _errno.EEXIST,
                )
        mine, theirs = self._context, other._context
        for attr in (int(_Attr.DEFAULT_ACTION),) + _MERGE_COMPARED:
            if mine._get_attr(attr) != theirs._get_attr(attr):
                raise CompatInvalidArgumentError(
                    f"cannot merge filters whose {_Attr(attr).name} "
                    f"attribute differs ({mine._get_attr(attr):#x} here, "
                    f"{theirs._get_attr(attr):#x} in the other); make them "
                    "equal first"
                )

    # Architectures -------------------------------------------------------

    def exist_arch(self, arch: Any) -> bool:
        """Return whether the filter covers ``arch`` (an Arch or a token)."""
        token = to_arch(arch)
        with self._lock, translated():
            # An unknown token raises, as in the official module.
            self._context._has_arch(token)
            return self._model.find(token) >= 0

    def add_arch(self, arch: Any) -> None:
        """Cover another architecture.

        Rules added earlier do not apply to it, as in libseccomp 2.5.
        """
        token = to_arch(arch)
        with self._lock, translated():
            self._context._has_arch(token)
            if self._model.find(token) >= 0:
                raise CompatArchitectureError(
                    f"architecture {arch_label(token)} is already in the "
                    "filter",
                    _errno.EEXIST,
                )
            if self._model.databases:
                self._context._merge(_new_part(self._model, token))
            else:
                self._context = _only_part(self._model, token)
            self._model.databases.append(_Database(token))

    def remove_arch(self, arch: Any) -> None:
        """Stop covering ``arch``.

        Removing the last architecture is allowed, as in the official
        module; the filter then takes no rules until add_arch().
        """
        token = to_arch(arch)
        with self._lock, translated():
            self._context._has_arch(token)
            index = self._model.find(token)
            if index < 0:
                raise CompatArchitectureError(
                    f"architecture {arch_label(token)} is not in the filter",
                    _errno.EEXIST,
                )
            database = self._model.databases.pop(index)
            if database.operations or not self._model.databases:
                # seccompx._core would keep the removed architecture's
                # rules in its own records; start from the model instead.
                self._rebuild(f"removed {arch_label(token)}")
            else:
                self._context._remove_arch(token)

    # Attributes ----------------------------------------------------------

    def get_attr(self, attr: int) -> int:
        """Return the value of attribute ``attr`` (one of ``Attr.*``)."""
        number = to_range(attr, "attribute", INT32_MIN, INT32_MAX)
        with self._lock, translated():
            self._require_arch("read an attribute")
            return int(self._context._get_attr(number))

    def set_attr(self, attr: int, value: int) -> None:
        """Set attribute ``attr`` (one of ``Attr.*``) to ``value``."""
        number = to_range(attr, "attribute", INT32_MIN, INT32_MAX)
        raw = to_u32(value, "attribute value")
        with self._lock, translated():
            self._require_arch("set an attribute")
            self._context._set_attr(number, raw)
            # libseccomp may store another value than given (any nonzero
            # flag reads back as 1).
            self._model.attributes[number] = int(self._context._get_attr(number))

    # Rules ---------------------------------------------------------------

    def syscall_priority(self, syscall: Union[str, int], priority: int) -> None:
        """Hint that ``syscall`` is frequent: 0-255, higher is tested first."""
        level = to_range(priority, "priority", INT32_MIN, INT32_MAX)
        if not 0 <= level <= 255:
            raise CompatInvalidArgumentError(
                f"syscall priority {level} is out of range: use 0..255"
            )
        operation = _Priority(to_syscall(syscall), level)
        with self._lock, translated():
            self._require_arch("set a syscall priority")
            self._context._syscall_priority(operation.syscall, level)
            self._record(operation)

    def add_rule(self, action: int, syscall: Union[str, int], *args: Any) -> None:
        """Apply ``action`` to ``syscall`` when every Arg comparison holds.

        libseccomp may rewrite the rule where the syscall is multiplexed
        (socket calls on 32-bit x86); add_rule_exactly() forbids that.
        """
        self._add_rule(action, syscall, args, exact=False)

    def add_rule_exactly(
        self, action: int, syscall: Union[str, int], *args: Any
    ) -> None:
        """Add a rule exactly as given, or fail where it cannot be."""
        self._add_rule(action, syscall, args, exact=True)

    def _add_rule(
        self, action: Any, syscall: Any, args: Sequence[Any], exact: bool
    ) -> None:
        value = to_action(action)
        name_or_number = to_syscall(syscall)
        if len(args) > 6:
            raise CompatInvalidArgumentError(
                "a rule takes at most 6 Arg comparisons, one per syscall "
                f"argument, but {len(args)} were given"
            )
        comparisons = tuple(to_comparison(arg) for arg in args)
        with self._lock, translated():
            self._require_arch("add a rule")
            rule = _make_rule(value, name_or_number, comparisons, exact)
            decisions = [_decide(db, rule) for db in self._model.databases]
            if all(d == (_ADD, frozenset()) for d in decisions):
                try:
                    self._context._add_rule(
                        value, name_or_number, comparisons, exact, _MISSING_IGNORE
                    )
                except InvalidArgumentError as error:
                    if error.errno != _errno.EEXIST:
                        raise
                    # seccompx._core compared the rule with rules that
                    # libseccomp has since dropped as covered; rebuild
                    # without them.
                    self._add_by_rebuild(rule, decisions)
                    return
                self._record(rule)
                return
            self._add_by_rebuild(rule, decisions)

    def _add_by_rebuild(
        self, rule: _Rule, decisions: Sequence[Tuple[str, FrozenSet[int]]]
    ) -> None:
        """Add a rule that libseccomp ignores, or lets replace earlier
        rules, by rebuilding the context from the changed model."""
        self._check_clashing_rule(rule, decisions)
        databases = []
        for database, (decision, removed) in zip(self._model.databases, decisions):
            if decision == _IGNORE:
                databases.append(database)
                continue
            kept = tuple(
                operation
                for index, operation in enumerate(database.operations)
                if index not in removed
            )
            databases.append(database._replace(operations=kept + (rule,)))
        if databases == self._model.databases:
            logger.debug(
                "compat rule for %r ignored: an earlier rule covers it, as "
                "in libseccomp",
                rule.syscall,
            )
            return

        old = self._model.databases
        self._model.databases = databases
        try:
            self._rebuild(f"rule for {rule.syscall!r} covers earlier rules")
        except BaseException:
            self._model.databases = old
            raise

    def _check_clashing_rule(
        self, rule: _Rule, decisions: Sequence[Tuple[str, FrozenSet[int]]]
    ) -> None:
        """Raise what libseccomp (or seccompx) raises for a clashing rule."""
        _check_rule_alone(self._model.default, rule)
        if any(decision == _EXISTS for decision, _ in decisions):
            raise CompatInvalidArgumentError(
                f"rule for {rule.syscall!r} clashes with an earlier rule for "
                "the same syscall with another action: their comparisons "
                "are equal, or the new rule's are fewer (EEXIST)",
                _errno.EEXIST,
            )
        if any(decision == _REFUSED for decision, _ in decisions):
            # NOTE: libseccomp keeps both rules.  seccompx._core cannot add
            # such a pair, so this differs from the official module.
            raise CompatInvalidArgumentError(
                f"rule for {rule.syscall!r} and an earlier rule for the same "
                "syscall have different actions, and some calls match both; "
                "libseccomp would keep both and apply whichever it tests "
                "first to such calls, which seccompx refuses; make the "
                "comparisons of one rule exclude the other's calls",
                _errno.EEXIST,
            )
        if rule.exact and len(self._model.databases) > 1:
            raise CompatUnsupportedError(
                f"rule for {rule.syscall!r} cannot be added exactly: "
                "libseccomp takes exact rules only in filters with one "
                "architecture (EOPNOTSUPP); use add_rule()"
            )
        for database in self._model.databases:
            if _clashes(database, rule) and is_multiplexed(
                database.token, rule.syscall
            ):
                # NOTE: libseccomp rewrites such rules into rules for the
                # multiplexer, which changes how they clash.  The model
                # does not follow that rewrite, so this raises.
                raise CompatUnsupportedError(
                    f"rule for {rule.syscall!r} clashes with an earlier rule "
                    f"on {arch_label(database.token)}, which reaches the "
                    "call through socketcall(2) or ipc(2); seccompx.compat "
                    "cannot reproduce how libseccomp resolves that"
                )

    def _record(self, operation: _Operation) -> None:
        self._model.databases = [
            database.with_operation(operation) for database in self._model.databases
        ]

    # Loading and exporting -----------------------------------------------

    def load(self) -> None:
        """Load the filter into the kernel for the calling thread (or the
        whole process with ``CTL_TSYNC``).

        Loading again stacks another copy of the filter, as in the official
        module.  A thread that did not inherit the filter can load it so.
        """
        with self._lock, translated():
            self._require_arch("load the filter")
            if self._context.loaded:
                self._rebuild("loading it again")
            context = self._context
            err = context._load()
            if err is not None:
                raise compat_error(context._load_error(err))

    def export_pfc(self, file: Any) -> None:
        """Write the filter as libseccomp's pseudo filter code to ``file``.

        ``file`` is an object with ``fileno()``, a descriptor, or an
        in-memory text or binary stream.
        """
        self._export(file, pfc=True)

    def export_bpf(self, file: Any) -> None:
        """Write the BPF program the kernel would receive to ``file``."""
        self._export(file, pfc=False)

    def export_bpf_mem(self) -> bytes:
        """Return the BPF program the kernel would receive."""
        with self._lock, translated():
            self._require_arch("export the filter")
            return bytes(self._context._export_bpf())

    def _export(self, file: Any, pfc: bool) -> None:
        fd = _export_fd(file)
        with self._lock, translated():
            self._require_arch("export the filter")
            context = self._context
            if fd is not None:
                context._export_fd(fd, pfc)
                return
            data: Union[str, bytes] = (
                context._export_pfc() if pfc else context._export_bpf()
            )
        if isinstance(data, str) and not isinstance(file, io.TextIOBase):
            data = data.encode()
        file.write(data)

    def precompute(self) -> None:
        """Not available: libseccomp 2.5 has no seccomp_precompute().

        libseccomp 2.6 precomputes the program so that a later load() is
        async-signal-safe; load() here always generates it, so this raises
        rather than pretend.
        """
        raise CompatUnsupportedError(
            "precompute() needs seccomp_precompute() from libseccomp 2.6, "
            f"but seccompx runs libseccomp {_version()}; load() generates "
            "the program itself, and is not async-signal-safe"
        )

    # Transactions --------------------------------------------------------

    def start_transaction(self) -> None:
        """Start a transaction: reject_transaction() undoes what follows.

        Transactions nest.  They cover rules, architectures, priorities and
        merges; attribute values stay as set, as in libseccomp 2.6.
        """
        with self._lock:
            self._transactions.append(list(self._model.databases))

    def commit_transaction(self) -> None:
        """Keep the changes of the innermost open transaction."""
        with self._lock:
            self._innermost_transaction("commit")

    def reject_transaction(self) -> None:
        """Undo the changes of the innermost open transaction."""
        with self._lock, translated():
            saved = self._innermost_transaction("reject")
            if saved == self._model.databases:
                return
            self._model.databases = saved
            self._rebuild("transaction rejected")

    def _innermost_transaction(self, verb: str) -> List[_Database]:
        if not self._transactions:
            raise CompatFilterStateError(
                f"cannot {verb} a transaction: none is open; call "
                "start_transaction() first",
                _errno.EINVAL,
            )
        return self._transactions.pop()

    # Notifications -------------------------------------------------------

    def get_notify_fd(self) -> int:
        """Return the notification descriptor of the loaded NOTIFY filter."""
        return _notify.notify_fd(self._context)

    def receive_notify(self) -> "_notify.Notification":
        """Wait for the next notification and return it.

        The GIL is released while waiting, so other threads keep running.
        """
        return _notify.receive(_notify.notify_fd(self._context))

    def respond_notify(self, response: Any) -> None:
        """Send ``response`` (a NotificationResponse) to the kernel."""
        _notify.respond(_notify.notify_fd(self._context), response)

    def __reduce__(self) -> Any:
        raise CompatTypeError(
            "a SyscallFilter cannot be pickled; send its program from "
            "export_bpf_mem() instead"
        )

    def __repr__(self) -> str:
        with self._lock:
            arches = ",".join(
                arch_label(database.token) for database in self._model.databases
            )
            rules = sum(
                isinstance(operation, _Rule)
                for database in self._model.databases
                for operation in database.operations
            )
            return (
                f"<seccompx.compat.SyscallFilter default="
                f"{self._model.default:#010x} arches={arches or '-'} "
                f"rules={rules}>"
            )


SyscallFilter.__module__ = "seccompx.compat"


def _make_rule(
    action: int,
    syscall: Union[str, int],
    comparisons: Tuple[Comparison, ...],
    exact: bool,
) -> _Rule:
    if isinstance(syscall, str):
        nr = int(_core.resolve_name(syscall, 0))
    else:
        nr = syscall
    key = frozenset(
        (int(c.arg), int(c.op), int(c.datum_a), int(c.datum_b)) for c in comparisons
    )
    return _Rule(action, syscall, comparisons, exact, nr, key, tuple(sorted(key)))


def _clashes(database: _Database, rule: _Rule) -> bool:
    """Return whether ``database`` has a rule for the same syscall with
    another action."""
    return any(
        isinstance(operation, _Rule)
        and operation.nr == rule.nr
        and operation.action != rule.action
        for operation in database.operations
    )


def _check_rule_alone(default: int, rule: _Rule) -> None:
    """Check a rule as libseccomp does before it looks at other rules.

    A rule that libseccomp then ignores never reaches seccompx._core, so
    its action and comparisons are checked here.
    """
    # Raises for an action seccompx._core (and libseccomp) rejects.
    _core.Context(rule.action).close()
    if rule.action == default:
        raise CompatInvalidArgumentError(
            f"rule for {rule.syscall!r} has the filter's default action; "
            "libseccomp rejects rules that change nothing",
            _errno.EACCES,
        )
    seen = set()
    for comparison in rule.comparisons:
        if not 0 <= comparison.arg <= 5:
            raise CompatInvalidArgumentError(
                f"argument index {comparison.arg} is out of range: syscalls "
                "have arguments 0 to 5"
            )
        if not Op.NE <= comparison.op <= Op.MASKED_EQ:
            raise CompatInvalidArgumentError(
                f"comparison operator {comparison.op} is unknown: use NE, "
                "LT, LE, EQ, GE, GT or MASKED_EQ"
            )
        if comparison.arg in seen:
            raise CompatInvalidArgumentError(
                f"argument {comparison.arg} is compared twice in one rule"
            )
        seen.add(comparison.arg)


def _export_fd(file: Any) -> Optional[int]:
    """Return the descriptor to export to, or None to call file.write()."""
    if isinstance(file, int) and not isinstance(file, bool):
        return file
    try:
        return _fileno(file)
    except (io.UnsupportedOperation, AttributeError, TypeError):
        if callable(getattr(file, "write", None)):
            return None
        raise CompatTypeError(
            "export needs an object with fileno() or write(), or a file "
            f"descriptor, not {type(file).__name__}"
        ) from None


def _version() -> str:
    return ".".join(str(part) for part in _core.runtime_version())
