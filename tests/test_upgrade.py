"""Job documents across plugin versions: two versions of a real plugin, installed one after the other."""

from __future__ import annotations

import subprocess
from typing import TYPE_CHECKING
from typing import Any

import pytest

from .conftest import clean_env
from .conftest import pip
from .conftest import write_project

if TYPE_CHECKING:
    from pathlib import Path

    from .conftest import Venv

pytestmark = pytest.mark.slow

HOOK = """\
from spincycle_jobs import hookimpl


@hookimpl
def spincycle_jobs_job_types():
    return {"greet": "greet_jobs.greet:Greet"}
"""

GREET_0_1 = """\
import attrs
from spincycle_jobs import BaseJob, Return, State, get_arg


@attrs.define
class Greet(BaseJob):
    who: str = ""

    def create(self, job_args):
        self.who = get_arg(job_args, "who", str)

    def run(self, job_data):
        return Return(State.COMPLETE, stdout=f"hello {self.who}\\n")
"""

# 0.2.0 adds a field with a default: documents from 0.1.0 lack it.
GREET_0_2 = """\
import attrs
from spincycle_jobs import BaseJob, Return, State, get_arg


@attrs.define
class Greet(BaseJob):
    who: str = ""
    greeting: str = "hello"

    def create(self, job_args):
        self.who = get_arg(job_args, "who", str)
        self.greeting = get_arg(job_args, "greeting", str, default="hello")

    def run(self, job_data):
        return Return(State.COMPLETE, stdout=f"{self.greeting} {self.who}\\n")
"""


@pytest.fixture
def wheels(tmp_path: Path) -> dict[str, Path]:
    """Wheels of greet-jobs 0.1.0 and 0.2.0."""
    out = tmp_path / "wheels"
    found = {}
    for version, greet in (("0.1.0", GREET_0_1), ("0.2.0", GREET_0_2)):
        project = write_project(
            tmp_path,
            "greet-jobs",
            version,
            {"plugin.py": HOOK, "greet.py": greet},
            "greet = greet_jobs.plugin",
        )
        pip("wheel", "--no-deps", "--no-build-isolation", "-q", "-w", out, project)
        (found[version],) = out.glob(f"greet_jobs-{version}-*.whl")
    return found


def cli(env: Venv, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [env.script("spincycle-jobs"), *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env=clean_env(),
        timeout=120,
    )


def test_documents_across_versions(make_venv: Any, wheels: dict[str, Path], tmp_path: Path) -> None:
    """A 0.1.0 document runs under 0.2.0 with the new field's default; a 0.2.0 one under 0.1.0 is refused."""
    env = make_venv()
    env.install("spincycle-jobs", wheels["0.1.0"])
    old_doc, new_doc = tmp_path / "old.json", tmp_path / "new.json"
    made = cli(env, "create", "greet", "g", "-a", "who=world", "-o", old_doc)
    assert made.returncode == 0, made.stderr

    env.install(wheels["0.2.0"])  # the upgrade
    ran = cli(env, "run", "--from", old_doc)
    assert ran.returncode == 0, ran.stderr
    assert "hello world" in ran.stdout
    assert "greet-jobs 0.1.0" in ran.stderr
    assert "0.2.0" in ran.stderr  # the warning names both versions
    made = cli(env, "create", "greet", "g", "-a", "who=world", "-a", "greeting=hi", "-o", new_doc)
    assert made.returncode == 0, made.stderr
    ran = cli(env, "run", "--from", new_doc)
    assert (ran.returncode, "hi world" in ran.stdout) == (0, True), ran.stderr

    env.install(wheels["0.1.0"])  # the downgrade
    refused = cli(env, "run", "--from", new_doc)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "field greeting: unknown field" in refused.stderr
    assert "created by version 0.2.0; this is version 0.1.0" in refused.stderr
    assert "Traceback" not in refused.stderr
    ran = cli(env, "run", "--from", old_doc)
    assert (ran.returncode, ran.stdout) == (0, "hello world\n"), ran.stderr
