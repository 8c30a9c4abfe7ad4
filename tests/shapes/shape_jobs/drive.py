"""Run every shape on one path that runs jobs, in this process, and say how each ended.

Each function returns, for each job type, the state its job ended in and
what it reported (the job data key it set). The matrix test calls them in
its own process over an in-process plugin, and in a venv where this
distribution is really installed, as ``drive("thread", payload)``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING
from typing import Any

from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainRunner
from spincycle_jobs import Factory
from spincycle_jobs import Runner
from spincycle_jobs.testing import check_job

from .plugin import TYPES

if TYPE_CHECKING:
    from collections.abc import Callable

    from spincycle_jobs import Executor
    from spincycle_jobs import JobFactory

#: The ``when`` job arg of every job.
WHEN = "2024-05-06T07:08:09+02:00"

#: One row of the result: how the job ended, and what it reported.
Cell = dict[str, Any]


def job_args(payload: str) -> dict[str, Any]:
    """Return the job args every shape reads."""
    return {"payload": payload, "when": WHEN}


def runner(factory: JobFactory, payload: str) -> dict[str, Cell]:
    """Run each type as the seed does: make, create, serialize; make, deserialize, then a Runner."""
    found: dict[str, Cell] = {}
    for job_type in TYPES:
        try:
            creator = factory.make(job_type, job_type)
            creator.create(job_args(payload))
            data = creator.serialize()
            job = factory.make(job_type, job_type)
            job.deserialize(data)
            job_data: dict[str, Any] = {}
            result = Runner(job).run(job_data)
        except Exception as err:  # noqa: BLE001 - this type fails, the others go on
            found[job_type] = {"state": "raised", "got": repr(err)}
        else:
            error = result.returns[-1].error if result.returns else None
            found[job_type] = {
                "state": result.state.name,
                "got": job_data.get(job_type),
                "error": repr(error),
            }
    return found


def checked(factory: JobFactory, payload: str) -> dict[str, Cell]:
    """Run each type through check_job."""
    found: dict[str, Cell] = {}
    for job_type in TYPES:
        try:
            result, job_data = check_job(
                factory, job_type, job_args(payload), job_name=job_type, return_job_data=True
            )
        except Exception as err:  # noqa: BLE001 - this type fails, the others go on
            found[job_type] = {"state": "raised", "got": repr(err)}
        else:
            found[job_type] = {"state": result.state.name, "got": job_data.get(job_type)}
    return found


def chain(factory: Factory, payload: str, executor: Executor | None = None) -> dict[str, Cell]:
    """Build one chain of a job of each type, then run it on ``executor`` (threads when ``None``)."""
    builder = ChainBuilder(f"shapes-{payload}", job_args(payload), factory=factory)
    for job_type in TYPES:
        builder.job(job_type, job_type, job_type)
    built = builder.build()
    if executor is None:
        result = ChainRunner(built, factory=factory).run()
    else:
        result = ChainRunner(built, executor=executor).run()
    return {
        job_id: {
            "state": ran.state.name,
            "got": result.job_data.get(job_id),
            "error": repr(ran.returns[-1].error if ran.returns else None),
        }
        for job_id, ran in result.jobs.items()
    }


def dask_chain(factory: Factory, payload: str) -> dict[str, Cell]:
    """Run the chain on a DaskExecutor, over a LocalCluster of worker processes on this machine."""
    import dask  # noqa: PLC0415 - only this path needs Dask
    import distributed  # noqa: PLC0415

    from spincycle_jobs.dask import DaskExecutor  # noqa: PLC0415

    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),  # as DaskExecutor asks
        distributed.LocalCluster(  # type: ignore[no-untyped-call]
            processes=True, n_workers=1, threads_per_worker=4, host="127.0.0.1", dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as client,  # type: ignore[no-untyped-call]
    ):
        executor = DaskExecutor(client)
        try:
            return chain(factory, payload, executor)
        finally:
            executor.close()


PATHS: dict[str, Callable[[Factory, str], dict[str, Cell]]] = {
    "runner": runner,
    "check_job": checked,
    "thread": chain,
    "dask": dask_chain,
}


def drive(path: str, payload: str) -> None:
    """Run every installed shape on ``path``, made by a Factory over what is installed; print how, as JSON."""
    print(json.dumps(PATHS[path](Factory(), payload)))  # noqa: T201 - what the test reads
