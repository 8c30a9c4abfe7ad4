"""The ``sleep`` job: waits, and answers ``stop`` at once."""

import math
import time
from typing import Any

import attrs
from spincycle_jobs import BaseJob, JobError, Return, State, get_arg


@attrs.define
class Sleep(BaseJob):
    """Sleeps for job arg ``duration`` seconds; ``stop`` ends it early as ``STOPPED``."""

    duration: float = 0.0
    _deadline: float | None = attrs.field(default=None, init=False)

    def create(self, job_args: dict[str, Any]) -> None:
        """Take ``duration``, a number of seconds, from the job args."""
        self.duration = get_arg(job_args, "duration", float)
        if not 0 <= self.duration < math.inf:
            msg = f"duration in job args must be a finite number >= 0, got {self.duration}"
            raise JobError(msg)

    def run(self, job_data: dict[str, Any]) -> Return:
        """Sleep, unless stopped."""
        self._deadline = time.monotonic() + self.duration
        return Return(State.STOPPED if self.wait(self.duration) else State.COMPLETE)

    def status(self) -> str:
        """Say how long is left."""
        if self._deadline is None:
            return "not running"
        return f"{max(0.0, self._deadline - time.monotonic()):.1f}s left of {self.duration:g}s"
