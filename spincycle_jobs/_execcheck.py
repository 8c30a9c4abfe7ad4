"""The executors' conformance suite: :func:`check_executor`, public in :mod:`spincycle_jobs.testing`."""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING
from typing import NoReturn

from ._document import JobRecord
from ._executor import Outcome
from ._executor import Try
from ._state import State

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._executor import Executor
    from ._job import JobFactory

__all__ = ["check_executor"]


class _Ends:
    """The ``done`` of the tries one check starts: counts each try's calls, and waits for them."""

    def __init__(self) -> None:
        self.outcomes: dict[str, list[Outcome]] = {}
        self._cond = threading.Condition()

    def __call__(self, try_: Try, outcome: Outcome) -> None:
        with self._cond:
            self.outcomes.setdefault(try_.key, []).append(outcome)
            self._cond.notify_all()

    def wait(self, keys: list[str], timeout: float) -> dict[str, Outcome]:
        with self._cond:
            self._cond.wait_for(lambda: all(key in self.outcomes for key in keys), timeout)
            return {key: self.outcomes[key][0] for key in keys if key in self.outcomes}


def check_executor(
    make_executor: Callable[[], Executor],
    factory: JobFactory,
    *,
    noop: str = "noop",
    sleep: str = "sleep",
    raises: tuple[str, dict[str, object]] | None = ("sleep", {"duration": 1e308}),
    timeout: float = 30.0,
) -> None:
    """Run the executor conformance suite: what :class:`~spincycle_jobs.ChainRunner` relies on.

    Each check starts tries of two job types that the executor's side can
    make: ``noop`` (completes, leaving its job data) and ``sleep`` (a
    ``duration`` job arg; ``status()`` answers while it sleeps; ``stop()``
    ends it ``STOPPED``), by default the example plugin's. The records are
    created with ``factory``.

    Checked: a try ends once, through ``done``, with its job data; a job's
    ``status()`` and ``stop()`` reach it while it runs, on many tries at once;
    a ``stop()`` that comes before the job runs stops it as soon as it does;
    a try whose job raises, and a try of a type the executor cannot make,
    fail alone, saying why; and ``close()`` as
    :meth:`Executor.close <spincycle_jobs.Executor.close>` says.

    :param make_executor: makes a new executor; the suite closes each it makes.
    :param raises: the job type and job args of a job whose ``run`` raises
        (by default a ``sleep`` so long that the clock overflows:
        ``OverflowError``), or ``None`` to leave that check out.
    :raises ConformanceError: naming the rule that was broken and what happened.
    """
    suite = _Suite(factory, noop, sleep, timeout)
    executor = make_executor()
    try:
        suite.ends_once_with_job_data(executor)
        suite.status_and_stop_reach_jobs(executor)
        suite.a_stop_before_the_job_runs_stops_it(executor)
        if raises is not None:
            suite.a_job_that_raises_fails_alone(executor, *raises)
        suite.an_unmakeable_try_fails_alone(executor)
    finally:
        executor.close()
    suite.close_ends_every_try(make_executor())


