from __future__ import annotations

import math
import threading
import time
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import Return
from spincycle_jobs import Runner
from spincycle_jobs import RunTimeoutError
from spincycle_jobs import State


@attrs.define
class Scripted(BaseJob):
    """Returns, raises or waits as its script says, one entry per try."""

    script: list[str] = attrs.Factory(list)
    stops: int = attrs.field(default=0, init=False)
    #: Ends an "ignore-stop" step.
    release: threading.Event = attrs.field(factory=threading.Event, init=False)

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        step = self.script.pop(0)
        job_data.setdefault("steps", []).append(step)
        if step == "raise":
            msg = "exploded"
            raise RuntimeError(msg)
        if step == "wait":
            stopped = self.wait(30)
            return Return(State.STOPPED if stopped else State.COMPLETE)
        if step == "ignore-stop":
            self.release.wait(30)  # whatever stop() says
            return Return(State.COMPLETE)
        return Return(State[step.upper()], exit=0 if step == "complete" else 3)

    def stop(self) -> None:
        self.stops += 1
        super().stop()


def scripted(*steps: str) -> Scripted:
    job = Scripted("scripted", "s")
    job.script = list(steps)
    return job


def run_in_thread(runner: Runner, data: dict[str, Any] | None = None) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(runner.run(data if data is not None else {})))
    thread.start()
    return thread, box


def wait_for(predicate: Any, seconds: float = 5) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


