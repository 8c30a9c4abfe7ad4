"""Plugins installed and upgraded under a running Dask worker, with pip, as a deployment does it.

The worker runs with a folder of its own on ``PYTHONPATH``; ``pip install
--target`` installs the plugins' wheels there while it runs. The chains are
built and driven by the command line, which finds its plugins the same way.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from .conftest import clean_env
from .conftest import pip
from .conftest import write_project
from .test_dask import dask_hosts
from .test_dask import distributed

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


def worker_address(address: str) -> str:
    """The address of the one worker of the scheduler at ``address``."""
    with distributed.Client(address, timeout=WAIT, set_as_default=False) as client:
        (worker,) = client.scheduler_info()["workers"]
    return str(worker)


def restart_error(result: dict[str, Any], worker: str, job_type: str, module: str) -> str:
    """Check that the one try failed saying a ``module...`` of ``job_type`` changed, to restart ``worker``."""
    assert result["state"] == "FAIL", result
    assert stdout_of(result) == ""
    error = error_of(result)
    assert error.startswith(f"cannot make job 'only' ({job_type} 'n') on worker {worker}: JobError: "), error
    assert f"changed on disk after this worker imported it (module {module}" in error, error
    assert f"restart worker {worker} " in error, error
    return error


def test_a_plugin_installed_under_a_running_worker_is_seen_at_its_next_try(
    tmp_path: Path, wheelhouse: Path
) -> None:
    """Before the install, the type is unknown on the worker, which the error names; after it, it runs."""
    target, driver = tmp_path / "plugins", tmp_path / "driver"
    target.mkdir()
    built = wheel(tmp_path, wheelhouse, "fresh-jobs", "1.0", "fresh")
    install(driver, built)
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        worker = worker_address(hosts.address)
        assert run_chain(tmp_path, hosts.address, target, "noop", "before")["state"] == "COMPLETE"
        lacking = run_chain(tmp_path, hosts.address, driver, "fresh-jobs", "lacking")
        assert lacking["state"] == "FAIL"
        assert error_of(lacking).startswith(
            f"cannot make job 'only' (fresh-jobs 'n') on worker {worker}: "
            "UnknownJobTypeError: unknown job type 'fresh-jobs'"
        ), error_of(lacking)
        install(target, built)
        result = run_chain(tmp_path, hosts.address, target, "fresh-jobs", "after")
        assert result["state"] == "COMPLETE", result
        assert stdout_of(result) == "fresh\n"
        assert hosts.worker.poll() is None  # the same worker, never restarted
        assert worker_address(hosts.address) == worker


def test_an_upgraded_plugin_never_runs_its_old_code(tmp_path: Path, wheelhouse: Path) -> None:
    """The upgrade's try fails naming the worker and saying to restart it; a new worker runs the new code."""
    target = tmp_path / "plugins"
    target.mkdir()
    install(target, wheel(tmp_path, wheelhouse, "moving-jobs", "1.0", "old code"))
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        worker = worker_address(hosts.address)
        first = run_chain(tmp_path, hosts.address, target, "moving-jobs", "v1")
        assert stdout_of(first) == "old code\n"
        install(target, wheel(tmp_path, wheelhouse, "moving-jobs", "2.0", "new code"))
        for request_id in ("v2", "v2-retried"):  # and at every try after, until the worker restarts
            second = run_chain(tmp_path, hosts.address, target, "moving-jobs", request_id)
            error = restart_error(second, worker, "moving-jobs", "moving_jobs.")
            assert error.endswith(" to run the new code"), error
    (tmp_path / "restarted").mkdir()
    with dask_hosts(tmp_path / "restarted", PYTHONPATH=str(target)) as hosts:
        third = run_chain(tmp_path, hosts.address, target, "moving-jobs", "v2-again")
        assert third["state"] == "COMPLETE", third
        assert stdout_of(third) == "new code\n"


TWIN_PLUGIN = """\
from spincycle_jobs import hookimpl
from twin_jobs import jobs

@hookimpl
def spincycle_jobs_job_types():
    return {types}
"""
TWIN_JOBS = """\
from spincycle_jobs import BaseJob, Return, State
from twin_jobs.words import WORD

class Job(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        return Return(State.COMPLETE, stdout=self.type() + " " + WORD + "\\n")
"""


