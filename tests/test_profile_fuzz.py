"""Malformed profiles raise ProfileError and nothing else."""

from __future__ import annotations

from typing import Any, Dict

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seccompx import Filter, ProfileError
from seccompx.profile import parse_json

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=0, max_value=2**64 + 5)
    | st.floats(allow_nan=True)
    | st.text(max_size=12)
)
JSON = st.recursive(
    SCALARS,
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)

ACTIONS = st.sampled_from(
    ["SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_TRACE", "SCMP_ACT_NOTIFY", "SCMP_ACT_LOG", "SCMP_ACT_BOGUS"]
)
NAMES = st.sampled_from(["read", "write", "socket", "socketcall", "recv", "set_tls", "@basic-io"]) | st.sampled_from(
    ["@nope", "", "no such", "x\ud800", "a" * 300]
) | st.text(max_size=8)
OPS = st.sampled_from(["SCMP_CMP_EQ", "SCMP_CMP_NE", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_GT", "SCMP_CMP_FOO"])
ARCHES = st.sampled_from(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_NATIVE", "SCMP_ARCH_Z80"])
FLAGS = st.sampled_from(
    ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", "BOGUS"]
)
NUMBERS = st.integers(min_value=-2, max_value=2**64) | st.sampled_from([0, 1, 5, 6, 4095, 65536])


def maybe(strategy: Any) -> Any:
    """Mostly ``strategy``, sometimes any JSON value, so that draws get
    past the first checks and reach the deeper ones."""
    # Hypothesis favours 0, so 0 must pick the valid strategy.
    return st.integers(0, 5).flatmap(lambda pick: JSON if pick == 5 else strategy)


def fields(draw: Any, spec: Dict[str, Any], likely: Any = ()) -> Dict[str, Any]:
    """Draw some of the fields in ``spec``; those in ``likely`` more often.

    Presence is decided before the value, so absent fields cost nothing.
    """
    chosen = {}
    for key, strategy in spec.items():
        if key in likely:
            # Hypothesis favours 0, so 0 must mean present.
            keep = draw(st.integers(0, 3)) != 3
        else:
            keep = draw(st.booleans())
        if keep:
            chosen[key] = draw(strategy)
    return chosen


@st.composite
def args(draw: Any) -> Any:
    spec = {
        "index": maybe(st.integers(-1, 7)),
        "value": maybe(NUMBERS),
        "valueTwo": maybe(NUMBERS),
        "op": maybe(OPS),
    }
    return fields(draw, spec, likely={"index", "value", "op"})


@st.composite
def conditions(draw: Any) -> Any:
    spec = {
        "caps": maybe(st.lists(st.sampled_from(["CAP_SYS_ADMIN", "CAP_FLY", "cap_chown"]), max_size=3)),
        "arches": maybe(st.lists(st.sampled_from(["amd64", "x86", "arm64", "s390x"]), max_size=3)),
        "minKernel": maybe(st.sampled_from(["4.8", "5.10.1", "x", "6"])),
    }
    return fields(draw, spec)


@st.composite
def entries(draw: Any) -> Any:
    spec = {
        "names": maybe(st.lists(NAMES, max_size=4)),
        "name": maybe(NAMES),
        "action": maybe(ACTIONS),
        "errnoRet": maybe(NUMBERS),
        "args": maybe(st.lists(args(), max_size=4)),
        "comment": JSON,
        "includes": maybe(conditions()),
        "excludes": maybe(conditions()),
    }
    chosen = fields(draw, spec, likely={"names", "action"})
    if "names" in chosen and draw(st.integers(0, 3)) != 3:
        chosen.pop("name", None)  # both together are an error
    return chosen


@st.composite
def good_entries(draw: Any) -> Any:
    """Valid entries, so that some profiles reach libseccomp."""
    action = draw(ACTIONS.filter(lambda name: name != "SCMP_ACT_BOGUS"))
    item: Dict[str, Any] = {
        "names": draw(st.lists(st.sampled_from(["read", "write", "getppid", "socket", "recv", "@timer"]), min_size=1, max_size=3)),
        "action": action,
    }
    if action in ("SCMP_ACT_ERRNO", "SCMP_ACT_TRACE") and draw(st.booleans()):
        item["errnoRet"] = draw(st.integers(0, 65535))
    arguments = []
    for _ in range(draw(st.integers(0, 3))):
        arguments.append(
            {
                "index": draw(st.integers(0, 5)),
                "value": draw(st.integers(0, 2**64 - 1)),
                "valueTwo": draw(st.integers(0, 2**64 - 1)),
                "op": draw(OPS.filter(lambda name: name != "SCMP_CMP_FOO")),
            }
        )
    if arguments:
        item["args"] = arguments
    return item


@st.composite
def profiles(draw: Any) -> Any:
    if draw(st.booleans()):
        # Often only one entry is malformed, or none.
        syscalls = draw(st.lists(good_entries(), max_size=5))
        if draw(st.booleans()):
            syscalls.insert(draw(st.integers(0, len(syscalls))), draw(entries()))
        chosen: Dict[str, Any] = {"defaultAction": draw(ACTIONS), "syscalls": syscalls}
    else:
        arch_map = st.fixed_dictionaries(
            {"architecture": maybe(ARCHES), "subArchitectures": maybe(st.lists(ARCHES, max_size=2))}
        )
        spec = {
            "defaultAction": maybe(ACTIONS),
            "defaultErrnoRet": maybe(NUMBERS),
            "architectures": maybe(st.lists(ARCHES, max_size=3)),
            "archMap": maybe(st.lists(arch_map, max_size=2)),
            "flags": maybe(st.lists(FLAGS, max_size=2)),
            "listenerPath": maybe(st.text(max_size=5)),
            "listenerMetadata": maybe(st.text(max_size=5)),
            "syscalls": maybe(st.lists(entries(), max_size=5)),
        }
        chosen = fields(draw, spec, likely={"defaultAction", "syscalls"})
    if draw(st.integers(0, 4)) == 4:
        chosen = {"linux": {"seccomp": chosen}}
    return chosen


def check(source: Any, **options: Any) -> None:
    try:
        f = Filter.from_profile(source, capabilities=[], kernel_version="6.1", **options)
    except ProfileError:
        return
    try:
        assert f.profile_report is not None
        f.export_bpf()
        f.to_profile()
    finally:
        f.close()


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(JSON)
def test_random_json_values(source: Any) -> None:
    check(source)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(), st.booleans(), st.booleans())
def test_profile_shaped_values(source: Any, strict: bool, enosys: bool) -> None:
    check(source, strict=strict, enosys_for_unknown=enosys)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=40) | st.text(max_size=40).map(str.encode))
def test_random_json_text(data: bytes) -> None:
    try:
        parse_json(data)
    except ProfileError:
        pass
