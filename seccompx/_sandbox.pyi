from typing import Dict, Optional, Sequence, Tuple, Union, final

FLAG_TSYNC: int
FLAG_LOG: int
FLAG_SPEC_ALLOW: int
SYS_SECCOMP: int
EXIT_VIOLATION: int
RECORD_SIZE: int
HAVE_ARGS: int

STAGE_SIGNALS: int
STAGE_SESSION: int
STAGE_STDIO: int
STAGE_CLOSE_FDS: int
STAGE_CWD: int
STAGE_NO_NEW_PRIVS: int
STAGE_LOAD: int
STAGE_EXEC: int
STAGE_EXEC_FORBIDDEN: int
STAGE_PASS_FDS: int

_Buffer = Union[bytes, bytearray, memoryview]

def evaluate(
    program: _Buffer,
    nr: int,
    arch: int,
    ip: int = ...,
    args: Sequence[int] = ...,
) -> int: ...
def load(program: _Buffer, flags: int, no_new_privs: bool) -> int: ...
def spawn(
    executables: Tuple[bytes, ...],
    argv: Tuple[bytes, ...],
    env: Optional[Tuple[bytes, ...]],
    cwd: Optional[bytes],
    stdio: Tuple[int, int, int],
    keep_fds: Tuple[int, ...],
    close_fds: bool,
    new_session: bool,
    program: Optional[_Buffer],
    flags: int,
    no_new_privs: bool,
    exec_check: Optional[Tuple[int, int]],
) -> Tuple[int, int, int, int]: ...

@final
class Reporter:
    def __init__(self) -> None: ...
    def install(self) -> None: ...
    def set_stage(self, stage: int) -> None: ...
    def record(self) -> Optional[Dict[str, object]]: ...
    def clear(self) -> None: ...
    def close(self) -> None: ...
    @property
    def stage(self) -> int: ...
    @property
    def closed(self) -> bool: ...
