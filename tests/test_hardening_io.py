"""Bounded reads, strict load() flags, closed pipes, file arguments,
non-blocking sources and short writes."""

from __future__ import annotations

import errno
import fcntl
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, List, Tuple

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, Filter, InvalidArgumentError, Program
from seccompx import _bpf
from seccompx.cli import EXIT_BROKEN_PIPE, EXIT_USAGE, main
from seccompx.cli._output import write_bytes, write_text
from seccompx.profile import MAX_PROFILE_BYTES, read_limited
from seccompx.program import MAX_INSTRUCTIONS, MAX_PROGRAM_BYTES
from childproc import F_SETPIPE_SZ, report, run_in_child

# The folder that contains the seccompx under test, so that the CLI's child
# processes import the same build as this process (an installed wheel, or
# a copy built elsewhere), not the repository's in-place one.
PACKAGE_PARENT = Path(seccompx.__file__).resolve().parent.parent
# One "ret ALLOW" instruction (BPF_RET | BPF_K, k = 0x7fff0000).
RET_ALLOW = b"\x06\x00\x00\x00\x00\x00\xff\x7f"


def run_cli(*args: str, **options: Any) -> subprocess.CompletedProcess[bytes]:
    options.setdefault("stdout", subprocess.PIPE)
    options.setdefault("stderr", subprocess.PIPE)
    return subprocess.run(
        [sys.executable, "-m", "seccompx", *args], cwd=PACKAGE_PARENT, timeout=60, **options
    )


def seccomp_status() -> Tuple[str, str]:
    """Return the Seccomp and NoNewPrivs fields of /proc/self/status."""
    with open("/proc/self/status") as file:
        fields = dict(line.split(":", 1) for line in file)
    return fields["Seccomp"].strip(), fields["NoNewPrivs"].strip()


def uname_denied() -> Program:
    """Return a program that fails uname(2) with EPERM and allows the rest."""
    with Filter(ALLOW) as built:
        built.add_rule(ERRNO(errno.EPERM), "uname")
        program: Program = built.compile()
    return program


