"""Conformance checks: :func:`check_job` drives a job as a platform does; :func:`check_executor`, an executor.

A plugin's own test of a job type is one line, with the ``job_factory``
fixture that installing spincycle-jobs adds to pytest::

    from spincycle_jobs.testing import check_job

    def test_sleep(job_factory):
        check_job(job_factory, "sleep", {"duration": 0.1})
"""

from __future__ import annotations

import copy
import functools
import json
import threading
import time
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import overload

from ._basejob import BaseJob
from ._basejob import PlainStateError
from ._basejob import versions
from ._document import JOB_FORMAT
from ._document import DocumentError
from ._document import JobRecord
from ._document import NotBytesError
from ._document import dump_document
from ._document import load_document
from ._document import make_job
from ._execcheck import check_executor
from ._job import Job
from ._return import Return
from ._state import State
from ._thread import Call

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Mapping

    from ._job import JobFactory

__all__ = ["ConformanceError", "check_executor", "check_job", "deserialize"]

#: Seconds :meth:`Job.status` and :meth:`Job.stop` have to answer while ``run`` blocks.
ANSWER_WITHIN = 1.0
_POLL = 0.05


class ConformanceError(AssertionError):
    """A job broke a rule of the job contract.

    :param rule: the rule, in a few words.
    :param detail: what happened.
    """

    def __init__(self, rule: str, detail: str) -> None:
        #: The rule that was broken, such as ``"status answers while run blocks"``.
        self.rule = rule
        #: What happened.
        self.detail = detail
        super().__init__(f"{rule}: {detail}")

    def __reduce__(self) -> tuple[type[ConformanceError], tuple[str, str]]:
        return (type(self), (self.rule, self.detail))


@overload
def check_job(
    factory: JobFactory,
    job_type: str,
    job_args: Mapping[str, Any] | None = None,
    job_data: Mapping[str, Any] | None = None,
    *,
    job_name: str = "check",
    stop_after: float | None = None,
    timeout: float = 10.0,
    return_job_data: Literal[False] = False,
) -> Return: ...


@overload
def check_job(
    factory: JobFactory,
    job_type: str,
    job_args: Mapping[str, Any] | None = None,
    job_data: Mapping[str, Any] | None = None,
    *,
    job_name: str = "check",
    stop_after: float | None = None,
    timeout: float = 10.0,
    return_job_data: Literal[True],
) -> tuple[Return, dict[str, Any]]: ...


def check_job(
    factory: JobFactory,
    job_type: str,
    job_args: Mapping[str, Any] | None = None,
    job_data: Mapping[str, Any] | None = None,
    *,
    job_name: str = "check",
    stop_after: float | None = None,
    timeout: float = 10.0,
    return_job_data: bool = False,
) -> Return | tuple[Return, dict[str, Any]]:
    """Drive one job through the whole call sequence, by the code the runners use, checking each rule.

    The Request Manager side: ``make``, then ``create`` on a copy of
    ``job_args``, then ``serialize`` into a job document, as ``spincycle-jobs
    create`` and :class:`~spincycle_jobs.ChainBuilder` do. The Job Runner
    side: the document is read back, and the job made and deserialized from
    it by the same function as ``run --from`` and every chain executor use
    (so a :class:`~spincycle_jobs.BaseJob` is told the versions, and a
    ``deserialize`` override is called as ``deserialize(data)``); then
    ``run`` on a copy of ``job_data``, in a thread, while ``status()`` is
    polled from another; with ``stop_after``, ``stop()`` is called after
    that many seconds. Exceptions the job raises from ``create``,
    ``serialize``, ``deserialize`` or ``run`` propagate. On the way, a third
    job deserializes the bytes and must serialize them back unchanged; for
    a :class:`~spincycle_jobs.BaseJob`, its fields must also equal those
    ``create`` set, and ``create`` must have kept no state in plain
    attributes.

    :param stop_after: seconds after which to call ``stop()``; ``None`` lets
        the job run to its end.
    :param timeout: seconds the run may take (after ``stop()``, when
        ``stop_after`` is given) before the check fails.
    :param return_job_data: also return the job data as ``run`` left it, so
        that a test can check what the job passes on to the jobs after it.
    :returns: what ``run`` returned; with ``return_job_data``, a pair of it
        and the job data.
    :raises ConformanceError: naming the rule the job broke.

    .. versionchanged:: 0.2
       The job goes through a job document, as on every path that runs it;
       ``return_job_data``.
    """
    args = copy.deepcopy(dict(job_args or {}))
    data = copy.deepcopy(dict(job_data or {}))
    where = f"job {job_name!r} of type {job_type!r}"
    creator = _make(factory, job_type, job_name)
    creator.create(args)
    record = _record(factory, creator, args)
    _check_round_trip(factory, creator, record, where)
    text = dump_document(JOB_FORMAT, record.to_dict())
    record = JobRecord.from_dict(load_document(text, JOB_FORMAT, where), where)
    runner = make_job(factory, record, where, lambda _: None, make=functools.partial(_make, factory))
    result: object = _run(runner, data, stop_after, timeout)
    if not isinstance(result, Return) or not isinstance(result.state, State):
        msg = f"run() returned {result!r}"
        raise ConformanceError("run returns a Return with a State", msg)
    try:
        json.dumps(data)
    except (TypeError, ValueError) as err:
        raise ConformanceError("job data stays JSON-serializable", str(err)) from None
    return (result, data) if return_job_data else result


