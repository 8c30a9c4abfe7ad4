"""An error that says "here" names the place: the host, or the Dask worker's address."""

from __future__ import annotations

import contextlib
import re
import socket
from typing import TYPE_CHECKING

import attrs
import pytest

from spincycle_jobs import Factory
from spincycle_jobs import State
from spincycle_jobs._document import DocumentError
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import make_job
from spincycle_jobs._executor import Try
from spincycle_jobs._factory import here
from spincycle_jobs._factory import placed

from .test_dask import Ends  # first: test_dask skips without the dask extra
from .test_dask import dask_hosts
from .test_dask import try_

if TYPE_CHECKING:
    from pathlib import Path

from spincycle_jobs.dask import DaskExecutor

WORKER = r"worker tcp://127\.0\.0\.1:\d+"


def other_distribution() -> JobRecord:
    """A noop record as a distribution other than the example plugin created it."""
    good = try_("noop").record
    return JobRecord("noop", "o", good.data, {}, "x", "other-dist", "1")


def test_here_is_this_host_unless_placed() -> None:
    assert here() == f"host {socket.gethostname()!r}"
    with placed("worker tcp://10.0.0.7:40123"):
        assert here() == "worker tcp://10.0.0.7:40123"
    assert here() == f"host {socket.gethostname()!r}"


@pytest.mark.parametrize("place", [None, "worker tcp://10.0.0.7:40123"])
def test_a_type_from_another_distribution_names_where_here_is(place: str | None) -> None:
    factory = Factory()
    expected = place or f"host {socket.gethostname()!r}"
    with contextlib.ExitStack() as stack:
        if place is not None:
            stack.enter_context(placed(place))
        with pytest.raises(DocumentError) as caught:
            make_job(factory, other_distribution(), "job 'o'", lambda _msg: None)
    assert str(caught.value) == (
        "job 'o' was created by distribution 'other-dist', "
        f"but job type 'noop' here comes from 'spincycle-jobs-example' ({expected})"
    )


def test_on_a_worker_every_here_names_the_worker(tmp_path: Path) -> None:
    """Run on real ``dask scheduler`` and ``dask worker`` processes: the errors name the worker's address."""
    with dask_hosts(tmp_path) as hosts:
        executor = DaskExecutor(hosts.address)
        try:
            good = try_("noop")
            unknown = Try("req", "nope", attrs.evolve(good.record, type="nope", name="nope"), {}, 1)
            other = Try("req", "o", other_distribution(), {}, 1)
            ends = Ends()
            executor.start(unknown, ends)
            executor.start(other, ends)
            ends.wait(2)
        finally:
            executor.close()
    outcomes = {a.job_id: o for a, o in ends.calls}
    assert {o.state for o in outcomes.values()} == {State.FAIL}
    nope, o = outcomes["nope"].error or "", outcomes["o"].error or ""
    assert re.match(rf"cannot make job 'nope' \(nope 'nope'\) on {WORKER}: UnknownJobTypeError: ", nope), nope
    assert re.search(rf"but job type 'noop' here comes from 'spincycle-jobs-example' \({WORKER}\)$", o), o
    assert f"worker {outcomes['o'].worker}" in o
