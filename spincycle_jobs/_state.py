from __future__ import annotations

import enum

__all__ = ["State"]


class State(enum.IntEnum):
    """How a job ended, or where it is (the seed's ``proto.STATE_*`` constants).

    The values never change: they cross process and host boundaries.
    Only :attr:`COMPLETE` means success. ``str()`` and ``format()`` give the
    name, as Go's ``String()`` does; ``int()`` gives the value.

    >>> str(State.COMPLETE), f"{State.FAIL}", int(State.COMPLETE)
    ('COMPLETE', 'FAIL', 3)
    """

    #: Not known; the default of :class:`~spincycle_jobs.Return`.
    UNKNOWN = 0
    #: Waiting to run.
    PENDING = 1
    #: Running.
    RUNNING = 2
    #: Finished successfully: the only state that counts as success.
    COMPLETE = 3
    #: Finished, but failed.
    FAIL = 4
    #: Ran out of time.
    TIMEOUT = 5
    #: Stopped before it finished.
    STOPPED = 6

    def __str__(self) -> str:
        return self.name

    def __format__(self, format_spec: str) -> str:
        return format(self.name, format_spec)
