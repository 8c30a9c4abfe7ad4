"""What the pages and their JSON show of the store's records: text made fit to show, times formatted.

Every string in a view has been through :func:`~._html.shown` (and long
ones through :func:`~._html.bounded` or :func:`~._html.cut`), so the JSON
routes and the HTML pages show the same text, and the JSON never holds a
lone surrogate.
"""

from __future__ import annotations

import json
import math
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

from spincycle_jobs._cli._ops import run_state
from spincycle_jobs._cli._ops import took
from spincycle_jobs._cli._ops import when
from spincycle_jobs._state import State

from ._html import bounded
from ._html import cut
from ._html import shown
from ._html import url

if TYPE_CHECKING:
    from collections.abc import Mapping
    from collections.abc import Sequence

    from spincycle_jobs._store import JobInfo
    from spincycle_jobs._store import LogEntry
    from spincycle_jobs._store import RunInfo

__all__ = [
    "GRAPH_MAX",
    "JOBS_PER_PAGE",
    "OUTPUT_LIMIT",
    "RUNS_PER_PAGE",
    "RUN_STATES",
    "STATES",
    "STATUS_FRESH",
    "job_view",
    "json_text",
    "layer_summary",
    "pages",
    "run_view",
    "try_view",
]

#: Above this many jobs a run's page draws counts by layer and state, not the graph.
GRAPH_MAX: Final = 500
#: Jobs in one page of a run's table (all of them, up to :data:`GRAPH_MAX`).
JOBS_PER_PAGE: Final = GRAPH_MAX
#: Runs in one page of the runs.
RUNS_PER_PAGE: Final = 50
#: Characters shown of a try's stdout, stderr or traceback: this many first, and as many last.
OUTPUT_LIMIT: Final = 64 * 1024
#: Characters shown of an error, a name or an id in a table.
CELL_LIMIT: Final = 200
#: Rows of the layer summary at most: more layers are grouped in ranges.
SUMMARY_ROWS: Final = 100
#: Seconds a sampled status() is shown for, as ``chain ps`` does.
STATUS_FRESH: Final = 10.0
#: The states, in the order the pages list them.
STATES: Final = ("PENDING", "RUNNING", "COMPLETE", "FAIL", "TIMEOUT", "STOPPED", "UNKNOWN")
#: The states a run can be in, which the runs can be filtered by.
RUN_STATES: Final = ("PENDING", "RUNNING", "COMPLETE", "FAIL", "STOPPED")


def pages(total: int, per_page: int) -> int:
    """Return how many pages ``total`` items fill, 1 at least."""
    return max(1, math.ceil(total / per_page))


def live(run: RunInfo) -> bool:
    """Whether a run's page keeps updating: while the run is pending or running."""
    return run.state in {State.PENDING, State.RUNNING}


def run_view(run: RunInfo, now: float | None = None) -> dict[str, Any]:
    """Return a run as the pages show it."""
    now = time.time() if now is None else now
    return {
        "request_id": shown(run.request_id),
        "url": url("/run", id=run.request_id),
        "state": run.state.name,
        "state_text": run_state(run),
        "lost": run.lost,
        "jobs_total": run.jobs_total,
        "jobs_finished": run.jobs_finished,
        "jobs": f"{run.jobs_finished}/{run.jobs_total}",
        "ended": f"{run.jobs_finished} of {run.jobs_total} ended",
        "driver": shown(f"{run.host}:{run.pid}") if run.host else "-",
        "executor": shown(run.executor) or "-",
        "drive": run.drive,
        "created": when(run.created),
        "started": when(run.started),
        "finished": when(run.finished),
        "took": took(run.started, run.finished, now),
        "stop_requested": run.stop_requested and run.state == State.RUNNING,
        "live": live(run),
    }


def job_view(job: JobInfo, now: float | None = None) -> dict[str, Any]:
    """Return a job of a run as the pages show it (its error cut to a table cell)."""
    now = time.time() if now is None else now
    ended = job.finished if job.state != State.RUNNING else None
    fresh = job.state == State.RUNNING and job.status_at is not None and now - job.status_at < STATUS_FRESH
    return {
        "job_id": shown(job.job_id),
        "url": url("/job", run=job.request_id, id=job.job_id),
        "type": cut(shown(job.type), CELL_LIMIT),
        "name": cut(shown(job.name), CELL_LIMIT),
        "after": [shown(a) for a in job.after],
        "after_urls": [url("/job", run=job.request_id, id=a) for a in job.after],
        "state": job.state.name,
        "tries": job.tries,
        "started": when(job.started),
        "finished": when(ended),
        "took": took(job.started, ended, now),
        "error": cut(shown(job.error or ""), CELL_LIMIT),
        "status": cut(shown(job.status), CELL_LIMIT) if fresh else "",
    }


def try_view(entry: LogEntry, now: float | None = None) -> dict[str, Any]:
    """Return one try of a job, its output bounded to :data:`OUTPUT_LIMIT` at each end."""
    now = time.time() if now is None else now
    view: dict[str, Any] = {
        "drive": entry.drive,
        "try": entry.try_number,
        "state": entry.state.name,
        "exit": entry.exit,
        "started": when(entry.started),
        "finished": when(entry.finished),
        "took": took(entry.started, entry.finished, now),
        "where": shown(entry.worker or (f"{entry.host}:{entry.pid}" if entry.host else "-")),
        "error": shown(entry.error or ""),
        "error_type": shown(entry.error_type or ""),
    }
    for key in ("traceback", "stdout", "stderr"):
        text, left_out = bounded(getattr(entry, key) or "", OUTPUT_LIMIT)
        view[key], view[f"{key}_left_out"] = text, left_out
    return view


def json_text(value: Any) -> tuple[str, int]:
    """Return JSON data (job args, job data) as indented text, bounded as output is."""
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str, sort_keys=True)
    return bounded(text, OUTPUT_LIMIT)


def layer_summary(jobs: Sequence[JobInfo], layers: Mapping[str, int]) -> list[dict[str, Any]]:
    """Return how many jobs of each state each layer has, in at most :data:`SUMMARY_ROWS` rows.

    More layers than that are grouped in ranges of equal size (``"1-40"``).
    """
    deepest = max(layers.values(), default=0)
    size = max(1, math.ceil(deepest / SUMMARY_ROWS))
    rows: dict[int, dict[str, int]] = {}
    for job in jobs:
        group = (layers.get(job.job_id, 1) - 1) // size
        counts = rows.setdefault(group, dict.fromkeys(STATES, 0))
        counts[job.state.name] += 1
    summary = []
    for group, counts in sorted(rows.items()):
        first, last = group * size + 1, min((group + 1) * size, deepest)
        label = str(first) if first == last else f"{first}-{last}"
        summary.append({"layer": label, "jobs": sum(counts.values()), "counts": counts})
    return summary
