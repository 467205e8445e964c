"""The static wheel installed the way a user installs it, on a system
without libseccomp.

The wheel goes into a fresh virtual environment, and every command runs
inside a private mount namespace (``unshare --mount``) where an empty file
is bind-mounted over each shared libseccomp, so nothing can fall back to
the system library.  ``make test`` runs a representative part of the
suite there; ``make wheel-test`` sets ``SECCOMPX_WHEEL_SUITE=full`` and
runs the whole suite.  ``SECCOMPX_WHEEL=PATH`` tests that wheel instead
of the one in ``dist/``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
if not (TOOLS / "localwheel.py").is_file():
    pytest.skip(
        "tools/localwheel.py is not beside the tests", allow_module_level=True
    )
sys.path.insert(0, str(TOOLS))
import localwheel  # noqa: E402

# The part of the suite `make test` runs against the wheel: the core API,
# the info command, which reports how libseccomp is linked, and the
# allocator that a static build gives libseccomp.
SUBSET = ("tests/test_core.py", "tests/test_info.py", "tests/test_heap.py")
SUBSET_TIMEOUT = 300
FULL_TIMEOUT = 1800
EXIT_MOUNT_FAILED = 97

# Inside the new namespace: bind-mount $1 over each of the next $2 paths,
# then run the remaining arguments.
HIDE_SCRIPT = """
empty=$1; count=$2; shift 2
while [ "$count" -gt 0 ]; do
    mount --bind "$empty" "$1" || exit 97
    shift; count=$((count - 1))
done
exec "$@"
"""

# Run in the wheel's environment; prints one JSON object.
PROBE_SCRIPT = r"""
import ctypes, json, os, signal, sys
import seccompx
from seccompx import _core

try:
    ctypes.CDLL("libseccomp.so.2")
    system_library = "loaded"
except OSError as error:
    system_library = str(error)

pid = os.fork()
if pid == 0:
    try:
        f = seccompx.Filter(default=seccompx.ALLOW)
        f.add_rule(seccompx.KILL_PROCESS, "getppid")
        f.load()
        os.getppid()
    finally:
        os._exit(3)
_, status = os.waitpid(pid, 0)

with open("/proc/self/maps") as maps:
    mapped = [line.split()[-1] for line in maps if "libseccomp.so" in line]
