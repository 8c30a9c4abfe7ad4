"""The operators' chain commands over the run store: ``ps``, ``status``, ``log``, ``list`` and ``stop``.

``register`` adds them to the ``chain`` group (``chain run`` and ``chain
resume``, which drive runs, are :mod:`._chain`'s). Each opens the store
that ``--store``, ``SPINCYCLE_JOBS_STORE`` or the default names, reads it
without a lease, and prints a table, or JSON with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Final

import attrs

from spincycle_jobs._state import State

from ._common import EXIT_FAIL
from ._common import EXIT_OK
from ._common import UsageError
from ._common import clean
from ._common import out
from ._common import plural
from ._common import table
from ._common import wants_json

if TYPE_CHECKING:
    from spincycle_jobs._store import JobInfo
    from spincycle_jobs._store import LogEntry
    from spincycle_jobs._store import RunInfo
    from spincycle_jobs._store import Store

    from ._common import Commands

__all__ = ["add_store", "open_store", "register"]

#: Seconds between two screens of ``chain status --watch``.
WATCH_EVERY: Final = 1.0
#: The states a run can be listed by.
_RUN_STATES: Final = ("PENDING", "RUNNING", "COMPLETE", "FAIL", "STOPPED")


def add_store(parser: argparse.ArgumentParser) -> None:
    """Add ``--store URL``."""
    parser.add_argument(
        "--store",
        metavar="URL",
        help="the run store: sqlite:///PATH or postgresql://... (default: $SPINCYCLE_JOBS_STORE, "
        "else a SQLite file in ~/.local/state/spincycle-jobs)",
    )


def open_store(opts: argparse.Namespace) -> Store:
    """Open the store the options name."""
    from spincycle_jobs._store import open_store as open_  # noqa: PLC0415 - only chain commands need it

    return open_(opts.store)


def register(chain: Commands) -> None:
    """Add ``chain ps``, ``status``, ``log``, ``list`` and ``stop``."""
    ps = chain.add("ps", _ps, "Show the runs now running, and their running jobs.")
    status = chain.add("status", _status, "Show a run and every job: state, tries, times.")
    status.add_argument("request_id", metavar="REQUEST_ID")
    status.add_argument("--watch", action="store_true", help="redraw every second until the run ends")
    log = chain.add("log", _log, "Show a run's job log, try by try, with what each try printed.")
    log.add_argument("request_id", metavar="REQUEST_ID")
    log.add_argument("job_id", metavar="JOB_ID", nargs="?", help="only this job's tries")
    listing = chain.add("list", _list, "List recorded runs, newest first.")
    listing.add_argument(
        "--state", type=_state, metavar="STATE", help=f"only runs in STATE ({', '.join(_RUN_STATES)})"
    )
    listing.add_argument("--limit", type=_limit, default=20, metavar="N", help="at most N runs (default: 20)")
    stop = chain.add("stop", _stop, "Ask a run to stop, from any terminal that reaches the store.")
    stop.add_argument("request_id", metavar="REQUEST_ID")
    for parser in (ps, status, log, listing, stop):
        add_store(parser)


def _state(text: str) -> State:
    if text.upper() not in _RUN_STATES:
        msg = f"invalid state {text!r}: expected one of {', '.join(_RUN_STATES)}"
        raise argparse.ArgumentTypeError(msg)
    return State[text.upper()]


def _limit(text: str) -> int:
    try:
        limit = int(text)
    except ValueError:
        limit = 0
    if limit < 1:
        msg = f"invalid number {text!r}: expected a whole number >= 1"
        raise argparse.ArgumentTypeError(msg)
    return limit


# -- formatting --


def when(t: float | None) -> str:
    """Return a time of the store as local time, to the second; ``-`` for none."""
    return "-" if t is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))


def took(start: float | None, end: float | None, now: float) -> str:
    """Return how long from ``start`` to ``end`` (or to ``now`` while running)."""
    if start is None:
        return "-"
    seconds = max((end if end is not None else now) - start, 0.0)
    if seconds < 60:  # noqa: PLR2004 - a minute
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"  # noqa: PLR2004


def run_state(run: RunInfo) -> str:
    """Return the run's state as the tables show it: a lost run says so."""
    return f"{run.state.name} (lost)" if run.lost else run.state.name


def as_json(record: RunInfo | JobInfo) -> dict[str, Any]:
    """Return a record of the store as ``--json`` prints it: states by name."""
    value = attrs.asdict(record, recurse=False)
    value["state"] = record.state.name
    if "after" in value:
        value["after"] = list(value["after"])
    return value


def _entry_json(entry: LogEntry) -> dict[str, Any]:
    from spincycle_jobs._wire import to_wire  # noqa: PLC0415

    value = to_wire(entry)
    value["state"] = entry.state.name
    return value


def _run_row(run: RunInfo) -> list[str]:
    done = f"{run.jobs_finished}/{run.jobs_total}"
    return [run.request_id, run_state(run), when(run.created), done, f"{run.host}:{run.pid}", run.executor]


# -- the commands --


