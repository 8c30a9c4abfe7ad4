from __future__ import annotations

from typing import final

import attrs

from ._state import State

__all__ = ["Return"]


@final
@attrs.frozen
class Return:
    """What a job's :meth:`~spincycle_jobs.Job.run` returns: how it ended, and its output.

    :attr:`state` is the field that matters: the Job Runner decides what to do
    next from it. Only :attr:`State.COMPLETE <spincycle_jobs.State.COMPLETE>`
    is success; anything else will probably stop the job chain. ``state``,
    ``exit`` and ``error`` are not mutually exclusive: an idempotent job that
    finds its work already done may return ``COMPLETE`` with an ``error`` or
    a non-zero ``exit`` that says so, for the logs.

    An ``int`` given as ``state`` becomes a :class:`~spincycle_jobs.State`.

    >>> Return(3)
    Return(state=<State.COMPLETE: 3>, exit=0, error=None, stdout='', stderr='')
    """

    #: How the job ended.
    state: State = attrs.field(default=State.UNKNOWN, converter=State)
    #: The Unix exit code, if the job ran a process.
    exit: int = 0
    #: An error worth reporting, whatever the state.
    error: BaseException | None = None
    #: What the job printed, or wants shown as its output.
    stdout: str = ""
    #: What the job printed as errors.
    stderr: str = ""
