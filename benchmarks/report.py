"""Render the results of benchmarks/run.py as docs/benchmarks.md."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

# Targets: the largest ratio of medians allowed.
PROGRAM_VS_FLOOR = 1.1
BUILD_LOAD_VS_C = {"small": 1.5, "medium": 1.2, "large": 1.2, "large-tree": 1.2}
IMPORT_LIMIT_US = 5000
SANDBOX_VS_SUBPROCESS = 1.1
PYTHON_PEERS = ("pyseccomp", "libseccomp-python")


def _impl(results: Dict[str, Any], key: str) -> Optional[Dict[str, Any]]:
    impl: Dict[str, Any]
    for impl in results["implementations"]:
        if impl["key"] == key and not impl["unavailable"]:
            return impl
    return None


def _median(
    results: Dict[str, Any], key: str, policy: str, stage: str
) -> Optional[float]:
    impl = _impl(results, key)
    if impl is None or policy not in impl["summaries"]:
        return None
    summary = impl["summaries"][policy].get(stage)
    return None if summary is None else float(summary["median"])


def _ratio(numerator: Optional[float], denominator: Optional[float]) -> Optional[float]:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _verdict(ratio: Optional[float], limit: float, strict: bool = False) -> str:
    if ratio is None:
        return "not measured"
    met = ratio < limit if strict else ratio <= limit
    return "met" if met else "**missed**"


def _us(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _cell(summary: Optional[Dict[str, Any]]) -> str:
    if summary is None:
        return "–"
    return f"{_us(summary['median'])} ({_us(summary['p10'])}–{_us(summary['p90'])})"


def _faults(summary: Optional[Dict[str, Any]]) -> str:
    return "–" if summary is None else f"{summary['median']:.0f}"


def _policy_names(results: Dict[str, Any]) -> List[str]:
    return [policy["name"] for policy in results["policies"]]


# Sections -----------------------------------------------------------------


def _machine(results: Dict[str, Any]) -> List[str]:
    machine = results["machine"]
    return [
        "## Machine",
        "",
        "| | |",
        "| --- | --- |",
        f"| CPUs (nproc) | {machine['nproc']} |",
        f"| CPU model | {machine['cpu_model']} |",
        f"| kernel | Linux {machine['kernel']} |",
        f"| libseccomp | {machine['libseccomp']} |",
        f"| Python | {machine['python']} ({machine['python_executable']}) |",
        "| load average (1, 5, 15 min) at the start | "
        f"{_load(results['load_average'][0])} |",
        f"| load average at the end | {_load(results['load_average'][1])} |",
        "",
    ]


def _load(values: List[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


# A ratio target: the comparison, its ratio, the target as text, the limit,
# and whether the ratio must stay strictly below the limit.
Target = Tuple[str, Optional[float], str, float, bool]


def _ratio_targets(results: Dict[str, Any]) -> List[Target]:
    targets: List[Target] = []
    for policy in _policy_names(results):
        ratio = _ratio(
            _median(results, "seccompx-program", policy, "load"),
            _median(results, "floor", policy, "load"),
        )
        targets.append(
            (
                f"Program.load / floor extension, {policy}",
                ratio,
                f"≤ {PROGRAM_VS_FLOOR}×",
                PROGRAM_VS_FLOOR,
                False,
            )
        )
    for policy in _policy_names(results):
        limit = BUILD_LOAD_VS_C[policy]
        ratio = _ratio(
            _median(results, "seccompx", policy, "build+load"),
            _median(results, "c-libseccomp", policy, "build+load"),
        )
        targets.append(
            (
                f"seccompx build+load / C with libseccomp, {policy}",
                ratio,
                f"≤ {limit}×",
                limit,
                False,
            )
        )
    for peer in PYTHON_PEERS:
        label = next(i["label"] for i in results["implementations"] if i["key"] == peer)
        for policy in _policy_names(results):
            ratio = _ratio(
                _median(results, "seccompx", policy, "build+load"),
                _median(results, peer, policy, "build+load"),
            )
            targets.append(
                (f"seccompx build+load / {label}, {policy}", ratio, "< 1×", 1.0, True)
            )
    targets.append(
        (
            "sandbox.spawn(/bin/true) / subprocess.run",
            _sandbox_ratio(results.get("sandbox")),
            f"≤ {SANDBOX_VS_SUBPROCESS}×",
            SANDBOX_VS_SUBPROCESS,
            False,
        )
    )
    return targets


def _repeat_view(results: Dict[str, Any], index: int) -> Dict[str, Any]:
    """Return ``results`` as repeat ``index`` alone measured it."""
    repeat = results["repeats"][index]
    own = {impl["key"]: impl for impl in repeat["implementations"]}
    implementations = [
        dict(impl, summaries=own[impl["key"]]["summaries"])
        for impl in results["implementations"]
    ]
    return dict(results, implementations=implementations, sandbox=repeat["sandbox"])


def _met(ratio: Optional[float], limit: float, strict: bool) -> bool:
    return ratio is not None and (ratio < limit if strict else ratio <= limit)


def _target_row(target: Target, per_repeat: List[Optional[float]]) -> str:
    label, ratio, text, limit, strict = target
    measured = "–" if ratio is None else f"{ratio:.2f}×"
    each = " / ".join("–" if r is None else f"{r:.2f}×" for r in per_repeat)
    met = sum(_met(r, limit, strict) for r in per_repeat)
    if ratio is None:
        result = "not measured"
    elif met == len(per_repeat) and _met(ratio, limit, strict):
        result = "met"
    elif met == 0:
        result = "**missed**"
    else:
        result = f"**met in {met} of {len(per_repeat)} repeats**"
    return f"| {label} | {measured} | {each} | {text} | {result} |"


def _targets(results: Dict[str, Any]) -> List[str]:
    repeats = len(results.get("repeats") or [])
    views = [_repeat_view(results, index) for index in range(repeats)] or [results]
    per_view = [_ratio_targets(view) for view in views]
    rows = []
    for index, target in enumerate(_ratio_targets(results)):
        rows.append(_target_row(target, [targets[index][1] for targets in per_view]))
    imports = results["import"]["cumulative_us"]
    rows.append(
        f"| `import seccompx`, cumulative (median) | "
        f"{imports['median'] / 1000:.1f} ms | – | < {IMPORT_LIMIT_US / 1000:.0f} ms | "
        f"{'met' if imports['median'] < IMPORT_LIMIT_US else '**missed**'} |"
    )
    build = (
        "seccompx is the build that links libseccomp statically, as the "
        "wheels do (see Method)."
        if (results.get("package") or {}).get("path", ".") != "."
        else "seccompx is the in-place build with the shared libseccomp."
    )
    return [
        "## Targets",
        "",
        "Ratios are of medians measured in the same run. A ratio below 1 "
        "means seccompx is faster. " + build,
        "",
        f"The comparison ran {max(repeats, 1)} times in a row (--repeat). "
        "*measured* pools the samples of every repeat, and *each repeat* gives "
        "the ratio of each one. A page fault costs more or less from one "
        "minute to the next on a shared machine. The Python rows take more "
        "page faults than C's (see the page-fault columns), so their ratios "
        "to C move from repeat to repeat. A target counts as met only when "
        "every repeat meets it.",
        "",
        "| comparison | measured | each repeat | target | result |",
        "| --- | --- | --- | --- | --- |",
        *rows,
        "",
    ]


def _sandbox_ratio(sandbox: Optional[Dict[str, Any]]) -> Optional[float]:
    data = (sandbox or {}).get("json")
    if isinstance(data, dict):
        value = data.get("ratio")
        if isinstance(value, (int, float)):
            return float(value)
    return None


def _builders(results: Dict[str, Any]) -> List[str]:
    lines = [
        "## Build and load, every implementation",
        "",
        "Median and, in brackets, 10th–90th percentile, in µs per filter. "
        "*build* creates the filter and adds its rules; *load* is the "
        "binding's load call, in which libseccomp generates the BPF program "
        "and the kernel installs it. *page faults* is the median number of "
        "minor page faults of a sample's child beyond those of a child that "
        "does nothing. The last column divides build+load by C's.",
        "",
    ]
    builders = [
        impl for impl in results["implementations"] if impl["kind"] == "builder"
    ]
    for policy in _policy_names(results):
        lines += [
            f"### {policy}",
            "",
            "| implementation | build | load | build+load | page faults | samples "
            "| × C |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        c_total = _median(results, "c-libseccomp", policy, "build+load")
        for impl in builders:
            if impl["unavailable"]:
                lines.append(
                    f"| {impl['label']} | not available: "
                    f"{impl['unavailable']} | | | | | |"
                )
                continue
            stages = impl["summaries"].get(policy, {})
            total = stages.get("build+load")
            ratio = _ratio(None if total is None else total["median"], c_total)
            lines.append(
                f"| {impl['label']} | {_cell(stages.get('build'))} | "
                f"{_cell(stages.get('load'))} | {_cell(total)} | "
                f"{_faults(stages.get('faults'))} | "
                f"{total['samples'] if total else 0} | "
                f"{'–' if ratio is None else f'{ratio:.2f}'} |"
            )
        lines.append("")
    return lines


def _loaders(results: Dict[str, Any]) -> List[str]:
    lines = [
        "## Loading a finished program",
        "",
        "The same BPF program, exported by seccompx, loaded with "
        "prctl(PR_SET_NO_NEW_PRIVS) and seccomp(2) with flags "
        f"{results['flags']:#x}: from a C program, from the floor extension "
        "(benchmarks/floor/floor.c, a few lines of C called from the same "
        "interpreter) and with `Program.load`. Median (10th–90th "
        "percentile) in µs.",
        "",
        "| policy | C, raw seccomp(2) | floor extension | Program.load "
        "| Program.load / floor | C / floor |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for policy in _policy_names(results):
        cells = []
        for key in ("c-raw", "floor", "seccompx-program"):
            impl = _impl(results, key)
            summary = (
                None if impl is None else impl["summaries"].get(policy, {}).get("load")
            )
            cells.append(_cell(summary))
        program = _ratio(
            _median(results, "seccompx-program", policy, "load"),
            _median(results, "floor", policy, "load"),
        )
        c_raw = _ratio(
            _median(results, "c-raw", policy, "load"),
            _median(results, "floor", policy, "load"),
        )
        lines.append(
            f"| {policy} | {' | '.join(cells)} | "
            f"{'–' if program is None else f'{program:.2f}'} | "
            f"{'–' if c_raw is None else f'{c_raw:.2f}'} |"
        )
    lines += [
        "",
        "Minor page faults per sample beyond those of an empty child, median:",
        "",
        "| policy | C, raw seccomp(2) | floor extension | Program.load |",
        "| --- | --- | --- | --- |",
    ]
    for policy in _policy_names(results):
        cells = []
        for key in ("c-raw", "floor", "seccompx-program"):
            impl = _impl(results, key)
            summary = (
                None
                if impl is None
                else impl["summaries"].get(policy, {}).get("faults")
            )
            cells.append(_faults(summary))
        lines.append(f"| {policy} | {' | '.join(cells)} |")
    missing = [
        impl
        for impl in results["implementations"]
        if impl["kind"] == "loader" and impl["unavailable"]
    ]
    lines.append("")
    for impl in missing:
        lines += [f"{impl['label']}: not available: {impl['unavailable']}", ""]
    return lines


def _breakdown(results: Dict[str, Any]) -> List[str]:
    report = results["breakdown"]
    lines = [
        "## seccompx stages",
        "",
        f"From `{report['command']}`: {report['samples']} samples per stage. "
        "*compile* is `Filter.compile()`: libseccomp generates the BPF into a "
        "memory file, which seccompx reads back into a new `Program`. *load* "
        "generates the same BPF in libseccomp's memory and passes it to "
        "seccomp(2). It creates no file and fewer Python objects, and in a "
        "freshly forked child each object touched costs page faults. "
        "*precompiled-load* is `Program.load` of a program compiled in the "
        "parent. Median (10th–90th percentile) in µs.",
        "",
        "| policy | rules | BPF instructions | build | compile | load "
        "| build+load | precompiled-load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for target in report["targets"]:
        stages = target["stages"]
        cells = [
            _cell(stages[stage])
            for stage in ("build", "compile", "load", "build+load", "precompiled-load")
        ]
        lines.append(
            f"| {target['name']} | {target['rules']} | {target['instructions']} | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("")
    return lines + _syscall_cost(report, results.get("bpf_runs", []))


def _syscall_cost(report: Dict[str, Any], bpf_runs: List[Dict[str, Any]]) -> List[str]:
    syscall = report["syscall"]
    lines = [
        "## Cost per syscall",
        "",
        f"A C loop calls `{syscall['name']}` {syscall['iterations']:,} times "
        "per sample, before and after the filter is loaded in the same "
        f"child. It runs in {syscall['chunks']} equal chunks, and the fastest "
        "chunk gives the sample, so that a chunk in which the child was "
        "preempted does not count. Nanoseconds per call, median (10th–90th "
        "percentile).",
        "",
        "| policy | without filter | with filter | added by the filter |",
        "| --- | --- | --- | --- |",
    ]
    added = []
    for target in report["targets"]:
        cost = target["syscall_cost"]
        lines.append(
            f"| {target['name']} | {_cell(cost['unfiltered'])} | "
            f"{_cell(cost['filtered'])} | {_cell(cost['overhead'])} |"
        )
        if cost["rule_added"]:
            added.append(target["name"])
    lines.append("")
    if added:
        lines += [
            f"The {', '.join(added)} policy does not allow `{syscall['name']}`, "
            "so this stage adds one ALLOW rule for it.",
            "",
        ]
    lines += [
        "Since Linux 5.11 the kernel remembers, per filter, the syscalls that "
        "the filter allows whatever their arguments, and skips running the "
        "BPF program for them. An unconditionally allowed syscall therefore "
        "costs about the same under a small and a large filter; a syscall "
        "with argument rules, or one the filter denies, runs the program.",
        "",
    ]
    return lines + _bpf_runs(bpf_runs)


def _bpf_runs(bpf_runs: List[Dict[str, Any]]) -> List[str]:
    if not bpf_runs:
        return []
    first = bpf_runs[0]
    lines = [
        f"`personality(0xffffffff)` only queries, and the large policies "
        "allow it through argument rules, so the kernel runs their program "
        f"for every call. From `{first['command']}` and the same for "
        f"large-tree, {first['syscall']['iterations']:,} calls per sample:",
        "",
        "| policy | BPF instructions | without filter | with filter "
        "| added by the filter |",
        "| --- | --- | --- | --- | --- |",
    ]
    for run in bpf_runs:
        for target in run["targets"]:
            cost = target["syscall_cost"]
            lines.append(
                f"| {target['name']} | {target['instructions']} | "
                f"{_cell(cost['unfiltered'])} | {_cell(cost['filtered'])} | "
                f"{_cell(cost['overhead'])} |"
            )
    return lines + [""]


def _imports(results: Dict[str, Any]) -> List[str]:
    imports = results["import"]
    total = imports["cumulative_us"]
    lines = [
        "## `import seccompx`",
        "",
        f"`{imports['command']}`, {imports['runs']} runs: cumulative "
        f"{total['median'] / 1000:.1f} ms median "
        f"({total['p10'] / 1000:.1f}–{total['p90'] / 1000:.1f} ms), "
        f"{imports['module_count']} modules imported that the interpreter "
        "had not loaded at start-up. Bytecode is cached, as after an "
        "install. The modules with the largest own (self) time, with the "
        "cumulative time of each module and what it imports, medians in µs:",
        "",
        "| module | self | cumulative |",
        "| --- | --- | --- |",
    ]
    lines += [
        f"| `{name}` | {own:,.0f} | {total:,.0f} |"
        for name, own, total in imports["top_modules_us"]
    ]
    return lines + [""]


def _sandbox(results: Dict[str, Any]) -> List[str]:
    sandbox = results.get("sandbox")
    if sandbox is None:
        return []
    lines = [
        "## sandbox.spawn",
        "",
        f"From `{sandbox['command']}` (exit status {sandbox['exit_code']}); "
        "benchmarks/bench_sandbox.py describes the cases.",
        "",
    ]
    data = sandbox.get("json")
    if isinstance(data, dict) and isinstance(data.get("markdown"), str):
        lines += data["markdown"].strip().splitlines()
    else:
        lines += [
            "```text",
            *(sandbox["output"].splitlines() or ["(no output)"]),
            "```",
        ]
    if sandbox["errors"]:
        lines += [
            "",
            "Its standard error:",
            "",
            "```text",
            *sandbox["errors"].splitlines(),
            "```",
        ]
    return lines + [""]


def _heap_effect(results: Dict[str, Any]) -> List[str]:
    """Return a table of the libseccomp module's times with and without
    seccompx imported in its process, beside seccompx's own."""
    if _impl(results, "libseccomp-python-heap") is None:
        return []
    lines = [
        "Imports leave a different heap behind, and the heap decides where "
        "libseccomp's allocations land. The row *libseccomp Python module, "
        "seccompx imported* runs libseccomp's module in a process that has "
        "also imported seccompx and uses nothing from it. It separates the "
        "two costs: its difference from the plain row is the share of "
        "seccompx's imports, and its difference from *seccompx, shared "
        "libseccomp*, which uses the same malloc, is the share of "
        "seccompx's own code. Build+load, median µs, and page faults:",
        "",
        "| policy | libseccomp module | libseccomp module, seccompx imported "
        "| seccompx, shared libseccomp | seccompx |",
        "| --- | --- | --- | --- | --- |",
    ]
    for policy in _policy_names(results):
        cells = []
        for key in (
            "libseccomp-python",
            "libseccomp-python-heap",
            "seccompx-shared",
            "seccompx",
        ):
            impl = _impl(results, key)
            summary = impl["summaries"].get(policy) if impl else None
            if summary is None:
                cells.append("–")
                continue
            cells.append(
                f"{_us(summary['build+load']['median'])} "
                f"({_faults(summary.get('faults'))} faults)"
            )
        lines.append(f"| {policy} | " + " | ".join(cells) + " |")
    return lines + [""]


def _reading(results: Dict[str, Any]) -> List[str]:
    return [
        "## Why Python trails C in a fresh child",
        "",
        "A forked child shares its parent's memory copy-on-write. Its first "
        "write to a page makes the kernel copy that page, and its first use "
        "of a page of code maps it; each is a minor page fault. A C program "
        "touches few pages to build a filter: its heap is small and "
        "libseccomp's allocations lie close together. A Python child touches "
        "many more. Every object whose reference count changes is written. "
        "The C library's malloc serves libseccomp's many small allocations "
        "from the free lists of the interpreter's large, fragmented heap, so "
        "they land on different shared pages. The same libseccomp calls "
        "therefore cost more faults in a Python process than in a C one; "
        "compare the page-fault columns with the times.",
        "",
        "A static build of seccompx, as in the wheels, links libseccomp with "
        "a block allocator of its own (csrc/heap/heap.c). It cuts blocks of "
        "every size one after another from a slab that a forked child has "
        "to itself, so libseccomp's blocks fill few, fresh pages. The rows "
        "*seccompx* and *seccompx, shared libseccomp* differ in that alone.",
        "",
        *_heap_effect(results),
        "`Program.load` avoids most of this: compile the filter once in the "
        "parent with `Filter.compile()`, and load the program in each child "
        "with one call, which neither allocates nor calls libseccomp.",
        "",
    ]


