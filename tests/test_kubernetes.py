"""Kubernetes deployment: kubelet localhost files and SPO SeccompProfiles."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest

import seccompx
from seccompx import kubernetes
from seccompx.cli import main

from childproc import report, run_in_child

# The SeccompProfile CRD (v1beta1), written out here independently of
# seccompx/kubernetes.py so the two can disagree: field names, and the
# enumerations and types of its OpenAPI schema.
CRD_SPEC_FIELDS = {
    "baseProfileName",
    "defaultAction",
    "architectures",
    "listenerPath",
    "listenerMetadata",
    "syscalls",
    "flags",
    "disabled",
}
CRD_ENTRY_FIELDS = {"names", "action", "errnoRet", "args"}
CRD_ARG_FIELDS = {"index", "value", "valueTwo", "op"}
CRD_ACTIONS = {
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
}
CRD_OPS = {
    "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ",
    "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ",
}
CRD_FLAGS = {
    "SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
}
CRD_ARCHES = {
    "SCMP_ARCH_NATIVE", "SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", "SCMP_ARCH_S390X",
    "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",
}
INT64_MAX = 2**63 - 1


def crd_violations(resource: Dict[str, Any]) -> List[str]:
    """List where ``resource`` breaks the CRD's schema (empty when valid)."""
    problems = []
    if resource.get("apiVersion") != "security-profiles-operator.x-k8s.io/v1beta1":
        problems.append(f"apiVersion {resource.get('apiVersion')!r}")
    if resource.get("kind") != "SeccompProfile":
        problems.append(f"kind {resource.get('kind')!r}")
    if not isinstance(resource.get("metadata", {}).get("name"), str):
        problems.append("metadata.name missing")
    spec = resource.get("spec", {})
    problems += [f"spec.{key} unknown" for key in set(spec) - CRD_SPEC_FIELDS]
    if spec.get("defaultAction") not in CRD_ACTIONS:
        problems.append(f"spec.defaultAction {spec.get('defaultAction')!r}")
    problems += [f"arch {a}" for a in spec.get("architectures", []) if a not in CRD_ARCHES]
    problems += [f"flag {f}" for f in spec.get("flags", []) if f not in CRD_FLAGS]
    for entry in spec.get("syscalls", []):
        problems += [f"entry field {key}" for key in set(entry) - CRD_ENTRY_FIELDS]
        if entry.get("action") not in CRD_ACTIONS:
            problems.append(f"entry action {entry.get('action')!r}")
        if not all(isinstance(name, str) for name in entry.get("names", [None])):
            problems.append(f"entry names {entry.get('names')!r}")
        if "errnoRet" in entry and not isinstance(entry["errnoRet"], int):
            problems.append(f"errnoRet {entry['errnoRet']!r}")
        if len(entry.get("args", [])) > 6:
            problems.append("more than 6 args")
        for arg in entry.get("args", []):
            problems += [f"arg field {key}" for key in set(arg) - CRD_ARG_FIELDS]
            if arg.get("op") not in CRD_OPS or "index" not in arg:
                problems.append(f"arg {arg!r}")
            for key in ("value", "valueTwo"):
                if not 0 <= arg.get(key, 0) <= INT64_MAX:
                    problems.append(f"arg {key} {arg[key]} outside int64")
    return problems


def sample_filter() -> seccompx.Filter:
    f = seccompx.Filter(default=seccompx.ERRNO(errno.EPERM))
    f.allow("read", "write", "exit_group")
    f.add_rule(seccompx.ERRNO(errno.EACCES), "openat", seccompx.Arg(2).masked_eq(3, 1))
    f.add_rule(seccompx.ALLOW, "getpriority", seccompx.Arg(0) == 0)
    return f


def trace_profile() -> Dict[str, Any]:
    """A profile shaped like the one ``seccompx trace`` writes."""
    return {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
        "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}],
    }


# SeccompProfile resources -------------------------------------------------


