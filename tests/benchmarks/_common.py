"""What the benchmarks share: timing a cold interpreter, and printing a table."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping
    from collections.abc import Sequence


def _environ(env: dict[str, str]) -> dict[str, str]:
    # Installers compile modules to bytecode; a benchmark that could not cache it would time compiling.
    return {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | env


def run_once(code: str, env: dict[str, str]) -> float:
    """Return the wall time, in seconds, of ``python -c code`` in a new process."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=_environ(env), check=True)
    return time.perf_counter() - start


def run_timed(code: str, env: dict[str, str]) -> float:
    """Return the seconds that ``python -c code`` prints as its last line: a time measured in-process."""
    proc = subprocess.run(
        [sys.executable, "-c", code], env=_environ(env), check=True, capture_output=True, text=True
    )
    return float(proc.stdout.split()[-1])


def interleaved(cases: Mapping[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Run every case once per round, ``repeat`` rounds, and return each case's median in seconds.

    Taking turns spreads the noise of a shared machine over all cases alike,
    so their ratios hold better than their absolute times.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeat):
        for name, case in cases.items():
            times[name].append(case())
    return {name: statistics.median(t) for name, t in times.items()}


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as a reStructuredText simple table, which reads well as plain text too."""
    cells = [list(map(str, header)), *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join([rule, lines[0], rule, *lines[1:], rule])
