"""The chain's logic as a pure state machine: events go in, actions come out.

:class:`ChainState` knows the graph, the jobs' states, job data, tries,
retries, stop and resume. It starts no thread, reads no clock (every
event brings the time) and calls nothing outside itself: the chain runner
drives it, carries out the actions it returns (start a try, stop one,
record an end) and is the only one that touches threads, executors and
the run store. Tests drive it event by event, with no threads or timing.
"""

from __future__ import annotations

import heapq
import types
from typing import TYPE_CHECKING
from typing import Any
from typing import TypeAlias
from typing import final

import attrs

from ._chain import Chain
from ._executor import Outcome
from ._executor import Try
from ._jsondata import copy_data
from ._state import State

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ._chain import ChainJob

__all__ = ["Action", "ChainState", "JobEnded", "Start", "StopTry", "TryEnded"]


@final
@attrs.frozen
class Start:
    """Hand this try to the executor (and record that it started)."""

    try_: Try


@final
@attrs.frozen
class StopTry:
    """Call ``stop()`` on the job of this running try, where it runs."""

    try_: Try


@final
@attrs.frozen
class TryEnded:
    """Record how a try ended; ``job_state`` is set when the try ended its job too."""

    try_: Try
    outcome: Outcome
    #: The state the job ended in, or ``None`` when it waits for another try.
    job_state: State | None
    #: For a ``COMPLETE`` job, its place among the chain's completed jobs.
    finished: int | None


@final
@attrs.frozen
class JobEnded:
    """Record that a job ended with no try ending: stopped while it waited to retry, or given up on."""

    job_id: str
    state: State
    error: str | None


#: What :class:`ChainState` asks its driver to do.
Action: TypeAlias = Start | StopTry | TryEnded | JobEnded

#: The states a job can end in; a try that returns another state fails the job.
_ENDS = frozenset({State.COMPLETE, State.FAIL, State.TIMEOUT, State.STOPPED})


@attrs.define
class _Job:
    """Where one job of the chain stands."""

    spec: ChainJob
    waiting_on: int  # prerequisites not yet COMPLETE
    state: State = State.PENDING
    tries: int = 0
    try_: Try | None = None  # the running try
    handed: bool = False  # whether the executor accepted the running try
    due: float | None = None  # when the next try starts, while waiting to retry
    input: dict[str, Any] | None = None  # the job data every try starts from
    job_data: dict[str, Any] | None = None  # as the last try left it
    error: str | None = None
    finished: int | None = None
    skipped: bool = False


