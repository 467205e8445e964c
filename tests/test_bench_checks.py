"""seccompx.bench: the sampling protocol, input checks and failure messages.

Every filter here is loaded in a forked child: either one of the
sampler's own children or a child of :func:`childproc.run_in_child`
that runs the benchmark.  No test asserts how long anything took.
"""

from __future__ import annotations

import faulthandler
import gc
import json
import math
import os
import resource
import signal
from pathlib import Path
from typing import Any, Dict, List, Optional

import pytest
from childproc import report, run_in_child

import seccompx
from seccompx import bench
from seccompx.cli import main

LISTENER = "anon_inode:seccomp notify"
NOTIFY_MKDIR = {
    "defaultAction": "SCMP_ACT_ALLOW",
    "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}],
}


def small_target() -> bench.Target:
    return bench.policy_target(bench.policy("small"))


def write_profile(tmp_path: Path, name: str, profile: Dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(profile))
    return str(path)


def bench_error_in_child(path: str, timeout: float = 5.0) -> str:
    """Benchmark profile ``path`` with one sample in a child, and return the
    error it raised as "TypeName: message"."""

    def body(fd: int) -> int:
        # A sample's child that cannot exit dies from SIGSEGV: keep it from
        # dumping core or printing pytest's faulthandler traceback.
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        faulthandler.disable()
        try:
            bench.run(
                [bench.profile_target(path)],
                samples=1,
                iterations=bench.SYSCALL_CHUNKS,
                timeout=timeout,
            )
        except Exception as error:
            report(fd, f"{type(error).__name__}: {error}")
            return 0
        report(fd, "no error")
        return 1

    result = run_in_child(body, timeout=60)
    assert result.exitcode == 0, result
    return result.text.strip()


# The sampling protocol -----------------------------------------------------


def test_run_children_have_collector_off() -> None:
    def body(fd: int) -> int:
        parent = os.getpid()

        def build() -> seccompx.Filter:
            # Runs in the parent for the warm-up and in each child.
            report(fd, f"child={os.getpid() != parent} gc={gc.isenabled()}")
            return bench.policy("small").build()

        gc.enable()
        target = bench.Target("probe", "reports the collector's state", build)
        bench.run([target], samples=2, iterations=bench.SYSCALL_CHUNKS)
        report(fd, f"after gc={gc.isenabled()}")
        return 0

    result = run_in_child(body, timeout=60)
    assert result.exitcode == 0, result
    lines = result.text.splitlines()
    in_children = [line for line in lines if line.startswith("child=True")]
    # build+load, compile and syscall stages, two samples each.
    assert len(in_children) == 6, lines
    assert set(in_children) == {"child=True gc=False"}
    assert lines[-1] == "after gc=True"


def test_run_reserves_free_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    collector_states: List[bool] = []
    reserve = bench._reserve_free_blocks

    def recording_reserve() -> List[object]:
        collector_states.append(gc.isenabled())
        return reserve()

    monkeypatch.setattr(bench, "_reserve_free_blocks", recording_reserve)
    bench.run([small_target()], samples=1, iterations=bench.SYSCALL_CHUNKS)
    assert collector_states == [False]


# load_options --------------------------------------------------------------


def listener_link(fd: Optional[int]) -> str:
    return "none" if fd is None else os.readlink(f"/proc/self/fd/{fd}")


def listeners_after_loads(profile: Any) -> List[str]:
    """Load ``profile`` with Filter.load() in one child and as a Program
    with bench.load_options() in another; return each child's listener."""

    def filter_load(fd: int) -> int:
        loaded = seccompx.Filter.from_profile(profile)
        loaded.load()
        try:
            report(fd, listener_link(loaded.notify_fd))
        except seccompx.SeccompError:
            report(fd, "none")
        return 0

    def program_load(fd: int) -> int:
        built = seccompx.Filter.from_profile(profile)
        program = built.compile()
        report(fd, listener_link(program.load(**bench.load_options(built))))
        return 0

    links = []
    for body in (filter_load, program_load):
        result = run_in_child(body)
        assert result.exitcode == 0, result
        links.append(result.text.strip())
    return links


def test_load_options_listener_for_notify_rule() -> None:
    built = seccompx.Filter.from_profile(NOTIFY_MKDIR)
    try:
        assert bench.load_options(built)["new_listener"] is True
        assert bench.load_flags(built) & 8  # SECCOMP_FILTER_FLAG_NEW_LISTENER
    finally:
        built.close()
    assert listeners_after_loads(NOTIFY_MKDIR) == [LISTENER, LISTENER]


def test_load_options_listener_path_alone() -> None:
    # listenerPath names a supervisor's socket.  Without a NOTIFY rule,
    # Filter.load() creates no listener.
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": "/run/supervisor.sock",
        "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}],
    }
    assert listeners_after_loads(profile) == ["none", "none"]


def test_load_options_default_notify() -> None:
    built = seccompx.Filter(seccompx.NOTIFY)
    try:
        assert bench.load_options(built)["new_listener"] is True
    finally:
        built.close()


