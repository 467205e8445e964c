"""``seccompx run``: the exit statuses and messages of the command line.
The program runs in a child that loads the filter before execve."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from seccompx import ERRNO, KILL_PROCESS, LOG
from seccompx.cli import main
from seccompx.cli.run import parse_action

SIGSYS = int(signal.SIGSYS)


def test_run_true_exits_zero():
    assert main(["run", "--default", "allow", "--", "/bin/true"]) == 0


def test_run_passes_program_status():
    assert (
        main(["run", "--default", "allow", "--", "/bin/sh", "-c", "exit 7"])
        == 7
    )


def test_run_killed_program_exits_128_plus_sigsys(capsys):
    status = main(
        ["run", "--default", "allow", "--kill", "uname", "--", "uname"]
    )
    assert status == 128 + SIGSYS
    assert "killed by SIGSYS" in capsys.readouterr().err


def test_run_deny_fails_with_eperm(capsys, tmp_path):
    target = tmp_path / "made"
    status = main(
        [
            "run",
            "--default",
            "allow",
            "--deny",
            "mkdir,mkdirat",
            "--",
            "mkdir",
            str(target),
        ]
    )
    assert status == 1
    assert not target.exists()


def test_run_allowlist_without_execve_fails(capsys):
    status = main(["run", "--allow", "read,write", "--", "/bin/true"])
    assert status == 125
    assert "execve" in capsys.readouterr().err


def test_run_missing_program_exits_127(capsys):
    assert (
        main(["run", "--default", "allow", "--", "/nonexistent/program"])
        == 127
    )
    assert "No such file" in capsys.readouterr().err


def test_run_non_executable_exits_126():
    assert main(["run", "--default", "allow", "--", "/etc/passwd"]) == 126


def test_run_without_command_exits_125(capsys):
    assert main(["run", "--default", "allow"]) == 125
    assert "no command" in capsys.readouterr().err


def test_run_unknown_syscall_exits_125(capsys):
    assert (
        main(
            [
                "run",
                "--default",
                "allow",
                "--kill",
                "no_such_call",
                "--",
                "true",
            ]
        )
        == 125
    )
    assert "no_such_call" in capsys.readouterr().err


def test_run_unknown_action_exits_125(capsys):
    assert main(["run", "--default", "loud", "--", "true"]) == 125
    assert "'loud'" in capsys.readouterr().err


def test_run_with_profile(tmp_path, capsys):
    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [
                    {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}
                ],
            }
        )
    )
    assert main(["run", "--profile", str(profile), "--", "/bin/true"]) == 0
    assert (
        main(["run", "--profile", str(profile), "--", "uname"]) == 128 + SIGSYS
    )


def test_run_profile_with_default_conflicts(tmp_path, capsys):
    profile = tmp_path / "profile.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}))
    status = main(
        ["run", "--profile", str(profile), "--default", "allow", "--", "true"]
    )
    assert status == 125
    assert "--default" in capsys.readouterr().err


def test_run_as_separate_process():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seccompx",
            "run",
            "--default",
            "allow",
            "--kill",
            "uname",
            "--",
            "uname",
        ],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 128 + SIGSYS
    assert b"SIGSYS" in result.stderr


@pytest.mark.parametrize(
    "text, expected",
    [
        ("kill-process", KILL_PROCESS),
        ("KILL_PROCESS", KILL_PROCESS),
        ("log", LOG),
        ("errno", ERRNO(1)),
        ("errno:EACCES", ERRNO(13)),
        ("errno:5", ERRNO(5)),
    ],
)
def test_parse_action(text, expected):
    assert parse_action(text) == expected
