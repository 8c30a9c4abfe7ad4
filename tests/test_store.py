"""The run store on real SQLite files and a real PostgreSQL server: its contract, reliability, security."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
import traceback
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import LeaseLostError
from spincycle_jobs import LogEntry
from spincycle_jobs import Owner
from spincycle_jobs import Return
from spincycle_jobs import RunBusyError
from spincycle_jobs import RunExistsError
from spincycle_jobs import RunNotFoundError
from spincycle_jobs import SchemaVersionError
from spincycle_jobs import State
from spincycle_jobs import StoreError
from spincycle_jobs import WireError
from spincycle_jobs import hookimpl
from spincycle_jobs import open_store
from spincycle_jobs._store import LOST_AFTER
from spincycle_jobs._store import SCHEMA_VERSION
from spincycle_jobs._store._sql import SQLStore

from .conftest import clean_env
from .pg import PASSWORD

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from pathlib import Path

    from spincycle_jobs import Chain
    from spincycle_jobs import Store

    from .pg import PostgresServer

WAIT = 30.0  # a wait this long means a hang, never a slow machine
#: The gate job: set once it runs, and what it waits for.
STARTED, OPEN = threading.Event(), threading.Event()


@attrs.define
class Gate(BaseJob):
    """Adds its name to the job data; the job named by job arg ``gate`` first waits for the test's OPEN."""

    gate: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.gate = str(job_args.get("gate", ""))

    def run(self, job_data: dict[str, Any]) -> Return:
        if self.name() == self.gate:
            STARTED.set()
            OPEN.wait(WAIT)  # and completes even when stopped meanwhile: it did its work
        job_data[self.name()] = True
        return Return(State.COMPLETE, stdout=f"{self.name()} ran\n")


class GatePlugin:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"gate": Gate}


@pytest.fixture
def factory() -> Factory:
    return Factory(autoload=False, plugins=[GatePlugin])


def build(factory: Factory, graph: dict[str, list[str]], request_id: str = "req", **args: Any) -> Chain:
    builder = ChainBuilder(request_id, args, factory=factory)
    for job_id, after in graph.items():
        builder.job(job_id, "gate", job_id, after=after, retry=1)
    return builder.build()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a new, empty store: a SQLite file, or a fresh database of the test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state' / 'runs.sqlite3'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        with server.database() as url:
            yield url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as opened:
        yield opened


@pytest.fixture
def other(store: Store, store_url: str) -> Iterator[Store]:
    """A second store object on the same store: another connection, as another process has."""
    with open_store(store_url) as opened:
        yield opened


