"""The HTML pages: the runs, a run, a job's tries, what runs now, and errors.

Each function takes views (:mod:`._views`: text already fit to show) and
returns the whole page as :class:`~._html.Html`. The pages work without
script; ``static/ui.js`` keeps a run's page and the running page live by
reading their JSON routes (named by the body's ``data-live``) once a
second, and writes what it reads as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from spincycle_jobs._cli._common import plural

from ._html import Html
from ._html import join
from ._html import link
from ._html import tag
from ._html import url
from ._views import RUN_STATES
from ._views import STATES

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["error_page", "job_page", "run_page", "running_page", "runs_page", "summary"]


def _page(title: str, main: Html, *, store: str, kind: str, live: str | None = None) -> Html:
    nav = tag(
        "nav",
        link("Runs", "/"),
        link("Running now", "/running"),
        tag("span", store, class_="store", title="the run store"),
    )
    head = tag(
        "head",
        Html('<meta charset="utf-8" />'),
        tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag("title", f"{title} · spincycle-jobs"),
        tag("link", rel="stylesheet", href="/static/ui.css"),
        tag("link", rel="icon", href="/static/icon.svg", type="image/svg+xml"),
        tag("script", src="/static/ui.js", defer=True),
    )
    body = tag("body", tag("header", nav), tag("main", main), data_page=kind, data_live=live)
    return Html("<!DOCTYPE html>\n" + tag("html", head, body, lang="en"))


def _state(state: str, text: str | None = None, **attrs: Any) -> Html:
    return tag("span", text or state, class_=f"state st-{state}", **attrs)


def _pager(path: str, page: int, total: int, **query: object) -> Html:
    if total <= 1:
        return Html("")
    newer = link("← previous", path, **query, page=page - 1) if page > 1 else None
    older = link("next →", path, **query, page=page + 1) if page < total else None
    return tag("nav", newer, tag("span", f"page {page} of {total}"), older, class_="pager")


def _table(head: Sequence[str], rows: Sequence[Html], **attrs: Any) -> Html:
    return tag("table", tag("thead", tag("tr", [tag("th", h) for h in head])), tag("tbody", rows), **attrs)


# -- the runs --


def runs_page(
    runs: Sequence[dict[str, Any]], *, state: str | None, page: int, pages: int, total: int, store: str
) -> Html:
    """Return the runs, newest first, with the state filter and the pages."""
    options = [tag("option", "any state", value="", selected=state is None)]
    options += [tag("option", s, value=s, selected=state == s) for s in RUN_STATES]
    form = tag(
        "form",
        tag("label", "State ", tag("select", options, name="state")),
        tag("button", "Show", type="submit"),
        method="get",
        action="/",
        class_="filter",
    )
    rows = [
        tag(
            "tr",
            tag("td", tag("a", r["request_id"], href=r["url"])),
            tag("td", _state(r["state"], r["state_text"])),
            tag("td", r["created"]),
            tag("td", r["jobs"], class_="num"),
            tag("td", r["took"], class_="num"),
            tag("td", r["driver"]),
            tag("td", r["executor"]),
        )
        for r in runs
    ]
    which = plural(total, "run") + ("" if state is None else f" {state}")
    main = join(
        tag("h1", "Runs"),
        form,
        tag("p", which, " · newest first", class_="count"),
        _table(["Request", "State", "Created", "Jobs", "Took", "Driver", "Executor"], rows, id="runs")
        if runs
        else tag("p", "No runs recorded." if state is None else f"No runs {state}.", class_="empty"),
        _pager("/", page, pages, state=state),
    )
    return _page("Runs", main, store=store, kind="runs")


# -- a run --


def _run_head(run: dict[str, Any]) -> Html:
    def item(label: str, field: str, value: object) -> list[Html]:
        return [tag("dt", label), tag("dd", value, data_f=field)]

    return tag(
        "dl",
        item("State", "state_text", _state(run["state"], run["state_text"])),
        item("Jobs", "ended", run["ended"]),
        item("Created", "created", run["created"]),
        item("Started", "started", run["started"]),
        item("Finished", "finished", run["finished"]),
        item("Took", "took", run["took"]),
        item("Driver", "driver", run["driver"]),
        item("Executor", "executor", run["executor"]),
        item("Drive", "drive", run["drive"]),
        class_="facts",
        id="run-head",
    )


def _job_row(job: dict[str, Any]) -> Html:
    return tag(
        "tr",
        tag("td", tag("a", job["job_id"], href=job["url"])),
        tag("td", job["type"]),
        tag("td", job["name"]),
        tag("td", _state(job["state"]), data_f="state"),
        tag("td", job["tries"], class_="num", data_f="tries"),
        tag("td", job["started"], data_f="started"),
        tag("td", job["finished"], data_f="finished"),
        tag("td", job["took"], class_="num", data_f="took"),
        tag("td", job["status"], data_f="status", class_="status"),
        tag("td", job["error"], data_f="error", class_="error"),
        data_job=job["job_id"],
    )


def summary(layers: Sequence[dict[str, Any]], jobs_total: int) -> Html:
    """Return the counts of jobs by layer and state, drawn instead of a graph too big to read."""
    rows = [
        tag(
            "tr",
            tag("td", row["layer"]),
            tag("td", row["jobs"], class_="num"),
            [
                tag("td", row["counts"][s], class_=f"num st-{s}", data_layer=row["layer"], data_state=s)
                for s in STATES
            ],
        )
        for row in layers
    ]
    return join(
        tag(
            "p",
            f"{jobs_total:,} jobs are too many to draw: here is how many of each state each layer has.",
            class_="note",
        ),
        _table(["Layer", "Jobs", *STATES], rows, id="summary"),
    )


def run_page(
    run: dict[str, Any],
    jobs: Sequence[dict[str, Any]],
    *,
    request_id: str,
    picture: Html,
    job_data: str,
    paging: tuple[int, int],
    store: str,
    live: str,
) -> Html:
    """Return a run's page: its facts, its graph (or :func:`summary`), and a page of its jobs.

    :param picture: the graph (see :mod:`._graph`) or the :func:`summary`.
    :param job_data: the job data the run started from, as text.
    :param paging: which page of the jobs this is, and how many there are.
    """
    stop = tag("p", "A stop was asked for.", class_="note") if run["stop_requested"] else None
    page, pages = paging
    main = join(
        tag("h1", "Run ", tag("span", run["request_id"], class_="id")),
        tag("p", "", id="live", class_="live", aria_live="polite"),
        _run_head(run),
        stop,
        tag("h2", "Chain"),
        picture,
        tag("h2", "Jobs"),
        _table(
            ["Job", "Type", "Name", "State", "Tries", "Started", "Finished", "Took", "Status", "Error"],
            [_job_row(job) for job in jobs],
            id="jobs",
        ),
        _pager("/run", page, pages, id=request_id),
        tag("details", tag("summary", "Job data the run started from"), tag("pre", job_data, class_="out"))
        if job_data not in {"", "{}"}
        else None,
    )
    live_route = live if run["live"] else None
    return _page(f"Run {run['request_id']}", main, store=store, kind="run", live=live_route)


# -- a job's tries --


def _output(label: str, text: str, left_out: int) -> Html | None:
    if not text:
        return None
    note = f" ({left_out:,} characters in the middle not shown)" if left_out else ""
    return tag(
        "details",
        tag("summary", label, note),
        tag("pre", text, class_=f"out {label}"),
        open=True,
        class_=label,
    )


def _try(view: dict[str, Any]) -> Html:
    head = f"Try {view['try']} (drive {view['drive']})"
    facts = tag(
        "dl",
        tag("dt", "State"),
        tag("dd", _state(view["state"])),
        tag("dt", "Exit"),
        tag("dd", view["exit"]),
        tag("dt", "Started"),
        tag("dd", view["started"]),
        tag("dt", "Finished"),
        tag("dd", view["finished"]),
        tag("dt", "Took"),
        tag("dd", view["took"]),
        tag("dt", "On"),
        tag("dd", view["where"]),
        [tag("dt", "Error"), tag("dd", view["error"], class_="error")] if view["error"] else None,
        [tag("dt", "Error type"), tag("dd", view["error_type"])] if view["error_type"] else None,
        class_="facts",
    )
    return tag(
        "section",
        tag("h3", head),
        facts,
        _output("traceback", view["traceback"], view["traceback_left_out"]),
        _output("stdout", view["stdout"], view["stdout_left_out"]),
        _output("stderr", view["stderr"], view["stderr_left_out"]),
        class_=f"try st-{view['state']}",
    )


def job_page(
    run: dict[str, Any],
    job: dict[str, Any],
    tries: Sequence[dict[str, Any]],
    *,
    args: tuple[str, int] | None,
    store: str,
) -> Html:
    """Return a job's page: where it stands, its job args, and each try with what it printed."""
    after = [tag("a", a, href=href) for a, href in zip(job["after"], job["after_urls"], strict=True)]
    facts = tag(
        "dl",
        tag("dt", "Run"),
        tag("dd", tag("a", run["request_id"], href=run["url"]), " ", _state(run["state"], run["state_text"])),
        tag("dt", "Type"),
        tag("dd", job["type"]),
        tag("dt", "Name"),
        tag("dd", job["name"]),
        tag("dt", "State"),
        tag("dd", _state(job["state"])),
        tag("dt", "Tries"),
        tag("dd", job["tries"]),
        tag("dt", "After"),
        tag("dd", [join(a, ", ") for a in after[:-1]], after[-1:] or "nothing"),
        [tag("dt", "Status"), tag("dd", job["status"])] if job["status"] else None,
        [tag("dt", "Error"), tag("dd", job["error"], class_="error")] if job["error"] else None,
        class_="facts",
    )
    args_block = (
        tag("details", tag("summary", "Job args"), tag("pre", args[0], class_="out args"), open=True)
        if args is not None
        else None
    )
    main = join(
        tag("h1", "Job ", tag("span", job["job_id"], class_="id")),
        facts,
        args_block,
        tag("h2", "Tries"),
        [_try(view) for view in tries] if tries else tag("p", "No tries yet.", class_="empty"),
    )
    return _page(f"Job {job['job_id']} of run {run['request_id']}", main, store=store, kind="job")


