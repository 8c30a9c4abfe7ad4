"""docs/operating.rst runs as written: each console command, in order, gives the output the page shows.

Times, durations, host names and pids differ from run to run; they are
masked on both sides before the comparison, and columns are compared with
their spacing collapsed. The Python snippet runs after the commands.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

from .conftest import ROOT
from .conftest import clean_env

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # the page stops a run of 5 s and resumes it

PAGE = ROOT / "docs" / "operating.rst"
WAIT = 60.0
_MASKS = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "TIME"),
    (re.compile(r"\b\d+\.\ds\b"), "S"),
    (re.compile(r"\b[\w.-]+:\d+\b"), "HOST:PID"),
    (re.compile(r"\s+"), " "),
)


def blocks(kind: str) -> list[list[str]]:
    """The page's ``code-block:: kind`` blocks, each as its lines, indentation removed."""
    found, lines = [], PAGE.read_text().splitlines()
    for i, line in enumerate(lines):
        if line.strip() == f".. code-block:: {kind}":
            body = []
            for text in lines[i + 2 :]:
                if text and not text.startswith("   "):
                    break
                body.append(text[3:])
            found.append(textwrap.dedent("\n".join(body)).strip("\n").splitlines())
    return found


def steps() -> list[tuple[str, list[str]]]:
    """Each ``$ command`` of the console blocks, with the output lines shown after it."""
    out: list[tuple[str, list[str]]] = []
    for block in blocks("console"):
        for line in block:
            if line.startswith("$ "):
                out.append((line[2:], []))
            else:
                out[-1][1].append(line)
    return out


def normal(lines: list[str]) -> list[str]:
    result = []
    for line in lines:
        masked = line
        for pattern, mask in _MASKS:
            masked = pattern.sub(mask, masked)
        result.append(masked.strip())
    while result and not result[-1]:
        result.pop()
    return result


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs" / "operating", tmp_path, dirs_exist_ok=True)
    scripts = os.path.dirname(sys.executable)  # noqa: PTH120 - where this environment's spincycle-jobs is
    env = clean_env(PATH=f"{scripts}:{os.environ['PATH']}", COLUMNS="100")
    assert len(steps()) >= 15
    for command, shown in steps():
        proc = subprocess.run(  # noqa: S602 - the page's shell commands, as a reader types them
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
        assert proc.returncode == 0, f"$ {command}\n{proc.stderr}"
        got = (proc.stdout + proc.stderr).splitlines()
        assert normal(got) == normal(shown), f"$ {command}"
    (snippet,) = blocks("python")
    proc = subprocess.run(
        [sys.executable, "-c", "\n".join(snippet)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "deploy-42 COMPLETE 3/3" in proc.stdout
    assert "deploy 1 COMPLETE deploying build 42" in " ".join(proc.stdout.split())
