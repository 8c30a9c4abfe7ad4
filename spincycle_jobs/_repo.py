from __future__ import annotations

import threading
from typing import TYPE_CHECKING
from typing import Protocol
from typing import runtime_checkable

from ._errors import JobNotFoundError

if TYPE_CHECKING:
    from ._job import Job

__all__ = ["MemoryRepo", "Repo"]


@runtime_checkable
class Repo(Protocol):
    """Stores jobs by name (the seed's ``Repo``)."""

    def add(self, job: Job) -> None:
        """Store ``job`` under its name, replacing any job of that name."""
        ...

    def remove(self, job: Job) -> None:
        """Remove the job of ``job``'s name.

        :raises JobNotFoundError: when there is none.
        """
        ...

    def get(self, job_name: str) -> Job:
        """Return the job named ``job_name``.

        :raises JobNotFoundError: when there is none.
        """
        ...


class MemoryRepo:
    """A thread-safe :class:`Repo` in memory, keyed by :meth:`Job.name`.

    >>> repo = MemoryRepo()
    >>> len(repo)
    0
    """

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def add(self, job: Job) -> None:
        """Store ``job`` under its name, replacing any job of that name."""
        name = job.name()
        with self._lock:
            self._jobs[name] = job

    def remove(self, job: Job | str) -> None:
        """Remove the job of ``job``'s name (a job, or its name).

        :raises JobNotFoundError: when there is none.
        """
        name = job if isinstance(job, str) else job.name()
        with self._lock:
            if self._jobs.pop(name, None) is None:
                raise JobNotFoundError(name)

    def get(self, job_name: str) -> Job:
        """Return the job named ``job_name``.

        :raises JobNotFoundError: when there is none.
        """
        with self._lock:
            job = self._jobs.get(job_name)
        if job is None:
            raise JobNotFoundError(job_name)
        return job

    def __len__(self) -> int:
        with self._lock:
            return len(self._jobs)

    def __contains__(self, job_name: object) -> bool:
        with self._lock:
            return job_name in self._jobs
