"""seccompx: build, inspect, load and benchmark seccomp-BPF filters.

A minimal allowlist::

    import seccompx

    with seccompx.Filter(default=seccompx.KILL_PROCESS) as f:
        f.allow("read", "write", "exit", "exit_group")
        f.load()
"""

# Type checkers treat this name as true; importing typing at run time
# would cost about 2 ms.
TYPE_CHECKING = False

from ._actions import (
    ALLOW,
    ERRNO,
    KILL_PROCESS,
    KILL_THREAD,
    LOG,
    MAX_ERRNO,
    MAX_TRACE,
    NOTIFY,
    TRACE,
    TRAP,
    Action,
    ActionKind,
)
from ._errors import (
    ArchitectureError,
    FilterNotLoadedWarning,
    FilterStateError,
    InvalidArgumentError,
    LoadError,
    NotifyError,
    ProfileError,
    ProgramError,
    SandboxError,
    SandboxTimeout,
    SandboxViolation,
    SeccompError,
    TargetGoneError,
    MultiplexedRuleWarning,
    TruncatedValueWarning,
    UnknownSyscallError,
    UnmatchableRuleWarning,
    UnsupportedError,
)
from ._filter import (
    MAX_INSTRUCTIONS,
    Filter,
    actions_available,
    api_level,
    libseccomp_build_version,
    libseccomp_version,
    _import_submodule,
    resolve_syscall,
    set_api_level,
    syscall_name,
)
from ._types import Arch, Arg, Attr, Comparison, Op

if TYPE_CHECKING:
    from .program import Program

__version__ = "0.1.0"


# Submodules reachable as attributes, imported on first use.
_SUBMODULES = frozenset(
    ("bench", "compat", "groups", "kubernetes", "notify", "profile", "program", "sandbox")
)


def __getattr__(name: str) -> object:
    # Program pulls in the disassembler and the audit, which cost more at
    # start-up than the rest of the package, so import it on first use.
    # Through the same lock as the package's other first imports, so that
    # a fork() in another thread cannot leave a child waiting on the
    # module's import lock (seccompx/_filter.py explains).
    if name == "Program":
        return _import_submodule("program").Program
    if name in _SUBMODULES:
        return _import_submodule(name)
    raise AttributeError(f"module 'seccompx' has no attribute {name!r}")


__all__ = [
    "ALLOW",
    "ERRNO",
    "KILL_PROCESS",
    "KILL_THREAD",
    "LOG",
    "MAX_ERRNO",
    "MAX_INSTRUCTIONS",
    "MAX_TRACE",
    "NOTIFY",
    "TRACE",
    "TRAP",
    "Action",
    "ActionKind",
    "Arch",
    "Arg",
    "ArchitectureError",
    "Attr",
    "Comparison",
    "Filter",
    "FilterNotLoadedWarning",
    "FilterStateError",
    "InvalidArgumentError",
    "LoadError",
    "NotifyError",
    "Op",
    "ProfileError",
    "Program",
    "ProgramError",
    "SandboxError",
    "SandboxTimeout",
    "SandboxViolation",
    "SeccompError",
    "TargetGoneError",
    "TruncatedValueWarning",
    "MultiplexedRuleWarning",
    "UnknownSyscallError",
    "UnmatchableRuleWarning",
    "UnsupportedError",
    "actions_available",
    "api_level",
    "libseccomp_build_version",
    "libseccomp_version",
    "resolve_syscall",
    "set_api_level",
    "syscall_name",
]
