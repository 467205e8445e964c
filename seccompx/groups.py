"""Named syscall groups, such as ``@basic-io`` or ``@network-io``.

The groups and their members follow systemd's syscall filter sets
(systemd v257).  A group can include other groups: ``@system-service``
lists ``@basic-io`` among its entries.  The data ships with seccompx in
``syscall_groups.json``.

Members are syscall names from every architecture, and the running
libseccomp may not know the newest ones.  The functions that build rules
therefore keep only the members that exist on the filter's architectures.
They skip the rest quietly, with a debug message on the ``seccompx``
logger.

Use a group with :meth:`seccompx.Filter.allow_group` and
:meth:`seccompx.Filter.deny_group`, or name it in a profile's ``names``.
"""

from __future__ import annotations

import difflib
import errno as _errno
import functools
import json
import logging
import os
import re
from typing import (
    TYPE_CHECKING,
    Dict,
    Iterable,
    List,
    NamedTuple,
    Optional,
    Sequence,
    Tuple,
    Union,
)

from . import _core
from ._actions import ALLOW, Action
from ._errors import InvalidArgumentError, UnknownSyscallError, _SYSCALL_RANGES
from ._types import Arch

if TYPE_CHECKING:
    from ._filter import Filter

__all__ = [
    "SyscallGroup",
    "group_names",
    "get_group",
    "is_group_name",
    "expand",
    "available",
    "group_rules",
]

log = logging.getLogger("seccompx")

_DATA_FILE = os.path.join(os.path.dirname(__file__), "syscall_groups.json")


class SyscallGroup(NamedTuple):
    """One named group.

    ``entries`` are the group's own entries as listed in the data: syscall
    names and names of included groups (starting with ``@``).
    """

    name: str
    description: str
    entries: Tuple[str, ...]


@functools.lru_cache(maxsize=1)
def _groups() -> Dict[str, SyscallGroup]:
    with open(_DATA_FILE, encoding="utf-8") as file:
        data = json.load(file)
    groups: Dict[str, SyscallGroup] = {}
    for name, body in data["groups"].items():
        groups[name] = SyscallGroup(
            name, str(body["description"]), tuple(body["entries"])
        )
    return groups


def group_names() -> Tuple[str, ...]:
    """Return the names of every group, in the order docs/groups.md uses."""
    return tuple(_groups())


def is_group_name(name: object) -> bool:
    """Return whether ``name`` is spelled like a group name (``@...``)."""
    return isinstance(name, str) and name.startswith("@")


def get_group(name: str) -> SyscallGroup:
    """Return the group called ``name``.

    Raises TypeError if ``name`` is not a str and InvalidArgumentError if
    no group has that name.
    """
    if not isinstance(name, str):
        raise TypeError(
            f"a syscall group name must be a str such as '@basic-io', not "
            f"{type(name).__name__} {repr(name)[:80]}"
        )
    group = _groups().get(name)
    if group is None:
        known = ", ".join(group_names())
        suggestions = close_group_names(name)
        if suggestions:
            guess = ", ".join(map(repr, suggestions))
            message = (
                f"unknown syscall group {name!r}; did you mean {guess}? "
                f"The known groups are {known}"
            )
        else:
            message = f"unknown syscall group {name!r}; known groups are {known}"
        raise InvalidArgumentError(message)
    return group


def close_group_names(name: str, limit: int = 3) -> Tuple[str, ...]:
    """Return up to ``limit`` group names spelled like ``name``, best first.

    The match is difflib's, with the cutoff that suggestions for unknown
    syscall names use.
    """
    # Longer strings cannot be close to a group name, and difflib is slow
    # on them.
    if not isinstance(name, str) or not 0 < len(name) <= 64:
        return ()
    return tuple(
        difflib.get_close_matches(name, group_names(), n=limit, cutoff=0.6)
    )


def expand(name: str) -> Tuple[str, ...]:
    """Return every syscall name in group ``name``, included groups too.

    Names appear once each, in the order of the entries, and include names
    the running libseccomp may not know.
    """
    members: Dict[str, None] = {}
    _expand_into(get_group(name), members, (name,))
    return tuple(members)


def _expand_into(
    group: SyscallGroup, members: Dict[str, None], chain: Tuple[str, ...]
) -> None:
    for entry in group.entries:
        if not is_group_name(entry):
            members[entry] = None
            continue
        if entry in chain:
            raise InvalidArgumentError(
                "syscall group data is inconsistent: "
                + " -> ".join(chain + (entry,))
                + " includes itself"
            )
        _expand_into(get_group(entry), members, chain + (entry,))


# libseccomp 2.5 gives syscalls that an architecture multiplexes through
# socketcall(2) pseudo numbers -101..-120, those it multiplexes through
# ipc(2) -201..-224, and those it lacks -10001 and below.
_PSEUDO_SOCKET = range(-199, -100)
_PSEUDO_IPC = range(-299, -200)
_SYSCALL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@functools.lru_cache(maxsize=8192)
def syscall_number(name: str, token: int) -> Optional[int]:
    """Return libseccomp's number for ``name`` on architecture ``token``.

    The number is negative for a pseudo syscall; None means libseccomp
    does not know the name on any architecture.
    """
    if not _SYSCALL_NAME.match(name):
        return None
    try:
        return int(_core.resolve_name(name, token))
    except UnknownSyscallError:
        return None


