"""A Dask worker's plugins, in this process: when its Factory is made anew, and when code is stale.

The tests that install and upgrade real distributions under running worker
processes are in test_dask_upgrade.py.
"""

from __future__ import annotations

import importlib
import json
import socket
import sys
from typing import TYPE_CHECKING
from typing import Any

import pytest

from spincycle_jobs import JobError
from spincycle_jobs import State
from spincycle_jobs import hookimpl
from spincycle_jobs._executor import Outcome
from spincycle_jobs._factory import placed

from .test_dask import try_  # first: test_dask skips without the dask extra

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


from spincycle_jobs import dask as dask_module
from spincycle_jobs.dask import _package
from spincycle_jobs.dask import _Plugins
from spincycle_jobs.dask import try_task

JOB = """\
from spincycle_jobs import BaseJob, Return, State
from {package}.words import WORD

class Job(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        return Return(State.COMPLETE, stdout=WORD)
"""


class Scans:
    """Counts discoveries."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import spincycle_jobs._scan  # noqa: PLC0415 - the module the Factory imports discovery from

        self.count = 0
        real = spincycle_jobs._scan.scan

        def scan(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(spincycle_jobs._scan, "scan", scan)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder at the front of ``sys.path``; the modules imported from it are forgotten after."""
    where = tmp_path / "site"
    where.mkdir()
    monkeypatch.syspath_prepend(str(where))
    yield where
    for name, module in list(sys.modules.items()):
        if str(where) in f"{getattr(module, '__file__', None)} {list(getattr(module, '__path__', []))}":
            del sys.modules[name]


def write_package(site: Path, package: str, word: str) -> None:
    """A package with a job class whose module imports the word it prints."""
    (site / package).mkdir()
    (site / package / "__init__.py").write_text("")
    (site / package / "job.py").write_text(JOB.format(package=package))
    (site / package / "words.py").write_text(f"WORD = {word!r}\n")
    importlib.invalidate_caches()


def offering(package: str, *job_types: str) -> object:
    """An in-process plugin that offers ``job_types``, each made by ``package``'s job class."""

    class Plugin:
        @staticmethod
        @hookimpl
        def spincycle_jobs_job_types() -> dict[str, str]:
            return dict.fromkeys(job_types, f"{package}.job:Job")

    return Plugin


def test_nothing_is_discovered_again_while_nothing_changed(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = _Plugins()
    first = plugins.factory("noop")
    scans = Scans(monkeypatch)
    for _ in range(100):
        assert plugins.factory("noop") is first
    assert scans.count == 0


def test_a_change_in_a_sys_path_folder_makes_a_new_factory(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What an install does to its folder (a new metadata folder) makes a new Factory, which discovers."""
    plugins = _Plugins()
    first = plugins.factory("noop")
    scans = Scans(monkeypatch)
    (site / "fresh_jobs-1.0.dist-info").mkdir()
    second = plugins.factory("noop")
    assert second is not first
    assert plugins.factory("noop") is second
    assert scans.count == 1  # a new Factory never reads the index: it discovers
    monkeypatch.syspath_prepend(str(site / "elsewhere"))
    assert plugins.factory("noop") is not second


def test_a_type_the_factory_does_not_know_is_discovered_again(monkeypatch: pytest.MonkeyPatch) -> None:
    plugins = _Plugins()
    first = plugins.factory("noop")
    scans = Scans(monkeypatch)
    again = plugins.factory("no-such-type")
    assert again is not first
    assert [t.type for t in again.types()] == [t.type for t in first.types()]
    assert scans.count == 1
    assert plugins.factory("noop") is again


def test_a_job_whose_package_changed_on_disk_is_not_made(site: Path) -> None:
    """A module of the job's package changed after this process imported it: make refuses, saying why."""
    write_package(site, "edited_jobs", "before")
    plugins = _Plugins()
    factory = plugins.factory("noop")
    factory.register(offering("edited_jobs", "edited-a", "edited-b"))
    assert factory.make("edited-a", "x").run({}).stdout == "before"
    plugins.code.look()  # as a try does once it made its job
    words = site / "edited_jobs" / "words.py"
    words.write_text("WORD = 'after'\n")  # of another size: seen even where times are coarse
    with pytest.raises(JobError) as caught:
        factory.make("edited-b", "y")
    assert str(caught.value) == (
        "the code of job type 'edited-b' changed on disk after this worker imported it "
        f"(module edited_jobs.words, {words}): restart this process (host {socket.gethostname()!r}) "
        "to run the new code"
    )
    with (
        placed("worker tcp://10.0.0.7:40123"),
        pytest.raises(JobError, match="restart worker tcp://10.0.0.7:40123 "),
    ):
        factory.make("edited-a", "z")


def test_an_unknown_type_says_when_a_plugin_changed_on_disk(site: Path) -> None:
    write_package(site, "grown_jobs", "1.0")
    plugins = _Plugins()
    factory = plugins.factory("noop")
    factory.register(offering("grown_jobs", "grown-a"))
    factory.make("grown-a", "x")
    with pytest.raises(JobError, match="^unknown job type 'grown-b'; did you mean 'grown-a'\\?$"):
        factory.type_info("grown-b")
    (site / "grown_jobs" / "job.py").write_text(JOB.format(package="grown_jobs") + "# 2.0 offers grown-b\n")
    with pytest.raises(JobError) as caught:
        factory.type_info("grown-b")
    assert str(caught.value).startswith(
        "unknown job type 'grown-b'; did you mean 'grown-a'?; "
        "the code of a plugin changed on disk after this worker imported it (module grown_jobs.job, "
    )
    assert str(caught.value).endswith(" to see the job types of its new version")


def test_a_namespace_package_is_checked_by_its_portions(site: Path) -> None:
    """Each portion of a namespace package comes from a distribution of its own: one is checked alone."""
    for portion in ("one", "two"):
        (site / "spaced" / portion).mkdir(parents=True)
        (site / "spaced" / portion / "__init__.py").write_text("")
    importlib.invalidate_caches()
    importlib.import_module("spaced.one")
    assert _package("spaced.one.job.Job") == "spaced.one"
    assert _package("edited_jobs.job.Job") == "edited_jobs"
    assert _package("json.decoder") == "json"


def test_a_try_looks_at_what_its_job_imported(monkeypatch: pytest.MonkeyPatch) -> None:
    """try_task records the modules its job's package brought in, as they were when the try made it."""
    plugins = _Plugins()
    monkeypatch.setattr(dask_module, "_plugins", plugins)
    outcome = Outcome.from_dict(json.loads(try_task(json.dumps(try_("noop", "looked").to_dict()), "key")))
    assert outcome.state == State.COMPLETE
    assert "spincycle_jobs_example" in plugins.code._files