@contextlib.contextmanager
def raw(url: str) -> Iterator[Callable[..., list[Any]]]:
    """A connection to the store's database of its own, past the store: ``sql(statement, params=())``."""
    if url.startswith("sqlite:"):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            yield lambda statement, params=(): lite.execute(statement, params).fetchall()
        finally:
            lite.close()
        return
    import psycopg  # noqa: PLC0415 - only for PostgreSQL

    with psycopg.connect(url, autocommit=True) as conn:

        def sql(statement: str, params: tuple[Any, ...] = ()) -> list[Any]:
            cursor = conn.execute(statement.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []

        yield sql


def entry(job_id: str, try_number: int = 1, drive: int = 1, **fields: Any) -> LogEntry:
    return LogEntry("req", job_id, drive, try_number, "gate", job_id, time.time(), **fields)


def ended(start: LogEntry, state: State = State.COMPLETE, **fields: Any) -> LogEntry:
    return attrs.evolve(start, finished=time.time(), state=state, **fields)


def other_host(token: str = "t") -> Owner:  # noqa: S107 - a lease token
    """A driver on another host, whose process this host cannot see."""
    return Owner("elsewhere.example", 4242, token)


def age(url: str, seconds: float, request_id: str = "req") -> None:
    """Move the run's last heartbeat ``seconds`` into the past."""
    with raw(url) as sql:
        sql("UPDATE spincycle_runs SET heartbeat = heartbeat - ? WHERE request_id = ?", (seconds, request_id))


def dead_pid() -> int:
    """The id of a process of this host that has ended (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", ""])
    proc.wait()
    return proc.pid


class TestCreate:
    def test_a_new_run_is_pending_with_its_jobs_and_job_data(self, factory: Factory, store: Store) -> None:
        """create_run records the run PENDING, never driven, its jobs in the chain's order, its job data."""
        chain = build(factory, {"a": [], "b": ["a"], "c": ["a"]})
        run = store.create_run(chain, {"start": [1, "x"]}, executor="thread")
        assert (run.request_id, run.state, run.drive, run.host, run.pid, run.executor) == (
            "req",
            State.PENDING,
            0,
            "",
            0,
            "thread",
        )
        assert (run.jobs_total, run.jobs_finished, run.started, run.finished, run.lost) == (
            3,
            0,
            None,
            None,
            False,
        )
        jobs = store.jobs("req")
        assert [(j.job_id, j.type, j.name, j.after, j.state, j.tries) for j in jobs] == [
            ("a", "gate", "a", (), State.PENDING, 0),
            ("b", "gate", "b", ("a",), State.PENDING, 0),
            ("c", "gate", "c", ("a",), State.PENDING, 0),
        ]
        assert store.job_data("req") == {"start": [1, "x"]}

    def test_a_request_id_is_one_run(self, factory: Factory, store: Store) -> None:
        """A second create_run of the request id is refused, saying how to resume it."""
        chain = build(factory, {"a": []})
        store.create_run(chain, {}, executor="thread")
        with pytest.raises(RunExistsError, match=r"chain resume req") as err:
            store.create_run(chain, {}, executor="thread")
        assert err.value.request_id == "req"

    def test_the_chain_round_trips(self, factory: Factory, store: Store) -> None:
        """chain() gives back the chain recorded: graph, options, records, and a document's COMPLETE jobs."""
        chain = build(factory, {"a": [], "b": ["a"], "c": ["b", "a"]}, gate="none")
        done = attrs.evolve(chain.jobs["a"], state=State.COMPLETE, tries=2, job_data={"a": True}, finished=1)
        chain = attrs.evolve(chain, jobs={**chain.jobs, "a": done})
        store.create_run(chain, {}, executor="thread")
        assert store.chain("req") == chain
        assert store.run("req").jobs_finished == 1

    def test_a_run_s_progress_shows_in_its_chain(self, factory: Factory, store: Store) -> None:
        """A job that completed in a drive comes back COMPLETE with its tries, job data and place."""
        store.create_run(build(factory, {"a": [], "b": ["a"]}), {}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        first = entry("a")
        store.try_started(owner, first)
        store.try_ended(owner, ended(first, State.FAIL, error="E: no"))
        second = entry("a", 2)
        store.try_started(owner, second)
        store.try_ended(owner, ended(second), job_state=State.COMPLETE, job_data={"a": 1}, finished=1)
        a, b = store.chain("req").jobs.values()
        assert (a.state, a.tries, a.job_data, a.finished, a.error) == (State.COMPLETE, 2, {"a": 1}, 1, None)
        assert (b.state, b.tries, b.job_data) == (State.PENDING, 0, None)


class TestLease:
    def test_claim_drives_the_run_and_counts_drives(self, factory: Factory, store: Store) -> None:
        """Each claim is one more drive, RUNNING, with the owner's host and pid and a fresh heartbeat."""
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        owner = Owner.here()
        run = store.claim("req", owner, executor="dask")
        assert (run.state, run.drive, run.host, run.pid, run.executor, run.lost) == (
            State.RUNNING,
            1,
            socket.gethostname(),
            os.getpid(),
            "dask",
            False,
        )
        assert run.heartbeat is not None
        assert run.started is not None
        store.finish_run(owner, "req", State.FAIL)
        assert store.run("req").finished is not None
        again = store.claim("req", Owner.here(), executor="thread")
        assert (again.drive, again.state, again.finished, again.started) == (
            2,
            State.RUNNING,
            None,
            run.started,
        )

    def test_a_live_run_is_refused_naming_its_driver(
        self, factory: Factory, store: Store, other: Store
    ) -> None:
        """While its driver heartbeats, a run cannot be claimed: the error names host and pid."""
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        store.claim("req", other_host(), executor="thread")
        with pytest.raises(RunBusyError, match=r"process 4242 on host 'elsewhere.example'") as err:
            other.claim("req", Owner.here(), executor="thread")
        assert (err.value.request_id, err.value.host, err.value.pid) == ("req", "elsewhere.example", 4242)
        assert store.run("req").drive == 1

    def test_a_complete_run_is_not_claimed(self, factory: Factory, store: Store) -> None:
        """A run that ended COMPLETE has nothing left to run."""
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        store.finish_run(owner, "req", State.COMPLETE)
        with pytest.raises(StoreError, match=r"run 'req' is COMPLETE"):
            store.claim("req", Owner.here(), executor="thread")

    @pytest.mark.parametrize("how", ["no heartbeat for LOST_AFTER", "its pid is dead on this host"])
    def test_a_lost_run_is_claimed_and_its_tries_end_as_fail(
        self, how: str, factory: Factory, store: Store, store_url: str
    ) -> None:
        """A lost driver's RUNNING log entries end FAIL; its jobs not COMPLETE go back to PENDING."""
        store.create_run(build(factory, {"a": [], "b": [], "c": ["a", "b"]}), {}, executor="thread")
        if how.startswith("no heartbeat"):
            gone = other_host()
        else:
            gone = Owner(socket.gethostname(), dead_pid(), "t")
        store.claim("req", gone, executor="thread")
        a, b = entry("a"), entry("b")
        store.try_started(gone, a)
        store.try_started(gone, b)
        store.try_ended(gone, ended(b), job_state=State.COMPLETE, job_data={"b": True}, finished=1)
        if how.startswith("no heartbeat"):
            assert not store.run("req").lost
            age(store_url, LOST_AFTER + 1)
        assert store.run("req").lost
        assert [run.request_id for run in store.running()] == ["req"]

        run = store.claim("req", Owner.here(), executor="thread")
        assert (run.state, run.drive, run.jobs_finished, run.lost, run.pid) == (
            State.RUNNING,
            2,
            1,
            False,
            os.getpid(),
        )
        (lost,) = store.log("req", "a")
        assert (lost.state, lost.exit, lost.drive) == (State.FAIL, 1, 1)
        assert lost.finished is not None
        assert lost.error == f"LostError: its driver, process {gone.pid} on host {gone.host!r}, was lost"
        assert store.log("req", "b")[0].state == State.COMPLETE
        assert [(j.job_id, j.state, j.tries) for j in store.jobs("req")] == [
            ("a", State.PENDING, 0),
            ("b", State.COMPLETE, 1),
            ("c", State.PENDING, 0),
        ]

    def test_heartbeat_says_when_a_stop_was_asked(self, factory: Factory, store: Store, other: Store) -> None:
        """heartbeat returns True once request_stop (from another connection) asked; a new drive clears it."""
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        assert store.heartbeat("req", owner) is False
        assert other.request_stop("req").stop_requested
        assert store.heartbeat("req", owner) is True
        store.finish_run(owner, "req", State.STOPPED)
        again = Owner.here()
        assert not store.claim("req", again, executor="thread").stop_requested
        assert store.heartbeat("req", again) is False

    def test_a_driver_whose_lease_was_taken_writes_nothing(
        self, factory: Factory, store: Store, other: Store, store_url: str
    ) -> None:
        """Once another process took a lost run over, every write of the old driver raises LeaseLostError."""
        store.create_run(build(factory, {"a": [], "b": []}), {}, executor="thread")
        old = other_host("old")
        store.claim("req", old, executor="thread")
        started = entry("a")
        store.try_started(old, started)
        age(store_url, LOST_AFTER + 1)
        new = Owner.here()
        other.claim("req", new, executor="thread")
        writes: list[Callable[[], object]] = [
            lambda: store.heartbeat("req", old),
            lambda: store.try_started(old, entry("b")),
            lambda: store.try_ended(old, ended(started), job_state=State.COMPLETE, job_data={}, finished=1),
            lambda: store.job_ended(old, "req", "b", State.FAIL, "E: x"),
            lambda: store.save_statuses(old, "req", {"a": "busy"}),
            lambda: store.finish_run(old, "req", State.COMPLETE),
        ]
        for write in writes:
            with pytest.raises(LeaseLostError, match=r"run 'req': this process no longer drives it"):
                write()
        run = other.run("req")
        assert (run.state, run.pid, run.jobs_finished) == (State.RUNNING, os.getpid(), 0)
        assert [(j.state, j.tries, j.status) for j in other.jobs("req")] == [(State.PENDING, 0, "")] * 2
        assert [e.state for e in other.log("req")] == [State.FAIL]  # the old try, ended by the claim
        assert other.heartbeat("req", new) is False


class TestVisibility:
    def test_each_write_is_seen_by_another_connection(
        self, factory: Factory, store: Store, other: Store
    ) -> None:
        """try_started, save_statuses, try_ended, job_ended and finish_run are committed as they return."""
        store.create_run(build(factory, {"a": [], "b": [], "c": ["a"]}), {"x": 1}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        a = entry("a")
        store.try_started(owner, a)
        job = other.jobs("req")[0]
        assert (job.state, job.tries, job.started) == (State.RUNNING, 1, a.started)
        assert [(e.job_id, e.state) for e in other.log("req")] == [("a", State.RUNNING)]

        store.save_statuses(owner, "req", {"a": "half way", "b": "not running: not saved"})
        a_job, b_job = other.jobs("req")[:2]
        assert (a_job.status, b_job.status) == ("half way", "")
        assert a_job.status_at is not None

        store.try_ended(
            owner, ended(a, stdout="out", stderr="err"), job_state=State.COMPLETE, job_data={"a": 1}
        )
        job = other.jobs("req")[0]
        assert (job.state, job.status, job.status_at) == (State.COMPLETE, "", None)
        assert job.finished is not None
        (logged,) = other.log("req", "a")
        assert (logged.state, logged.stdout, logged.stderr) == (State.COMPLETE, "out", "err")
        assert other.run("req").jobs_finished == 1

        store.job_ended(owner, "req", "b", State.STOPPED, "StopError: stopped while waiting")
        job = other.jobs("req")[1]
        assert (job.state, job.error) == (State.STOPPED, "StopError: stopped while waiting")
        assert other.run("req").jobs_finished == 2

        store.finish_run(owner, "req", State.STOPPED)
        run = other.run("req")
        assert (run.state, run.lost) == (State.STOPPED, False)
        assert run.finished is not None
        assert other.running() == []


class TestReading:
    def test_runs_newest_first_filtered_and_paged(self, factory: Factory, store: Store) -> None:
        """runs() is newest first; state filters it; limit and offset page it; count_runs counts the same."""
        chain = build(factory, {"a": []})
        for n in range(6):
            store.create_run(attrs.evolve(chain, request_id=f"r{n}"), {}, executor="thread")
        for n, state in [(1, State.COMPLETE), (3, State.COMPLETE), (4, State.FAIL)]:
            owner = Owner.here()
            store.claim(f"r{n}", owner, executor="thread")
            store.finish_run(owner, f"r{n}", state)
        store.claim("r5", Owner.here(), executor="thread")

        def ids(runs: list[Any]) -> list[str]:
            return [run.request_id for run in runs]

        assert ids(store.runs()) == ["r5", "r4", "r3", "r2", "r1", "r0"]
        assert ids(store.runs(limit=2, offset=1)) == ["r4", "r3"]
        assert ids(store.runs(offset=5)) == ["r0"]
        assert ids(store.runs(offset=6)) == []
        assert ids(store.runs(state=State.COMPLETE)) == ["r3", "r1"]
        assert ids(store.runs(state=State.COMPLETE, limit=1, offset=1)) == ["r1"]
        assert ids(store.runs(state=State.PENDING)) == ["r2", "r0"]
        assert ids(store.running()) == ["r5"]
        assert store.count_runs() == 6
        assert [store.count_runs(state=s) for s in (State.COMPLETE, State.FAIL, State.RUNNING)] == [2, 1, 1]
        assert store.count_runs(state=State.STOPPED) == 0

    def test_jobs_in_chain_order_filtered_by_state(self, factory: Factory, store: Store) -> None:
        """jobs(states=) keeps the chain's order and only the states asked for."""
        store.create_run(build(factory, {"a": [], "b": ["a"], "c": [], "d": ["c"]}), {}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        for job_id, state in [("c", State.COMPLETE), ("a", State.FAIL)]:
            start = entry(job_id)
            store.try_started(owner, start)
            store.try_ended(owner, ended(start, state), job_state=state, job_data={}, finished=1)
        store.try_started(owner, entry("d"))
        order = [job.job_id for job in store.jobs("req")]
        assert order == list(build(factory, {"a": [], "b": ["a"], "c": [], "d": ["c"]}).jobs)
        wanted = [State.COMPLETE, State.RUNNING]
        assert [(j.job_id, j.state) for j in store.jobs("req", states=wanted)] == [
            (job_id, state) for job_id, state in [("c", State.COMPLETE), ("d", State.RUNNING)]
        ]
        assert [j.job_id for j in store.jobs("req", states=[State.PENDING])] == ["b"]
        assert store.jobs("req", states=[]) == []

    def test_the_log_is_by_drive_then_job_order_then_try(
        self, factory: Factory, store: Store, store_url: str
    ) -> None:
        """log() orders entries by drive, the job's place in the chain, then try, whatever the write order."""
        store.create_run(build(factory, {"a": [], "b": []}), {}, executor="thread")
        first = other_host("first")
        store.claim("req", first, executor="thread")
        for start in [entry("b"), entry("a"), entry("a", 2)]:
            store.try_started(first, start)
            store.try_ended(first, ended(start, State.FAIL))
        age(store_url, LOST_AFTER + 1)
        second = Owner.here()
        store.claim("req", second, executor="thread")
        store.try_started(second, entry("b", drive=2))
        store.try_started(second, entry("a", drive=2))
        want = [(1, "a", 1), (1, "a", 2), (1, "b", 1), (2, "a", 1), (2, "b", 1)]
        assert [(e.drive, e.job_id, e.try_number) for e in store.log("req")] == want
        assert [(e.drive, e.try_number) for e in store.log("req", "a")] == [(1, 1), (1, 2), (2, 1)]
        assert store.log("req", "nope") == []

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.claim("nope", Owner.here(), executor="thread"),
            lambda s: s.chain("nope"),
            lambda s: s.job_data("nope"),
            lambda s: s.request_stop("nope"),
            lambda s: s.run("nope"),
            lambda s: s.jobs("nope"),
            lambda s: s.jobs("nope", states=[State.PENDING]),
            lambda s: s.log("nope"),
            lambda s: s.log("nope", "a"),
        ],
        ids=["claim", "chain", "job_data", "request_stop", "run", "jobs", "jobs-states", "log", "log-job"],
    )
    def test_an_unknown_request_id_is_run_not_found(
        self, call: Callable[[Store], object], factory: Factory, store: Store
    ) -> None:
        """Every call that names a run raises RunNotFoundError for a request id the store does not hold."""
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        with pytest.raises(RunNotFoundError, match=r"no run 'nope' in the run store") as err:
            call(store)
        assert err.value.request_id == "nope"
        assert isinstance(err.value, LookupError)


class TestWireRule:
    def _rewrite(self, url: str, change: Callable[[dict[str, Any]], None]) -> None:
        with raw(url) as sql:
            ((text,),) = sql("SELECT entry FROM spincycle_log WHERE job_id = 'a'")
            obj = json.loads(text)
            change(obj)
            sql("UPDATE spincycle_log SET entry = ? WHERE job_id = 'a'", (json.dumps(obj),))

    @pytest.fixture
    def logged(self, factory: Factory, store: Store) -> Store:
        store.create_run(build(factory, {"a": []}), {}, executor="thread")
        owner = Owner.here()
        store.claim("req", owner, executor="thread")
        start = entry("a")
        store.try_started(owner, start)
        store.try_ended(owner, ended(start, stdout="done"))
        return store

    def test_a_newer_minor_version_s_entry_reads(self, logged: Store, store_url: str) -> None:
        """An entry a newer release wrote, with a field this one does not know, still reads."""

        def newer(obj: dict[str, Any]) -> None:
            obj.update({"format": "spincycle-jobs/log/1.7", "cpu_seconds": 1.5, "labels": {"x": 1}})

        self._rewrite(store_url, newer)
        (read,) = logged.log("req")
        assert (read.job_id, read.state, read.stdout) == ("a", State.COMPLETE, "done")

    def test_an_entry_of_another_major_version_is_refused(self, logged: Store, store_url: str) -> None:
        """An entry of major version 2 is refused, naming the versions."""
        self._rewrite(store_url, lambda obj: obj.update({"format": "spincycle-jobs/log/2.0"}))
        with pytest.raises(WireError, match=r"run 'req', a job log entry: log record version 2.0 is not 1.x"):
            logged.log("req")


class TestSchema:
    def test_the_schema_carries_its_version(self, store: Store, store_url: str) -> None:
        """A new store records the schema version it was made with."""
        with raw(store_url) as sql:
            assert sql("SELECT key, value FROM spincycle_meta") == [("schema_version", str(SCHEMA_VERSION))]

    def test_a_store_of_a_newer_schema_is_refused(self, store: Store, store_url: str) -> None:
        """A store a newer release made is refused at open, naming both versions; it is left as it is."""
        store.close()
        with raw(store_url) as sql:
            sql("UPDATE spincycle_meta SET value = '99' WHERE key = 'schema_version'")
        with pytest.raises(
            SchemaVersionError, match=rf"schema version 99, newer than the {SCHEMA_VERSION} "
        ) as err:
            open_store(store_url)
        assert (err.value.found, err.value.supported) == (99, SCHEMA_VERSION)
        with raw(store_url) as sql:
            assert sql("SELECT value FROM spincycle_meta") == [("99",)]

    def test_processes_creating_the_schema_at_once_all_succeed(self, store_url: str, tmp_path: Path) -> None:
        """Four processes open one new store at the same moment: each one creates or finds the schema."""
        code = textwrap.dedent("""\
            import os, sys, time
            from spincycle_jobs import open_store
            url, ready, go = sys.argv[1:]
            open(ready, "w").close()
            while not os.path.exists(go):
                time.sleep(0.001)
            with open_store(url) as store:
                print(store.count_runs())
            """)
        go = tmp_path / "go"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", code, store_url, str(tmp_path / f"ready{n}"), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=clean_env(),
            )
            for n in range(4)
        ]
        try:
            deadline = time.monotonic() + WAIT
            while not all((tmp_path / f"ready{n}").exists() for n in range(4)):
                assert time.monotonic() < deadline, "the processes did not start"
                time.sleep(0.005)
            go.touch()
            results = [(*proc.communicate(timeout=WAIT), proc.returncode) for proc in procs]
        finally:
            for proc in procs:
                proc.kill()
                proc.communicate()
        assert [(out, code) for out, _err, code in results] == [("0\n", 0)] * 4, results
        with raw(store_url) as sql:
            assert sql("SELECT value FROM spincycle_meta") == [(str(SCHEMA_VERSION),)]


