"""Where the jobs of a chain run: the :class:`Executor` protocol and the one way a try is run.

An executor only places tries and reports how they ended; the chain's
logic (the graph, the states, job data, retries) stays in the chain
runner. What crosses to an executor and back is JSON data, so that an
executor may run a try in another process or on another host.
"""

from __future__ import annotations

import os
import time
import traceback
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from typing import final
from typing import runtime_checkable

import attrs

from ._document import JobRecord
from ._document import make_job
from ._factory import here
from ._factory import host
from ._jsondata import JSONDataError
from ._jsondata import copy_data
from ._jsondata import problem
from ._return import Return
from ._state import State
from ._wire import from_wire
from ._wire import to_wire
from ._wire import wire

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._factory import Factory
    from ._job import Job

__all__ = ["Executor", "Outcome", "Try", "run_try"]


@final
@wire("try", 1, 0)
@attrs.frozen
class Try:
    """One try of one job of a chain, as an :class:`Executor` receives it."""

    #: The chain's request id.
    request_id: str
    #: The job's id in the chain.
    job_id: str
    #: The created, serialized job and its provenance.
    record: JobRecord
    #: The job data this try starts with (JSON data; the try gets its own copy).
    job_data: dict[str, Any]
    #: Which try this is, counted from 1.
    try_number: int

    @property
    def key(self) -> str:
        """A string naming this try uniquely among the tries of running chains."""
        return f"{self.request_id}/{self.job_id}/{self.try_number}"

    def to_dict(self) -> dict[str, Any]:
        """Return the try as JSON data (a wire record, ``spincycle-jobs/try/1.0``), to send elsewhere."""
        return to_wire(self)

    @classmethod
    def from_dict(cls, obj: object) -> Try:
        """Read what :meth:`to_dict` returned, by the rule of :exc:`~spincycle_jobs.WireError`.

        :raises ~spincycle_jobs.WireError: for another major version, or a field missing or mistyped.
        """
        return from_wire(cls, obj, "the try")


