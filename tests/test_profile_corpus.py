"""Real-world profiles from the folder named by SECCOMPX_PROFILE_CORPUS.

Every profile there must build and load.  Under Docker's default profile
(``docker-moby-profiles-default.json`` in that folder) ordinary programs
must run, and syscalls it does not allow must fail with its errno.  The
tests skip when the variable is unset.
"""

from __future__ import annotations

import ctypes
import errno
import faulthandler
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import pytest

import seccompx
from seccompx import Filter

from childproc import report, run_in_child

CORPUS = os.environ.get("SECCOMPX_PROFILE_CORPUS")
pytestmark = pytest.mark.skipif(
    not CORPUS, reason="SECCOMPX_PROFILE_CORPUS names no folder of profiles"
)
DOCKER_DEFAULT = "docker-moby-profiles-default.json"

# The capabilities Docker gives a container by default.
DOCKER_CAPS = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
]
CAPABILITY_SETS = {"none": [], "docker": DOCKER_CAPS, "process": None}

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long


def is_profile(path: Path) -> bool:
    try:
        data = json.loads(path.read_text())
    except ValueError:
        return False
    if not isinstance(data, dict):
        return False
    return "defaultAction" in data or "seccomp" in data.get("linux", {})


def corpus_profiles() -> List[Path]:
    if not CORPUS:
        return []
    return sorted(path for path in Path(CORPUS).glob("*.json") if is_profile(path))


def docker_default() -> Path:
    assert CORPUS
    path = Path(CORPUS) / DOCKER_DEFAULT
    if not path.exists():
        pytest.fail(f"{DOCKER_DEFAULT} is missing from {CORPUS}")
    return path


def test_corpus_has_profiles() -> None:
    assert len(corpus_profiles()) >= 1


@pytest.mark.parametrize("path", corpus_profiles(), ids=lambda path: path.name)
@pytest.mark.parametrize("caps", sorted(CAPABILITY_SETS))
def test_profile_builds(path: Path, caps: str) -> None:
    f = Filter.from_profile(path, capabilities=CAPABILITY_SETS[caps])
    program = f.export_bpf()
    f.close()
    assert len(program) % 8 == 0
    assert 0 < len(program) // 8 <= seccompx.MAX_INSTRUCTIONS


@pytest.mark.parametrize("path", corpus_profiles(), ids=lambda path: path.name)
def test_profile_loads_in_child(path: Path) -> None:
    f = Filter.from_profile(path)
    kills = f.default_action.kind in (
        seccompx.ActionKind.KILL_PROCESS,
        seccompx.ActionKind.KILL_THREAD,
    )

    def body(fd: int) -> int:
        faulthandler.disable()
        report(fd, "loading")
        f.load()
        # The filter may deny every syscall, exit and write included, so
        # end with a fault, which needs none.
        ctypes.string_at(0)
        return 0

    result = run_in_child(body)
    f.close()
    expected = {signal.SIGSEGV, signal.SIGSYS} if kills else {signal.SIGSEGV}
    assert result.signal in expected, str(result)
    assert result.output == b"loading\n"


@pytest.mark.parametrize("path", corpus_profiles(), ids=lambda path: path.name)
def test_profile_x32_audit_consistent(path: Path) -> None:
    # A profile covering x86_64 and x32 gives both ABIs the same rules, so
    # x32 calls cannot escape the x86_64 rules and need no x32 guard.
    f = Filter.from_profile(path, capabilities=[])
    program = f.compile()
    f.close()
    if not {seccompx.Arch.X86_64, seccompx.Arch.X32} <= set(program.arches):
        pytest.skip("the profile does not cover both x86_64 and x32")
    assert "no-x32-guard" not in [finding.code for finding in program.audit()]


# Docker's default profile ------------------------------------------------


