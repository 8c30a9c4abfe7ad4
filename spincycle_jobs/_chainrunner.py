"""Job chains, the Job Runner's side: run a chain's jobs in dependency order, wherever an executor puts them.

This module holds the chain's logic (when a job may start, what job data
it gets, tries, failure, stop and resume); an :class:`~._executor.Executor`
only runs tries and reports how they ended.
"""

from __future__ import annotations

import heapq
import math
import threading
import time
import types
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import final

import attrs

from ._chain import Chain
from ._chain import ChainError
from ._chain import ChainJob
from ._executor import Attempt
from ._executor import Executor
from ._executor import Outcome
from ._executor import copy_data
from ._return import Return
from ._runner import RunResult
from ._state import State

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable
    from collections.abc import Mapping

    from ._factory import Factory

__all__ = ["ChainJobStatus", "ChainResult", "ChainRunner"]


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


@attrs.define
class _Job:
    """Where one job of a running chain stands; changed only under the runner's lock."""

    spec: ChainJob
    state: State = State.PENDING
    tries: int = 0
    returns: list[Return] = attrs.Factory(list)
    attempt: Attempt | None = None  # the running try
    due: float | None = None  # when the next try starts, while waiting to retry
    input: dict[str, Any] | None = None  # the job data every try starts from
    job_data: dict[str, Any] | None = None  # as the last try left it
    error: str | None = None
    finished: int | None = None
    skipped: bool = False


def _check_executor(executor: object) -> None:
    if executor is not None and not isinstance(executor, Executor):
        msg = f"executor must implement the Executor protocol, got {type(executor).__name__}"
        raise TypeError(msg)


