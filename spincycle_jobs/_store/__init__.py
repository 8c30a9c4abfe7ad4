"""The run store: every run of a chain, its jobs and a job log entry per try (SPEC section 6).

This module is the store's contract: the records it returns, its errors,
the :class:`Store` base class every backend implements, and
:func:`open_store`, which picks the backend from a URL. The backends are
``_sqlite`` (embedded, the default) and ``_postgres`` (many hosts share one
store; extra ``spincycle-jobs[postgres]``); only the one a URL names is
imported.

One process *drives* a run at a time, holding its lease: :meth:`Store.claim`
takes it, :meth:`Store.heartbeat` keeps it, :meth:`Store.finish_run` gives
it back. Everything else a driver writes names the lease it holds
(:class:`Owner`), and a write under a lease that is no longer held raises
:class:`LeaseLostError`. Readers (``chain ps``, ``status``, ``log``,
``list``, the web page) need no lease.

Times are seconds since the epoch (``time.time()``), as floats.
"""

from __future__ import annotations

import abc
import contextlib
import os
import socket
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import final

import attrs

from spincycle_jobs._errors import JobError
from spincycle_jobs._state import State
from spincycle_jobs._wire import wire

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence
    from typing import Self

    from spincycle_jobs._chain import Chain

__all__ = [
    "LOST_AFTER",
    "SCHEMA_VERSION",
    "JobInfo",
    "LeaseLostError",
    "LogEntry",
    "Owner",
    "RunBusyError",
    "RunExistsError",
    "RunInfo",
    "RunNotFoundError",
    "SchemaVersionError",
    "Store",
    "StoreError",
    "default_url",
    "open_store",
    "redact",
]

#: The schema version this release writes and reads; an older store is upgraded in place.
SCHEMA_VERSION: Final = 1
#: Seconds without a heartbeat after which a run driven from another host shows as lost.
LOST_AFTER: Final = 10.0


class StoreError(JobError):
    """The run store cannot be opened, read or written; the message says which store and why."""


class RunNotFoundError(StoreError, LookupError):
    """No run with this request id in the store.

    :param request_id: the request id asked for.
    """

    def __init__(self, request_id: str) -> None:
        super().__init__(f"no run {request_id!r} in the run store")
        #: The request id asked for.
        self.request_id = request_id

    def __reduce__(self) -> tuple[type[RunNotFoundError], tuple[str]]:
        return (type(self), (self.request_id,))


class RunExistsError(StoreError):
    """The store already holds a run with this request id: resume it instead.

    :param request_id: the request id.
    """

    def __init__(self, request_id: str) -> None:
        super().__init__(
            f"the run store already holds run {request_id!r}: "
            f"resume it with 'spincycle-jobs chain resume {request_id}', or give the chain another request id"
        )
        #: The request id.
        self.request_id = request_id

    def __reduce__(self) -> tuple[type[RunExistsError], tuple[str]]:
        return (type(self), (self.request_id,))


class RunBusyError(StoreError):
    """Another live process drives the run.

    :param request_id: the run.
    :param host: the host of the process that holds it.
    :param pid: that process's id.
    """

    def __init__(self, request_id: str, host: str, pid: int) -> None:
        super().__init__(f"run {request_id!r} is being driven by process {pid} on host {host!r}")
        #: The run.
        self.request_id = request_id
        #: The host of the process that holds the run.
        self.host = host
        #: That process's id.
        self.pid = pid

    def __reduce__(self) -> tuple[type[RunBusyError], tuple[str, str, int]]:
        return (type(self), (self.request_id, self.host, self.pid))


class LeaseLostError(StoreError):
    """A driver wrote under a lease it no longer holds (another process took the run over)."""