def test_spo_resource_matches_crd() -> None:
    f = sample_filter()
    try:
        resource = kubernetes.spo_resource(f, "my-app", namespace="apps")
    finally:
        f.close()
    assert crd_violations(resource) == []
    assert resource["metadata"] == {"name": "my-app", "namespace": "apps"}
    spec = resource["spec"]
    assert spec["defaultAction"] == "SCMP_ACT_ERRNO"
    assert "defaultErrnoRet" not in spec
    entries = {tuple(entry["names"]): entry for entry in spec["syscalls"]}
    assert entries[("openat",)]["errnoRet"] == errno.EACCES
    assert entries[("openat",)]["args"] == [
        {"index": 2, "value": 3, "valueTwo": 1, "op": "SCMP_CMP_MASKED_EQ"}
    ]
    assert entries[("getpriority",)]["args"] == [
        {"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}
    ]


def test_spo_resource_without_namespace() -> None:
    resource = kubernetes.spo_resource(trace_profile(), "ls")
    assert resource["metadata"] == {"name": "ls"}
    assert crd_violations(resource) == []


def test_spo_resource_base_profile() -> None:
    resource = kubernetes.spo_resource(trace_profile(), "app", base_profile_name="runc-v1.1.0")
    assert resource["spec"]["baseProfileName"] == "runc-v1.1.0"


def test_spo_drops_eperm_default_errno() -> None:
    spec = kubernetes.spo_resource(trace_profile(), "ls")["spec"]
    assert "defaultErrnoRet" not in spec
    assert spec["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]


def test_spo_rejects_other_default_errno() -> None:
    profile = dict(trace_profile(), defaultErrnoRet=errno.EACCES)
    with pytest.raises(seccompx.ProfileError) as caught:
        kubernetes.spo_resource(profile, "ls")
    assert caught.value.path == "defaultErrnoRet"
    assert "EPERM" in str(caught.value)


def test_spo_rejects_zero_errno_ret() -> None:
    profile = trace_profile()
    profile["syscalls"].append({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0})
    with pytest.raises(seccompx.ProfileError) as caught:
        kubernetes.spo_resource(profile, "ls")
    assert caught.value.path == "syscalls[1].errnoRet"


def test_runtime_profile_keeps_zero_errno_ret() -> None:
    profile = trace_profile()
    profile["syscalls"].append({"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 0})
    assert kubernetes.runtime_profile(profile)["syscalls"][1]["errnoRet"] == 0


def test_spo_rejects_values_above_int64() -> None:
    f = seccompx.Filter(default=seccompx.ALLOW)
    try:
        f.add_rule(seccompx.ERRNO(errno.EPERM), "kill", seccompx.Arg(0) == 2**64 - 1)
        runtime = kubernetes.runtime_profile(f)
        with pytest.raises(seccompx.ProfileError) as caught:
            kubernetes.spo_resource(f, "big")
    finally:
        f.close()
    assert runtime["syscalls"][0]["args"][0]["value"] == 2**64 - 1
    assert caught.value.path == "syscalls[0].args[0].value"
    assert "signed 64-bit" in str(caught.value)


def test_spo_accepts_int64_max() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
                      "args": [{"index": 0, "value": INT64_MAX, "op": "SCMP_CMP_EQ"}]}],
    }
    resource = kubernetes.spo_resource(profile, "edge")
    assert crd_violations(resource) == []


def test_spo_rejects_arch_outside_crd() -> None:
    profile = dict(trace_profile(), architectures=["SCMP_ARCH_LOONGARCH64"])
    assert kubernetes.runtime_profile(profile)["architectures"] == ["SCMP_ARCH_LOONGARCH64"]
    with pytest.raises(seccompx.ProfileError) as caught:
        kubernetes.spo_resource(profile, "loong")
    assert caught.value.path == "architectures[0]"


def test_spo_rejects_too_many_args() -> None:
    args = [{"index": i % 6, "value": i, "op": "SCMP_CMP_NE"} for i in range(7)]
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_LOG", "args": args}]}
    with pytest.raises(seccompx.ProfileError) as caught:
        kubernetes.spo_resource(profile, "many")
    assert caught.value.path == "syscalls[0].args"


def test_notify_default_rejected() -> None:
    with pytest.raises(seccompx.ProfileError) as caught:
        kubernetes.runtime_profile({"defaultAction": "SCMP_ACT_NOTIFY"})
    assert caught.value.path == "defaultAction"


@pytest.mark.parametrize(
    "profile, path",
    [
        ({"defaultAction": "SCMP_ACT_ALLOW", "archMap": []}, "archMap"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG", "includes": {"caps": ["CAP_KILL"]}}]},
         "syscalls[0].includes"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"name": "kill", "action": "SCMP_ACT_LOG"}]}, "syscalls[0].name"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["@mount"], "action": "SCMP_ACT_LOG"}]}, "syscalls[0].names[0]"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": [], "action": "SCMP_ACT_LOG"}]}, "syscalls[0].names"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "color": "blue"}, "color"),
        ({"defaultAction": "SCMP_ACT_DENY"}, "defaultAction"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1}, "defaultErrnoRet"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FOO"]}, "flags[0]"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG", "errnoRet": 1}]}, "syscalls[0].errnoRet"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]}, "syscalls[0].args[0].index"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]}, "syscalls[0].args[0].value"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_LOG",
             "args": [{"index": 0, "value": 1, "op": "EQ"}]}]}, "syscalls[0].args[0].op"),
    ],
)
def test_invalid_profiles_name_their_path(profile: Dict[str, Any], path: str) -> None:
    for convert in (kubernetes.runtime_profile, lambda p: kubernetes.spo_resource(p, "x")):
        with pytest.raises(seccompx.ProfileError) as caught:
            convert(profile)
        assert caught.value.path == path


