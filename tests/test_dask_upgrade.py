"""Plugins installed and upgraded under a running Dask worker, with pip, as a deployment does it.

The worker runs with a folder of its own on ``PYTHONPATH``; ``pip install
--target`` installs the plugins' wheels there while it runs. The chains are
built and driven by the command line, which finds its plugins the same way.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import TYPE_CHECKING
from typing import Any

import pytest

from .conftest import clean_env
from .conftest import pip
from .conftest import write_project
from .test_dask import dask_hosts

if TYPE_CHECKING:
    from pathlib import Path

pytestmark = pytest.mark.slow  # builds wheels, and a scheduler and worker of their own

WAIT = 60.0
JOB = """\
from spincycle_jobs import BaseJob, Return, State

class Job(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        return Return(State.COMPLETE, stdout="{text}\\n")
"""


def wheel(tmp_path: Path, wheelhouse: Path, name: str, version: str, text: str) -> Path:
    """Build a plugin distribution ``name`` offering the job type ``name``, whose job prints ``text``."""
    package = name.replace("-", "_")
    files = {
        "plugin.py": f"""\
            from spincycle_jobs import hookimpl

            @hookimpl
            def spincycle_jobs_job_types():
                return {{"{name}": "{package}.job:Job"}}
            """,
        "job.py": JOB.format(text=text),
    }
    project = write_project(tmp_path / "projects", name, version, files, f"{name} = {package}.plugin")
    out = tmp_path / "wheels" / f"{name}-{version}"
    pip("wheel", "--no-deps", "--no-index", "--find-links", wheelhouse, "-w", out, project)
    (built,) = out.glob("*.whl")
    return built


def install(target: Path, built: Path) -> None:
    """``pip install --target``: what a deployment does under the running worker."""
    pip("install", "--no-deps", "--no-index", "--upgrade", "--target", target, built)


def run_chain(
    tmp_path: Path, address: str, driver_path: Path, job_type: str, request_id: str
) -> dict[str, Any]:
    """Build a one-job chain of ``job_type`` and run it on the cluster; return ``chain run --json``.

    :param driver_path: the folder on the command line's ``PYTHONPATH``, where it finds ``job_type``.
    """
    spec = tmp_path / f"{request_id}.toml"
    spec.write_text(f'request_id = "{request_id}"\n[[jobs]]\nid = "only"\ntype = "{job_type}"\nname = "n"\n')
    document = tmp_path / f"{request_id}.json"
    chain: list[str | Path] = [sys.executable, "-m", "spincycle_jobs", "chain"]
    dask = ["--executor", "dask", "--scheduler", address, "--no-store", "--json"]
    env = clean_env(PYTHONPATH=str(driver_path))
    for command in ([*chain, "create", spec, "-o", document], [*chain, "run", "--from", document, *dask]):
        proc = subprocess.run(command, env=env, capture_output=True, text=True, timeout=WAIT, check=False)
        assert proc.returncode in {0, 1}, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def error_of(result: dict[str, Any]) -> str:
    """The error of the last try of the chain's one job."""
    error: str = result["jobs"]["only"]["returns"][-1]["error"]
    return error


def stdout_of(result: dict[str, Any]) -> str:
    """What the last try of the chain's one job printed."""
    stdout: str = result["jobs"]["only"]["returns"][-1]["stdout"]
    return stdout


def test_a_plugin_installed_under_a_running_worker_is_seen_at_its_next_try(
    tmp_path: Path, wheelhouse: Path
) -> None:
    target = tmp_path / "plugins"
    target.mkdir()
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        assert run_chain(tmp_path, hosts.address, target, "noop", "before")["state"] == "COMPLETE"
        install(target, wheel(tmp_path, wheelhouse, "fresh-jobs", "1.0", "fresh"))
        result = run_chain(tmp_path, hosts.address, target, "fresh-jobs", "after")
        assert result["state"] == "COMPLETE", result
        assert stdout_of(result) == "fresh\n"
        assert hosts.worker.poll() is None  # the same worker, never restarted


def test_an_upgraded_plugin_never_runs_its_old_code(tmp_path: Path, wheelhouse: Path) -> None:
    """The upgrade's try fails naming the worker and saying to restart it; a new worker runs the new code."""
    target = tmp_path / "plugins"
    target.mkdir()
    install(target, wheel(tmp_path, wheelhouse, "moving-jobs", "1.0", "old code"))
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        first = run_chain(tmp_path, hosts.address, target, "moving-jobs", "v1")
        assert stdout_of(first) == "old code\n"
        install(target, wheel(tmp_path, wheelhouse, "moving-jobs", "2.0", "new code"))
        second = run_chain(tmp_path, hosts.address, target, "moving-jobs", "v2")
        assert second["state"] == "FAIL"
        error = error_of(second)
        assert re.search(r"cannot run on worker tcp://127\.0\.0\.1:\d+: ", error), error
        assert "changed on disk after this worker imported it" in error
        assert "restart the worker" in error
        assert stdout_of(second) == ""
    (tmp_path / "restarted").mkdir()
    with dask_hosts(tmp_path / "restarted", PYTHONPATH=str(target)) as hosts:
        third = run_chain(tmp_path, hosts.address, target, "moving-jobs", "v2-again")
        assert third["state"] == "COMPLETE", third
        assert stdout_of(third) == "new code\n"


def test_a_type_the_worker_lacks_fails_naming_the_worker(tmp_path: Path, wheelhouse: Path) -> None:
    """Every "here" names where: a type only the driver has fails on the worker, naming its address.

    (The driver's own errors name its host: ``cannot make ... on host 'NAME'``.)
    """
    target, driver_only = tmp_path / "plugins", tmp_path / "driver-only"
    target.mkdir()
    install(driver_only, wheel(tmp_path, wheelhouse, "driver-jobs", "1.0", "nowhere"))
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        result = run_chain(tmp_path, hosts.address, driver_only, "driver-jobs", "lacking")
        assert result["state"] == "FAIL"
        error = error_of(result)
        assert re.search(
            r"cannot make job 'only' \(driver-jobs 'n'\) on worker tcp://127\.0\.0\.1:\d+: ", error
        )
        assert "unknown job type 'driver-jobs'" in error
