"""kill -9 of a recorded run's driver at 20 seeded moments: the store reads; resume ends as if uninterrupted.

The driver is a real process (``python -m tests.test_kill9 run|resume STORE RUNS``)
running a chain of ``tick`` jobs on the ThreadExecutor, recorded in a SQLite
store. Each tick appends its id to the file RUNS when it runs, so the test
sees which jobs ran in which drive. The moments are drawn from a seeded
generator, each after a given job has started and a few milliseconds more:
the same 20 in every run of the suite, however loaded the machine.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import hookimpl
from spincycle_jobs import open_store

from .conftest import ROOT
from .conftest import clean_env

if TYPE_CHECKING:
    from pathlib import Path

    from spincycle_jobs import Chain

WAIT = 60.0
#: The chain: a line, a fan-out, a fan-in and a line again.
GRAPH: dict[str, list[str]] = {
    "a": [],
    "b": ["a"],
    "c1": ["b"],
    "c2": ["b"],
    "c3": ["b"],
    "c4": ["b"],
    "d": ["c1", "c2", "c3", "c4"],
    "e": ["d"],
    "f": ["e"],
}


@attrs.define
class Tick(BaseJob):
    """Appends its id to the file job arg ``runs`` names, sleeps a little, and leaves a key in job data."""

    runs: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.runs = str(job_args["runs"])

    def run(self, job_data: dict[str, Any]) -> Return:
        fd = os.open(self.runs, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{self.name()}\n".encode())
        finally:
            os.close(fd)
        time.sleep(0.02 + 0.01 * (len(job_data) % 4))
        job_data[self.name()] = len(job_data)
        return Return(State.COMPLETE)


class TickPlugin:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"tick": Tick}


def factory() -> Factory:
    return Factory(autoload=False, plugins=[TickPlugin])


def chain(runs: str) -> Chain:
    builder = ChainBuilder("kill9", {"runs": runs}, factory=factory())
    for job_id, after in GRAPH.items():
        builder.job(job_id, "tick", job_id, after=after)
    return builder.build()


def drive(mode: str, url: str, runs: str) -> None:
    """The driver process: run the chain recorded in ``url``, or resume it from there."""
    with open_store(url) as store:
        if mode == "run":
            runner = ChainRunner(chain(runs), factory=factory(), store=store)
            runner.run({"start": True})
        else:
            ChainRunner.resume(store, "kill9", factory=factory()).run()


def start(mode: str, url: str, runs: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.test_kill9", mode, url, str(runs)],
        cwd=ROOT,
        env=clean_env(),
        stderr=subprocess.PIPE,
    )


def ran(runs: Path) -> list[str]:
    return runs.read_text().split() if runs.exists() else []


@pytest.mark.slow
def test_kill_9_at_20_random_moments(tmp_path: Path) -> None:
    expected = ChainRunner(chain(str(tmp_path / "uninterrupted")), factory=factory()).run({"start": True})
    assert expected.state == State.COMPLETE
    rng = random.Random(9)  # noqa: S311 - the same moments in every run of the suite
    # A moment: after the k-th job has started to run (its line is written), and a little more.
    moments = [(rng.randrange(len(GRAPH)), rng.uniform(0.0, 0.03)) for _ in range(20)]
    interrupted = 0
    for n, moment in enumerate(moments):
        url, runs = f"sqlite:///{tmp_path / f'{n}.sqlite3'}", tmp_path / f"{n}.runs"
        proc = start("run", url, runs)
        try:
            deadline = time.monotonic() + WAIT
            while len(ran(runs)) <= moment[0] and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.001)
            time.sleep(moment[1])
            proc.send_signal(signal.SIGKILL)
            proc.wait(WAIT)
        finally:
            proc.kill()
            proc.communicate()
        before = ran(runs)
        completed = recorded(url)  # the store always reads
        if completed is None:
            continue  # killed before the run was recorded: nothing to resume
        assert completed <= set(before), f"moment {moment}"
        if completed == set(GRAPH):
            continue  # it had ended
        interrupted += 1
        resumed = start("resume", url, runs)
        _, err = resumed.communicate(timeout=WAIT)
        assert resumed.returncode == 0, f"moment {moment}: {err.decode()}"
        again = ran(runs)[len(before) :]
        assert not completed & set(again), f"moment {moment}: COMPLETE jobs ran again"
        assert set(before) | set(again) == set(GRAPH)
        with open_store(url) as store:
            run = store.run("kill9")
            assert (run.state, run.jobs_finished, run.drive) == (State.COMPLETE, len(GRAPH), 2)
            assert merged(store.chain("kill9"), store.job_data("kill9")) == expected.job_data
    assert interrupted >= 10, f"only {interrupted} of 20 moments fell in a run: {moments}"


def recorded(url: str) -> set[str] | None:
    """The jobs the store records COMPLETE, reading all of it; ``None`` when it holds no run."""
    if not os.path.exists(url[len("sqlite:///") :]):  # noqa: PTH110 - killed before it made the store
        return None
    with open_store(url) as store:
        if not store.runs():
            return None
        store.log("kill9")
        store.chain("kill9")
        return {j.job_id for j in store.jobs("kill9", states=(State.COMPLETE,))}


def merged(recorded: Chain, start: dict[str, Any]) -> dict[str, Any]:
    """The chain's final job data from the store: the start, then each job's in the order they finished."""
    data = dict(start)
    for job in sorted(recorded.jobs.values(), key=lambda j: j.finished or 0):
        data.update(job.job_data or {})
    return data


if __name__ == "__main__":
    drive(*sys.argv[1:4])