def run_program(
    argv: Sequence[str], caps: Optional[List[str]], cwd: Optional[Path] = None
) -> Any:
    f = Filter.from_profile(docker_default(), capabilities=caps)

    def body(fd: int) -> int:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        if cwd is not None:
            os.chdir(cwd)
        f.load()
        os.execv(argv[0], list(argv))
        return 99  # not reached

    result = run_in_child(body)
    f.close()
    return result


@pytest.mark.parametrize("caps", sorted(CAPABILITY_SETS))
def test_docker_default_runs_python(caps: str) -> None:
    result = run_program([sys.executable, "-c", "print(1)"], CAPABILITY_SETS[caps])
    assert result.exitcode == 0, str(result)
    assert result.output == b"1\n"


@pytest.mark.parametrize("caps", sorted(CAPABILITY_SETS))
def test_docker_default_runs_shell_ls(caps: str, tmp_path: Path) -> None:
    (tmp_path / "marker-file").write_text("")
    result = run_program(["/bin/sh", "-c", "ls"], CAPABILITY_SETS[caps], cwd=tmp_path)
    assert result.exitcode == 0, str(result)
    assert result.output == b"marker-file\n"


@pytest.mark.parametrize("caps", sorted(CAPABILITY_SETS))
def test_docker_default_runs_true(caps: str) -> None:
    result = run_program(["/bin/true"], CAPABILITY_SETS[caps])
    assert result.exitcode == 0, str(result)
    assert result.output == b""


def errnos_under(f: Filter, calls: Sequence[Sequence[int]]) -> List[int]:
    """Load ``f`` in a child and return the errno of each raw syscall."""

    def body(fd: int) -> int:
        f.load()
        found = []
        for number, *args in calls:
            ctypes.set_errno(0)
            ret = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
            found.append(str(ctypes.get_errno() if ret == -1 else 0))
        report(fd, " ".join(found))
        return 0

    result = run_in_child(body)
    f.close()
    assert result.exitcode == 0, str(result)
    return [int(item) for item in result.text.split()]


def written_names(profile_path: Path, caps: List[str]) -> Dict[str, List[str]]:
    f = Filter.from_profile(profile_path, capabilities=caps)
    names: Dict[str, List[str]] = {}
    for item in f.to_profile()["syscalls"]:
        names.setdefault(item["action"], []).extend(item["names"])
    f.close()
    return names


def test_docker_default_denies_with_its_errno() -> None:
    path = docker_default()
    default_errno = json.loads(path.read_text())["defaultErrnoRet"]
    allowed = written_names(path, [])["SCMP_ACT_ALLOW"]
    denied = ["setns", "unshare", "add_key", "mount"]
    assert not set(denied) & set(allowed)
    nr = seccompx.resolve_syscall
    calls = [
        [nr("setns"), -1, 0],
        [nr("unshare"), 0],
        [nr("add_key"), 0, 0, 0, 0, 0],
        [nr("mount"), 0, 0, 0, 0, 0],
        [1000],
    ]
    result = errnos_under(Filter.from_profile(path, capabilities=[]), calls)
    assert result == [default_errno] * len(calls)


def test_docker_default_clone3_answers_enosys() -> None:
    f = Filter.from_profile(docker_default(), capabilities=[])
    assert errnos_under(f, [[seccompx.resolve_syscall("clone3"), 0, 0]]) == [errno.ENOSYS]


def test_docker_default_caps_allow_more() -> None:
    f = Filter.from_profile(docker_default(), capabilities=["CAP_SYS_ADMIN"])
    # setns(-1, 0) reaches the kernel, which rejects the descriptor.
    assert errnos_under(f, [[seccompx.resolve_syscall("setns"), -1, 0]]) == [errno.EBADF]


def test_docker_default_enosys_option() -> None:
    f = Filter.from_profile(docker_default(), capabilities=[], enosys_for_unknown=True)
    report_ = f.profile_report
    assert report_ is not None and report_.enosys is not None
    first, last = report_.enosys
    calls = [[first], [last], [last + 1]]
    assert errnos_under(f, calls) == [errno.ENOSYS, errno.ENOSYS, errno.EPERM]
