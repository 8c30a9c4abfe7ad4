"""What running a chain costs: each executor against a baseline, on two graphs of trivial jobs.

Graphs: ``line``, 100 ``noop`` jobs one after another, and ``fan-out``,
one ``noop`` job, 10 after it side by side, and one after those 10.

Each case runs a whole graph once and returns the seconds it took; the
cases of a group (each executor with its baseline) take turns, round after
round, and the table shows each one's median. The groups run one after
the other, so the Dask cluster is not up while the threads are measured.
A case names a baseline it is compared to, measured in the same run, and
the bar it must meet: the cost it adds per job, or its time as a multiple
of the baseline's.

A second table runs chains of 1,000 and 10,000 ``noop`` jobs of three
shapes (a line, a fan-out from one job, a fan-in into one job), each in a
new process, recorded in a new SQLite run store: the run at 10,000 must
cost at most 12x the run at 1,000, and its peak memory grow no faster
than the chain (at most 10x). The same runs through ``chain run --save``
(the command line, with the store and a saved document), and the
operators' commands on those stores: ``chain status`` of the 10,000-job
run and ``chain ps`` over 100 recorded runs, each within a second.

Run: ``python -m tests.benchmarks.chains [--repeat 30] [--no-scale]`` with
the example plugin installed.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import TYPE_CHECKING
from typing import Any

import attrs

from spincycle_jobs import Chain
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import State
from spincycle_jobs import ThreadExecutor
from spincycle_jobs import open_store
from spincycle_jobs._document import make_job

from ._common import interleaved
from ._common import table

if TYPE_CHECKING:
    from collections.abc import Callable


@attrs.frozen
class Graph:
    """A chain to run, and its shape for engines that take plain task graphs."""

    #: Its name in the table.
    name: str
    #: The built chain of ``noop`` jobs.
    chain: Chain

    @property
    def after(self) -> dict[str, tuple[str, ...]]:
        """Each job id with the ids it runs after, in topological order."""
        return {job_id: job.after for job_id, job in self.chain.jobs.items()}


@attrs.frozen
class Case:
    """One row per graph: a way to run a graph, and what it is held to."""

    #: Its name in the table.
    name: str
    #: Runs the graph once; returns the seconds it took.
    run: Callable[[Graph], float]
    #: The name of the case it is compared to, or ``None`` for a baseline.
    baseline: str | None = None
    #: ``"adds"``: the bar is microseconds added per job; ``"ratio"``: a multiple of the baseline.
    measure: str = "adds"
    #: The bar: at most this many microseconds per job, or this multiple.
    bar: float = 0.0
    #: The graph the bar is for, or ``None`` for every graph.
    bar_graph: str | None = None


def graphs(factory: Factory) -> list[Graph]:
    """The line of 100 and the fan-out 10 wide."""
    line = ChainBuilder("line", factory=factory)
    for i in range(100):
        line.job(f"n{i}", "noop", f"n{i}", after=[f"n{i - 1}"] if i else [])
    fan = ChainBuilder("fan-out", factory=factory).job("first", "noop", "first")
    for i in range(10):
        fan.job(f"b{i}", "noop", f"b{i}", after=["first"])
    fan.job("last", "noop", "last", after=[f"b{i}" for i in range(10)])
    return [Graph("line of 100", line.build()), Graph("fan-out 10 wide", fan.build())]


def thread_cases(stack: contextlib.ExitStack, factory: Factory) -> list[Case]:
    """The direct loop, and :class:`ChainRunner` on a :class:`ThreadExecutor`."""

    def direct(graph: Graph) -> float:
        jobs = [make_job(factory, job.record, job.id, print) for job in graph.chain.jobs.values()]
        start = time.perf_counter()
        for job in jobs:
            job.run({})
        return time.perf_counter() - start

    def by_hand(graph: Graph) -> float:
        start = time.perf_counter()
        for job in graph.chain.jobs.values():
            make_job(factory, job.record, job.id, print).run({})
        return time.perf_counter() - start

    executor = ThreadExecutor(factory)
    stack.callback(executor.close)

    def threads(graph: Graph) -> float:
        start = time.perf_counter()
        result = ChainRunner(graph.chain, executor=executor).run()
        elapsed = time.perf_counter() - start
        assert result.state == State.COMPLETE, result  # a benchmark of failures means nothing
        return elapsed

    folder = stack.enter_context(tempfile.TemporaryDirectory())
    store = stack.enter_context(open_store(f"sqlite:///{folder}/runs.sqlite3"))
    runs = iter(range(1_000_000))

    def recorded(graph: Graph) -> float:
        chain = Chain(f"{graph.chain.request_id}-{next(runs)}", graph.chain.jobs)  # a request id is one run
        start = time.perf_counter()
        result = ChainRunner(chain, executor=executor, store=store).run()
        elapsed = time.perf_counter() - start
        assert result.state == State.COMPLETE, result
        return elapsed

    loop = "make, deserialize, run(), in a loop"
    return [
        Case("job.run() directly, in a loop", direct),
        Case(loop, by_hand),
        Case("ChainRunner, ThreadExecutor", threads, "job.run() directly, in a loop", "adds", 200.0),
        Case("ChainRunner, ThreadExecutor, SQLite store", recorded, loop, "adds", 200.0, "line of 100"),
    ]


def _trivial(*_after: object) -> None:
    """A Dask task that does nothing, after the tasks it is given."""


def dask_cases(stack: contextlib.ExitStack, factory: Factory) -> list[Case]:
    """Dask running the graph as trivial tasks, and :class:`ChainRunner` on a :class:`DaskExecutor`.

    Both on one ``LocalCluster`` of two worker processes with two threads
    each, on 127.0.0.1, started here.
    """
    import dask  # noqa: PLC0415 - only the Dask rows need it
    import distributed  # noqa: PLC0415

    from spincycle_jobs.dask import DaskExecutor  # noqa: PLC0415

    stack.enter_context(dask.config.set({"distributed.scheduler.allowed-failures": 0}))
    cluster = stack.enter_context(
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            processes=True, n_workers=2, threads_per_worker=2, host="127.0.0.1", dashboard_address=":0"
        )
    )
    client = stack.enter_context(distributed.Client(cluster, set_as_default=False))  # type: ignore[no-untyped-call]
    executor = DaskExecutor(client)
    stack.callback(executor.close)

    def tasks(graph: Graph) -> float:
        start = time.perf_counter()
        futures: dict[str, distributed.Future[None]] = {}
        for job_id, after in graph.after.items():
            futures[job_id] = client.submit(_trivial, *(futures[a] for a in after), pure=False)
        client.gather(list(futures.values()))
        elapsed = time.perf_counter() - start
        client.cancel(list(futures.values()))
        return elapsed

    def on_dask(graph: Graph) -> float:
        start = time.perf_counter()
        result = ChainRunner(graph.chain, executor=executor).run()
        elapsed = time.perf_counter() - start
        assert result.state == State.COMPLETE, result
        return elapsed

    return [
        Case("Dask: the graph as trivial tasks", tasks),
        Case("ChainRunner, DaskExecutor", on_dask, "Dask: the graph as trivial tasks", "ratio", 1.5),
    ]


#: Every group of cases the benchmark runs, in table order.
CASE_GROUPS: list[Callable[[contextlib.ExitStack, Factory], list[Case]]] = [thread_cases, dask_cases]


def measure(cases: list[Case], graph: Graph, repeat: int) -> list[list[Any]]:
    """Run the cases in turns on ``graph`` and return the table's rows."""
    jobs = len(graph.chain.jobs)
    for case in cases:  # warm up: plugins loaded, modules imported, threads pooled
        case.run(graph)
    medians = interleaved({case.name: functools.partial(case.run, graph) for case in cases}, repeat)
    rows = []
    for case in cases:
        median = medians[case.name]
        cells: list[Any] = [graph.name, case.name, f"{median * 1000:.2f}", f"{median / jobs * 1e6:.1f}"]
        if case.baseline is None:
            rows.append([*cells, "-", "-", "-"])
            continue
        base = medians[case.baseline]
        adds, ratio = (median - base) / jobs * 1e6, median / base
        if case.bar_graph not in (None, graph.name):
            rows.append([*cells, f"{adds:.1f}", f"{ratio:.2f}x", "-"])
            continue
        if case.measure == "adds":
            verdict = "yes" if adds <= case.bar else "NO"
            bar = f"adds <= {case.bar:g} us"
        else:
            verdict = "yes" if ratio <= case.bar else "NO"
            bar = f"<= {case.bar:g}x"
        rows.append([*cells, f"{adds:.1f}", f"{ratio:.2f}x", f"{bar}: {verdict}"])
    return rows


