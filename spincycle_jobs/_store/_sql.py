"""The run store in SQL, one implementation for both backends; each backend supplies its connection.

A backend subclasses :class:`SQLStore` and sets :attr:`SQLStore.BEGIN` (the
statement that opens a write transaction) and :attr:`SQLStore.LOCK` (what
ends a ``SELECT`` that must lock its rows), then calls :meth:`SQLStore._setup`
with a connection opened in autocommit mode and the driver's exception class.
The SQL here is written with ``?`` parameters; a backend whose driver wants
another style overrides :meth:`SQLStore._sql`. A backend whose connection
can be lost (a server's) overrides :meth:`SQLStore._broken` and
:meth:`SQLStore._reconnect`: a transaction that finds its connection lost
before it starts runs on a new one.

Each job log entry is kept whole as a wire record (``spincycle-jobs/log/1.x``,
the rule of ``_wire``), beside the columns it is found by.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import Final

import attrs

from spincycle_jobs._chain import Chain
from spincycle_jobs._chain import ChainJob
from spincycle_jobs._state import State
from spincycle_jobs._wire import from_wire
from spincycle_jobs._wire import to_wire

from . import LOST_AFTER
from . import SCHEMA_VERSION
from . import JobInfo
from . import LeaseLostError
from . import LogEntry
from . import Owner
from . import RunBusyError
from . import RunExistsError
from . import RunInfo
from . import RunNotFoundError
from . import SchemaVersionError
from . import Store
from . import StoreError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping
    from collections.abc import Sequence

__all__ = ["SQLStore"]

#: The schema, version 1. Times are seconds since the epoch; flags are 0 or 1; JSON is text.
_SCHEMA_1 = (
    "CREATE TABLE IF NOT EXISTS spincycle_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS spincycle_runs (
        request_id TEXT PRIMARY KEY,
        state INTEGER NOT NULL,
        created DOUBLE PRECISION NOT NULL,
        started DOUBLE PRECISION,
        finished DOUBLE PRECISION,
        host TEXT NOT NULL,
        pid INTEGER NOT NULL,
        token TEXT NOT NULL,
        executor TEXT NOT NULL,
        jobs_total INTEGER NOT NULL,
        drive INTEGER NOT NULL,
        heartbeat DOUBLE PRECISION,
        stop_requested INTEGER NOT NULL,
        job_data TEXT NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS spincycle_runs_created ON spincycle_runs (created, request_id)",
    "CREATE INDEX IF NOT EXISTS spincycle_runs_state ON spincycle_runs (state, created, request_id)",
    """CREATE TABLE IF NOT EXISTS spincycle_jobs (
        request_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        type TEXT NOT NULL,
        name TEXT NOT NULL,
        after TEXT NOT NULL,
        retry INTEGER NOT NULL,
        retry_wait DOUBLE PRECISION NOT NULL,
        record TEXT NOT NULL,
        state INTEGER NOT NULL,
        tries INTEGER NOT NULL,
        started DOUBLE PRECISION,
        ended DOUBLE PRECISION,
        error TEXT,
        status TEXT NOT NULL,
        status_at DOUBLE PRECISION,
        job_data TEXT,
        finished INTEGER,
        PRIMARY KEY (request_id, job_id))""",
    "CREATE INDEX IF NOT EXISTS spincycle_jobs_position ON spincycle_jobs (request_id, position)",
    """CREATE TABLE IF NOT EXISTS spincycle_log (
        request_id TEXT NOT NULL,
        job_id TEXT NOT NULL,
        drive INTEGER NOT NULL,
        try_number INTEGER NOT NULL,
        position INTEGER NOT NULL,
        state INTEGER NOT NULL,
        entry TEXT NOT NULL,
        PRIMARY KEY (request_id, drive, job_id, try_number))""",
)

#: What brings a store of version N (the index) up to N + 1, in order; empty while there is only version 1.
_UPGRADES: tuple[tuple[str, ...], ...] = ()

#: A run's columns as :class:`RunInfo` takes them; how many jobs ended is counted, not kept.
_RUN_COLUMNS = (
    "request_id, state, created, started, finished, host, pid, executor, jobs_total, "
    "(SELECT COUNT(*) FROM spincycle_jobs WHERE spincycle_jobs.request_id = spincycle_runs.request_id "
    f"AND spincycle_jobs.state NOT IN ({int(State.PENDING)}, {int(State.RUNNING)})), "
    "drive, heartbeat, stop_requested"
)
_JOB_COLUMNS = "request_id, job_id, type, name, after, state, tries, started, ended, error, status, status_at"
#: The end of an UPDATE of one job that writes only while the given lease token holds the run.
_JOB_HELD = (
    "WHERE request_id = ? AND job_id = ? AND EXISTS "
    "(SELECT 1 FROM spincycle_runs WHERE request_id = ? AND token = ?)"
)
_HERE = socket.gethostname()


def _alive(pid: int) -> bool:
    """Whether process ``pid`` of this host lives (a zombie, killed but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists, owned by another user
        pass
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:  # noqa: PTH123 - Linux tells a zombie apart
            return stat.read().rpartition(b")")[2].split()[:1] != [b"Z"]
    except OSError:
        return True  # no /proc here: kill(0) is all there is


def _lost(state: int, host: str, pid: int, heartbeat: float | None, now: float) -> bool:
    """Whether a ``RUNNING`` run's driver is gone: its process ended here, or no heartbeat for a while."""
    if state != State.RUNNING:
        return False
    if host == _HERE and not _alive(pid):
        return True
    return heartbeat is None or now - heartbeat > LOST_AFTER


def _run_info(row: Sequence[Any], now: float) -> RunInfo:
    rid, state, created, started, finished, host, pid, executor, total, done, drive, beat, stop = row
    return RunInfo(
        rid,
        State(state),
        created,
        started,
        finished,
        host,
        pid,
        executor,
        total,
        done,
        drive,
        beat,
        bool(stop),
        _lost(state, host, pid, beat, now),
    )


def _job_info(row: Sequence[Any]) -> JobInfo:
    rid, job_id, type_, name, after, state, tries, started, ended, error, status, status_at = row
    return JobInfo(
        rid,
        job_id,
        type_,
        name,
        tuple(json.loads(after)),
        State(state),
        tries,
        started,
        ended,
        error,
        status,
        status_at,
    )


_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), allow_nan=False)
_dumps: Final = _ENCODER.encode


