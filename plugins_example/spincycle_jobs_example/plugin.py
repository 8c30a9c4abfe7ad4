"""The plugin module that the entry point names: it only says which jobs exist.

Each job type maps to a lazy ``"module:attr"`` string, so a platform that
makes one type imports that job's module alone.
"""

from __future__ import annotations

from spincycle_jobs import hookimpl


@hookimpl
def spincycle_jobs_job_types() -> dict[str, str]:
    """Offer the example job types."""
    return {
        "noop": "spincycle_jobs_example.noop:NoOp",
        "set-args": "spincycle_jobs_example.setargs:SetArgs",
        "shell-command": "spincycle_jobs_example.shell:ShellCommand",
        "sleep": "spincycle_jobs_example.sleep:Sleep",
    }