def twins(tmp_path: Path, wheelhouse: Path, version: str, types: list[str]) -> Path:
    """Build ``twin-jobs``: its hook imports its job class, whose module imports the word it prints."""
    files = {
        "plugin.py": TWIN_PLUGIN.format(types=dict.fromkeys(types, "twin_jobs.jobs:Job")),
        "jobs.py": TWIN_JOBS,
        "words.py": f"WORD = {version!r}\n",
    }
    project = write_project(tmp_path / "projects", "twin-jobs", version, files, "twin = twin_jobs.plugin")
    out = tmp_path / "wheels" / f"twin-jobs-{version}"
    pip("wheel", "--no-deps", "--no-index", "--find-links", wheelhouse, "-w", out, project)
    (built,) = out.glob("*.whl")
    return built


def written_since(when: float) -> list[Path]:
    """The index files written since ``when`` that offer ``twin-b`` but not ``twin-c``."""
    found = []
    for path in Path(os.environ["SPINCYCLE_JOBS_CACHE_DIR"]).glob("index-*.json"):
        text = path.read_text()
        if path.stat().st_mtime >= when and '"twin-b"' in text and '"twin-c"' not in text:
            found.append(path)
    return found


def test_every_imported_module_of_an_upgraded_plugin_counts(tmp_path: Path, wheelhouse: Path) -> None:
    """A type never run on the worker, whose module discovery imported, fails too; so does a new type.

    2.0 changes a module the job's module imports, and adds a type: the
    worker, which runs 1.0's hook, says to restart it rather than that the
    type is unknown. A worker started after the upgrade runs both, from
    2.0's code: the running worker never wrote what its old code offers
    into the index a new process reads.
    """
    target = tmp_path / "plugins"
    target.mkdir()
    install(target, twins(tmp_path, wheelhouse, "1.0", ["twin-a", "twin-b"]))
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        worker = worker_address(hosts.address)
        assert stdout_of(run_chain(tmp_path, hosts.address, target, "twin-a", "a1")) == "twin-a 1.0\n"
        upgraded = time.time()
        install(target, twins(tmp_path, wheelhouse, "2.0", ["twin-a", "twin-b", "twin-c"]))
        restart_error(
            run_chain(tmp_path, hosts.address, target, "twin-b", "b2"), worker, "twin-b", "twin_jobs."
        )
        added = run_chain(tmp_path, hosts.address, target, "twin-c", "c2")
        assert added["state"] == "FAIL", added
        error = error_of(added)
        assert error.startswith(f"cannot make job 'only' (twin-c 'n') on worker {worker}: JobError: "), error
        assert "JobError: unknown job type 'twin-c'; " in error, error
        assert (
            "; the code of a plugin changed on disk after this worker imported it (module twin_jobs." in error
        )
        assert f"restart worker {worker} to see the job types of its new version" in error
        assert written_since(upgraded) == [], "an index of 1.0's types, with 2.0's stamps"
    (tmp_path / "restarted").mkdir()
    with dask_hosts(tmp_path / "restarted", PYTHONPATH=str(target)) as hosts:
        for job_type in ("twin-c", "twin-b"):
            result = run_chain(tmp_path, hosts.address, target, job_type, f"{job_type}-restarted")
            assert result["state"] == "COMPLETE", result
            assert stdout_of(result) == f"{job_type} 2.0\n"


def test_a_module_edited_under_a_running_worker_fails_the_next_try(tmp_path: Path, wheelhouse: Path) -> None:
    """An edit in place, no install: the next try of a job whose module imports the edited one fails."""
    target = tmp_path / "plugins"
    target.mkdir()
    install(target, twins(tmp_path, wheelhouse, "1.0", ["twin-a"]))
    with dask_hosts(tmp_path, PYTHONPATH=str(target)) as hosts:
        worker = worker_address(hosts.address)
        assert stdout_of(run_chain(tmp_path, hosts.address, target, "twin-a", "before")) == "twin-a 1.0\n"
        words = target / "twin_jobs" / "words.py"
        words.write_text("WORD = 'edited'\n")
        error = restart_error(
            run_chain(tmp_path, hosts.address, target, "twin-a", "after"), worker, "twin-a", ""
        )
        assert f"(module twin_jobs.words, {words}): restart worker {worker} to run the new code" in error
