"""Job chains, the Request Manager's side: build a chain, and read and write its document.

A chain is a directed acyclic graph of created, serialized jobs. This
module knows the graph and the document; running a chain is
:mod:`._chainrunner`'s business, and where its jobs run an executor's.
"""

from __future__ import annotations

import heapq
import threading
import types
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import TypeGuard
from typing import final

import attrs

from ._document import DocumentError
from ._document import JobRecord
from ._document import dump_document
from ._document import load_document
from ._errors import JobError
from ._jsondata import copy_data
from ._state import State
from ._wire import Field
from ._wire import read_fields

if TYPE_CHECKING:
    from collections.abc import Iterable
    from collections.abc import Mapping
    from collections.abc import Sequence

    from ._job import JobFactory

__all__ = ["CHAIN_FORMAT", "Chain", "ChainBuilder", "ChainError", "ChainJob", "topological_order"]

#: The ``format`` of a chain document; bump it when the document changes shape.
CHAIN_FORMAT: Final = "spincycle-jobs/chain/1"


class ChainError(JobError):
    """A chain that cannot be built, read or run: the message names the job and the cause.

    :param message: what went wrong.
    :param job_id: the id of the job at fault, if one is.
    :param traceback: the formatted traceback of the exception a try raised, if one did.
    """

    def __init__(self, message: str, job_id: str | None = None, *, traceback: str | None = None) -> None:
        super().__init__(message)
        #: The id of the job at fault, or ``None`` for the chain as a whole.
        self.job_id = job_id
        #: The formatted traceback of the exception a try raised (wherever it ran), or ``None``.
        self.traceback = traceback

    def __reduce__(self) -> tuple[Any, ...]:
        return (_chain_error, (str(self), self.job_id, self.traceback))


def _chain_error(message: str, job_id: str | None, traceback: str | None) -> ChainError:
    return ChainError(message, job_id, traceback=traceback)


