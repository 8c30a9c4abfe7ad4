"""The Runner's own cost: ``noop`` jobs per second through ``Runner.run`` against a direct ``run``,
and the time from ``stop()`` to ``run`` returning for ``sleep``.

Run: ``python -m tests.benchmarks.runner [--jobs 20000] [--stops 50]`` with the
example plugin installed.
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from spincycle_jobs import Factory
from spincycle_jobs import Runner

from ._common import table


def per_job(factory: Factory, jobs: int, *, through_runner: bool, timeout: float | None = None) -> float:
    """Return the mean seconds per noop job, made beforehand, run directly or through a Runner."""
    made = [factory.make("noop", f"n{i}") for i in range(jobs)]
    start = time.perf_counter()
    for job in made:
        if through_runner:
            Runner(job, timeout=timeout).run({})
        else:
            job.run({})
    return (time.perf_counter() - start) / jobs


def stop_to_return(factory: Factory, stops: int) -> list[float]:
    """Return, for each of ``stops`` sleep jobs, the seconds from Runner.stop() to Runner.run returning."""
    delays = []
    for i in range(stops):
        job = factory.make("sleep", f"s{i}")
        job.create({"duration": 60})
        runner = Runner(job)
        ended: list[float] = []

        def run(runner: Runner = runner, ended: list[float] = ended) -> None:
            runner.run({})
            ended.append(time.perf_counter())

        thread = threading.Thread(target=run)
        thread.start()
        while runner.status().tries == 0:
            time.sleep(0.001)
        time.sleep(0.01)
        stopped = time.perf_counter()
        runner.stop()
        thread.join()
        delays.append(ended[0] - stopped)
    return delays


def main() -> None:
    """Measure, then print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20000, help="noop jobs per measurement")
    parser.add_argument("--stops", type=int, default=50, help="sleep jobs stopped")
    opts = parser.parse_args()
    factory = Factory()
    per_job(factory, 1000, through_runner=True)  # warm up
    direct = min(per_job(factory, opts.jobs, through_runner=False) for _ in range(3))
    runner = min(per_job(factory, opts.jobs, through_runner=True) for _ in range(3))
    with_timeout = min(per_job(factory, opts.jobs // 4, through_runner=True, timeout=60) for _ in range(3))
    delays = stop_to_return(factory, opts.stops)
    rows = [
        ["noop, job.run() directly", f"{1 / direct:,.0f}", f"{direct * 1e6:.1f}", "-"],
        [
            "noop, Runner(job).run()",
            f"{1 / runner:,.0f}",
            f"{runner * 1e6:.1f}",
            f"{(runner - direct) * 1e6:.1f}",
        ],
        [
            "noop, Runner(job, timeout=60).run()",
            f"{1 / with_timeout:,.0f}",
            f"{with_timeout * 1e6:.1f}",
            f"{(with_timeout - direct) * 1e6:.1f}",
        ],
    ]
    print(table(["noop jobs", "jobs/s", "us/job", "runner adds (us)"], rows))
    print()
    stop_rows = [
        ["median", f"{statistics.median(delays) * 1000:.2f}"],
        ["max", f"{max(delays) * 1000:.2f}"],
    ]
    print(table([f"sleep: stop() to run returning ({opts.stops} jobs)", "ms"], stop_rows))


if __name__ == "__main__":
    main()
