"""The registry of the tries running in a process, shared by the executors: stop and status reach a job here.

A try is running from when its executor takes it until its job's ``run``
returns; its job exists only once made. A stop may come at any moment of
that: a stop that finds no job yet is kept, and the job is stopped as soon
as it is made. Where keys are unique and a stop may even come before the
try is taken (Dask delivers a stop and a task on different paths), a stop
of a try not taken is kept too (``early``). Kept stops are bounded, the
oldest forgotten first.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import TYPE_CHECKING
from typing import Final

from ._runner import job_status

if TYPE_CHECKING:
    from ._job import Job

__all__ = ["Running", "job_stop"]

_log = logging.getLogger("spincycle_jobs")

#: How many stops of tries not yet made a registry keeps.
KEEP_STOPS: Final = 100_000


def job_stop(job: Job) -> None:
    """Call ``job.stop()``, keeping what it raises from the caller (it is logged)."""
    try:
        job.stop()
    except Exception:  # noqa: BLE001 - a job's broken stop() is its own
        _log.exception("stop() of job %r raised", job.name())


class Running:
    """The jobs of the tries running here, by key. Safe from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job | None] = {}  # None: taken, its job not yet made
        self._stops: collections.OrderedDict[str, None] = collections.OrderedDict()

    def taken(self, key: str) -> None:
        """Count a try as running before its job is made."""
        with self._lock:
            self._jobs.setdefault(key, None)

    def made(self, key: str, job: Job) -> None:
        """Record the try's job; stop it now if a stop came first."""
        with self._lock:
            self._jobs[key] = job
            stop = self._stops.pop(key, 0) is None
        if stop:
            job_stop(job)

    def ended(self, key: str) -> None:
        """Forget the try: its job's ``run`` returned (or it was never made)."""
        with self._lock:
            self._jobs.pop(key, None)
            self._stops.pop(key, None)

    def stop(self, key: str, *, early: bool = False) -> bool:
        """Call the job's ``stop()``, or keep the stop for the job when it is made.

        :param early: keep the stop even when the try is not taken yet.
        :returns: whether the try's job was running here.
        """
        with self._lock:
            job = self._jobs.get(key)
            if job is None and (early or key in self._jobs):
                self._stops[key] = None
                while len(self._stops) > KEEP_STOPS:
                    self._stops.popitem(last=False)
        if job is None:
            return False
        job.stop()
        return True

    def stop_all(self) -> list[Job]:
        """Keep a stop for every try whose job is not made yet; return the jobs made, to stop."""
        with self._lock:
            made = [job for job in self._jobs.values() if job is not None]
            for key, job in self._jobs.items():
                if job is None:
                    self._stops[key] = None
            while len(self._stops) > KEEP_STOPS:
                self._stops.popitem(last=False)
        return made

    def status(self, key: str) -> str:
        """Return the job's ``status()``, or ``""`` when it is not running here."""
        with self._lock:
            job = self._jobs.get(key)
        return "" if job is None else job_status(job)

    def statuses(self) -> dict[str, str]:
        """Return the ``status()`` of every running job, by key; a broken one breaks no other."""
        with self._lock:
            jobs = [(key, job) for key, job in self._jobs.items() if job is not None]
        return {key: job_status(job) for key, job in jobs}

    def jobs(self) -> list[tuple[str, Job]]:
        """Return the running jobs, by key."""
        with self._lock:
            return [(key, job) for key, job in self._jobs.items() if job is not None]

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._jobs

    def __len__(self) -> int:
        with self._lock:
            return sum(job is not None for job in self._jobs.values())
