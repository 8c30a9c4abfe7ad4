"""Cold start to the first ``make``, as the number of installed plugin distributions grows.

Run: ``python -m tests.benchmarks.discovery [--sizes 1,10,100,1000] [--repeat 5]``
(stevedore rows need ``pip install stevedore``). Each row is a new Python
process doing one thing; the table gives the median wall time of each, and
each approach's time as a multiple of this package's ``Factory``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

from ._common import cold
from ._common import table
from ._plugins import DRIVERS
from ._plugins import GROUP
from ._plugins import generate
from ._plugins import job_type
from ._plugins import package

TYPE = job_type(0, 0)

APPROACHES = {
    "spincycle_jobs Factory().make": f"""
from spincycle_jobs import Factory
Factory(group={GROUP!r}).make({TYPE!r}, "x")
""",
    "pluggy load_setuptools_entrypoints, all job classes": f"""
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
    "stevedore DriverManager": f"""
from stevedore import DriverManager
DriverManager({DRIVERS!r}, {TYPE!r}).driver({TYPE!r}, "x")
""",
    "import the one job module (the limit)": f"import {package(0)}.job_0",
}


def main() -> None:
    """Generate the plugin sets, time each approach, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,1000", help="numbers of installed distributions")
    parser.add_argument("--repeat", type=int, default=5, help="runs per cell; the median is shown")
    opts = parser.parse_args()
    approaches = dict(APPROACHES)
    if importlib.util.find_spec("stevedore") is None:
        del approaches["stevedore DriverManager"]
        print("stevedore is not installed: its row is left out", file=sys.stderr)
    rows = []
    for size in map(int, opts.sizes.split(",")):
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "site"
            generate(root, size)
            env = {"PYTHONPATH": str(root), "XDG_CACHE_HOME": str(Path(tmp) / "cache")}
            times = {}
            for name, code in approaches.items():
                cold(code, env, 1)  # warm the OS file cache, and stevedore's own cache
                repeat = 1 if name.startswith("pluggy") and size >= 1000 else opts.repeat
                times[name] = cold(code, env, repeat)
            base = times["spincycle_jobs Factory().make"]
            rows += [[size, name, f"{t * 1000:.0f}", f"{t / base:.2f}x"] for name, t in times.items()]
            print(f"done: {size} distributions", file=sys.stderr)
    print(table(["dists", "approach", "ms", "vs Factory"], rows))


if __name__ == "__main__":
    main()