class ChunkReader:
    """A raw binary file that returns at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int) -> None:
        self.data = data
        self.step = step
        self.calls = 0

    def read(self, size: int = -1) -> bytes:
        self.calls += 1
        chunk = self.data[: min(self.step, size)]
        self.data = self.data[len(chunk):]
        return chunk


# 1. Bounded reads -----------------------------------------------------------


def open_zero_fd() -> Any:
    return os.open("/dev/zero", os.O_RDONLY)


ZERO_SOURCES: List[Tuple[str, Callable[[], Any]]] = [
    ("path", lambda: "/dev/zero"),
    ("pathlib", lambda: Path("/dev/zero")),
    ("buffered file", lambda: open("/dev/zero", "rb")),
    ("raw file", lambda: open("/dev/zero", "rb", buffering=0)),
    ("descriptor", open_zero_fd),
]


@pytest.mark.parametrize("make", [make for _, make in ZERO_SOURCES],
                         ids=[name for name, _ in ZERO_SOURCES])
def test_from_file_endless_source(make: Callable[[], Any]) -> None:
    source = make()
    try:
        with pytest.raises(InvalidArgumentError) as caught:
            Program.from_file(source)
    finally:
        if isinstance(source, int):
            os.close(source)
        elif hasattr(source, "close"):
            source.close()
    message = str(caught.value)
    assert str(MAX_PROGRAM_BYTES) in message
    assert str(MAX_INSTRUCTIONS) in message
    if isinstance(source, int):
        assert f"file descriptor {source}" in message
    else:
        assert "/dev/zero" in message


def test_program_limit_is_kernel_limit() -> None:
    assert MAX_PROGRAM_BYTES == 4096 * 8


@pytest.mark.parametrize(
    "count, accepted",
    [(MAX_INSTRUCTIONS, True), (MAX_INSTRUCTIONS + 1, False)],
)
def test_from_file_limit_boundary(tmp_path: Path, count: int, accepted: bool) -> None:
    path = tmp_path / "program.bpf"
    path.write_bytes(RET_ALLOW * count)
    if accepted:
        assert len(Program.from_file(path)) == count
    else:
        with pytest.raises(InvalidArgumentError, match="larger than 32768"):
            Program.from_file(path)


def test_from_file_short_reads() -> None:
    # A raw file may return less than requested before its end.
    reader = ChunkReader(RET_ALLOW * MAX_INSTRUCTIONS, step=1000)
    program = Program.from_file(reader)  # type: ignore[arg-type]
    assert len(program) == MAX_INSTRUCTIONS
    assert reader.calls > MAX_PROGRAM_BYTES // 1000


def test_from_file_short_reads_over_limit() -> None:
    reader = ChunkReader(RET_ALLOW * (MAX_INSTRUCTIONS + 10), step=1000)
    with pytest.raises(InvalidArgumentError, match="ChunkReader"):
        Program.from_file(reader)  # type: ignore[arg-type]
    # It stopped one byte past the limit instead of reading to the end.
    assert len(reader.data) == 10 * 8 - 1


def test_from_profile_endless_source() -> None:
    with pytest.raises(seccompx.ProfileError) as caught:
        Filter.from_profile("/dev/zero")
    assert isinstance(caught.value, InvalidArgumentError)
    message = str(caught.value)
    assert "'/dev/zero'" in message
    assert str(MAX_PROFILE_BYTES) in message
    assert "cannot read" not in message


@pytest.mark.parametrize("padding, accepted", [(0, True), (1, False)])
def test_from_profile_limit_boundary(
    tmp_path: Path, padding: int, accepted: bool
) -> None:
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW"})
    path = tmp_path / "profile.json"
    # Trailing whitespace is valid JSON and pads the file to the limit.
    path.write_text(text + " " * (MAX_PROFILE_BYTES - len(text) + padding))
    if accepted:
        with Filter.from_profile(path) as built:
            assert built.default_action == ALLOW
    else:
        with pytest.raises(seccompx.ProfileError, match="over the limit"):
            Filter.from_profile(path)


@pytest.mark.parametrize(
    "argv, limit",
    [
        (["disasm", "--bpf", "/dev/zero"], MAX_PROGRAM_BYTES),
        (["audit", "--bpf", "/dev/zero"], MAX_PROGRAM_BYTES),
        (["simulate", "--bpf", "/dev/zero", "read"], MAX_PROGRAM_BYTES),
        (["disasm", "--profile", "/dev/zero"], MAX_PROFILE_BYTES),
        (["check", "/dev/zero"], MAX_PROFILE_BYTES),
        (["convert", "--to", "oci", "/dev/zero"], MAX_PROFILE_BYTES),
        (["bench", "--profile", "/dev/zero"], MAX_PROFILE_BYTES),
    ],
)
def test_cli_endless_input(argv: List[str], limit: int) -> None:
    result = run_cli(*argv)
    stderr = result.stderr.decode()
    assert result.returncode == EXIT_USAGE, stderr
    assert stderr.startswith(f"seccompx {argv[0]}: error: ")
    assert str(limit) in stderr
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr


def test_cli_endless_stdin() -> None:
    with open("/dev/zero", "rb") as zero:
        result = run_cli("check", "-", stdin=zero)
    stderr = result.stderr.decode()
    assert result.returncode == EXIT_USAGE, stderr
    assert stderr.startswith("seccompx check: error: profile <stdin> is over")
    assert "Traceback" not in stderr


def test_cli_memory_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def exhaust(source: object) -> Program:
        raise MemoryError

    monkeypatch.setattr(Program, "from_file", exhaust)
    status = main(["disasm", "--bpf", "/dev/null"])
    captured = capsys.readouterr()
    assert status == EXIT_USAGE
    assert captured.err == (
        "seccompx disasm: error: out of memory; the input may be too large\n"
    )
    assert captured.out == ""


# 2. Program.load() takes only bools -------------------------------------------

FLAG_KEYWORDS = (
    "tsync", "log", "spec_allow", "new_listener", "wait_killable_recv",
    "no_new_privs",
)
NOT_BOOLS: List[object] = ["", None, "false", "yes", 2, 0, 1, 0.0, [], ()]
BAD_FLAGS = [
    (keyword, value) for keyword in FLAG_KEYWORDS for value in NOT_BOOLS
]


@pytest.mark.parametrize("keyword, value", BAD_FLAGS)
def test_load_rejects_non_bool(keyword: str, value: object) -> None:
    program = uname_denied()

    def body(out: int) -> int:
        try:
            program.load(**{keyword: value})
        except TypeError as error:
            report(out, str(error))
        else:
            report(out, "no TypeError")
        report(out, " ".join(seccomp_status()))
        try:
            os.uname()
        except PermissionError:
            return 3
        return 0

    result = run_in_child(body)
    message, status = result.text.splitlines()
    assert message == f"{keyword} must be True or False, not {value!r}"
    # Mode 0 and no_new_privs unchanged: nothing reached the kernel.
    assert status == f"0 {seccomp_status()[1]}"
    assert result.exitcode == 0, result


@pytest.mark.parametrize("no_new_privs", [True, False])
def test_load_accepts_bools(no_new_privs: bool) -> None:
    program = uname_denied()

    def body(out: int) -> int:
        program.load(
            tsync=False,
            log=False,
            spec_allow=False,
            new_listener=False,
            wait_killable_recv=False,
            no_new_privs=no_new_privs,
        )
        report(out, " ".join(seccomp_status()))
        try:
            os.uname()
        except PermissionError:
            return 3
        return 0

    result = run_in_child(body)
    assert result.exitcode == 3, result
    mode, flag = result.text.split()
    assert mode == "2"
    if no_new_privs:
        assert flag == "1"
    else:
        assert flag == seccomp_status()[1]


@pytest.mark.parametrize("value", [None, "", 0, 1, "false"])
def test_bpf_load_rejects_non_bool(value: object) -> None:
    # The extension checks no_new_privs too, for callers other than load().
    data = bytes(uname_denied())

    def body(out: int) -> int:
        try:
            _bpf.load(data, 0, value)
        except TypeError as error:
            report(out, str(error))
        report(out, seccomp_status()[0])
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text.splitlines() == [
        f"no_new_privs must be True or False, not {value!r}",
        "0",
    ]


# 3. Closed standard output ----------------------------------------------------


@pytest.fixture(scope="module")
def large_program(tmp_path_factory: pytest.TempPathFactory) -> Tuple[Path, Path]:
    """Write a program and a profile whose listings exceed a pipe buffer."""
    folder = tmp_path_factory.mktemp("pipes")
    with Filter(ALLOW) as built:
        for value in range(2000):
            built.add_rule(ERRNO(errno.EPERM), "ioctl", seccompx.Arg(1) == value)
        bpf = folder / "large.bpf"
        bpf.write_bytes(bytes(built.compile()))
        profile = folder / "large.json"
        profile.write_text(json.dumps(built.to_profile()))
    return bpf, profile


def closed_pipe_commands(bpf: Path, profile: Path) -> List[List[str]]:
    return [
        ["disasm", "--bpf", str(bpf)],
        ["disasm", "--bpf", str(bpf), "--json"],
        ["audit", "--bpf", str(bpf)],
        ["check", str(profile), "--json"],
        ["check", str(profile)],
        ["convert", "--to", "pfc", str(profile)],
        ["simulate", "--bpf", str(bpf), "ioctl", "0", "5"],
        ["info"],
    ]


@pytest.mark.parametrize("case", range(8))
def test_cli_closed_stdout(large_program: Tuple[Path, Path], case: int) -> None:
    argv = closed_pipe_commands(*large_program)[case]
    read_fd, write_fd = os.pipe()
    os.close(read_fd)  # the reader is gone before the first write
    try:
        result = run_cli(*argv, stdout=write_fd, stderr=subprocess.PIPE)
    finally:
        os.close(write_fd)
    assert result.stderr == b"", argv
    assert result.returncode == EXIT_BROKEN_PIPE, argv


def test_cli_reader_exits_early(large_program: Tuple[Path, Path]) -> None:
    # Like "seccompx disasm --bpf FILE | head -5": the reader takes a few
    # lines, then closes the pipe while the command is still writing.
    bpf, _ = large_program
    command = subprocess.Popen(
        [sys.executable, "-m", "seccompx", "disasm", "--raw", "--bpf", str(bpf)],
        cwd=PACKAGE_PARENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert command.stdout is not None and command.stderr is not None
    head = command.stdout.read(200)
    command.stdout.close()
    stderr = command.stderr.read()
    command.stderr.close()
    returncode = command.wait(timeout=60)
    assert head.startswith(b"# ")
    assert stderr == b""
    # The listing (about 100 KiB) is larger than the 64 KiB pipe buffer, so
    # the command was still writing when the reader closed the pipe.
    assert returncode == EXIT_BROKEN_PIPE


def test_cli_open_stdout_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["info"])
    assert status == 0
    assert capsys.readouterr().out != ""


# 4. File arguments that are not usable files ----------------------------------


def closed_file() -> Any:
    file = open(os.devnull, "wb")
    file.close()
    return file


def export_bpf(target: Any) -> None:
    with Filter(ALLOW) as built:
        built.export_bpf_to(target)


def export_pfc(target: Any) -> None:
    with Filter(ALLOW) as built:
        built.export_pfc_to(target)


ACCEPTED_TEXT = "a non-negative int fd"
BAD_FILES: List[Tuple[str, Callable[[Any], None], Callable[[], Any], str]] = [
    ("from_file negative fd", Program.from_file, lambda: -1, "file descriptor -1"),
    ("from_file closed file", Program.from_file, closed_file, repr(os.devnull)),
    ("from_file closed BytesIO", Program.from_file,
     lambda: _closed(io.BytesIO(RET_ALLOW)), "BytesIO"),
    ("export_bpf_to negative fd", export_bpf, lambda: -1, "file descriptor -1"),
    ("export_bpf_to closed file", export_bpf, closed_file, repr(os.devnull)),
    ("export_bpf_to BytesIO", export_bpf, io.BytesIO, "BytesIO"),
    ("export_pfc_to closed file", export_pfc, closed_file, repr(os.devnull)),
    ("export_pfc_to StringIO", export_pfc, io.StringIO, "StringIO"),
]


def _closed(file: Any) -> Any:
    file.close()
    return file


@pytest.mark.parametrize(
    "call, make, shown",
    [case[1:] for case in BAD_FILES],
    ids=[case[0] for case in BAD_FILES],
)
def test_unusable_file_argument(
    call: Callable[[Any], None], make: Callable[[], Any], shown: str
) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        call(make())
    message = str(caught.value)
    assert shown in message
    assert ACCEPTED_TEXT in message or "between 0 and" in message
    assert caught.value.errno == errno.EINVAL


def test_export_to_real_file_still_works(tmp_path: Path) -> None:
    path = tmp_path / "out.bpf"
    with Filter(ALLOW) as built, open(path, "wb") as file:
        file.write(b"")  # pending buffered data is flushed before export
        built.export_bpf_to(file)
        expected = bytes(built.compile())
    assert path.read_bytes() == expected


# 5. Non-blocking, text-mode and unreadable sources ---------------------------


def nonblocking_pipe(data: bytes) -> Tuple[int, int]:
    """Return a pipe whose read end is non-blocking and holds ``data``.

    The write end stays open, so a read past ``data`` finds no data
    instead of end of file.
    """
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.write(write_fd, data)
    return read_fd, write_fd


def closed_descriptor() -> int:
    """Return a descriptor number that is not open in this process."""
    fd = os.open(os.devnull, os.O_RDONLY)
    os.close(fd)
    return fd


class NoDataReader:
    """A file that returns ``data`` in one read, then None like a
    non-blocking file that has no data yet."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def read(self, size: int = -1) -> Any:
        chunk, self.data = self.data, b""
        return chunk or None


