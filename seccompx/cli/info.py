"""``seccompx info``: versions and what the running kernel supports."""

from __future__ import annotations

import argparse
import json
import platform
from typing import Any, Dict

from .. import _core
from .._filter import (
    actions_available,
    api_level,
    libseccomp_build_version,
    libseccomp_version,
)
from .._types import Arch


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "info",
        help="show libseccomp versions and kernel support",
        description="Show the seccompx and libseccomp versions, the kernel's "
        "seccomp actions and the native architecture.",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object"
    )
    parser.set_defaults(func=run)


def collect() -> Dict[str, Any]:
    from .. import __version__

    actions = actions_available()
    return {
        "seccompx": __version__,
        "libseccomp_running": ".".join(map(str, libseccomp_version())),
        "libseccomp_built_against": ".".join(map(str, libseccomp_build_version())),
        "libseccomp_static": bool(_core.STATIC_LIBSECCOMP),
        "api_level": api_level(),
        "native_arch": str(Arch.native()),
        "kernel": platform.release(),
        "kernel_actions": (
            None if actions is None else sorted(kind.name for kind in actions)
        ),
    }


def run(args: argparse.Namespace) -> int:
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(map(len, info))
    for key, value in info.items():
        if isinstance(value, list):
            value = " ".join(value)
        print(f"{key:<{width}}  {value}")
    return 0
