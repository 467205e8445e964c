"""User notifications in the official module's form: Notification,
NotificationResponse and the calls behind SyscallFilter.receive_notify()
and respond_notify().

The calls go through seccompx.notify, which makes the same ioctl(2)
requests on the listener descriptor as libseccomp's
seccomp_notify_receive() and seccomp_notify_respond().
"""

from __future__ import annotations

import errno as _errno
from typing import Any, List, Sequence, Tuple

from .._errors import SeccompError
from ._errors import (
    CompatIndexError,
    CompatNotifyError,
    CompatTargetGoneError,
    CompatTypeError,
    translated,
)
from ._values import (
    INT32_MAX,
    INT32_MIN,
    INT64_MAX,
    INT64_MIN,
    UINT32_MAX,
    UINT64_MAX,
    to_range,
    to_u32,
)

__all__ = ["Notification", "NotificationResponse"]

# The largest errno a response carries (the kernel's MAX_ERRNO).
_MAX_ERRNO = 4095

_UNSET: Any = object()


class Notification:
    """A syscall that a NOTIFY rule stopped, waiting for a response.

    ``Notification(id, pid, flags, syscall, arch, ip, args)``; pyseccomp's
    keyword names ``syscall_arch``, ``syscall_ip`` and ``syscall_args``
    are accepted too.  All fields are read-only.
    """

    __slots__ = ("_id", "_pid", "_flags", "_syscall", "_arch", "_ip", "_args")

    def __init__(
        self,
        id: int,
        pid: int,
        flags: int,
        syscall: int,
        arch: int = _UNSET,
        ip: int = _UNSET,
        args: Sequence[int] = _UNSET,
        *,
        syscall_arch: int = _UNSET,
        syscall_ip: int = _UNSET,
        syscall_args: Sequence[int] = _UNSET,
    ) -> None:
        arch = _either(arch, syscall_arch, "arch")
        ip = _either(ip, syscall_ip, "ip")
        args = _either(args, syscall_args, "args")
        self._id = to_range(id, "notification id", 0, UINT64_MAX)
        self._pid = to_range(pid, "pid", 0, UINT32_MAX)
        self._flags = to_range(flags, "flags", 0, UINT32_MAX)
        self._syscall = to_range(syscall, "syscall", INT32_MIN, INT32_MAX)
        self._arch = to_range(arch, "arch", 0, UINT32_MAX)
        self._ip = to_range(ip, "ip", 0, UINT64_MAX)
        self._args = _six_args(args)

    @property
    def id(self) -> int:
        """The kernel's id of this notification, passed back in the response."""
        return self._id

    @property
    def pid(self) -> int:
        """The process id of the task that made the syscall."""
        return self._pid

    @property
    def flags(self) -> int:
        """The notification flags (none are defined by Linux 6.x)."""
        return self._flags

    @property
    def syscall(self) -> int:
        """The syscall number, on architecture ``syscall_arch``."""
        return self._syscall

    @property
    def syscall_arch(self) -> int:
        """The architecture token of the syscall (unsigned)."""
        return self._arch

    @property
    def syscall_ip(self) -> int:
        """The instruction pointer at the syscall."""
        return self._ip

    @property
    def syscall_args(self) -> List[int]:
        """The six argument registers, as a new list."""
        return list(self._args)

    def __repr__(self) -> str:
        return (
            f"Notification(id={self._id:#x}, pid={self._pid}, "
            f"syscall={self._syscall}, arch={self._arch:#x})"
        )


Notification.__module__ = "seccompx.compat"