def drive_runs(store: Store, chain: Chain, n: int) -> None:
    """Record eight whole runs of one job, ``t{n}-0`` to ``t{n}-7``, as a driver would."""
    for i in range(8):
        rid = f"t{n}-{i}"
        store.create_run(attrs.evolve(chain, request_id=rid), {"n": n}, executor="thread")
        owner = Owner.here()
        store.claim(rid, owner, executor="thread")
        start = attrs.evolve(entry("a"), request_id=rid)
        store.try_started(owner, start)
        store.save_statuses(owner, rid, {"a": f"{n}-{i}"})
        store.heartbeat(rid, owner)
        store.try_ended(owner, ended(start), job_state=State.COMPLETE, job_data={"i": i}, finished=1)
        store.finish_run(owner, rid, State.COMPLETE)


def read_runs(reader: Store, done: threading.Event) -> None:
    """Read the newest runs, their jobs and logs, until ``done``."""
    while not done.is_set():
        for run in reader.runs(limit=5):
            reader.jobs(run.request_id)
            reader.log(run.request_id)


class TestThreads:
    def test_many_threads_writing_through_one_store(
        self, factory: Factory, store: Store, other: Store
    ) -> None:
        """Eight threads drive runs through one store object while two read: every write is there, whole."""
        chain = build(factory, {"a": []})
        errors: list[BaseException] = []
        done = threading.Event()

        def catching(work: Callable[..., None], *args: Any) -> None:
            try:
                work(*args)
            except BaseException as err:
                errors.append(err)
                raise

        writers = [threading.Thread(target=catching, args=(drive_runs, store, chain, n)) for n in range(8)]
        readers = [threading.Thread(target=catching, args=(read_runs, r, done)) for r in (store, other)]
        for thread in writers + readers:
            thread.start()
        for thread in writers:
            thread.join(WAIT * 4)
        done.set()
        for thread in readers:
            thread.join(WAIT)
        assert errors == []
        assert store.count_runs() == store.count_runs(state=State.COMPLETE) == 64
        for run in other.runs(limit=100):
            assert (run.jobs_finished, run.drive) == (1, 1)
            (job,) = other.jobs(run.request_id)
            assert (job.state, job.tries) == (State.COMPLETE, 1)
            (logged,) = other.log(run.request_id)
            assert (logged.request_id, logged.state) == (run.request_id, State.COMPLETE)
            assert other.chain(run.request_id).jobs["a"].job_data == {"i": int(run.request_id.split("-")[1])}
        if store.url.startswith("sqlite:"):
            with raw(store.url) as sql:
                assert sql("PRAGMA integrity_check") == [("ok",)]


