"""The tutorial's plugin, built from the docs' own files, installs and passes its own tests."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from .conftest import ROOT
from .conftest import clean_env

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
