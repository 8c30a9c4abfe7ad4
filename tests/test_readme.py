"""The README's first command runs as written, in a fresh virtual environment, from the checkout.

pip takes what it installs from the wheelhouse of the tests (``PIP_NO_INDEX``
and ``PIP_FIND_LINKS``, which the command inherits), so the test needs no
package index; the command itself is the README's, character for character,
as quickstart.rst shows it too.
"""

from __future__ import annotations

import re
import subprocess
import venv
from typing import TYPE_CHECKING

import pytest

from .conftest import ROOT
from .conftest import clean_env

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # builds both distributions into a new venv


def readme_commands() -> list[str]:
    """The README's ``sh`` blocks, in order: the newcomer's two commands first."""
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_quickstart_shows_the_readmes_commands() -> None:
    quickstart = (ROOT / "docs" / "quickstart.rst").read_text()
    first, second = readme_commands()[:2]
    assert f"   {first}\n" in quickstart
    assert f"   {second}\n" in quickstart


def test_the_first_command_installs_and_runs_the_main_job(tmp_path: Path, wheelhouse: Path) -> None:
    first = readme_commands()[0]
    assert first.startswith("pip install . ./plugins_example && spincycle-jobs run shell-command")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    env = clean_env(
        PATH=f"{env_dir / 'bin'}:/usr/bin:/bin",
        VIRTUAL_ENV=str(env_dir),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    proc = subprocess.run(  # noqa: S602 - the README's command, as a newcomer types it
        first, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "hello world"
