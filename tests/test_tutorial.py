"""The tutorial's plugin, built from the docs' own files, installs and passes its own tests."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .conftest import clean_env
from .test_docs import code_blocks

pytestmark = pytest.mark.slow

TUTORIAL = ROOT / "docs" / "tutorial" / "acme-jobs"


def test_tutorial_plugin(make_venv: Any) -> None:
    """pip install the tutorial's plugin, then run its tests: check_job, the fixture, stop_after."""
    env = make_venv()
    env.install("spincycle-jobs", "pytest", TUTORIAL)
    proc = subprocess.run(
        [env.python, "-m", "pytest", "-q", "-p", "no:cacheprovider", TUTORIAL / "tests"],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(),
        cwd=env.path,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    listed = env.run(
        """
        import json
        from spincycle_jobs import Factory
        print(json.dumps([t.type for t in Factory().types()]))
        """
    )
    assert listed == ["checksum"]


def test_the_tutorials_commands_run_as_written(tmp_path: Path, wheelhouse: Path) -> None:
    """Step 0's and the last step's shell commands, as written, with the files of the steps between.

    pip takes what they install from the tests' wheelhouse (``PIP_NO_INDEX`` and
    ``PIP_FIND_LINKS``, which the commands inherit), where ``spincycle-jobs`` is
    the wheel of this checkout: the package index the tutorial assumes.
    """
    first, last = code_blocks("tutorial", "sh")
    files = f"cp -R {shlex.quote(str(TUTORIAL))}/. . && rm -rf tests/__pycache__"  # steps 1 to 4
    script = f"set -e\n{first}\n{files}\n{last}"
    env = clean_env(
        PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    proc = subprocess.run(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "3 passed" in proc.stdout
    listed = [line.split() for line in proc.stdout.splitlines() if line.startswith("checksum ")]
    assert listed == [["checksum", "acme", "acme-jobs", "1.0.0"]]
    assert re.search(r"^[0-9a-f]{64}$", proc.stdout, flags=re.MULTILINE)
