"""``seccompx info``: every value checked against an independent source."""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict

import pytest

import seccompx
from seccompx import _core
from seccompx.cli import main
from seccompx.cli import info

ACTIONS_AVAIL = Path("/proc/sys/kernel/seccomp/actions_avail")
# The kernel's names in actions_avail and the ActionKind they stand for.
KERNEL_ACTION_NAMES = {
    "kill_process": "KILL_PROCESS",
    "kill_thread": "KILL_THREAD",
    "trap": "TRAP",
    "errno": "ERRNO",
    "user_notif": "NOTIFY",
    "trace": "TRACE",
    "log": "LOG",
    "allow": "ALLOW",
}


def run_info_json(capsys: pytest.CaptureFixture[str]) -> Dict[str, Any]:
    assert main(["info", "--json"]) == 0
    report: Dict[str, Any] = json.loads(capsys.readouterr().out)
    return report


def mapped_files() -> str:
    return Path("/proc/self/maps").read_text()


def mapped_files_of_import() -> str:
    """Return the mapped files of a new interpreter that imports only
    seccompx, from the folder of the package under test: other tests in
    this process may have loaded the shared libseccomp themselves."""
    package_parent = Path(seccompx.__file__).resolve().parent.parent
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import seccompx, seccompx._core; print(open('/proc/self/maps').read())",
        ],
        cwd=package_parent,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout


def test_info_json_versions(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_info_json(capsys)
    running = ".".join(map(str, seccompx.libseccomp_version()))
    built = ".".join(map(str, seccompx.libseccomp_build_version()))
    assert report["seccompx"] == seccompx.__version__
    assert report["libseccomp_running"] == running
    assert report["libseccomp_built_against"] == built
    assert report["python"].endswith(platform.python_version())
    assert report["kernel"] == os.uname().release


def test_info_json_platform(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_info_json(capsys)
    assert report["native_arch"] == str(seccompx.Arch.native())
    assert report["native_arch"] in {arch.name.lower() for arch in seccompx.Arch}
    assert report["api_level"] == seccompx.api_level()
    assert report["libseccomp_static"] is bool(_core.STATIC_LIBSECCOMP)


def test_info_kernel_actions(capsys: pytest.CaptureFixture[str]) -> None:
    if not ACTIONS_AVAIL.exists():
        pytest.skip(f"the kernel has no {ACTIONS_AVAIL} (Linux < 4.14)")
    expected = sorted(
        KERNEL_ACTION_NAMES[name]
        for name in ACTIONS_AVAIL.read_text().split()
        if name in KERNEL_ACTION_NAMES
    )
    assert run_info_json(capsys)["kernel_actions"] == expected


def test_info_static_library(capsys: pytest.CaptureFixture[str]) -> None:
    if not _core.STATIC_LIBSECCOMP:
        pytest.skip("seccompx links the shared libseccomp")
    report = run_info_json(capsys)
    assert report["libseccomp_library"] == os.path.abspath(_core.__file__)
    assert "libseccomp.so" not in mapped_files_of_import()
    # Static builds link the release they were compiled against.
    assert report["libseccomp_running"] == report["libseccomp_built_against"]


def test_info_shared_library(capsys: pytest.CaptureFixture[str]) -> None:
    if _core.STATIC_LIBSECCOMP:
        pytest.skip("seccompx links libseccomp statically")
    library = run_info_json(capsys)["libseccomp_library"]
    assert library is not None
    assert os.path.basename(library).startswith("libseccomp.so")
    assert os.path.isfile(library)
    assert library in mapped_files()


def test_info_notice_names_version(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_info_json(capsys)
    notice = report["libseccomp_notice"]
    if not report["libseccomp_static"]:
        assert notice is None
        return
    if notice is None:
        pytest.skip("an in-place static build carries no notice; wheels do")
    text = Path(notice).read_text()
    assert f"libseccomp {report['libseccomp_built_against']}," in text
    assert "GNU Lesser General Public" in text


def test_info_extensions_importable(capsys: pytest.CaptureFixture[str]) -> None:
    extensions = run_info_json(capsys)["extensions"]
    assert "seccompx._core" in extensions
    for name in extensions:
        assert re.fullmatch(r"seccompx\._[a-z]+", name), name
        __import__(name)


def test_info_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    report = run_info_json(capsys)
    assert main(["info"]) == 0
    lines = capsys.readouterr().out.splitlines()
    keys = [line.split()[0] for line in lines]
    assert keys == list(report)
    static_line = lines[keys.index("libseccomp_static")]
    expected = "yes" if report["libseccomp_static"] else "no"
    assert static_line.split()[1] == expected
    running_line = lines[keys.index("libseccomp_running")]
    assert running_line.split()[1] == report["libseccomp_running"]


def test_format_value_none_meanings() -> None:
    assert info.format_value("libseccomp_notice", None).startswith("none")
    assert info.format_value("kernel_actions", None).startswith("unknown")
    assert info.format_value("api_level", None) == "unknown"
    assert info.format_value("libseccomp_static", True) == "yes"
    assert info.format_value("extensions", ["a", "b"]) == "a b"


def test_maps_parsing(tmp_path: Path) -> None:
    maps = tmp_path / "maps"
    maps.write_text(
        "7f0000000000-7f0000001000 r--p 00000000 08:01 1 /usr/lib/libc.so.6\n"
        "7f0000002000-7f0000003000 r-xp 00001000 08:01 2 "
        "/usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.4\n"
        "7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n"
    )
    assert info.shared_libseccomp_path(str(maps)) == (
        "/usr/lib/x86_64-linux-gnu/libseccomp.so.2.5.4"
    )
    maps.write_text("7f0000000000-7f0000001000 r--p 0 08:01 1 /lib/libc.so\n")
    assert info.shared_libseccomp_path(str(maps)) is None
    assert info.shared_libseccomp_path(str(tmp_path / "missing")) is None


def test_info_command_exit_status(tmp_path: Path) -> None:
    # PYTHONPATH names the package under test, so the child imports the
    # same seccompx whether that is the tree or an installed wheel.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(seccompx.__file__))
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "info", "--json"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["libseccomp_static"] is bool(_core.STATIC_LIBSECCOMP)
    assert result.stderr == ""