class SchemaVersionError(StoreError):
    """The store was written by a newer release: it is never downgraded.

    :param found: the store's schema version.
    :param supported: the newest version this release knows.
    """

    def __init__(self, found: int, supported: int) -> None:
        super().__init__(
            f"the run store has schema version {found}, newer than the {supported} this release of "
            "spincycle-jobs knows: upgrade spincycle-jobs to use it"
        )
        #: The store's schema version.
        self.found = found
        #: The newest version this release knows.
        self.supported = supported

    def __reduce__(self) -> tuple[type[SchemaVersionError], tuple[int, int]]:
        return (type(self), (self.found, self.supported))


@final
@attrs.frozen
class Owner:
    """The process that drives a run: what :meth:`Store.claim` records and every driver write names."""

    #: The host name.
    host: str
    #: The process id.
    pid: int
    #: A token unique to this claim, so that a reused pid never passes for the old driver.
    token: str

    @classmethod
    def here(cls) -> Owner:
        """Return this process, with a new token."""
        return cls(socket.gethostname(), os.getpid(), os.urandom(16).hex())


@final
@attrs.frozen
class RunInfo:
    """A run as the store holds it."""

    #: The chain's request id, the run's key.
    request_id: str
    #: ``PENDING`` (recorded, never driven), ``RUNNING``, ``COMPLETE``, ``FAIL`` or ``STOPPED``.
    state: State
    #: When the run was recorded.
    created: float
    #: When it was first driven, or ``None``.
    started: float | None
    #: When it ended, or ``None`` while it runs.
    finished: float | None
    #: The host of the process that drives (or last drove) it; ``""`` before.
    host: str
    #: That process's id; 0 before.
    pid: int
    #: The executor's name (``"thread"``, ``"dask"``, ...).
    executor: str
    #: How many jobs the chain has.
    jobs_total: int
    #: How many of them have ended, in any state.
    jobs_finished: int
    #: How many times the run was driven: 1 for the first, one more per resume.
    drive: int
    #: The driver's last heartbeat, or ``None``.
    heartbeat: float | None
    #: Whether ``chain stop`` asked the run to stop.
    stop_requested: bool
    #: ``RUNNING`` but its driving process is gone: it can be resumed.
    lost: bool


@final
@attrs.frozen
class JobInfo:
    """One job of a run, as it stands."""

    #: The run's request id.
    request_id: str
    #: The job's id in the chain.
    job_id: str
    #: The job type.
    type: str
    #: The job name.
    name: str
    #: The ids of the jobs it runs after.
    after: tuple[str, ...]
    #: Its state: ``PENDING`` until it starts.
    state: State
    #: Tries started in the run's last drive.
    tries: int
    #: When its last try started, or ``None``.
    started: float | None
    #: When it ended, or ``None``.
    finished: float | None
    #: The last try's error, ``"Type: message"``, or ``None``.
    error: str | None
    #: Its running try's last sampled ``status()``, ``""`` when none.
    status: str
    #: When that status was sampled, or ``None``.
    status_at: float | None


@final
@wire("log", 1, 0)
@attrs.frozen
class LogEntry:
    """The job log entry of one try (Spin Cycle's ``proto.JobLog``).

    The store keeps it as a wire record, ``spincycle-jobs/log/1.0``: a field a
    newer release adds is ignored here, a record of another major version
    is refused.
    """

    #: The run's request id.
    request_id: str
    #: The job's id in the chain.
    job_id: str
    #: Which drive of the run the try belongs to (1 for the first run, one more per resume).
    drive: int
    #: Which try of the job in that drive, counted from 1.
    try_number: int
    #: The job type.
    type: str
    #: The job name.
    name: str
    #: When the try started.
    started: float
    #: When it ended, or ``None`` while it runs.
    finished: float | None = None
    #: ``RUNNING`` while it runs, then the state it ended in.
    state: State = State.RUNNING
    #: The job's exit code.
    exit: int = 0
    #: ``"Type: message"``, or ``None``.
    error: str | None = None
    #: The qualified name of the error's type, or ``None``.
    error_type: str | None = None
    #: The formatted traceback of an exception the try raised, or ``None``.
    traceback: str | None = None
    #: The job's output.
    stdout: str = ""
    #: The job's error output.
    stderr: str = ""
    #: The host the try ran on.
    host: str = ""
    #: The process id it ran in.
    pid: int = 0
    #: The Dask worker's address, on Dask; else ``None``.
    worker: str | None = None


