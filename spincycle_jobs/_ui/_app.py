"""The web application: its routes over a run store, and the guard in front of them.

:func:`make_app` returns an ASGI application (Starlette's routing, behind
:class:`Guard`). Routes, all ``GET`` (and ``HEAD``):

- ``/``: the runs, newest first (``?state=STATE&page=N``);
- ``/run?id=REQUEST_ID``: a run, its graph and its jobs (``&page=N``);
- ``/job?run=REQUEST_ID&id=JOB_ID``: a job and its tries;
- ``/running``: what runs now, as ``chain ps`` shows it;
- ``/api/runs``, ``/api/run``, ``/api/job``, ``/api/running``: the same as JSON;
- ``/static/...``: the page's CSS, script and icon, from the package's
  ``static`` folder and from nowhere else.

Ids travel in the query, percent-encoded, so that any id makes a URL. The
store is only read: its operator's side, never a write.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from urllib.parse import parse_qsl
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse
from starlette.responses import RedirectResponse
from starlette.responses import Response
from starlette.routing import Mount
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from spincycle_jobs._cli._chain import _layers
from spincycle_jobs._state import State
from spincycle_jobs._store import RunNotFoundError
from spincycle_jobs._store import StoreError

from ._graph import graph
from ._html import url
from ._pages import error_page
from ._pages import job_page
from ._pages import run_page
from ._pages import running_page
from ._pages import runs_page
from ._pages import summary
from ._views import GRAPH_MAX
from ._views import JOBS_PER_PAGE
from ._views import RUN_STATES
from ._views import RUNS_PER_PAGE
from ._views import job_view
from ._views import json_text
from ._views import layer_summary
from ._views import pages
from ._views import run_view
from ._views import try_view

if TYPE_CHECKING:
    from starlette.types import ASGIApp
    from starlette.types import Message
    from starlette.types import Receive
    from starlette.types import Scope
    from starlette.types import Send

    from spincycle_jobs._store import JobInfo
    from spincycle_jobs._store import Store

    from ._html import Html

__all__ = ["COOKIE", "CSP", "STATIC", "Guard", "is_loopback", "make_app"]

#: The folder of the page's assets, shipped in the wheel.
STATIC: Final = Path(__file__).parent / "static"
#: The Content-Security-Policy of every response: script and style from this server's files only.
CSP: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The cookie that carries the token once ``?token=`` gave it.
COOKIE: Final = "spincycle_jobs_ui"
_HEADERS: Final = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
_NO_STORE: Final = {"cache-control": "no-store"}  # a page of the store is as old as its reading
_LAYERS_KEPT: Final = 32  # runs whose layers are kept: a chain's graph never changes


def make_app(store: Store, *, token: str | None = None, check_host: bool = True) -> ASGIApp:
    """Return the application that serves ``store`` read-only.

    :param token: when given, every request must carry it (see :class:`Guard`).
    :param check_host: refuse requests whose ``Host`` is not a loopback name
        or address (what a DNS-rebinding page sends); for a loopback bind.
    """
    pages_ = _Pages(store)
    routes = [
        Route("/", pages_.runs),
        Route("/run", pages_.run),
        Route("/job", pages_.job),
        Route("/running", pages_.running),
        Route("/api/runs", pages_.api_runs),
        Route("/api/run", pages_.api_run),
        Route("/api/job", pages_.api_job),
        Route("/api/running", pages_.api_running),
        Mount("/static", StaticFiles(directory=STATIC, follow_symlink=False), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: pages_.error})
    return Guard(app, token=token, check_host=check_host)


def _html(page: Html, status: int = 200) -> Response:
    body = page.encode("utf-8", "backslashreplace")
    return Response(body, status, media_type="text/html; charset=utf-8", headers=_NO_STORE)


def _json(value: Any, status: int = 200) -> Response:
    body = json.dumps(value, ensure_ascii=True, separators=(",", ":"))  # ASCII: no lone surrogate survives
    return Response(body, status, media_type="application/json", headers=_NO_STORE)


def _param(request: Request, name: str) -> str:
    value = request.query_params.get(name)
    if not value:
        raise HTTPException(400, f"the query parameter {name!r} is missing")
    return value


def _page_number(request: Request) -> int:
    text = request.query_params.get("page") or "1"
    if not text.isdigit() or not 1 <= int(text) <= 10**9:
        raise HTTPException(400, f"page must be a whole number from 1, got {text!r}")
    return int(text)


def _state(request: Request) -> State | None:
    text = (request.query_params.get("state") or "").upper()
    if not text:
        return None
    if text not in RUN_STATES:
        raise HTTPException(400, f"state must be one of {', '.join(RUN_STATES)}, got {text!r}")
    return State[text]


class _Pages:
    """The routes' handlers over one store. Starlette runs them in its threads: the store is thread-safe."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._layers: OrderedDict[str, dict[str, int]] = OrderedDict()
        self._lock = threading.Lock()

    def error(self, request: Request, exc: Exception) -> Response:
        """Show an HTTP error as a page, or as JSON under ``/api/``."""
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        detail = exc.detail if isinstance(exc, HTTPException) else "internal error"
        if request.url.path.startswith("/api/"):
            return _json({"error": detail}, status)
        response = _html(error_page(status, detail, store=self.store.url), status)
        if isinstance(exc, HTTPException) and exc.headers:
            response.headers.update(exc.headers)
        return response

    def _read(self, what: str, read: Any, *args: Any, **kwargs: Any) -> Any:
        """Call a reader of the store: an unknown run is 404, a store that fails is 503."""
        try:
            return read(*args, **kwargs)
        except RunNotFoundError:
            raise HTTPException(404, f"no run {what!r} in the run store") from None
        except StoreError as error:
            raise HTTPException(503, f"the run store cannot be read: {error}") from None

    def layers(self, request_id: str) -> dict[str, int]:
        """Return each job's layer in the run's chain, as ``chain show`` lays it out (kept per run)."""
        with self._lock:
            if request_id in self._layers:
                self._layers.move_to_end(request_id)
                return self._layers[request_id]
        layers = _layers(self._read(request_id, self.store.chain, request_id))
        with self._lock:
            self._layers[request_id] = layers
            while len(self._layers) > _LAYERS_KEPT:
                self._layers.popitem(last=False)
        return layers

    # -- the runs --

    def _runs(self, request: Request) -> dict[str, Any]:
        state, page = _state(request), _page_number(request)
        total = self._read("", self.store.count_runs, state=state)
        offset = (page - 1) * RUNS_PER_PAGE
        runs = self._read("", self.store.runs, state=state, limit=RUNS_PER_PAGE, offset=offset)
        now = time.time()
        return {
            "state": None if state is None else state.name,
            "page": page,
            "pages": pages(total, RUNS_PER_PAGE),
            "total": total,
            "runs": [run_view(run, now) for run in runs],
        }

    def runs(self, request: Request) -> Response:
        """Show the runs, newest first, filtered by state and paged."""
        value = self._runs(request)
        page = runs_page(
            value["runs"],
            state=value["state"],
            page=value["page"],
            pages=value["pages"],
            total=value["total"],
            store=self.store.url,
        )
        return _html(page)

    def api_runs(self, request: Request) -> Response:
        """Return the runs as JSON."""
        return _json(self._runs(request))

    # -- a run --

    def _run(self, request: Request) -> tuple[dict[str, Any], list[JobInfo], list[JobInfo], int, int]:
        request_id, page = _param(request, "id"), _page_number(request)
        run = self._read(request_id, self.store.run, request_id)
        jobs: list[JobInfo] = self._read(request_id, self.store.jobs, request_id)
        shown = jobs[(page - 1) * JOBS_PER_PAGE : page * JOBS_PER_PAGE]
        return run_view(run), jobs, shown, page, pages(len(jobs), JOBS_PER_PAGE)

    def run(self, request: Request) -> Response:
        """Show a run: its facts, its chain drawn (by layer counts above :data:`GRAPH_MAX` jobs), its jobs."""
        run, jobs, shown, page, pages_ = self._run(request)
        request_id = request.query_params["id"]
        layers = self.layers(request_id)
        now = time.time()
        if len(jobs) <= GRAPH_MAX:
            picture = graph(jobs, layers)
        else:
            picture = summary(layer_summary(jobs, layers), len(jobs))
        html = run_page(
            run,
            [job_view(job, now) for job in shown],
            request_id=request_id,
            picture=picture,
            job_data=json_text(self._read(request_id, self.store.job_data, request_id))[0],
            paging=(page, pages_),
            store=self.store.url,
            live=url("/api/run", id=request_id, page=page if page > 1 else None),
        )
        return _html(html)

    def api_run(self, request: Request) -> Response:
        """Return a run and a page of its jobs as JSON; counts by layer too above :data:`GRAPH_MAX` jobs."""
        run, jobs, shown, page, pages_ = self._run(request)
        now = time.time()
        summary = None
        if len(jobs) > GRAPH_MAX:
            summary = layer_summary(jobs, self.layers(request.query_params["id"]))
        value = {
            "run": run,
            "page": page,
            "pages": pages_,
            "jobs": [job_view(job, now) for job in shown],
            "layers": summary,
        }
        return _json(value)

    # -- a job --

    def _job(self, request: Request) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]], str, str]:
        request_id, job_id = _param(request, "run"), _param(request, "id")
        run = self._read(request_id, self.store.run, request_id)
        jobs: list[JobInfo] = self._read(request_id, self.store.jobs, request_id)
        job = next((j for j in jobs if j.job_id == job_id), None)
        if job is None:
            raise HTTPException(404, f"run {request_id!r} has no job {job_id!r}")
        now = time.time()
        tries = [try_view(entry, now) for entry in self._read(request_id, self.store.log, request_id, job_id)]
        return run_view(run, now), job_view(job, now), tries, request_id, job_id

    def job(self, request: Request) -> Response:
        """Show a job of a run, its job args, and each try with its times, error, traceback and output."""
        run, job, tries, request_id, job_id = self._job(request)
        chain = self._read(request_id, self.store.chain, request_id)
        found = chain.jobs.get(job_id)
        args = None if found is None else json_text(dict(found.record.job_args))
        return _html(job_page(run, job, tries, args=args, store=self.store.url))

    def api_job(self, request: Request) -> Response:
        """Return a job of a run and its tries as JSON."""
        run, job, tries, _, _ = self._job(request)
        return _json({"run": run, "job": job, "tries": tries})

    # -- what runs now --

    def _running(self) -> list[dict[str, Any]]:
        now = time.time()
        found = []
        for run in self._read("", self.store.running):
            try:
                jobs = self.store.jobs(run.request_id, states=(State.RUNNING,))
            except RunNotFoundError:  # gone between the two reads
                continue
            except StoreError as error:
                raise HTTPException(503, f"the run store cannot be read: {error}") from None
            found.append(run_view(run, now) | {"running": [job_view(job, now) for job in jobs]})
        return found

    def running(self, request: Request) -> Response:
        """Show the runs now running and their running jobs."""
        return _html(running_page(self._running(), store=self.store.url))

    def api_running(self, request: Request) -> Response:
        """Return the runs now running as JSON."""
        return _json({"runs": self._running()})


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address) is loopback: ``localhost``, ``127.x.y.z``, ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback(header: str) -> bool:
    """Whether a ``Host`` header (``name:port``, ``[::1]:port``) names this machine's loopback."""
    if header.startswith("["):
        return is_loopback(header[1:].partition("]")[0])
    return is_loopback(header.rpartition(":")[0] if ":" in header else header)


