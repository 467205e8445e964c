"""Compare seccompx's filter-load latency with C and other Python bindings.

Run from the repository root, with the interpreter seccompx is built for::

    .venv/bin/python benchmarks/run.py --output docs/benchmarks.md

The script builds the C programs in benchmarks/c and the floor extension in
benchmarks/floor into benchmarks/build/, then measures, in rounds that
take turns so that a drift in machine speed affects all of them alike:

* C calling libseccomp directly (build and load),
* C loading the finished BPF with a raw seccomp(2) call,
* seccompx (Filter build and load, and Program.load of a compiled program),
* the floor extension, the least a Python extension can do to load BPF,
* pyseccomp from PyPI, and libseccomp's own Python module under the system
  interpreter, where they are installed.

seccompx is measured as the wheels build it, with libseccomp linked
statically from the system's libseccomp.a into a copy under
benchmarks/build/static, and once more as the in-place build against the
shared libseccomp.  Without a libseccomp.a, only the in-place build runs.

Every sample runs in a freshly forked child.  It also runs ``seccompx
bench`` for the stage breakdown and per-syscall cost, times ``import
seccompx``, and runs benchmarks/bench_sandbox.py when it exists.  The
result is a Markdown page (docs/benchmarks.md) and, with --json, the raw
numbers.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import sysconfig
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HERE = os.path.join(ROOT, "benchmarks")
sys.path.insert(0, ROOT)

from report import render_page  # noqa: E402

import seccompx  # noqa: E402
import seccompx.bench  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"
IMPORT_RUNS = 20


@dataclass
class Implementation:
    """One implementation to sample: a C program or a pyimpl.py run."""

    key: str
    label: str
    kind: str  # "builder" (build and load) or "loader" (finished BPF)
    command: List[str]
    per_policy: bool = False  # the command takes one policy at a time
    env: Optional[Dict[str, str]] = None  # the environment of the command
    version: str = ""
    unavailable: Optional[str] = None
    samples: Dict[str, List[Tuple[int, ...]]] = field(default_factory=dict)


@dataclass
class Package:
    """A folder holding a built seccompx package, and how it was built."""

    path: str
    linkage: str

    def env(self, *extra: str) -> Dict[str, str]:
        """Return this process's environment with the package, then
        ``extra``, first on the module path."""
        return dict(os.environ, PYTHONPATH=os.pathsep.join([self.path, *extra]))


# The in-place build, which links the shared libseccomp.
IN_PLACE = Package(ROOT, "shared libseccomp (the in-place build)")


# Preparation --------------------------------------------------------------


def cache_bytecode(build: str) -> None:
    """Have the Python processes started from here cache bytecode.

    Bytecode goes under ``build`` even where PYTHONDONTWRITEBYTECODE is
    set, so that imports read .pyc files as they do after an install
    rather than compiling every module, which takes longer and leaves a
    different heap behind.
    """
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = os.path.join(build, "pycache")


def run_command(
    command: Sequence[str], **kwargs: Any
) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(list(command), text=True, capture_output=True, **kwargs)


def warm_bytecode(interpreters: Sequence[str], package: Package) -> None:
    """Import everything the measurements import once, to fill the cache."""
    code = "import importlib, seccompx, seccompx.bench, seccompx.cli.bench"
    for folder in [package] if package is IN_PLACE else [package, IN_PLACE]:
        run_command([sys.executable, "-c", code], cwd=folder.path, env=folder.env())
    for interpreter in interpreters:
        run_command(
            [interpreter, "-c", "import json, argparse, struct, traceback"], cwd=ROOT
        )


def compile_c(
    build: str, source: str, output: str, libraries: Sequence[str] = ()
) -> None:
    command = [
        os.environ.get("CC", "cc"),
        "-O2",
        "-Wall",
        "-Wextra",
        "-I",
        build,
        source,
        "-o",
        output,
        *libraries,
    ]
    result = run_command(command)
    if result.returncode != 0:
        raise SystemExit(
            f"run.py: compiling {source} failed:\n{shlex.join(command)}\n"
            f"{result.stderr}"
        )


def build_floor(build: str) -> str:
    """Build the floor extension for this interpreter; return its folder."""
    include = sysconfig.get_paths()["include"]
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    output = os.path.join(build, "_floor" + suffix)
    compile_c(
        build,
        os.path.join(HERE, "floor", "floor.c"),
        output,
        ["-shared", "-fPIC", "-Wno-unused-parameter", "-I", include],
    )
    return build


def policies_header(policies: Sequence[seccompx.bench.Policy]) -> str:
    """C declarations of the policies, with syscall numbers resolved for
    the native architecture."""
    lines = [
        "/* Generated by benchmarks/run.py from seccompx.bench; do not edit. */",
        "#include <seccomp.h>",
        "#include <stddef.h>",
        "",
        "struct bench_rule {",
        "    uint32_t action;",
        "    int syscall;",
        "    unsigned int count;",
        "    struct scmp_arg_cmp cmp[6];",
        "};",
        "",
        "struct bench_policy {",
        "    const char *name;",
        "    uint32_t default_action;",
        "    int optimize;",
        "    const int *allow;",
        "    size_t nallow;",
        "    const struct bench_rule *rules;",
        "    size_t nrules;",
        "};",
        "",
    ]
    entries = []
    for policy in policies:
        ident = policy.name.replace("-", "_")
        numbers = ", ".join(
            f"{seccompx.resolve_syscall(name)} /* {name} */" for name in policy.allow
        )
        lines.append(f"static const int {ident}_allow[] = {{ {numbers} }};")
        rules = []
        for action, name, comparisons in policy.rules:
            cmps = ", ".join(
                f"{{ {c.arg}, {int(c.op)}, {c.datum_a}ULL, {c.datum_b}ULL }}"
                for c in comparisons
            )
            number = seccompx.resolve_syscall(name)
            rules.append(
                f"    {{ {int(action)}U, {number} /* {name} */, "
                f"{len(comparisons)}, {{ {cmps} }} }},"
            )
        # An empty initialiser list is not valid C; pad with one unused rule.
        body = "\n".join(rules) if rules else "    { 0 },"
        lines.append(
            f"static const struct bench_rule {ident}_rules[] = {{\n{body}\n}};"
        )
        entries.append(
            f'    {{ "{policy.name}", {int(policy.default)}U, '
            f"{policy.optimize or 0}, {ident}_allow, {len(policy.allow)}, "
            f"{ident}_rules, {len(policy.rules)} }},"
        )
    lines.append("static const struct bench_policy policies[] = {")
    lines.extend(entries)
    lines.append("};")
    return "\n".join(lines) + "\n"


def static_archive() -> Optional[str]:
    """Return the libseccomp.a to link a wheel-like build with, or None.

    That is ``SECCOMPX_LIBSECCOMP_STATIC`` when set, else the archive in
    the library folder pkg-config names for libseccomp (Debian's
    libseccomp-dev installs one).
    """
    archive = os.environ.get("SECCOMPX_LIBSECCOMP_STATIC")
    if archive:
        return archive
    try:
        result = run_command(["pkg-config", "--variable=libdir", "libseccomp"])
    except OSError:
        return None
    path = os.path.join(result.stdout.strip(), "libseccomp.a")
    return path if result.returncode == 0 and os.path.isfile(path) else None


def build_static_package(build: str) -> Optional[Package]:
    """Build seccompx with libseccomp linked statically, as the wheels are.

    The package is copied to ``build``/static and built there, so the
    in-place build stays as it is.  Returns None when there is no
    libseccomp.a to link.
    """
    archive = static_archive()
    if archive is None:
        return None
    target = os.path.join(build, "static")
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(
        os.path.join(ROOT, "seccompx"),
        os.path.join(target, "seccompx"),
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    command = [
        sys.executable,
        "setup.py",
        "-q",
        "build_ext",
        "--build-lib",
        target,
        "--build-temp",
        os.path.join(target, "tmp"),
    ]
    env = dict(os.environ, SECCOMPX_LIBSECCOMP_STATIC=archive)
    result = run_command(command, cwd=ROOT, env=env)
    if result.returncode != 0:
        raise SystemExit(
            f"run.py: the static build failed:\n{shlex.join(command)}\n"
            f"{result.stderr}"
        )
    return Package(target, f"libseccomp linked statically from {archive}")


def prepare(build: str) -> Tuple[List[seccompx.bench.Policy], int]:
    """Write the policies, their BPF and the C header; build the programs.

    Returns the policies and the seccomp(2) flags the loaders pass.
    """
    os.makedirs(build, exist_ok=True)
    policies = [seccompx.bench.policy(name) for name in seccompx.bench.POLICY_NAMES]
    with open(os.path.join(build, "policies.json"), "w") as file:
        json.dump([policy.to_json() for policy in policies], file)
    with open(os.path.join(build, "policies.h"), "w") as file:
        file.write(policies_header(policies))
    flags = set()
    for policy in policies:
        built = policy.build()
        with open(os.path.join(build, policy.name + ".bpf"), "wb") as file:
            file.write(built.export_bpf())
        flags.add(seccompx.bench.load_flags(built))
        built.close()
    if len(flags) != 1:
        raise SystemExit(f"run.py: the policies need different load flags {flags}")

    compile_c(
        build,
        os.path.join(HERE, "c", "libseccomp_bench.c"),
        os.path.join(build, "libseccomp_bench"),
        ["-lseccomp"],
    )
    compile_c(
        build, os.path.join(HERE, "c", "raw_load.c"), os.path.join(build, "raw_load")
    )
    build_floor(build)
    return policies, flags.pop()


def interpreter_suffix(interpreter: str, module: str) -> Optional[str]:
    """Return the extension-module suffix of ``interpreter`` if it can
    import ``module``, else None."""
    code = f"import sysconfig, {module}; print(sysconfig.get_config_var('EXT_SUFFIX'))"
    try:
        result = run_command([interpreter, "-c", code], cwd="/")
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def peer_interpreter(build: str) -> Tuple[str, List[str]]:
    """Choose the interpreter every Python implementation runs under.

    Interpreters built differently run the same Python code at different
    speeds (a statically linked, profile-optimised build against a shared
    libpython, for one), so the Python rows compare bindings only when they
    share one interpreter.  libseccomp's own module exists only for the
    system interpreter, so that one is chosen when it can import it and
    loads extensions of the same ABI as this one: then seccompx and
    pyseccomp are put on its path.  Otherwise every row uses this
    interpreter, and the libseccomp module's row, if any, its own.

    Returns the interpreter and the folders to put on its module path
    after seccompx's.
    """
    ours = sysconfig.get_config_var("EXT_SUFFIX")
    if (
        os.path.realpath(SYSTEM_PYTHON) == os.path.realpath(sys.executable)
        or interpreter_suffix(SYSTEM_PYTHON, "seccomp") != ours
    ):
        return sys.executable, []
    peers = os.path.join(build, "peers")
    os.makedirs(peers, exist_ok=True)
    try:
        import pyseccomp

        with open(pyseccomp.__file__, "rb") as source, open(
            os.path.join(peers, "pyseccomp.py"), "wb"
        ) as copy:
            copy.write(source.read())
    except ImportError:
        pass
    return SYSTEM_PYTHON, [peers]


def implementations(build: str, flags: int, package: Package) -> List[Implementation]:
    """Return every implementation to sample; the seccompx rows import the
    package built in ``package``."""
    pyimpl = os.path.join(HERE, "pyimpl.py")
    policies = os.path.join(build, "policies.json")
    interpreter, peers = peer_interpreter(build)
    env = package.env(*peers)

    def python(interpreter: str, impl: str) -> List[str]:
        return [
            interpreter,
            pyimpl,
            impl,
            "--policies",
            policies,
            "--floor",
            build,
            "--bpf-dir",
            build,
            "--flags",
            str(flags),
        ]

    found = [
        Implementation(
            "c-libseccomp",
            "C, libseccomp",
            "builder",
            [os.path.join(build, "libseccomp_bench")],
            per_policy=True,
        ),
        Implementation(
            "c-raw",
            "C, raw seccomp(2)",
            "loader",
            [os.path.join(build, "raw_load")],
            per_policy=True,
        ),
        Implementation(
            "seccompx",
            "seccompx",
            "builder",
            python(interpreter, "seccompx"),
            env=env,
        ),
        Implementation(
            "seccompx-program",
            "seccompx Program.load",
            "loader",
            python(interpreter, "seccompx-program"),
            env=env,
        ),
        Implementation(
            "floor", "floor extension", "loader", python(interpreter, "floor"), env=env
        ),
        Implementation(
            "pyseccomp",
            "pyseccomp",
            "builder",
            python(interpreter, "pyseccomp"),
            env=env,
        ),
        Implementation(
            "libseccomp-python",
            "libseccomp Python module",
            "builder",
            python(SYSTEM_PYTHON, "libseccomp"),
            env=env,
        ),
    ]
    if package is not IN_PLACE:
        found.insert(
            3,
            Implementation(
                "seccompx-shared",
                "seccompx, shared libseccomp",
                "builder",
                python(interpreter, "seccompx"),
                env=IN_PLACE.env(*peers),
            ),
        )
    if peers:
        found.append(
            Implementation(
                "libseccomp-python-heap",
                "libseccomp Python module, seccompx imported",
                "builder",
                python(SYSTEM_PYTHON, "libseccomp+seccompx"),
                env=env,
            )
        )
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        for impl in found:
            if impl.key == "libseccomp-python":
                impl.unavailable = f"{SYSTEM_PYTHON} does not exist"
    return found


# Sampling -----------------------------------------------------------------


# The samples key of children that do nothing (see pyimpl.py).
EMPTY = "(empty)"


def sample_c(
    impl: Implementation, build: str, policy: str, samples: int, flags: int
) -> None:
    """Sample ``policy``, or for EMPTY a child that does nothing."""
    if impl.key == "c-libseccomp":
        target = "-" if policy == EMPTY else policy
        command = impl.command + [target, str(samples)]
    else:
        target = "-" if policy == EMPTY else os.path.join(build, policy + ".bpf")
        command = impl.command + [target, str(flags), str(samples)]
    result = run_command(command)
    if result.returncode != 0:
        raise SystemExit(f"run.py: {shlex.join(command)} failed:\n{result.stderr}")
    rows = [
        tuple(int(word) for word in line.split()) for line in result.stdout.splitlines()
    ]
    if policy == EMPTY:
        rows = [row[-1:] for row in rows]
    impl.samples.setdefault(policy, []).extend(rows)


def debian_version(package: str) -> Optional[str]:
    """Return the installed version of a Debian package, or None."""
    try:
        result = run_command(["dpkg-query", "-W", "-f=${Version}", package])
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def sample_python(impl: Implementation, samples: int) -> None:
    command = impl.command + ["--samples", str(samples)]
    result = run_command(command, env=impl.env)
    if result.returncode == 3:
        impl.unavailable = result.stderr.strip()
        return
    if result.returncode != 0:
        raise SystemExit(f"run.py: {shlex.join(command)} failed:\n{result.stderr}")
    output = json.loads(result.stdout)
    version = output["version"]
    if impl.key.startswith("libseccomp-python") and version == "unknown":
        # The module has no __version__; its Debian package has one.
        version = f"python3-seccomp {debian_version('python3-seccomp') or 'unknown'}"
    impl.version = f"{version} (Python {output['python']})".strip()
    for policy, rows in output["samples"].items():
        impl.samples.setdefault(policy, []).extend(tuple(row) for row in rows)


def sample_all(
    impls: List[Implementation],
    policies: Sequence[seccompx.bench.Policy],
    build: str,
    samples: int,
    rounds: int,
    flags: int,
) -> None:
    per_round = [
        samples // rounds + (1 if i < samples % rounds else 0) for i in range(rounds)
    ]
    for index, count in enumerate(per_round):
        print(
            f"run.py: round {index + 1} of {rounds}, {count} samples each",
            file=sys.stderr,
        )
        for impl in impls:
            if impl.unavailable or count == 0:
                continue
            if impl.per_policy:
                for name in [EMPTY] + [policy.name for policy in policies]:
                    sample_c(impl, build, name, count, flags)
            else:
                sample_python(impl, count)


def summaries(impl: Implementation) -> Dict[str, Dict[str, Any]]:
    """Per policy: stage -> summary in microseconds, and "faults": the
    child's minor page faults beyond the median of an empty child's."""
    empty = statistics.median(row[0] for row in impl.samples.get(EMPTY, [(0,)]))
    result: Dict[str, Dict[str, Any]] = {}
    for policy, rows in impl.samples.items():
        if policy == EMPTY:
            continue
        if impl.kind == "builder":
            stages = {
                "build": [row[0] for row in rows],
                "load": [row[1] for row in rows],
                "build+load": [row[0] + row[1] for row in rows],
            }
        else:
            stages = {"load": [row[0] for row in rows]}
        result[policy] = {
            stage: seccompx.bench.summarize([v / 1000 for v in values], "us").to_json()
            for stage, values in stages.items()
        }
        result[policy]["faults"] = seccompx.bench.summarize(
            [row[-1] - empty for row in rows], "faults"
        ).to_json()
    return result


# Other measurements -------------------------------------------------------


def stage_breakdown(package: Package, samples: int, *options: str) -> Dict[str, Any]:
    """Run ``seccompx bench --json`` with ``options`` (default: every
    policy); return its report with the command added."""
    command = [
        sys.executable,
        "-m",
        "seccompx",
        "bench",
        *(options or ("--policy", "all")),
        "--samples",
        str(samples),
        "--json",
    ]
    result = run_command(command, cwd=package.path, env=package.env())
    if result.returncode != 0:
        raise SystemExit(f"run.py: {shlex.join(command)} failed:\n{result.stderr}")
    report: Dict[str, Any] = json.loads(result.stdout)
    report["command"] = "python -m seccompx " + shlex.join(command[3:])
    return report


def parse_importtime(stderr: str) -> Tuple[Optional[int], Dict[str, Tuple[int, int]]]:
    """Return the cumulative import time of seccompx and the self and
    cumulative times of each module imported under it, in microseconds."""
    rows: List[Tuple[int, int, int, str]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_field, cumulative_field, name = line[len("import time:") :].split("|", 2)
        # Each level of nesting indents the name by two more spaces.
        depth = (len(name) - len(name.lstrip())) // 2
        rows.append((int(self_field), int(cumulative_field), depth, name.strip()))
    for index, (_, cumulative, depth, name) in enumerate(rows):
        if name == "seccompx" and depth == 0:
            below: Dict[str, Tuple[int, int]] = {}
            back = index - 1
            while back >= 0 and rows[back][2] > depth:
                below[rows[back][3]] = (rows[back][0], rows[back][1])
                back -= 1
            below["seccompx"] = (rows[index][0], cumulative)
            return cumulative, below
    return None, {}


def import_time(package: Package, runs: int = IMPORT_RUNS) -> Dict[str, Any]:
    """Run ``python -X importtime -c 'import seccompx'`` ``runs`` times and
    summarise the results."""
    totals: List[int] = []
    per_module: Dict[str, List[Tuple[int, int]]] = {}
    for _ in range(runs):
        result = run_command(
            [sys.executable, "-X", "importtime", "-c", "import seccompx"],
            cwd=package.path,
            env=package.env(),
        )
        total, modules = parse_importtime(result.stderr)
        if total is None:
            raise SystemExit(
                f"run.py: no import time for seccompx in:\n{result.stderr}"
            )
        totals.append(total)
        for name, value in modules.items():
            per_module.setdefault(name, []).append(value)
    ranked = sorted(
        (
            (
                name,
                statistics.median(own for own, _ in values),
                statistics.median(total for _, total in values),
            )
            for name, values in per_module.items()
        ),
        key=lambda item: -item[1],
    )
    return {
        "command": "python -X importtime -c 'import seccompx'",
        "runs": runs,
        "cumulative_us": seccompx.bench.summarize(totals, "us").to_json(),
        "top_modules_us": [list(row) for row in ranked[:10]],
        "module_count": len(per_module),
    }


def sandbox_results(package: Package) -> Optional[Dict[str, Any]]:
    """Run benchmarks/bench_sandbox.py when it exists; return its output."""
    script = os.path.join(HERE, "bench_sandbox.py")
    if not os.path.exists(script):
        return None
    result = run_command(
        [sys.executable, script, "--json"], cwd=package.path, env=package.env()
    )
    parsed = None
    if result.returncode == 0:
        try:
            parsed = json.loads(result.stdout)
        except ValueError:
            parsed = None
    if parsed is None:
        result = run_command(
            [sys.executable, script], cwd=package.path, env=package.env()
        )
    return {
        "command": f"python benchmarks/bench_sandbox.py{' --json' if parsed else ''}",
        "exit_code": result.returncode,
        "output": result.stdout.strip(),
        "errors": result.stderr.strip(),
        "json": parsed,
    }


# Main ---------------------------------------------------------------------


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Compare seccompx's filter-load latency with C and other "
        "Python bindings, and write the results page."
    )
    parser.add_argument(
        "--samples",
        type=int,
        default=200,
        help="samples per implementation and policy (default: 200)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=5,
        help="rounds the samples are split into (default: 5)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="times the comparison of implementations and the sandbox "
        "benchmark are repeated; the page pools the samples and gives each "
        "target's ratio in every repeat (default: 3)",
    )
    parser.add_argument(
        "--breakdown-samples",
        type=int,
        default=100,
        help="samples per stage for seccompx bench (default: 100)",
    )
    parser.add_argument(
        "--import-runs",
        type=int,
        default=IMPORT_RUNS,
        help=f"runs of python -X importtime (default: {IMPORT_RUNS})",
    )
    parser.add_argument(
        "--output", help="write the Markdown page here (for example docs/benchmarks.md)"
    )
    parser.add_argument(
        "--json", help="write every result, with raw samples, to this file"
    )
    parser.add_argument(
        "--build-dir",
        default=os.path.join(HERE, "build"),
        help="where to build the C programs (default: benchmarks/build)",
    )
    args = parser.parse_args(argv)
    if args.samples < args.rounds or args.rounds < 1:
        parser.error("--samples must be at least --rounds, and --rounds at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def repeat_part(
    impl: Implementation, starts: List[Dict[str, Dict[str, int]]], index: int
) -> Implementation:
    """Return ``impl`` with only the samples of repeat ``index``."""
    begin = starts[index][impl.key]
    end = starts[index + 1][impl.key] if index + 1 < len(starts) else {}
    return dataclasses.replace(
        impl,
        samples={
            name: rows[begin.get(name, 0) : end.get(name, len(rows))]
            for name, rows in impl.samples.items()
        },
    )


def measure(args: argparse.Namespace) -> Tuple[Dict[str, Any], List[Implementation]]:
    """Take every measurement; return the results and the implementations
    with their raw samples."""
    load_before = os.getloadavg()
    policies, flags = prepare(args.build_dir)
    package = build_static_package(args.build_dir) or IN_PLACE
    warm_bytecode(
        [SYSTEM_PYTHON] if os.access(SYSTEM_PYTHON, os.X_OK) else [], package
    )
    impls = implementations(args.build_dir, flags, package)
    # Each repeat appends its samples; these are where each repeat's begin.
    starts: List[Dict[str, Dict[str, int]]] = []
    sandbox_runs: List[Optional[Dict[str, Any]]] = []
    for repeat in range(args.repeat):
        print(f"run.py: repeat {repeat + 1} of {args.repeat}", file=sys.stderr)
        starts.append(
            {
                impl.key: {name: len(rows) for name, rows in impl.samples.items()}
                for impl in impls
            }
        )
        sample_all(impls, policies, args.build_dir, args.samples, args.rounds, flags)
        print("run.py: sandbox", file=sys.stderr)
        sandbox_runs.append(sandbox_results(package))

    print("run.py: seccompx bench stage breakdown", file=sys.stderr)
    breakdown = stage_breakdown(package, args.breakdown_samples)
    # personality has argument rules in the large policies, so the kernel
    # runs their BPF for it: the cost of a linear list against a tree.
    bpf_runs = [
        stage_breakdown(
            package,
            args.breakdown_samples, "--policy", name, "--syscall", "personality"
        )
        for name in ("large", "large-tree")
    ]
    print("run.py: import time", file=sys.stderr)
    imports = import_time(package, args.import_runs)

    results = {
        "machine": seccompx.bench.machine_info(),
        "package": {
            "path": os.path.relpath(package.path, ROOT),
            "linkage": package.linkage,
        },
        # Other work on the machine inflates the times, so record how much
        # of it there was.
        "load_average": [load_before, os.getloadavg()],
        "policies": [
            {
                "name": policy.name,
                "description": policy.description,
                "rules": policy.rule_count,
                "dropped": list(policy.dropped),
            }
            for policy in policies
        ],
        "flags": flags,
        "samples": args.samples,
        "rounds": args.rounds,
        "implementations": [
            {
                "key": impl.key,
                "label": impl.label,
                "kind": impl.kind,
                "version": impl.version,
                "interpreter": impl.command[0] if impl.command[1:2] == [
                    os.path.join(HERE, "pyimpl.py")
                ] else None,
                "unavailable": impl.unavailable,
                "summaries": summaries(impl),
            }
            for impl in impls
        ],
        "repeats": [
            {
                "implementations": [
                    {
                        "key": impl.key,
                        "unavailable": impl.unavailable,
                        "summaries": summaries(repeat_part(impl, starts, index)),
                    }
                    for impl in impls
                ],
                "sandbox": sandbox_runs[index],
            }
            for index in range(len(starts))
        ],
        "breakdown": breakdown,
        "bpf_runs": bpf_runs,
        "import": imports,
        # The section shows the first repeat's run; the targets every one.
        "sandbox": sandbox_runs[0],
    }
    return results, impls


def main(argv: Sequence[str]) -> int:
    args = parse_arguments(argv)
    cache_bytecode(args.build_dir)
    results, impls = measure(args)
    results["command"] = "python benchmarks/run.py " + shlex.join(argv)

    if args.json:
        raw = dict(results, raw={impl.key: impl.samples for impl in impls})
        with open(args.json, "w") as file:
            json.dump(raw, file, indent=1)
    page = render_page(results)
    if args.output:
        with open(args.output, "w") as file:
            file.write(page)
        print(f"run.py: wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
