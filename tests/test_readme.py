"""Install commands run as written, in fresh venvs, from the checkout: the README's, the benchmarks'.

For the README's first command, pip takes what it installs from the
wheelhouse of the tests (``PIP_NO_INDEX`` and ``PIP_FIND_LINKS``, which the
command inherits); the command itself is the README's, character for
character, as quickstart.rst shows it too. The benchmarks' commands take
theirs from the package index, as a reader's do.
"""

from __future__ import annotations

import re
import subprocess
import venv
from typing import TYPE_CHECKING

import pytest

from .conftest import ROOT
from .conftest import clean_env
from .test_docs import code_blocks

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


def test_the_benchmarks_install_commands_run_as_written(tmp_path: Path) -> None:
    """docs/performance.rst's ``pip install`` commands, as written, in one fresh venv, from the checkout.

    Each benchmark the page names then starts there (``--help``: running them
    all takes minutes, and is the benchmarks' own business).
    """
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    env = clean_env(PATH=f"{env_dir / 'bin'}:/usr/bin:/bin", VIRTUAL_ENV=str(env_dir))
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    commands = [line for block in code_blocks("performance", "sh") for line in block.splitlines()]
    installs = [c for c in commands if c.startswith("pip install")]
    benchmarks = {c.split()[2] for c in commands if c.startswith("python -m tests.benchmarks.")}
    assert len(installs) >= 5
    assert len(benchmarks) == 7
    for command in [*installs, *(f"python -m {name} --help" for name in sorted(benchmarks))]:
        proc = subprocess.run(  # noqa: S602 - the page's commands, as a reader types them
            command, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        assert proc.returncode == 0, f"$ {command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