def deserialize(
    job: Job, data: bytes, *, version: str | None = None, running_version: str | None = None
) -> None:
    """Call ``job.deserialize(data)`` as the platform does for a job document of another version.

    The platform reads, in a job document, which version of the job's
    distribution created it, and tells a :class:`~spincycle_jobs.BaseJob`
    that version and the one running, so that it upgrades the data
    (see :meth:`~spincycle_jobs.BaseJob.migrate`). This does the same, for a
    test of a job's upgrades::

        job = Copy("copy", "c")
        deserialize(job, V1_COPY, version="1.0", running_version="2.0")
        assert job.hosts == ["db1"]

    .. versionadded:: 0.2

    :param version: the version that created ``data``.
    :param running_version: the version said to run here.
    :raises JobError: when the job refuses the bytes.
    """
    with versions(job, version, running_version):
        job.deserialize(data)


def _make(factory: JobFactory, job_type: str, job_name: str) -> Job:
    try:
        job: object = factory.make(job_type, job_name)
    except Exception as err:
        msg = f"make({job_type!r}, {job_name!r}) raised {type(err).__name__}: {err}"
        raise ConformanceError("make returns a job", msg) from err
    if not isinstance(job, Job):
        msg = f"make({job_type!r}, {job_name!r}) returned {type(job).__name__}, not a Job"
        raise ConformanceError("make returns a job", msg)
    if (job.type(), job.name()) != (job_type, job_name):
        msg = f"asked for type {job_type!r} named {job_name!r}, got type {job.type()!r} named {job.name()!r}"
        raise ConformanceError("make returns a job of the type and name asked", msg)
    return job


def _record(factory: JobFactory, job: Job, job_args: dict[str, Any]) -> JobRecord:
    """Serialize the created ``job`` into a record, as the Request Manager's side does."""
    try:
        return JobRecord.created(factory, job, job_args)
    except NotBytesError as err:
        raise ConformanceError("serialize returns bytes", str(err)) from None
    except PlainStateError as err:
        raise ConformanceError("the state from create survives serialize and deserialize", str(err)) from None
    except DocumentError as err:
        raise ConformanceError("job args stay JSON data", str(err)) from None


def _check_round_trip(factory: JobFactory, creator: Job, record: JobRecord, where: str) -> None:
    """Check that what ``create`` set survives ``serialize`` and ``deserialize`` into a fresh job."""
    fresh = make_job(factory, record, where, lambda _: None, make=functools.partial(_make, factory))
    blob = record.data
    again = fresh.serialize()
    if again != blob:
        msg = f"serialize() gave {blob!r:.200}, then after deserialize into a fresh job {again!r:.200}"
        raise ConformanceError("serialize, deserialize, serialize gives the same bytes", msg)
    if isinstance(creator, BaseJob) and isinstance(fresh, BaseJob):
        for field in creator._serialized_fields():  # noqa: SLF001 - the fields BaseJob serializes
            before, after = getattr(creator, field.name), getattr(fresh, field.name)
            if before != after:
                msg = f"field {field.name} was {before!r:.100} after create, {after!r:.100} after deserialize"
                raise ConformanceError("the state from create survives serialize and deserialize", msg)


def _answer(call: Callable[[], Any], rule: str) -> Any:
    """Call ``call`` in a thread; fail ``rule`` if it takes over :data:`ANSWER_WITHIN` seconds."""
    thread = Call(call, rule)
    thread.start()
    thread.join(ANSWER_WITHIN)
    if thread.is_alive():
        raise ConformanceError(rule, f"no answer within {ANSWER_WITHIN:g} s while run() was running")
    return thread.outcome()


def _run(job: Job, data: dict[str, Any], stop_after: float | None, timeout: float) -> Any:
    thread = Call(lambda: job.run(data), f"run {job.name()}")
    thread.start()
    try:
        _watch(job, thread, stop_after, timeout)
    except ConformanceError:
        threading.Thread(target=job.stop, daemon=True).start()  # do not leave it running
        raise
    return thread.outcome()


def _watch(job: Job, thread: threading.Thread, stop_after: float | None, timeout: float) -> None:
    """Poll ``status()`` while ``thread`` runs the job, stopping it after ``stop_after``."""
    start = time.monotonic()
    stopped_at: float | None = None
    while thread.is_alive():
        status = _answer(job.status, "status answers while run blocks")
        if not isinstance(status, str):
            msg = f"status() returned {type(status).__name__}"
            raise ConformanceError("status returns a str", msg)
        now = time.monotonic()
        if stop_after is not None and stopped_at is None and now - start >= stop_after:
            _answer(job.stop, "stop returns quickly")
            stopped_at = now
        if now - (stopped_at or start) > timeout:
            after = "after stop()" if stopped_at is not None else "after it started"
            msg = f"run() did not return within {timeout:g} s {after}"
            raise ConformanceError("run ends after stop" if stopped_at else "run ends in time", msg)
        thread.join(_POLL)
