"""``seccompx run``: the exit statuses and messages of the command line.
The program runs in a child that loads the filter before execve."""

from __future__ import annotations

import copy
import gc
import json
import os
import signal
import subprocess
import sys
import warnings

import pytest

from seccompx import (
    ERRNO,
    KILL_PROCESS,
    LOG,
    NOTIFY,
    Filter,
    FilterNotLoadedWarning,
)
from seccompx.cli import main
from seccompx.cli.run import _profile_without, notify_warning, parse_action

SIGSYS = int(signal.SIGSYS)
CORPUS = os.environ.get("SECCOMPX_PROFILE_CORPUS")

# A small profile in Docker's style: EPERM by default, an allowlist that
# names a systemd group (which contains uname) and single syscalls, an
# entry with an argument condition, one with includes, and one in the old
# format with "name".
DOCKER_STYLE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "defaultErrnoRet": 1,
    "archMap": [
        {
            "architecture": "SCMP_ARCH_X86_64",
            "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        },
        {
            "architecture": "SCMP_ARCH_AARCH64",
            "subArchitectures": ["SCMP_ARCH_ARM"],
        },
    ],
    "syscalls": [
        {"names": ["@system-service"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir", "mkdirat", "chroot"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["syslog"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 3, "op": "SCMP_CMP_EQ"}],
        },
        {
            "names": ["ptrace"],
            "action": "SCMP_ACT_ALLOW",
            "includes": {"minKernel": "4.8"},
        },
        {"name": "acct", "action": "SCMP_ACT_ALLOW"},
    ],
}


def write_profile(tmp_path, profile) -> str:
    path = tmp_path / "profile.json"
    path.write_text(json.dumps(profile))
    return str(path)


def unused_filter_warnings(argv) -> list:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        main(argv)
        gc.collect()
    return [
        item
        for item in caught
        if issubclass(item.category, FilterNotLoadedWarning)
    ]


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


@pytest.mark.parametrize(
    "option, value",
    [
        ("--allow", ""),
        ("--allow", " "),
        ("--kill", "read,,write"),
        ("--deny", "read,"),
        ("--allow", ",read"),
    ],
)
def test_run_empty_syscall_name_exits_125(capsys, option, value):
    argv = ["run", "--default", "allow", option, value, "--", "true"]
    assert main(argv) == 125
    err = capsys.readouterr().err
    assert f"{option} {value!r} contains an empty syscall name" in err
    assert err.count("\n") == 1


@pytest.mark.parametrize("text", ["errno:EFOO", "ERRNO:Efoo", "errno:efoo"])
def test_run_unknown_errno_echoed_as_given(capsys, text):
    assert main(["run", "--default", text, "--", "true"]) == 125
    name = text.partition(":")[2]
    assert f"unknown errno name {name!r}" in capsys.readouterr().err


def test_run_negative_errno_out_of_range(capsys):
    assert main(["run", "--default", "errno:-1", "--", "true"]) == 125
    err = capsys.readouterr().err
    assert "errno -1 is out of range" in err
    assert "0 to 4094" in err


def test_run_group_name_rejected(capsys):
    assert main(["run", "--default", "allow", "--deny", "@network-io", "--", "true"]) == 125
    err = capsys.readouterr().err
    assert "--deny '@network-io' names a syscall group" in err


def test_parse_action_errno_name_any_case():
    assert parse_action("ERRNO:eacces") == ERRNO(13)
    assert parse_action("errno:EACCES") == ERRNO(13)
    assert parse_action("Errno") == ERRNO(1)


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


def test_docker_style_profile_runs_uname(tmp_path):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    assert main(["run", "--profile", profile, "--", "uname"]) == 0


def test_kill_overrides_profile_group(tmp_path, capsys):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    argv = ["run", "--profile", profile, "--kill", "uname", "--", "uname"]
    status = main(argv)
    assert status == 128 + SIGSYS
    assert "killed by SIGSYS" in capsys.readouterr().err


def test_deny_overrides_profile_names(tmp_path):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    target = tmp_path / "made"
    argv = ["run", "--profile", profile, "--deny", "mkdir,mkdirat"]
    assert main(argv + ["--", "mkdir", str(target)]) == 1
    assert not target.exists()


def test_kill_overrides_conditional_entries(tmp_path, capsys):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    argv = ["run", "--profile", profile, "--kill", "syslog,ptrace,acct"]
    assert main(argv + ["--", "true"]) == 0
    assert capsys.readouterr().err == ""


def test_override_of_syscall_on_other_architecture(tmp_path, capsys):
    # The profile also covers x86, which has fstatat64; x86_64 lacks it.
    profile = write_profile(tmp_path, DOCKER_STYLE)
    argv = ["run", "--profile", profile, "--kill", "fstatat64", "--", "true"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""


def test_override_of_syscall_on_no_architecture(capsys):
    # x86_64 alone lacks fstatat64, so the rule would change nothing.
    argv = ["run", "--default", "allow", "--kill", "fstatat64", "--", "true"]
    assert main(argv) == 125
    assert "'fstatat64' does not exist" in capsys.readouterr().err


def test_override_equal_to_default_adds_nothing(tmp_path):
    argv = ["run", "--default", "allow", "--allow", "uname", "--", "uname"]
    assert main(argv) == 0


def test_unknown_override_equal_to_default_is_error(capsys):
    argv = ["run", "--default", "allow", "--allow", "unamee", "--", "true"]
    assert main(argv) == 125
    err = capsys.readouterr().err
    assert "unknown syscall 'unamee'" in err
    assert "'uname'" in err


def test_allow_overrides_profile_kill(tmp_path):
    profile = write_profile(
        tmp_path,
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}
            ],
        },
    )
    argv = ["run", "--profile", profile, "--allow", "uname", "--", "uname"]
    assert main(argv) == 0