def test_bench_notify_profile_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = write_profile(tmp_path, "notify.json", NOTIFY_MKDIR)
    status = main(["bench", "--profile", path, "--samples", "1", "--json"])
    out, err = capsys.readouterr()
    assert status == 0, err
    stages = json.loads(out)["targets"][0]["stages"]
    assert stages["precompiled-load"]["samples"] == 1


# percentile ----------------------------------------------------------------


@pytest.mark.parametrize("fraction", [-0.5, 1.5, -1, 2, math.inf])
def test_percentile_fraction_out_of_range(fraction: float) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as raised:
        bench.percentile([1.0, 2.0, 3.0], fraction)
    assert repr(fraction) in str(raised.value)
    assert "from 0 to 1" in str(raised.value)


def test_percentile_fraction_nan() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="fraction must be a number, not NaN"):
        bench.percentile([1.0, 2.0], math.nan)


@pytest.mark.parametrize("fraction", ["0.5", None, True, [0.5]])
def test_percentile_fraction_not_number(fraction: Any) -> None:
    with pytest.raises(TypeError) as raised:
        bench.percentile([1.0, 2.0], fraction)
    assert "fraction must be an int or float" in str(raised.value)
    assert repr(fraction) in str(raised.value)


def test_percentile_bad_samples() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="no samples"):
        bench.percentile([], 0.5)
    with pytest.raises(seccompx.InvalidArgumentError, match="sample must be a number, not NaN"):
        bench.percentile([1.0, math.nan], 0.5)
    with pytest.raises(TypeError, match="sample must be an int or float"):
        bench.percentile([1.0, "2"], 0.5)  # type: ignore[list-item]


def test_percentile_bounds() -> None:
    values = [3.0, 1.0, 2.0]
    assert bench.percentile(values, 0) == 1.0
    assert bench.percentile(values, 1) == 3.0
    assert bench.percentile(values, 0.5) == 2.0


# Failure messages ----------------------------------------------------------


def test_bench_errno_write_message(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ALLOW"}],
    }
    text = bench_error_in_child(write_profile(tmp_path, "errno.json", profile))
    assert text.startswith("BenchmarkError: benchmark child "), text
    assert "failed with exit code 1: no output" in text
    assert "the child sent nothing, as happens when the filter fails write" in text
    assert "calls write (to send its samples) and exit_group" in text


def test_bench_trace_default_message(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_TRACE",
        "syscalls": [{"names": ["exit_group"], "action": "SCMP_ACT_ALLOW"}],
    }
    text = bench_error_in_child(write_profile(tmp_path, "trace.json", profile))
    assert "failed with exit code 1: no output" in text, text
    assert "TRACE with no tracer attached" in text
    assert "allow these in the profile or policy" in text


def test_bench_exit_denied_message(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["exit_group", "exit"], "action": "SCMP_ACT_ERRNO"}],
    }
    text = bench_error_in_child(write_profile(tmp_path, "noexit.json", profile))
    assert "was killed by SIG" in text, text
    assert "after sending its samples" in text
    assert "the child could not exit" in text
    assert "as happens when the filter fails exit_group and exit" in text
    assert "calls write (to send its samples) and exit_group" in text


@pytest.mark.skipif(
    "libasan" in os.environ.get("LD_PRELOAD", ""),
    reason="AddressSanitizer's handler for the failed exit needs syscalls "
    "that this filter fails, so the child hangs until the timeout",
)
def test_bench_write_and_exit_denied_message(tmp_path: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}
    text = bench_error_in_child(write_profile(tmp_path, "denyall.json", profile))
    assert "was killed by SIG" in text, text
    assert "after sending its samples" not in text
    assert "the child sent nothing and could not exit" in text
    assert "the filter fails write (ERRNO" in text
    assert "allow these in the profile or policy" in text


@pytest.mark.parametrize("name", ["write", "exit_group"])
def test_bench_notify_needed_syscall_rejected(tmp_path: Path, name: str) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": [name], "action": "SCMP_ACT_NOTIFY"}],
    }
    text = bench_error_in_child(write_profile(tmp_path, "notify.json", profile), 2.0)
    assert text.startswith("InvalidArgumentError: "), text
    assert f"returns NOTIFY for {name}" in text
    assert "nothing responds to notifications in a benchmark" in text


def test_bench_conditional_notify_timeout_message(tmp_path: Path) -> None:
    # The pipe to the parent is descriptor 3 or above, so the child's write
    # is notified.  A write to descriptor 0 is not, so the check before
    # sampling lets this profile through and the child times out.
    condition = {"index": 0, "value": 3, "op": "SCMP_CMP_GE"}
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["write"], "action": "SCMP_ACT_NOTIFY", "args": [condition]}
        ],
    }
    text = bench_error_in_child(write_profile(tmp_path, "notify.json", profile), 0.5)
    assert "timed out after 0.5 s and was killed" in text, text
    assert "seccomp notification listener" in text
    assert "nothing responds to notifications in a benchmark" in text