def _method(results: Dict[str, Any]) -> List[str]:
    lines = [
        "## Method",
        "",
        "- Every sample runs in a freshly forked child, because a loaded "
        "filter cannot be removed. The child times its work with a "
        "monotonic clock, sends the numbers to the parent on a pipe and "
        "exits.",
        "- The Python processes that fork the samples turn the garbage "
        "collector off, as timeit does, so that no collection runs in a "
        "sample's child.",
        "- Before sampling, each implementation builds and exports every "
        "policy once in the parent. The first `seccomp_init` of a process "
        "probes the kernel's seccomp support; the warm-up keeps that probe "
        "out of the samples, for C and Python alike.",
        f"- Each repeat takes {results['samples']} samples per implementation "
        f"and policy, split into {results['rounds']} rounds, and the "
        "implementations take turns within each round. The tables below pool "
        f"the samples of all {len(results.get('repeats') or [None])} repeats.",
        "- Every implementation gets the same rules, from "
        "`seccompx.bench`, and sets the same attributes as `seccompx.Filter`: "
        "bad-architecture action KILL_PROCESS, no_new_privs, and thread sync "
        "(TSYNC) where the kernel supports it. The C program uses syscall "
        "numbers resolved at generation time, as `SCMP_SYS()` does; the "
        "Python bindings pass names. Rule data, such as comparison objects, "
        "is prepared outside the timed region.",
        "- Python peers: pyseccomp (ctypes, from PyPI) and libseccomp's own "
        "Cython module (Debian's python3-seccomp), which exists only for "
        "the system interpreter. Builds of one Python version run the same "
        "code at different speeds (a statically linked, profile-optimised "
        "interpreter against one with a shared libpython, for example), so "
        "the Python rows compare bindings only under one interpreter. When "
        "the system interpreter loads extensions of the same ABI as the "
        "one seccompx was built with, every Python row runs under it, with "
        "seccompx and pyseccomp on its path.",
        f"- {_linkage(results)}",
        f"- Python rows ran under: {_interpreters(results)}.",
        "",
        "| policy | rules | description |",
        "| --- | --- | --- |",
    ]
    for policy in results["policies"]:
        dropped = (
            f" ({len(policy['dropped'])} listed names that this architecture "
            "lacks were dropped)"
            if policy["dropped"]
            else ""
        )
        lines.append(
            f"| {policy['name']} | {policy['rules']} | "
            f"{policy['description']}{dropped} |"
        )
    lines.append("")
    lines += ["| implementation | version |", "| --- | --- |"]
    for impl in results["implementations"]:
        version = impl["version"] or "–"
        if impl["key"] == "c-libseccomp":
            version = f"libseccomp {results['machine']['libseccomp']}"
        if impl["unavailable"]:
            version = f"not available: {impl['unavailable']}"
        lines.append(f"| {impl['label']} | {version} |")
    return lines + [""]