def test_comment_and_null_fields_dropped() -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": None, "syscalls": [
        {"names": ["kill"], "action": "SCMP_ACT_LOG", "comment": "why", "args": None}]}
    assert kubernetes.runtime_profile(profile) == {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_LOG"}],
    }


@pytest.mark.parametrize("name", ["", "My-App", "-app", "app-", "a_b", "a" * 254, "a..b"])
def test_invalid_resource_names(name: str) -> None:
    with pytest.raises(seccompx.InvalidArgumentError):
        kubernetes.spo_resource(trace_profile(), name)


@pytest.mark.parametrize("namespace", ["", "Apps", "a.b", "a" * 64])
def test_invalid_namespaces(namespace: str) -> None:
    with pytest.raises(seccompx.InvalidArgumentError):
        kubernetes.spo_resource(trace_profile(), "app", namespace=namespace)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("profiles/My_App.json", "my-app"),
        ("ls.json", "ls"),
        ("nginx-1.25.json", "nginx-1.25"),
        ("a-.b..c", "a.b.c"),
        ("__x__", "x"),
    ],
)
def test_resource_name_derivation(text: str, expected: str) -> None:
    assert kubernetes.resource_name(text) == expected


def test_resource_name_rejects_nothing_usable() -> None:
    with pytest.raises(seccompx.InvalidArgumentError):
        kubernetes.resource_name("___.json")


def test_spo_localhost_profile() -> None:
    assert kubernetes.spo_localhost_profile("my-app", "apps") == "operator/apps/my-app.json"
    assert kubernetes.spo_localhost_profile("x.json", "apps") == "operator/apps/x.json"


# Kubelet localhost files --------------------------------------------------


def test_localhost_path_and_security_context() -> None:
    path = kubernetes.localhost_path("profiles/app.json")
    assert path == "/var/lib/kubelet/seccomp/profiles/app.json"
    assert kubernetes.security_context("profiles/app.json") == {
        "seccompProfile": {"type": "Localhost", "localhostProfile": "profiles/app.json"}
    }


@pytest.mark.parametrize("bad", ["", "/etc/app.json", "../app.json", "a/../b.json", "a//b", "./a"])
def test_localhost_path_rejects_escapes(bad: str) -> None:
    with pytest.raises(seccompx.InvalidArgumentError):
        kubernetes.localhost_path(bad)