def syscall_exists(name: str, token: int) -> bool:
    """Return whether a rule for ``name`` can match on architecture ``token``.

    True for a real syscall there, and for one that the architecture
    multiplexes through socketcall(2) or ipc(2), which libseccomp filters
    by the multiplexer's first argument.
    """
    number = syscall_number(name, token)
    if number is None:
        return False
    if number >= 0:
        return True
    if number in _PSEUDO_SOCKET:
        return (syscall_number("socketcall", token) or -1) >= 0
    if number in _PSEUDO_IPC:
        return (syscall_number("ipc", token) or -1) >= 0
    return False


@functools.lru_cache(maxsize=None)
def syscall_table(token: int) -> Dict[str, int]:
    """Return the syscall names libseccomp has on an architecture, with
    their numbers there.

    ``token`` is an :class:`Arch` value.  The table is built once per
    architecture by asking libseccomp for the name of every number in the
    ranges that syscall tables use.
    """
    names = set()
    for numbers in _SYSCALL_RANGES:
        for number in numbers:
            name = _core.resolve_number(number, token)
            if name is not None:
                names.add(name)
    # Ask for each number by name: libseccomp also names some numbers
    # outside an ABI's own range (x32 numbers without their 0x40000000 bit).
    return {name: int(_core.resolve_name(name, token)) for name in sorted(names)}


def _arch_tokens(arches: Optional[Iterable[Union[Arch, str, int]]]) -> Tuple[int, ...]:
    if arches is None:
        return (int(Arch.native()),)
    if isinstance(arches, (str, bytes, int)):
        raise InvalidArgumentError(
            f"arches must be a list of architectures, not {arches!r}; "
            f"write [{arches!r}]"
        )
    tokens = []
    for arch in arches:
        token = Arch.parse(arch)
        if token is Arch.NATIVE:
            token = Arch.native()
        tokens.append(int(token))
    return tuple(tokens)


def available(
    name: str, arches: Optional[Iterable[Union[Arch, str, int]]] = None
) -> Tuple[str, ...]:
    """Return the members of group ``name`` that exist on any of ``arches``.

    ``arches`` defaults to the native architecture.  Members that the
    running libseccomp does not know there are left out, with a debug
    message on the ``seccompx`` logger.
    """
    tokens = _arch_tokens(arches)
    kept, missing = _split_members(expand(name), tokens)
    if missing:
        log.debug(
            "group %s: skipped %d members not known on %s: %s",
            name,
            len(missing),
            ", ".join(str(Arch(token)) for token in tokens),
            " ".join(missing),
        )
    return kept


def _split_members(
    members: Sequence[str], tokens: Sequence[int]
) -> Tuple[Tuple[str, ...], Tuple[str, ...]]:
    kept: List[str] = []
    missing: List[str] = []
    for member in members:
        if any(syscall_exists(member, token) for token in tokens):
            kept.append(member)
        else:
            missing.append(member)
    return tuple(kept), tuple(missing)


def group_rules(
    name: str,
    action: Action = ALLOW,
    arches: Optional[Iterable[Union[Arch, str, int]]] = None,
) -> List[Tuple[Action, str]]:
    """Return ``(action, syscall)`` rules for the members of group ``name``.

    Only members that exist on ``arches`` (the native architecture by
    default) are included, so the list can go straight to
    :meth:`seccompx.Filter.add_rules`.  ``action`` is checked here, so a
    bad one raises now rather than when the rules are added.
    """
    from ._filter import _action_value

    if not isinstance(action, Action):
        raise TypeError(
            f"action must be a seccompx.Action such as ALLOW or ERRNO(1), "
            f"not {type(action).__name__} {repr(action)[:80]}"
        )
    _action_value(action)  # raises UnsupportedError if the kernel lacks it
    return [(action, member) for member in available(name, arches)]


def add_groups(filter: "Filter", names: Sequence[str], action_value: int) -> int:
    """Add a rule with ``action_value`` for each member of the groups.

    Members that exist on none of the filter's architectures are skipped
    quietly, and members missing on only some of them raise no
    UnmatchableRuleWarning.  Returns the number of rules added.
    """
    from ._filter import _MISSING_IGNORE

    if not names:
        raise InvalidArgumentError(
            "no group given; name at least one, such as '@basic-io'"
        )
    default = filter.default_action
    if action_value == default.value:
        noun = "the group" if len(names) == 1 else "the groups"
        raise InvalidArgumentError(
            f"{noun} {', '.join(map(repr, names))} would get {default}, "
            "which is the filter's default action, so their rules would "
            "change nothing and libseccomp rejects such rules; choose "
            "another action",
            _errno.EACCES,
        )
    tokens = tuple(int(arch) for arch in filter.arches)
    members: Dict[str, None] = {}
    for name in names:
        for member in available(name, tokens):
            members[member] = None
    batch = [(action_value, member) for member in members]
    added = int(filter._add_rules(batch, missing=_MISSING_IGNORE))
    filter._record_rules(batch)
    return added
