"""The ``set-args`` job: a create-only job that sets job args for the jobs after it."""

from __future__ import annotations

from typing import Any

import attrs
from spincycle_jobs import BaseJob, Return, State, get_arg


@attrs.define
class SetArgs(BaseJob):
    """Copies the mapping in job arg ``set`` into the job args; running it does nothing.

    The work happens in ``create``, on the Request Manager side: jobs made
    after it in the chain see the new args, e.g. a default ``port``.
    """

    keys: list[str] = attrs.Factory(list)

    def create(self, job_args: dict[str, Any]) -> None:
        """Add each key of job arg ``set`` to the job args."""
        values: dict[str, Any] = get_arg(job_args, "set", dict)
        job_args.update(values)
        self.keys = sorted(values)

    def run(self, job_data: dict[str, Any]) -> Return:
        """Complete at once: the work was done in ``create``."""
        return Return(State.COMPLETE, stdout=f"set {', '.join(self.keys) or 'nothing'}\n")
