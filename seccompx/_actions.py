"""Filter actions: what the kernel does when a rule or the default matches."""

from __future__ import annotations

import enum
# typing costs about 2 ms to import, a third of the package's start-up,
# and is needed only by type checkers, which treat this name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Dict

from ._errors import InvalidArgumentError

__all__ = [
    "ActionKind",
    "Action",
    "ALLOW",
    "KILL_PROCESS",
    "KILL_THREAD",
    "TRAP",
    "LOG",
    "NOTIFY",
    "ERRNO",
    "TRACE",
    "MAX_ERRNO",
    "MAX_TRACE",
]

# libseccomp (src/api.c, 2.5 and 2.6) rejects an errno data of 4095 and
# above, because the kernel's syscall return convention treats only
# -1..-4095 as errors.
MAX_ERRNO = 4094
# SECCOMP_RET_DATA is 16 bits wide.
MAX_TRACE = 0xFFFF

_RET_ACTION_FULL = 0xFFFF0000
_RET_DATA = 0x0000FFFF


class ActionKind(enum.IntEnum):
    """The action part of a seccomp return value (``SECCOMP_RET_*``)."""

    KILL_PROCESS = 0x80000000
    KILL_THREAD = 0x00000000
    TRAP = 0x00030000
    ERRNO = 0x00050000
    NOTIFY = 0x7FC00000
    TRACE = 0x7FF00000
    LOG = 0x7FFC0000
    ALLOW = 0x7FFF0000

    @property
    def kernel_name(self) -> str:
        """The name in ``/proc/sys/kernel/seccomp/actions_avail``."""
        return _KERNEL_NAMES[self]


_KERNEL_NAMES: Dict[ActionKind, str] = {
    ActionKind.KILL_PROCESS: "kill_process",
    ActionKind.KILL_THREAD: "kill_thread",
    ActionKind.TRAP: "trap",
    ActionKind.ERRNO: "errno",
    ActionKind.NOTIFY: "user_notif",
    ActionKind.TRACE: "trace",
    ActionKind.LOG: "log",
    ActionKind.ALLOW: "allow",
}

_WITH_DATA = (ActionKind.ERRNO, ActionKind.TRACE)


class Action:
    """An action, as a value: a kind and, for ERRNO and TRACE, its data.

    Actions are immutable and hashable.  ``int(action)`` is the 32-bit value
    that libseccomp and the kernel use.  Build them from the constants
    (``ALLOW``, ``KILL_PROCESS`` ...) and the factories ``ERRNO(n)`` and
    ``TRACE(n)``, or from a raw value with :meth:`from_raw`.
    """

    # _value caches int(kind) | data for the hot path of Filter.
    __slots__ = ("_kind", "_data", "_value")
    _kind: ActionKind
    _data: int
    _value: int

    def __init__(self, kind: ActionKind, data: int = 0) -> None:
        if isinstance(kind, bool) or not isinstance(kind, int):
            raise TypeError(
                f"action kind must be an ActionKind or its int value, not "
                f"{type(kind).__name__} {kind!r}"
            )
        kind = ActionKind(kind)
        if isinstance(data, bool) or not isinstance(data, int):
            raise TypeError(
                f"{kind.name} data must be an int, not "
                f"{type(data).__name__} {data!r}"
            )
        if kind not in _WITH_DATA and data != 0:
            raise InvalidArgumentError(
                f"{kind.name} takes no data, got {data}; only ERRNO and "
                "TRACE carry a value"
            )
        if kind is ActionKind.ERRNO and not 0 <= data <= MAX_ERRNO:
            raise InvalidArgumentError(
                f"ERRNO({data}) is out of range: the errno must be between "
                f"0 and {MAX_ERRNO}, because libseccomp rejects 4095 and "
                "above"
            )
        if kind is ActionKind.TRACE and not 0 <= data <= MAX_TRACE:
            raise InvalidArgumentError(
                f"TRACE({data}) is out of range: the tracer message must be "
                f"between 0 and {MAX_TRACE} (16 bits)"
            )
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_value", int(kind) | data)

    @classmethod
    def from_raw(cls, value: int) -> "Action":
        """Decode a 32-bit seccomp return value such as ``0x00050001``."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(
                f"raw action must be an int, not {type(value).__name__} "
                f"{value!r}"
            )
        if not 0 <= value <= 0xFFFFFFFF:
            raise InvalidArgumentError(
                f"raw action {value:#x} is not a 32-bit value"
            )
        try:
            kind = ActionKind(value & _RET_ACTION_FULL)
        except ValueError:
            raise InvalidArgumentError(
                f"raw action {value:#010x} has no known action kind"
            ) from None
        data = value & _RET_DATA
        if kind not in _WITH_DATA and data:
            raise InvalidArgumentError(
                f"raw action {value:#010x} is {kind.name} with data {data}, "
                "but only ERRNO and TRACE carry data"
            )
        if kind is ActionKind.ERRNO and data > MAX_ERRNO:
            # The kernel caps the errno at MAX_ERRNO (4095) itself; keep the
            # value readable rather than failing on a foreign program.
            return _raw_errno(data)
        return cls(kind, data)

    @property
    def kind(self) -> ActionKind:
        return self._kind

    @property
    def data(self) -> int:
        return self._data

    @property
    def value(self) -> int:
        """The 32-bit value libseccomp and the kernel use."""
        return self._value

    def __int__(self) -> int:
        return self.value

    def __index__(self) -> int:
        return self.value

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("Action objects are immutable")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Action):
            return self.value == other.value
        return NotImplemented

    def __hash__(self) -> int:
        return hash(("seccompx.Action", self.value))

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Action.from_raw, (self.value,))

    def __repr__(self) -> str:
        if self._kind in _WITH_DATA:
            return f"{self._kind.name}({self._data})"
        return self._kind.name

    __str__ = __repr__


def _raw_errno(data: int) -> Action:
    action = Action.__new__(Action)
    object.__setattr__(action, "_kind", ActionKind.ERRNO)
    object.__setattr__(action, "_data", data)
    object.__setattr__(action, "_value", int(ActionKind.ERRNO) | data)
    return action


ALLOW = Action(ActionKind.ALLOW)
KILL_PROCESS = Action(ActionKind.KILL_PROCESS)
KILL_THREAD = Action(ActionKind.KILL_THREAD)
TRAP = Action(ActionKind.TRAP)
LOG = Action(ActionKind.LOG)
NOTIFY = Action(ActionKind.NOTIFY)


def ERRNO(errno: int) -> Action:  # noqa: N802 - named like the kernel's
    """Return the action that fails the syscall with ``errno``."""
    return Action(ActionKind.ERRNO, errno)


def TRACE(message: int) -> Action:  # noqa: N802
    """Return the action that notifies a ptrace tracer with ``message``."""
    return Action(ActionKind.TRACE, message)
