"""The in-process executor: each try of a chain's job runs in a thread of its own."""

from __future__ import annotations

import collections
import queue
import threading
import time
from collections.abc import Callable
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Final
from typing import final

from ._executor import Outcome
from ._executor import Try
from ._executor import run_try
from ._tries import Running
from ._tries import job_stop

if TYPE_CHECKING:
    from ._factory import Factory

__all__ = ["ThreadExecutor"]


#: Seconds an idle thread waits for another try before it ends.
IDLE: Final = 5.0
#: Seconds tries may wait in the queue, none taken, before one more thread is woken for them.
GROW_AFTER: Final = 0.002

_Task = tuple[Try, Callable[[Try, Outcome], None]]


class _Worker:
    """A daemon thread that runs tries one at a time, taking them from the executor's pending tries."""

    def __init__(self, executor: ThreadExecutor) -> None:
        #: ``True``: wake up and take a pending try; ``None``: end.
        self.inbox: queue.SimpleQueue[bool | None] = queue.SimpleQueue()
        #: True while the worker reports a try's end: a try started then runs next, here.
        self.reporting = False
        #: The try to run next, handed over while reporting.
        self.next: _Task | None = None
        self._executor = executor
        threading.Thread(target=self._loop, name="spincycle-jobs-try", daemon=True).start()

    def _loop(self) -> None:
        self._executor._local.worker = self  # noqa: SLF001 - the worker is the executor's own
        task = self._executor._take()  # noqa: SLF001 - made to take a pending try
        while task is not None:
            self._executor._run(*task)  # noqa: SLF001
            task, self.next = self.next, None
            if task is None:
                task = self._executor._next(self)  # noqa: SLF001


