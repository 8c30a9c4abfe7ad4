"""What ``import spincycle_jobs`` costs, next to its dependencies: a new process per run.

Run: ``python -m tests.benchmarks.imports [--repeat 21]``.
"""

from __future__ import annotations

import argparse
import functools

from ._common import interleaved
from ._common import run_once
from ._common import table

CASES = {
    "python -c pass": "pass",
    "import attrs": "import attrs",
    "import pluggy, attrs": "import pluggy, attrs",
    "import spincycle_jobs": "import spincycle_jobs",
    "import spincycle_jobs; Factory (no discovery)": "from spincycle_jobs import Factory; Factory()",
}


def main() -> None:
    """Time each import in new processes, taking turns, and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=21, help="runs per row; the median is shown")
    opts = parser.parse_args()
    cases = {name: functools.partial(run_once, code, {}) for name, code in CASES.items()}
    times = interleaved(cases, opts.repeat)
    base = times["python -c pass"]
    rows = [[name, f"{t * 1000:.1f}", f"{(t - base) * 1000:.1f}"] for name, t in times.items()]
    print(table(["process", "ms", "over python -c pass"], rows))


if __name__ == "__main__":
    main()