class NotificationResponse:
    """The response to a Notification: ``NotificationResponse(notify, val=0,
    error=0, flags=0)``.

    The stopped syscall returns ``val``, or fails with errno ``-error``
    when ``error`` is negative (for example ``-errno.EPERM``).  ``flags``
    1 (SECCOMP_USER_NOTIF_FLAG_CONTINUE) lets the syscall run instead.

    pyseccomp builds the response as ``NotificationResponse(error, flags,
    id, val)``.  That form is accepted with keywords, or positionally when
    the first argument is an int, which the official form cannot take.
    """

    __slots__ = ("_id", "_val", "_error", "_flags")

    def __init__(
        self,
        notify: Any = _UNSET,
        val: int = 0,
        error: int = 0,
        flags: int = 0,
        *,
        id: int = _UNSET,
    ) -> None:
        if id is _UNSET and isinstance(notify, int) and not hasattr(notify, "id"):
            # pyseccomp's positional order is (error, flags, id, val).
            error, flags, id, val = notify, val, error, flags
        elif id is _UNSET:
            id = _notification_id(notify)
        elif notify is not _UNSET:
            raise CompatTypeError(
                "NotificationResponse() got both a notification and id"
            )
        self._id = 0
        self._val = 0
        self._error = 0
        self._flags = 0
        self.id = id
        self.val = val
        self.error = error
        self.flags = flags

    @property
    def id(self) -> int:
        """The id of the notification this response is for."""
        return self._id

    @id.setter
    def id(self, value: int) -> None:
        self._id = to_range(value, "notification id", 0, UINT64_MAX)

    @property
    def val(self) -> int:
        """The syscall's return value, used when ``error`` is 0."""
        return self._val

    @val.setter
    def val(self, value: int) -> None:
        self._val = to_range(value, "val", INT64_MIN, INT64_MAX)

    @property
    def error(self) -> int:
        """0, or the negative errno the syscall fails with."""
        return self._error

    @error.setter
    def error(self, value: int) -> None:
        self._error = to_range(value, "error", INT32_MIN, INT32_MAX)

    @property
    def flags(self) -> int:
        """Response flags: 1 lets the syscall continue."""
        return self._flags

    @flags.setter
    def flags(self, value: int) -> None:
        self._flags = to_range(value, "flags", 0, UINT32_MAX)

    def __repr__(self) -> str:
        return (
            f"NotificationResponse(id={self._id:#x}, val={self._val}, "
            f"error={self._error}, flags={self._flags})"
        )


NotificationResponse.__module__ = "seccompx.compat"


def _notification_id(notify: Any) -> Any:
    if notify is _UNSET:
        raise CompatTypeError(
            "NotificationResponse() needs the Notification it responds to"
        )
    try:
        return notify.id
    except AttributeError:
        raise CompatTypeError(
            "NotificationResponse() takes a Notification, not "
            f"{type(notify).__name__}"
        ) from None


def _either(official: Any, alias: Any, name: str) -> Any:
    if alias is _UNSET:
        if official is _UNSET:
            raise CompatTypeError(f"Notification() needs {name}")
        return official
    if official is not _UNSET:
        raise CompatTypeError(
            f"Notification() got both {name} and syscall_{name}"
        )
    return alias


def _six_args(args: Any) -> Tuple[int, ...]:
    try:
        values = list(args)
    except TypeError:
        raise CompatTypeError(
            f"args must be a sequence of six ints, not {type(args).__name__}"
        ) from None
    if len(values) < 6:
        raise CompatIndexError(
            f"args has {len(values)} values; a notification carries six "
            "syscall arguments"
        )
    # The official module keeps the first six values of a longer list.
    return tuple(
        to_range(value, f"args[{index}]", 0, UINT64_MAX)
        for index, value in enumerate(values[:6])
    )


def notify_fd(context: Any) -> int:
    """Return the listener descriptor libseccomp holds for the process."""
    try:
        return int(context._notify_fd())
    except SeccompError:
        raise CompatNotifyError(
            "notifications are not active: load a filter with a NOTIFY "
            "rule first",
            _errno.ENOENT,
        ) from None


def receive(fd: int) -> Notification:
    """Wait on listener ``fd`` for a notification and return it."""
    from .. import notify

    with translated():
        raw = notify.receive(fd)
        # As the official module does, make sure the process still waits,
        # so that the pid in the notification is still its own.
        if not notify.id_valid(fd, raw.id):
            raise CompatTargetGoneError(
                f"notification {raw.id:#x} is no longer valid: the process "
                "behind it exited or was killed",
                _errno.ENOENT,
            )
    return Notification(
        raw.id,
        raw.pid,
        raw.flags,
        raw.nr,
        raw.arch,
        raw.instruction_pointer,
        raw.args,
    )


def respond(fd: int, response: Any) -> None:
    """Send ``response`` (anything with id, val, error, flags) on ``fd``."""
    from .. import notify

    try:
        fields = (response.id, response.val, response.error, response.flags)
    except AttributeError:
        raise CompatTypeError(
            "respond_notify() takes a NotificationResponse, not "
            f"{type(response).__name__}"
        ) from None
    ident = to_range(fields[0], "response id", 0, UINT64_MAX)
    val = to_range(fields[1], "response val", INT64_MIN, INT64_MAX)
    error = to_range(fields[2], "response error", INT32_MIN, INT32_MAX)
    flags = to_u32(fields[3], "response flags")
    # The kernel makes the syscall return ``error`` when it is not 0, else
    # ``val``.  seccompx.notify.respond() takes the errno as a positive
    # number, so an error outside -4095..-1 is sent as the value instead,
    # which returns the same.
    if -_MAX_ERRNO <= error < 0:
        value, errno_value = val, -error
    elif error != 0:
        value, errno_value = error, 0
    else:
        value, errno_value = val, 0
    with translated():
        notify.respond(fd, ident, value, errno_value, flags)