def unprivileged() -> list[str]:
    """The command prefix that runs a process without root's power to write anywhere, when this is root."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.fail("running as root, this test needs setpriv (util-linux) to drop root's capabilities")
    return ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"]


def open_elsewhere(url: str) -> str:
    """Open the store in a process without root's power; return what it says: ``opened`` or the error."""
    code = textwrap.dedent("""\
        import sys
        from spincycle_jobs import StoreError, open_store
        try:
            open_store(sys.argv[1]).close()
        except StoreError as err:
            print(f"StoreError: {err}")
        else:
            print("opened")
        """)
    args = [*unprivileged(), sys.executable, "-c", code, url]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=WAIT, check=False, env=clean_env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


class TestSQLiteFiles:
    def test_the_file_is_the_owner_s_alone(self, tmp_path: Path) -> None:
        """Whatever the umask, the folder is made 0700 and the file 0600, and the WAL files are too."""
        path = tmp_path / "state" / "spincycle-jobs" / "runs.sqlite3"
        before = os.umask(0)
        try:
            with open_store(f"sqlite:///{path}") as store:
                assert store.count_runs() == 0
                with raw(store.url) as sql:  # a write, so that the WAL files are there
                    sql("INSERT INTO spincycle_meta (key, value) VALUES ('x', 'y')")
                wal = [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]
                assert all(p.exists() for p in wal)
                modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in [path.parent, path, *wal]}
        finally:
            os.umask(before)
        assert modes == {
            "spincycle-jobs": 0o700,
            "runs.sqlite3": 0o600,
            "runs.sqlite3-wal": 0o600,
            "runs.sqlite3-shm": 0o600,
        }

    def test_a_read_only_folder_is_refused_at_open(self, tmp_path: Path) -> None:
        """A new store in a folder the user cannot write: a StoreError at open, nothing made."""
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        for url in (f"sqlite:///{folder / 'runs.sqlite3'}", f"sqlite:///{folder / 'state' / 'runs.sqlite3'}"):
            said = open_elsewhere(url)
            assert said.startswith("StoreError: run store "), said
            assert "Permission denied" in said, said
        assert list(folder.iterdir()) == []

    def test_a_store_in_a_folder_made_read_only_is_refused_at_open(self, tmp_path: Path) -> None:
        """An existing store whose folder became read-only (no room for its WAL): a StoreError at open."""
        path = tmp_path / "ro" / "runs.sqlite3"
        open_store(f"sqlite:///{path}").close()
        path.parent.chmod(0o500)
        try:
            said = open_elsewhere(f"sqlite:///{path}")
        finally:
            path.parent.chmod(0o700)
        assert said.startswith(f"StoreError: run store sqlite:///{path}: "), said

    def test_a_read_only_file_is_refused_at_open(self, tmp_path: Path) -> None:
        """An existing store file the user may only read: a StoreError at open."""
        path = tmp_path / "runs.sqlite3"
        open_store(f"sqlite:///{path}").close()
        path.chmod(0o400)
        said = open_elsewhere(f"sqlite:///{path}")
        assert said == f"StoreError: run store {path}: Permission denied", said

    @pytest.mark.parametrize(
        ("where", "error"),
        [
            ("/dev/full", "not a regular file"),
            ("/dev/null", "not a regular file"),
            ("{tmp}/a-file/runs.sqlite3", "Not a directory"),
            ("{tmp}", "Is a directory"),
        ],
        ids=["dev-full", "dev-null", "folder-is-a-file", "a-folder"],
    )
    def test_a_path_that_is_no_store_file_is_refused_at_open(
        self, where: str, error: str, tmp_path: Path
    ) -> None:
        """A device node, a folder, or a path through a file: a StoreError at open, naming the path."""
        (tmp_path / "a-file").write_text("")
        path = where.format(tmp=tmp_path)
        with pytest.raises(StoreError, match=rf"^run store {path}: {error}$"):
            open_store(f"sqlite:///{path}")