#: What one process of the scale table runs: build a chain of a shape and size, run it recorded.
_SCALE_RUN = """
import json, resource, sys, time
from spincycle_jobs import ChainBuilder, ChainRunner, Factory, State, open_store
import spincycle_jobs._chainrunner, spincycle_jobs._store._sqlite, spincycle_jobs._threadexec
shape, n, url = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def rss_kib():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
before = rss_kib()  # all imported, nothing built: what is resident now (the peak may be higher)
factory = Factory()
builder = ChainBuilder(f"{shape}-{n}", factory=factory)
if shape == "fan-out":
    builder.job("first", "noop", "first")
for i in range(n):
    after = {"line": [f"n{i - 1}"] if i else [], "fan-out": ["first"], "fan-in": []}[shape]
    builder.job(f"n{i}", "noop", f"n{i}", after=after)
if shape == "fan-in":
    builder.job("last", "noop", "last", after=[f"n{i}" for i in range(n)])
chain = builder.build()
with open_store(url) as store:
    start = time.perf_counter()
    result = ChainRunner(chain, factory=factory, store=store).run()
    elapsed = time.perf_counter() - start
assert result.state == State.COMPLETE, result.state
if len(sys.argv) > 4:
    open(sys.argv[4], "w").write(chain.to_json())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "peak_kib": peak, "before_kib": before}))
"""

