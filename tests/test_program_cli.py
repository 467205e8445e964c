"""The disasm, simulate, audit and dump subcommands."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import io
import json
import os
import signal
import time
from pathlib import Path
from typing import List, Tuple

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, KILL_PROCESS, Arch, Arg, Filter
from seccompx.cli import main
from childproc import run_in_child

pytestmark = pytest.mark.skipif(
    Arch.native() is not Arch.X86_64,
    reason="the expected listings use x86_64 syscall numbers",
)


def run_cli(capsys, *argv: str) -> Tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def allowlist(tmp_path: Path) -> Path:
    f = Filter(default=KILL_PROCESS)
    f.allow("read", "write")
    f.add_rule(ERRNO(1), "openat", Arg(2) == 5)
    path = tmp_path / "allowlist.bpf"
    path.write_bytes(bytes(f.compile()))
    f.close()
    return path


@pytest.fixture
def denylist(tmp_path: Path) -> Path:
    f = Filter(default=ALLOW)
    f.deny("ptrace")
    path = tmp_path / "denylist.bpf"
    path.write_bytes(bytes(f.compile()))
    f.close()
    return path


def test_disasm_prints_listing(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capsys, "disasm", "--bpf", str(allowlist))
    assert code == 0
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == f"# {allowlist}: 15 instructions, architectures: x86_64"
    assert lines[1] == " 0: A = arch"
    assert lines[-1] == "14: return KILL_PROCESS"


def test_disasm_json(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, "disasm", "--bpf", str(allowlist), "--json")
    assert code == 0
    data = json.loads(out)
    assert len(data) == 1
    assert data[0]["instructions"] == 15
    assert data[0]["arches"] == ["x86_64"]
    assert data[0]["lines"][1]["comment"] == "architecture check"
    assert data[0]["lines"][13]["text"] == "return ERRNO(1)"


def test_disasm_raw_columns(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    _, out, _ = run_cli(capsys, "disasm", "--bpf", str(allowlist), "--raw")
    assert out.splitlines()[1] == " 0: 0020   0   0 00000004  A = arch"


def test_simulate_prints_action(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(
        capsys, "simulate", "--bpf", str(allowlist), "openat", "0", "0", "5"
    )
    assert code == 0
    assert out == "ERRNO(1)  (instruction 13, return value 0x00050001)\n"
    _, out, _ = run_cli(
        capsys, "simulate", "--bpf", str(allowlist), "openat", "0", "0", "0x100000005"
    )
    assert out.startswith("KILL_PROCESS  (instruction 14")
    _, out, _ = run_cli(
        capsys, "simulate", "--bpf", str(allowlist), "--arch", "x86", "read"
    )
    assert out.startswith("KILL_PROCESS  (instruction 14")


def test_simulate_json(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, "simulate", "--bpf", str(allowlist), "--json", "0")
    assert code == 0
    assert json.loads(out) == {
        "action": "ALLOW",
        "kind": "ALLOW",
        "data": 0,
        "value": 0x7FFF0000,
        "filter": None,
        "instruction": 7,
    }


def test_simulate_unknown_syscall(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capsys, "simulate", "--bpf", str(allowlist), "opn")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("seccompx simulate: error: unknown syscall 'opn'")


def test_simulate_rejects_bad_integer(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as caught:
        main(["simulate", "--bpf", str(allowlist), "read", "12z"])
    assert caught.value.code == 2
    assert "invalid integer '12z'" in capsys.readouterr().err


def test_simulate_arg_is_optional(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as caught:
        main(["simulate", "--bpf", "unused.bpf"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "the following arguments are required: SYSCALL;" in err
    assert "ARG" not in err


def test_simulate_options_after_arguments(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(
        capsys, "simulate", "--bpf", str(allowlist), "openat", "--arch", "x86_64", "0", "0", "5"
    )
    assert (code, err) == (0, "")
    assert out == "ERRNO(1)  (instruction 13, return value 0x00050001)\n"
    code, out, err = run_cli(
        capsys, "simulate", "--bpf", str(allowlist), "read", "--arch", "x86", "4294967296"
    )
    assert code == 2
    assert err.startswith("seccompx simulate: error: argument 0 0x100000000 does not fit")


def test_unrecognized_argument_names_subcommand(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as caught:
        main(["disasm", "--bpf", str(allowlist), "extra"])
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("seccompx disasm: error: unrecognized arguments: extra;")
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["simulate", "--bpf", "f.bpf", "read", "9" * 5000], "is too long"),
        (["simulate", "--bpf", "f.bpf", "9" * 5000], "is too long"),
        (["simulate", "--bpf", "f.bpf", "x" * 5000], "is too long"),
        (["dump", "99999999999999999999"], "out of range: use 1 to 2147483647"),
        (["audit", "--pid", "0"], "out of range: use 1 to 2147483647"),
        (["audit", "--pid", "1", "--filter", "-1"], "out of range: use 0 to 6553"),
    ],
    ids=["long-arg", "long-number", "long-name", "pid", "zero-pid", "filter"],
)
def test_integer_options_are_bounded(capsys, argv: List[str], message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
    assert len(err) < 300


def test_dump_failure_exits_one(capsys) -> None:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    code, out, err = run_cli(capsys, "dump", str(pid))
    assert code == 1
    assert out == ""
    assert err == f"seccompx dump: error: no process {pid}, or it exited\n"


def test_dump_refusal_exits_one(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def refuse(pid: int) -> List[seccompx.Program]:
        raise seccompx.SeccompError("ptrace cannot attach (EPERM)", errno.EPERM)

    monkeypatch.setattr("seccompx.cli.dump.dump", refuse)
    code, _, err = run_cli(capsys, "dump", "1")
    assert code == 1
    assert err.startswith("seccompx dump: error: ptrace cannot attach")


PTRACE_TRACEME = 0


@contextlib.contextmanager
def traced_child():
    """Yield the pid of a child that this process traces (PTRACE_TRACEME)."""
    libc = ctypes.CDLL(None, use_errno=True)
    ready_read, ready_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(ready_read)
        libc.ptrace(PTRACE_TRACEME, 0, None, None)
        os.write(ready_write, b"x")
        time.sleep(60)
        os._exit(0)
    os.close(ready_write)
    try:
        assert os.read(ready_read, 1) == b"x"
        yield pid
    finally:
        os.close(ready_read)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def test_simulate_pid_traced_names_tracer(capsys) -> None:  # type: ignore[no-untyped-def]
    with traced_child() as pid:
        code, _, err = run_cli(capsys, "simulate", "--pid", str(pid), "read")
    assert code == 1
    assert f"ptrace cannot attach to process {pid} (EPERM)" in err
    assert f"process {os.getpid()} traces it already" in err
    assert "run as root" not in err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs CAP_SYS_PTRACE")
def test_simulate_pid_refused_with_ptrace_capability(capsys, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The kernel refuses as for a process that a security module protects:
    # the target has no tracer, and this process has CAP_SYS_PTRACE.
    def refuse(pid: int) -> List[bytes]:
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), "PTRACE_SEIZE")

    monkeypatch.setattr(seccompx._bpf, "get_filters", refuse)
    code, _, err = run_cli(capsys, "simulate", "--pid", str(os.getppid()), "read")
    assert code == 1
    assert "this process has CAP_SYS_PTRACE" in err
    assert "security module" in err
    assert "run as root" not in err


def test_heading_escapes_file_name(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    odd = allowlist.with_name("a\x1b[2Jb.bpf")
    odd.write_bytes(allowlist.read_bytes())
    code, out, _ = run_cli(capsys, "disasm", "--bpf", str(odd))
    assert code == 0
    assert "\x1b" not in out
    assert "a\\x1b[2Jb.bpf" in out.splitlines()[0]


def test_audit_clean_and_findings(capsys, tmp_path: Path, denylist: Path) -> None:  # type: ignore[no-untyped-def]
    f = Filter(default=KILL_PROCESS)
    f.allow("read", "write", "exit_group")
    clean = tmp_path / "clean.bpf"
    clean.write_bytes(bytes(f.compile()))
    f.close()
    code, out, _ = run_cli(capsys, "audit", "--bpf", str(clean))
    assert code == 0
    assert out.splitlines()[1] == "no findings"
    code, out, _ = run_cli(capsys, "audit", "--bpf", str(denylist))
    assert code == 1
    assert out.splitlines()[1].startswith("medium: default-allow at instruction ")


def test_audit_json(capsys, denylist: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = run_cli(capsys, "audit", "--bpf", str(denylist), "--json")
    assert code == 1
    report = json.loads(out)
    assert report[0]["findings"][0]["code"] == "default-allow"
    assert report[0]["findings"][0]["severity"] == "medium"


def test_profile_source(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    profile = tmp_path / "profile.json"
    profile.write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [
                    {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}
                ],
            }
        )
    )
    code, out, _ = run_cli(capsys, "simulate", "--profile", str(profile), "getpid")
    assert code == 0
    assert out.startswith("ERRNO(1)  (instruction ")
    code, out, _ = run_cli(capsys, "audit", "--profile", str(profile))
    assert code == 0


def test_missing_file_is_one_line(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, err = run_cli(capsys, "disasm", "--bpf", str(tmp_path / "none.bpf"))
    # A missing input file is invalid input, like a missing profile.
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith("seccompx disasm: error: cannot read the program from '")
    assert "No such file" in err


def test_filter_needs_pid(capsys, allowlist: Path) -> None:  # type: ignore[no-untyped-def]
    code, _, err = run_cli(capsys, "disasm", "--bpf", str(allowlist), "--filter", "0")
    assert code == 2
    assert err == "seccompx disasm: error: --filter needs --pid\n"


def test_source_is_required(capsys) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit) as caught:
        main(["audit"])
    assert caught.value.code == 2


@pytest.mark.parametrize("command", ["disasm", "simulate", "audit", "dump"])
def test_help_describes_options(capsys, command: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = capsys.readouterr().out
    assert "--json" in text
    if command == "simulate":
        assert "(default: 0)" in text
        assert "default: the native architecture" in text


def cli_against_process(argvs: List[List[str]]) -> List[str]:
    """Run CLI commands on a process with two filters; return their output.

    A run_in_child child forks the target, which loads the filters and
    waits, then runs each command with ``{pid}`` replaced.
    """
    first = Filter(default=ALLOW)
    first.deny("getpid", action=ERRNO(errno.EPERM))
    second = Filter(default=ALLOW)
    second.deny("getpid", action=KILL_PROCESS)
    programs = [first.compile(), second.compile()]
    first.close()
    second.close()

    def dumper(fd: int) -> int:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                for prog in programs:
                    prog.load()
                os.write(ready_w, b"r")
                os.read(go_r, 1)
            finally:
                os._exit(0)
        os.read(ready_r, 1)
        for argv in argvs:
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                code = main([word.format(pid=pid) for word in argv])
            os.write(fd, json.dumps([code, out.getvalue()]).encode() + b"\n")
        os.write(go_w, b"g")
        os.waitpid(pid, 0)
        return 0

    result = run_in_child(dumper)
    assert result.exitcode == 0, result
    return result.text.splitlines()


def test_commands_on_running_process(tmp_path: Path) -> None:
    prefix = str(tmp_path / "filters")
    lines = cli_against_process(
        [
            ["dump", "{pid}", "--json"],
            ["dump", "{pid}", "--output", prefix],
            ["simulate", "--pid", "{pid}", "getpid"],
            ["simulate", "--pid", "{pid}", "--filter", "0", "getpid"],
            ["disasm", "--pid", "{pid}", "--filter", "1"],
            ["audit", "--pid", "{pid}"],
        ]
    )
    results = [json.loads(line) for line in lines]
    assert [code for code, _ in results] == [0, 0, 0, 0, 0, 1]

    dumped = json.loads(results[0][1])
    assert [entry["filter"] for entry in dumped] == [0, 1]
    assert dumped[0]["arches"] == ["x86_64"]
    assert seccompx.Program(bytes.fromhex(dumped[0]["bpf"])).simulate(
        "getpid"
    ) == ERRNO(errno.EPERM)
    assert (
        seccompx.Program.from_file(prefix + ".1.bpf").simulate("getpid") == KILL_PROCESS
    )

    # The kill of the newer filter outranks the errno of the older one.
    assert results[2][1].startswith("KILL_PROCESS  (filter 1, instruction ")
    assert results[3][1].startswith("ERRNO(1)  (filter 0, instruction ")
    assert "return KILL_PROCESS" in results[4][1]
    assert results[4][1].startswith("# process ")
    assert results[5][1].count("default-allow") == 2


def test_simulate_on_unfiltered_process() -> None:
    def dumper(fd: int) -> int:
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.read(go_r, 1)
            os._exit(0)
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            code = main(["simulate", "--pid", str(pid), "getpid"])
        os.write(go_w, b"g")
        os.waitpid(pid, 0)
        os.write(fd, f"{code} {out.getvalue()}".encode())
        return 0

    result = run_in_child(dumper)
    assert result.exitcode == 0, result
    assert result.text.startswith("0 ALLOW  (process ")
    assert result.text.endswith("has no filters)\n")
