"""Tests of learning mode: seccompx.notify.trace and ``seccompx trace``.

Each program is traced in a child (run_in_child), and the learned profile
is then loaded with Filter.from_profile in another child that runs the
program again, or makes a syscall the profile lacks.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
from typing import Any, Dict, List

import pytest

import seccompx
from seccompx import notify
from seccompx.cli import main as cli_main
from childproc import report, run_in_child

KERNEL_ACTIONS = seccompx.actions_available()
pytestmark = pytest.mark.skipif(
    KERNEL_ACTIONS is not None and seccompx.ActionKind.NOTIFY not in KERNEL_ACTIONS,
    reason="the kernel has no user notifications (SECCOMP_RET_USER_NOTIF)",
)

PYTHON3 = shutil.which("python3")
PROGRAMS = {
    "true": (["/bin/true"], None),
    "ls": (["/bin/ls", "/"], "usr\n"),
    "python3": ([PYTHON3 or "python3", "-c", "print(1)"], "1\n"),
}
# Exit code of a child whose mkdir failed, plus the errno.
MKDIR_FAILED_BASE = 10


def trace_in_child(argv: List[str], timeout: float = 60.0) -> Dict[str, Any]:
    """Trace ``argv`` in a child; return the trace as plain data."""

    def body(fd: int) -> int:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        result = notify.trace(argv)
        report(
            fd,
            json.dumps(
                {
                    "returncode": result.returncode,
                    "names": result.names,
                    "unknown": {str(k): sorted(v) for k, v in result.unknown.items()},
                    "profile": result.to_profile(),
                }
            ),
        )
        return 0

    child = run_in_child(body, timeout=timeout)
    assert child.exitcode == 0, str(child)
    data: Dict[str, Any] = json.loads(child.text.strip().splitlines()[-1])
    return data


def run_under_profile(profile: Dict[str, Any], argv: List[str]) -> Any:
    """Run ``argv`` under ``profile``; return the child's result."""

    def body(fd: int) -> int:
        f = seccompx.Filter.from_profile(profile)
        os.dup2(fd, 1)
        f.load()
        os.execv(argv[0], argv)
        return 99

    return run_in_child(body)


def mkdir_under_profile(profile: Dict[str, Any], path: str) -> Any:
    """Load ``profile`` and try mkdir in a child.

    The child exits with MKDIR_FAILED_BASE plus the errno, because the
    profile may not allow write.
    """

    def body(fd: int) -> int:
        f = seccompx.Filter.from_profile(profile)
        f.load()
        try:
            os.mkdir(path)
        except OSError as error:
            return MKDIR_FAILED_BASE + (error.errno or 0)
        return 0

    return run_in_child(body)


@pytest.fixture(scope="module")
def traces() -> Dict[str, Dict[str, Any]]:
    return {name: trace_in_child(argv) for name, (argv, _) in PROGRAMS.items()}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_trace_records_program(name: str, traces: Dict[str, Dict[str, Any]]) -> None:
    if name == "python3" and PYTHON3 is None:
        pytest.skip("python3 is not in PATH")
    result = traces[name]
    assert result["returncode"] == 0
    assert "execve" in result["names"]
    assert "exit_group" in result["names"]
    # The set-up's own sendmsg of the listener is not the program's.
    assert "sendmsg" not in result["names"]
    assert result["unknown"] == {}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_trace_profile_shape(name: str, traces: Dict[str, Dict[str, Any]]) -> None:
    if name == "python3" and PYTHON3 is None:
        pytest.skip("python3 is not in PATH")
    profile = traces[name]["profile"]
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert profile["defaultErrnoRet"] == 1
    assert profile["architectures"] == [
        f"SCMP_ARCH_{seccompx.Arch.native().name}"
    ]
    assert profile["syscalls"] == [
        {"names": traces[name]["names"], "action": "SCMP_ACT_ALLOW"}
    ]


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_program_runs_under_learned_profile(
    name: str, traces: Dict[str, Dict[str, Any]]
) -> None:
    if name == "python3" and PYTHON3 is None:
        pytest.skip("python3 is not in PATH")
    argv, expected = PROGRAMS[name]
    result = run_under_profile(traces[name]["profile"], argv)
    assert result.exitcode == 0, str(result)
    assert result.signal is None
    if expected == "1\n":
        assert result.text == expected
    elif expected is not None:
        assert expected in result.text


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_learned_profile_denies_other_syscall(
    name: str, traces: Dict[str, Dict[str, Any]], tmp_path: Any
) -> None:
    if name == "python3" and PYTHON3 is None:
        pytest.skip("python3 is not in PATH")
    assert "mkdir" not in traces[name]["names"]
    path = str(tmp_path / "made")
    result = mkdir_under_profile(traces[name]["profile"], path)
    assert result.exitcode == MKDIR_FAILED_BASE + errno.EPERM, str(result)
    assert not os.path.exists(path)


