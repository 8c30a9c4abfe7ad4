"""Every shape of job a plugin author may write, on every path that runs a job.

The shapes are the job types of the distribution in ``tests/shapes``: a
``Job`` written by hand; ``BaseJob`` subclasses that override each of
``create``, ``serialize``, ``deserialize``, ``run``, ``stop`` and ``status``
with the documented signature, calling ``super()``; an
``@attrs.define(slots=False)`` class; nested attrs and datetime fields.
Each reports, from ``run``, what ``create`` gave it, so every cell checks
that the job completed and that the state set in ``create`` reached ``run``.

Two tiers. In this process, with the shapes registered in-process (fast):
``Factory`` + ``Runner``, ``check_job``, a chain on ``ThreadExecutor``, and a
job document read back by the runners' ``make_job``. Then, with the
distribution really built and installed into a venv (slow): the same
in-process paths there, a chain on ``DaskExecutor`` over a ``LocalCluster``
of worker processes, and the command line: ``run``, ``create`` then ``run
--from``, ``chain create`` then ``chain run``.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from spincycle_jobs import Factory
from spincycle_jobs import Runner
from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import dump_document
from spincycle_jobs._document import load_document
from spincycle_jobs._document import make_job

from .conftest import Venv
from .conftest import clean_env
from .conftest import pip

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from types import ModuleType

SHAPES_PROJECT = Path(__file__).resolve().parent / "shapes"
SHAPES = [
    "by-hand",
    "base",
    "create-super",
    "serialize-super",
    "deserialize-super",
    "run-super",
    "stop-super",
    "status-super",
    "unslotted",
    "nested",
]
WHEN = "2024-05-06T07:08:09+02:00"
WAIT = 300.0

Cells = dict[str, dict[str, Any]]


def payload(path: str) -> str:
    """The payload job arg on ``path``: each path has its own, so no result is mistaken for another."""
    return f"from-{path}"


def expected(shape: str, path: str) -> str:
    """What the job of ``shape`` reports from ``run`` when ``create`` got the payload of ``path``."""
    got = payload(path)
    if shape == "create-super":
        return got + "+created"
    if shape == "nested":
        return f"{got}:2222/backup:22@{WHEN}"
    return got


def assert_cell(cells: Cells, shape: str, path: str) -> None:
    """The job of ``shape`` completed on ``path`` and reported what ``create`` got."""
    cell = cells[shape]
    assert (cell["state"], cell["got"]) == ("COMPLETE", expected(shape, path)), cell


class Lazy:
    """Each path's results, computed once, when a test first asks for them."""

    def __init__(self, compute: Callable[[str], Cells]) -> None:
        self._compute = compute
        self._found: dict[str, Cells | BaseException] = {}

    def __call__(self, path: str) -> Cells:
        """Return the results of ``path``, or raise again what computing them raised the first time."""
        if path not in self._found:
            try:
                self._found[path] = self._compute(path)
            except Exception as err:  # noqa: BLE001 - a failed path fails each of its cells, computed once
                self._found[path] = err
        found = self._found[path]
        if isinstance(found, BaseException):
            raise found
        return found