class _Suite:
    def __init__(self, factory: JobFactory, noop: str, sleep: str, timeout: float) -> None:
        self.factory, self.noop, self.sleep, self.timeout = factory, noop, sleep, timeout

    def make_try(self, job_type: str, job_id: str, args: dict[str, object] | None = None) -> Try:
        record = JobRecord.create(self.factory, job_type, job_id, dict(args or {}))
        return Try("check-executor", job_id, record, {"given": job_id}, 1)

    def ended(self, ends: _Ends, keys: list[str], rule: str) -> dict[str, Outcome]:
        got = ends.wait(keys, self.timeout)
        if len(got) < len(keys):
            missing = sorted(set(keys) - set(got))
            fail(rule, f"done was not called within {self.timeout:g} s for {missing}")
        twice = sorted(key for key, outcomes in ends.outcomes.items() if len(outcomes) > 1)
        if twice:
            fail(rule, f"done was called more than once for {twice}")
        return got

    def ends_once_with_job_data(self, executor: Executor) -> None:
        rule = "a try ends once, through done, with its job data"
        ends, tries = _Ends(), [self.make_try(self.noop, f"noop-{n}") for n in range(3)]
        for one in tries:
            executor.start(one, ends)
        for key, outcome in self.ended(ends, [t.key for t in tries], rule).items():
            if outcome.state != State.COMPLETE or outcome.job_data.get("given") != key.split("/")[1]:
                fail(rule, f"{key}: {outcome.state.name}, job data {outcome.job_data!r:.200}")

    def status_and_stop_reach_jobs(self, executor: Executor) -> None:
        rule = "status() and stop() reach running jobs, many at once"
        ends = _Ends()
        tries = [self.make_try(self.sleep, f"sleep-{n}", {"duration": 600}) for n in range(3)]
        for one in tries:
            executor.start(one, ends)
        for one in tries:
            deadline = time.monotonic() + self.timeout
            while not executor.status(one) and one.key not in ends.outcomes and time.monotonic() < deadline:
                time.sleep(0.05)
            if not executor.status(one):
                fail(rule, f"{one.key}: status() stayed empty while it ran")
        for one in tries:
            executor.stop(one)
        for key, outcome in self.ended(ends, [t.key for t in tries], rule).items():
            if outcome.state != State.STOPPED:
                fail(rule, f"{key}: stopped, it ended {outcome.state.name} ({outcome.error})")

    def a_stop_before_the_job_runs_stops_it(self, executor: Executor) -> None:
        rule = "a stop() that comes before the job runs stops it as soon as it does"
        ends, early = _Ends(), self.make_try(self.sleep, "early", {"duration": 600})
        executor.start(early, ends)
        executor.stop(early)
        outcome = self.ended(ends, [early.key], rule)[early.key]
        if outcome.state != State.STOPPED:
            fail(rule, f"it ended {outcome.state.name} ({outcome.error})")

    def a_job_that_raises_fails_alone(
        self, executor: Executor, job_type: str, args: dict[str, object]
    ) -> None:
        rule = "a try whose job raises fails alone, with the error's type and traceback"
        ends, good, bad = _Ends(), self.make_try(self.noop, "fine"), self.make_try(job_type, "raises", args)
        executor.start(bad, ends)
        executor.start(good, ends)
        got = self.ended(ends, [bad.key, good.key], rule)
        outcome = got[bad.key]
        if outcome.state != State.FAIL or not outcome.error_type or not outcome.traceback:
            fail(rule, f"it ended {outcome.state.name}: {outcome.error} (type {outcome.error_type})")
        if got[good.key].state != State.COMPLETE:
            fail(rule, f"the other try ended {got[good.key].state.name}")

    def an_unmakeable_try_fails_alone(self, executor: Executor) -> None:
        rule = "a try of a type the executor cannot make fails alone, saying so"
        ends, good = _Ends(), self.make_try(self.noop, "good")
        record = JobRecord("no-such-type-here", "bad", b"{}")
        bad = Try("check-executor", "bad", record, {"given": "bad"}, 1)
        executor.start(bad, ends)
        executor.start(good, ends)
        got = self.ended(ends, [bad.key, good.key], rule)
        if got[bad.key].state != State.FAIL or "no-such-type-here" not in (got[bad.key].error or ""):
            fail(rule, f"it ended {got[bad.key].state.name}: {got[bad.key].error}")
        if got[good.key].state != State.COMPLETE:
            fail(rule, f"the other try ended {got[good.key].state.name}")

    def close_ends_every_try(self, executor: Executor) -> None:
        rule = "close() ends the tries left FAIL at once, and later tries too, through done"
        ends, running = _Ends(), self.make_try(self.sleep, "left", {"duration": 600})
        try:
            executor.start(running, ends)
        finally:
            executor.close()
        if running.key not in ends.outcomes:
            fail(rule, "done was not called for a running try before close() returned")
        if ends.outcomes[running.key][0].state != State.FAIL:
            fail(rule, f"the running try ended {ends.outcomes[running.key][0].state.name}")
        later = self.make_try(self.noop, "later")
        try:
            executor.start(later, ends)
        except Exception as err:  # noqa: BLE001 - the rule is that it raises nothing
            fail(rule, f"start() after close() raised {type(err).__name__}: {err}")
        if self.ended(ends, [later.key], rule)[later.key].state != State.FAIL:
            fail(rule, "a try started after close() did not end FAIL")
        executor.close()  # again: nothing happens
        time.sleep(0.5)  # a late done of the stopped job would come now
        self.ended(ends, [running.key, later.key], rule)


def fail(rule: str, detail: str) -> NoReturn:
    """Raise the :class:`~spincycle_jobs.testing.ConformanceError` of ``rule``."""
    from .testing import ConformanceError  # noqa: PLC0415 - testing imports this module

    raise ConformanceError(rule, detail)
