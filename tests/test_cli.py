"""Every subcommand of ``seccompx``: help text, usage errors, exit status."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

import seccompx

from seccompx.cli import COMMANDS, EXIT_USAGE, build_parser, main

# Actions whose default needs no mention: flags, repeatable options that
# start empty, and options without a default.
SELF_EXPLANATORY = (
    argparse._HelpAction,
    argparse._StoreTrueAction,
    argparse._StoreFalseAction,
)


def subparsers() -> Iterator[Tuple[str, argparse.ArgumentParser]]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name in COMMANDS:
                yield name, action.choices[name]


def run_cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "seccompx", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_version_names_libseccomp() -> None:
    result = run_cli("--version")
    assert result.returncode == 0, result.stderr
    running = ".".join(map(str, seccompx.libseccomp_version()))
    built = ".".join(map(str, seccompx.libseccomp_build_version()))
    assert result.stdout == (
        f"seccompx {seccompx.__version__} (libseccomp {running}, built against {built})\n"
    )


def test_commands_are_all_registered() -> None:
    names = [name for name, _ in subparsers()]
    assert names == list(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_exits_zero(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main([command, "--help"])
    assert caught.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: seccompx {command}")
    assert "Exit status" in out


@pytest.mark.parametrize("command", COMMANDS)
def test_help_states_defaults(command: str) -> None:
    parser = dict(subparsers())[command]
    for action in parser._actions:
        if isinstance(action, SELF_EXPLANATORY):
            continue
        if action.default is None or action.default == [] or action.default is argparse.SUPPRESS:
            continue
        assert action.help is not None, action.option_strings
        assert "default" in action.help, (
            f"{command} {'/'.join(action.option_strings) or action.dest} has "
            f"default {action.default!r} but its help does not say so"
        )


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help(command: str) -> None:
    parser = dict(subparsers())[command]
    for action in parser._actions:
        assert action.help, f"{command} {action.option_strings or action.dest} has no help"


def bad_arguments(command: str, parser: argparse.ArgumentParser) -> List[List[str]]:
    """Argument lists that argparse must reject for ``command``."""
    cases = [[command, "--no-such-option"]]
    for action in parser._actions:
        if not action.option_strings or isinstance(action, SELF_EXPLANATORY):
            continue
        option = action.option_strings[-1]
        if action.choices is not None:
            cases.append([command, option, "no-such-choice"])
        elif action.type in (int, float):
            cases.append([command, option, "not-a-number"])
    return cases


@pytest.mark.parametrize("command", COMMANDS)
def test_bad_arguments_exit_two(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    parser = dict(subparsers())[command]
    for argv in bad_arguments(command, parser):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        err = capsys.readouterr().err
        assert caught.value.code == EXIT_USAGE, argv
        assert err.count("\n") == 1, (argv, err)
        assert ": error: " in err, (argv, err)
        assert "--help" in err, (argv, err)


def test_missing_command_exits_two() -> None:
    result = run_cli()
    assert result.returncode == EXIT_USAGE
    assert "COMMAND" in result.stderr


def test_unknown_command_one_line() -> None:
    result = run_cli("no-such-command")
    assert result.returncode == EXIT_USAGE
    assert result.stderr.count("\n") == 1
    assert "invalid choice: 'no-such-command'" in result.stderr


def test_missing_required_option() -> None:
    result = run_cli("convert", "profile.json")
    assert result.returncode == EXIT_USAGE
    assert result.stderr == (
        "seccompx convert: error: the following arguments are required: --to; "
        "see 'seccompx convert --help'\n"
    )


@pytest.mark.parametrize(
    "argv",
    [
        ["check", "/nonexistent/profile.json"],
        ["convert", "/nonexistent/profile.json", "--to", "oci"],
        ["disasm", "--bpf", "/nonexistent/program.bpf"],
        ["simulate", "--profile", "/nonexistent/profile.json", "read"],
        ["audit", "--profile", "/nonexistent/profile.json"],
        ["bench", "--profile", "/nonexistent/profile.json", "--samples", "1"],
    ],
)
def test_missing_input_file_one_line(argv: List[str]) -> None:
    result = run_cli(*argv)
    assert result.returncode in (1, 2), result
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"seccompx {argv[0]}: error: ")
    assert "/nonexistent/" in result.stderr


def test_invalid_profile_exits_two(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"defaultAction": "SCMP_ACT_NOPE"}))
    result = run_cli("check", str(path))
    assert result.returncode == EXIT_USAGE
    assert result.stderr.count("\n") == 1
    assert "defaultAction" in result.stderr


@pytest.mark.parametrize("command", ["info", "check", "bench", "disasm", "simulate", "audit", "dump"])
def test_json_option_offered(command: str) -> None:
    parser = dict(subparsers())[command]
    assert any("--json" in action.option_strings for action in parser._actions)


def test_info_json_parses() -> None:
    result = run_cli("info", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["seccompx"]
    assert data["native_arch"]


@pytest.mark.parametrize("command", ["bench", "disasm", "simulate", "audit", "run"])
def test_profile_option_spelling(command: str) -> None:
    """Subcommands that can read a profile take it with --profile."""
    parser = dict(subparsers())[command]
    assert any("--profile" in action.option_strings for action in parser._actions)


@pytest.mark.parametrize(
    "option, minimum, maximum",
    [("--samples", "1", "10000"), ("--iterations", "10", "10000000")],
)
def test_bench_counts_are_bounded(
    option: str, minimum: str, maximum: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", option, "99999999999999999999"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err == (
        f"seccompx bench: error: {option} 99999999999999999999 is out of "
        f"range: use {minimum} to {maximum}\n"
    )
    parser = dict(subparsers())["bench"]
    action = next(a for a in parser._actions if option in a.option_strings)
    assert action.help is not None
    assert f"{minimum} to {maximum}" in action.help


def test_long_integer_option_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["bench", "--samples", "9" * 5000])
    assert caught.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "is too long: 5000 characters" in err
    assert len(err) < 300