def test_read_limited_short_reads() -> None:
    text = json.dumps({"defaultAction": "SCMP_ACT_ALLOW"}).encode()
    reader = ChunkReader(text, step=5)
    assert read_limited(reader, "<test>") == text  # type: ignore[arg-type]
    assert reader.calls > len(text) // 5


def test_read_limited_short_reads_over_limit() -> None:
    reader = ChunkReader(b" " * (MAX_PROFILE_BYTES + 100), step=1 << 20)
    with pytest.raises(seccompx.ProfileError, match="over the limit"):
        read_limited(reader, "<test>")  # type: ignore[arg-type]
    # It stopped one byte past the limit instead of reading to the end.
    assert len(reader.data) == 99


@pytest.mark.parametrize(
    "data, shown",
    [(b"", "had no data yet"), (b'{"defaultAction"', "after 16 bytes")],
    ids=["empty", "partial"],
)
def test_read_limited_no_data(data: bytes, shown: str) -> None:
    with pytest.raises(seccompx.ProfileError) as caught:
        read_limited(NoDataReader(data), "<test>")  # type: ignore[arg-type]
    message = str(caught.value)
    assert message.startswith("cannot read profile <test>: ")
    assert "non-blocking" in message
    assert shown in message


@pytest.mark.parametrize(
    "data, shown",
    [(b"", "had no data yet"), (b'{"defaultAction": ', "after 18 bytes")],
    ids=["empty", "partial"],
)
def test_cli_nonblocking_stdin(data: bytes, shown: str) -> None:
    read_fd, write_fd = nonblocking_pipe(data)
    try:
        result = run_cli("check", "-", stdin=read_fd)
    finally:
        os.close(read_fd)
        os.close(write_fd)
    stderr = result.stderr.decode()
    assert result.returncode == EXIT_USAGE, stderr
    assert stderr.startswith("seccompx check: error: cannot read profile <stdin>")
    assert "non-blocking" in stderr
    assert shown in stderr
    assert stderr.count("\n") == 1
    assert "Traceback" not in stderr


