"""docs/operating.rst runs as written: each console command, in order, gives the output the page shows.

Times, durations, host names and pids differ from run to run; they are
masked on both sides before the comparison, and columns are compared with
their spacing collapsed. The Python snippet runs after the commands.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from .conftest import ROOT
from .test_docs import code_blocks
from .test_docs import run_step
from .test_docs import shell_env
from .test_docs import steps

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # the page stops a run of 5 s and resumes it

WAIT = 60.0


def test_the_page_runs_as_written(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "docs" / "operating", tmp_path, dirs_exist_ok=True)
    env = shell_env()
    assert len(steps("operating")) >= 15
    for command, shown in steps("operating"):
        run_step(command, shown, tmp_path, env)
    (snippet,) = code_blocks("operating")
    proc = subprocess.run(
        [sys.executable, "-c", snippet],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "deploy-42 COMPLETE 3/3" in proc.stdout
    assert "deploy 1 COMPLETE deploying build 42" in " ".join(proc.stdout.split())
