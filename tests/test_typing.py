"""The package and the examples pass ``mypy --strict``; the stubs match.

Skipped when mypy is not installed (``make test`` installs it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import seccompx

ROOT = Path(__file__).resolve().parent.parent
PACKAGE_PARENT = Path(seccompx.__file__).resolve().parent.parent
# A sanitizer build's extensions load only with its runtime preloaded.
SANITIZER_ENV = {
    name: os.environ[name]
    for name in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")
    if name in os.environ
}
# The compiled extensions and their stubs (seccompx/<name>.pyi).
EXTENSIONS = ("_core", "_bpf", "_notify", "_sandbox", "_bench")


def run_mypy(
    module: str, *args: str, cache: Path, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    pytest.importorskip("mypy")
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env={"MYPY_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin", **SANITIZER_ENV},
    )


def test_py_typed_marker() -> None:
    assert (ROOT / "seccompx" / "py.typed").is_file()


@pytest.mark.parametrize("name", EXTENSIONS)
def test_extension_has_stub(name: str) -> None:
    assert (ROOT / "seccompx" / f"{name}.pyi").is_file()


def test_mypy_strict(tmp_path: Path) -> None:
    result = run_mypy("mypy", "--strict", "seccompx", "examples", cache=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_stubs_match_extensions(tmp_path: Path) -> None:
    """stubtest imports each extension and compares it with its stub."""
    modules = [f"seccompx.{name}" for name in EXTENSIONS]
    # From the folder of the package under test, which may be an installed
    # wheel rather than the source tree.
    result = run_mypy("mypy.stubtest", *modules, cache=tmp_path, cwd=PACKAGE_PARENT)
    assert result.returncode == 0, result.stdout + result.stderr
