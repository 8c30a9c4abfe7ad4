"""What the web page costs: ``spincycle-jobs ui`` over 10,000 runs, and a run of 200 jobs in a browser.

A SQLite run store is filled by :class:`~spincycle_jobs.ChainRunner`
recording real runs of the example plugin's ``noop`` jobs: 10,000 runs of
one job, one run of 200 jobs (20 layers of 10, each job after one of the
layer before), and one of 10,000 jobs in a line. The real command serves
it on a free port of 127.0.0.1.

Rows, each the median of ``--repeat`` rounds taken in turns:

- the runs page (the first page, newest first, of 10,000 runs), its last
  page, and the runs filtered by state, as HTTP GETs of the whole page;
- the 200-job run page, over HTTP, and in headless Chromium from the
  navigation until the graph's 200 boxes are drawn and the page's
  ``load`` event has fired;
- the 10,000-job run page (its summary by layer), over HTTP;
- a run's page open in Chromium while its one job waits: from the moment
  the job is let go until its box shows it ``COMPLETE``, without a reload
  (the job ends, the run is recorded, the page's next reading of its JSON).

The bar for each: at most 1 s; for the last, at most 2 s.

Run: ``python -m tests.benchmarks.ui [--repeat 20]`` with the extras
``ui`` and ``test`` (Selenium) and the example plugin installed, and
Debian's ``chromium`` and ``chromium-driver``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import open_store
from tests import ui
from tests.browser import chromium

from ._common import table

if TYPE_CHECKING:
    from collections.abc import Callable

    from selenium.webdriver.remote.webdriver import WebDriver

RUNS = 10_000
WIDE, DEEP = 10, 20  # the 200-job run: 20 layers of 10
BIG = 10_000
DEEP_PAGE = RUNS // 50  # 50 runs a page


def fill(url: str, factory: Factory) -> None:
    """Record the runs: 10,000 of one job, one of 200 jobs, one of 10,000 in a line."""
    with open_store(url) as store:
        for i in range(RUNS):
            builder = ChainBuilder(f"run-{i:05d}", factory=factory)
            builder.job("only", "noop", "only")
            ChainRunner(builder.build(), factory=factory, store=store).run()
        builder = ChainBuilder("wide", factory=factory)
        for layer in range(DEEP):
            for i in range(WIDE):
                after = [f"j{layer - 1}-{i}"] if layer else []
                builder.job(f"j{layer}-{i}", "noop", f"job {layer}-{i}", after=after)
        ChainRunner(builder.build(), factory=factory, store=store).run()
        builder = ChainBuilder("big", factory=factory)
        for i in range(BIG):
            builder.job(f"j{i}", "noop", f"job {i}", after=[f"j{i - 1}"] if i else [])
        ChainRunner(builder.build(), factory=factory, store=store).run()


def get(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=60) as response:  # noqa: S310 - our own server
        response.read()
    return time.perf_counter() - start


def main() -> None:
    """Fill a store, serve it, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20, help="rounds (default: 20)")
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'runs.sqlite3'}"
        os.environ.setdefault("SPINCYCLE_JOBS_CACHE_DIR", str(Path(tmp) / "cache"))  # the server's index
        start = time.perf_counter()
        fill(url, Factory())
        print(f"filled the store in {time.perf_counter() - start:.1f} s")
        with ui.serving(url) as server, chromium() as browser:
            base = server.url.rstrip("/")

            def in_browser() -> float:
                start = time.perf_counter()
                browser.get(f"{base}/run?id=wide")  # returns once the load event has fired
                drawn = browser.execute_script("return document.querySelectorAll('svg.graph g.node').length")
                elapsed = time.perf_counter() - start
                assert drawn == WIDE * DEEP, drawn
                return elapsed

            def live() -> float:
                request_id = f"live-{len(ui.GATES)}"
                gate = ui.GATES.setdefault(request_id, threading.Event())
                modes = {"modes": {request_id: "block"}}
                runner = threading.Thread(
                    target=ui.run_chain, args=(url, request_id, {request_id: []}), kwargs=modes
                )
                runner.start()
                ui.wait_running(server, request_id, request_id)  # its page exists
                browser.get(f"{base}/run?id={request_id}")
                node = f"document.querySelector('svg.graph g[data-job=\"{request_id}\"]').classList"
                wait(browser, f"{node}.contains('st-RUNNING')")
                start = time.perf_counter()
                gate.set()
                wait(browser, f"{node}.contains('st-COMPLETE')")
                elapsed = time.perf_counter() - start
                runner.join()
                return elapsed

            cases: dict[str, tuple[Callable[[], float], float]] = {
                f"runs page 1, newest 50 of {RUNS + 2:,} (HTTP)": (lambda: get(f"{base}/"), 1.0),
                f"runs page {DEEP_PAGE}, after {(DEEP_PAGE - 1) * 50:,} (HTTP)": (
                    lambda: get(f"{base}/?page={DEEP_PAGE}"),
                    1.0,
                ),
                "runs page, state COMPLETE (HTTP)": (lambda: get(f"{base}/?state=COMPLETE"), 1.0),
                "runs as JSON (HTTP)": (lambda: get(f"{base}/api/runs"), 1.0),
                f"run page, {WIDE * DEEP} jobs (HTTP)": (lambda: get(f"{base}/run?id=wide"), 1.0),
                f"run page, {WIDE * DEEP} jobs, in Chromium until drawn": (in_browser, 1.0),
                f"run page, {BIG:,} jobs, a summary (HTTP)": (lambda: get(f"{base}/run?id=big"), 1.0),
                "a job's end shown on its open run page (Chromium)": (live, 2.0),
            }
            for case, _ in cases.values():  # warm: the first reading of each page
                case()
            times: dict[str, list[float]] = {name: [] for name in cases}
            for _ in range(opts.repeat):
                for name, (case, _) in cases.items():
                    times[name].append(case())
    rows = []
    for name, took in times.items():
        median, bar = statistics.median(took), cases[name][1]
        met = f"<= {bar:g} s: " + ("yes" if median <= bar else "NO")
        rows.append((name, f"{median * 1000:.1f}", f"{max(took) * 1000:.1f}", met))
    print(table(["page", "median ms", "max ms", "bar"], rows))


def wait(browser: WebDriver, script: str) -> None:
    """Poll until ``script`` (a JavaScript expression) is true in the page, every millisecond."""
    deadline = time.monotonic() + ui.WAIT
    while not browser.execute_script(f"return Boolean({script})"):
        if time.monotonic() > deadline:
            raise TimeoutError(script)
        time.sleep(0.001)


if __name__ == "__main__":
    main()
