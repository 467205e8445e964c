"""Seccomp profiles in the OCI and Docker JSON formats, read and written.

:func:`build_filter` builds a :class:`seccompx.Filter` from the ``linux.seccomp``
object of the OCI runtime specification, with Docker's extensions
(``archMap``, the old single ``name``, ``comment``, and ``includes`` and
``excludes`` by capability, architecture and kernel version).  It follows
runc where runc defines a behaviour; docs/profiles.md lists every rule and
the few places where seccompx differs.  :func:`dump` writes a filter back
as an OCI profile.

Use them through :meth:`seccompx.Filter.from_profile` and
:meth:`seccompx.Filter.to_profile`.
"""

from __future__ import annotations

import errno as _errno
import json
import os
from typing import (
    TYPE_CHECKING,
    Any,
    BinaryIO,
    Callable,
    Dict,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
    Type,
    TypeVar,
    Union,
)

from . import _core
from . import groups as _groups
from ._actions import ERRNO, KILL_PROCESS, KILL_THREAD, Action, ActionKind
from ._errors import FilterStateError, InvalidArgumentError, ProfileError, SeccompError
from ._profile_reader import (
    _ACTION_NAMES,
    _FLAG_LOG,
    _FLAG_SPEC_ALLOW,
    _FLAG_TSYNC,
    _FLAG_WAIT_KILLABLE,
    _OP_NAMES,
    CAPABILITIES,
    ExcludedEntry,
    ProfileReport,
    SkippedName,
    _libseccomp_label,
    _make_context,
    _show,
    join_path,
    parse_integer,
    _Profile,
    _Reader,
    _Rule,
    _want_object,
)
from ._types import Arch, Attr, Comparison, Op, _wait_kill_available

if TYPE_CHECKING:
    from ._filter import Filter

__all__ = [
    "CAPABILITIES",
    "ENOSYS_HEADROOM",
    "ENOSYS_MAX_RULES",
    "ExcludedEntry",
    "MAX_PROFILE_BYTES",
    "ProfileReport",
    "SkippedName",
    "build_filter",
    "dump",
    "parse_json",
    "read_file",
    "read_limited",
]

# The report classes live with the reader that fills them; they are
# documented and pickled as members of this module.
for _cls in (ExcludedEntry, ProfileReport, SkippedName):
    _cls.__module__ = __name__
del _cls

FilterT = TypeVar("FilterT", bound="Filter")
ProfileSource = Union[str, "os.PathLike[str]", Mapping[str, Any]]


# The ENOSYS stub covers native syscall numbers up to this many above the
# highest number the running libseccomp has a name for, so that it also
# covers syscalls added to the kernel after that libseccomp was released.
ENOSYS_HEADROOM = 128
# The stub never adds more rules than this, to bound the filter's size.
ENOSYS_MAX_RULES = 1024
_ARM_PRIVATE_BASE = 0x0F0000


# Reading JSON -------------------------------------------------------------

# The largest profile read from a file or stdin: far above the size of a
# profile that lists every syscall, and small enough that an endless
# source such as /dev/zero fails before it fills memory.
MAX_PROFILE_BYTES = 16 * 1024 * 1024


class _RepeatedKeys(Dict[str, Any]):
    """A decoded JSON object in which ``key`` appeared more than once."""

    key: str


