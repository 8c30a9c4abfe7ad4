"""ChainRunner with a run store: every event recorded as it happens, resume, stop from elsewhere, failures."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainError
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import Return
from spincycle_jobs import RunExistsError
from spincycle_jobs import RunNotFoundError
from spincycle_jobs import State
from spincycle_jobs import Store
from spincycle_jobs import StoreError
from spincycle_jobs import hookimpl
from spincycle_jobs import open_store

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from spincycle_jobs import Chain
    from spincycle_jobs import LogEntry
    from spincycle_jobs import Owner

WAIT = 30.0  # a wait this long means a hang, never a slow machine
MARKS: dict[str, threading.Event] = {}


@attrs.define
class Probe(BaseJob):
    """A job steered by its args: ``raise`` raises; ``fail_once`` fails its first try;
    ``block`` sets status "blocking" and waits for stop; else it adds its name to job data."""

    mode: str = ""
    marker: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.mode = str(job_args.get("modes", {}).get(self.name(), ""))
        self.marker = str(job_args.get("marker", ""))

    def run(self, job_data: dict[str, Any]) -> Return:
        if self.mode == "raise":
            msg = f"{self.name()} broke"
            raise RuntimeError(msg)
        if self.mode == "fail_once" and not os.path.exists(self.marker):  # noqa: PTH110
            open(self.marker, "w").close()  # noqa: PTH123
            return Return(State.FAIL, exit=3, stderr="first try fails\n")
        if self.mode == "block":
            self.set_status("blocking")
            MARKS.setdefault(self.name(), threading.Event()).set()
            self.wait(WAIT)
            return Return(State.STOPPED if self.stopped else State.COMPLETE)
        job_data[self.name()] = True
        return Return(State.COMPLETE, stdout=f"{self.name()} ran\n")


class ProbePlugin:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"probe": Probe}


@pytest.fixture
def factory() -> Factory:
    return Factory(autoload=False, plugins=[ProbePlugin])


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(f"sqlite:///{tmp_path / 'state' / 'runs.sqlite3'}") as opened:
        yield opened


def build(factory: Factory, graph: dict[str, list[str]], request_id: str = "req", **args: Any) -> Chain:
    builder = ChainBuilder(request_id, args, factory=factory)
    for job_id, after in graph.items():
        builder.job(job_id, "probe", job_id, after=after, retry=1)
    return builder.build()


class TestRecording:
    def test_a_run_and_each_try_are_recorded(self, factory: Factory, store: Store) -> None:
        """The run, its jobs and a log entry per try: times, states, host, pid, error type, traceback."""
        chain = build(factory, {"a": [], "b": ["a"], "c": ["a"]}, modes={"c": "raise"})
        result = ChainRunner(chain, factory=factory, store=store).run({"start": 1})
        assert result.state == State.FAIL
        run = store.run("req")
        assert (run.state, run.jobs_total, run.jobs_finished, run.drive) == (State.FAIL, 3, 3, 1)
        assert (run.host, run.pid, run.executor, run.lost) == (
            socket.gethostname(),
            os.getpid(),
            "thread",
            False,
        )
        assert run.started is not None
        assert run.finished is not None
        assert run.finished >= run.started
        jobs = {job.job_id: job for job in store.jobs("req")}
        assert {k: (j.state, j.tries) for k, j in jobs.items()} == {
            "a": (State.COMPLETE, 1),
            "b": (State.COMPLETE, 1),
            "c": (State.FAIL, 2),
        }
        log = store.log("req", "c")
        assert [(e.try_number, e.state, e.error_type) for e in log] == [
            (1, State.FAIL, "RuntimeError"),
            (2, State.FAIL, "RuntimeError"),
        ]
        assert log[0].traceback is not None
        assert "RuntimeError: c broke" in log[0].traceback
        assert (log[0].host, log[0].pid) == (socket.gethostname(), os.getpid())
        assert log[0].finished is not None
        assert log[0].finished >= log[0].started
        (a_entry,) = store.log("req", "a")
        assert (a_entry.stdout, a_entry.state) == ("a ran\n", State.COMPLETE)
        assert store.job_data("req") == {"start": 1}

    def test_the_result_carries_the_traceback_of_a_try_that_raised(self, factory: Factory) -> None:
        """A try that raised: its Return's error names the job and carries the traceback."""
        result = ChainRunner(build(factory, {"a": []}, modes={"a": "raise"}), factory=factory).run()
        error = result.jobs["a"].returns[0].error
        assert isinstance(error, ChainError)
        assert error.job_id == "a"
        assert error.traceback is not None
        assert "RuntimeError: a broke" in error.traceback

    def test_a_request_id_is_one_run(self, factory: Factory, store: Store) -> None:
        """Running a chain whose request id the store holds is refused before any job starts."""
        chain = build(factory, {"a": []})
        ChainRunner(chain, factory=factory, store=store).run()
        with pytest.raises(RunExistsError, match="chain resume req"):
            ChainRunner(chain, factory=factory, store=store).run()
        assert len(store.log("req")) == 1


