"""Small jobs and in-process plugins shared by the tests."""

from __future__ import annotations

from typing import Any

import attrs

from spincycle_jobs import BaseJob
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import hookimpl


@attrs.define
class Echo(BaseJob):
    """Completes with its job arg ``text`` as stdout."""

    text: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.text = str(job_args.get("text", ""))

    def run(self, job_data: dict[str, Any]) -> Return:
        job_data[self.name()] = self.text
        return Return(State.COMPLETE, stdout=self.text)


def offering(**types: Any) -> object:
    """An in-process plugin named ``offers-<types>`` whose hook offers ``types``."""

    class Plugin:
        @staticmethod
        @hookimpl
        def spincycle_jobs_job_types() -> dict[str, Any]:
            return dict(types)

    Plugin.__name__ = "offers-" + "-".join(types)
    return Plugin
