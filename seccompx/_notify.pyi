"""Type stub of the seccompx._notify extension (seccomp user notifications)."""

import sys
from typing import Any, Final, List, Optional, Tuple, final

from _typeshed import structseq

FLAG_CONTINUE: int
ADDFD_FLAG_SETFD: int
ADDFD_FLAG_SEND: int
RET_USER_NOTIF: int
NOTIF_STRUCT_SIZE: int
RESP_STRUCT_SIZE: int
DATA_STRUCT_SIZE: int
SENDMSG_NR: int

@final
class Notification(
    structseq[Any], Tuple[int, int, int, int, int, int, Tuple[int, ...]]
):
    if sys.version_info >= (3, 10):
        __match_args__: Final = (
            "id",
            "pid",
            "flags",
            "nr",
            "arch",
            "instruction_pointer",
            "args",
        )
    @property
    def id(self) -> int: ...
    @property
    def pid(self) -> int: ...
    @property
    def flags(self) -> int: ...
    @property
    def nr(self) -> int: ...
    @property
    def arch(self) -> int: ...
    @property
    def instruction_pointer(self) -> int: ...
    @property
    def args(self) -> Tuple[int, ...]: ...

def receive(fd: int, /) -> Notification: ...
def respond(
    fd: int, id: int, value: int = ..., error: int = ..., flags: int = ...
) -> None: ...
def id_valid(fd: int, id: int, /) -> bool: ...
def addfd(
    fd: int,
    id: int,
    srcfd: int,
    newfd: Optional[int] = ...,
    flags: int = ...,
    send: bool = ...,
) -> int: ...
def notif_sizes() -> Tuple[int, int, int]: ...
def install_listener(
    program: bytes,
    arch: int,
    sock: int,
    no_new_privs: bool = ...,
    flags: int = ...,
    exec_args: Optional[Tuple[bytes, List[bytes], List[bytes]]] = ...,
) -> Tuple[int, int]: ...