print(json.dumps({
    "package": seccompx.__file__,
    "core": _core.__file__,
    "static": _core.STATIC_LIBSECCOMP,
    "running": list(seccompx.libseccomp_version()),
    "built": list(seccompx.libseccomp_build_version()),
    "system_library": system_library,
    "mapped": mapped,
    "child_signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
}))
"""


def shared_libseccomp_files() -> List[str]:
    """Return the real files of every shared libseccomp the loader finds.

    That is each library in ldconfig's cache plus any in the usual library
    folders, resolved through their symlinks.
    """
    candidates = []
    ldconfig = shutil.which("ldconfig") or "/sbin/ldconfig"
    if os.path.exists(ldconfig):
        cache = subprocess.run(
            [ldconfig, "-p"], capture_output=True, text=True, check=False
        ).stdout
        candidates += [
            line.split(" => ", 1)[1].strip()
            for line in cache.splitlines()
            if "libseccomp.so" in line and " => " in line
        ]
    multiarch = sysconfig.get_config_var("MULTIARCH") or ""
    for folder in ("/lib", "/lib64", "/usr/lib", "/usr/lib64",
                   "/usr/local/lib", f"/usr/lib/{multiarch}",
                   f"/lib/{multiarch}"):
        candidates += glob.glob(os.path.join(folder, "libseccomp.so*"))
    files = {os.path.realpath(path) for path in candidates}
    return sorted(path for path in files if os.path.isfile(path))


def probe_unshare() -> None:
    """Skip unless this process may create a mount namespace and bind-mount."""
    if os.geteuid() != 0:
        pytest.skip("needs root for unshare --mount and mount --bind")
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        pytest.skip("unshare or mount (util-linux) is not installed")
    result = subprocess.run(
        ["unshare", "--mount", "--", "true"],
        capture_output=True, text=True, timeout=30, check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"unshare --mount failed: {result.stderr.strip()}")


class HiddenEnvironment:
    """A virtual environment with the wheel, run with libseccomp hidden."""

    def __init__(self, venv: Path, empty: Path, hidden: List[str]) -> None:
        self.python = venv / "bin" / "python"
        self.empty = empty
        self.hidden = hidden
        self.workdir = venv.parent

    def run(
        self, args: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        env: Dict[str, str] = {
            key: value for key, value in os.environ.items()
            if not key.startswith(("PYTHON", "SECCOMPX_LIBSECCOMP"))
        }
        env["PYTHONNOUSERSITE"] = "1"
        command = [
            "unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", HIDE_SCRIPT, "sh",
            str(self.empty), str(len(self.hidden)), *self.hidden,
            str(self.python), *args,
        ]
        # The working directory contains no seccompx, so `python -m`
        # cannot import the source tree instead of the wheel.
        return subprocess.run(
            command, cwd=self.workdir, env=env, capture_output=True,
            text=True, timeout=timeout, check=False,
        )


@pytest.fixture(scope="module")
def hidden_env(tmp_path_factory: pytest.TempPathFactory) -> HiddenEnvironment:
    probe_unshare()
    if localwheel.static_archive() is None:
        pytest.skip("no libseccomp.a to link (libseccomp-dev on Debian)")
    hidden = shared_libseccomp_files()
    if not hidden:
        pytest.skip("no shared libseccomp on this system to hide")
    # SECCOMPX_WHEEL names another wheel to test, for example one built
    # against a libseccomp from tools/build-libseccomp.sh.
    chosen = os.environ.get("SECCOMPX_WHEEL")
    wheel = Path(chosen) if chosen else localwheel.find_or_build_wheel()
    assert wheel.is_file(), f"SECCOMPX_WHEEL={chosen!r} is not a file"

    base = tmp_path_factory.mktemp("wheel-env")
    venv = base / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True
    )
    subprocess.run(
        [
            sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
            "install", "--quiet", "--no-deps", "--no-index", str(wheel),
        ],
        check=True, capture_output=True,
    )
    # pytest and hypothesis come from this environment, added as a plain
    # path entry: its .pth files, such as an editable seccompx, stay unread.
    purelib = Path(
        subprocess.run(
            [str(venv / "bin" / "python"), "-c",
             "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()
    )
    (purelib / "outer-test-tools.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n"
    )
    empty = base / "empty"
    empty.write_bytes(b"")
    return HiddenEnvironment(venv, empty, hidden)


@pytest.fixture(scope="module")
def probe(hidden_env: HiddenEnvironment) -> Dict[str, object]:
    """Return what PROBE_SCRIPT reports from inside the namespace."""
    result = hidden_env.run(["-c", PROBE_SCRIPT], timeout=60)
    assert result.returncode != EXIT_MOUNT_FAILED, result.stderr
    assert result.returncode == 0, result.stderr
    report: Dict[str, object] = json.loads(result.stdout)
    return report


def test_system_libseccomp_hidden(probe: Dict[str, object]) -> None:
    # Loading the system library must fail, or the test proves nothing.
    assert probe["system_library"] != "loaded"
    assert probe["mapped"] == []


def test_wheel_imported_from_venv(
    hidden_env: HiddenEnvironment, probe: Dict[str, object]
) -> None:
    venv = str(hidden_env.python.parent.parent)
    assert str(probe["package"]).startswith(venv + os.sep)
    assert str(probe["core"]).startswith(venv + os.sep)
    assert probe["static"] == 1
    assert probe["running"] == probe["built"]


def test_wheel_filter_kills_child(probe: Dict[str, object]) -> None:
    assert probe["child_signal"] == signal.SIGSYS


def test_wheel_info_command(hidden_env: HiddenEnvironment) -> None:
    result = hidden_env.run(["-m", "seccompx", "info", "--json"], timeout=60)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["libseccomp_static"] is True
    assert report["libseccomp_library"].endswith(".so")
    assert "/_core." in report["libseccomp_library"]
    notice = Path(report["libseccomp_notice"]).read_text()
    assert f"libseccomp {report['libseccomp_built_against']}," in notice


def suite_arguments() -> List[str]:
    if os.environ.get("SECCOMPX_WHEEL_SUITE") == "full":
        # The wheel tests themselves would nest namespaces and rebuild.
        ignored = sorted((ROOT / "tests").glob("test_wheel*.py"))
        return [str(ROOT / "tests")] + [f"--ignore={path}" for path in ignored]
    return [str(ROOT / path) for path in SUBSET if (ROOT / path).is_file()]


def test_suite_against_wheel(hidden_env: HiddenEnvironment) -> None:
    full = os.environ.get("SECCOMPX_WHEEL_SUITE") == "full"
    result = hidden_env.run(
        ["-m", "pytest", "-q", "-rfEs", "-p", "no:cacheprovider",
         "--rootdir", str(ROOT), *suite_arguments()],
        timeout=FULL_TIMEOUT if full else SUBSET_TIMEOUT,
    )
    lines = result.stdout.splitlines()
    # Print the inner summary so the outer log shows what ran.
    print("\n".join(lines[-3:]))
    failures = [line for line in lines if line.startswith(("FAILED", "ERROR"))]
    assert result.returncode == 0, "\n".join(
        ["the suite failed against the installed wheel:", *failures,
         *lines[-40:], result.stderr[-2000:]]
    )
    # The wheel links libseccomp statically, so the allocator's filter
    # tests must run, not skip as they do in a shared build.
    shared_skips = [
        line for line in lines
        if line.startswith("SKIPPED") and "links the shared libseccomp" in line
    ]
    assert shared_skips == []
