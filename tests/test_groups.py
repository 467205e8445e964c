"""Syscall groups: data, expansion, and Filter.allow_group/deny_group."""

from __future__ import annotations

import ctypes
import errno
import logging
import subprocess
import sys
import warnings
from pathlib import Path
from typing import List, Sequence

import pytest

import seccompx
from seccompx import ALLOW, ERRNO, Arch, Filter, groups
from seccompx.groups import SyscallGroup

from childproc import report, run_in_child

ROOT = Path(__file__).parent.parent
ON_X86_64 = Arch.native() is Arch.X86_64

LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.syscall.restype = ctypes.c_long

# systemd v257's group names, in the order of its documentation.
SYSTEMD_GROUPS = [
    "@default", "@aio", "@basic-io", "@chown", "@clock", "@cpu-emulation",
    "@debug", "@file-system", "@io-event", "@ipc", "@keyring", "@memlock",
    "@module", "@mount", "@network-io", "@obsolete", "@pkey", "@privileged",
    "@process", "@raw-io", "@reboot", "@resources", "@sandbox", "@setuid",
    "@signal", "@swap", "@sync", "@system-service", "@timer", "@known",
]


def test_group_names_follow_systemd() -> None:
    assert list(groups.group_names()) == SYSTEMD_GROUPS


@pytest.mark.parametrize(
    "name, count",
    [("@default", 70), ("@basic-io", 18), ("@file-system", 87), ("@network-io", 22),
     ("@privileged", 53), ("@process", 22), ("@system-service", 394), ("@known", 556)],
)
def test_expanded_member_counts(name: str, count: int) -> None:
    members = groups.expand(name)
    assert len(members) == count
    assert len(set(members)) == count


def test_included_groups_expand() -> None:
    default = groups.expand("@default")
    assert "seccomp" in default  # from @sandbox
    assert "@sandbox" not in default
    service = set(groups.expand("@system-service"))
    for included in ("@basic-io", "@network-io", "@default", "@timer"):
        assert set(groups.expand(included)) <= service
    assert "@sandbox" in groups.get_group("@default").entries


def test_every_group_has_description() -> None:
    for name in groups.group_names():
        group = groups.get_group(name)
        assert isinstance(group, SyscallGroup)
        assert group.name == name
        assert group.description.endswith(".")
        assert group.entries


def test_unknown_group() -> None:
    with pytest.raises(seccompx.InvalidArgumentError) as caught:
        groups.get_group("@nonsense")
    assert "@basic-io" in str(caught.value)
    with pytest.raises(seccompx.InvalidArgumentError):
        groups.expand("basic-io")


def test_cycle_in_data_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {
        "@a": SyscallGroup("@a", "A.", ("read", "@b")),
        "@b": SyscallGroup("@b", "B.", ("@a",)),
    }
    monkeypatch.setattr(groups, "_groups", lambda: fake)
    with pytest.raises(seccompx.InvalidArgumentError) as caught:
        groups.expand("@a")
    assert "@a -> @b -> @a" in str(caught.value)


def test_available_skips_unknown_members(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="seccompx"):
        members = groups.available("@known")
    assert set(members) < set(groups.expand("@known"))
    for member in members:
        assert groups.syscall_exists(member, int(Arch.native()))
    assert any("@known: skipped" in record.getMessage() for record in caplog.records)


@pytest.mark.skipif(not ON_X86_64, reason="uses the x86 socketcall multiplexer")
def test_multiplexed_syscalls_exist_on_x86() -> None:
    assert groups.syscall_exists("recv", int(Arch.X86))
    assert not groups.syscall_exists("recv", int(Arch.X86_64))
    assert groups.syscall_exists("socket", int(Arch.X86_64))
    assert not groups.syscall_exists("set_tls", int(Arch.X86_64))
    assert not groups.syscall_exists("no_such_call", int(Arch.X86_64))
    assert not groups.syscall_exists("bad name", int(Arch.X86_64))


def test_group_rules_feed_add_rules() -> None:
    rules = groups.group_rules("@basic-io", ERRNO(5))
    assert ("read" in [name for _, name in rules])
    f = Filter(ALLOW)
    assert f.add_rules(rules) == len(rules)
    f.close()


def test_allow_group_records_members() -> None:
    f = Filter(ERRNO(errno.EPERM))
    added = f.allow_group("@basic-io", "@sync")
    expected = set(groups.available("@basic-io")) | set(groups.available("@sync"))
    assert added == len(expected)
    [entry] = f.to_profile()["syscalls"]
    f.close()
    assert set(entry["names"]) == expected


@pytest.mark.skipif(not ON_X86_64, reason="needs a second architecture")
def test_groups_on_several_arches_do_not_warn() -> None:
    f = Filter(ERRNO(errno.EPERM), arches=["x86_64", "x86"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        f.allow_group("@basic-io", "@file-system")
    f.close()


def test_group_arguments_checked() -> None:
    f = Filter(ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError):
        f.deny_group()
    with pytest.raises(seccompx.InvalidArgumentError):
        f.deny_group("@no-such-group")
    f.close()


def errnos_under(f: Filter, calls: Sequence[Sequence[int]]) -> List[int]:
    def body(fd: int) -> int:
        f.load()
        found = []
        for number, *args in calls:
            ctypes.set_errno(0)
            ret = LIBC.syscall(ctypes.c_long(number), *(ctypes.c_long(a) for a in args))
            found.append(str(ctypes.get_errno() if ret == -1 else 0))
        report(fd, " ".join(found))
        return 0

    result = run_in_child(body)
    f.close()
    assert result.exitcode == 0, str(result)
    return [int(item) for item in result.text.split()]


def test_allow_group_in_kernel() -> None:
    f = Filter(ERRNO(errno.EPERM))
    f.allow_group("@default", "@basic-io", "@signal")
    nr = seccompx.resolve_syscall
    calls = [[nr("getppid")], [nr("socket"), 2, 1, 0], [nr("sync")]]
    assert errnos_under(f, calls) == [0, errno.EPERM, errno.EPERM]


def test_deny_group_in_kernel() -> None:
    f = Filter(ALLOW)
    f.deny_group("@network-io", action=ERRNO(errno.EACCES))
    nr = seccompx.resolve_syscall
    calls = [[nr("socket"), 2, 1, 0], [nr("connect"), -1, 0, 0], [nr("getppid")]]
    assert errnos_under(f, calls) == [errno.EACCES, errno.EACCES, 0]


def test_groups_doc_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "groups_doc.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    current = (ROOT / "docs" / "groups.md").read_text()
    assert current == result.stdout, "run: python tools/groups_doc.py > docs/groups.md"


def test_deny_group_default_action_named() -> None:
    f = Filter(ERRNO(1))
    with pytest.raises(seccompx.InvalidArgumentError) as caught:
        f.deny_group("@mount", action=ERRNO(1))
    assert "the group '@mount' would get ERRNO(1)" in str(caught.value)
    assert caught.value.errno == errno.EACCES
    assert f.rule_count == 0
    f.close()


def test_allow_group_default_allow_named() -> None:
    f = Filter(ALLOW)
    with pytest.raises(seccompx.InvalidArgumentError) as caught:
        f.allow_group("@mount", "@basic-io")
    assert "groups '@mount', '@basic-io' would get ALLOW" in str(caught.value)
    assert f.rule_count == 0
    f.close()
