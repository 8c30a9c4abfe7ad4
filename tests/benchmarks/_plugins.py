"""Generate installed plugin distributions: real ``dist-info`` folders and packages in one folder.

Each distribution ``bench-plugin-NNNN`` has an entry point in the benchmark's
group naming its hook module, which offers ``types_per`` job types as lazy
strings, and the same job types as stevedore drivers in group ``DRIVERS``.
Each job module busy-waits ``import_cost`` seconds when imported, standing
in for a real job's imports. Each ``dist-info`` folder has the files an
installer writes: ``METADATA``, ``entry_points.txt``, ``top_level.txt`` and a
``RECORD`` listing them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: The entry-point group of the generated plugins (kept apart from real ones).
GROUP = "spincycle_jobs_bench"
#: The entry-point group of the same job types as stevedore drivers.
DRIVERS = "spincycle_jobs_bench.drivers"

JOB_MODULE = """\
import time

import attrs

from spincycle_jobs import BaseJob, Return, State

_start = time.perf_counter()
while time.perf_counter() - _start < {cost}:
    pass


@attrs.define
class Job(BaseJob):
    def create(self, job_args):
        pass

    def run(self, job_data):
        return Return(State.COMPLETE)
"""

HOOK_MODULE = """\
from spincycle_jobs import hookimpl


@hookimpl
def spincycle_jobs_job_types():
    return {offers!r}
"""


def job_type(plugin: int, index: int) -> str:
    """Return the name of job type ``index`` of plugin ``plugin``."""
    return f"b{plugin:04d}-t{index}"


def package(plugin: int) -> str:
    """Return the import name of plugin ``plugin``'s package."""
    return f"bench_plugin_{plugin:04d}"


def generate(root: Path, count: int, types_per: int = 10, import_cost: float = 0.002) -> None:
    """Write ``count`` plugin distributions into ``root``, a folder to put on ``sys.path``."""
    for n in range(count):
        pkg = package(n)
        targets = {job_type(n, i): f"{pkg}.job_{i}:Job" for i in range(types_per)}
        (root / pkg).mkdir(parents=True)
        (root / pkg / "__init__.py").write_text("")
        (root / pkg / "plugin.py").write_text(HOOK_MODULE.format(offers=targets))
        for i in range(types_per):
            (root / pkg / f"job_{i}.py").write_text(JOB_MODULE.format(cost=import_cost))
        dist_info = root / f"bench_plugin_{n:04d}-1.0.dist-info"
        dist_info.mkdir()
        (dist_info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: bench-plugin-{n:04d}\nVersion: 1.0\n"
        )
        drivers = "".join(f"{t} = {target}\n" for t, target in targets.items())
        entry_points = f"[{GROUP}]\nbench{n:04d} = {pkg}.plugin\n\n[{DRIVERS}]\n{drivers}"
        (dist_info / "entry_points.txt").write_text(entry_points)
        (dist_info / "top_level.txt").write_text(pkg + "\n")
        files = [
            f"{pkg}/{name}"
            for name in ("__init__.py", "plugin.py", *(f"job_{i}.py" for i in range(types_per)))
        ]
        files += [f"{dist_info.name}/{name}" for name in ("METADATA", "entry_points.txt", "top_level.txt")]
        (dist_info / "RECORD").write_text("".join(f"{f},,\n" for f in files) + f"{dist_info.name}/RECORD,,\n")
