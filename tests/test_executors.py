"""Executors by name: their entry-point group, --executor and its options, an executor of another project."""

from __future__ import annotations

import subprocess
import time
from typing import TYPE_CHECKING
from typing import Any

import pytest

from spincycle_jobs import Factory
from spincycle_jobs import State
from spincycle_jobs import ThreadExecutor
from spincycle_jobs._document import JobRecord
from spincycle_jobs._executor import Outcome
from spincycle_jobs._executor import Try
from spincycle_jobs._executors import installed
from spincycle_jobs._executors import load
from spincycle_jobs._executors import name_of
from spincycle_jobs._executors import named
from spincycle_jobs.testing import ConformanceError
from spincycle_jobs.testing import check_executor

from .conftest import ROOT
from .conftest import clean_env
from .conftest import write_project
from .test_chain_cli import cli

if TYPE_CHECKING:
    from pathlib import Path

SPEC = 'request_id = "r"\n[[jobs]]\nid = "a"\ntype = "noop"\nname = "a"\n'


def document(tmp_path: Path) -> Path:
    (tmp_path / "spec.toml").write_text(SPEC)
    out = tmp_path / "chain.json"
    assert cli("chain", "create", tmp_path / "spec.toml", "-o", out).returncode == 0
    return out


def test_ours_are_installed_and_made_by_name() -> None:
    assert installed()[:1] == ["thread"]
    assert "dask" in installed()
    executor = load("thread")(scheduler=None, factory=Factory(), connect_timeout=1.0)
    try:
        assert isinstance(executor, ThreadExecutor)
    finally:
        executor.close()
    with pytest.raises(ValueError, match="--scheduler is for an executor that hands tries elsewhere"):
        load("thread")(scheduler="tcp://127.0.0.1:1", factory=Factory(), connect_timeout=1.0)
    with pytest.raises(LookupError, match=r"no executor 'nope' is installed \(installed: thread, dask"):
        load("nope")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--executor", "nope"], "--executor nope: no executor 'nope' is installed (installed: thread, dask"),
        (["--executor", "dask"], "--executor dask needs --scheduler ADDRESS"),
        (["--scheduler", "tcp://127.0.0.1:1"], "--scheduler is for an executor that hands tries elsewhere"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:notaport"], "invalid Dask scheduler address"),
        (["--executor", "dask", "--scheduler", "nonsense://x:1"], "invalid Dask scheduler address"),
        (["--executor", "dask", "--scheduler", "tcp://127.0.0.1:99999"], "port 99999 is not from 1 to 65535"),
    ],
)
def test_bad_executor_options_exit_2_at_once(tmp_path: Path, args: list[str], fragment: str) -> None:
    started = time.monotonic()
    proc = cli("chain", "run", "--from", document(tmp_path), "--no-store", *args)
    assert proc.returncode == 2
    assert fragment in proc.stderr
    assert proc.stderr.count("\n") == 1, proc.stderr
    assert time.monotonic() - started < 20


def test_an_unreachable_scheduler_fails_within_the_connect_timeout(tmp_path: Path) -> None:
    """Nothing listens on port 1: one line, after about --connect-timeout seconds."""
    args = ["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "1"]
    proc = cli("chain", "run", "--from", document(tmp_path), "--no-store", *args)
    assert proc.returncode == 2
    assert proc.stderr.startswith(
        "spincycle-jobs: error: cannot connect to the Dask scheduler at 'tcp://127.0.0.1:1'"
    )
    assert proc.stderr.count("\n") == 1, proc.stderr


@pytest.mark.slow
def test_an_executor_from_another_distribution(make_venv: Any, tmp_path: Path) -> None:
    """A distribution's entry point in spincycle_jobs.executors: listed by --help, and runs a chain."""
    maker = """\
        from spincycle_jobs import ThreadExecutor

        def make(*, scheduler, factory, connect_timeout):
            print("inline executor made", flush=True)
            return ThreadExecutor(factory)
        """
    project = write_project(tmp_path, "inline-exec", "1.0", {"make.py": maker})
    pyproject = project / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text()
        + '[project.entry-points."spincycle_jobs.executors"]\ninline = "inline_exec.make:make"\n'
    )
    venv = make_venv()
    venv.install(ROOT, ROOT / "plugins_example", project)
    spincycle = venv.script("spincycle-jobs")

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [spincycle, *args], capture_output=True, text=True, env=clean_env(), check=False
        )

    assert "an installed executor (thread, dask, inline)" in " ".join(
        run("chain", "run", "--help").stdout.split()
    )
    assert (
        run("chain", "create", tmp_path / "spec.toml", "-o", tmp_path / "c.json").returncode == 2
    )  # no spec yet
    (tmp_path / "spec.toml").write_text(SPEC)
    assert run("chain", "create", tmp_path / "spec.toml", "-o", tmp_path / "c.json").returncode == 0
    ran = run("chain", "run", "--from", tmp_path / "c.json", "--no-store", "--executor", "inline")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("inline executor made\n")
    no_dask = run(
        "chain",
        "run",
        "--from",
        tmp_path / "c.json",
        "--no-store",
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:1",
    )
    assert no_dask.returncode == 2
    assert "--executor dask cannot be loaded (pip install 'spincycle-jobs[dask]')" in no_dask.stderr


def test_the_thread_executor_conforms() -> None:
    factory = Factory()
    check_executor(lambda: ThreadExecutor(factory), factory)


def test_the_suite_catches_an_executor_that_breaks_a_rule() -> None:
    """An executor whose close() leaves running tries unreported fails the suite, naming the rule."""

    factory = Factory()

    made: list[ThreadExecutor] = []

    class Forgetful:
        def __init__(self) -> None:
            self.inner = ThreadExecutor(factory)
            made.append(self.inner)

        def start(self, try_: Any, done: Any) -> None:
            self.inner.start(try_, done)

        def stop(self, try_: Any) -> None:
            self.inner.stop(try_)

        def status(self, try_: Any) -> str:
            return self.inner.status(try_)

        def close(self) -> None:
            """Breaks the rule: tries left running are never reported."""

    try:
        with pytest.raises(ConformanceError, match="close\\(\\) ends the tries left FAIL at once"):
            check_executor(Forgetful, factory, timeout=2.0)
    finally:
        for inner in made:
            inner.close()  # stops the job the suite left running


def test_close_stops_the_jobs_of_the_tries_left() -> None:
    """ThreadExecutor.close(): the running job is asked to stop, and its thread is free again."""
    factory = Factory()
    executor = ThreadExecutor(factory)
    ends: list[Outcome] = []
    sleep = Try("r", "s", JobRecord.create(factory, "sleep", "s", {"duration": 600}), {}, 1)
    executor.start(sleep, lambda _try, outcome: ends.append(outcome))
    deadline = time.monotonic() + 30
    while not executor.status(sleep):
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.01)
    executor.close()
    assert [o.state for o in ends] == [State.FAIL]
    while executor._running.jobs():  # the sleeping job returns once stopped
        assert time.monotonic() < deadline, "the job was not stopped"
        time.sleep(0.01)
    assert len(ends) == 1


class _Elsewhere:
    """An executor-shaped class of no entry point."""


def test_the_store_names_an_executor_by_its_entry_point() -> None:
    thread = ThreadExecutor()
    try:
        assert name_of(thread) == "thread"
        named(thread, "inline")
        assert name_of(thread) == "inline"
    finally:
        thread.close()
    assert name_of(_Elsewhere()) == "_Elsewhere"  # type: ignore[arg-type]