@final
class ThreadExecutor:
    """Runs each try in a thread of this process; no server, nothing to deploy.

    Tries run side by side, each in a thread while it runs; a thread whose
    try has ended takes the next waiting try itself, or waits a while for
    one, so that a chain of short jobs does not pay for a new thread per
    try. Tries started together wait in a queue: one thread is woken for
    them, and another only while the queue does not drain (no try taken for
    2 ms, as when the jobs block); so short tries take a few threads, and a
    try that blocks keeps the others waiting 2 ms at most. The
    executor keeps a registry of the jobs it is running, so that
    :meth:`stop` and :meth:`status` reach them while their ``run`` blocks.

    :param factory: makes the jobs; a new :class:`~spincycle_jobs.Factory`,
        made on the first try, when ``None``.
    """

    def __init__(self, factory: Factory | None = None) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._running = Running()
        self._idle: list[_Worker] = []
        self._pending: collections.deque[_Task] = collections.deque()
        self._waking = 0  # workers woken (or made) to take a pending try, that have not taken one yet
        self._local = threading.local()
        self._closed = False
        self._owed: dict[str, _Task] = {}  # by key: the tries whose done is still to be called
        self._taken = 0  # pending tries taken so far, by any thread: whether the queue drains
        self._taken_at_wake = 0  # what it was when the worker on its way was woken
        self._grower: threading.Thread | None = None
        self._queued = threading.Event()  # set while tries wait in the queue

    def start(self, try_: Try, done: Callable[[Try, Outcome], None]) -> None:
        """Start the try in a thread of its own and return at once; ``done`` is called from that thread.

        After :meth:`close`, the try ends ``FAIL`` at once, through ``done``.
        """
        self.start_all([try_], done)

    def start_all(self, tries: Sequence[Try], done: Callable[[Try, Outcome], None]) -> None:
        """Start many tries as :meth:`start` does, taking the executor's lock once for all of them."""
        here: _Worker | None = getattr(self._local, "worker", None)
        with self._lock:
            closed = self._closed
            if not closed:
                for try_ in tries:
                    self._running.taken(try_.key)
                    self._owed[try_.key] = (try_, done)
        if closed:
            for try_ in tries:
                done(try_, Outcome.failed("JobError: the executor is closed", try_.job_data))
            return
        with self._lock:
            tasks = [(try_, done) for try_ in tries]
            if tasks and here is not None and here.reporting and here.next is None:
                # Started while a try's end is reported: run one in this thread, next, sparing a switch.
                here.next = tasks.pop(0)
            self._pending.extend(tasks)
            worker = self._wake()
            if self._pending:
                self._queued.set()
                if self._grower is None:
                    self._grower = threading.Thread(
                        target=self._grow, name="spincycle-jobs-grow", daemon=True
                    )
                    self._grower.start()
        self._send(worker)

    def _wake(self) -> _Worker | bool:
        """Under the lock: see that a worker is on its way to the pending tries.

        :returns: the idle worker to wake, ``True`` for a new one to make, ``False`` for neither.
        """
        if self._waking or not self._pending:
            return False
        self._waking += 1
        self._taken_at_wake = self._taken
        return self._idle.pop() if self._idle else True

    def _grow(self) -> None:
        """While tries wait in the queue and none is taken for :data:`GROW_AFTER` s, wake one more thread.

        The threads running tries take the next from the queue themselves; a
        new thread is woken for the queue only when they do not (their jobs
        block), so that short tries started together take a few threads, not
        one each, and a try that blocks keeps the others waiting no longer
        than :data:`GROW_AFTER`.
        """
        seen = -1
        while not self._closed:
            self._queued.wait()
            time.sleep(GROW_AFTER)
            with self._lock:
                if not self._pending:
                    self._queued.clear()
                    continue
                worker = self._wake() if self._taken == seen else False
                seen = self._taken
            self._send(worker)

    def _send(self, worker: _Worker | bool) -> None:  # noqa: FBT001 - what _wake returned
        """Outside the lock: wake or make the worker :meth:`_wake` chose."""
        if isinstance(worker, _Worker):
            worker.inbox.put(True)  # noqa: FBT003 - the wake-up message
            return
        if not worker:
            return
        try:
            _Worker(self)
        except Exception as err:  # noqa: BLE001 - no thread: the pending tries fail, rather than wait forever
            with self._lock:
                self._waking -= 1
                failed = list(self._pending)
                self._pending.clear()
                for try_, _done in failed:
                    self._running.ended(try_.key)
                    self._owed.pop(try_.key, None)
            why = f"cannot start a thread for the try: {type(err).__name__}: {err}"
            for try_, done in failed:
                done(try_, Outcome.failed(why))

    def _take(self) -> _Task | None:
        """Take a pending try for a worker just woken or made, waking the next one for any left."""
        with self._lock:
            self._waking -= 1
            drained = self._taken != self._taken_at_wake  # others took tries since: they keep up
            task = self._pending.popleft() if self._pending else None
            self._taken += task is not None
            worker = False if drained else self._wake()
        self._send(worker)
        return task

    def _next(self, worker: _Worker) -> _Task | None:
        """Return the worker's next try, waiting for one while idle; ``None`` when it should end."""
        while True:
            with self._lock:
                if self._pending:
                    self._taken += 1
                    return self._pending.popleft()
                if self._closed:
                    return None
                self._idle.append(worker)
            try:
                woken = worker.inbox.get(timeout=IDLE)
            except queue.Empty:
                with self._lock:
                    if worker in self._idle:
                        self._idle.remove(worker)
                        return None
                woken = worker.inbox.get()  # taken off the idle list: a message is on its way
            if woken is None:
                return None
            task = self._take()
            if task is not None:
                return task

    def _run(self, try_: Try, done: Callable[[Try, Outcome], None]) -> None:
        key = try_.key
        try:
            outcome = run_try(self._get_factory(), try_, lambda job: self._running.made(key, job))
        except BaseException as err:  # noqa: BLE001 - done must be called, whatever happened
            outcome = Outcome.failed(f"{type(err).__name__}: {err}", try_.job_data)
        finally:
            self._running.ended(key)
        with self._lock:
            if self._owed.pop(key, None) is None:
                return  # close() ended it already
        worker: _Worker | None = getattr(self._local, "worker", None)
        if worker is not None:
            worker.reporting = True
        try:
            done(try_, outcome)
        finally:
            if worker is not None:
                worker.reporting = False

    def _get_factory(self) -> Factory:
        with self._lock:
            if self._factory is None:
                from ._factory import Factory  # noqa: PLC0415 - discovery's imports only when needed

                self._factory = Factory()
            return self._factory

    def stop(self, try_: Try) -> None:
        """Call the job's ``stop()`` in this thread; a try not yet running is stopped when it starts."""
        self._running.stop(try_.key)

    def status(self, try_: Try) -> str:
        """Return the job's ``status()``, or ``""`` when the try is not running."""
        return self._running.status(try_.key)

    def close(self) -> None:
        """End every try not ended (``FAIL``, through its ``done``, at once) and ask their jobs to stop.

        Later tries end ``FAIL`` as soon as they start; idle threads end. It
        does not wait for the jobs; calling it again does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            idle, self._idle = self._idle, []
            owed, self._owed = list(self._owed.values()), {}
            never = [try_.key for try_, _done in self._pending]
            self._pending.clear()
        for worker in idle:
            worker.inbox.put(None)
        self._queued.set()  # the grower sees the close, and ends
        for key in never:
            self._running.ended(key)
        for job in self._running.stop_all():  # a job still being made is stopped once made
            threading.Thread(target=job_stop, args=(job,), name="spincycle-jobs-stop", daemon=True).start()
        for try_, done in owed:
            done(
                try_,
                Outcome.failed("JobError: the executor was closed while the try ran", try_.job_data),
            )


def from_options(*, scheduler: str | None, factory: Factory, connect_timeout: float) -> ThreadExecutor:  # noqa: ARG001
    """Make the ``thread`` executor of ``chain run --executor thread`` (see :mod:`._executors`).

    :raises ValueError: for a scheduler: the thread executor runs the jobs in this process.
    """
    if scheduler:
        msg = "--scheduler is for an executor that hands tries elsewhere, such as --executor dask"
        raise ValueError(msg)
    return ThreadExecutor(factory)
