"""``seccompx simulate``: what a filter does with one syscall."""

from __future__ import annotations

import argparse
import json
from typing import Any, Dict, Union

from .._errors import InvalidArgumentError
from ..program import simulate_filters
from ._input import NoFiltersError, add_source_options, parse_integer, read_sources


# Longer than any syscall name in libseccomp 2.5.4's tables (the longest,
# sched_rr_get_interval_time64, has 28 characters).
_MAX_NAME_CHARS = 64


def _integer(text: str) -> int:
    return parse_integer(text, 0)


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "simulate",
        help="show the action a filter takes for one syscall",
        description="Run a seccomp program on one syscall, as the kernel "
        "would, and print the resulting action and the instruction that "
        "returned it.  With --pid and several filters, every filter runs "
        "and the most restrictive action wins, as in the kernel.",
    )
    # Options may follow SYSCALL and the ARGs: simulate read --arch x86 0.
    parser.intermixed = True
    add_source_options(parser)
    parser.add_argument(
        "syscall",
        metavar="SYSCALL",
        type=_syscall,
        help="a syscall name such as openat, or the number the kernel "
        "passes in seccomp_data.nr",
    )
    parser.add_argument(
        "args",
        metavar="ARG",
        nargs="*",
        default=[],
        type=_integer,
        help="up to six argument register values (integers, 0x hex "
        "accepted; missing ones are 0; a negative value is its two's "
        "complement)",
    )
    parser.add_argument(
        "--arch",
        metavar="ARCH",
        help="the architecture of the syscall, such as x86_64, x86 or x32 "
        "(default: the native architecture)",
    )
    parser.add_argument(
        "--ip",
        metavar="ADDR",
        type=_integer,
        default=0,
        help="the instruction_pointer value, an address (default: 0)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _syscall(text: str) -> Union[str, int]:
    # A number may be negative: -1 reaches seccomp_data.nr as 0xffffffff.
    if text.lstrip("+-")[:1].isdigit():
        return parse_integer(text, 0)
    if len(text) > _MAX_NAME_CHARS:
        raise argparse.ArgumentTypeError(
            f"syscall name {text[:20]!r}... is too long: {len(text)} "
            f"characters, over the limit of {_MAX_NAME_CHARS}"
        )
    return text


def run(args: argparse.Namespace) -> int:
    try:
        sources = read_sources(args)
    except NoFiltersError:
        # Without filters the kernel runs every syscall.
        return _print(
            args,
            {
                "action": "ALLOW",
                "filter": None,
                "instruction": None,
                "value": 0x7FFF0000,
            },
        )
    if len(args.args) > 6:
        raise InvalidArgumentError(
            f"{len(args.args)} arguments given; syscalls take at most 6"
        )
    action, position, raw = simulate_filters(
        [s.program for s in sources],
        args.syscall,
        args.args,
        args.arch,
        args.ip,
    )
    return _print(
        args,
        {
            "action": repr(action),
            "kind": action.kind.name,
            "data": action.data,
            "value": raw.value,
            "filter": sources[position].position,
            "instruction": raw.instruction,
        },
    )


def _print(args: argparse.Namespace, result: Dict[str, Any]) -> int:
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    if result["instruction"] is None:
        print(f"{result['action']}  (process {args.pid} has no filters)")
        return 0
    where = f"instruction {result['instruction']}"
    if result["filter"] is not None:
        where = f"filter {result['filter']}, {where}"
    print(f"{result['action']}  ({where}, return value {result['value']:#010x})")
    return 0