class Store(abc.ABC):
    """A run store; get one with :func:`open_store`. Safe to use from many threads.

    Every write is one transaction: a process killed at any moment leaves
    a store that reads, with every write before the kill in it.
    """

    #: The store's URL, with any password replaced by ``***``: safe to print.
    url: str

    # -- the driver's side --

    @abc.abstractmethod
    def create_run(self, chain: Chain, job_data: Mapping[str, Any], *, executor: str) -> RunInfo:
        """Record a new run of ``chain``, ``PENDING``, with the job data it starts from.

        The chain's jobs are recorded as the chain records them (a resumed
        document's ``COMPLETE`` jobs stay ``COMPLETE``, with their job data).

        :raises RunExistsError: when the store holds the request id already.
        """

    @abc.abstractmethod
    def claim(self, request_id: str, owner: Owner, *, executor: str) -> RunInfo:
        """Take the lease of a run to drive it: a new or lost run, or one that ended ``FAIL`` or ``STOPPED``.

        Counts one more drive, sets the run ``RUNNING`` with ``owner`` as its
        host and pid, and ends as ``FAIL`` ("its driver was lost") the log
        entries a lost driver left ``RUNNING``; jobs not ``COMPLETE`` go back
        to ``PENDING``, with 0 tries.

        :raises RunNotFoundError: for an unknown request id.
        :raises RunBusyError: while another live process holds the lease.
        """

    @abc.abstractmethod
    def heartbeat(self, request_id: str, owner: Owner) -> bool:
        """Renew the lease; return whether ``chain stop`` asked the run to stop.

        :raises LeaseLostError: when ``owner`` no longer holds the lease.
        """

    @abc.abstractmethod
    def try_started(self, owner: Owner, entry: LogEntry) -> None:
        """Record that a try started: its log entry, and its job ``RUNNING`` with that many tries."""

    @abc.abstractmethod
    def try_ended(
        self,
        owner: Owner,
        entry: LogEntry,
        *,
        job_state: State | None = None,
        job_data: Mapping[str, Any] | None = None,
        finished: int | None = None,
    ) -> None:
        """Record how a try ended, and with ``job_state`` that its job ended too, in one transaction.

        :param entry: the try's log entry, as it ended (replaces the one
            :meth:`try_started` wrote).
        :param job_state: the state the job ended in, when this try ends it;
            ``None`` when the job waits for another try.
        :param job_data: the job data the job left, recorded with a job that ended.
        :param finished: for a ``COMPLETE`` job, its place among the run's
            completed jobs (job data merges in this order).
        """

    @abc.abstractmethod
    def job_ended(self, owner: Owner, request_id: str, job_id: str, state: State, error: str | None) -> None:
        """Record that a job ended without a try ending (stopped while waiting to retry)."""

    @abc.abstractmethod
    def save_statuses(self, owner: Owner, request_id: str, statuses: Mapping[str, str]) -> None:
        """Record the sampled ``status()`` of running jobs, by job id."""

    @abc.abstractmethod
    def finish_run(self, owner: Owner, request_id: str, state: State) -> None:
        """Record the run's final state and end time, and give the lease back."""

    @abc.abstractmethod
    def chain(self, request_id: str) -> Chain:
        """Return the run's chain with each job's recorded state, tries, job data and error (to resume it).

        :raises RunNotFoundError: for an unknown request id.
        """

    @abc.abstractmethod
    def job_data(self, request_id: str) -> dict[str, Any]:
        """Return the job data the run started from.

        :raises RunNotFoundError: for an unknown request id.
        """

    # -- the operator's side --

    @abc.abstractmethod
    def request_stop(self, request_id: str) -> RunInfo:
        """Ask the run's driver to stop it; it does within 2 s of its next heartbeat.

        :raises RunNotFoundError: for an unknown request id.
        """

    @abc.abstractmethod
    def run(self, request_id: str) -> RunInfo:
        """Return one run.

        :raises RunNotFoundError: for an unknown request id.
        """

    @abc.abstractmethod
    def runs(self, *, state: State | None = None, limit: int = 50, offset: int = 0) -> list[RunInfo]:
        """Return runs, newest first (by ``created``, then request id), filtered by ``state`` when given."""

    @abc.abstractmethod
    def count_runs(self, *, state: State | None = None) -> int:
        """Return how many runs :meth:`runs` would page through."""

    @abc.abstractmethod
    def running(self) -> list[RunInfo]:
        """Return the runs in state ``RUNNING``, lost ones included (``lost`` says which), newest first."""

    @abc.abstractmethod
    def jobs(self, request_id: str, *, states: Sequence[State] | None = None) -> list[JobInfo]:
        """Return the run's jobs in the chain's order, only those in ``states`` when given.

        :raises RunNotFoundError: for an unknown request id.
        """

    @abc.abstractmethod
    def log(self, request_id: str, job_id: str | None = None) -> list[LogEntry]:
        """Return the job log of a run (of one job), by drive, job order, then try.

        :raises RunNotFoundError: for an unknown request id.
        """

    def transaction(self) -> contextlib.AbstractContextManager[object]:
        """Group the writes this thread makes inside the ``with`` block into one transaction.

        The driver records what happens at one moment (a try that ended and
        the tries it let start) together. The default groups nothing.
        """
        return contextlib.nullcontext()

    @abc.abstractmethod
    def close(self) -> None:
        """Close the store's connections; harmless to call again."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_url() -> str:
    """Return the store's URL when none is given: ``SPINCYCLE_JOBS_STORE``, else a SQLite file.

    The file is ``spincycle-jobs/runs.sqlite3`` in ``$XDG_STATE_HOME``
    (``~/.local/state`` when unset).
    """
    url = os.environ.get("SPINCYCLE_JOBS_STORE")
    if url:
        return url
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")  # noqa: PTH111, PTH118
    return "sqlite:///" + os.path.join(base, "spincycle-jobs", "runs.sqlite3")  # noqa: PTH118


def redact(url: str) -> str:
    """Return ``url`` with any password replaced by ``***``: the user's, and a ``password=`` parameter."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    rest, question, query = rest.partition("?")
    if question:
        params = [param.partition("=") for param in query.split("&")]
        query = "&".join(f"{k}=***" if k.lower() == "password" and eq else k + eq + v for k, eq, v in params)
    netloc, slash, path = rest.partition("/")
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        rest = f"{userinfo.split(':', 1)[0]}:***@{hostport}{slash}{path}"
    return f"{scheme}://{rest}{question}{query}"


def open_store(url: str | None = None) -> Store:
    """Open the run store at ``url``, creating or upgrading it.

    ``None`` is ``SPINCYCLE_JOBS_STORE``, else the SQLite file in
    ``$XDG_STATE_HOME/spincycle-jobs`` (``~/.local/state`` when unset).

    ``sqlite:///PATH`` (an absolute path: ``sqlite:////tmp/runs.sqlite3``,
    or ``sqlite:///relative/runs.sqlite3``) and ``postgresql://...`` (extra
    ``spincycle-jobs[postgres]``).

    :raises StoreError: for a URL of another kind, a store that cannot be
        opened or written, or one of a newer schema (:class:`SchemaVersionError`).
    """
    url = url or default_url()
    scheme = url.partition("://")[0].lower()
    if scheme == "sqlite":
        from ._sqlite import SQLiteStore  # noqa: PLC0415 - only the backend asked for

        return SQLiteStore(url)
    if scheme in {"postgresql", "postgres"}:
        from ._postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore(url)
    msg = f"run store URL {redact(url)!r}: expected sqlite:///PATH or postgresql://..."
    raise StoreError(msg)