def test_cli_nonblocking_stdin_at_end() -> None:
    # All data has arrived and the writer closed the pipe: a normal read.
    read_fd, write_fd = nonblocking_pipe(b'{"defaultAction": "SCMP_ACT_ALLOW"}')
    os.close(write_fd)
    try:
        result = run_cli("check", "-", "--json", stdin=read_fd)
    finally:
        os.close(read_fd)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["source"] == "<stdin>"


@pytest.mark.parametrize(
    "data, shown",
    [(b"", "had no data yet"), (RET_ALLOW, "after 8 bytes")],
    ids=["empty", "one instruction"],
)
@pytest.mark.parametrize("wrap", ["descriptor", "buffered", "raw"])
def test_from_file_nonblocking_pipe(data: bytes, shown: str, wrap: str) -> None:
    read_fd, write_fd = nonblocking_pipe(data)
    source: Any = read_fd
    if wrap != "descriptor":
        source = open(read_fd, "rb", buffering=0 if wrap == "raw" else -1,
                      closefd=False)
    try:
        with pytest.raises(InvalidArgumentError) as caught:
            Program.from_file(source)
    finally:
        if wrap != "descriptor":
            source.close()
        os.close(read_fd)
        os.close(write_fd)
    message = str(caught.value)
    assert "non-blocking" in message
    assert shown in message
    assert caught.value.errno == errno.EINVAL