class ChainState:
    """The state of one run of a chain: what has run, what runs, what may start next.

    Not thread-safe: its driver calls it under one lock.

    :param chain: the chain; its ``COMPLETE`` jobs (a resumed run) are done
        already, with their recorded job data.
    :param job_data: the job data the first jobs start with (JSON data, owned by this state).
    """

    def __init__(self, chain: Chain, job_data: dict[str, Any]) -> None:
        #: The chain being run.
        self.chain = chain
        self._base = job_data
        self._jobs = {job_id: _Job(spec, len(spec.after)) for job_id, spec in chain.jobs.items()}
        self._then: dict[str, list[str]] = {job_id: [] for job_id in chain.jobs}
        for job in chain.jobs.values():
            for before in job.after:
                self._then[before].append(job.id)
        self._completed = 0
        self._in_flight = 0  # tries counted and not yet ended
        self._waiting: list[tuple[float, str]] = []  # (when, job id) of jobs waiting to retry
        #: Whether :meth:`stop` was called.
        self.stopped = False

    # -- events --

    def begin(self) -> list[Action]:
        """Start the run: skip the jobs recorded ``COMPLETE``, and start every job that may start."""
        done = [job for job in self.chain.jobs.values() if job.state == State.COMPLETE]
        for spec in sorted(done, key=lambda job: job.finished or 0):
            job = self._jobs[spec.id]
            job.state, job.tries, job.skipped = State.COMPLETE, spec.tries, True
            job.job_data = copy_data(spec.job_data or {})
            self._complete(job)
        return [self._next_try(job) for job in self._jobs.values() if self._startable(job)]

    def handed(self, try_: Try) -> list[Action]:
        """Take the executor's word that it accepted ``try_``: stop it at once if stopped meanwhile."""
        job = self._jobs[try_.job_id]
        if job.try_ is not try_:
            return []
        job.handed = True
        return [StopTry(try_)] if self.stopped else []

    def withdraw(self, try_: Try) -> list[Action]:
        """Take back a try counted but never handed out (stopped first): it did not start."""
        job = self._jobs[try_.job_id]
        if job.try_ is not try_:
            return []
        self._in_flight -= 1
        job.try_, job.tries = None, job.tries - 1
        if job.tries:  # it was waiting to retry
            return [self._end(job, State.STOPPED)]
        job.state = State.PENDING
        return []

    def ended(self, try_: Try, outcome: Outcome, now: float) -> list[Action]:
        """Take the end of a try: record it, and start what may start now.

        :param now: the time, on the clock :meth:`due` is given.
        """
        job = self._jobs[try_.job_id]
        if job.try_ is not try_:
            return []  # a try given up on after stop_timeout, ending late
        self._in_flight -= 1
        job.try_, job.handed = None, False
        # The outcome is the executor's to give: its job data is the state's now, and only read.
        job.job_data, job.error = outcome.job_data, outcome.error
        if self.stopped:
            state = State.COMPLETE if outcome.state == State.COMPLETE else State.STOPPED
            return [self._try_ended(job, try_, outcome, state)]
        if outcome.state == State.COMPLETE:
            actions: list[Action] = [self._try_ended(job, try_, outcome, State.COMPLETE)]
            for after_id in self._then[job.spec.id]:
                after = self._jobs[after_id]
                after.waiting_on -= 1
                if self._startable(after):
                    actions.append(self._next_try(after))
            return actions
        if job.tries <= job.spec.retry and outcome.state != State.TIMEOUT:
            job.due = now + job.spec.retry_wait
            heapq.heappush(self._waiting, (job.due, job.spec.id))
            return [TryEnded(try_, outcome, None, None)]
        state = outcome.state if outcome.state in _ENDS else State.FAIL
        return [self._try_ended(job, try_, outcome, state)]

    def due(self, now: float) -> list[Action]:
        """Start the retries due by ``now``."""
        starts: list[Action] = []
        while self._waiting and self._waiting[0][0] <= now and not self.stopped:
            starts.append(self._next_try(self._jobs[heapq.heappop(self._waiting)[1]]))
        return starts

    def stop(self) -> list[Action]:
        """Stop the run: nothing starts any more; stop every try handed out; end the jobs waiting to retry."""
        if self.stopped:
            return []
        self.stopped = True
        actions: list[Action] = [
            self._end(self._jobs[job_id], State.STOPPED) for _due, job_id in self._waiting
        ]
        self._waiting.clear()
        actions += [StopTry(job.try_) for job in self._jobs.values() if job.try_ and job.handed]
        return actions

    def give_up(self, why: str) -> list[Action]:
        """Fail every try still running (after ``stop_timeout``), with the error ``why``."""
        actions: list[Action] = []
        for job in self._jobs.values():
            if job.try_ is not None:
                self._in_flight -= 1
                job.try_, job.error = None, f"ChainError: job {job.spec.id!r} {why}"
                actions.append(self._end(job, State.FAIL))
        return actions

    # -- questions --

    @property
    def next_due(self) -> float | None:
        """When the next retry comes due, or ``None``."""
        return self._waiting[0][0] if self._waiting else None

    @property
    def running(self) -> bool:
        """Whether a try runs or a retry waits."""
        return bool(self._in_flight or self._waiting)

    @property
    def in_flight(self) -> int:
        """How many tries are counted and have not ended."""
        return self._in_flight

    def job(self, job_id: str) -> _Job:
        """Return where one job stands (read it, never change it)."""
        return self._jobs[job_id]

    def jobs(self) -> Iterable[_Job]:
        """Return where every job stands, in the chain's order (read them, never change them)."""
        return self._jobs.values()

    def job_data(self) -> dict[str, Any]:
        """Return the start's job data updated by every completed job's, in the order they completed."""
        return self._merged(job for job in self._jobs.values() if job.state == State.COMPLETE)

    def final_state(self) -> State:
        """``COMPLETE`` when every job completed; else ``STOPPED`` when stopped; else ``FAIL``."""
        if self._completed == len(self._jobs):
            return State.COMPLETE
        return State.STOPPED if self.stopped else State.FAIL

    def snapshot(self) -> Chain:
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

    # -- inside --

    def _startable(self, job: _Job) -> bool:
        return not self.stopped and job.state == State.PENDING and job.waiting_on == 0

    def _next_try(self, job: _Job) -> Start:
        if job.input is None:  # executors give every try its own deep copy
            job.input = self._merged(self._jobs[before] for before in job.spec.after)
        job.tries += 1
        job.try_ = Try(self.chain.request_id, job.spec.id, job.spec.record, job.input, job.tries)
        job.state, job.due = State.RUNNING, None
        self._in_flight += 1
        return Start(job.try_)

    def _try_ended(self, job: _Job, try_: Try, outcome: Outcome, state: State) -> TryEnded:
        self._set_end(job, state)
        return TryEnded(try_, outcome, state, job.finished)

    def _end(self, job: _Job, state: State) -> JobEnded:
        self._set_end(job, state)
        return JobEnded(job.spec.id, state, job.error)

    def _set_end(self, job: _Job, state: State) -> None:
        job.state, job.due = state, None
        if state == State.COMPLETE:
            self._complete(job)

    def _complete(self, job: _Job) -> None:
        self._completed += 1
        job.finished = self._completed
        if job.skipped:
            for after_id in self._then[job.spec.id]:
                self._jobs[after_id].waiting_on -= 1

    def _merged(self, jobs: Iterable[_Job]) -> dict[str, Any]:
        """Return the chain's job data with that of ``jobs`` merged over it, in the order they finished."""
        data = dict(self._base)
        for job in sorted(jobs, key=lambda j: j.finished or 0):
            data.update(job.job_data or {})
        return data
