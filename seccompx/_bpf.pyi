"""Type stub for the seccompx._bpf extension module (csrc/bpf/)."""

from typing import List, Optional, Tuple

from typing_extensions import disjoint_base

MAX_INSNS: int
MEMWORDS: int
SECCOMP_DATA_SIZE: int
FLAG_TSYNC: int
FLAG_LOG: int
FLAG_SPEC_ALLOW: int
FLAG_NEW_LISTENER: int
FLAG_TSYNC_ESRCH: int
FLAG_WAIT_KILLABLE_RECV: int
STAGE_NO_NEW_PRIVS: int
STAGE_SECCOMP: int
STAGE_TSYNC: int

@disjoint_base
class ProgramBase:
    """The C part of seccompx.Program; use that class."""

    @property
    def _data(self) -> bytes: ...
    def _set_data(self, data: bytes, /) -> None: ...
    def load(
        self,
        *,
        tsync: bool = ...,
        log: bool = ...,
        spec_allow: bool = ...,
        new_listener: bool = ...,
        wait_killable_recv: bool = ...,
        no_new_privs: bool = ...,
    ) -> Optional[int]: ...

def check(program: bytes) -> None: ...
def run(
    program: bytes,
    nr: int,
    arch: int,
    instruction_pointer: int,
    args: Tuple[int, int, int, int, int, int],
) -> Tuple[int, int]: ...
def load(program: bytes, flags: int, no_new_privs: bool) -> int: ...
def get_filters(pid: int) -> List[bytes]: ...
