"""``seccompx check``: validate a seccomp profile and summarise it.

:func:`add_profile_options` and :func:`load_profile` are shared with the
other subcommands that read a profile.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Dict, List, Optional

from .._filter import Filter
from ..profile import CAPABILITIES, ProfileReport, parse_json, read_limited
from ._output import write_text
from ._text import printable


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="validate a seccomp profile (OCI or Docker JSON)",
        description="Read an OCI or Docker seccomp profile, build the "
        "filter it describes, and list what was skipped and why.  Exit "
        "status 2 means the profile is invalid.",
    )
    add_profile_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the report as one JSON object"
    )
    parser.set_defaults(func=run)


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """Add PROFILE and the options of Filter.from_profile to ``parser``."""
    parser.add_argument(
        "profile", metavar="PROFILE", help="profile JSON file, or - for stdin"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="reject unknown syscall names and everything that would "
        "otherwise be a warning",
    )
    parser.add_argument(
        "--arch",
        help="architecture to build for and to match includes/excludes "
        "against (default: native)",
    )
    parser.add_argument(
        "--caps",
        metavar="LIST",
        help="comma-separated capabilities held, for includes/excludes "
        "(such as CAP_SYS_ADMIN,CAP_SYS_PTRACE), 'all' or 'none' "
        "(default: this process's effective set)",
    )
    parser.add_argument(
        "--kernel",
        metavar="VERSION",
        help="kernel version for minKernel, such as 5.15 (default: running)",
    )
    parser.add_argument(
        "--enosys",
        action="store_true",
        help="fail native syscall numbers above the highest one the "
        "profile names with ENOSYS instead of the default action",
    )


def parse_caps(text: Optional[str]) -> Optional[List[str]]:
    """Turn the --caps value into a list for from_profile (None: default)."""
    if text is None:
        return None
    value = text.strip().lower()
    if value == "all":
        return list(CAPABILITIES)
    if value in ("none", ""):
        return []
    return [item.strip() for item in text.split(",") if item.strip()]


def load_profile(args: argparse.Namespace) -> Filter:
    """Build the filter that the parsed PROFILE and options describe."""
    source: Any = args.profile
    if source == "-":
        source = parse_json(read_limited(sys.stdin.buffer, "<stdin>"), "<stdin>")
    filter = Filter.from_profile(
        source,
        capabilities=parse_caps(args.caps),
        kernel_version=args.kernel,
        strict=args.strict,
        enosys_for_unknown=args.enosys,
        arch=args.arch,
    )
    if args.profile == "-" and filter.profile_report is not None:
        filter.profile_report.source = "<stdin>"
    return filter


def summary(report: ProfileReport, instructions: int) -> Dict[str, Any]:
    """Return the report as a dict, with the compiled filter's size added."""
    data = report.to_dict()
    data["instructions"] = instructions
    return data


def print_text(report: ProfileReport, instructions: int) -> None:
    excluded = len(report.excluded)
    lines = [
        ("profile", report.source),
        ("default action", repr(report.default_action)),
        ("architectures", " ".join(str(arch) for arch in report.arches)),
        ("flags", " ".join(report.flags) or "none"),
        ("entries", f"{report.entries} ({excluded} left out by includes/excludes)"),
        ("rules", f"{report.rules} for {report.syscalls} syscalls"),
        ("instructions", str(instructions)),
    ]
    if report.enosys:
        first, last = report.enosys
        lines.append(("enosys", f"native syscalls {first}..{last} answer ENOSYS"))
    if report.group_members_skipped:
        lines.append(
            (
                "group members",
                f"{report.group_members_skipped} unknown here, skipped",
            )
        )
    lines.append(("skipped names", str(len(report.skipped))))
    width = max(len(key) for key, _ in lines)
    for key, value in lines:
        print(f"{key:<{width}}  {printable(value)}")
    for skipped in report.skipped:
        print(printable(f"  {skipped.path}: {skipped.name}: {skipped.reason}"))
    for excluded_entry in report.excluded:
        print(printable(f"  left out {excluded_entry.path}: {excluded_entry.reason}"))
    print(f"{'warnings':<{width}}  {len(report.warnings)}")
    for warning in report.warnings:
        print(printable(f"  {warning}"))


def run(args: argparse.Namespace) -> int:
    filter = load_profile(args)
    try:
        instructions = filter.instruction_count()
        report = filter.profile_report
        assert report is not None
        if args.json:
            text = json.dumps(summary(report, instructions), indent=2)
            write_text(text + "\n")
        else:
            print_text(report, instructions)
    finally:
        filter.close()
    return 0
