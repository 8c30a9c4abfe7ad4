"""The hook: which job types this plugin offers, as lazy strings."""

from spincycle_jobs import hookimpl


@hookimpl
def spincycle_jobs_job_types() -> dict[str, str]:
    """Offer ACME's job types."""
    return {"checksum": "acme_jobs.checksum:Checksum"}