def _object_from_pairs(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    result = dict(pairs)
    if len(result) == len(pairs):
        return result
    seen = set()
    for key, _ in pairs:
        if key in seen:
            break
        seen.add(key)
    marked = _RepeatedKeys(result)
    marked.key = key
    return marked


def _find_repeated_key(data: Any) -> Optional[Tuple[str, str]]:
    """Return the JSON path of the first object with a repeated key, and
    the key; a loop, not recursion, because the nesting may be deep."""
    pending: List[Tuple[str, Any]] = [("", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            if isinstance(value, _RepeatedKeys):
                return path, value.key
            children = [(join_path(path, key), item) for key, item in value.items()]
        elif isinstance(value, list):
            children = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            continue
        pending.extend(reversed(children))
    return None


def parse_json(text: Union[str, bytes], source: str = "<profile>") -> Any:
    """Decode profile JSON text; raise ProfileError naming the bad spot.

    An object that repeats a key is an error, because Python's and Go's
    decoders would both keep the last value silently.  Integers of
    more than 64 digits stay undecoded, so that the reader can reject them
    with their JSON path.
    """
    repeated = []

    def make_object(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
        result = _object_from_pairs(pairs)
        if isinstance(result, _RepeatedKeys):
            repeated.append(result)
        return result

    try:
        data = json.loads(text, object_pairs_hook=make_object, parse_int=parse_integer)
    except json.JSONDecodeError as error:
        raise ProfileError(
            f"{source} is not valid JSON: {error.msg} at line {error.lineno} "
            f"column {error.colno}"
        ) from None
    except (UnicodeDecodeError, RecursionError) as error:
        raise ProfileError(f"{source} is not valid JSON: {error}") from None
    found = _find_repeated_key(data) if repeated else None
    if found is not None:
        where, key = found
        path = join_path(where, key)
        raise ProfileError(
            f"duplicate key {_show(key)} in {source}: give each key once, "
            "because JSON decoders differ in which of the values they keep",
            path,
        )
    return data


def read_file(path: Union[str, "os.PathLike[str]"]) -> Any:
    """Read and decode a profile file; raise ProfileError if that fails."""
    shown = repr(os.fspath(path))
    try:
        with open(path, "rb") as file:
            data = read_limited(file, shown)
    except SeccompError:
        raise  # read_limited's ProfileError, which is also an OSError
    except OSError as error:
        raise ProfileError(
            f"cannot read profile {shown}: {error.strerror or error}"
        ) from error
    except ValueError:  # open() rejects a path with a NUL byte
        raise ProfileError(
            f"cannot read profile {shown}: the path contains a NUL byte"
        ) from None
    return parse_json(data, shown)


def read_limited(file: BinaryIO, label: str) -> bytes:
    """Read a binary file to its end; raise ProfileError past the limit.

    Reads at most MAX_PROFILE_BYTES + 1 bytes, in a loop because a pipe or
    raw file may return fewer bytes than requested before its end.  A
    non-blocking file that has no data before its end raises ProfileError,
    because a part of a profile is not the profile.  ``label`` names the
    source in the message.
    """
    chunks: List[bytes] = []
    total = 0
    while total <= MAX_PROFILE_BYTES:
        chunk = file.read(MAX_PROFILE_BYTES + 1 - total)
        if chunk is None:
            raise ProfileError(_no_data_message(label, total))
        if not chunk:
            break
        chunks.append(bytes(chunk))
        total += len(chunks[-1])
    data = b"".join(chunks)
    if len(data) > MAX_PROFILE_BYTES:
        raise ProfileError(
            f"profile {label} is over the limit of {MAX_PROFILE_BYTES} bytes "
            f"({MAX_PROFILE_BYTES // (1024 * 1024)} MiB); a seccomp profile "
            "is far smaller, so check that this is the right file"
        )
    return data


def _no_data_message(label: str, total: int) -> str:
    """Describe a non-blocking read that returned None after total bytes."""
    if total:
        state = f"had no more data after {total} bytes, before end of file"
    else:
        state = "had no data yet"
    return (
        f"cannot read profile {label}: the file is non-blocking and {state}; "
        "pass a blocking file, or wait until the writer has closed it"
    )


# Rule sets ----------------------------------------------------------------


def _normalize_rules(
    rules: Sequence[_Rule], warn: Callable[[str, str], None]
) -> List[_Rule]:
    """Drop rules that libseccomp could not keep, and sort the rest.

    Take two rules for a syscall with different actions, where the
    conditions of one include all conditions of the other (a rule without
    conditions is included in every rule).  libseccomp keeps one of them,
    depending on the order they arrive in, and Filter rejects the pair.
    This keeps the rule with fewer conditions, as libseccomp does when
    that one comes first, and reports the other.  Of two rules without
    conditions the first one in the profile wins, and equal conditions
    raise ProfileError naming both entries.  The sort makes the filter
    independent of the order of the entries.
    """
    by_syscall: Dict[str, List[_Rule]] = {}
    for rule in rules:
        by_syscall.setdefault(rule.syscall, []).append(rule)

    kept: List[_Rule] = []
    for syscall, group in by_syscall.items():
        chosen: List[_Rule] = []
        # sorted() is stable, so rules with as many conditions keep their
        # order in the profile.
        for rule in sorted(group, key=lambda item: len(item.comparisons)):
            if _keep_rule(syscall, rule, chosen, warn):
                chosen.append(rule)
        kept.extend(chosen)
    kept.sort(key=_Rule.sort_key)
    return kept


def _keep_rule(
    syscall: str,
    rule: _Rule,
    chosen: Sequence[_Rule],
    warn: Callable[[str, str], None],
) -> bool:
    conditions = set(rule.comparisons)
    for other in chosen:
        if other.comparisons == rule.comparisons and other.action == rule.action:
            return False
        if other.action == rule.action or not set(other.comparisons) <= conditions:
            continue
        if other.comparisons == rule.comparisons and rule.comparisons:
            raise ProfileError(
                f"{syscall} with the same argument conditions gets "
                f"{other.action!r} from {other.path} and {rule.action!r} "
                "here; give one action",
                rule.path,
            )
        if other.comparisons:
            cause = f"{other.path} gives it {other.action!r} for every call this rule matches"
        else:
            cause = f"{other.path} gives it {other.action!r} without conditions"
        warn(rule.path, f"the rule for {syscall} never applies, because {cause}")
        return False
    return True


def _enosys_range(profile: _Profile, base: Arch) -> Optional[Tuple[int, int]]:
    if not profile.native_numbers:
        return None
    highest = max(profile.native_numbers)
    # Leave out the numbers outside an ABI's main table, ARM's private
    # syscalls from 0xf0000 and x32's 0x40000000 bit, or the range would
    # span hundreds of thousands of numbers.
    table = [
        number
        for number in _groups.syscall_table(int(base)).values()
        if number < _ARM_PRIVATE_BASE
    ]
    last = max([highest] + table) + ENOSYS_HEADROOM
    return highest + 1, min(last, highest + ENOSYS_MAX_RULES)


def _enosys_blocker(profile: _Profile, base: Arch) -> Optional[str]:
    default = profile.default
    if default.kind in (ActionKind.ALLOW, ActionKind.LOG, ActionKind.TRACE):
        return f"the default action {default!r} already lets syscalls run"
    if default == ERRNO(_errno.ENOSYS):
        return "the default action already answers ENOSYS"
    if base is not Arch.native():
        return (
            f"the filter's main architecture {base} is not the native one, "
            "and libseccomp takes syscall numbers as native numbers"
        )
    if not profile.native_numbers:
        return f"the profile names no syscall that exists on {base}"
    return None


# Building the filter ------------------------------------------------------


def build_filter(
    cls: Type[FilterT],
    source: ProfileSource,
    *,
    capabilities: Optional[Iterable[Union[str, int]]] = None,
    kernel_version: Union[str, Sequence[int], None] = None,
    strict: bool = False,
    enosys_for_unknown: bool = False,
    arch: Union[Arch, str, int, None] = None,
    bad_arch: Action = KILL_PROCESS,
    no_new_privs: bool = True,
    optimize: Optional[int] = None,
) -> FilterT:
    """Build a ``cls`` filter from a profile; see Filter.from_profile."""
    for name, flag in (("strict", strict), ("enosys_for_unknown", enosys_for_unknown)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, not {flag!r}")
    mapping, label, prefix = _open_source(source)
    context = _make_context(arch, capabilities, kernel_version)
    report = ProfileReport(source=label, default_action=KILL_THREAD)
    reader = _Reader(report, context, strict, prefix)
    profile = reader.read(mapping)
    rules = _normalize_rules(profile.rules, reader.warn)
    _warn_multiplexed(rules, profile.arches, reader.warn)

    enosys: Optional[Tuple[int, int]] = None
    if enosys_for_unknown:
        blocker = _enosys_blocker(profile, context.arch)
        if blocker is None:
            enosys = _enosys_range(profile, context.arch)
        else:
            report.warnings.append(f"enosys_for_unknown not applied: {blocker}")

    options: Dict[str, Any] = dict(
        bad_arch=bad_arch,
        no_new_privs=no_new_privs,
        tsync=profile.flags.tsync,
        log=profile.flags.log,
        ssb=profile.flags.ssb,
        optimize=optimize,
    )
    filter = _build_filter(cls, profile, rules, enosys, options)
    report.rules = len(rules)
    report.syscalls = len({rule.syscall for rule in rules})
    report.enosys = enosys
    filter.profile_report = report
    return filter


def _open_source(source: ProfileSource) -> Tuple[Mapping[str, Any], str, str]:
    if isinstance(source, (str, os.PathLike)):
        label = os.fspath(source)
        data = read_file(source)
    elif isinstance(source, (Mapping, list, tuple, int, float)) or source is None:
        # Parsed JSON: anything but an object is reported as a bad profile.
        label = "<mapping>"
        data = source
    else:
        raise TypeError(
            "a profile must be a path or a mapping (parsed JSON), not "
            f"{type(source).__name__}"
        )
    mapping = _want_object(data, "")
    if "defaultAction" not in mapping and isinstance(mapping.get("linux"), Mapping):
        # A whole OCI config.json: use its linux.seccomp object.
        seccomp = mapping["linux"].get("seccomp")
        if seccomp is None:
            raise ProfileError(
                "this OCI config has no linux.seccomp object", "linux.seccomp"
            )
        return _want_object(seccomp, "linux.seccomp"), label, "linux.seccomp."
    return mapping, label, ""


def _warn_multiplexed(
    rules: List[_Rule], arches: Sequence[Any], warn: Callable[[str, str], None]
) -> None:
    """Report rules whose argument conditions libseccomp drops on the
    socketcall(2) or ipc(2) path of some architecture."""
    from . import _core
    from ._filter import _MULTIPLEXER

    for rule in rules:
        multiplexer = _MULTIPLEXER.get(rule.syscall)
        if not rule.comparisons or multiplexer is None:
            continue
        affected = [
            str(Arch.parse(arch))
            for arch in arches
            if _core.resolve_name(multiplexer, int(Arch.parse(arch))) >= 0
        ]
        if affected:
            warn(
                rule.path,
                f"the argument conditions on {rule.syscall} cannot be checked "
                f"on {', '.join(affected)}, where it is reached through "
                f"{multiplexer}(2) with its arguments in memory, so there the "
                "rule matches every argument value",
            )


def _build_filter(
    cls: Type[FilterT],
    profile: _Profile,
    rules: List[_Rule],
    enosys: Optional[Tuple[int, int]],
    options: Dict[str, Any],
) -> FilterT:
    batch = [(rule.action.value, rule.syscall, rule.comparisons) for rule in rules]
    stub: List[Tuple[int, int, Tuple[Comparison, ...]]] = []
    if enosys is not None:
        value = ERRNO(_errno.ENOSYS).value
        stub = [(value, number, ()) for number in range(enosys[0], enosys[1] + 1)]

    main_arches = profile.arches if not stub else profile.arches[:1]
    other_arches = profile.arches[len(main_arches):]
    filter = _new_filter(cls, profile, main_arches, options)
    other: Optional[FilterT] = None
    try:
        # The stub's numbered rules may only reach the native architecture,
        # so they go into a filter of its own that the rest is merged into.
        _add_batch(filter, stub + batch, rules, len(stub))
        if other_arches:
            other = _new_filter(cls, profile, other_arches, options)
            _add_batch(other, batch, rules, 0)
            filter.merge(other)
    except BaseException:
        filter.close()
        if other is not None:
            other.close()
        raise
    filter._rules = list(batch)
    return filter


def _new_filter(
    cls: Type[FilterT], profile: _Profile, arches: List[Arch], options: Dict[str, Any]
) -> FilterT:
    filter = cls(profile.default, arches=arches, **options)
    if profile.flags.wait_kill:
        try:
            filter.set_attr(Attr.WAIT_KILL, 1)
        except BaseException:
            filter.close()
            raise
    return filter


def _add_batch(
    filter: "Filter", batch: List[Tuple[Any, ...]], rules: List[_Rule], offset: int
) -> None:
    from ._filter import _MISSING_IGNORE

    try:
        filter._add_rules(batch, missing=_MISSING_IGNORE)
    except SeccompError as error:
        index, cause = _find_failing_rule(filter, batch)
        if index is None or index < offset:
            raise ProfileError(f"the profile's rules cannot be added: {error}") from error
        rule = rules[index - offset]
        raise ProfileError(
            f"the rule for {rule.syscall} cannot be added: {cause}", rule.path
        ) from error


def _find_failing_rule(
    filter: "Filter", batch: List[Tuple[Any, ...]]
) -> Tuple[Optional[int], str]:
    """Replay ``batch`` one rule at a time on a scratch filter."""
    from ._filter import _MISSING_IGNORE

    scratch = type(filter)(filter.default_action, arches=filter.arches)
    try:
        for index, item in enumerate(batch):
            try:
                scratch._add_rules([item], missing=_MISSING_IGNORE)
            except SeccompError as error:
                return index, str(error)
    finally:
        scratch.close()
    return None, ""


# Writing ------------------------------------------------------------------


def dump(filter: "Filter") -> Dict[str, Any]:
    """Return ``filter`` as an OCI seccomp profile (a JSON-ready dict)."""
    if filter.closed:
        raise FilterStateError(
            "cannot write a profile for a closed or uninitialised filter; "
            "build the filter with seccompx.Filter(default) and write it "
            "before close()",
            _errno.EBADF,
        )
    recorded = filter._rules
    if recorded is None:
        raise FilterStateError(
            "cannot write a profile for a filter made by merge(): its rules "
            "differ between architectures, which a profile cannot express; "
            "build one filter with all the rules instead",
            _errno.EINVAL,
        )
    profile: Dict[str, Any] = {}
    default = filter.default_action
    profile["defaultAction"] = _ACTION_NAMES[default.kind]
    if default.kind in (ActionKind.ERRNO, ActionKind.TRACE):
        profile["defaultErrnoRet"] = default.data
    profile["architectures"] = ["SCMP_ARCH_" + arch.name for arch in filter.arches]
    flags = _filter_flags(filter)
    if flags:
        profile["flags"] = flags
    report = filter.profile_report
    if report is not None and report.listener_path is not None:
        profile["listenerPath"] = report.listener_path
        if report.listener_metadata is not None:
            profile["listenerMetadata"] = report.listener_metadata
    profile["syscalls"] = _entries(_recorded_rules(recorded))
    return profile


def _filter_flags(filter: "Filter") -> List[str]:
    flags = []
    if filter.tsync:
        flags.append(_FLAG_TSYNC)
    if filter.log:
        flags.append(_FLAG_LOG)
    if filter.ssb:
        flags.append(_FLAG_SPEC_ALLOW)
    if _wait_kill_available() and filter.get_attr(Attr.WAIT_KILL):
        flags.append(_FLAG_WAIT_KILLABLE)
    return flags


def _each_rule(recorded: Sequence[Tuple[Any, ...]]) -> Iterator[Tuple[Any, ...]]:
    """Yield the recorded rules one by one.  The extension records a batch
    of Filter.allow() or deny() as one (action, names) entry."""
    for item in recorded:
        if isinstance(item[1], tuple):
            for name in item[1]:
                yield (item[0], name)
        else:
            yield item


def _recorded_rules(recorded: Sequence[Tuple[Any, ...]]) -> List[_Rule]:
    rules = []
    for position, item in enumerate(_each_rule(recorded)):
        action = Action.from_raw(int(item[0]))
        syscall = item[1]
        if not isinstance(syscall, str):
            name = _core.resolve_number(int(syscall), 0)
            if name is None:
                raise InvalidArgumentError(
                    f"rule {position} names syscall number {syscall}, which "
                    f"has no name in {_libseccomp_label()}, so a profile "
                    "cannot express it"
                )
            syscall = name
        comparisons = tuple(
            sorted(
                Comparison(int(c[0]), Op(c[1]), int(c[2]), int(c[3]))
                for c in (item[2] if len(item) > 2 and item[2] else ())
            )
        )
        rules.append(_Rule(action, syscall, comparisons, f"rule {position}"))

    def ignore(path: str, message: str) -> None:
        return None

    return _normalize_rules(rules, ignore)


def _entries(rules: Sequence[_Rule]) -> List[Dict[str, Any]]:
    grouped: Dict[Tuple[int, Tuple[Comparison, ...]], List[str]] = {}
    for rule in rules:
        names = grouped.setdefault((rule.action.value, rule.comparisons), [])
        if rule.syscall not in names:
            names.append(rule.syscall)
    entries = []
    for (value, comparisons), names in grouped.items():
        action = Action.from_raw(value)
        entry: Dict[str, Any] = {"names": names, "action": _ACTION_NAMES[action.kind]}
        if action.kind in (ActionKind.ERRNO, ActionKind.TRACE):
            entry["errnoRet"] = action.data
        if comparisons:
            entry["args"] = [_arg(cmp) for cmp in comparisons]
        entries.append(entry)
    return entries


def _arg(cmp: Comparison) -> Dict[str, Any]:
    return {
        "index": cmp.arg,
        "value": cmp.datum_a,
        "valueTwo": cmp.datum_b,
        "op": _OP_NAMES[Op(cmp.op)],
    }