def test_options_naming_same_syscall_conflict(tmp_path, capsys):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    argv = ["run", "--profile", profile, "--allow", "uname", "--kill", "uname"]
    assert main(argv + ["--", "uname"]) == 125
    err = capsys.readouterr().err
    assert "'uname'" in err
    assert "--allow and --kill" in err


def test_kill_execve_override_is_rejected(tmp_path, capsys):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    argv = ["run", "--profile", profile, "--kill", "execve", "--", "true"]
    assert main(argv) == 125
    assert "forbids execve" in capsys.readouterr().err


def test_override_keeps_profile_error_paths(tmp_path, capsys):
    # Dropping entry 0 for --kill must not renumber the bad entry 2.
    profile = write_profile(
        tmp_path,
        {
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                {"names": ["uname"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["getpid"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["getppid"], "action": "SCMP_ACT_NO_SUCH"},
            ],
        },
    )
    argv = ["run", "--profile", profile, "--kill", "uname", "--", "true"]
    assert main(argv) == 125
    assert "syscalls[2].action" in capsys.readouterr().err


def test_profile_override_does_not_warn(tmp_path):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    run = ["run", "--profile", profile]
    for options in (
        ["--kill", "uname", "--", "uname"],
        ["--kill", "no_such_call", "--", "true"],
        ["--allow", "uname", "--kill", "uname", "--", "true"],
    ):
        assert unused_filter_warnings(run + options) == [], options


def test_profile_override_as_separate_process(tmp_path):
    profile = write_profile(tmp_path, DOCKER_STYLE)
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "run", "--profile", profile]
        + ["--kill", "uname", "--", "uname"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 128 + SIGSYS
    assert b"Warning" not in result.stderr
    assert result.stderr.count(b"\n") == 1


NOTIFY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
}


