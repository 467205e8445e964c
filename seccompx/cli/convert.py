"""``seccompx convert``: write a profile's filter in another format.

Each output format is one entry of :data:`FORMATS`; add an entry there to
offer another ``--to`` choice.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, NamedTuple

from .._errors import InvalidArgumentError
from .._filter import Filter
from . import EXIT_FAILURE, EXIT_OK
from ._output_file import output_problem, write_output
from ._text import printable
from .check import add_profile_options, load_profile


class OutputFormat(NamedTuple):
    """One ``--to`` choice: its help text and how to write a filter."""

    help: str
    binary: bool
    write: Callable[[Filter, argparse.Namespace], bytes]


def _write_oci(filter: Filter, args: argparse.Namespace) -> bytes:
    return (json.dumps(filter.to_profile(), indent=2) + "\n").encode()


def _write_pfc(filter: Filter, args: argparse.Namespace) -> bytes:
    return filter.export_pfc().encode()


def _write_bpf(filter: Filter, args: argparse.Namespace) -> bytes:
    return filter.export_bpf()


def _write_spo(filter: Filter, args: argparse.Namespace) -> bytes:
    from ..kubernetes import resource_name, spo_resource, to_yaml

    if args.name is not None:
        name = args.name
    elif args.profile == "-":
        raise InvalidArgumentError(
            "--to spo needs --name NAME when the profile comes from "
            "standard input"
        )
    else:
        name = resource_name(args.profile)
    resource = spo_resource(filter, name, namespace=args.namespace)
    return to_yaml(resource).encode()


FORMATS: Dict[str, OutputFormat] = {
    "oci": OutputFormat(
        "OCI seccomp profile JSON for this machine: includes and excludes "
        "resolved, groups expanded",
        False,
        _write_oci,
    ),
    "pfc": OutputFormat("libseccomp's Pseudo Filter Code text", False, _write_pfc),
    "bpf": OutputFormat(
        "the raw BPF program (struct sock_filter array, native byte order)",
        True,
        _write_bpf,
    ),
    "spo": OutputFormat(
        "a Kubernetes SeccompProfile resource of the Security Profiles "
        "Operator (YAML for kubectl apply -f)",
        False,
        _write_spo,
    ),
}


def add_parser(subparsers: Any) -> None:
    choices = "; ".join(f"{name}: {fmt.help}" for name, fmt in FORMATS.items())
    parser = subparsers.add_parser(
        "convert",
        help="convert a seccomp profile to OCI JSON, PFC, BPF or a "
        "Kubernetes SeccompProfile",
        description="Build the filter an OCI or Docker seccomp profile "
        "describes and write it in another format.",
    )
    add_profile_options(parser)
    parser.add_argument(
        "--to",
        required=True,
        choices=sorted(FORMATS),
        help=f"output format ({choices})",
    )
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write to FILE instead of standard output ('-' for standard "
        "output); a symlink is followed, a FIFO or device is written "
        "directly, and a regular file is replaced atomically with its "
        "permissions kept",
    )
    parser.add_argument(
        "--name",
        help="with --to spo: the resource name (default: PROFILE's file "
        "name without .json, lowercased, other characters than a-z, 0-9, "
        "'-' and '.' replaced with '-')",
    )
    parser.add_argument(
        "--namespace",
        help="with --to spo: the resource namespace (default: none, so "
        "kubectl uses its current namespace)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    output_format = FORMATS[args.to]
    output = "-" if args.output is None else args.output
    if args.to != "spo" and (args.name is not None or args.namespace is not None):
        raise InvalidArgumentError("--name and --namespace need --to spo")
    if (
        output_format.binary
        and output == "-"
        and sys.stdout is not None
        and sys.stdout.isatty()
    ):
        raise InvalidArgumentError(
            f"--to {args.to} writes binary data; redirect standard output or "
            "use -o FILE"
        )
    problem = output_problem(output)
    if problem is not None:
        raise InvalidArgumentError(problem)
    filter = load_profile(args)
    try:
        data = output_format.write(filter, args)
    finally:
        filter.close()
    if output == "-":
        write_output(output, data)  # main() handles a closed standard output
        return EXIT_OK
    try:
        write_output(output, data)
    except OSError as error:
        message = f"cannot write -o {output!r}: {error.strerror or error}"
        print(printable(f"seccompx convert: error: {message}"), file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK
