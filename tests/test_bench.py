"""``seccompx bench``, seccompx.bench and the _bench extension.

These tests check that the benchmarks run and report well-formed results
with tiny sample counts.  They never assert how long anything took.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from childproc import report, run_in_child

import seccompx
from seccompx import _bench, bench
from seccompx.cli import main

ROOT = Path(__file__).resolve().parent.parent
STAGE_KEYS = {"unit", "median", "p10", "p90", "samples"}


def run_bench(capsys: pytest.CaptureFixture[str], *args: str) -> "tuple[int, str, str]":
    """Run ``seccompx bench ARGS`` in this process; return status and output."""
    status = main(["bench", *args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_bench_json(capsys: pytest.CaptureFixture[str], *args: str) -> Dict[str, Any]:
    status, out, err = run_bench(capsys, *args, "--json")
    assert status == 0, err
    result: Dict[str, Any] = json.loads(out)
    return result


def check_summary(summary: Dict[str, Any], unit: str, samples: int) -> None:
    assert set(summary) == STAGE_KEYS
    assert summary["unit"] == unit
    assert summary["samples"] == samples
    assert summary["p10"] <= summary["median"] <= summary["p90"]


# The command ---------------------------------------------------------------


def test_bench_json_small(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_bench_json(
        capsys, "--policy", "small", "--samples", "2", "--iterations", "50"
    )
    assert result["tool"] == "seccompx bench"
    assert result["seccompx"] == seccompx.__version__
    assert result["samples"] == 2
    assert result["syscall"] == {
        "name": "getppid",
        "iterations": 50,
        "chunks": bench.SYSCALL_CHUNKS,
    }
    assert "warmed in the parent" in result["warmup"]
    assert result["machine"]["nproc"] >= 1
    assert [target["name"] for target in result["targets"]] == ["small"]

    target = result["targets"][0]
    assert target["rules"] == 4
    assert target["instructions"] > 0
    assert set(target["stages"]) == set(bench.STAGES)
    for summary in target["stages"].values():
        check_summary(summary, "us", 2)
    for label in ("unfiltered", "filtered", "overhead"):
        assert target["syscall_cost"][label]["unit"] == "ns"
        assert target["syscall_cost"][label]["samples"] == 2
    # The small policy does not allow getppid, so the stage adds a rule.
    assert target["syscall_cost"]["rule_added"] is True


def test_bench_json_all_policies(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_bench_json(capsys, "--samples", "1", "--iterations", "10")
    names = [target["name"] for target in result["targets"]]
    assert names == list(bench.POLICY_NAMES)
    by_name = {target["name"]: target for target in result["targets"]}
    assert by_name["medium"]["rules"] == 60
    assert by_name["medium"]["syscall_cost"]["rule_added"] is False
    assert by_name["large"]["rules"] == by_name["large-tree"]["rules"]
    # optimize=2 turns the same rules into a different, tree-shaped program.
    assert by_name["large"]["instructions"] != by_name["large-tree"]["instructions"]


def test_bench_text_units(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run_bench(
        capsys,
        "--policy",
        "medium",
        "--samples",
        "1",
        "--iterations",
        "10",
        "--syscall",
        "getpid",
    )
    assert status == 0, err
    assert re.search(r"Filter stages, (µ|u)s per filter", out)
    assert re.search(r"median (µ|u)s", out)
    assert "Cost of getpid, ns per call" in out
    assert f"fastest of {bench.SYSCALL_CHUNKS} chunks" in out
    assert "median ns" in out
    for stage in bench.STAGES:
        assert re.search(rf"\b{re.escape(stage)}\s+\d+\.\d", out), stage
    assert "warm-up:" in out


def test_bench_help_names_units(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "microseconds" in out
    assert "nanoseconds" in out


def test_bench_profile(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {
                "names": ["read", "write", "exit", "exit_group", "getppid"],
                "action": "SCMP_ACT_ALLOW",
            }
        ],
    }
    path = tmp_path / "tiny.json"
    path.write_text(json.dumps(profile))
    result = run_bench_json(
        capsys, "--profile", str(path), "--samples", "1", "--iterations", "10"
    )
    [target] = result["targets"]
    assert target["name"] == "tiny.json"
    assert target["rules"] == 5
    check_summary(target["stages"]["build+load"], "us", 1)


def test_bench_profile_rule_conflict(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # getppid has a rule of its own, so the loop cannot add an ALLOW rule.
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}],
    }
    path = tmp_path / "denies.json"
    path.write_text(json.dumps(profile))
    status, _, err = run_bench(capsys, "--profile", str(path), "--samples", "1")
    assert status == 2
    assert "getppid" in err
    assert "--syscall" in err


def test_bench_notify_rule_under_allow_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A rule returns NOTIFY for personality and the default action is ALLOW,
    # so an ALLOW rule would change the result, but libseccomp rejects it.
    path = Path(__file__).parent / "fixtures" / "profiles" / "notify_under_allow.json"
    status, _, err = run_bench(
        capsys, "--profile", str(path), "--syscall", "personality", "--samples", "1"
    )
    assert status == 2
    assert "returns NOTIFY for personality" in err
    assert "the filter's default action is ALLOW" in err
    assert "change nothing" not in err
    assert err.strip().endswith("choose another --syscall")


def test_bench_conflicting_rule_named(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_NOTIFY"},
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"},
        ],
    }
    path = tmp_path / "notify.json"
    path.write_text(json.dumps(profile))
    status, _, err = run_bench(
        capsys, "--profile", str(path), "--syscall", "personality", "--samples", "1"
    )
    assert status == 2
    # The reason after the colon is the message of Filter.allow().
    assert "returns NOTIFY for personality" in err
    assert "cannot add an ALLOW rule for it: rule for 'personality'" in err
    assert "default action" not in err


def test_bench_profile_adds_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}
        ],
    }
    path = tmp_path / "narrow.json"
    path.write_text(json.dumps(profile))
    result = run_bench_json(
        capsys, "--profile", str(path), "--samples", "1", "--iterations", "10"
    )
    assert result["targets"][0]["syscall_cost"]["rule_added"] is True


def test_bench_strict_profile_names_needed_syscalls(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ALLOW"}],
    }
    path = tmp_path / "strict.json"
    path.write_text(json.dumps(profile))
    status, _, err = run_bench(
        capsys, "--profile", str(path), "--samples", "1", "--iterations", "10"
    )
    assert status == 1
    assert "was killed by SIGSYS" in err
    assert "calls write (to send its samples) and exit_group" in err
    assert "allow these in the profile or policy" in err
    assert "  " not in err


def test_bench_profile_with_write_and_exit_group(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # The syscalls that the SIGSYS message lists are enough.
    names = ["write", "exit_group", "clock_gettime"]
    profile = {
        "defaultAction": "SCMP_ACT_KILL_PROCESS",
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }
    path = tmp_path / "minimal.json"
    path.write_text(json.dumps(profile))
    result = run_bench_json(
        capsys, "--profile", str(path), "--samples", "1", "--iterations", "10"
    )
    assert result["targets"][0]["syscall_cost"]["rule_added"] is True


def test_cli_docs_list_bench_syscalls() -> None:
    text = (Path(__file__).parent.parent / "docs" / "cli.md").read_text()
    [row] = [line for line in text.splitlines() if line.startswith("| `--syscall NAME`")]
    for name in bench.SYSCALLS:
        assert f"`{name}`" in row


def test_bench_profile_missing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    missing = tmp_path / "absent.json"
    status, _, err = run_bench(capsys, "--profile", str(missing), "--samples", "1")
    assert status == 2
    assert str(missing) in err


def test_bench_profile_not_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "broken.json"
    path.write_text("{not json")
    status, _, err = run_bench(capsys, "--profile", str(path), "--samples", "1")
    assert status == 2
    assert "not valid JSON" in err


@pytest.mark.parametrize("value", ["0", "-3"])
def test_bench_rejects_samples(capsys: pytest.CaptureFixture[str], value: str) -> None:
    status, _, err = run_bench(capsys, "--policy", "small", "--samples", value)
    assert status == 2
    assert "samples" in err
    assert value in err


def test_bench_rejects_unsafe_syscall(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["bench", "--syscall", "reboot"])
    assert exit_info.value.code == 2
    assert "reboot" in capsys.readouterr().err


def test_bench_module_entry_point() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "seccompx",
            "bench",
            "--policy",
            "small",
            "--samples",
            "1",
            "--iterations",
            "10",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        # The folder of the package under test, which may be an installed
        # wheel: from the source tree, -m would import the in-place build.
        cwd=Path(seccompx.__file__).resolve().parent.parent,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["targets"][0]["name"] == "small"


# seccompx.bench --------------------------------------------------------------


def test_policy_unknown_name() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="'huge'"):
        bench.policy("huge")


def test_policy_sizes() -> None:
    assert bench.policy("small").allow == ("read", "write", "exit", "exit_group")
    assert len(bench.policy("medium").allow) == 60
    large = bench.policy("large")
    argument_rules = [rule for rule in large.rules if rule[2]]
    assert len(argument_rules) == 10
    assert large.optimize is None
    assert bench.policy("large-tree").optimize == 2
    assert bench.policy("large-tree").rules == large.rules


def test_policy_native_drops_foreign_names() -> None:
    large = bench.policy("large")
    for name in large.allow:
        seccompx.resolve_syscall(name)
    for name in large.dropped:
        with pytest.raises(seccompx.UnknownSyscallError):
            seccompx.resolve_syscall(name)
    assert not set(large.allow) & set(large.dropped)


def test_policy_to_json_matches_rules() -> None:
    large = bench.policy("large")
    data = large.to_json()
    assert data["allow"] == list(large.allow)
    assert data["default"] == int(large.default)
    assert len(data["rules"]) == len(large.rules)
    for (action, name, comparisons), (raw, raw_name, raw_cmps) in zip(
        large.rules, data["rules"]
    ):
        assert raw == int(action)
        assert raw_name == name
        assert raw_cmps == [
            [c.arg, int(c.op), c.datum_a, c.datum_b] for c in comparisons
        ]
    json.dumps(data)


def test_policy_medium_kills_unlisted() -> None:
    # The medium policy kills on anything outside its allowlist.
    def body(fd: int) -> int:
        bench.policy("medium").build().load()
        report(fd, "loaded")
        os.sync()
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert result.text == "loaded\n"


def test_load_options_match_filter() -> None:
    built = bench.policy("small").build()
    try:
        options = bench.load_options(built)
        assert options == {
            "tsync": built.tsync,
            "log": False,
            "spec_allow": False,
            "new_listener": False,
        }
        assert bench.load_flags(built) == (1 if built.tsync else 0)
    finally:
        built.close()


def test_percentiles_interpolate() -> None:
    values = [float(v) for v in range(10, 0, -1)]
    summary = bench.summarize(values, "us")
    assert summary.median == pytest.approx(5.5)
    assert summary.p10 == pytest.approx(1.9)
    assert summary.p90 == pytest.approx(9.1)
    assert summary.samples == 10
    assert bench.percentile([7.0], 0.9) == 7.0
    with pytest.raises(seccompx.InvalidArgumentError):
        bench.percentile([], 0.5)


def test_sample_in_children_values() -> None:
    rows = bench.sample_in_children(lambda: (1, -2, 3 << 40), samples=3)
    assert rows == [(1, -2, 3 << 40)] * 3


def test_sample_in_children_reports_exception() -> None:
    def body() -> List[int]:
        raise RuntimeError("deliberate failure")

    with pytest.raises(bench.BenchmarkError, match="deliberate failure"):
        bench.sample_in_children(body, samples=1)


def test_sample_in_children_reports_signal() -> None:
    def body() -> List[int]:
        bench.policy("small").build().load()
        os.getppid()
        return [0]

    with pytest.raises(bench.BenchmarkError, match="SIGSYS"):
        bench.sample_in_children(body, samples=1)


def test_sample_in_children_timeout() -> None:
    def body() -> List[int]:
        signal.pause()
        return [0]

    with pytest.raises(bench.BenchmarkError, match="timed out"):
        bench.sample_in_children(body, samples=1, timeout=0.2)


def test_run_rejects_unsafe_syscall() -> None:
    target = bench.policy_target(bench.policy("small"))
    with pytest.raises(seccompx.InvalidArgumentError, match="'fork'"):
        bench.run([target], samples=1, syscall="fork")


# The _bench extension ----------------------------------------------------------


def test_syscall_loop_calls_syscall() -> None:
    getppid = seccompx.resolve_syscall("getppid")

    def body(fd: int) -> int:
        with seccompx.Filter(seccompx.ALLOW) as built:
            built.deny("getppid", action=seccompx.KILL_PROCESS)
            built.load()
        # No call with 0 iterations, so the child survives this one.
        report(fd, str(_bench.syscall_loop(getppid, 0)))
        _bench.syscall_loop(getppid, 5)
        return 0

    result = run_in_child(body)
    assert result.signal == signal.SIGSYS, result
    assert int(result.text) >= 0


def test_syscall_loop_errno_still_counts() -> None:
    getppid = seccompx.resolve_syscall("getppid")

    def body(fd: int) -> int:
        with seccompx.Filter(seccompx.ALLOW) as built:
            built.deny("getppid")
            built.load()
        elapsed = _bench.syscall_loop(getppid, 1000)
        report(fd, str(elapsed))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert int(result.text) > 0


def test_syscall_loop_rejects_bad_counts() -> None:
    getpid = seccompx.resolve_syscall("getpid")
    with pytest.raises(ValueError, match="syscall number -1 is negative"):
        _bench.syscall_loop(-1, 10)
    with pytest.raises(ValueError, match="iterations -5 is negative"):
        _bench.syscall_loop(getpid, -5)
    with pytest.raises(OverflowError):
        _bench.syscall_loop(getpid, 2**70)


# benchmarks/run.py -------------------------------------------------------------


def missing_tools() -> Optional[str]:
    compiler = os.environ.get("CC", "cc")
    if shutil.which(compiler) is None:
        return "no C compiler"
    if not Path("/usr/include/seccomp.h").exists():
        return "libseccomp headers are not installed"
    # run.py links its C program with -lseccomp.  The wheel tests hide the
    # shared library behind an empty file, which cannot be linked.
    library = subprocess.run(
        [compiler, "-print-file-name=libseccomp.so"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not os.path.isfile(library) or os.path.getsize(library) == 0:
        return f"no shared libseccomp to link run.py's C program with ({library})"
    return None


def static_libseccomp() -> Optional[str]:
    """Return the libseccomp.a that run.py links its static build with."""
    if os.environ.get("SECCOMPX_LIBSECCOMP_STATIC"):
        return os.environ["SECCOMPX_LIBSECCOMP_STATIC"]
    if shutil.which("pkg-config") is None:
        return None
    libdir = subprocess.run(
        ["pkg-config", "--variable=libdir", "libseccomp"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    archive = Path(libdir) / "libseccomp.a"
    return str(archive) if libdir and archive.is_file() else None


def check_static_build(data: Dict[str, Any], page: str, build: Path) -> None:
    """Check that run.py measured its static build and the in-place one."""
    assert data["package"]["linkage"].startswith("libseccomp linked statically")
    impls = {impl["key"]: impl for impl in data["implementations"]}
    assert impls["seccompx"]["unavailable"] is None
    assert impls["seccompx-shared"]["unavailable"] is None
    assert "seccompx, shared libseccomp" in page
    static_core = next((build / "static" / "seccompx").glob("_core*.so"))
    probe = subprocess.run(
        [sys.executable, "-c", "from seccompx import _core; print(_core._heap_stats())"],
        capture_output=True,
        text=True,
        cwd=static_core.parent.parent,
        check=True,
    )
    assert probe.stdout.startswith("{'blocks'"), probe.stdout


@pytest.mark.skipif(missing_tools() is not None, reason=str(missing_tools()))
def test_run_script_writes_page(tmp_path: Path) -> None:
    page = tmp_path / "benchmarks.md"
    raw = tmp_path / "results.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "run.py"),
            "--samples",
            "2",
            "--rounds",
            "2",
            "--repeat",
            "2",
            "--breakdown-samples",
            "1",
            "--import-runs",
            "2",
            "--build-dir",
            str(tmp_path / "build"),
            "--output",
            str(page),
            "--json",
            str(raw),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    text = page.read_text()
    for heading in (
        "## Machine",
        "## Targets",
        "## Build and load",
        "## Loading a finished program",
        "## seccompx stages",
        "## Cost per syscall",
        "## `import seccompx`",
        "## Method",
    ):
        assert heading in text, heading
    assert "python benchmarks/run.py --samples 2" in text
    data = json.loads(raw.read_text())
    impls = {impl["key"]: impl for impl in data["implementations"]}
    for key in ("c-libseccomp", "c-raw", "seccompx", "seccompx-program", "floor"):
        assert impls[key]["unavailable"] is None, key
        assert set(impls[key]["summaries"]) == set(bench.POLICY_NAMES), key
    # Two samples in each of two repeats, pooled, and each repeat's own.
    assert len(data["raw"]["seccompx"]["small"]) == 4
    assert len(data["repeats"]) == 2
    for repeat in data["repeats"]:
        summaries = {impl["key"]: impl["summaries"] for impl in repeat["implementations"]}
        assert summaries["seccompx"]["small"]["build+load"]["samples"] == 2
    assert "| comparison | measured | each repeat | target | result |" in text
    if static_libseccomp() is None:
        assert data["package"]["path"] == "."
    else:
        check_static_build(data, text, tmp_path / "build")


def test_sample_in_children_turns_collector_off() -> None:
    import gc

    gc.enable()
    samples = bench.sample_in_children(lambda: (int(gc.isenabled()),), 2)
    assert samples == [(0,), (0,)]
    assert gc.isenabled()