class TestPostgres:
    def test_a_server_that_is_down_is_a_clear_error_at_open(self, postgres_server: PostgresServer) -> None:
        """Nothing listens on the URL's port: open_store raises StoreError saying it cannot connect."""
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # bound, never listening: connections are refused
            url = postgres_server.url("runs", port=port) + "?connect_timeout=2"
            with pytest.raises(
                StoreError, match=r"cannot connect: .* port \d+ failed: Connection refused"
            ) as err:
                open_store(url)
        assert PASSWORD not in str(err.value)
        assert f"run store postgresql://runs:***@127.0.0.1:{port}/runs?connect_timeout=2" in str(err.value)

    @pytest.mark.parametrize(
        "failure", ["wrong password", "no such database", "server down", "password in the query"]
    )
    def test_a_password_is_never_shown(self, failure: str, postgres_server: PostgresServer) -> None:
        """Neither the store's url nor any error, its repr or its traceback, shows the URL's password."""
        with postgres_server.database() as url:
            with open_store(url) as store:
                assert store.url == url.replace(PASSWORD, "***")
            name = url.rpartition("/")[2]
            free = socket.socket()
            free.bind(("127.0.0.1", 0))
            with free:
                bad = {
                    "wrong password": postgres_server.url(name, password=PASSWORD[::-1]),
                    "no such database": postgres_server.url("nope"),
                    "server down": postgres_server.url(name, port=free.getsockname()[1]),
                    "password in the query": url.replace(f":{PASSWORD}@", "@") + f"?password={PASSWORD}x",
                }[failure]
                secret = PASSWORD[::-1] if failure == "wrong password" else PASSWORD
                with pytest.raises(StoreError) as err:
                    open_store(bad + ("&" if "?" in bad else "?") + "connect_timeout=5")
        shown = [str(err.value), repr(err.value), "".join(traceback.format_exception(err.value))]
        assert all(secret not in text for text in shown), shown
        assert "***" in str(err.value)

    def test_a_connection_ended_by_the_server_is_opened_again(self, postgres_server: PostgresServer) -> None:
        """A store whose connection the server ended reconnects at its next transaction, once."""
        with postgres_server.database() as url, open_store(url) as store:
            name = url.rpartition("/")[2]
            assert postgres_server.terminate(name) == 1
            assert store.count_runs() == 0  # on a new connection
            with postgres_server.admin() as admin:
                admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
                postgres_server.terminate(name)
                try:
                    with pytest.raises(StoreError, match=r"cannot connect") as err:
                        store.count_runs()
                finally:
                    admin.execute(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
            assert PASSWORD not in str(err.value)
            assert store.count_runs() == 0

    def test_a_transaction_cut_off_is_not_retried(
        self, factory: Factory, postgres_server: PostgresServer
    ) -> None:
        """A connection lost inside a transaction: StoreError, none of it written; the next one reconnects."""
        with postgres_server.database() as url, open_store(url) as store:
            store.create_run(build(factory, {"a": []}), {}, executor="thread")

            def cut_off() -> None:
                assert isinstance(store, SQLStore)
                with store._tx() as tx:
                    tx("UPDATE spincycle_runs SET executor = 'changed'")
                    postgres_server.terminate(url.rpartition("/")[2])
                    tx("SELECT 1")

            with pytest.raises(StoreError, match=r"run store postgresql://runs:\*\*\*@"):
                cut_off()
            assert store.run("req").executor == "thread"


def take_away(how: str, server: PostgresServer, database: str) -> None:
    """Stop the server, or have it end the database's connections and refuse new ones."""
    if how == "the server stopped":
        server.stop()
        return
    with server.admin() as admin:
        admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false")
    server.terminate(database)


def bring_back(how: str, server: PostgresServer, database: str) -> str:
    """Undo :func:`take_away`; return the database's URL (the server may listen on another port now)."""
    if how == "the server stopped":
        server.start()
    else:
        with server.admin() as admin:
            admin.execute(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true")
    return server.url(database)


def run_in_thread(runner: ChainRunner) -> tuple[threading.Thread, list[BaseException]]:
    """Start ``runner.run()`` in a thread; the list gets what it raises."""
    raised: list[BaseException] = []

    def run() -> None:
        try:
            runner.run()
        except BaseException as err:  # noqa: BLE001 - the test looks at it
            raised.append(err)

    thread = threading.Thread(target=run)
    thread.start()
    return thread, raised


class TestPostgresGoesAway:
    @pytest.mark.parametrize("how", ["its connections refused", "the server stopped"])
    def test_the_run_stops_and_no_unrecorded_job_is_reported_complete(
        self, how: str, factory: Factory, postgres_server: PostgresServer
    ) -> None:
        """PostgreSQL gone mid-run: run() raises StoreError; each job reported COMPLETE was recorded so."""
        STARTED.clear()
        OPEN.clear()
        with postgres_server.database() as url:
            name = url.rpartition("/")[2]
            chain = build(factory, {"a": [], "b": ["a"], "c": ["b"], "d": ["a"]}, gate="b")
            reported: dict[str, State] = {}
            with open_store(url) as store:
                runner = ChainRunner(
                    chain,
                    factory=factory,
                    store=store,
                    on_job_end=lambda job_id: reported.update({job_id: runner.snapshot().jobs[job_id].state}),
                )
                thread, raised = run_in_thread(runner)
                try:
                    assert STARTED.wait(WAIT)
                    take_away(how, postgres_server, name)
                finally:
                    OPEN.set()  # b completes now, with nowhere to record it
                    thread.join(WAIT)
            url_back = bring_back(how, postgres_server, name)

            (err,) = raised
            assert isinstance(err, StoreError), err
            assert str(err).startswith("run store postgresql://runs:***@127.0.0.1:")
            assert PASSWORD not in str(err)
            with open_store(url_back) as back:
                recorded = {job.job_id: job.state for job in back.jobs("req")}
                assert (recorded["a"], recorded["c"]) == (State.COMPLETE, State.PENDING)
                assert recorded["b"] != State.COMPLETE
                complete = {job_id for job_id, state in reported.items() if state == State.COMPLETE}
                assert "a" in complete
                assert "b" not in complete
                assert complete <= {job_id for job_id, state in recorded.items() if state == State.COMPLETE}
                # once its heartbeat is old, the run is lost, and resumes: b's cut-off try ends FAIL
                assert back.run("req").state == State.RUNNING
                age(url_back, LOST_AFTER + 1)
                result = ChainRunner.resume(back, "req", factory=factory).run()
                assert result.state == State.COMPLETE
                tries = [(e.drive, e.state) for e in back.log("req", "b")]
                assert tries == [(1, State.FAIL), (2, State.COMPLETE)]
                assert result.jobs["a"].tries == 0
