from __future__ import annotations

import enum

__all__ = ["State"]


class State(enum.IntEnum):
    """How a job ended, or where it is (the seed's ``proto.STATE_*`` constants).

    The values never change: they cross process and host boundaries.
    Only :attr:`COMPLETE` means success.
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