# In this process ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def drive() -> Iterator[ModuleType]:
    """The shapes' package, imported from its source folder (so it is no installed distribution here)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SHAPES_PROJECT))
        yield importlib.import_module("shape_jobs.drive")


def documents(factory: Factory, path: str) -> Cells:
    """Each shape through a job document, read back and made by make_job, then run by a Runner."""
    found: Cells = {}
    for shape in SHAPES:
        try:
            record = JobRecord.create(factory, shape, shape, {"payload": payload(path), "when": WHEN})
            text = dump_document(JOB_FORMAT, record.to_dict())
            read = JobRecord.from_dict(load_document(text, JOB_FORMAT, "doc"), "doc")
            job = make_job(factory, read, "doc", lambda _: None)
            job_data: dict[str, Any] = {}
            result = Runner(job).run(job_data)
        except Exception as err:  # noqa: BLE001 - this cell fails, the others go on
            found[shape] = {"state": "raised", "got": repr(err)}
        else:
            found[shape] = {
                "state": result.state.name,
                "got": job_data.get(shape),
                "returns": repr(result.returns),
            }
    return found


@pytest.fixture(scope="module")
def here(drive: ModuleType) -> Lazy:
    """The results of each path run in this process."""
    plugin = importlib.import_module("shape_jobs.plugin")
    factory = Factory(autoload=False, plugins=[plugin])

    def compute(path: str) -> Cells:
        if path == "document":
            return documents(factory, path)
        cells: Cells = drive.PATHS[path](factory, payload(path))
        return cells

    return Lazy(compute)


def test_the_shapes_are_all_offered(drive: ModuleType) -> None:
    """The matrix covers every type the shapes distribution offers."""
    assert list(drive.TYPES) == SHAPES


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ["runner", "check_job", "thread", "document"])
def test_in_this_process(here: Lazy, path: str, shape: str) -> None:
    """The job of each shape completes on each path, and run gets what create set."""
    assert_cell(here(path), shape, path)


# Installed into a venv ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path) -> Venv:
    """A venv with spincycle-jobs[dask] and the shapes distribution, each installed from a wheel."""
    wheels = tmp_path_factory.mktemp("matrix-wheels")
    for wheel in wheelhouse.iterdir():
        (wheels / wheel.name).symlink_to(wheel)
    distributed = f"distributed=={importlib.metadata.version('distributed')}"
    pip("download", "--only-binary=:all:", "-d", wheels, distributed)
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", wheels, SHAPES_PROJECT)
    venv = Venv(tmp_path_factory.mktemp("matrix") / "venv", wheels)
    venv.install("spincycle-jobs[dask]", "spincycle-jobs-shapes")
    return venv


@pytest.fixture(scope="module")
def there(env: Venv) -> Lazy:
    """The results of each in-process path, run in the venv by a Factory over what is installed there."""

    def compute(path: str) -> Cells:
        cells: Cells = env.run(f"from shape_jobs.drive import drive; drive({path!r}, {payload(path)!r})")
        return cells

    return Lazy(compute)


def cli_all(env: Venv, commands: dict[str, list[str | Path]]) -> dict[str, subprocess.CompletedProcess[str]]:
    """Run the command lines at once, each with ``spincycle-jobs`` of the venv, and wait for them all."""
    procs = {
        key: subprocess.Popen(
            [env.script("spincycle-jobs"), *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=clean_env(),
        )
        for key, args in commands.items()
    }
    done = {}
    try:
        for key, proc in procs.items():
            out, err = proc.communicate(timeout=WAIT)
            done[key] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    finally:
        for proc in procs.values():
            proc.kill()
            proc.communicate()
    return done


def job_args(path: str) -> list[str | Path]:
    return ["-a", f"payload={payload(path)}", "-a", f"when={WHEN}"]


def ran(shape: str, proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The cell of a ``run --json``: the state, and what the job printed that it got (or the error)."""
    if proc.returncode:
        return {"state": f"exit {proc.returncode}", "got": proc.stderr}
    out = json.loads(proc.stdout)
    return {
        "state": out["state"],
        "got": out["returns"][-1]["stdout"].removeprefix(f"{shape} got ").rstrip("\n"),
    }


def command_line(env: Venv, path: str, where: Path) -> Cells:
    """Run every shape on a path of the command line: ``run``, ``run --from`` or ``chain run``."""
    if path == "run":
        procs = cli_all(env, {s: ["run", s, s, *job_args(path), "--json"] for s in SHAPES})
        return {shape: ran(shape, proc) for shape, proc in procs.items()}
    if path == "run --from":
        made = cli_all(env, {s: ["create", s, s, *job_args(path), "-o", where / f"{s}.json"] for s in SHAPES})
        procs = cli_all(env, {s: ["run", "--from", where / f"{s}.json", "--json"] for s in SHAPES})
        return {s: ran(s, made[s] if made[s].returncode else proc) for s, proc in procs.items()}
    spec = where / "shapes.toml"
    spec.write_text(
        'request_id = "shapes"\n'
        + "".join(f'[[jobs]]\nid = "{s}"\ntype = "{s}"\nname = "{s}"\n' for s in SHAPES)
    )
    document = where / "chain.json"
    created = cli_all(env, {"create": ["chain", "create", spec, *job_args(path), "-o", document]})["create"]
    assert created.returncode == 0, created.stderr
    proc = cli_all(env, {"run": ["chain", "run", "--from", document, "--json", "--no-store"]})["run"]
    assert proc.returncode in {0, 1}, proc.stdout + proc.stderr  # 1: a job failed, which its cell shows
    out = json.loads(proc.stdout)
    return {
        s: {"state": job["state"], "got": out["job_data"].get(s), "returns": job["returns"]}
        for s, job in out["jobs"].items()
    }


@pytest.fixture(scope="module")
def commands(env: Venv, tmp_path_factory: pytest.TempPathFactory) -> Lazy:
    """The results of each path of the command line, in the venv."""
    return Lazy(lambda path: command_line(env, path, tmp_path_factory.mktemp("documents")))


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ["runner", "check_job", "thread", "dask"])
def test_installed(there: Lazy, path: str, shape: str) -> None:
    """Installed as a distribution, the job of each shape completes on each path, with what create set."""
    assert_cell(there(path), shape, path)


@pytest.mark.slow
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("path", ["run", "run --from", "chain run"])
def test_command_line(commands: Lazy, path: str, shape: str) -> None:
    """Installed as a distribution, the job of each shape completes on each command, with what create set."""
    assert_cell(commands(path), shape, path)
