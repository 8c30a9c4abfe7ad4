"""The plugin: one job type per shape, each imported only when first made."""

from __future__ import annotations

from spincycle_jobs import hookimpl

#: Each job type, and the class that implements it.
TYPES = {
    "by-hand": "shape_jobs.jobs:ByHand",
    "base": "shape_jobs.jobs:Base",
    "create-super": "shape_jobs.jobs:CreateSuper",
    "serialize-super": "shape_jobs.jobs:SerializeSuper",
    "deserialize-super": "shape_jobs.jobs:DeserializeSuper",
    "run-super": "shape_jobs.jobs:RunSuper",
    "stop-super": "shape_jobs.jobs:StopSuper",
    "status-super": "shape_jobs.jobs:StatusSuper",
    "unslotted": "shape_jobs.jobs:Unslotted",
    "nested": "shape_jobs.jobs:Nested",
}


@hookimpl
def spincycle_jobs_job_types() -> dict[str, str]:
    """Offer every shape."""
    return dict(TYPES)
