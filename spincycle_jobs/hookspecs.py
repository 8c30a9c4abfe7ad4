"""The hooks a job plugin implements.

A plugin is a module (or any object) registered under the entry-point
group ``spincycle_jobs``; its hook functions are marked with
:data:`spincycle_jobs.hookimpl`::

    from spincycle_jobs import hookimpl

    @hookimpl
    def spincycle_jobs_job_types():
        return {"sleep": "acme_jobs.sleep:Sleep"}
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._markers import hookspec

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._job import JobConstructor

__all__ = ["spincycle_jobs_job_types"]


@hookspec
def spincycle_jobs_job_types() -> Mapping[str, JobConstructor | str]:  # type: ignore[empty-body]
    """Return the job types this plugin provides.

    Each key is a job type; each value makes jobs of that type, as one of:

    - a :class:`~spincycle_jobs.Job` subclass, called as ``cls(job_type, job_name)``;
    - any callable ``(job_type, job_name) -> Job``;
    - a string ``"package.module:attr"`` naming one of those, imported only
      when a job of that type is first made. Prefer it: a platform that
      makes one type then never imports the modules of the others.

    Two plugins that offer the same type both lose it: making that type
    raises a :class:`~spincycle_jobs.PluginError` naming both.

    The answer is recorded in the factory's persisted index, so it must
    depend on the plugin's installed code alone.
    """