class TestRunner:
    def test_complete(self) -> None:
        """A job that completes gives one try and COMPLETE."""
        result = Runner(scripted("complete")).run({})
        assert (result.state, result.tries) == (State.COMPLETE, 1)
        assert result.returns == (Return(State.COMPLETE),)

    def test_exception_becomes_fail(self) -> None:
        """An exception in run becomes that try's FAIL with exit 1 and the error; it never escapes."""
        result = Runner(scripted("raise")).run({})
        assert result.state == State.FAIL
        (ret,) = result.returns
        assert (ret.state, ret.exit) == (State.FAIL, 1)
        assert isinstance(ret.error, RuntimeError)

    def test_retries_until_complete(self) -> None:
        """A try that does not complete is retried after the wait, with the same job data."""
        data: dict[str, Any] = {}
        result = Runner(scripted("fail", "raise", "complete"), retries=5, retry_wait=0.01).run(data)
        assert (result.state, result.tries) == (State.COMPLETE, 3)
        assert [r.state for r in result.returns] == [State.FAIL, State.FAIL, State.COMPLETE]
        assert data["steps"] == ["fail", "raise", "complete"]

    def test_retries_run_out(self) -> None:
        """With retries used up, the last try's state is the result."""
        result = Runner(scripted("fail", "fail", "fail"), retries=1).run({})
        assert (result.state, result.tries) == (State.FAIL, 2)

    def test_timeout(self) -> None:
        """Past the timeout the job is stopped and the try ends as TIMEOUT with a RunTimeoutError."""
        job = scripted("wait", "complete")
        result = Runner(job, timeout=0.2, retries=3).run({})
        assert (result.state, result.tries) == (State.TIMEOUT, 1)
        assert isinstance(result.returns[0].error, RunTimeoutError)
        assert job.stops == 1

    def test_timeout_job_that_ignores_stop(self) -> None:
        """A job that ignores stop does not hang the runner: it returns after the grace period."""
        job = scripted("ignore-stop")
        try:
            result = Runner(job, timeout=0.1, grace=0.1).run({})
            assert job.stops == 1
            assert result.state == State.TIMEOUT
            assert not job.release.is_set()  # the job had not finished: the runner gave up on it
        finally:
            job.release.set()

    def test_stop_while_running(self) -> None:
        """stop() from another thread ends the run as STOPPED; the job's stop is called once."""
        job = scripted("wait")
        runner = Runner(job)
        thread, box = run_in_thread(runner)
        wait_for(lambda: runner.status().tries == 1)
        runner.stop()
        runner.stop()
        thread.join(5)
        assert box[0].state == State.STOPPED
        assert job.stops == 1

    def test_stop_during_retry_wait(self) -> None:
        """A stop while waiting between tries ends the run as STOPPED without another try."""
        runner = Runner(scripted("fail", "complete"), retries=3, retry_wait=30)
        thread, box = run_in_thread(runner)
        wait_for(lambda: runner.status().sleeping)
        runner.stop()
        thread.join(5)
        assert not thread.is_alive()
        assert (box[0].state, box[0].tries) == (State.STOPPED, 1)

    def test_stop_before_run(self) -> None:
        """A runner stopped before it runs starts no try, and is STOPPED."""
        runner = Runner(scripted("complete"))
        runner.stop()
        result = runner.run({})
        assert (result.state, result.tries) == (State.STOPPED, 0)

    def test_complete_wins_over_stop(self) -> None:
        """A job that returns COMPLETE after a stop is COMPLETE."""
        job = scripted("ignore-stop")
        runner = Runner(job)
        thread, box = run_in_thread(runner)
        wait_for(lambda: runner.status().tries == 1)
        runner.stop()
        job.release.set()
        thread.join(10)
        assert box[0].state == State.COMPLETE

    def test_status(self) -> None:
        """status() reports the job's status, tries and start time while running."""
        job = scripted("wait")
        runner = Runner(job)
        assert runner.status().started_at is None
        thread, _ = run_in_thread(runner)
        wait_for(lambda: runner.status().tries == 1)
        job.set_status("halfway")
        st = runner.status()
        assert (st.status, st.sleeping, st.tries) == ("halfway", False, 1)
        assert st.started_at is not None
        runner.stop()
        thread.join(5)

    def test_run_returning_no_return_is_a_failed_try(self) -> None:
        """A run that returns something other than a Return is a FAIL naming what it returned."""

        @attrs.define
        class Sloppy(Scripted):
            def run(self, job_data: dict[str, Any]) -> Return:
                return "done"  # type: ignore[return-value]

        (ret,) = Runner(Sloppy("sloppy", "s")).run({}).returns
        assert (ret.state, ret.exit) == (State.FAIL, 1)
        assert "Sloppy.run() returned str, not a Return" in str(ret.error)

    def test_status_that_raises(self) -> None:
        """A status() that raises is reported in the runner's status, not raised."""

        @attrs.define
        class Mute(Scripted):
            def status(self) -> str:
                msg = "no status"
                raise RuntimeError(msg)

        assert Runner(Mute("mute", "m")).status().status == "status() raised RuntimeError: no status"

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"retries": -1},
            {"retry_wait": -1.0},
            {"timeout": 0.0},
            {"timeout": math.nan},
            {"timeout": math.inf},
            {"timeout": 1e10},
            {"retry_wait": math.nan},
            {"retry_wait": math.inf},
            {"grace": math.nan},
            {"grace": -1.0},
        ],
        ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()),
    )
    def test_bad_settings(self, kwargs: dict[str, Any]) -> None:
        """Negative, NaN, infinite or too large settings are refused, naming the culprit."""
        name = next(iter(kwargs))
        with pytest.raises(ValueError, match=f"bad {name}=.*need retries >= 0"):
            Runner(scripted(), **kwargs)

    def test_timeout_holds_when_stop_blocks(self) -> None:
        """A job whose stop() blocks, against the contract, does not make the runner's timeout hang."""
        release = threading.Event()

        class Stuck(Scripted):
            def stop(self) -> None:
                release.wait(60)

        job = Stuck("stuck", "s")
        job.script = ["ignore-stop"]
        try:
            result = Runner(job, timeout=0.1, grace=0.1).run({})
            assert result.state == State.TIMEOUT
            assert not release.is_set()  # stop() had not returned: the runner did not wait for it
        finally:
            release.set()
            job.release.set()