def test_written_localhost_profile_is_enforced(tmp_path: Path) -> None:
    """The file written for the kubelet builds a filter the kernel enforces."""
    f = sample_filter()
    try:
        path = kubernetes.write_localhost_profile(f, "profiles/app.json", root=str(tmp_path))
    finally:
        f.close()
    assert path == str(tmp_path / "profiles" / "app.json")
    assert (tmp_path / "profiles" / "app.json").stat().st_mode & 0o777 == 0o644
    assert list((tmp_path / "profiles").iterdir()) == [tmp_path / "profiles" / "app.json"]
    with open(path) as file:
        profile = json.load(file)
    assert profile["defaultErrnoRet"] == errno.EPERM

    def body(fd: int) -> int:
        loaded = seccompx.Filter.from_profile(path)
        loaded.load()
        try:
            os.getcwd()
        except PermissionError:
            report(fd, "getcwd EPERM")
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "getcwd EPERM\n"


def test_localhost_profile_ignores_planted_temporary(tmp_path: Path) -> None:
    # A temporary name derived from the path and the process id could be
    # taken in advance by a symlink that redirects the write.
    folder = tmp_path / "profiles"
    folder.mkdir()
    victim = tmp_path / "victim"
    victim.write_text("unchanged\n")
    planted = folder / f"app.json.tmp{os.getpid()}"
    planted.symlink_to(victim)
    f = sample_filter()
    try:
        path = kubernetes.write_localhost_profile(f, "profiles/app.json", root=str(tmp_path))
    finally:
        f.close()
    assert victim.read_text() == "unchanged\n"
    assert json.loads(Path(path).read_text())["defaultErrnoRet"] == errno.EPERM
    assert sorted(folder.iterdir()) == sorted([folder / "app.json", planted])


def test_spo_spec_is_enforced() -> None:
    """The spec the operator writes to the node gives the intended filter."""
    f = sample_filter()
    try:
        spec = kubernetes.spo_resource(f, "app")["spec"]
    finally:
        f.close()

    def body(fd: int) -> int:
        loaded = seccompx.Filter.from_profile(spec)
        loaded.load()
        outcomes = []
        for name, call in (("getcwd", os.getcwd), ("getpriority", lambda: os.getpriority(0, 0))):
            try:
                call()
                outcomes.append(f"{name} ok")
            except PermissionError:
                outcomes.append(f"{name} EPERM")
        try:
            os.open("/", os.O_RDONLY | os.O_WRONLY)
        except OSError as error:
            outcomes.append(f"open {errno.errorcode[error.errno or 0]}")
        report(fd, ", ".join(outcomes))
        return 0

    result = run_in_child(body)
    assert result.exitcode == 0, result
    assert result.text == "getcwd EPERM, getpriority ok, open EACCES\n"


def test_runtime_profile_round_trip() -> None:
    original = sample_filter()
    try:
        profile = kubernetes.runtime_profile(original)
        program = original.export_bpf()
    finally:
        original.close()
    again = seccompx.Filter.from_profile(profile)
    try:
        assert kubernetes.runtime_profile(again) == profile
        assert len(again.export_bpf()) == len(program)
    finally:
        again.close()


# YAML ---------------------------------------------------------------------


def test_yaml_layout() -> None:
    document = {"a": ["x", {"b": 1, "c": [True, None]}], "d": {}, "e": []}
    assert kubernetes.to_yaml(document) == (
        "a:\n"
        "  - x\n"
        "  - b: 1\n"
        "    c:\n"
        "      - true\n"
        "      - null\n"
        "d: {}\n"
        "e: []\n"
    )


TRICKY_STRINGS = [
    "yes", "No", "ON", "null", "~", "1", "1.5", "0x10", "-", "- a", "a: b",
    "#x", "x #y", "", " lead", "trail ", "quote\"s", "back\\slash", "new\nline",
    "tab\t", "ünïcode", "[a]", "{a}", "*ref", "&anchor", "!tag", "%x", "@x",
    "`x`", "'x'", "a,b", "?", "|", ">", "/var/run/agent.sock", "SCMP_ACT_ALLOW",
]


