"""``seccompx info``: versions, linkage and what the running kernel supports.

The report contains what a bug report needs. It names the libseccomp the
process runs and the one seccompx was compiled against, which differ when
a source build meets a newer or older shared library. It says whether
libseccomp is linked into the extension (as in the wheels) or loaded from
the system, and which seccomp actions the kernel offers.
"""

from __future__ import annotations

import argparse
import importlib.machinery
import json
import os
import platform
from typing import Any, Dict, List, Optional

from .. import _core
from .._filter import (
    actions_available,
    api_level,
    libseccomp_build_version,
    libseccomp_version,
)
from .._types import Arch

# Written into the package by a build that links libseccomp statically.
NOTICE_NAME = "LIBSECCOMP_NOTICE.txt"
PROC_MAPS = "/proc/self/maps"


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show versions, libseccomp linkage and kernel support",
        description="Show the seccompx and libseccomp versions, how "
        "libseccomp is linked, the compiled extension modules, the "
        "kernel's seccomp actions and the native architecture.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object"
    )
    parser.set_defaults(func=run)


def package_dir() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shared_libseccomp_path(maps_path: str = PROC_MAPS) -> Optional[str]:
    """Return the shared libseccomp mapped into this process, or None."""
    try:
        with open(maps_path) as maps:
            lines = maps.read().splitlines()
    except OSError:
        return None
    for line in lines:
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and "/libseccomp.so" in fields[5]:
            return fields[5]
    return None


def libseccomp_library() -> Optional[str]:
    """Return the file holding the libseccomp code this process runs.

    For a static build that is the ``_core`` extension itself. For a shared
    build it is the library listed in ``/proc/self/maps``, or None when
    that file cannot be read.
    """
    if _core.STATIC_LIBSECCOMP:
        return os.path.abspath(str(_core.__file__))
    return shared_libseccomp_path()


def extension_modules() -> List[str]:
    """Return the names of the compiled extension modules installed."""
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    names = {
        "seccompx." + entry.split(".", 1)[0]
        for entry in os.listdir(package_dir())
        if entry.endswith(suffixes)
    }
    return sorted(names)


def notice_path() -> Optional[str]:
    """Return the libseccomp licence notice of a static build, or None."""
    path = os.path.join(package_dir(), NOTICE_NAME)
    return path if os.path.isfile(path) else None


def version_text(version: Any) -> str:
    return ".".join(str(part) for part in version)


def collect() -> Dict[str, Any]:
    """Return the report as a dict of JSON-compatible values."""
    from .. import __version__

    actions = actions_available()
    return {
        "seccompx": __version__,
        "python": f"{platform.python_implementation()} "
        f"{platform.python_version()}",
        "libseccomp_running": version_text(libseccomp_version()),
        "libseccomp_built_against": version_text(libseccomp_build_version()),
        "libseccomp_static": bool(_core.STATIC_LIBSECCOMP),
        "libseccomp_library": libseccomp_library(),
        "libseccomp_notice": notice_path(),
        "api_level": api_level(),
        "extensions": extension_modules(),
        "native_arch": str(Arch.native()),
        "kernel": platform.release(),
        "kernel_actions": (
            None if actions is None else sorted(kind.name for kind in actions)
        ),
    }


# Text output for a None value, by report key.
NONE_TEXT = {
    "libseccomp_library": "unknown (/proc/self/maps is not readable)",
    "libseccomp_notice": "none (only a wheel installs libseccomp's licence notice)",
    "kernel_actions": "unknown (no /proc/sys/kernel/seccomp/actions_avail)",
}


def format_value(key: str, value: Any) -> str:
    """Return one value of the report as the text output shows it."""
    if value is None:
        return NONE_TEXT.get(key, "unknown")
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(value)
    return str(value)


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}}  {format_value(key, value)}")
    return 0