class Guard:
    """What every request passes first: read-only, the token, the ``Host``, and the security headers.

    - A method other than ``GET`` and ``HEAD`` is 405.
    - With a token: ``?token=TOKEN`` once sets an ``HttpOnly``,
      ``SameSite=Strict`` cookie and redirects to the same URL without it;
      after that the cookie, or an ``Authorization: Bearer TOKEN`` header,
      carries it. No token is 401, a wrong one 403.
    - With ``check_host``, a ``Host`` that is not loopback is 421, so that
      a page whose name was made to point at 127.0.0.1 reads nothing.
    - Every response carries the Content-Security-Policy :data:`CSP` (no
      inline script), ``nosniff``, and ``DENY`` to frames.
    """

    def __init__(self, app: ASGIApp, *, token: str | None, check_host: bool) -> None:
        self.app = app
        self._token = None if token is None else token.encode()
        self._check_host = check_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan":
                await self.app(scope, receive, send)
            return  # no websockets

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *_HEADERS]
            await send(message)

        refusal = self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope) -> Response | None:
        if scope["method"] not in {"GET", "HEAD"}:
            return PlainTextResponse(
                "405 Method Not Allowed: this server only reads\n", 405, headers={"allow": "GET, HEAD"}
            )
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        if self._check_host and "host" in headers and not _loopback(headers["host"]):
            msg = "421 Misdirected Request: this server answers to loopback names only\n"
            return PlainTextResponse(msg, 421)
        if self._token is None:
            return None
        return self._token_refusal(scope, headers)

    def _token_refusal(self, scope: Scope, headers: dict[str, str]) -> Response | None:
        assert self._token is not None  # noqa: S101 - only called with a token
        query = parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True)
        given = [v for k, v in query if k == "token"]
        if given:
            if not self._matches(given[-1]):
                return PlainTextResponse("403 Forbidden: wrong token\n", 403)
            rest = urlencode([(k, v) for k, v in query if k != "token"], encoding="latin-1")
            path = scope.get("raw_path", scope["path"].encode()).decode("latin-1")
            to = "/" + path.lstrip("/") + (f"?{rest}" if rest else "")  # never //host: it stays here
            response = RedirectResponse(to, 303)
            response.set_cookie(COOKIE, self._token.decode(), httponly=True, samesite="strict", path="/")
            return response
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
        candidate = bearer if scheme.lower() == "bearer" else cookie
        if candidate is None:
            return PlainTextResponse(
                "401 Unauthorized: open the address with ?token=TOKEN, the token printed when the server "
                "started (or in SPINCYCLE_JOBS_UI_TOKEN)\n",
                401,
                headers={"www-authenticate": "Bearer"},
            )
        if not self._matches(candidate):
            return PlainTextResponse("403 Forbidden: wrong token\n", 403)
        return None

    def _matches(self, given: str) -> bool:
        assert self._token is not None  # noqa: S101 - only called with a token
        return hmac.compare_digest(given.encode("utf-8", "replace"), self._token)
