"""Fuzzed command lines: never a traceback without --debug, and only documented exit codes."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from spincycle_jobs._cli import main

from .conftest import clean_env

pytest.importorskip("spincycle_jobs_example", reason="the README's test command installs the example plugin")

#: The exit codes docs/cli.rst lists that these command lines can give (no job here exits otherwise).
DOCUMENTED = {0, 1, 2}

WORDS = [
    "list", "show", "doctor", "create", "run", "chain", "--json", "-o", "json", "table", "--output-format",
    "--debug", "--allow", "--deny", "example", "-a", "-d", "--from", "--timeout", "--retries", "--retry-wait",
    "--help", "noop", "sleep", "set-args", "shell-command", "slep", "x", "-", "=", ":=", "duration:=0",
    "duration=0", "duration:=-1", "duration:=nan", "duration:=1e999", "duration:=1e308", "duration:=[]",
    "set:={}", 'set:={"k": NaN}', 'set:={"a": 1}', "set:=" + "[" * 5000, "set:=" + "[" * 101 + "]" * 101,
    "k=v", "k:=Infinity", "nan", "inf", "-inf", "1e10", "0", "-1", "0.01", "1e-300", "10" * 200,
    "\udcff", "\udc80x", "\x1b[31m", "a\nb", "\u202e", "--", "--no-such-option",
]  # fmt: skip


def token() -> st.SearchStrategy[str]:
    """A word of the command line's grammar, a number, or any text, non-UTF-8 bytes included."""
    raw_bytes = st.binary(max_size=8).map(os.fsdecode)  # as Python decodes argv: surrogateescape
    numbers = st.floats(allow_nan=True, allow_infinity=True).map(repr)
    return st.one_of(st.sampled_from(WORDS), numbers, raw_bytes, st.text(max_size=8))


ARGV = st.lists(token(), max_size=8)


@settings(derandomize=True, database=None, max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip
@given(argv=ARGV)
def test_fuzzed_argv_in_process(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """main() on any argv returns a documented exit code and prints no traceback."""
    argv = [a for a in argv if a != "--debug"]
    try:
        code = main(argv)
    except SystemExit as exit_:  # --help and --version exit through argparse, with 0
        code = exit_.code if isinstance(exit_.code, int) else 0
    out, err = capsys.readouterr()  # read after each example: nothing carries over
    assert "Traceback" not in out + err
    assert "internal error" not in err
    assert code in DOCUMENTED, (argv, err)


@settings(derandomize=True, database=None, max_examples=12, deadline=None)
@given(argv=st.lists(st.one_of(st.sampled_from(WORDS), st.binary(min_size=1, max_size=6)), max_size=6))
def test_fuzzed_argv_bytes_in_a_subprocess(argv: list[str | bytes]) -> None:
    """The real command, given raw bytes that are not UTF-8, never shows a traceback."""
    args = [a for a in argv if a not in ("--debug", b"--debug") and b"\0" not in os.fsencode(a)]
    proc = subprocess.run(
        [sys.executable, "-m", "spincycle_jobs", *args],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
        check=False,
        env=clean_env(),
    )
    assert b"Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode in DOCUMENTED, (args, proc.stderr)
