"""Sample filter build and load times of one Python implementation.

benchmarks/run.py starts this script once per implementation and round, so
that each implementation runs in a process of its own.  It needs only the
standard library and the implementation measured, because libseccomp's own
Python module exists only for the system interpreter.

Usage::

    pyimpl.py IMPL --policies FILE --samples N [--floor DIR] [--bpf-dir DIR]

IMPL is one of:

* ``seccompx``: Filter built from the policies file, then load()
* ``seccompx-program``: Program.load() of the policy compiled in the parent
* ``floor``: the minimal extension in benchmarks/floor loading the same BPF
* ``pyseccomp``: the ctypes bindings from PyPI
* ``libseccomp``: libseccomp's own (Cython) module ``seccomp``
* ``libseccomp+seccompx``: the same in a process that also imported
  seccompx, which shows what the imports do to the heap

The policies file is the output of ``seccompx.bench.Policy.to_json`` for
each policy.  Output is one JSON object on stdout, with a list of samples
for each policy.  A sample is ``[build_ns, load_ns, faults]`` for builders
or ``[load_ns, faults]`` for loaders, where ``faults`` counts the minor page
faults of the whole child.  ``"(empty)"`` contains ``[faults]`` samples of a
child that does nothing.  Exit status 3 means the implementation cannot be imported, and the
message on stderr gives the import error.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import signal
import struct
import sys
import time
import traceback
from typing import Any, Callable, Dict, List, Sequence, Tuple

EXIT_UNAVAILABLE = 3
# The key of the empty samples in the output.
EMPTY = "(empty)"

# Raw action kinds and values, as in the kernel's seccomp.h.
_KILL_PROCESS = 0x80000000
_ALLOW = 0x7FFF0000
_ERRNO = 0x00050000
_ACTION_KIND = 0xFFFF0000
_ACTION_DATA = 0x0000FFFF
# SECCOMP_FILTER_FLAG_TSYNC; libseccomp and seccompx set it on kernels that
# support it (libseccomp API level 2 and up), and the loaders match them.
_FLAG_TSYNC = 1

Body = Callable[[], Sequence[int]]


# Sampling: the same protocol as seccompx.bench.sample_in_children. -------


def sample_once(body: Body) -> Tuple[int, ...]:
    """Run ``body`` in a forked child; return the integers it returns and,
    last, the minor page faults of the whole child."""
    sys.stdout.flush()
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            os.close(read_fd)
            values = tuple(body())
            os.write(write_fd, b"=" + struct.pack(f"<{len(values)}q", *values))
            status = 0
        except BaseException:
            try:
                os.write(write_fd, b"!" + traceback.format_exc().encode())
            except BaseException:
                pass
        finally:
            os._exit(status)

    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    _, status, usage = os.wait4(pid, 0)
    data = b"".join(chunks)
    if os.WIFSIGNALED(status):
        raise RuntimeError(
            f"sample child {pid} was killed by "
            f"{signal.Signals(os.WTERMSIG(status)).name}"
        )
    if data[:1] != b"=":
        raise RuntimeError(
            f"sample child {pid} failed: {data[1:].decode(errors='replace')}"
        )
    payload = data[1:]
    return struct.unpack(f"<{len(payload) // 8}q", payload) + (usage.ru_minflt,)


def builder_body(build: Callable[[], Any]) -> Body:
    def body() -> Sequence[int]:
        start = time.perf_counter_ns()
        built = build()
        middle = time.perf_counter_ns()
        built.load()
        end = time.perf_counter_ns()
        return (middle - start, end - middle)

    return body


def loader_body(load: Callable[[], Any]) -> Body:
    def body() -> Sequence[int]:
        start = time.perf_counter_ns()
        load()
        end = time.perf_counter_ns()
        return (end - start,)

    return body


# Implementations ---------------------------------------------------------
#
# Each returns a sampling body for one policy after warming it up in this
# process: builders build and export the filter once.  Rule data
# (names, comparison objects) is prepared outside the timed region, as an
# application's module-level constants would be.


def seccompx_builder(policy: Dict[str, Any]) -> Callable[[], Any]:
    """Return a function that builds the policy as seccompx.bench's
    Policy.build does, from the policies file, so that this process imports
    no more of seccompx than an application does."""
    import seccompx

    default = seccompx.Action.from_raw(policy["default"])
    optimize = policy["optimize"]
    names = tuple(policy["allow"])
    rules = tuple(
        (
            seccompx.Action.from_raw(action),
            name,
            tuple(
                seccompx.Comparison(arg, seccompx.Op(op), datum_a, datum_b)
                for arg, op, datum_a, datum_b in cmps
            ),
        )
        for action, name, cmps in policy["rules"]
    )

    def build() -> Any:
        result = seccompx.Filter(default, optimize=optimize)
        result.allow(*names)
        if rules:
            result.add_rules(rules)
        return result

    return build


def seccompx_body(policy: Dict[str, Any], args: argparse.Namespace) -> Body:
    build = seccompx_builder(policy)
    warm = build()
    if warm.export_bpf() != read_bpf(args, policy):
        raise SystemExit(
            f"pyimpl.py: the {policy['name']} filter built from the policies "
            "file differs from the BPF run.py exported; rerun run.py"
        )
    warm.close()
    return builder_body(build)


def seccompx_program_body(policy: Dict[str, Any], args: argparse.Namespace) -> Body:
    built = seccompx_builder(policy)()
    program = built.compile()
    # The flags the filter's own load() would pass, as keywords one by one:
    # unpacking a dict would allocate one in the timed region.
    tsync = built.tsync
    log = built.log
    spec_allow = built.ssb
    built.close()
    return loader_body(
        lambda: program.load(tsync=tsync, log=log, spec_allow=spec_allow)
    )


def read_bpf(args: argparse.Namespace, policy: Dict[str, Any]) -> bytes:
    """Return the BPF program run.py exported for ``policy``."""
    with open(os.path.join(args.bpf_dir, policy["name"] + ".bpf"), "rb") as file:
        return file.read()


def floor_body(policy: Dict[str, Any], args: argparse.Namespace) -> Body:
    sys.path.insert(0, args.floor)
    floor = importlib.import_module("_floor")
    code = read_bpf(args, policy)
    flags = args.flags
    return loader_body(lambda: floor.load(code, flags))


def _module_action(module: Any, raw: int) -> Any:
    kind = raw & _ACTION_KIND
    if raw == _KILL_PROCESS:
        return module.KILL_PROCESS
    if raw == _ALLOW:
        return module.ALLOW
    if kind == _ERRNO:
        return module.ERRNO(raw & _ACTION_DATA)
    raise SystemExit(f"pyimpl.py: action {raw:#x} is not mapped")


def libseccomp_style_body(module: Any, policy: Dict[str, Any]) -> Body:
    """Return a sampling body for the two bindings that share libseccomp's
    Python API: ``SyscallFilter``, ``set_attr``, ``add_rule(action, name,
    *Arg)``."""
    default = _module_action(module, policy["default"])
    allow = module.ALLOW
    names = list(policy["allow"])
    rules = [
        (
            _module_action(module, action),
            name,
            [
                module.Arg(arg, op, datum_a, datum_b)
                for arg, op, datum_a, datum_b in cmps
            ],
        )
        for action, name, cmps in policy["rules"]
    ]
    attrs = [
        (module.Attr.ACT_BADARCH, module.KILL_PROCESS),
        (module.Attr.CTL_NNP, 1),
        (module.Attr.API_SYSRAWRC, 1),
    ]
    if module.get_api() >= 2:
        attrs.append((module.Attr.CTL_TSYNC, 1))
    if policy["optimize"]:
        attrs.append((module.Attr.CTL_OPTIMIZE, policy["optimize"]))

    def build() -> Any:
        result = module.SyscallFilter(default)
        for attr, value in attrs:
            result.set_attr(attr, value)
        for name in names:
            result.add_rule(allow, name)
        for action, name, comparisons in rules:
            result.add_rule(action, name, *comparisons)
        return result

    with open(os.devnull, "wb") as sink:
        build().export_bpf(sink)
    return builder_body(build)


def pyseccomp_body(policy: Dict[str, Any], args: argparse.Namespace) -> Body:
    import pyseccomp

    return libseccomp_style_body(pyseccomp, policy)


def libseccomp_body(policy: Dict[str, Any], args: argparse.Namespace) -> Body:
    import seccomp

    return libseccomp_style_body(seccomp, policy)


IMPLEMENTATIONS: Dict[
    str, Tuple[str, Callable[[Dict[str, Any], argparse.Namespace], Body]]
] = {
    "seccompx": ("seccompx", seccompx_body),
    "seccompx-program": ("seccompx.program", seccompx_program_body),
    "floor": ("", floor_body),
    "pyseccomp": ("pyseccomp", pyseccomp_body),
    "libseccomp": ("seccomp", libseccomp_body),
    # The same, in a process that has also imported seccompx: the imports
    # change the heap that libseccomp's allocations come from.
    "libseccomp+seccompx": ("seccomp", libseccomp_body),
}


def version_of(module_name: str) -> str:
    """Import ``module_name`` (ImportError if it is missing) and return the
    version of its top-level package."""
    if not module_name:
        return ""
    importlib.import_module(module_name)
    package = importlib.import_module(module_name.split(".")[0])
    return str(getattr(package, "__version__", "unknown"))


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("impl", choices=sorted(IMPLEMENTATIONS))
    parser.add_argument("--policies", required=True, help="JSON file of policies")
    parser.add_argument("--samples", type=int, required=True, help="samples per policy")
    parser.add_argument("--only", action="append", help="measure only this policy")
    parser.add_argument("--floor", help="directory holding the _floor extension")
    parser.add_argument("--bpf-dir", help="directory holding POLICY.bpf files")
    parser.add_argument(
        "--flags", type=int, default=_FLAG_TSYNC, help="seccomp(2) flags for floor"
    )
    args = parser.parse_args(argv)

    module_name, make_body = IMPLEMENTATIONS[args.impl]
    if args.impl == "libseccomp+seccompx":
        try:
            importlib.import_module("seccompx")
        except ImportError as error:
            print(f"pyimpl.py: cannot import seccompx: {error}", file=sys.stderr)
            return EXIT_UNAVAILABLE
    try:
        version = version_of(module_name)
    except ImportError as error:
        print(f"pyimpl.py: cannot import {module_name}: {error}", file=sys.stderr)
        return EXIT_UNAVAILABLE

    with open(args.policies) as file:
        policies = json.load(file)
    # As timeit does: a collection inside a child would write to pages it
    # shares with this process, in some samples and not others, and could
    # run finalizers after the child loaded a strict filter.
    gc.disable()
    # Free blocks in every small size class of Python's allocator, for the
    # few objects a child creates after loading its filter.  Without one,
    # the allocator maps a new arena, and a filter that allows only write
    # and exit_group kills the child for that mmap.  The objects kept alive
    # keep their pools and arenas from being released.
    blocks = [(1 << 62) + i for i in range(64)]
    blocks += [bytes(size) for size in range(512) for _ in range(8)]
    reserve = blocks[::16]
    del blocks
    # Samples of a child that does nothing: the page faults of forking,
    # reporting and exiting, to subtract from the others'.
    results: Dict[str, List[Tuple[int, ...]]] = {
        EMPTY: [sample_once(lambda: ()) for _ in range(args.samples)]
    }
    for policy in policies:
        if args.only and policy["name"] not in args.only:
            continue
        body = make_body(policy, args)
        results[policy["name"]] = [sample_once(body) for _ in range(args.samples)]

    del reserve
    json.dump(
        {
            "impl": args.impl,
            "version": version,
            "python": sys.version.split()[0],
            "executable": sys.executable,
            "samples": results,
        },
        sys.stdout,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
