"""Job chains, the Job Runner's side: drive a chain's state machine, its executor and its run store.

The chain's logic (when a job may start, what job data it gets, tries,
failure, stop and resume) is :class:`~._chainstate.ChainState`'s, a pure
state machine. :class:`ChainRunner` feeds it events (a try ended, a retry
came due, stop) under one lock and carries out what it returns: tries to
hand to the :class:`~._executor.Executor`, tries to stop, ends to record
in the run store and report.
"""

from __future__ import annotations

import math
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import final

import attrs

from ._chain import Chain
from ._chain import ChainError
from ._chainstate import Action
from ._chainstate import ChainState
from ._chainstate import JobEnded
from ._chainstate import Start
from ._chainstate import StopTry
from ._chainstate import TryEnded
from ._executor import Executor
from ._executor import Outcome
from ._executor import Try
from ._jsondata import copy_data
from ._return import Return
from ._runner import RunResult
from ._state import State

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from ._factory import Factory
    from ._store import Owner
    from ._store import Store

__all__ = ["ChainJobStatus", "ChainResult", "ChainRunner"]

#: Seconds between the heartbeats of a run recorded in a store; ``chain stop`` is seen at the next one.
HEARTBEAT: Final = 1.0
#: Seconds between two samples of the running jobs' ``status()`` into the store.
STATUS_EVERY: Final = 2.0


@final
@attrs.frozen
class ChainResult:
    """How a chain run ended."""

    #: ``COMPLETE`` when every job completed (even if the chain was stopped);
    #: else ``STOPPED`` when :meth:`ChainRunner.stop` was called; else ``FAIL``.
    state: State
    #: Every job's result by id; a job that never started is ``PENDING`` with 0
    #: tries, and a completed job a resumed run skipped is ``COMPLETE`` with 0.
    jobs: Mapping[str, RunResult]
    #: The job data given to ``run``, updated with every completed job's final
    #: job data in the order they completed.
    job_data: dict[str, Any]
    #: The chain with each job's state, tries and job data recorded; save it
    #: with :meth:`Chain.to_json` to resume it later.
    chain: Chain


@final
@attrs.frozen
class ChainJobStatus:
    """One running job, as :meth:`ChainRunner.status` reports it, with its id, ``type``, name and tries."""

    #: The job's id in the chain.
    id: str
    #: The job type.
    type: str
    #: The job name.
    name: str
    #: Tries started so far.
    tries: int
    #: The job's own ``status()``, or what the chain runner is doing with it.
    status: str


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        msg = f"executor must implement the Executor protocol, got {type(executor).__name__}"
        raise TypeError(msg)


def _executor_name(executor: Executor) -> str:
    """Return the name the run store records for an executor: its entry-point name (see ``_executors``)."""
    from ._executors import name_of  # noqa: PLC0415 - only runs that are recorded

    return name_of(executor)