def test_from_file_nonblocking_pipe_at_end() -> None:
    read_fd, write_fd = nonblocking_pipe(RET_ALLOW)
    os.close(write_fd)
    try:
        program = Program.from_file(read_fd)
    finally:
        os.close(read_fd)
    assert bytes(program) == RET_ALLOW


def test_from_file_text_file(tmp_path: Path) -> None:
    path = tmp_path / "program.bpf"
    # Not valid UTF-8, so reading it as text would raise UnicodeDecodeError.
    path.write_bytes(RET_ALLOW + b"\xff" * 8)
    with open(path) as file:
        with pytest.raises(TypeError) as caught:
            Program.from_file(file)  # type: ignore[arg-type]
        assert file.tell() == 0  # the check comes before any read
    message = str(caught.value)
    assert repr(str(path)) in message
    assert "open the file in binary mode ('rb')" in message


def test_from_file_string_io() -> None:
    with pytest.raises(TypeError, match=r"StringIO: .*binary mode \('rb'\)"):
        Program.from_file(io.StringIO("text"))  # type: ignore[arg-type]


def test_from_file_text_result() -> None:
    # A file object outside the io hierarchy whose read() returns str.
    class TextReader:
        def read(self, size: int = -1) -> str:
            return "text"

    with pytest.raises(TypeError, match=r"binary mode \('rb'\)"):
        Program.from_file(TextReader())  # type: ignore[arg-type]


