"""The ``noop`` job: does nothing, successfully."""

from __future__ import annotations

from typing import Any

import attrs
from spincycle_jobs import BaseJob, Return, State


@attrs.define
class NoOp(BaseJob):
    """Does nothing and always completes; a placeholder in a job chain."""

    def create(self, job_args: dict[str, Any]) -> None:
        """Take nothing from the job args."""

    def run(self, job_data: dict[str, Any]) -> Return:
        """Complete at once."""
        return Return(State.COMPLETE)