def test_run_notify_profile_warns(tmp_path, capfd):
    profile = write_profile(tmp_path, NOTIFY_MKDIR)
    target = tmp_path / "made"
    script = (
        "import errno, os, sys\n"
        "try:\n"
        "    os.mkdir(sys.argv[1])\n"
        "except OSError as error:\n"
        "    print(errno.errorcode[error.errno])\n"
    )
    status = main(
        ["run", "--profile", profile, "--", sys.executable, "-c", script]
        + [str(target)]
    )
    captured = capfd.readouterr()
    assert status == 0
    assert captured.out == "ENOSYS\n"
    assert not target.exists()
    assert captured.err.startswith("seccompx run: warning: ")
    assert "NOTIFY for mkdir and mkdirat." in captured.err
    assert "fail with ENOSYS" in captured.err
    assert "seccompx.notify.Supervisor" in captured.err
    assert captured.err.count("\n") == 1


def test_run_notify_execve_exits_125(tmp_path, capfd):
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["execve"], "action": "SCMP_ACT_NOTIFY"}],
    }
    status = main(["run", "--profile", write_profile(tmp_path, profile), "--", "true"])
    captured = capfd.readouterr()
    assert status == 125
    lines = captured.err.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("seccompx run: warning: ")
    assert lines[1].startswith(
        "seccompx run: error: the filter returns NOTIFY for execve"
    )


def test_notify_warning_cases():
    plain = Filter.from_profile({"defaultAction": "SCMP_ACT_ALLOW"})
    assert notify_warning(plain) is None
    plain.close()
    default = Filter(NOTIFY)
    default.allow("execve")
    message = notify_warning(default)
    default.close()
    assert message is not None
    assert "NOTIFY for every syscall that no rule matches." in message
    agent = Filter.from_profile(
        {**NOTIFY_MKDIR, "listenerPath": "/run/agent.sock"}
    )
    message = notify_warning(agent)
    agent.close()
    assert message is not None
    assert "listenerPath '/run/agent.sock'" in message


def test_profile_without_strips_names():
    original = copy.deepcopy(DOCKER_STYLE)
    names = {"uname", "mkdir", "syslog", "acct"}
    stripped = _profile_without(DOCKER_STYLE, names)
    assert DOCKER_STYLE == original
    entries = stripped["syscalls"]
    assert len(entries) == 3
    group_members = entries[0]["names"]
    assert "uname" not in group_members
    assert "execve" in group_members
    assert "@system-service" not in group_members
    assert entries[1]["names"] == ["mkdirat", "chroot"]
    assert entries[2]["names"] == ["ptrace"]


def test_profile_without_leaves_unrelated_groups():
    stripped = _profile_without(DOCKER_STYLE, {"chroot"})
    assert stripped["syscalls"][0]["names"] == ["@system-service"]
    assert stripped["syscalls"][1]["names"] == ["mkdir", "mkdirat"]


def test_profile_without_reads_oci_config():
    config = {"ociVersion": "1.0.2", "linux": {"seccomp": DOCKER_STYLE}}
    stripped = _profile_without(config, {"acct"})
    assert stripped["ociVersion"] == "1.0.2"
    entries = stripped["linux"]["seccomp"]["syscalls"]
    names = [entry.get("name") for entry in entries]
    assert "acct" not in names
    assert config["linux"]["seccomp"] is DOCKER_STYLE


def test_profile_without_keeps_malformed_parts():
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": "uname"}, 5],
    }
    assert _profile_without(profile, {"uname"}) == profile


@pytest.mark.skipif(not CORPUS, reason="SECCOMPX_PROFILE_CORPUS is not set")
def test_docker_default_profile_overrides(capfd):
    profile = os.path.join(CORPUS, "docker-moby-profiles-default.json")
    run = ["run", "--profile", profile]
    assert main(run + ["--", "uname"]) == 0
    assert main(run + ["--kill", "uname", "--", "uname"]) == 128 + SIGSYS
    # ERRNO(EPERM) is the profile's default action, so --deny adds no rule.
    assert main(run + ["--deny", "uname", "--", "uname"]) == 1
    assert main(run + ["--kill", "fstatat64", "--", "true"]) == 0
    assert "Operation not permitted" in capfd.readouterr().err


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
    assert b"Warning" not in result.stderr


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