def _linkage(results: Dict[str, Any]) -> str:
    """Return the Method sentence on how the measured seccompx was built."""
    package = results.get("package") or {}
    if package.get("path", ".") == ".":
        return (
            "seccompx rows use the in-place build, which links the shared "
            "libseccomp; no libseccomp.a was found for a build like the "
            "wheels'."
        )
    return (
        f"seccompx rows use a build in {package['path']} with "
        f"{package['linkage']}, as the wheels link it. Such a build gives "
        "libseccomp the block allocator of csrc/heap. The row *seccompx, "
        "shared libseccomp* is the in-place build, where libseccomp uses the "
        "C library's malloc."
    )


def _interpreters(results: Dict[str, Any]) -> str:
    used: Dict[str, List[str]] = {}
    for impl in results["implementations"]:
        if impl.get("interpreter") and not impl["unavailable"]:
            used.setdefault(impl["interpreter"], []).append(impl["label"])
    return "; ".join(
        f"{path} ({', '.join(labels)})" for path, labels in used.items()
    ) or "none"


def render_page(results: Dict[str, Any]) -> str:
    """Return the whole Markdown page."""
    lines = [
        "# Benchmarks",
        "",
        "<!-- Generated by benchmarks/run.py; edit that script, not this page. -->",
        "",
        "How long it takes to build a seccomp filter and load it into the "
        "kernel, with seccompx and with the alternatives, on one machine. "
        "The page was produced by:",
        "",
        "```sh",
        results["command"],
        "```",
        "",
        "`make bench` runs the same command.",
        "",
    ]
    lines += _machine(results)
    lines += _targets(results)
    lines += _builders(results)
    lines += _loaders(results)
    lines += _breakdown(results)
    lines += _imports(results)
    lines += _sandbox(results)
    lines += _reading(results)
    lines += _method(results)
    return "\n".join(lines).rstrip() + "\n"