# -- what runs now --


def running_page(runs: Sequence[dict[str, Any]], *, store: str) -> Html:
    """Return the runs now running and their running jobs, as ``chain ps`` shows them."""
    rows: list[Html] = []
    for run in runs:
        cells = [
            tag("td", tag("a", run["request_id"], href=run["url"])),
            tag("td", _state(run["state"], run["state_text"])),
            tag("td", run["driver"]),
        ]
        rows.extend(
            tag(
                "tr",
                cells,
                tag("td", tag("a", job["job_id"], href=job["url"])),
                tag("td", job["type"]),
                tag("td", job["name"]),
                tag("td", job["tries"], class_="num"),
                tag("td", job["started"]),
                tag("td", job["took"], class_="num"),
                tag("td", job["status"], class_="status"),
            )
            for job in run["running"]
        )
        if not run["running"]:
            rows.append(tag("tr", cells, [tag("td", "-" if i == 0 else "") for i in range(7)]))
    head = ["Request", "State", "Driver", "Job", "Type", "Name", "Try", "Started", "Took", "Status"]
    main = join(
        tag("h1", "Running now"),
        tag("p", "", id="live", class_="live", aria_live="polite"),
        tag("p", "No runs running.", id="none", class_="empty", hidden=bool(runs)),
        _table(head, rows, id="running", hidden=not runs),
    )
    return _page("Running now", main, store=store, kind="running", live=url("/api/running"))


def error_page(status: int, message: str, *, store: str) -> Html:
    """Return the page of an error: what was not found, or what was wrong with the request."""
    main = join(tag("h1", f"{status}"), tag("p", message, class_="error"), tag("p", link("All runs", "/")))
    return _page(str(status), main, store=store, kind="error")