def test_yaml_quotes_tricky_strings() -> None:
    for text in TRICKY_STRINGS:
        line = kubernetes.to_yaml({"k": text})
        if text in ("/var/run/agent.sock", "SCMP_ACT_ALLOW"):
            assert line == f"k: {text}\n"
        else:
            assert line == f"k: {json.dumps(text)}\n", text


def test_yaml_reads_back_with_pyyaml() -> None:
    yaml = pytest.importorskip("yaml")
    f = sample_filter()
    try:
        resource = kubernetes.spo_resource(f, "my-app", namespace="apps")
    finally:
        f.close()
    documents = [resource, {"k": TRICKY_STRINGS}, {"nested": [[1, [2]], {"a": {"b": []}}]}]
    for document in documents:
        assert yaml.safe_load(kubernetes.to_yaml(document)) == document


def test_yaml_rejects_floats() -> None:
    with pytest.raises(TypeError):
        kubernetes.to_yaml({"k": 1.5})


# Command line -------------------------------------------------------------


def test_convert_to_spo(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "My_App.json"
    path.write_text(json.dumps(trace_profile()))
    assert main(["convert", str(path), "--to", "spo", "--namespace", "apps"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "apiVersion: security-profiles-operator.x-k8s.io/v1beta1\n"
        "kind: SeccompProfile\n"
        "metadata:\n"
        "  name: my-app\n"
        "  namespace: apps\n"
        "spec:\n"
        "  defaultAction: SCMP_ACT_ERRNO\n"
    )
    assert "defaultErrnoRet" not in out
    yaml = pytest.importorskip("yaml")
    assert crd_violations(yaml.safe_load(out)) == []


def test_convert_spo_from_stdin_needs_name(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "seccompx", "convert", "-", "--to", "spo"]
    data = json.dumps(trace_profile())
    failed = subprocess.run(command, input=data, capture_output=True, text=True, timeout=60)
    assert failed.returncode == 2
    assert failed.stderr.count("\n") == 1
    assert "--name" in failed.stderr
    named = subprocess.run(command + ["--name", "ls"], input=data, capture_output=True,
                           text=True, timeout=60)
    assert named.returncode == 0, named.stderr
    assert "  name: ls\n" in named.stdout


def test_convert_spo_unrepresentable_profile(tmp_path: Path) -> None:
    path = tmp_path / "eacces.json"
    path.write_text(json.dumps(dict(trace_profile(), defaultErrnoRet=errno.EACCES)))
    result = subprocess.run(
        [sys.executable, "-m", "seccompx", "convert", str(path), "--to", "spo"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.startswith("seccompx convert: error: defaultErrnoRet: ")
    assert result.stderr.count("\n") == 1


def test_convert_name_needs_spo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    path.write_text(json.dumps(trace_profile()))
    assert main(["convert", str(path), "--to", "oci", "--name", "x"]) == 2
    assert "--to spo" in capsys.readouterr().err


# Real profiles --------------------------------------------------------------

CORPUS = os.environ.get("SECCOMPX_PROFILE_CORPUS")


@pytest.mark.skipif(not CORPUS, reason="SECCOMPX_PROFILE_CORPUS is not set")
def test_corpus_profiles_convert() -> None:
    """Every real profile seccompx can read becomes a valid resource."""
    assert CORPUS is not None
    converted = 0
    for path in sorted(Path(CORPUS).glob("*.json")):
        try:
            f = seccompx.Filter.from_profile(str(path))
        except seccompx.ProfileError:
            continue  # not a profile, or one seccompx rejects
        try:
            resource = kubernetes.spo_resource(f, kubernetes.resource_name(path.name))
            runtime = kubernetes.runtime_profile(f)
        finally:
            f.close()
        assert crd_violations(resource) == [], path.name
        assert runtime["defaultAction"] == resource["spec"]["defaultAction"]
        converted += 1
    assert converted > 0
