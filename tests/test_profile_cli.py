"""The ``seccompx check`` and ``seccompx convert`` commands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from seccompx import Filter
from seccompx.cli import main
from seccompx.cli.check import parse_caps
from seccompx.profile import CAPABILITIES

FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
CONDITIONS = str(FIXTURES / "docker_conditions.json")


def expected_filter(path: str) -> Filter:
    return Filter.from_profile(path, capabilities=[], kernel_version="6.1")


def test_check_summary(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", CONDITIONS, "--caps", "none", "--kernel", "6.1"])
    out = capsys.readouterr().out
    assert status == 0
    f = expected_filter(CONDITIONS)
    report = f.profile_report
    assert report is not None
    assert f"rules           {report.rules} for {report.syscalls} syscalls" in out
    assert f"instructions    {f.instruction_count()}" in out
    assert "left out syscalls[2]: includes.caps: CAP_SYS_CHROOT is not held" in out
    f.close()


def test_check_json(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", str(FIXTURES / "groups.json"), "--json", "--caps", "none"])
    data = json.loads(capsys.readouterr().out)
    assert status == 0
    assert data["default_action"] == "ERRNO(1)"
    assert data["rules"] > 20
    assert data["instructions"] > data["rules"]
    assert data["skipped"] == []
    assert isinstance(data["group_members_skipped"], int)


def test_check_lists_skipped_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "skipped names   1" in out
    assert "  syscalls[0].names[1]: no_such_call: unknown to libseccomp" in out


def test_check_warns_unknown_group(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "group.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["@netwrok-io"], "action": "SCMP_ACT_ERRNO"}]}))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "skipped names   1" in out
    assert "warnings        1" in out
    assert "syscalls[0].names[0]: syscall group '@netwrok-io' is unknown" in out


def test_check_strict_rejects_unknown_names(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "unknown.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["no_such_call"], "action": "SCMP_ACT_ERRNO"}]}))
    assert main(["check", str(path), "--strict"]) == 2
    assert "syscalls[0].names[0]: " in capsys.readouterr().err


def test_check_invalid_profile(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["check", str(FIXTURES / "bad_operator.json")])
    captured = capsys.readouterr()
    assert status == 2
    assert captured.out == ""
    assert captured.err.startswith(
        "seccompx check: error: syscalls[3].args[0].op: unknown operator 'SCMP_CMP_FOO'"
    )


def test_check_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "absent.json")]) == 2
    assert "cannot read profile" in capsys.readouterr().err


def test_check_reads_stdin() -> None:
    text = (FIXTURES / "oci_config.json").read_text()
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "check", "-", "--json"],
        input=text.encode(),
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == "<stdin>"


def test_convert_to_oci(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["convert", CONDITIONS, "--to", "oci", "--caps", "none", "--kernel", "6.1"])
    written = json.loads(capsys.readouterr().out)
    assert status == 0
    f = expected_filter(CONDITIONS)
    assert written == f.to_profile()
    f.close()


def test_convert_to_pfc(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", CONDITIONS, "--to", "pfc", "--caps", "none", "--kernel", "6.1"]) == 0
    f = expected_filter(CONDITIONS)
    assert capsys.readouterr().out == f.export_pfc()
    f.close()


def test_convert_to_bpf_file(tmp_path: Path) -> None:
    output = tmp_path / "filter.bpf"
    assert main(["convert", CONDITIONS, "--to", "bpf", "-o", str(output), "--caps", "none", "--kernel", "6.1"]) == 0
    f = expected_filter(CONDITIONS)
    assert output.read_bytes() == f.export_bpf()
    f.close()
    assert list(tmp_path.iterdir()) == [output]


def test_convert_bpf_to_stdout() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "convert", CONDITIONS, "--to", "bpf", "--caps", "none", "--kernel", "6.1"],
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    f = expected_filter(CONDITIONS)
    assert result.stdout == f.export_bpf()
    f.close()


def test_convert_rejects_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["convert", CONDITIONS, "--to", "xml"])
    assert caught.value.code == 2
    assert "invalid choice: 'xml'" in capsys.readouterr().err


def test_convert_with_enosys(capsys: pytest.CaptureFixture[str]) -> None:
    profile = str(FIXTURES / "groups.json")
    assert main(["convert", profile, "--to", "pfc", "--enosys", "--caps", "none"]) == 0
    assert "action ERRNO(38);" in capsys.readouterr().out


def test_parse_caps() -> None:
    assert parse_caps(None) is None
    assert parse_caps("none") == []
    assert parse_caps("ALL") == list(CAPABILITIES)
    assert parse_caps("CAP_SYS_ADMIN, sys_ptrace") == ["CAP_SYS_ADMIN", "sys_ptrace"]


def test_check_huge_integer_one_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text('{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1' + "0" * 5000 + "}")
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "check", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(
        "seccompx check: error: defaultErrnoRet: a 5001-digit integer is out of range"
    )


def test_check_rejects_duplicate_keys(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "twice.json"
    path.write_text('{"defaultAction":"SCMP_ACT_KILL","defaultAction":"SCMP_ACT_ALLOW"}')
    for argv in (["check", str(path)], ["check", str(path), "--strict"]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("seccompx check: error: defaultAction: duplicate key 'defaultAction'")


def test_check_escapes_control_characters(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "nul.json"
    names = ["get\u0000ppid", "x\u001b[2J"]
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": names, "action": "SCMP_ACT_ERRNO", "bad\u0007": 1}]}))
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert all(line.isprintable() for line in out.splitlines())
    assert "  syscalls[0].names[0]: get\\x00ppid: not a valid syscall name" in out
    assert "  syscalls[0].names[1]: x\\x1b[2J: not a valid syscall name" in out
    assert '  syscalls[0]["bad\\u0007"]: unknown field ' in out