def _ps(opts: argparse.Namespace) -> int:
    with open_store(opts) as store:
        runs = store.running()
        jobs = {run.request_id: store.jobs(run.request_id, states=(State.RUNNING,)) for run in runs}
    if wants_json(opts):
        value = [as_json(run) | {"jobs": [as_json(job) for job in jobs[run.request_id]]} for run in runs]
        out(json.dumps(value, indent=2))
        return EXIT_OK
    if not runs:
        out("no runs running")
        return EXIT_OK
    now = time.time()
    rows = [["REQUEST", "STATE", "DRIVER", "JOB", "TYPE", "NAME", "TRY", "STARTED", "TOOK", "STATUS"]]
    for run in runs:
        driver = f"{run.host}:{run.pid}"
        running = jobs[run.request_id]
        if not running:
            rows.append([run.request_id, run_state(run), driver, "-", "", "", "", "", "", ""])
        for job in running:
            status = job.status if job.status_at is not None and now - job.status_at < 10 else ""  # noqa: PLR2004
            row = [
                job.job_id,
                job.type,
                job.name,
                str(job.tries),
                when(job.started),
                took(job.started, None, now),
            ]
            rows.append([run.request_id, run_state(run), driver, *row, status])
    out(table(rows))
    return EXIT_OK


def _status(opts: argparse.Namespace) -> int:
    with open_store(opts) as store:
        while True:
            run, jobs = store.run(opts.request_id), store.jobs(opts.request_id)
            if not opts.watch:
                break
            screen = (
                json.dumps([as_json(run), *map(as_json, jobs)])
                if wants_json(opts)
                else _status_text(run, jobs)
            )
            if sys.stdout.isatty():
                out("\x1b[H\x1b[2J" + screen)
            else:
                out(screen + "\n")
            sys.stdout.flush()
            if run.state != State.RUNNING or run.lost:
                return _exit(run)
            time.sleep(WATCH_EVERY)
    if wants_json(opts):
        out(json.dumps(as_json(run) | {"jobs": [as_json(job) for job in jobs]}, indent=2))
    else:
        out(_status_text(run, jobs))
    return EXIT_OK


def _exit(run: RunInfo) -> int:
    return EXIT_OK if run.state == State.COMPLETE else EXIT_FAIL


def _status_text(run: RunInfo, jobs: list[JobInfo]) -> str:
    now = time.time()
    jobs_total = plural(run.jobs_total, "job")
    head = (
        f"run {clean(run.request_id)}: {run_state(run)}, {run.jobs_finished} of {jobs_total} "
        f"ended; driven by {clean(run.host)}:{run.pid} on {run.executor}"
        f"{f', drive {run.drive}' if run.drive > 1 else ''}\n"
        f"created {when(run.created)}, started {when(run.started)}, finished {when(run.finished)}, "
        f"took {took(run.started, run.finished, now)}"
        f"{'; stop requested' if run.stop_requested and run.state == State.RUNNING else ''}\n"
    )
    rows = [["JOB", "TYPE", "NAME", "STATE", "TRIES", "STARTED", "FINISHED", "TOOK", "ERROR"]]
    for job in jobs:
        ended = job.finished if job.state != State.RUNNING else None
        rows.append(
            [
                job.job_id,
                job.type,
                job.name,
                job.state.name,
                str(job.tries),
                when(job.started),
                when(ended),
                took(job.started, ended, now),
                job.error or "",
            ]
        )
    return head + table(rows)


def _log(opts: argparse.Namespace) -> int:
    with open_store(opts) as store:
        entries = store.log(opts.request_id, opts.job_id)
    if opts.job_id is not None and not entries:
        msg = f"run {opts.request_id!r} has no tries of a job {opts.job_id!r}"
        raise UsageError(msg)
    if wants_json(opts):
        out(json.dumps([_entry_json(entry) for entry in entries], indent=2))
        return EXIT_OK
    blocks = []
    for e in entries:
        where = e.worker or (f"{e.host}:{e.pid}" if e.host else "-")
        head = (
            f"{e.job_id} try {e.try_number} (drive {e.drive}): {e.state.name}, exit {e.exit}, "
            f"{when(e.started)}, took {took(e.started, e.finished, time.time())}, on {where}"
        )
        lines = [clean(head), f"  {e.type} {e.name}"]
        if e.error:
            lines.append(f"  error: {e.error}")
        for label, text in (("stdout", e.stdout), ("stderr", e.stderr), ("traceback", e.traceback or "")):
            if text:
                lines.append(f"  {label}:")
                lines.extend(f"    {clean(line)}" for line in text.splitlines())
        blocks.append("\n".join(lines))
    out("\n\n".join(blocks) if blocks else f"run {opts.request_id}: no tries yet")
    return EXIT_OK


def _list(opts: argparse.Namespace) -> int:
    with open_store(opts) as store:
        runs = store.runs(state=opts.state, limit=opts.limit)
        total = store.count_runs(state=opts.state)
    if wants_json(opts):
        out(json.dumps([as_json(run) for run in runs], indent=2))
        return EXIT_OK
    if not runs:
        out("no runs recorded" if opts.state is None else f"no runs {opts.state.name}")
        return EXIT_OK
    rows = [["REQUEST", "STATE", "CREATED", "JOBS", "DRIVER", "EXECUTOR"], *map(_run_row, runs)]
    more = f"\n({len(runs)} of {total}; --limit shows more)" if total > len(runs) else ""
    out(table(rows) + more)
    return EXIT_OK


def _stop(opts: argparse.Namespace) -> int:
    with open_store(opts) as store:
        run = store.run(opts.request_id)
        if run.state != State.RUNNING or run.lost:
            text = f"run {opts.request_id} is not running: it is {run_state(run)}"
            code = EXIT_FAIL
        else:
            run = store.request_stop(opts.request_id)
            text = f"asked run {opts.request_id} to stop; its driver {run.host}:{run.pid} stops it within 2 s"
            code = EXIT_OK
    if wants_json(opts):
        out(json.dumps(as_json(run) | {"stop_requested": code == EXIT_OK}, indent=2))
    else:
        out(clean(text))
    return code
