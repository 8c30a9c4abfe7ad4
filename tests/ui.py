"""What the web page's tests share: a run store filled by real runs, and ``spincycle-jobs ui`` serving it.

The runs are made by :class:`~spincycle_jobs.ChainRunner` recording to a
real SQLite store, with a job steered by its args (:class:`Steered`); the
server is the real command, started on a free port of 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import hookimpl
from spincycle_jobs import open_store

from .conftest import clean_env

if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Mapping
    from pathlib import Path

    from spincycle_jobs import ChainResult

WAIT = 30.0  # a wait this long means a hang, never a slow machine

#: Values that would do harm if a page took them for markup, a link or a terminal's commands.
SCRIPT = "<script>document.title='pwned'</script>"
IMG = "<img src=x onerror=\"document.title='pwned'\">"
LINK = "javascript:document.title='pwned'"
ANSI = "\x1b[31mred\x1b[0m\x1b]0;title\x07"
SURROGATE = "lone \udc80 surrogate"
BIG = 10_000_000  # characters of stdout

#: Events that :class:`Steered` jobs in mode ``block`` wait for, by name.
GATES: dict[str, threading.Event] = {}


@attrs.define
class Steered(BaseJob):
    """A job steered by ``job_args["modes"][name]``: ``raise``, ``fail``, ``block`` (until its gate
    opens), ``hostile`` (prints hostile text and 10 MB), else it completes, printing a line."""

    mode: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.mode = str(job_args.get("modes", {}).get(self.name(), ""))

    def run(self, job_data: dict[str, Any]) -> Return:
        if self.mode == "raise":
            msg = f"{self.name()} broke"
            raise RuntimeError(msg)
        if self.mode == "fail":
            return Return(State.FAIL, exit=3, error=ValueError(SCRIPT), stderr=f"{ANSI}\n{SURROGATE}\n")
        if self.mode == "block":
            self.set_status("waiting for its gate")
            gate = GATES.setdefault(self.name(), threading.Event())
            while not gate.is_set() and not self.wait(0.05):
                pass
            return Return(State.STOPPED if self.stopped else State.COMPLETE)
        if self.mode == "hostile":
            return Return(State.COMPLETE, stdout=f"{SCRIPT}\n{IMG}\n{ANSI}\n{SURROGATE}\n" + "x" * BIG)
        return Return(State.COMPLETE, stdout=f"{self.name()} ran\n")


class SteeredPlugin:
    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"steered": Steered}


def factory() -> Factory:
    """A factory that knows only :class:`Steered`, as type ``steered``."""
    return Factory(autoload=False, plugins=[SteeredPlugin])


def run_chain(
    url: str,
    request_id: str,
    graph: Mapping[str, list[str]],
    *,
    modes: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> ChainResult:
    """Build a chain of ``steered`` jobs (id -> after), run it recording to the store at ``url``."""
    made = factory()
    builder = ChainBuilder(request_id, {"modes": dict(modes or {})}, factory=made)
    for job_id, after in graph.items():
        builder.job(job_id, "steered", (names or {}).get(job_id, job_id), after=after)
    with open_store(url) as store:
        return ChainRunner(builder.build(), factory=made, store=store).run()


def fill(url: str) -> None:
    """Record the runs the tests look at: ``ok`` (3 jobs), ``broke`` (a job raised) and a hostile one."""
    run_chain(url, "ok", {"first": [], "second": ["first"], "third": ["first"]})
    run_chain(url, "broke", {"fine": [], "raises": ["fine"]}, modes={"raises": "raise"})
    run_chain(
        url,
        HOSTILE_RUN,
        {HOSTILE_JOB: [], LINK: [HOSTILE_JOB], "fails": []},
        modes={SCRIPT: "hostile", "fails": "fail"},
        names={HOSTILE_JOB: SCRIPT, LINK: IMG},
    )


#: The hostile run's request id, and the id of its job that prints hostile text.
HOSTILE_RUN = f"{IMG}{ANSI}"
HOSTILE_JOB = SCRIPT


@attrs.define
class Server:
    """A running ``spincycle-jobs ui``: its address and its process."""

    url: str
    proc: subprocess.Popen[str]
    first_lines: list[str]

    def get(self, path: str, headers: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        """GET ``path`` (raw, as given), never following redirects: status, headers (lower-case), body."""
        request = urllib.request.Request(self.url.rstrip("/") + path, headers=dict(headers or {}))  # noqa: S310
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=WAIT) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


@contextlib.contextmanager
def serving(url: str, *args: str, **env: str) -> Iterator[Server]:
    """Run ``spincycle-jobs ui --store URL --bind 127.0.0.1:0 ARGS``; stop it with SIGINT at the end."""
    cmd = [sys.executable, "-m", "spincycle_jobs", "ui", "--store", url, "--bind", "127.0.0.1:0", *args]
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=clean_env(**env)
    )
    try:
        lines: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("store:"):
                break
        found = re.search(r"http://\S+", "".join(lines))
        assert found, "".join(lines)
        yield Server(found.group(), proc, lines)
    finally:
        stop(proc)


def stop(proc: subprocess.Popen[str]) -> int:
    """Stop a server as Ctrl-C does, killing it only if it hangs; return its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        return proc.wait(WAIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def refused(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run ``spincycle-jobs ui ARGS`` expecting it to exit at once; return what it did."""
    return subprocess.run(
        [sys.executable, "-m", "spincycle_jobs", "ui", *args],
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=WAIT,
        check=False,
    )


@pytest.fixture(scope="module", name="store_url")
def filled_store(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite store with the runs of :func:`fill`, for a module's tests."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ui') / 'runs.sqlite3'}"
    fill(url)
    return url


@pytest.fixture(scope="module", name="server")
def serving_store(store_url: str) -> Iterator[Server]:
    """``spincycle-jobs ui`` serving :func:`filled_store`, for a module's tests."""
    with serving(store_url) as running:
        yield running


def wait_running(server: Server, request_id: str, job_id: str) -> None:
    """Wait until the store shows ``job_id`` of run ``request_id`` running."""
    deadline = time.monotonic() + WAIT
    while True:
        status, _, body = server.get(f"/api/run?id={request_id}")
        jobs = json.loads(body)["jobs"] if status == 200 else []
        if any(job["job_id"] == job_id and job["state"] == "RUNNING" for job in jobs):
            return
        assert time.monotonic() < deadline, f"{job_id} of {request_id} never ran: {status} {body[:300]!r}"
        time.sleep(0.05)


def screenshot_dir() -> Path | None:
    """Where the browser tests save their screenshots: ``SPINCYCLE_JOBS_SCREENSHOTS``, else nowhere."""
    from pathlib import Path  # noqa: PLC0415 - only at run time

    where = os.environ.get("SPINCYCLE_JOBS_SCREENSHOTS")
    return Path(where) if where else None