class ChainRunner:
    """Runs a :class:`~spincycle_jobs.Chain` the way Spin Cycle's Job Runner does.

    A job starts as soon as every job in its ``after`` has completed; jobs
    whose prerequisites are met run at the same time. A first job gets a
    copy of the job data given to :meth:`run`; any other job gets that
    updated with the final job data of each of its ``after`` jobs, in the
    order they completed. Each job gets ``1 + retry`` tries, ``retry_wait``
    seconds apart, each try starting from the same job data; a job that
    does not complete keeps every job after it from starting, while the
    others go on. Completed jobs recorded in the chain (a resumed run) are
    skipped, and their recorded job data used.

    With a ``store``, the run is recorded as it goes (SPEC section 6): the
    run and its lease before any job starts, each try's start and end (its
    job log entry) and each job's end as they happen, each in a
    transaction, a heartbeat every second (at which a ``chain stop`` from
    another process is seen) and the running jobs' ``status()`` every 2
    seconds. A write that fails stops the run, and :meth:`run` raises it:
    a job whose end was not recorded is never reported ``COMPLETE``.

    :param chain: the chain to run.
    :param executor: where tries run; a new :class:`ThreadExecutor`, closed
        when :meth:`run` returns, when ``None``.
    :param factory: makes the jobs of that new :class:`ThreadExecutor`; an
        executor given here makes them with its own.
    :param stop_timeout: seconds :meth:`run` waits, after :meth:`stop`, for
        running jobs to return; those still running are then marked ``FAIL``.
    :param on_job_end: called with a job's id whenever a job ends, one call
        at a time; it may call :meth:`snapshot` (to save the chain), and
        nothing else of this runner. If it raises, the chain is stopped and
        :meth:`run` raises that error once the jobs have ended.
    :param store: the run store to record the run in (see :func:`~spincycle_jobs.open_store`).
    :raises ValueError: for a negative or infinite ``stop_timeout``.
    :raises TypeError: for an ``executor`` that is not an :class:`Executor`.

    .. versionchanged:: 0.2
       ``on_job_end`` gets the job's id alone; :meth:`snapshot` gives the chain.
    """

    def __init__(
        self,
        chain: Chain,
        *,
        executor: Executor | None = None,
        factory: Factory | None = None,
        stop_timeout: float = 10.0,
        on_job_end: Callable[[str], None] | None = None,
        store: Store | None = None,
    ) -> None:
        if not 0 <= stop_timeout < math.inf:
            msg = f"stop_timeout must be a finite number >= 0, got {stop_timeout!r}"
            raise ValueError(msg)
        _check_executor(executor)
        #: The chain this runner runs.
        self.chain: Final = chain
        self._executor = executor
        self._factory = factory
        self._stop_timeout = stop_timeout
        self._on_job_end = on_job_end
        self._store = store
        self._resuming = False
        self._owner: Owner | None = None
        self._drive = 0
        self._cond = threading.Condition(threading.RLock())
        self._stop_event = threading.Event()
        self._stopped_at = 0.0
        self._ran = False
        self._ended = threading.Event()
        self._state = ChainState(chain, {})
        self._returns: dict[str, list[Return]] = {job_id: [] for job_id in chain.jobs}
        self._started_at: dict[str, float] = {}  # by try key: when it was handed out
        self._error: Exception | None = None  # from on_job_end or the store: raised by run()
        self._heart: threading.Thread | None = None  # the heartbeat of a recorded run

    @classmethod
    def resume(
        cls,
        store: Store,
        request_id: str,
        *,
        executor: Executor | None = None,
        factory: Factory | None = None,
        stop_timeout: float = 10.0,
        on_job_end: Callable[[str], None] | None = None,
    ) -> ChainRunner:
        """Return a runner that runs on a run recorded in ``store``, as section 5's resume does.

        Its :meth:`run` takes the run's lease (a lost run, or one that ended
        ``FAIL`` or ``STOPPED``), skips the jobs recorded ``COMPLETE`` and
        starts from the job data the run started from.

        :raises RunNotFoundError: for a request id the store does not hold.
        """
        runner = cls(
            store.chain(request_id),
            executor=executor,
            factory=factory,
            stop_timeout=stop_timeout,
            on_job_end=on_job_end,
            store=store,
        )
        runner._resuming = True
        return runner

    def run(self, job_data: dict[str, Any] | None = None) -> ChainResult:
        """Run the chain until every job that can run has ended, or until stopped.

        :param job_data: the job data the first jobs start with (JSON data);
            a resumed run starts from the recorded job data when ``None``.
        :raises ChainError: for job data that is not JSON data, or a second
            call: a runner runs its chain once.
        :raises StoreError: before any job starts, when the run cannot be
            recorded: :class:`~spincycle_jobs.RunExistsError` for a request
            id the store holds already, :class:`~spincycle_jobs.RunBusyError`
            for a run another live process drives; during the run, when a
            write fails (the run is stopped first).
        """
        with self._cond:
            if self._ran:
                msg = f"chain {self.chain.request_id!r} was already run by this ChainRunner: make another"
                raise ChainError(msg)
            self._ran = True
        if job_data is None and self._resuming and self._store is not None:
            job_data = self._store.job_data(self.chain.request_id)
        try:
            base = copy_data(job_data or {})
        except (TypeError, ValueError) as err:
            msg = f"the job data given to run chain {self.chain.request_id!r} are not JSON data: {err}"
            raise ChainError(msg) from None
        self._state = ChainState(self.chain, base)
        owned = self._executor is None
        if self._executor is None:
            from ._threadexec import ThreadExecutor  # noqa: PLC0415 - loaded with the first chain run

            self._executor = ThreadExecutor(self._factory)
        try:
            self._claim(base)
            self._drive_run()
        finally:
            self._ended.set()
            if owned:
                self._executor.close()
        self._finish()
        if self._error is not None:
            raise self._error
        return self._result()

    def stop(self) -> None:
        """Stop the chain: no job starts any more, and every running job's ``stop()`` is called at once.

        Safe from any thread, a signal handler included, and harmless to call
        again; :meth:`run` returns once the running jobs have returned, or
        after ``stop_timeout``.
        """
        if self._stop_event.is_set():
            return
        self._stopped_at = time.monotonic()
        self._stop_event.set()
        # Never wait for the lock here: a signal handler may have interrupted its holder.
        threading.Thread(target=self._stop_now, name="spincycle-jobs-stop", daemon=True).start()

    def status(self) -> list[ChainJobStatus]:
        """Return one record per running job (waiting to retry included), in the chain's order.

        Safe from any thread.
        """
        with self._cond:
            running = [
                (job.spec, job.try_, job.tries)
                for job in self._state.jobs()
                if job.try_ is not None or job.due is not None
            ]
        records = []
        for spec, try_, tries in running:
            if try_ is None:
                text = f"waiting to start try {tries + 1}"
            else:
                try:
                    text = self._executor.status(try_) if self._executor is not None else ""
                except Exception as err:  # noqa: BLE001 - a broken executor must not break the caller
                    text = f"status() raised {type(err).__name__}: {err}"
            records.append(ChainJobStatus(spec.id, spec.type, spec.name, tries, text))
        return records

    def snapshot(self) -> Chain:
        """Return the chain with each job's state, tries and job data as they stand now.

        Safe from any thread, and from ``on_job_end``; save it with
        :meth:`Chain.to_json` to resume from it.
        """
        with self._cond:
            return self._state.snapshot()

    # -- the store --

    def _claim(self, base: dict[str, Any]) -> None:
        """Record the run and take its lease, before any job starts."""
        if self._store is None:
            return
        from ._store import Owner  # noqa: PLC0415 - only a recorded run needs the store

        assert self._executor is not None  # noqa: S101 - set by run()
        name = _executor_name(self._executor)
        self._owner = Owner.here()
        if not self._resuming:
            self._store.create_run(self.chain, base, executor=name)
        self._drive = self._store.claim(self.chain.request_id, self._owner, executor=name).drive
        self._heart = threading.Thread(target=self._beat, name="spincycle-jobs-heartbeat", daemon=True)
        self._heart.start()

    def _beat(self) -> None:
        """Renew the lease every second, see ``chain stop``, sample the statuses every 2 s."""
        store, owner, request_id = self._store, self._owner, self.chain.request_id
        assert store is not None  # noqa: S101 - started by _claim
        assert owner is not None  # noqa: S101
        sampled = time.monotonic()
        while not self._ended.wait(HEARTBEAT):
            try:
                if store.heartbeat(request_id, owner):
                    self.stop()
                if time.monotonic() - sampled >= STATUS_EVERY:
                    sampled = time.monotonic()
                    statuses = {job.id: job.status for job in self.status()}
                    store.save_statuses(owner, request_id, statuses)
            except Exception as err:  # noqa: BLE001 - the run stops, and run() raises it
                self._fail(err)
                return

    def _record(self, action: Action) -> None:
        """Write one end or start to the store; under the lock, so writes keep the order of events."""
        store, owner = self._store, self._owner
        if store is None or owner is None or self._error is not None:
            return
        from ._store import LogEntry  # noqa: PLC0415 - loaded with the store

        request_id = self.chain.request_id
        if isinstance(action, Start):
            a = action.try_
            entry = LogEntry(
                request_id, a.job_id, self._drive, a.try_number, a.record.type, a.record.name, time.time()
            )
            store.try_started(owner, entry)
        elif isinstance(action, TryEnded):
            a, o = action.try_, action.outcome
            entry = LogEntry(
                request_id,
                a.job_id,
                self._drive,
                a.try_number,
                a.record.type,
                a.record.name,
                o.started or self._started_at.get(a.key, time.time()),
                o.finished or time.time(),
                o.state,
                o.exit,
                o.error,
                o.error_type,
                o.traceback,
                o.stdout,
                o.stderr,
                o.host,
                o.pid,
                o.worker,
            )
            data = o.job_data if action.job_state is not None else None
            store.try_ended(owner, entry, job_state=action.job_state, job_data=data, finished=action.finished)
        elif isinstance(action, JobEnded):
            store.job_ended(owner, request_id, action.job_id, action.state, action.error)

    def _finish(self) -> None:
        """Record the run's end and give the lease back, once the heartbeat has ended."""
        if self._store is None or self._owner is None:
            return
        if self._heart is not None:
            self._heart.join()  # woken by _ended: it is at most in one call to the store
        try:
            self._store.finish_run(self._owner, self.chain.request_id, self._state.final_state())
        except Exception as err:  # noqa: BLE001 - raised by run(), unless an earlier error is
            if self._error is None:
                self._error = err

    # -- carrying out what the state machine asks; _apply runs under self._cond --

    def _apply(self, actions: list[Action]) -> tuple[list[Try], list[Try]]:
        """Record and report what ended; return the tries to start and those to stop, for outside the lock."""
        starts, stops = [], []
        events = [action for action in actions if not isinstance(action, StopTry)]
        if events and self._store is not None and self._error is None:
            try:  # what happened at one moment is recorded in one transaction
                with self._store.transaction():
                    for event in events:
                        self._record(event)
            except Exception as err:  # noqa: BLE001 - the run stops, and run() raises it
                self._fail(err)
        for action in actions:
            if isinstance(action, Start):
                self._started_at[action.try_.key] = time.time()
                starts.append(action.try_)
            elif isinstance(action, StopTry):
                stops.append(action.try_)
            else:
                self._ended_job(action)
        return starts, stops

    def _ended_job(self, action: TryEnded | JobEnded) -> None:
        if isinstance(action, TryEnded):
            o, job_id = action.outcome, action.try_.job_id
            self._started_at.pop(action.try_.key, None)
            error = None if o.error is None else ChainError(o.error, job_id, traceback=o.traceback)
            self._returns[job_id].append(Return(o.state, o.exit, error, o.stdout, o.stderr))
            if action.job_state is None:
                return
        else:
            job_id = action.job_id
            if action.state == State.FAIL:  # given up on after stop_timeout
                self._returns[job_id].append(Return(State.FAIL, 1, ChainError(str(action.error), job_id)))
        if self._on_job_end is not None and self._error is None:
            try:
                self._on_job_end(job_id)
            except Exception as err:  # noqa: BLE001 - raised again by run(), after the jobs have ended
                self._fail(err)

    def _fail(self, err: Exception) -> None:
        """Keep the first error of a callback or the store, and stop the chain."""
        with self._cond:
            if self._error is None:
                self._error = err
        self.stop()

    def _launch(self, tries: list[Try]) -> None:
        """Hand tries to the executor, outside the lock: ``done`` may come before ``start`` returns.

        The executor's acceptance of them all is then told to the state
        machine under one lock, so that many tries started together do not
        take turns with their own ends for the lock.
        """
        assert self._executor is not None  # noqa: S101 - set by run()
        start_all = getattr(self._executor, "start_all", None)
        if start_all is not None and len(tries) > 1 and not self._stop_event.is_set():
            try:  # one call for all: an executor's lock taken once, not once per try
                start_all(tries, self._done)
                tries, handed = [], tries
            except Exception:  # noqa: BLE001 - none started: each is tried alone below, and fails alone
                handed = []
        else:
            handed = []
        for try_ in tries:
            if self._stop_event.is_set():
                with self._cond:
                    self._apply(self._state.withdraw(try_))
                    self._cond.notify_all()
                continue
            try:
                self._executor.start(try_, self._done)
            except Exception as err:  # noqa: BLE001 - a try that cannot start fails like any other
                self._done(try_, Outcome.failed(f"cannot start the try: {type(err).__name__}: {err}"))
                continue
            handed.append(try_)
        if handed:
            with self._cond:
                stops = [s for a in handed for s in self._apply(self._state.handed(a))[1]]
            self._stop_tries(stops)

    def _done(self, try_: Try, outcome: Outcome) -> None:
        """Take the executor's word that a try ended, in any thread: record the end, start what may start."""
        with self._cond:
            starts, stops = self._apply(self._state.ended(try_, outcome, time.monotonic()))
            state = self._state
            if not state.running or state.next_due is not None or self._stop_event.is_set():
                self._cond.notify_all()  # the driving thread waits for these alone: wake it for nothing else
        self._launch(starts)
        self._stop_tries(stops)

    def _stop_now(self) -> None:
        with self._cond:
            _starts, stops = self._apply(self._state.stop())
            self._cond.notify_all()
        self._stop_tries(stops)

    def _stop_tries(self, tries: list[Try]) -> None:
        """Call the executor's ``stop()`` for each try, each in a thread, so all at once."""
        executor = self._executor
        for try_ in tries:
            if executor is not None:
                threading.Thread(target=executor.stop, args=(try_,), daemon=True).start()

    def _drive_run(self) -> None:
        """Start the first tries, then those that come due, until the chain ends; then, if stopped, wait."""
        with self._cond:
            starts, _stops = self._apply(self._state.begin())
        self._launch(starts)
        while True:
            with self._cond:
                starts = []
                while not starts and not self._stop_event.is_set() and self._state.running:
                    now = time.monotonic()
                    starts, _stops = self._apply(self._state.due(now))
                    if not starts:
                        due = self._state.next_due
                        self._cond.wait(None if due is None else due - now)
            if not starts:
                break
            self._launch(starts)
        if self._stop_event.is_set():
            self._wait_for_stopped()

    def _wait_for_stopped(self) -> None:
        """Wait up to ``stop_timeout`` after :meth:`stop` for running tries; fail those that go on."""
        self._stop_now()  # the stop thread may not have run yet: the state machine stops once
        with self._cond:
            deadline = self._stopped_at + self._stop_timeout
            while self._state.in_flight and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            self._apply(self._state.give_up(f"did not return within {self._stop_timeout:g}s of stop()"))

    # -- what run() returns --

    def _result(self) -> ChainResult:
        with self._cond:
            results = {
                job.spec.id: RunResult(
                    job.state, 0 if job.skipped else job.tries, tuple(self._returns[job.spec.id])
                )
                for job in self._state.jobs()
            }
            data = copy_data(
                self._state.job_data()
            )  # the caller's to change: shares nothing with the chain's
            return ChainResult(self._state.final_state(), results, data, self._state.snapshot())