def test_sample_timeout_without_listener_has_no_hint() -> None:
    def body() -> List[int]:
        signal.pause()
        return [0]

    with pytest.raises(bench.BenchmarkError) as raised:
        bench.sample_in_children(body, samples=1, timeout=0.2)
    assert "timed out after 0.2 s" in str(raised.value)
    assert "notification" not in str(raised.value)


# Arguments of run() and sample_in_children() -------------------------------


@pytest.mark.parametrize("timeout", [0, -1, 0.0, math.nan, math.inf])
def test_run_rejects_invalid_timeout(timeout: float) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as raised:
        bench.run([small_target()], samples=1, timeout=timeout)
    assert f"timeout {timeout!r} is invalid" in str(raised.value)


@pytest.mark.parametrize("timeout", [None, "5", True])
def test_run_rejects_timeout_type(timeout: Any) -> None:
    with pytest.raises(TypeError) as raised:
        bench.run([small_target()], samples=1, timeout=timeout)
    assert "timeout must be a number of seconds" in str(raised.value)
    assert repr(timeout) in str(raised.value)


@pytest.mark.parametrize("samples", [0, -1])
def test_sample_in_children_rejects_samples(samples: int) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as raised:
        bench.sample_in_children(lambda: (1,), samples)
    assert f"samples must be an integer of at least 1, not {samples}" in str(
        raised.value
    )


def test_sample_in_children_rejects_timeout() -> None:
    with pytest.raises(seccompx.InvalidArgumentError, match="timeout -1 is invalid"):
        bench.sample_in_children(lambda: (1,), 1, timeout=-1)
    with pytest.raises(TypeError, match="not NoneType None"):
        bench.sample_in_children(
            lambda: (1,), 1, timeout=None  # type: ignore[arg-type]
        )


@pytest.mark.parametrize(
    "returned, described",
    [
        (("x",), "tuple ('x',)"),
        (5, "int 5"),
        ([1.5], "list [1.5]"),
        ((2**63,), f"tuple ({2**63},)"),
        (None, "NoneType None"),
    ],
)
def test_sample_in_children_body_result_type(returned: Any, described: str) -> None:
    with pytest.raises(TypeError) as raised:
        bench.sample_in_children(lambda: returned, 1)
    message = str(raised.value)
    assert f"the benchmark body returned {described}" in message
    assert "sequence of integers from -2**63 to 2**63 - 1" in message


# Per-syscall iterations ----------------------------------------------------


@pytest.mark.parametrize("iterations", [1, 7, 9])
def test_run_rejects_too_few_iterations(iterations: int) -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as raised:
        bench.run([small_target()], samples=1, iterations=iterations)
    assert f"at least {bench.SYSCALL_CHUNKS}, not {iterations}" in str(raised.value)


@pytest.mark.parametrize("value", ["7", "9"])
def test_cli_rejects_too_few_iterations(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    status = main(
        ["bench", "--policy", "small", "--samples", "1", "--iterations", value]
    )
    err = capsys.readouterr().err
    assert status == 2
    assert f"--iterations {value} is out of range: use 10 to 10000000" in err


@pytest.mark.parametrize("iterations", [10, 15, 25, 10000, 10007])
def test_chunk_sizes_add_up(iterations: int) -> None:
    sizes = bench._chunk_sizes(iterations)
    assert len(sizes) == bench.SYSCALL_CHUNKS
    assert sum(sizes) == iterations
    assert max(sizes) - min(sizes) <= 1


def test_syscall_stage_makes_requested_calls(monkeypatch: pytest.MonkeyPatch) -> None:
    # The stand-in loop runs in the sampler's children, after the small
    # policy is loaded, and sends the size of each chunk on a pipe.
    read_fd, write_fd = os.pipe()

    class ReportingLoop:
        @staticmethod
        def syscall_loop(number: int, iterations: int, arg0: int = 0) -> int:
            os.write(write_fd, b"%d\n" % iterations)
            return 100 * iterations  # 100 ns per call in every chunk

    monkeypatch.setattr(bench, "_bench", ReportingLoop)
    try:
        result = bench.run([small_target()], samples=1, iterations=25)
    finally:
        os.close(write_fd)
    with os.fdopen(read_fd, "rb") as pipe:
        sizes = [int(line) for line in pipe.read().split()]
    # One loop before and one after loading the filter.
    assert len(sizes) == 2 * bench.SYSCALL_CHUNKS
    assert sum(sizes[: bench.SYSCALL_CHUNKS]) == 25
    assert sum(sizes[bench.SYSCALL_CHUNKS :]) == 25
    assert result["syscall"]["iterations"] == 25
    cost = result["targets"][0]["syscall_cost"]
    assert cost["unfiltered"]["median"] == 100.0
    assert cost["filtered"]["median"] == 100.0


def test_bench_json_reports_iterations_made(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(
        ["bench", "--policy", "small", "--samples", "1", "--iterations", "25", "--json"]
    )
    out, err = capsys.readouterr()
    assert status == 0, err
    syscall = json.loads(out)["syscall"]
    assert syscall["iterations"] == 25
    assert syscall["chunks"] == bench.SYSCALL_CHUNKS