def test_trace_follows_children() -> None:
    # The shell forks for ls; only ls reads a directory.
    result = trace_in_child(["/bin/sh", "-c", "/bin/ls / >/dev/null; exit 0"])
    assert result["returncode"] == 0
    assert "getdents64" in result["names"]
    forks = {"clone", "clone3", "fork", "vfork"}
    assert forks & set(result["names"])


def test_cli_trace_writes_profile(tmp_path: Any) -> None:
    output = tmp_path / "true.json"

    def body(fd: int) -> int:
        return cli_main(["trace", "-o", str(output), "--", "/bin/true"])

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 0, str(child)
    profile = json.loads(output.read_text())
    assert "execve" in profile["syscalls"][0]["names"]
    assert run_under_profile(profile, ["/bin/true"]).exitcode == 0


def cli_in_child(fd: int, argv: List[str]) -> int:
    """Run the command line with its stderr sent to the result pipe."""
    with os.fdopen(os.dup(fd), "w") as stream:
        with contextlib.redirect_stderr(stream):
            return cli_main(argv)


def test_cli_trace_reports_failing_command(tmp_path: Any) -> None:
    output = tmp_path / "exit3.json"

    def body(fd: int) -> int:
        return cli_in_child(
            fd, ["trace", "-o", str(output), "--", "/bin/sh", "-c", "exit 3"]
        )

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 1, str(child)
    assert "exited with status 3" in child.text
    assert output.exists()


def test_cli_trace_without_command() -> None:
    def body(fd: int) -> int:
        return cli_in_child(fd, ["trace", "-o", os.devnull])

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 2, str(child)
    assert "no COMMAND" in child.text


def test_cli_trace_missing_program() -> None:
    def body(fd: int) -> int:
        return cli_in_child(
            fd, ["trace", "-o", os.devnull, "--", "no-such-program-seccompx"]
        )

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 2, str(child)
    assert "not found" in child.text


def test_cli_trace_checks_output_before_running(tmp_path: Any) -> None:
    marker = tmp_path / "ran"
    output = tmp_path / "missing" / "x.json"

    def body(fd: int) -> int:
        return cli_in_child(
            fd, ["trace", "-o", str(output), "--", "/bin/touch", str(marker)]
        )

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 2, str(child)
    assert child.text.startswith("seccompx trace: error: cannot write the profile: ")
    assert "does not exist" in child.text
    assert child.text.count("\n") == 1
    assert not marker.exists()


def test_cli_trace_rejects_directory_output(tmp_path: Any) -> None:
    def body(fd: int) -> int:
        return cli_in_child(fd, ["trace", "-o", str(tmp_path), "--", "/bin/true"])

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 2, str(child)
    assert "is a directory" in child.text


def test_cli_trace_names_unrunnable_program() -> None:
    def body(fd: int) -> int:
        return cli_in_child(fd, ["trace", "-o", "-", "--", "/nonexistent/prog"])

    child = run_in_child(body, timeout=30)
    assert child.exitcode == 2, str(child)
    assert child.text == (
        "seccompx trace: error: cannot run '/nonexistent/prog': No such file "
        "or directory\n"
    )