class TestResume:
    def test_resume_skips_completed_jobs_and_ends_as_an_uninterrupted_run(
        self, factory: Factory, store: Store, tmp_path: Path
    ) -> None:
        """A failed run resumed from the store: completed jobs do not run again; same final job data."""
        marker = str(tmp_path / "failed-once")
        graph = {"a": [], "b": ["a"], "c": ["b"]}
        chain = build(factory, graph, modes={"b": "fail_once"}, marker=marker)
        builder = ChainBuilder("req", {"modes": {"b": "fail_once"}, "marker": marker}, factory=factory)
        for job_id, after in graph.items():
            builder.job(job_id, "probe", job_id, after=after)  # no retry: b fails the first run
        first = ChainRunner(builder.build(), factory=factory, store=store).run({"start": 1})
        assert first.state == State.FAIL
        resumed = ChainRunner.resume(store, "req", factory=factory).run()
        assert resumed.state == State.COMPLETE
        assert resumed.jobs["a"].tries == 0  # done before
        assert resumed.job_data == ChainRunner(chain, factory=factory).run({"start": 1}).job_data
        assert store.run("req").drive == 2
        assert [(e.job_id, e.drive) for e in store.log("req", "a")] == [("a", 1)]


class TestOperating:
    def test_stop_from_the_store_stops_the_run(self, factory: Factory, store: Store, tmp_path: Path) -> None:
        """chain stop's request, written through another connection, is seen at the next heartbeat."""
        chain = build(factory, {"a": [], "b": ["a"]}, modes={"a": "block"})
        MARKS["a"] = threading.Event()
        runner = ChainRunner(chain, factory=factory, store=store)
        results: list[Any] = []
        thread = threading.Thread(target=lambda: results.append(runner.run()))
        thread.start()
        assert MARKS["a"].wait(WAIT)
        with open_store(store.url) as other:
            other.request_stop("req")
        thread.join(WAIT)
        assert results[0].state == State.STOPPED
        assert store.run("req").state == State.STOPPED
        assert store.jobs("req")[1].state == State.PENDING

    def test_running_jobs_status_is_sampled_into_the_store(self, factory: Factory, store: Store) -> None:
        """A running job's status() reaches the store within a few seconds."""
        chain = build(factory, {"a": []}, modes={"a": "block"})
        MARKS["a"] = threading.Event()
        runner = ChainRunner(chain, factory=factory, store=store)
        thread = threading.Thread(target=runner.run)
        thread.start()
        try:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                with contextlib.suppress(RunNotFoundError):  # until the runner has recorded the run
                    if store.jobs("req")[0].status == "blocking":
                        break
                time.sleep(0.1)
            (job,) = store.jobs("req")
            assert (job.state, job.status) == (State.RUNNING, "blocking")
            assert [run.request_id for run in store.running()] == ["req"]
        finally:
            runner.stop()
            thread.join(WAIT)


def test_a_failed_write_stops_the_run_and_is_raised(factory: Factory, store: Store) -> None:
    """A job's end that cannot be recorded: the chain stops, nothing after it starts, run() raises."""
    from spincycle_jobs._store._sqlite import SQLiteStore  # noqa: PLC0415

    class Failing(SQLiteStore):
        """A store whose ``try_ended`` fails for job b, as a database gone away would."""

        def try_ended(self, owner: Owner, entry: LogEntry, **kwargs: Any) -> None:
            if entry.job_id == "b":
                msg = "the run store went away"
                raise StoreError(msg)
            super().try_ended(owner, entry, **kwargs)

    chain = build(factory, {"a": [], "b": ["a"], "c": ["b"]})
    with Failing(store.url) as failing, pytest.raises(StoreError, match="went away"):
        ChainRunner(chain, factory=factory, store=failing).run()
    states = {job.job_id: job.state for job in store.jobs("req")}
    assert states["a"] == State.COMPLETE
    assert states["b"] != State.COMPLETE
    assert states["c"] == State.PENDING