SHAPES = ("line", "fan-out", "fan-in")
SIZES = (1_000, 10_000)


def _run(args: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - start


def scale_table(folder: str) -> str:
    """Run each shape at each size in a process of its own, with the store and with ``--save``."""
    rows: list[list[Any]] = []
    for shape in SHAPES:
        by_size: dict[int, tuple[float, float, float]] = {}
        for n in SIZES:
            url = f"sqlite:///{folder}/{shape}-{n}.sqlite3"
            doc = f"{folder}/{shape}-{n}.json"
            proc = subprocess.run(
                [sys.executable, "-c", _SCALE_RUN, shape, str(n), url, doc],
                check=True,
                capture_output=True,
                text=True,
            )
            measured = json.loads(proc.stdout)
            grown = max(measured["peak_kib"] - measured["before_kib"], 1)  # building and running the chain
            cli = [sys.executable, "-m", "spincycle_jobs", "chain", "run", "--from", doc]
            saved = _run([*cli, "--save", f"{folder}/{shape}-{n}-saved.json", "--store", url + "-cli"])
            by_size[n] = (measured["seconds"], grown, saved)
        small, large = by_size[SIZES[0]], by_size[SIZES[1]]
        for n, (seconds, grown, saved) in by_size.items():
            rows.append([shape, n, f"{seconds:.2f}", f"{grown / 1024:.1f}", f"{saved:.2f}"])
        time_x, mem_x, save_x = (large[i] / small[i] for i in range(3))
        verdict = "yes" if time_x <= 12 and mem_x <= 10 and save_x <= 12 else "NO"
        rows.append([shape, "10,000 / 1,000", f"{time_x:.1f}x", f"{mem_x:.1f}x", f"{save_x:.1f}x", verdict])
    for row in rows:
        row.extend([""] * (6 - len(row)))
    header = [
        "shape",
        "jobs",
        "run s (store)",
        "peak MiB over imports",
        "chain run --save s",
        "<= 12x, 10x, 12x",
    ]
    return table(header, rows)


def operators_table(folder: str) -> str:
    """Time ``chain status`` of the 10,000-job line and ``chain ps`` over 100 recorded runs."""
    url = f"sqlite:///{folder}/line-10000.sqlite3"
    spin = [sys.executable, "-m", "spincycle_jobs", "chain"]
    status = min(_run([*spin, "status", "line-10000", "--store", url]) for _ in range(5))
    many = f"sqlite:///{folder}/many.sqlite3"
    _seed_runs(many, 100)
    ps = min(_run([*spin, "ps", "--store", many]) for _ in range(5))
    listed = min(_run([*spin, "list", "--store", many]) for _ in range(5))
    rows = [
        ["chain status of a 10,000-job run", f"{status:.2f}", "yes" if status <= 1 else "NO"],
        ["chain ps, 100 recorded runs", f"{ps:.2f}", "yes" if ps <= 1 else "NO"],
        ["chain list, 100 recorded runs", f"{listed:.2f}", "yes" if listed <= 1 else "NO"],
    ]
    return table(["command", "s (best of 5, with start-up)", "<= 1 s"], rows)


def _seed_runs(url: str, count: int) -> None:
    """Record ``count`` runs of a three-job line."""
    factory = Factory()
    with open_store(url) as store:
        for i in range(count):
            builder = ChainBuilder(f"run-{i:03}", factory=factory)
            for j in range(3):
                builder.job(f"n{j}", "noop", f"n{j}", after=[f"n{j - 1}"] if j else [])
            ChainRunner(builder.build(), factory=factory, store=store).run()


def main() -> None:
    """Measure, then print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="rounds of every case")
    parser.add_argument(
        "--no-scale", action="store_true", help="leave out the tables at 1,000 and 10,000 jobs"
    )
    opts = parser.parse_args()
    factory = Factory()
    by_graph: dict[str, list[list[Any]]] = {}
    for group in CASE_GROUPS:  # one group at a time: the thread rows never share the CPU with a Dask cluster
        with contextlib.ExitStack() as stack:
            cases = group(stack, factory)
            for graph in graphs(factory):
                by_graph.setdefault(graph.name, []).extend(measure(cases, graph, opts.repeat))
    rows = [row for graph_rows in by_graph.values() for row in graph_rows]
    header = ["graph", "how", "ms/run", "us/job", "adds us/job", "x baseline", "bar"]
    print(table(header, rows))
    if not opts.no_scale:
        with tempfile.TemporaryDirectory() as folder:
            os.chmod(folder, 0o700)  # noqa: PTH101 - the store's folder is its owner's alone
            print()
            print(scale_table(folder))
            print()
            print(operators_table(folder))


if __name__ == "__main__":
    main()
