"""The ``seccompx check`` and ``seccompx convert`` commands."""

from __future__ import annotations

import fcntl
import json
import os
import select
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seccompx import Filter
from seccompx.cli import main
from seccompx.cli.check import parse_caps
from seccompx.profile import CAPABILITIES
from childproc import F_SETPIPE_SZ

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


# convert -o FILE: what each kind of FILE receives.

CONVERT_OCI = ["convert", CONDITIONS, "--to", "oci", "--caps", "none", "--kernel", "6.1"]


def expected_oci() -> bytes:
    f = expected_filter(CONDITIONS)
    text = json.dumps(f.to_profile(), indent=2) + "\n"
    f.close()
    return text.encode()


def test_convert_output_dash_is_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([*CONVERT_OCI, "-o", "-"]) == 0
    assert capsys.readouterr().out.encode() == expected_oci()
    assert list(tmp_path.iterdir()) == []


def test_convert_output_follows_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "links").mkdir()
    target = tmp_path / "real" / "profile.json"
    target.write_text("old\n")
    link = tmp_path / "links" / "profile.json"
    link.symlink_to("../real/profile.json")
    assert main([*CONVERT_OCI, "-o", str(link)]) == 0
    assert link.is_symlink()
    assert os.readlink(link) == "../real/profile.json"
    assert target.read_bytes() == expected_oci()
    assert list((tmp_path / "real").iterdir()) == [target]
    assert list((tmp_path / "links").iterdir()) == [link]


def test_convert_output_writes_into_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    # A reader that opened the FIFO first lets the writer's open() return,
    # and the output fits in the pipe buffer, so no thread is needed.
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert main([*CONVERT_OCI, "-o", str(fifo)]) == 0
        received = b""
        while True:
            try:
                chunk = os.read(reader, 65536)
            except BlockingIOError:
                break  # no writer ever opened the FIFO
            if not chunk:
                break
            received += chunk
    finally:
        os.close(reader)
    assert received == expected_oci()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_convert_output_reports_closed_fifo(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The output (over 64 KiB) does not fit in the pipe, shrunk to one page,
    # so the writer is still writing when the reader closes the FIFO.
    profile = tmp_path / "large.json"
    rules = [
        {
            "names": ["read"],
            "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": value, "op": "SCMP_CMP_EQ"}],
        }
        for value in range(1000, 2000)
    ]
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rules}))
    fifo = tmp_path / "profile.json"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    fcntl.fcntl(reader, F_SETPIPE_SZ, 4096)

    def close_when_readable() -> None:
        select.select([reader], [], [], 30)
        os.close(reader)

    closer = threading.Thread(target=close_when_readable)
    closer.start()
    try:
        status = main(["convert", str(profile), "--to", "oci", "-o", str(fifo)])
    finally:
        closer.join()
    assert status == 1
    assert capsys.readouterr().err == (
        f"seccompx convert: error: cannot write -o {str(fifo)!r}: Broken pipe\n"
    )
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_convert_output_keeps_mode(tmp_path: Path) -> None:
    output = tmp_path / "private.json"
    output.write_text("old\n")
    output.chmod(0o600)
    assert main([*CONVERT_OCI, "-o", str(output)]) == 0
    assert stat.S_IMODE(output.stat().st_mode) == 0o600
    assert output.read_bytes() == expected_oci()
    assert list(tmp_path.iterdir()) == [output]


def test_convert_output_dev_null() -> None:
    before = os.stat(os.devnull)
    assert stat.S_ISCHR(before.st_mode)
    assert main([*CONVERT_OCI, "-o", os.devnull]) == 0
    after = os.stat(os.devnull)
    assert stat.S_ISCHR(after.st_mode)
    assert after.st_rdev == before.st_rdev
    assert after.st_ino == before.st_ino


def test_convert_output_ignores_planted_temporary(tmp_path: Path) -> None:
    # A temporary name derived from the output name and the process id
    # could be taken in advance by a symlink that redirects the write.
    output = tmp_path / "profile.json"
    victim = tmp_path / "victim"
    victim.write_text("unchanged\n")
    planted = tmp_path / f"profile.json.tmp{os.getpid()}"
    planted.symlink_to(victim)
    assert main([*CONVERT_OCI, "-o", str(output)]) == 0
    assert victim.read_text() == "unchanged\n"
    assert output.read_bytes() == expected_oci()
    assert planted.is_symlink()
    assert sorted(tmp_path.iterdir()) == sorted([output, victim, planted])


def test_convert_output_missing_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = tmp_path / "missing"
    output = folder / "filter.bpf"
    assert main([*CONVERT_OCI, "-o", str(output)]) == 2
    assert capsys.readouterr().err == (
        f"seccompx convert: error: the folder {str(folder)!r} of -o "
        f"{str(output)!r} does not exist\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_convert_output_directory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert main([*CONVERT_OCI, "-o", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (
        f"seccompx convert: error: -o {str(tmp_path)!r} is a directory; "
        "give a file name\n"
    )
    assert list(tmp_path.iterdir()) == []


def test_convert_output_descriptor_path(tmp_path: Path) -> None:
    # /proc/self/fd/1 names the file open as standard output; there is no
    # folder in which a temporary file could be renamed over it.
    stdout = tmp_path / "stdout.json"
    with open(stdout, "wb") as file:
        result = subprocess.run(
            [sys.executable, "-m", "seccompx", *CONVERT_OCI, "-o", "/proc/self/fd/1"],
            stdout=file,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    assert result.returncode == 0, result.stderr
    assert stdout.read_bytes() == expected_oci()
    assert list(tmp_path.iterdir()) == [stdout]