@final
@wire("outcome", 1, 0)
@attrs.frozen
class Outcome:
    """How one try ended, as an :class:`Executor` reports it; JSON data only."""

    #: The state the try ended in.
    state: State
    #: The job's exit code.
    exit: int = 0
    #: ``"ExceptionType: message"`` for a try that raised or returned an error, else ``None``.
    error: str | None = None
    #: The job's output.
    stdout: str = ""
    #: The job's error output.
    stderr: str = ""
    #: The job data as the job left it (JSON data).
    job_data: dict[str, Any] = attrs.field(factory=dict)
    #: The qualified name of the error's type, or ``None``.
    error_type: str | None = None
    #: The formatted traceback of an exception the try raised, or ``None``.
    traceback: str | None = None
    #: When the try started and ended, in seconds since the epoch (0 when unknown).
    started: float = 0.0
    #: When the try ended, in seconds since the epoch (0 when unknown).
    finished: float = 0.0
    #: The host the try ran on (``""`` when unknown).
    host: str = ""
    #: The id of the process the try ran in (0 when unknown).
    pid: int = 0
    #: The address of the Dask worker the try ran on; ``None`` elsewhere.
    worker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the outcome as JSON data (a wire record, ``spincycle-jobs/outcome/1.0``)."""
        return to_wire(self)

    @classmethod
    def from_dict(cls, obj: object) -> Outcome:
        """Read what :meth:`to_dict` returned, by the rule of :exc:`~spincycle_jobs.WireError`.

        :raises ~spincycle_jobs.WireError: for another major version, or a field missing or mistyped.
        """
        return from_wire(cls, obj, "the outcome")

    @classmethod
    def failed(cls, error: str, job_data: dict[str, Any] | None = None) -> Outcome:
        """Return a ``FAIL`` outcome with exit code 1 and ``error``."""
        return cls(State.FAIL, exit=1, error=error, job_data=job_data or {})


@runtime_checkable
class Executor(Protocol):
    """Runs the tries of a chain's jobs, where it likes, and says how each ended.

    The chain runner calls these methods from its own threads; an executor
    must accept calls from any thread. An executor may also offer
    ``start_all(tries, done)``, which starts many tries as ``start`` does
    each, or raises before any has started; the runner then hands it the
    tries that start together in one call (as :class:`~spincycle_jobs.ThreadExecutor` does).
    """

    def start(self, try_: Try, done: Callable[[Try, Outcome], None]) -> None:
        """Start one try and return at once.

        The executor makes the job, deserializes it and runs it (as
        :func:`run_try` does) and calls ``done`` exactly once, from any
        thread, when the try has ended, however it ended: a try the
        executor lost (a worker that died) ends ``FAIL``, and is never run
        again by the executor itself.
        """
        ...

    def stop(self, try_: Try) -> None:
        """Call ``stop()`` on the job of a running try, where it runs; harmless once it ended."""
        ...

    def status(self, try_: Try) -> str:
        """Return the ``status()`` of the job of a running try, or ``""`` when it is not running."""
        ...

    def close(self) -> None:
        """End the executor: the same for every executor.

        Every try started and not yet ended ends ``FAIL`` at once, through its
        ``done``, and its job is asked to stop where it runs; ``close`` does not
        wait for the jobs, and ``done`` is never called twice for a try. A try
        started afterwards ends ``FAIL`` through its ``done`` (``start`` does
        not raise). Calling ``close`` again does nothing.
        :func:`spincycle_jobs.testing.check_executor` checks all of this.
        """
        ...


def _describe(err: BaseException) -> str:
    return f"{type(err).__name__}: {err}"


def _type_name(err: BaseException) -> str:
    cls = type(err)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def run_try(
    factory: Factory,
    try_: Try,
    started: Callable[[Job], None],
    *,
    place: str | None = None,
    vet: Callable[[Job], str | None] | None = None,
) -> Outcome:
    """Run one try where this is called: make and deserialize the job, then run it.

    Every way a try can go wrong becomes a ``FAIL`` outcome whose error
    says why: a type unknown here or from another distribution, a document
    the job refuses, an exception from ``run``, a result that is not a
    :class:`Return`, or job data that is not JSON data. The outcome records
    when the try started and ended, this host and process, and the
    traceback of an exception.

    :param started: called with the job just before its ``run``, so that
        the caller can reach its ``stop()`` and ``status()``.
    :param place: where this runs, as errors name it ("worker ADDRESS (host
        NAME)"); this host by default.
    :param vet: called with the job once it is made; a message it returns
        fails the try with it, and the job does not run.
    """
    began = time.time()
    outcome = _run(factory, try_, started, place or here(), vet)
    return attrs.evolve(outcome, started=began, finished=time.time(), host=host(), pid=os.getpid())


def _run(
    factory: Factory,
    try_: Try,
    started: Callable[[Job], None],
    place: str,
    vet: Callable[[Job], str | None] | None,
) -> Outcome:
    where = f"job {try_.job_id!r} ({try_.record.type} {try_.record.name!r})"
    try:
        job_data = copy_data(try_.job_data)
        job = make_job(factory, try_.record, where, lambda _msg: None)
    except Exception as err:  # noqa: BLE001 - a job that cannot be made fails alone
        return _raised(err, f"cannot make {where} on {place}: ", try_.job_data)
    refused = None if vet is None else vet(job)
    if refused is not None:
        return Outcome.failed(f"JobError: {where} cannot run on {place}: {refused}", try_.job_data)
    started(job)
    try:
        result: object = job.run(job_data)
    except BaseException as err:  # noqa: BLE001 - even SystemExit in run is a failed try, never a dead worker
        return _raised(err, "", _plain(job_data))
    if not isinstance(result, Return):
        return Outcome.failed(f"TypeError: {type(job).__qualname__}.run() returned {type(result).__name__}")
    try:
        job_data = copy_data(job_data)  # the outcome's own: the job keeps no hold on it
    except JSONDataError:
        key, why = _bad_key(job_data)
        msg = f"JobError: {where} left job data that is not JSON data under key {key!r} ({why})"
        return Outcome.failed(msg, _plain(job_data))
    error = None if result.error is None else _describe(result.error)
    error_type = None if result.error is None else _type_name(result.error)
    return Outcome(
        result.state, result.exit, error, result.stdout, result.stderr, job_data, error_type=error_type
    )


def _raised(err: BaseException, prefix: str, job_data: dict[str, Any]) -> Outcome:
    """Return the ``FAIL`` outcome of a try that raised ``err``, with its type and traceback."""
    text = "".join(traceback.format_exception(err))
    return attrs.evolve(
        Outcome.failed(prefix + _describe(err), job_data), error_type=_type_name(err), traceback=text
    )


def _bad_key(job_data: dict[str, Any]) -> tuple[object, str]:
    """Return the first key of job data whose value (or the key itself) is not JSON data, and why."""
    for key, value in job_data.items():
        found = problem({key: value})
        if found:
            return key, found
    return None, "it is not JSON data"


def _plain(job_data: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON-data part of ``job_data``, for a failed try's record."""
    return {k: v for k, v in job_data.items() if problem({k: v}) is None}
