"""The ``checksum`` job: the digest of a file, for the jobs after it."""

import hashlib
from typing import Any

import attrs

from spincycle_jobs import BaseJob
from spincycle_jobs import JobError
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import get_arg


@attrs.define
class Checksum(BaseJob):
    """Computes the digest of job arg ``path`` with ``algorithm`` (default ``sha256``).

    The digest goes to stdout, and to the job data under ``<job name>.digest``
    for the jobs after it. A file that cannot be read is ``FAIL``.
    """

    path: str = ""
    algorithm: str = "sha256"

    def create(self, job_args: dict[str, Any]) -> None:
        """Take ``path`` and the optional ``algorithm`` from the job args."""
        self.path = get_arg(job_args, "path", str)
        self.algorithm = get_arg(job_args, "algorithm", str, default="sha256")
        if self.algorithm not in hashlib.algorithms_available:
            msg = f"algorithm in job args must be one of hashlib's, got {self.algorithm!r}"
            raise JobError(msg)

    def run(self, job_data: dict[str, Any]) -> Return:
        """Read the file in chunks, stopping early if asked to."""
        digest = hashlib.new(self.algorithm)
        try:
            with open(self.path, "rb") as src:
                while chunk := src.read(1 << 20):
                    if self.stopped:
                        return Return(State.STOPPED)
                    digest.update(chunk)
                    self.set_status(f"read {src.tell()} bytes of {self.path}")
        except OSError as err:
            return Return(State.FAIL, exit=1, error=err, stderr=f"{self.path}: {err.strerror}\n")
        job_data[f"{self.name()}.digest"] = digest.hexdigest()
        return Return(State.COMPLETE, stdout=digest.hexdigest() + "\n")