def _frozen_data(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """Return a read-only deep copy of JSON data, so that a :class:`Chain` stays a value.

    A read-only mapping is taken as it is: the chain runner hands over
    copies of its own that nothing changes.
    """
    if value is None or isinstance(value, types.MappingProxyType):
        return value
    return types.MappingProxyType(copy_data(value))


@final
@attrs.frozen
class ChainJob:
    """One job of a :class:`Chain`: where it stands in the graph and, once run, how it ended.

    Its ``type`` and ``name`` are its record's.
    """

    #: The job's id, unique in its chain.
    id: str
    #: The created, serialized job and the plugin that created it.
    record: JobRecord
    #: The ids of the jobs that must complete before this one starts.
    after: tuple[str, ...] = ()
    #: How many more tries a try that does not complete gets.
    retry: int = 0
    #: Seconds between tries.
    retry_wait: float = 0.0
    #: The recorded state: ``PENDING`` until run; ``RUNNING`` while it runs.
    state: State = State.PENDING
    #: Tries of the last run that reached this job.
    tries: int = 0
    #: The job data as the job left it (read-only), or ``None`` before it ran.
    job_data: Mapping[str, Any] | None = attrs.field(default=None, converter=_frozen_data)
    #: The last try's error, ``"Type: message"``, or ``None``.
    error: str | None = None
    #: When the job completed, as its place among the chain's completed jobs
    #: (1 for the first), or ``None``; job data merges in this order.
    finished: int | None = None

    @property
    def type(self) -> str:
        """The job type."""
        return self.record.type

    @property
    def name(self) -> str:
        """The job name."""
        return self.record.name

    def to_dict(self) -> dict[str, Any]:
        """Return the job as JSON data, as the chain document holds it."""
        return {
            "id": self.id,
            "after": list(self.after),
            "retry": self.retry,
            "retry_wait": self.retry_wait,
            "state": self.state.name,
            "tries": self.tries,
            "job_data": None if self.job_data is None else dict(self.job_data),
            "error": self.error,
            "finished": self.finished,
            "record": self.record.to_dict(),
        }

    @classmethod
    def from_dict(cls, obj: object, where: str) -> ChainJob:
        """Read what :meth:`to_dict` wrote, by the wire rule (unknown fields are ignored).

        :raises ChainError: naming ``where`` and the field at fault.
        """
        job_id = obj.get("id") if isinstance(obj, dict) else None

        def error(message: str) -> ChainError:
            return ChainError(message, job_id if isinstance(job_id, str) else None)

        values = read_fields(obj, _JOB_FIELDS, where, error)
        try:
            record = JobRecord.from_dict(values.pop("record"), f"{where}, field 'record'")
        except DocumentError as err:
            raise error(str(err)) from None
        return cls(
            record=record,
            after=tuple(values.pop("after")),
            retry_wait=float(values.pop("retry_wait")),
            state=State[values.pop("state")],
            **values,
        )


def _is_name(value: object) -> TypeGuard[str]:
    return isinstance(value, str) and value != ""


def _names(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(name, str) for name in value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


#: The longest ``retry_wait``: what a thread can wait (about 292 years).
MAX_WAIT: Final = threading.TIMEOUT_MAX


def _wait(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= MAX_WAIT


#: A chain job's fields, as the chain document holds them.
_JOB_FIELDS: Final = (
    Field("id", _is_name, "a non-empty string"),
    Field("record", lambda v: isinstance(v, dict), "an object"),
    Field(
        "after", lambda v: isinstance(v, list) and all(isinstance(a, str) for a in v), "a list of strings", ()
    ),
    Field("retry", _count, "an integer >= 0", 0),
    Field("retry_wait", _wait, f"a number of seconds from 0 to {MAX_WAIT:g}", 0.0),
    Field("state", lambda v: isinstance(v, str) and v in State.__members__, "a state name", "PENDING"),
    Field("tries", _count, "an integer >= 0", 0),
    Field("job_data", lambda v: v is None or isinstance(v, dict), "an object or null", None),
    Field("error", lambda v: v is None or isinstance(v, str), "a string or null", None),
    Field("finished", lambda v: v is None or (_count(v) and v != 0), "an integer > 0 or null", None),
)
#: A chain document's own fields.
_CHAIN_FIELDS: Final = (
    Field("request_id", _is_name, "a non-empty string"),
    Field("jobs", lambda v: isinstance(v, list), "a list"),
)


def _read_only(jobs: Mapping[str, ChainJob]) -> Mapping[str, ChainJob]:
    return types.MappingProxyType(dict(jobs))


@final
@attrs.frozen
class Chain:
    """A built job chain: an immutable value, ready to run and to save.

    Build one with :class:`ChainBuilder`, run it with
    :class:`~spincycle_jobs.ChainRunner`, save it with :meth:`to_json`.
    """

    #: The request this chain carries out.
    request_id: str
    #: Every job by id, in topological order (read-only).
    jobs: Mapping[str, ChainJob] = attrs.field(converter=_read_only)

    def to_json(self) -> str:
        """Return the chain document: JSON with a format tag and a sha256 over all of it."""
        body = {"request_id": self.request_id, "jobs": [job.to_dict() for job in self.jobs.values()]}
        return dump_document(CHAIN_FORMAT, body)

    @classmethod
    def from_json(cls, text: str, where: str = "the chain document") -> Chain:
        """Read a chain document that :meth:`to_json` wrote, or a later minor version of it (see :doc:`/cli`).

        :param where: names the document in error messages, e.g. its file name.
        :raises ChainError: for text that is not a chain document, was changed
            or truncated, or holds a graph that is not a valid chain.
        """
        try:
            body = load_document(text, CHAIN_FORMAT, where)
        except DocumentError as err:
            raise ChainError(str(err)) from None
        fields = read_fields(body, _CHAIN_FIELDS, where, ChainError)
        request_id, jobs = fields["request_id"], fields["jobs"]
        read = [ChainJob.from_dict(obj, f"{where}, job #{i + 1}") for i, obj in enumerate(jobs)]
        order = topological_order([(job.id, job.after) for job in read])
        by_id = {job.id: job for job in read}
        return cls(request_id, {job_id: by_id[job_id] for job_id in order})


def topological_order(jobs: Sequence[tuple[str, Iterable[str]]]) -> list[str]:
    """Validate a graph and return its ids in the order a chain builds and lists them.

    Each step takes, among the jobs whose ``after`` jobs are all taken, the
    one that comes first in ``jobs``.

    :param jobs: ``(id, after)`` pairs, in the order the jobs were added.
    :raises ChainError: for no jobs, an empty or repeated id, an ``after``
        naming an unknown id (or one id twice), or a cycle.
    """
    index = _index(jobs)
    afters = [tuple(after) for _id, after in jobs]
    waiting = [0] * len(jobs)
    then: list[list[int]] = [[] for _ in jobs]
    for i, after in enumerate(afters):
        job_id = jobs[i][0]
        if len(set(after)) != len(after):
            msg = f"job {job_id!r} lists the same job twice in 'after': {list(after)!r}"
            raise ChainError(msg, job_id)
        for before in after:
            if before not in index:
                msg = f"job {job_id!r} runs after {before!r}, which is not a job of the chain"
                raise ChainError(msg, job_id)
            then[index[before]].append(i)
        waiting[i] = len(after)
    ready = [i for i, n in enumerate(waiting) if n == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        i = heapq.heappop(ready)
        order.append(jobs[i][0])
        for j in then[i]:
            waiting[j] -= 1
            if waiting[j] == 0:
                heapq.heappush(ready, j)
    if len(order) < len(jobs):
        cycle = _a_cycle([job_id for job_id, _after in jobs], afters, set(order))
        shown = [_short(job_id) for job_id in cycle]
        if len(shown) > 8:  # noqa: PLR2004 - enough to find it, never a line of megabytes
            shown = [*shown[:4], f"... {len(cycle) - 6} more", *shown[-2:]]
        msg = f"the jobs form a cycle: {' -> '.join(shown)}"
        raise ChainError(msg, cycle[0])
    return order


def _short(job_id: str) -> str:
    """Return the ``repr`` of an id, cut short when long, for a message."""
    return repr(job_id) if len(job_id) <= 60 else repr(job_id[:57]) + "..."  # noqa: PLR2004


def _index(jobs: Sequence[tuple[str, Iterable[str]]]) -> dict[str, int]:
    """Return each id's place, refusing no jobs and empty or repeated ids."""
    if not jobs:
        msg = "a chain needs at least one job"
        raise ChainError(msg)
    index: dict[str, int] = {}
    for i, (job_id, _after) in enumerate(jobs):
        if not _is_name(job_id):  # ids read from TOML may be anything
            msg = f"job #{i + 1} has an empty id: ids must be non-empty strings"
            raise ChainError(msg)
        if job_id in index:
            msg = f"job id {job_id!r} is used twice: ids must be unique"
            raise ChainError(msg, job_id)
        index[job_id] = i
    return index


def _a_cycle(ids: list[str], afters: list[tuple[str, ...]], taken: set[str]) -> list[str]:
    """Return one cycle among the jobs not taken, as ids from a job back to itself."""
    after = dict(zip(ids, afters, strict=True))
    job_id = next(i for i in ids if i not in taken)
    seen: dict[str, int] = {}
    path: list[str] = []
    while job_id not in seen:  # every job left waits on another job left, so this walk loops
        seen[job_id] = len(path)
        path.append(job_id)
        job_id = next(a for a in after[job_id] if a not in taken)
    return [*reversed([*path[seen[job_id] :], job_id])]


def _check_options(job_id: str, retry: object, retry_wait: object) -> None:
    """Refuse an empty id, or a ``retry`` or ``retry_wait`` out of range."""
    if not _is_name(job_id):  # the id may come from TOML, as anything
        msg = f"job id must be a non-empty string, got {job_id!r}"
        raise ChainError(msg)
    if not _count(retry):
        msg = f"job {job_id!r}: retry must be an integer >= 0, got {retry!r}"
        raise ChainError(msg, job_id)
    if not _wait(retry_wait):
        msg = f"job {job_id!r}: retry_wait must be seconds from 0 to {MAX_WAIT:g}, got {retry_wait!r}"
        raise ChainError(msg, job_id)


@attrs.frozen
class _Spec:
    """A job as :meth:`ChainBuilder.job` was given it."""

    id: str
    type: str
    name: str
    after: tuple[str, ...]
    retry: int
    retry_wait: float
    args: dict[str, Any]


def _create(factory: JobFactory, spec: _Spec, job_args: dict[str, Any]) -> JobRecord:
    """Create one job with the shared ``job_args``, its own args laid over them for its ``create`` alone."""
    if not spec.args:
        return JobRecord.create(factory, spec.type, spec.name, job_args)
    view = job_args | copy_data(spec.args)
    record = JobRecord.create(factory, spec.type, spec.name, view)
    for key in [key for key in job_args if key not in view]:  # create removed a shared arg
        del job_args[key]
    # what create added or changed goes on to the jobs after it
    job_args.update({k: v for k, v in view.items() if k not in spec.args or v != spec.args[k]})
    return record


class ChainBuilder:
    """Builds a :class:`Chain` as Spin Cycle's Request Manager does.

    >>> from spincycle_jobs import ChainBuilder
    >>> chain = (
    ...     ChainBuilder("req-1", {"duration": 0})
    ...     .job("wait", "sleep", "settle")
    ...     .job("done", "noop", "done", after=["wait"])
    ...     .build()
    ... )
    >>> list(chain.jobs), chain.jobs["done"].after
    (['wait', 'done'], ('wait',))

    :param request_id: the request the chain carries out.
    :param job_args: the request's job args. The builder copies them once;
        every job's ``create`` then gets that one copy, so a job may set args
        for the jobs after it.
    :param factory: makes the jobs: any :class:`~spincycle_jobs.JobFactory`;
        a new :class:`~spincycle_jobs.Factory` when ``None``. Each job's
        record names the plugin, distribution and version that made it, as a
        ``Factory`` knows them; for another factory, the installed
        distribution holding the job class's top-level package (and its
        version), when there is one, and no plugin.
    :raises ChainError: for an empty request id, or job args that are not JSON data.
    """

    def __init__(
        self,
        request_id: str,
        job_args: dict[str, Any] | None = None,
        *,
        factory: JobFactory | None = None,
    ) -> None:
        if not _is_name(request_id):
            msg = f"request_id must be a non-empty string, got {request_id!r}"
            raise ChainError(msg)
        try:
            self._job_args = copy_data(job_args or {})
        except (TypeError, ValueError) as err:
            msg = f"the job args of request {request_id!r} are not JSON data: {err}"
            raise ChainError(msg) from None
        self._request_id = request_id
        self._factory = factory
        self._jobs: list[_Spec] = []

    def job(
        self,
        id: str,  # noqa: A002 - the job's id, as SPEC names it
        job_type: str,
        job_name: str,
        *,
        after: Iterable[str] = (),
        retry: int = 0,
        retry_wait: float = 0.0,
        args: Mapping[str, Any] | None = None,
    ) -> ChainBuilder:
        """Add a job; ``after`` may name jobs added later.

        :param id: the job's id, unique in the chain.
        :param after: ids of the jobs that must complete before this one starts.
        :param retry: how many more tries a try that does not complete gets.
        :param retry_wait: seconds between tries.
        :param args: job args for this job alone, laid over the shared job
            args for its ``create``; what ``create`` adds or changes, but for
            these, still reaches the jobs after it.
        :returns: this builder, to chain calls.
        :raises ChainError: for an empty id, a bad ``retry`` or ``retry_wait``,
            or ``args`` that are not JSON data.
        """
        _check_options(id, retry, retry_wait)
        try:
            own = copy_data(dict(args or {}))
        except (TypeError, ValueError) as err:
            msg = f"job {id!r}: its args are not JSON data: {err}"
            raise ChainError(msg, id) from None
        after = (after,) if isinstance(after, str) else tuple(after)
        self._jobs.append(_Spec(id, job_type, job_name, after, retry, float(retry_wait), own))
        return self

    def build(self) -> Chain:
        """Validate the graph, then make, create and serialize every job in topological order.

        :raises ChainError: naming the job and the cause, for a graph that is
            not a valid chain or a job that cannot be made, created or
            serialized; nothing is returned half-built.
        """
        order = topological_order([(job.id, job.after) for job in self._jobs])
        factory = self._make_factory()
        specs = {job.id: job for job in self._jobs}
        job_args = copy_data(self._job_args)
        jobs: dict[str, ChainJob] = {}
        for job_id in order:
            spec = specs[job_id]
            try:
                record = _create(factory, spec, job_args)
            except Exception as err:
                what = f"{spec.type} {spec.name!r}"
                msg = f"job {job_id!r} ({what}) cannot be built: {type(err).__name__}: {err}"
                raise ChainError(msg, job_id) from err
            jobs[job_id] = ChainJob(job_id, record, spec.after, spec.retry, spec.retry_wait)
        return Chain(self._request_id, jobs)

    def _make_factory(self) -> JobFactory:
        if self._factory is None:
            from ._factory import Factory  # noqa: PLC0415 - discovery's imports only when needed

            self._factory = Factory()
        return self._factory
