from __future__ import annotations

import abc
from collections.abc import Callable
from typing import TYPE_CHECKING
from typing import Any
from typing import Protocol
from typing import TypeAlias
from typing import runtime_checkable

if TYPE_CHECKING:
    from ._return import Return

__all__ = ["Job", "JobConstructor", "JobFactory"]


class Job(abc.ABC):
    """The smallest reusable unit of work, such as "bring down an IP on an interface".

    A job should do one thing, and do it only through these eight methods:
    the platform knows nothing else about it. The methods are called from
    two sides, often in different processes or on different hosts:

    - the **Request Manager** builds a job chain: it makes each job, calls
      :meth:`create` with the job args, then :meth:`serialize`;
    - the **Job Runner** runs the chain: it makes the job again, calls
      :meth:`deserialize` with those bytes, then :meth:`run`, and may call
      :meth:`status` and :meth:`stop` from another thread while ``run``
      blocks.

    So the call sequence is ``create``, ``serialize``, ``deserialize``,
    ``run``; each is called once. :meth:`name` and :meth:`type` may be called
    at any time, even on a job just made by a factory.

    *Job args* are the request's arguments: every job of a chain sees them
    in turn during ``create`` and may add or change keys for the jobs after
    it; once the chain is built they are an immutable snapshot. *Job data*
    is the runtime counterpart: a dict passed from job to job during
    ``run``, which is never serialized by the job itself and must stay
    JSON-safe (plain ``dict``, ``list``, ``str``, ``int``, ``float``,
    ``bool`` and ``None``), because the platform ships it between
    processes.
    """

    @abc.abstractmethod
    def create(self, job_args: dict[str, Any]) -> None:
        """Take from the job args what the job needs to run later, and keep it.

        Called once, by the Request Manager, while it builds the job chain.
        The job may add or change keys in ``job_args`` for the jobs after it.

        :param job_args: the chain's job args, shared by all its jobs.
        :raises JobError: when an arg is missing or wrong
            (:class:`ArgNotSetError`, :class:`WrongArgTypeError`); building
            the chain then fails.
        """

    @abc.abstractmethod
    def serialize(self) -> bytes:
        """Return everything the job needs to run later, as bytes.

        Called once, by the Request Manager, right after :meth:`create`; the
        bytes go to :meth:`deserialize`, maybe in another process or on
        another host, so they must not depend on this process (no pickle).

        :raises JobError: when the job cannot be serialized; building the
            chain then fails.
        """

    @abc.abstractmethod
    def deserialize(self, data: bytes) -> None:
        """Restore what :meth:`serialize` returned, on a job just made by a factory.

        Called once, by the Job Runner, before :meth:`run`.

        :param data: the bytes :meth:`serialize` returned.
        :raises JobError: when the bytes are not what this job serialized;
            rebuilding the chain then fails.
        """

    @abc.abstractmethod
    def run(self, job_data: dict[str, Any]) -> Return:
        """Do the job's work, and say how it ended.

        Called once, by the Job Runner. It blocks until the work is done, but
        :meth:`stop` and :meth:`status` must answer from another thread
        meanwhile. The job may read and change ``job_data``, which carries
        runtime values from the jobs before it to the jobs after it.

        The returned :class:`Return`'s ``state`` is what the Job Runner acts
        on: ``COMPLETE`` for success, anything else for failure.

        :param job_data: the chain's runtime data; keep it JSON-safe.
        :returns: the final state, with exit code, error and output.
        :raises JobError: only for a problem before or after running the job
            itself; how the work went belongs in the :class:`Return`.
        """

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop the job: make a running :meth:`run` return soon.

        Called by the Job Runner from another thread, while :meth:`run`
        blocks, when the chain is stopped before it completes. It may block,
        but must return quickly; calling it more than once, or when the job
        is not running, must be harmless.
        """

    @abc.abstractmethod
    def status(self) -> str:
        """Return the job's real-time status, in a few words.

        Called by the Job Runner from another thread, while :meth:`run`
        blocks. It may block, but must return quickly.
        """

    @abc.abstractmethod
    def name(self) -> str:
        """Return the job's name, unique within its chain."""

    @abc.abstractmethod
    def type(self) -> str:
        """Return the job's type, the name a factory makes it by."""


#: What a plugin offers for a job type: called as ``constructor(job_type,
#: job_name)``, it returns a new, blank :class:`Job`. A :class:`Job` subclass
#: whose ``__init__`` takes the two names is one.
JobConstructor: TypeAlias = Callable[[str, str], Job]


@runtime_checkable
class JobFactory(Protocol):
    """Makes jobs by type (the seed's ``Factory``).

    :class:`~spincycle_jobs.Factory` is the implementation that finds job
    types in plugins.
    """

    def make(self, job_type: str, job_name: str) -> Job:
        """Make a new, blank job of ``job_type`` named ``job_name``.

        A factory only makes the job: it must not call any of its methods
        but :meth:`Job.name` and :meth:`Job.type`.

        :raises UnknownJobTypeError: when it cannot make ``job_type``.
        """
        ...
