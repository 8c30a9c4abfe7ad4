from __future__ import annotations

import datetime as dt
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import final

import attrs

from ._errors import RunTimeoutError
from ._return import Return
from ._state import State
from ._thread import Call

if TYPE_CHECKING:
    from ._job import Job

__all__ = ["RunResult", "RunStatus", "Runner", "job_status"]


@final
@attrs.frozen
class RunResult:
    """How a :class:`Runner` run ended."""

    #: The final state: ``STOPPED`` when the run was stopped, unless the job
    #: returned ``COMPLETE``; else the state of the last try.
    state: State
    #: How many times the job ran.
    tries: int
    #: What each try returned, in order.
    returns: tuple[Return, ...]


@final
@attrs.frozen
class RunStatus:
    """What a :class:`Runner` is doing, as :meth:`Runner.status` reports it."""

    #: The job's own :meth:`~spincycle_jobs.Job.status`.
    status: str
    #: Whether the runner is waiting between tries.
    sleeping: bool
    #: How many tries have started.
    tries: int
    #: When :meth:`Runner.run` started, or ``None`` before.
    started_at: dt.datetime | None


def _call_run(job: Job, job_data: dict[str, Any]) -> Return:
    try:
        result: object = job.run(job_data)
    except Exception as err:  # noqa: BLE001 - an exception in run is a failed try, as in Spin Cycle
        return Return(State.FAIL, exit=1, error=err)
    if not isinstance(result, Return):
        msg = f"{type(job).__qualname__}.run() returned {type(result).__name__}, not a Return"
        return Return(State.FAIL, exit=1, error=TypeError(msg))
    return result


class Runner:
    """Runs one job the way Spin Cycle's Job Runner does.

    It runs the job, answers :meth:`status` while it runs, stops it on
    request, enforces a timeout, and retries a try that did not complete
    after a wait. An exception raised by the job's ``run`` becomes that
    try's ``Return(state=FAIL, exit=1, error=exc)``: it never escapes.

    A try that times out is the last: the job has been stopped by then.

    :param job: a job ready to run (deserialized).
    :param timeout: seconds one try may take; past it the runner calls the
        job's ``stop()`` and the try ends as ``TIMEOUT``.
    :param retries: how many more tries a try that did not complete gets.
    :param retry_wait: seconds to wait between tries.
    :param grace: seconds a timed-out job has to return after ``stop()``,
        before the runner gives up waiting for it. A ``stop()`` that blocks,
        against the contract, does not extend it.
    :raises ValueError: for a negative ``retries``, and for seconds that are
        negative, NaN, infinite or more than a thread can wait
        (:data:`threading.TIMEOUT_MAX`); ``timeout`` must be more than 0.
    """

    def __init__(
        self,
        job: Job,
        *,
        timeout: float | None = None,
        retries: int = 0,
        retry_wait: float = 0.0,
        grace: float = 1.0,
    ) -> None:
        _check(
            retries=(retries, retries >= 0),
            retry_wait=(retry_wait, 0 <= retry_wait <= threading.TIMEOUT_MAX),
            timeout=(timeout, timeout is None or 0 < timeout <= threading.TIMEOUT_MAX),
            grace=(grace, 0 <= grace <= threading.TIMEOUT_MAX),
        )
        #: The job this runner runs.
        self.job: Job = job
        self._timeout, self._retries, self._retry_wait, self._grace = timeout, retries, retry_wait, grace
        self._stopped = threading.Event()
        self._stop_lock = threading.Lock()
        self._job_stopped = False
        self._sleeping = False
        self._tries = 0
        self._started_at: dt.datetime | None = None

    def run(self, job_data: dict[str, Any]) -> RunResult:
        """Run the job, with retries, until it completes, fails its last try, or is stopped.

        :param job_data: the runtime job data, passed to every try.
        """
        self._started_at = dt.datetime.now(dt.UTC)
        returns: list[Return] = []
        while not self._stopped.is_set():
            self._tries += 1
            result = self._try(job_data)
            returns.append(result)
            if result.state in (State.COMPLETE, State.TIMEOUT) or self._tries > self._retries:
                break
            self._sleeping = True
            self._stopped.wait(self._retry_wait)
            self._sleeping = False
        last = returns[-1].state if returns else State.STOPPED
        state = State.STOPPED if self._stopped.is_set() and last != State.COMPLETE else last
        return RunResult(state, len(returns), tuple(returns))

    def stop(self) -> None:
        """Stop the run: the job's ``stop()`` is called once, and no further try starts.

        Safe from any thread, and harmless to call again.
        """
        self._stopped.set()
        self._stop_job()

    def status(self) -> RunStatus:
        """Report the job's status and where the run is; safe from any thread."""
        return RunStatus(job_status(self.job), self._sleeping, self._tries, self._started_at)

    def _stop_job(self) -> None:
        with self._stop_lock:
            if self._job_stopped:
                return
            self._job_stopped = True
        self.job.stop()

    def _try(self, job_data: dict[str, Any]) -> Return:
        if self._timeout is None:
            return _call_run(self.job, job_data)
        try_ = Call(lambda: _call_run(self.job, job_data), f"run {self.job.name()}")
        try_.start()
        try_.join(self._timeout)
        if not try_.is_alive():
            result: Return = try_.outcome()
            return result
        deadline = time.monotonic() + self._grace
        stopper = Call(self._stop_job, f"stop {self.job.name()}")  # a stop() that blocks must not hang us
        stopper.start()
        stopper.join(self._grace)
        try_.join(max(0.0, deadline - time.monotonic()))
        late: Return = Return() if try_.is_alive() else try_.outcome()
        error = RunTimeoutError(self._timeout)
        return Return(State.TIMEOUT, exit=late.exit, error=error, stdout=late.stdout, stderr=late.stderr)


def _check(**values: tuple[object, bool]) -> None:
    """Raise ValueError naming each value whose check failed."""
    bad = [f"{name}={value!r}" for name, (value, ok) in values.items() if not ok]
    if bad:
        msg = (
            f"bad {', '.join(bad)}: need retries >= 0, retry_wait and grace from 0 "
            f"and timeout above 0, up to {threading.TIMEOUT_MAX:g} seconds (no NaN, no infinity)"
        )
        raise ValueError(msg)


def job_status(job: Job) -> str:
    """Return ``job.status()``, or what it raised: a broken ``status()`` must not break the caller."""
    try:
        return job.status()
    except Exception as err:  # noqa: BLE001 - any failure of plugin code is reported
        return f"status() raised {type(err).__name__}: {err}"