#: The states a job can end in; a try that returns another state fails the job.
_ENDS = frozenset({State.COMPLETE, State.FAIL, State.TIMEOUT, State.STOPPED})


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

    The chain's bookkeeping happens in whichever thread the executor
    reports a try's end from, so that the next job starts without a trip
    through another thread.

    :param chain: the chain to run.
    :param executor: where tries run; a new :class:`ThreadExecutor`, closed
        when :meth:`run` returns, when ``None``.
    :param factory: the factory of that new :class:`ThreadExecutor`; an
        executor given here has its own.
    :param stop_timeout: seconds :meth:`run` waits, after :meth:`stop`, for
        running jobs to return; those still running are then marked ``FAIL``.
    :param on_job_end: called with the chain as it stands (the job's state
        recorded) and the job's id whenever a job ends, one call at a time;
        it must not call this runner. If it raises, the chain is stopped and
        :meth:`run` raises that error once the jobs have ended.
    :raises ValueError: for a negative ``stop_timeout``, or both
        ``executor`` and ``factory``.
    :raises TypeError: for an ``executor`` that is not an :class:`Executor`.
    """

    def __init__(
        self,
        chain: Chain,
        *,
        executor: Executor | None = None,
        factory: Factory | None = None,
        stop_timeout: float = 10.0,
        on_job_end: Callable[[Chain, str], None] | None = None,
    ) -> None:
        if not 0 <= stop_timeout < math.inf:
            msg = f"stop_timeout must be a finite number >= 0, got {stop_timeout!r}"
            raise ValueError(msg)
        if executor is not None and factory is not None:
            msg = "give the factory to the executor, not to ChainRunner, when you give an executor"
            raise ValueError(msg)
        _check_executor(executor)
        #: The chain this runner runs.
        self.chain: Final = chain
        self._executor = executor
        self._factory = factory
        self._stop_timeout = stop_timeout
        self._on_job_end = on_job_end
        self._cond = threading.Condition(threading.Lock())
        self._stopped = threading.Event()
        self._stopped_at = 0.0
        self._ran = False
        self._jobs = {job_id: _Job(spec) for job_id, spec in chain.jobs.items()}
        self._then: dict[str, list[str]] = {job_id: [] for job_id in chain.jobs}
        for job in chain.jobs.values():
            for before in job.after:
                self._then[before].append(job.id)
        self._base: dict[str, Any] = {}
        self._completed = 0
        self._in_flight = 0  # tries handed out and not yet ended
        self._waiting: list[tuple[float, str]] = []  # (when, job id) of jobs waiting to retry
        self._handed: set[str] = set()  # keys of tries the executor has accepted
        self._stop_sent: set[str] = set()  # keys of tries the executor was asked to stop
        self._callback_error: Exception | None = None

    def run(self, job_data: dict[str, Any] | None = None) -> ChainResult:
        """Run the chain until every job that can run has ended, or until stopped.

        :param job_data: the job data the first jobs start with (JSON data).
        :raises ChainError: for job data that is not JSON data, or a second
            call: a runner runs its chain once.
        """
        with self._cond:
            if self._ran:
                msg = f"chain {self.chain.request_id!r} was already run by this ChainRunner: make another"
                raise ChainError(msg)
            self._ran = True
        try:
            self._base = copy_data(job_data or {})
        except (TypeError, ValueError) as err:
            msg = f"the job data given to run chain {self.chain.request_id!r} are not JSON data: {err}"
            raise ChainError(msg) from None
        owned = self._executor is None
        if self._executor is None:
            from ._threadexec import ThreadExecutor  # noqa: PLC0415 - loaded with the first chain run

            self._executor = ThreadExecutor(self._factory)
        try:
            with self._cond:
                self._skip_completed()
                first = [self._next_try(job) for job in self._jobs.values() if self._startable(job)]
            self._launch(first)
            self._wait_for_the_end()
        finally:
            if owned:
                self._executor.close()
        if self._callback_error is not None:
            raise self._callback_error
        return self._result()

    def stop(self) -> None:
        """Stop the chain: no job starts any more, and every running job's ``stop()`` is called at once.

        Safe from any thread, a signal handler included, and harmless to call
        again; :meth:`run` returns once the running jobs have returned, or
        after ``stop_timeout``.
        """
        if self._stopped.is_set():
            return
        self._stopped_at = time.monotonic()
        self._stopped.set()
        # Never wait for the lock here: a signal handler may have interrupted its holder.
        threading.Thread(target=self._stop_running, name="spincycle-jobs-stop", daemon=True).start()

    def status(self) -> list[ChainJobStatus]:
        """Return one record per running job (waiting to retry included), in the chain's order.

        Safe from any thread.
        """
        with self._cond:
            running = [
                (job.spec, job.attempt, job.tries)
                for job in self._jobs.values()
                if job.attempt is not None or job.due is not None
            ]
        records = []
        for spec, attempt, tries in running:
            if attempt is None:
                text = f"waiting to start try {tries + 1}"
            else:
                try:
                    text = self._executor.status(attempt) if self._executor is not None else ""
                except Exception as err:  # noqa: BLE001 - a broken executor must not break the caller
                    text = f"status() raised {type(err).__name__}: {err}"
            records.append(ChainJobStatus(spec.id, spec.type, spec.name, tries, text))
        return records

    # -- the chain's logic; the methods named here run under self._cond --

    def _skip_completed(self) -> None:
        """Completed jobs recorded in the chain are done already: a resumed run skips them."""
        done = [job for job in self.chain.jobs.values() if job.state == State.COMPLETE]
        for spec in sorted(done, key=lambda job: job.finished or 0):
            job = self._jobs[spec.id]
            self._completed += 1
            job.state, job.tries, job.skipped = State.COMPLETE, spec.tries, True
            job.finished = self._completed
            job.job_data = copy_data(spec.job_data or {})

    def _startable(self, job: _Job) -> bool:
        if self._stopped.is_set() or job.state != State.PENDING:
            return False
        return all(self._jobs[before].state == State.COMPLETE for before in job.spec.after)

    def _next_try(self, job: _Job) -> Attempt:
        """Count the job's next try as started and return it, for :meth:`_launch`."""
        if job.input is None:  # executors give every try its own deep copy
            job.input = self._merged(self._jobs[before] for before in job.spec.after)
        job.tries += 1
        job.attempt = Attempt(self.chain.request_id, job.spec.id, job.spec.record, job.input, job.tries)
        job.state, job.due = State.RUNNING, None
        self._in_flight += 1
        return job.attempt

    def _ended(self, attempt: Attempt, outcome: Outcome) -> list[Attempt]:
        """Record how a try ended; return the tries to start now."""
        job = self._jobs[attempt.job_id]
        if job.attempt is not attempt:
            return []  # a try given up on after stop_timeout, ending late
        self._in_flight -= 1
        error = None if outcome.error is None else ChainError(outcome.error, attempt.job_id)
        job.attempt = None
        job.returns.append(Return(outcome.state, outcome.exit, error, outcome.stdout, outcome.stderr))
        # The outcome is the executor's to give: its job data is this runner's now, and only read.
        job.job_data, job.error = outcome.job_data, outcome.error
        if self._stopped.is_set():
            self._end(job, State.COMPLETE if outcome.state == State.COMPLETE else State.STOPPED)
            return []
        if outcome.state == State.COMPLETE:
            self._end(job, State.COMPLETE, report=False)
            then = (self._jobs[job_id] for job_id in self._then[job.spec.id])
            starts = [self._next_try(after) for after in then if self._startable(after)]
            self._report(job)  # with the jobs after it recorded as RUNNING
            return starts
        if job.tries <= job.spec.retry and outcome.state != State.TIMEOUT:
            job.due = time.monotonic() + job.spec.retry_wait
            heapq.heappush(self._waiting, (job.due, job.spec.id))
            self._cond.notify_all()  # the thread in run() starts the next try when it is due
            return []
        self._end(job, outcome.state if outcome.state in _ENDS else State.FAIL)
        return []

    def _end(self, job: _Job, state: State, *, report: bool = True) -> None:
        job.state, job.due = state, None
        if state == State.COMPLETE:
            self._completed += 1
            job.finished = self._completed
        if report:
            self._report(job)

    def _report(self, job: _Job) -> None:
        """Call ``on_job_end`` for a job that ended; its error stops the chain."""
        if self._on_job_end is not None and self._callback_error is None:
            try:
                self._on_job_end(self._snapshot(), job.spec.id)
            except Exception as err:  # noqa: BLE001 - raised again by run(), after the jobs have ended
                self._callback_error = err
                self.stop()

    # -- the threads --

    def _launch(self, attempts: list[Attempt]) -> None:
        """Hand tries to the executor, outside the lock: ``done`` may come before ``start`` returns."""
        assert self._executor is not None  # noqa: S101 - set by run()
        for attempt in attempts:
            if self._stopped.is_set() and self._withdraw(attempt):
                continue
            try:
                self._executor.start(attempt, self._done)
            except Exception as err:  # noqa: BLE001 - a try that cannot start fails like any other
                self._done(attempt, Outcome.failed(f"cannot start the try: {type(err).__name__}: {err}"))
                continue
            with self._cond:
                self._handed.add(attempt.key)
                late = self._stopped.is_set() and attempt.key not in self._stop_sent
                late = late and self._jobs[attempt.job_id].attempt is attempt
                if late:
                    self._stop_sent.add(attempt.key)
            if late:  # stop() came between counting the try and handing it out
                self._executor.stop(attempt)

    def _withdraw(self, attempt: Attempt) -> bool:
        """Take back a try counted but not handed out when stop() came: it never started."""
        with self._cond:
            job = self._jobs[attempt.job_id]
            if job.attempt is not attempt:
                return True
            self._in_flight -= 1
            job.attempt, job.tries = None, job.tries - 1
            if job.tries:  # it was waiting to retry
                self._end(job, State.STOPPED)
            else:
                job.state = State.PENDING
            if not self._in_flight:
                self._cond.notify_all()
            return True

    def _done(self, attempt: Attempt, outcome: Outcome) -> None:
        """Take the executor's word that a try ended, in any thread: record the end, start what may start."""
        with self._cond:
            starts = self._ended(attempt, outcome)
            if not self._in_flight:
                self._cond.notify_all()
        self._launch(starts)

    def _stop_running(self) -> None:
        """Call ``stop()`` on every try handed out, each in a thread, so all at once."""
        with self._cond:
            attempts = [
                job.attempt
                for job in self._jobs.values()
                if job.attempt is not None and job.attempt.key in self._handed
            ]
            attempts = [a for a in attempts if a.key not in self._stop_sent]
            self._stop_sent.update(a.key for a in attempts)
            self._cond.notify_all()
        executor = self._executor
        for attempt in attempts:
            if executor is not None:
                threading.Thread(target=executor.stop, args=(attempt,), daemon=True).start()

    def _wait_for_the_end(self) -> None:
        """Start the retries that come due until the chain ends; then, if stopped, wait for the rest."""
        while due := self._due_tries():
            self._launch(due)
        if self._stopped.is_set():
            self._wait_for_stopped()

    def _due_tries(self) -> list[Attempt]:
        """Wait for retries to come due and return them; ``[]`` once nothing more runs, or stopped."""
        with self._cond:
            due: list[Attempt] = []
            while not due and not self._stopped.is_set() and (self._in_flight or self._waiting):
                now = time.monotonic()
                while self._waiting and self._waiting[0][0] <= now:
                    due.append(self._next_try(self._jobs[heapq.heappop(self._waiting)[1]]))
                if not due:
                    self._cond.wait(self._waiting[0][0] - now if self._waiting else None)
            return due

    def _wait_for_stopped(self) -> None:
        """Wait up to ``stop_timeout`` after :meth:`stop` for running tries; fail those that go on."""
        with self._cond:
            for _due, job_id in self._waiting:
                self._end(self._jobs[job_id], State.STOPPED)  # stopped while waiting to retry
            self._waiting.clear()
            deadline = self._stopped_at + self._stop_timeout
            while self._in_flight and (left := deadline - time.monotonic()) > 0:
                self._cond.wait(left)
            for job in self._jobs.values():
                if job.attempt is not None:
                    msg = f"job {job.spec.id!r} did not return within {self._stop_timeout:g}s of stop()"
                    self._in_flight -= 1
                    job.attempt, job.error = None, f"ChainError: {msg}"
                    job.returns.append(Return(State.FAIL, 1, ChainError(msg, job.spec.id)))
                    self._end(job, State.FAIL)

    # -- what run() returns --

    def _merged(self, jobs: Iterable[_Job]) -> dict[str, Any]:
        """Return the chain's job data with that of ``jobs`` merged over it, in the order they finished."""
        data = dict(self._base)
        for job in sorted(jobs, key=lambda j: j.finished or 0):
            data.update(job.job_data or {})
        return data

    def _snapshot(self) -> Chain:
        """Return the chain with each job as it stands: what this run did, or what the chain recorded."""
        jobs = {}
        for job_id, job in self._jobs.items():
            data = None if job.job_data is None else types.MappingProxyType(job.job_data)  # never changed
            jobs[job_id] = attrs.evolve(
                job.spec,
                state=job.state,
                tries=job.tries,
                job_data=data,
                error=job.error,
                finished=job.finished,
            )
        return Chain(self.chain.request_id, jobs)

    def _result(self) -> ChainResult:
        with self._cond:
            results = {
                job_id: RunResult(job.state, 0 if job.skipped else job.tries, tuple(job.returns))
                for job_id, job in self._jobs.items()
            }
            completed = (job for job in self._jobs.values() if job.state == State.COMPLETE)
            data = copy_data(
                self._merged(completed)
            )  # the caller's to change: shares nothing with the chain's
            if all(job.state == State.COMPLETE for job in self._jobs.values()):
                state = State.COMPLETE
            elif self._stopped.is_set():
                state = State.STOPPED
            else:
                state = State.FAIL
            return ChainResult(state, results, data, self._snapshot())
