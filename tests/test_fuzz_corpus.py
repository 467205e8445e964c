"""Replay the fuzzing corpus (fuzz/corpus/) as regression inputs.

`make fuzz` grows the corpus with atheris; this test needs no atheris.
Every input runs in one child, which reports each file name before running
it, so a crash names the input that caused it.
"""

from __future__ import annotations

import os
import sys

from childproc import run_in_child

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
sys.path.insert(0, os.path.join(ROOT, "fuzz"))

import fuzz_core  # noqa: E402


def _inputs() -> list:
    return sorted(os.listdir(CORPUS))


def test_corpus_is_present():
    assert len(_inputs()) >= 5


def test_corpus_replays_without_crash():
    names = _inputs()

    def body(out: int) -> int:
        for name in names:
            os.write(out, name.encode() + b"\n")
            with open(os.path.join(CORPUS, name), "rb") as file:
                fuzz_core.run_input(file.read())
        os.write(out, b"done\n")
        return 0

    result = run_in_child(body, timeout=120)
    last = result.text.strip().splitlines()[-1] if result.text.strip() else ""
    assert result.signal is None, f"input {last} crashed: {result}"
    assert result.exitcode == 0, f"input {last} raised: {result.text[-2000:]}"
    assert last == "done"