def test_from_file_closed_descriptor() -> None:
    fd = closed_descriptor()
    with pytest.raises(InvalidArgumentError) as caught:
        Program.from_file(fd)
    message = str(caught.value)
    assert f"file descriptor {fd}" in message
    assert "Bad file descriptor (EBADF)" in message
    assert "open for reading" in message
    assert caught.value.errno == errno.EBADF
    assert isinstance(caught.value.__cause__, OSError)


def test_from_file_write_only_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "program.bpf"
    path.write_bytes(RET_ALLOW)
    fd = os.open(path, os.O_WRONLY)
    try:
        with pytest.raises(InvalidArgumentError) as caught:
            Program.from_file(fd)
        # The descriptor belongs to the caller and stays open.
        os.fstat(fd)
    finally:
        os.close(fd)
    message = str(caught.value)
    assert f"file descriptor {fd}" in message
    assert "Bad file descriptor (EBADF)" in message
    assert caught.value.errno == errno.EBADF


def test_from_file_directory_descriptor(tmp_path: Path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(InvalidArgumentError) as caught:
            Program.from_file(fd)
    finally:
        os.close(fd)
    assert f"file descriptor {fd}: Is a directory (EISDIR)" in str(caught.value)
    assert caught.value.errno == errno.EISDIR


def test_from_file_write_only_file(tmp_path: Path) -> None:
    path = tmp_path / "program.bpf"
    with open(path, "wb") as file:
        with pytest.raises(InvalidArgumentError) as caught:
            Program.from_file(file)
    message = str(caught.value)
    assert repr(str(path)) in message
    assert "not open for reading" in message


# 6. Short writes and a missing standard output -------------------------------


class ShortWriter(io.RawIOBase):
    """A binary stream that accepts at most ``step`` bytes per write."""

    def __init__(self, step: int) -> None:
        self.step = step
        self.data = bytearray()
        self.calls = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.calls += 1
        chunk = bytes(data[: self.step])
        self.data += chunk
        return len(chunk)


class FakeStdout:
    """A text stream whose binary buffer is ``buffer``."""

    encoding = "utf-8"
    errors = "strict"

    def __init__(self, buffer: Any) -> None:
        self.buffer = buffer

    def flush(self) -> None:
        pass


def test_write_bytes_repeats_short_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = ShortWriter(step=1000)
    monkeypatch.setattr(sys, "stdout", FakeStdout(writer))
    data = bytes(range(256)) * 40
    write_bytes(data)
    assert bytes(writer.data) == data
    assert writer.calls == 11


def test_write_text_repeats_short_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    writer = ShortWriter(step=7)
    monkeypatch.setattr(sys, "stdout", FakeStdout(writer))
    write_text("syscall \N{GREEK SMALL LETTER ALPHA}\n" * 10)
    assert writer.data.decode() == "syscall \N{GREEK SMALL LETTER ALPHA}\n" * 10


def test_write_bytes_nothing_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", FakeStdout(ShortWriter(step=0)))
    with pytest.raises(OSError) as caught:
        write_bytes(b"data")
    assert caught.value.errno == errno.EAGAIN
    assert "accepted none of the last 4 bytes" in str(caught.value)


def test_write_without_stdout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", None)
    write_bytes(b"data")
    write_text("text")


def short_write_commands(bpf: Path, profile: Path) -> List[List[str]]:
    return [
        ["convert", "--to", "bpf", str(profile)],
        ["convert", "--to", "pfc", str(profile)],
        ["convert", "--to", "oci", str(profile)],
        ["convert", "--to", "spo", str(profile)],
        ["disasm", "--bpf", str(bpf)],
        ["disasm", "--bpf", str(bpf), "--json"],
        ["disasm", "--bpf", str(bpf), "--raw"],
    ]


@pytest.mark.parametrize("case", range(7))
def test_cli_reader_closes_during_write(
    large_program: Tuple[Path, Path], case: int
) -> None:
    # Like "seccompx convert --to bpf big.json | head -c1", with a pipe of
    # one page, so that every output here is larger than the pipe.
    argv = short_write_commands(*large_program)[case]
    read_fd, write_fd = os.pipe()
    fcntl.fcntl(read_fd, F_SETPIPE_SZ, 4096)
    try:
        command = subprocess.Popen(
            [sys.executable, "-m", "seccompx", *argv],
            cwd=PACKAGE_PARENT,
            stdout=write_fd,
            stderr=subprocess.PIPE,
        )
    finally:
        os.close(write_fd)
    assert command.stderr is not None
    try:
        # The command has started writing once a byte arrives; the rest of
        # its output does not fit in the pipe, so it is still writing.
        first = os.read(read_fd, 1)
    finally:
        os.close(read_fd)
    stderr = command.stderr.read()
    command.stderr.close()
    returncode = command.wait(timeout=60)
    assert first != b"", argv
    assert stderr == b"", argv
    assert returncode == EXIT_BROKEN_PIPE, argv


def stdout_closed_commands(bpf: Path, profile: Path) -> List[Tuple[List[str], int]]:
    """Return commands and the exit status each has with any stdout."""
    return [
        (["info"], 0),
        (["check", str(profile)], 0),
        (["check", str(profile), "--json"], 0),
        (["convert", "--to", "bpf", str(profile)], 0),
        (["convert", "--to", "oci", str(profile)], 0),
        (["disasm", "--bpf", str(bpf)], 0),
        (["audit", "--bpf", str(bpf)], 1),
        (["simulate", "--bpf", str(bpf), "ioctl", "0", "5"], 0),
        (["demo"], 0),
        (["check", "/nonexistent/profile.json"], EXIT_USAGE),
    ]


@pytest.mark.parametrize("case", range(10))
def test_cli_without_stdout(large_program: Tuple[Path, Path], case: int) -> None:
    # Like "seccompx info >&-": descriptor 1 is closed, so sys.stdout is
    # None in the command.
    argv, status = stdout_closed_commands(*large_program)[case]
    result = subprocess.run(
        ["/bin/sh", "-c", 'exec "$@" >&-', "sh", sys.executable, "-m",
         "seccompx", *argv],
        cwd=PACKAGE_PARENT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=60,
    )
    stderr = result.stderr.decode()
    assert "Traceback" not in stderr, argv
    assert result.returncode == status, (argv, stderr)
    if status != EXIT_USAGE:
        assert stderr == "", argv


@pytest.mark.parametrize("fd", [2**31, 2**64, -5])
def test_from_file_descriptor_out_of_range(fd: int) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as info:
        Program.from_file(fd)
    assert f"file descriptor {fd}" in str(info.value)
    assert "2147483647" in str(info.value)


def test_from_file_bytes_path(tmp_path: Path) -> None:
    program = Filter(seccompx.ALLOW).compile()
    path = tmp_path / "program.bpf"
    path.write_bytes(bytes(program))
    assert Program.from_file(os.fsencode(path)) == program


def _status_fields() -> dict:
    with open("/proc/self/status") as status:
        return dict(line.split(":", 1) for line in status if ":" in line)


def test_wait_killable_recv_needs_listener() -> None:
    program = Filter(seccompx.ALLOW).compile()
    before = _status_fields()

    def body(fd: int) -> int:
        try:
            program.load(wait_killable_recv=True)
        except seccompx.InvalidArgumentError as error:
            os.write(fd, str(error).encode())
        after = _status_fields()
        # Nothing was changed: no new filter, no new no_new_privs.
        if after["Seccomp"] != before["Seccomp"]:
            return 3
        return 0 if after["NoNewPrivs"] == before["NoNewPrivs"] else 4

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert "new_listener=True" in result.text
