"""Cold start to the first ``make``, as the number of installed plugin distributions grows.

Run: ``python -m tests.benchmarks.discovery [--sizes 1,10,100,1000] [--repeat 5]``
(stevedore rows need ``pip install stevedore``). Each row is a new Python
process doing one thing; the table gives the median wall time of each, and
each approach's time as a multiple of this package's ``Factory`` with its index warm.
The last two rows per size are measured inside the process: checking the
index, from reading it to knowing it is current, as the first ``Factory`` of a
process does; and its floor, a bare loop of ``os.stat`` over the files the
index stamps, which any check that sees a change to each of them must pay.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

from ._common import interleaved
from ._common import run_once
from ._common import run_timed
from ._common import table
from ._plugins import DRIVERS
from ._plugins import GROUP
from ._plugins import generate
from ._plugins import job_type
from ._plugins import package

TYPE = job_type(0, 0)
STEVEDORE = f"""
from stevedore import DriverManager
DriverManager({DRIVERS!r}, {TYPE!r}).driver({TYPE!r}, "x")
"""

MAKE = f"""
from spincycle_jobs import Factory
Factory(group={GROUP!r}).make({TYPE!r}, "x")
"""
BASE = "Factory().make, index warm"
CHECK = "checking the index, in-process (ms, not a process)"
CHECK_CODE = f"""
import time
from spincycle_jobs import Factory
factory = Factory(group={GROUP!r})
start = time.perf_counter()
assert factory.used_index  # reads the index's header and stamps, checks every stamp; makes nothing
print(time.perf_counter() - start)
"""
FLOOR = "its floor: a bare os.stat of each stamped file, in-process"
FLOOR_CODE = f"""
import json, os, time
from spincycle_jobs import _index
index = _index.locate({GROUP!r}, None, frozenset())
with open(index.path, "rb") as src:
    _, entries, files = src.read().split(b"\\n", 3)[:3]
entries, files = json.loads(entries), json.loads(files)
paths = [os.path.join(e[0] or os.getcwd(), name) for e in entries for name in e[3]]
paths += [e[0] or os.getcwd() for e in entries] + [path for path, _ in files[1:]]
start = time.perf_counter()
for path in paths:
    try:
        os.stat(path)
    except OSError:
        pass
print(time.perf_counter() - start)
"""
IN_PROCESS = (CHECK, FLOOR)
PLUGGY_LAZY = "pluggy load_setuptools_entrypoints, lazy class paths"

#: name: (code, extra environment, the cache folder to empty before each run, if any)
APPROACHES: dict[str, tuple[str, dict[str, str], str | None]] = {
    BASE: (MAKE, {}, None),
    "Factory().make, index cold (built and written)": (MAKE, {}, "spincycle-jobs"),
    "Factory().make, no index (SPINCYCLE_JOBS_NO_CACHE=1)": (MAKE, {"SPINCYCLE_JOBS_NO_CACHE": "1"}, None),
    PLUGGY_LAZY: (
        f"""
import importlib, pluggy
from spincycle_jobs import hookspecs
pm = pluggy.PluginManager("spincycle_jobs")
pm.add_hookspecs(hookspecs)
pm.load_setuptools_entrypoints({GROUP!r})
targets = {{}}
for offer in pm.hook.spincycle_jobs_job_types():
    targets.update(offer)
module, _, attr = targets[{TYPE!r}].partition(":")
getattr(importlib.import_module(module), attr)({TYPE!r}, "x")
""",
        {},
        None,
    ),
    "pluggy load_setuptools_entrypoints, all job classes": (
        f"""
import importlib, pluggy
from spincycle_jobs import hookspecs
pm = pluggy.PluginManager("spincycle_jobs")
pm.add_hookspecs(hookspecs)
pm.load_setuptools_entrypoints({GROUP!r})
classes = {{}}
for offer in pm.hook.spincycle_jobs_job_types():
    for job_type, target in offer.items():
        module, _, attr = target.partition(":")
        classes[job_type] = getattr(importlib.import_module(module), attr)
classes[{TYPE!r}]({TYPE!r}, "x")
""",
        {},
        None,
    ),
    "stevedore DriverManager, cache warm": (STEVEDORE, {}, None),
    "stevedore DriverManager, cache cold": (STEVEDORE, {}, "python-entrypoints"),
    "import the one job module (the limit)": (f"import {package(0)}.job_0", {}, None),
}


def _ratio(name: str, t: float, times: dict[str, float]) -> str:
    """Return a row's time as a multiple of the warm index's; the check's, of its floor's."""
    if name in IN_PROCESS:
        return f"{t / times[FLOOR]:.2f}x the floor" if name == CHECK else ""
    return f"{t / times[BASE]:.2f}x"


def _case(code: str, env: dict[str, str], reset: Path | None) -> float:
    if reset is not None:
        shutil.rmtree(reset, ignore_errors=True)
    return run_once(code, env)


def main() -> None:
    """Generate the plugin sets, time each approach, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000", help="numbers of installed distributions")
    parser.add_argument("--repeat", type=int, default=11, help="runs per cell; the median is shown")
    opts = parser.parse_args()
    approaches = dict(APPROACHES)
    if importlib.util.find_spec("stevedore") is None:
        approaches = {k: v for k, v in approaches.items() if not k.startswith("stevedore")}
        print("stevedore is not installed: its rows are left out", file=sys.stderr)
    rows = []
    for size in map(int, opts.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "site"
            generate(root, size)
            cache = Path(tmp) / "cache"
            env = {
                "PYTHONPATH": str(root),
                "XDG_CACHE_HOME": str(cache),
                "SPINCYCLE_JOBS_CACHE_DIR": str(cache / "spincycle-jobs"),
            }
            cases = {}
            for name, (code, extra, reset) in approaches.items():
                run_once(code, env | extra)  # warm the OS file cache, and the caches
                cases[name] = functools.partial(_case, code, env | extra, cache / reset if reset else None)
            cases[CHECK] = functools.partial(run_timed, CHECK_CODE, env)
            cases[FLOOR] = functools.partial(run_timed, FLOOR_CODE, env)
            slow = {k: v for k, v in cases.items() if k.endswith("all job classes")}
            times = interleaved({k: v for k, v in cases.items() if k not in slow}, opts.repeat)
            times |= interleaved(slow, 1 if size >= 1000 else opts.repeat)  # about 30 s a run at 1,000
            rows += [
                [
                    size,
                    name,
                    f"{t * 1000:.1f}" if name in IN_PROCESS else f"{t * 1000:.0f}",
                    _ratio(name, t, times),
                ]
                for name, t in times.items()
            ]
            print(f"done: {size} distributions", file=sys.stderr)
    print(table(["dists", "approach", "ms", "vs index warm"], rows))


if __name__ == "__main__":
    main()