class SQLStore(Store):
    """The run store over a DB-API connection; see the module's documentation for what a backend adds."""

    #: The statement that opens a write transaction.
    BEGIN: ClassVar[str] = "BEGIN"
    #: What ends a ``SELECT`` that locks the rows it reads until the transaction ends.
    LOCK: ClassVar[str] = ""

    def _setup(self, conn: Any, url: str, errors: type[Exception]) -> None:
        """Take ``conn`` (autocommit); create or upgrade the schema; refuse a newer one.

        :param errors: the driver's base exception class: its errors become :class:`StoreError`.
        """
        self.url = url
        self._conn = conn
        self._errors = errors
        self._lock = threading.RLock()
        self._open: Any = None  # the transaction open under the lock, if any
        with self._tx() as tx:
            self._lock_schema(tx)
            for statement in _SCHEMA_1[:1]:
                tx(statement)
            row = tx("SELECT value FROM spincycle_meta WHERE key = 'schema_version'").fetchone()
            found = SCHEMA_VERSION if row is None else int(row[0])
            if found > SCHEMA_VERSION:
                raise SchemaVersionError(found, SCHEMA_VERSION)
            if row is None:
                for statement in _SCHEMA_1[1:]:
                    tx(statement)
                tx(
                    "INSERT INTO spincycle_meta (key, value) VALUES ('schema_version', ?)",
                    (str(SCHEMA_VERSION),),
                )
            elif found < SCHEMA_VERSION:
                for upgrade in _UPGRADES[found - 1 :]:
                    for statement in upgrade:
                        tx(statement)
                tx("UPDATE spincycle_meta SET value = ? WHERE key = 'schema_version'", (str(SCHEMA_VERSION),))

    def _lock_schema(self, tx: Any) -> None:
        """Keep two processes from creating the schema at once (a backend whose BEGIN does not)."""

    def _sql(self, statement: str) -> str:
        return statement

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for many rows, in the transaction open under the lock."""
        self._conn.executemany(self._sql(statement), rows)

    def _broken(self, conn: Any) -> bool:
        """Whether ``conn`` was lost (its server ended it), so that a new one may take its place."""
        return False

    def _reconnect(self) -> Any:
        """Return a new connection, in autocommit mode, in place of a lost one.

        :raises StoreError: when it cannot connect.
        """
        msg = f"run store {self.url}: its connection was lost"
        raise StoreError(msg)

    def _begin(self, conn: Any) -> Any:
        """Open a transaction on ``conn``, or, when it was lost, once on a new one; return the one used."""
        try:
            conn.execute(self.BEGIN)
        except self._errors:
            if not self._broken(conn):
                raise
            with contextlib.suppress(Exception):
                conn.close()
            conn = self._conn = self._reconnect()
            conn.execute(self.BEGIN)
        return conn

    @contextlib.contextmanager
    def _tx(self) -> Iterator[Any]:
        """One transaction, under the store's lock; yield ``tx(sql, params=())`` returning a cursor.

        Inside :meth:`transaction`, in its thread, it is that transaction's.
        A transaction that fails is rolled back and never retried; the
        driver's error becomes a :class:`StoreError`.
        """
        with self._lock:
            if self._open is not None:
                yield self._open
                return
            conn = getattr(self, "_conn", None)
            if conn is None:
                msg = f"run store {self.url}: closed"
                raise StoreError(msg)
            try:
                conn = self._begin(conn)

                def tx(statement: str, params: Sequence[Any] = ()) -> Any:
                    return conn.execute(self._sql(statement), params)

                self._open = tx
                try:
                    yield tx
                    conn.execute("COMMIT")
                except BaseException:
                    with contextlib.suppress(self._errors):  # the error that ended it tells more
                        conn.execute("ROLLBACK")
                    raise
                finally:
                    self._open = None
            except self._errors as err:
                msg = f"run store {self.url}: {err}"
                raise StoreError(msg) from err

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        """Group the writes made in this thread inside the ``with`` block into one transaction."""
        return self._tx()

    def _read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._tx() as tx:
            return list(tx(statement, params).fetchall())

    @staticmethod
    def _held(tx: Any, request_id: str, owner: Owner, *, beat: bool = False) -> bool:
        """Check ``owner`` holds the lease (with ``beat``, renew it); return whether a stop was asked."""
        row = tx(
            "SELECT token, stop_requested FROM spincycle_runs WHERE request_id = ?", (request_id,)
        ).fetchone()
        if row is None or row[0] != owner.token:
            msg = f"run {request_id!r}: this process no longer drives it (another took it over)"
            raise LeaseLostError(msg)
        if beat:
            tx("UPDATE spincycle_runs SET heartbeat = ? WHERE request_id = ?", (time.time(), request_id))
        return bool(row[1])

    # -- the driver's side --

    def create_run(self, chain: Chain, job_data: Mapping[str, Any], *, executor: str) -> RunInfo:
        rid, now = chain.request_id, time.time()
        with self._tx() as tx:
            if tx("SELECT 1 FROM spincycle_runs WHERE request_id = ?", (rid,)).fetchone() is not None:
                raise RunExistsError(rid)
            tx(
                "INSERT INTO spincycle_runs (request_id, state, created, started, finished, host, pid, "
                "executor, jobs_total, drive, heartbeat, stop_requested, token, job_data) "
                "VALUES (?, ?, ?, NULL, NULL, '', 0, ?, ?, 0, NULL, 0, '', ?)",
                (rid, int(State.PENDING), now, executor, len(chain.jobs), _dumps(dict(job_data))),
            )
            rows = []
            for position, job in enumerate(chain.jobs.values()):
                complete = job.state == State.COMPLETE
                rows.append(
                    (
                        rid,
                        job.id,
                        position,
                        job.type,
                        job.name,
                        _dumps(list(job.after)),
                        job.retry,
                        job.retry_wait,
                        _dumps(job.record.to_dict()),
                        int(job.state if complete else State.PENDING),
                        job.tries if complete else 0,
                        job.error if complete else None,
                        None if job.job_data is None or not complete else _dumps(dict(job.job_data)),
                        job.finished if complete else None,
                    )
                )
            self._executemany(
                "INSERT INTO spincycle_jobs (request_id, job_id, position, type, name, after, retry, "
                "retry_wait, record, state, tries, started, ended, error, status, status_at, job_data, "
                "finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, '', NULL, ?, ?)",
                rows,
            )
        return self.run(rid)

    def claim(self, request_id: str, owner: Owner, *, executor: str) -> RunInfo:
        now = time.time()
        with self._tx() as tx:
            tx(f"SELECT 1 FROM spincycle_runs WHERE request_id = ? {self.LOCK}", (request_id,))
            row = tx(
                f"SELECT {_RUN_COLUMNS} FROM spincycle_runs WHERE request_id = ?", (request_id,)
            ).fetchone()
            if row is None:
                raise RunNotFoundError(request_id)
            run = _run_info(row, now)
            if run.state == State.RUNNING and not run.lost:
                raise RunBusyError(request_id, run.host, run.pid)
            if run.state == State.COMPLETE:
                msg = f"run {request_id!r} is COMPLETE: there is nothing left to run"
                raise StoreError(msg)
            for job_id, entry in tx(
                "SELECT job_id, entry FROM spincycle_log WHERE request_id = ? AND state = ?",
                (request_id, int(State.RUNNING)),
            ).fetchall():
                self._lost_try(tx, run, job_id, json.loads(entry), now)
            tx(
                "UPDATE spincycle_jobs SET state = ?, tries = 0, error = NULL, status = '', "
                "status_at = NULL, "
                "started = NULL, ended = NULL WHERE request_id = ? AND state <> ?",
                (int(State.PENDING), request_id, int(State.COMPLETE)),
            )
            tx(
                "UPDATE spincycle_runs SET state = ?, started = COALESCE(started, ?), finished = NULL, "
                "host = ?, pid = ?, token = ?, executor = ?, drive = drive + 1, heartbeat = ?, "
                "stop_requested = 0 WHERE request_id = ?",
                (int(State.RUNNING), now, owner.host, owner.pid, owner.token, executor, now, request_id),
            )
        return self.run(request_id)

    def _lost_try(self, tx: Any, run: RunInfo, job_id: str, obj: Any, now: float) -> None:
        """End as ``FAIL`` a log entry that a driver which is gone left ``RUNNING``."""
        request_id = run.request_id
        entry = from_wire(LogEntry, obj, f"run {request_id!r}, the log entry of job {job_id!r}")
        why = f"its driver, process {run.pid} on host {run.host!r}, was lost"
        ended = attrs.evolve(entry, finished=now, state=State.FAIL, exit=1, error=f"LostError: {why}")
        tx(
            "UPDATE spincycle_log SET state = ?, entry = ? WHERE request_id = ? AND drive = ? AND "
            "job_id = ? AND try_number = ?",
            (int(State.FAIL), _dumps(to_wire(ended)), request_id, entry.drive, job_id, entry.try_number),
        )

    def heartbeat(self, request_id: str, owner: Owner) -> bool:
        with self._tx() as tx:
            return self._held(tx, request_id, owner, beat=True)

    def try_started(self, owner: Owner, entry: LogEntry) -> None:
        rid, job_id = entry.request_id, entry.job_id
        with self._tx() as tx:
            job = tx(
                f"UPDATE spincycle_jobs SET state = ?, tries = ?, started = ?, error = NULL {_JOB_HELD}",
                (int(State.RUNNING), entry.try_number, entry.started, rid, job_id, rid, owner.token),
            )
            self._check(tx, job.rowcount, rid, job_id, owner)
            self._insert_entry(tx, entry)

    @staticmethod
    def _insert_entry(tx: Any, entry: LogEntry) -> None:
        """Insert a log entry, at its job's place in the chain."""
        tx(
            "INSERT INTO spincycle_log (request_id, job_id, drive, try_number, position, state, entry) "
            "SELECT ?, ?, ?, ?, position, ?, ? FROM spincycle_jobs WHERE request_id = ? AND job_id = ?",
            (
                entry.request_id,
                entry.job_id,
                entry.drive,
                entry.try_number,
                int(entry.state),
                _dumps(to_wire(entry)),
                entry.request_id,
                entry.job_id,
            ),
        )

    def _check(self, tx: Any, rowcount: int, request_id: str, job_id: str, owner: Owner) -> None:
        """After a write to a job that names the lease: raise what kept it from writing a row."""
        if rowcount == 0:
            self._held(tx, request_id, owner)  # raises LeaseLostError
            msg = f"run {request_id!r} has no job {job_id!r}"
            raise StoreError(msg)

    def try_ended(
        self,
        owner: Owner,
        entry: LogEntry,
        *,
        job_state: State | None = None,
        job_data: Mapping[str, Any] | None = None,
        finished: int | None = None,
    ) -> None:
        rid, job_id = entry.request_id, entry.job_id
        with self._tx() as tx:
            if job_state is None:  # the job waits for its next try
                job = tx(
                    f"UPDATE spincycle_jobs SET error = ?, status = '', status_at = NULL {_JOB_HELD}",
                    (entry.error, rid, job_id, rid, owner.token),
                )
            else:
                data = None if job_data is None else _dumps(dict(job_data))
                ended = entry.finished or time.time()
                job = tx(
                    "UPDATE spincycle_jobs SET state = ?, error = ?, ended = ?, status = '', "
                    f"status_at = NULL, job_data = COALESCE(?, job_data), finished = COALESCE(?, finished) "
                    f"{_JOB_HELD}",
                    (int(job_state), entry.error, ended, data, finished, rid, job_id, rid, owner.token),
                )
            self._check(tx, job.rowcount, rid, job_id, owner)
            logged = tx(
                "UPDATE spincycle_log SET state = ?, entry = ? WHERE request_id = ? AND drive = ? "
                "AND job_id = ? AND try_number = ?",
                (int(entry.state), _dumps(to_wire(entry)), rid, entry.drive, job_id, entry.try_number),
            )
            if logged.rowcount == 0:  # its start was not recorded (a store error then): record it whole
                self._insert_entry(tx, entry)

    def job_ended(self, owner: Owner, request_id: str, job_id: str, state: State, error: str | None) -> None:
        with self._tx() as tx:
            job = tx(
                f"UPDATE spincycle_jobs SET state = ?, error = ?, ended = ?, status = '', status_at = NULL "
                f"{_JOB_HELD}",
                (int(state), error, time.time(), request_id, job_id, request_id, owner.token),
            )
            self._check(tx, job.rowcount, request_id, job_id, owner)

    def save_statuses(self, owner: Owner, request_id: str, statuses: Mapping[str, str]) -> None:
        now = time.time()
        with self._tx() as tx:
            self._held(tx, request_id, owner)
            for job_id, status in statuses.items():
                tx(
                    "UPDATE spincycle_jobs SET status = ?, status_at = ? WHERE request_id = ? AND "
                    "job_id = ? AND state = ?",
                    (status, now, request_id, job_id, int(State.RUNNING)),
                )

    def finish_run(self, owner: Owner, request_id: str, state: State) -> None:
        with self._tx() as tx:
            self._held(tx, request_id, owner)
            tx(
                "UPDATE spincycle_runs SET state = ?, finished = ?, token = '' WHERE request_id = ?",
                (int(state), time.time(), request_id),
            )

    def chain(self, request_id: str) -> Chain:
        rows = self._read(
            "SELECT job_id, after, retry, retry_wait, state, tries, job_data, error, finished, record "
            "FROM spincycle_jobs WHERE request_id = ? ORDER BY position",
            (request_id,),
        )
        if not rows:
            self.run(request_id)  # raises RunNotFoundError; a run has at least one job
        jobs = {}
        for job_id, after, retry, wait, state, tries, data, error, finished, record in rows:
            obj = {
                "id": job_id,
                "after": json.loads(after),
                "retry": retry,
                "retry_wait": wait,
                "state": State(state).name,
                "tries": tries,
                "job_data": None if data is None else json.loads(data),
                "error": error,
                "finished": finished,
                "record": json.loads(record),
            }
            jobs[job_id] = ChainJob.from_dict(obj, f"run {request_id!r} in {self.url}, job {job_id!r}")
        return Chain(request_id, jobs)

    def job_data(self, request_id: str) -> dict[str, Any]:
        rows = self._read("SELECT job_data FROM spincycle_runs WHERE request_id = ?", (request_id,))
        if not rows:
            raise RunNotFoundError(request_id)
        data: dict[str, Any] = json.loads(rows[0][0])
        return data

    # -- the operator's side --

    def request_stop(self, request_id: str) -> RunInfo:
        with self._tx() as tx:
            done = tx("UPDATE spincycle_runs SET stop_requested = 1 WHERE request_id = ?", (request_id,))
            if done.rowcount == 0:
                raise RunNotFoundError(request_id)
        return self.run(request_id)

    def run(self, request_id: str) -> RunInfo:
        rows = self._read(f"SELECT {_RUN_COLUMNS} FROM spincycle_runs WHERE request_id = ?", (request_id,))
        if not rows:
            raise RunNotFoundError(request_id)
        return _run_info(rows[0], time.time())

    def runs(self, *, state: State | None = None, limit: int = 50, offset: int = 0) -> list[RunInfo]:
        where, params = self._state_filter(state)
        rows = self._read(
            f"SELECT {_RUN_COLUMNS} FROM spincycle_runs{where} ORDER BY created DESC, request_id DESC "
            "LIMIT ? OFFSET ?",
            (*params, max(limit, 0), max(offset, 0)),
        )
        now = time.time()
        return [_run_info(row, now) for row in rows]

    @staticmethod
    def _state_filter(state: State | None) -> tuple[str, tuple[int, ...]]:
        return ("", ()) if state is None else (" WHERE state = ?", (int(state),))

    def count_runs(self, *, state: State | None = None) -> int:
        where, params = self._state_filter(state)
        return int(self._read(f"SELECT COUNT(*) FROM spincycle_runs{where}", params)[0][0])

    def running(self) -> list[RunInfo]:
        return self.runs(state=State.RUNNING, limit=1_000_000)

    def jobs(self, request_id: str, *, states: Sequence[State] | None = None) -> list[JobInfo]:
        rows = self._read(
            f"SELECT {_JOB_COLUMNS} FROM spincycle_jobs WHERE request_id = ? ORDER BY position", (request_id,)
        )
        if not rows:
            self.run(request_id)  # raises RunNotFoundError
        found = [_job_info(row) for row in rows]
        return found if states is None else [job for job in found if job.state in states]

    def log(self, request_id: str, job_id: str | None = None) -> list[LogEntry]:
        where, params = ("", (request_id,)) if job_id is None else (" AND job_id = ?", (request_id, job_id))
        rows = self._read(
            f"SELECT entry FROM spincycle_log WHERE request_id = ?{where} ORDER BY drive, position, "
            "try_number",
            params,
        )
        if not rows:
            self.run(request_id)  # raises RunNotFoundError
        return [
            from_wire(LogEntry, json.loads(row[0]), f"run {request_id!r}, a job log entry") for row in rows
        ]

    def close(self) -> None:
        with self._lock:
            conn, self._conn = getattr(self, "_conn", None), None
            if conn is not None:
                with contextlib.suppress(Exception):
                    conn.close()
