"""Run the jobs of a chain on a Dask cluster: :class:`DaskExecutor`.

Installed with the extra ``spincycle-jobs[dask]``; this is the one module
of the package that imports ``distributed``.

Each try becomes one Dask task, ``try_task``, which makes,
deserializes and runs the job on a worker with the worker's own
:class:`~spincycle_jobs.Factory`, so the plugins must be installed on
every worker. What the task receives and returns is JSON text (the
:class:`~spincycle_jobs.Try` and :class:`~spincycle_jobs.Outcome` as
JSON data), and the functions Dask ships are this module's, which Dask
pickles by their name: no job object, and nothing else of ours, is ever
pickled. Stop and status reach the job where it runs through a registry
of the running jobs that each worker process keeps, and
``distributed.Client.run``.
"""

from __future__ import annotations

import collections
import contextlib
import functools
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
import weakref
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import TypeAlias

import attrs
import distributed

from . import _watchdog as _watchdog_module
from ._errors import JobError
from ._errors import UnknownJobTypeError
from ._executor import Outcome
from ._executor import Try
from ._executor import run_try
from ._factory import Factory
from ._factory import here
from ._factory import placed
from ._stamps import Stat as _Stat
from ._stamps import path_stamps as _path_stamps
from ._stamps import stat as _stat
from ._tries import Running

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._catalog import TypeInfo
    from ._job import Job

__all__ = ["DaskExecutor"]

_log = logging.getLogger(__name__)

#: The event topic on which workers push small outcomes to the clients.
_TOPIC: Final = "spincycle-jobs-outcome"
#: The largest outcome pushed, in characters of JSON; the scheduler keeps the last 1,000 events.
_PUSH_LIMIT: Final = 8192
#: Seconds the client may hold messages to the scheduler before it sends them (Dask's own: 10 ms).
_SEND_INTERVAL: Final = 0.001


def _quicken(client: distributed.Client) -> None:
    """Have ``client`` send each submission at once, as a worker sends its results.

    Dask's client gathers what it sends to the scheduler for up to 10 ms;
    a chain hands out each next job from the client, so in a line of short
    jobs every job would wait that long. The setting is a private one of
    ``distributed``: where it is missing, nothing changes but the speed.
    """
    comm = getattr(client, "scheduler_comm", None)
    if isinstance(getattr(comm, "interval", None), float):
        comm.interval = min(comm.interval, _SEND_INTERVAL)  # type: ignore[union-attr]


#: Seconds between two looks, while nothing ends, at whether the scheduler is still there.
_WATCH_EVERY: Final = 1.0
#: Ended tries' tasks are released after this many seconds without an ending...
_RELEASE_AFTER: Final = 0.02
#: ...or once this many have piled up.
_RELEASE_BATCH: Final = 100
#: How many task keys a worker remembers (tries it started, stops that came first).
_REMEMBER: Final = 100_000


def _file_of(module: object) -> str | None:
    """Return the file a module was imported from, or ``None`` (a namespace package, a built-in module)."""
    try:
        path = getattr(module, "__file__", None)
    except Exception:  # noqa: BLE001 - a lazy module may raise anything: it is no file
        return None
    return path if isinstance(path, str) else None


def _package(name: str) -> str:
    """Return the package whose modules are checked together with module (or dotted name) ``name``.

    Its top-level package; for a namespace package (no ``__file__``), whose
    portions come from distributions of their own, the portion below it.
    """
    top, _, rest = name.partition(".")
    module = sys.modules.get(top)
    if rest and module is not None and _file_of(module) is None:
        return f"{top}.{rest.partition('.')[0]}"
    return top


class _Code:
    """The files of the modules this process imported, by :func:`_package`, with their stat when first seen.

    Python imports a module once: a file that changed on disk since (an
    upgrade, an edit) holds code this process does not run. A module is seen
    by the first :meth:`look` after its import: each try looks once it has
    made its job, and again once it has run it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: How many modules ``sys.modules`` held at the last look: none imported since, nothing to do.
        self._count = 0
        self._seen: set[str] = set()
        self._files: dict[str, dict[str, tuple[str, _Stat]]] = {}

    def look(self) -> None:
        """Record the file and stat of every module imported since the last look."""
        modules = sys.modules
        with self._lock:
            # The cost of a look when nothing was imported. (A module removed from sys.modules
            # and another imported since the last look would be seen at the next import.)
            if len(modules) == self._count:
                return
            self._count = len(modules)
            new = modules.keys() - self._seen  # one C call: no import in another thread changes it midway
            self._seen |= new
            for name in new:
                path = _file_of(modules.get(name))
                if path is not None:
                    self._files.setdefault(_package(name), {})[name] = (path, _stat(path))

    def changed(self, packages: set[str]) -> tuple[str, str] | None:
        """Return a module of ``packages`` whose file changed on disk since it was seen, and that file."""
        self.look()
        with self._lock:
            files = [item for package in packages for item in self._files.get(package, {}).items()]
        for name, (path, seen) in files:
            if _stat(path) != seen:
                return name, path
        return None


def _restart(changed: tuple[str, str]) -> str:
    """Say which module's file changed, and to restart the worker (named by its address)."""
    name, path = changed
    where = here()
    what = where if where.startswith("worker ") else f"this process ({where})"
    return f"changed on disk after this worker imported it (module {name}, {path}): restart {what}"


class _WorkerFactory(Factory):
    """A worker's Factory: it makes no job from code that changed on disk since the worker imported it."""

    def __init__(self, code: _Code, *, cache: bool) -> None:
        super().__init__(cache=cache)
        self._code = code

    def type_info(self, job_type: str) -> TypeInfo:
        """Return the type's record; for a type it does not know, say whether a plugin's code changed.

        :raises JobError: when the type is unknown and a plugin's code changed
            on disk since this process imported it, saying to restart the worker.
        """
        try:
            return super().type_info(job_type)
        except UnknownJobTypeError as err:
            # Perhaps the new version of a plugin offers it, but this process runs the old one's hook.
            changed = self._code.changed({_package(info.target) for info in self.types()})
            if changed is None:
                raise
            msg = f"{err}; the code of a plugin {_restart(changed)} to see the job types of its new version"
            raise JobError(msg) from err

    def make(self, job_type: str, job_name: str) -> Job:
        """Make the job, unless its package's code changed on disk since this process imported it.

        :raises JobError: when it changed, saying to restart the worker.
        """
        changed = self._code.changed({_package(self.type_info(job_type).target)})
        if changed is not None:
            msg = f"the code of job type {job_type!r} {_restart(changed)} to run the new code"
            raise JobError(msg)
        return super().make(job_type, job_name)


class _Plugins:
    """A worker's plugins: its Factory, made anew when distributions come or go, and the code it imported.

    A worker lives longer than the plugins installed under it. Installing,
    upgrading or removing a distribution adds or removes a metadata folder,
    which changes its ``sys.path`` folder's own stat (the first of the
    index's stamps, :func:`~spincycle_jobs._stamps.path_stamps`): a try that
    finds one changed gets a new :class:`~spincycle_jobs.Factory`, which
    discovers again, so a distribution installed after the worker started
    is seen at its next try; while none changed, a try costs one ``stat``
    per ``sys.path`` entry, and nothing is discovered again. A type the
    Factory does not know is looked for by discovering again, once per try,
    before the try fails: what a file changed in place added is found too.

    But Python never imports a module twice: a job whose package's code
    changed on disk after this process imported it (an upgrade, an edit)
    would run its old code, so its try fails instead, saying to restart the
    worker (see :class:`_Code`). Discovering again in such a process would
    call the old code's hooks: the Factories made after the first never
    read nor write the persisted index, which records only what a fresh
    process would find.
    """

    def __init__(self) -> None:
        self._factory: _WorkerFactory | None = None
        self._stamps: list[tuple[str, _Stat]] = []
        self._lock = threading.Lock()
        self.code = _Code()

    def factory(self, job_type: str) -> Factory:
        """Return this worker's Factory, new when the installed distributions changed since it was made.

        Also new when it does not know ``job_type``: this one has discovered it again.
        """
        stamps = _path_stamps()  # before the Factory discovers: a change from now on is seen next time
        with self._lock:
            if self._factory is None or stamps != self._stamps:
                self._factory = _WorkerFactory(self.code, cache=self._factory is None)
                self._stamps = stamps
            factory = self._factory
        try:
            Factory.type_info(factory, job_type)
        except UnknownJobTypeError:
            rediscovered = _WorkerFactory(self.code, cache=False)
            with self._lock:
                if self._factory is factory:
                    self._factory = rediscovered
            return rediscovered
        except Exception:  # noqa: BLE001, S110 - a plugin's problem: the try fails saying it, making its job
            pass
        return factory

    def stale(self, job: Job) -> str | None:
        """Return why ``job`` must not run here, its class's code changed on disk, or ``None``."""
        changed = self.code.changed({_package(type(job).__module__)})
        if changed is None:
            return None
        return f"the code of job type {job.type()!r} {_restart(changed)} to run the new code"


# What one worker process knows; guarded by _lock.
_lock = threading.Lock()
_plugins = _Plugins()
_running = Running()
_started: collections.OrderedDict[str, None] = collections.OrderedDict()
_orphan_watch: threading.Thread | None = None
#: Seconds between two looks for tries whose driver is gone.
_ORPHANS_EVERY: Final = 1.0


def _remember(keys: collections.OrderedDict[str, None], key: str) -> None:
    keys[key] = None
    while len(keys) > _REMEMBER:
        keys.popitem(last=False)


def try_task(try_json: str, task_key: str) -> str:
    """Run one try on this worker: the Dask task behind each try; not for direct use.

    :param try_json: the :class:`~spincycle_jobs.Try` as JSON text.
    :param task_key: the task's unique key, by which :func:`stop_try`
        and :func:`try_statuses` name it.
    :returns: the :class:`~spincycle_jobs.Outcome` as JSON text.
    """
    try_ = Try.from_dict(json.loads(try_json))
    worker = _worker()  # known in a task's thread alone
    place = here() if worker is None else f"worker {worker.address}"
    with _lock:
        if task_key in _started:
            msg = (
                f"JobError: try {try_.key!r} was started on this worker before; "
                f"it does not run twice ({place})"
            )
            return json.dumps(Outcome.failed(msg, try_.job_data).to_dict())
        _remember(_started, task_key)
    factory = _plugins.factory(try_.record.type)

    def started(job: Job) -> None:
        global _orphan_watch  # noqa: PLW0603 - one per worker process, started with the first try
        with _lock:
            _tell_watchdog(b"+")
            if _orphan_watch is None and worker is not None:
                _orphan_watch = threading.Thread(
                    target=_stop_orphans, args=(worker,), name="spincycle-jobs-orphans"
                )
                _orphan_watch.daemon = True
                _orphan_watch.start()
        _running.made(task_key, job)

    try:
        with placed(place):  # what an error that says "here" names
            outcome = run_try(factory, try_, started, place=place, vet=_plugins.stale)
    finally:
        _plugins.code.look()  # what the job imported while it ran, as it is now
        with _lock:
            if task_key in _running:
                _tell_watchdog(b"-")
            _running.ended(task_key)
    if worker is not None:
        outcome = attrs.evolve(outcome, worker=worker.address)
    text = json.dumps(outcome.to_dict())
    if len(text) <= _PUSH_LIMIT and worker is not None:  # sooner than the client could fetch the result
        worker.log_event(_TOPIC, {"key": task_key, "outcome": text})
    return text


def _stop_orphans(worker: distributed.Worker) -> None:
    """Stop the jobs of tries whose tasks Dask let go of: their chain's driver is gone.

    When the process that drives a chain dies, the scheduler soon drops its
    client and releases the client's tasks; a task that is running then is
    *cancelled* on its worker, but Dask cannot end the code that runs it. So
    every :data:`_ORPHANS_EVERY` seconds this looks at the tasks of the
    running tries, and calls ``stop()`` on the job of each that Dask no longer
    wants: its thread is free again for the tries of a resumed run.
    """
    stopped: set[str] = set()
    while worker.status not in {distributed.core.Status.closed, distributed.core.Status.failed}:
        time.sleep(_ORPHANS_EVERY)
        running = _running.jobs()
        tasks = worker.state.tasks
        for key, job in running:
            task = tasks.get(key)
            if key not in stopped and (task is None or task.state in {"cancelled", "released", "forgotten"}):
                stopped.add(key)
                _log.warning("stopping try %s: Dask let go of its task (its chain's driver is gone)", key)
                with contextlib.suppress(Exception):  # a job's stop() must not end the watch
                    job.stop()
        stopped &= {key for key, _ in running}


def _worker() -> distributed.Worker | None:
    """Return the Dask worker this runs on, or ``None`` outside one."""
    try:
        return distributed.get_worker()
    except ValueError:
        return None


def _task_key(try_: Try) -> str:
    """Return a new task key for a try that names it, as Dask's dashboard shows it.

    ``spincycle-jobs-try-REQUEST/JOB/TRY-UNIQUE``: the request id, the job id
    and the try, then 12 hex digits that make it unique (a resumed run's
    tries have the same names).
    """
    return f"spincycle-jobs-try-{try_.key}-{uuid.uuid4().hex[:12]}"


#: The watchdog (see :mod:`._watchdog`): a script of the standard library alone, run by its path.
_WATCHDOG: Final = _watchdog_module.__file__
_watchdog: subprocess.Popen[bytes] | None = None


def _tell_watchdog(sign: bytes) -> None:
    """Tell the watchdog, started on first need, that a try started (``+``) or ended (``-``); under _lock."""
    global _watchdog  # noqa: PLW0603 - one watchdog per worker process
    if not sys.platform.startswith("linux"):
        return
    try:
        if _watchdog is None:
            _watchdog = subprocess.Popen(  # noqa: S603 - this Python, this code
                [sys.executable, "-I", "-S", _WATCHDOG, str(os.getpid())],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # out of reach of what stops the worker's process group
            )
        if _watchdog.stdin is not None:
            _watchdog.stdin.write(sign)
            _watchdog.stdin.flush()
    except (OSError, ValueError) as err:
        _log.warning("no watchdog for the commands of this worker's jobs: %s", err)


def stop_try(task_key: str) -> bool:
    """Call ``stop()`` on the job of a try running on this worker; run by ``distributed.Client.run``.

    A stop that comes before the try starts here is kept, and the job is
    stopped as soon as it is made.

    :returns: whether the try was running here.
    """
    return _running.stop(task_key, early=True)


def stop_tries(task_keys: list[str]) -> int:
    """Call :func:`stop_try` on each of ``task_keys``, a failing ``stop()`` breaking no other.

    :returns: how many of the tries were running here.
    """
    here = 0
    for task_key in task_keys:
        try:
            here += _running.stop(task_key, early=True)
        except Exception:  # noqa: BLE001 - a job's broken stop() is its own
            _log.exception("stop() of the job of try %s raised", task_key)
    return here


def try_statuses() -> dict[str, str]:
    """Return the ``status()`` of every try running on this worker, by task key."""
    return _running.statuses()


def _allowed_failures(dask_scheduler: Any) -> int:
    return int(dask_scheduler.allowed_failures)


Future: TypeAlias = "distributed.Future[str]"
#: How a try's task ended: its future, the outcome a worker pushed (JSON text), or an outcome made here.
_End: TypeAlias = "Future | str | Outcome"
#: What the reporter thread reads: a task key and how its task ended, or ``None`` to stop.
_Ended: TypeAlias = "tuple[str, _End] | None"


class _Inbox:
    """Routes the outcomes workers push, by task key, to the executors of one client."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.routes: dict[str, queue.SimpleQueue[_Ended]] = {}

    def __call__(self, event: tuple[float, Any]) -> None:
        msg = event[1]
        key, outcome = (msg.get("key"), msg.get("outcome")) if isinstance(msg, dict) else (None, None)
        if not isinstance(key, str) or not isinstance(outcome, str):
            return  # not ours: anyone may log events on any topic
        with self.lock:
            ended = self.routes.get(key)
        if ended is not None:
            ended.put((key, outcome))


_inboxes: weakref.WeakKeyDictionary[distributed.Client, _Inbox] = weakref.WeakKeyDictionary()
_inboxes_lock = threading.Lock()


def _inbox(client: distributed.Client) -> _Inbox:
    with _inboxes_lock:
        if client not in _inboxes:
            _inboxes[client] = _Inbox()
            client.subscribe_topic(_TOPIC, _inboxes[client])  # type: ignore[no-untyped-call]
        return _inboxes[client]


class _Try:
    """One try this executor started and has not yet reported."""

    __slots__ = ("done", "future", "task_key", "try_")

    def __init__(self, try_: Try, done: Callable[[Try, Outcome], None], task_key: str) -> None:
        self.try_ = try_
        self.done = done
        self.task_key = task_key
        self.future: Future | None = None


class DaskExecutor:
    """Runs each try of a chain's jobs as a task on a Dask cluster (an :class:`~spincycle_jobs.Executor`).

    The scheduler must never run a task again when its worker dies,
    so that a try runs at most once and retries are the chain's alone: start
    it with the setting ``distributed.scheduler.allowed-failures`` at 0
    (environment variable ``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0``).
    A try whose worker dies ends ``FAIL``, with an error that says so.

    :param address_or_client: the scheduler's address, such as
        ``"tcp://10.0.0.5:8786"``, or a ``distributed.Client``,
        which the executor uses and leaves open.
    :param timeout: seconds to wait for the scheduler when connecting, and
        at most for each :meth:`stop` and :meth:`status`.
    :raises JobError: when the scheduler cannot be reached, or would run a
        task again after its worker dies.

    Its ``client`` property is the ``distributed.Client`` it submits tries with.
    """

    def __init__(self, address_or_client: str | distributed.Client, *, timeout: float = 10.0) -> None:
        self._timeout = timeout
        if isinstance(address_or_client, distributed.Client):
            self._client = address_or_client
            self._owns_client = False
        else:
            try:
                self._client = distributed.Client(  # type: ignore[no-untyped-call]
                    address_or_client, timeout=timeout, set_as_default=False
                )
            except (OSError, TimeoutError, ValueError) as err:
                msg = f"cannot connect to the Dask scheduler at {address_or_client!r}: {err}"
                raise JobError(msg) from None
            self._owns_client = True
        #: The scheduler's address, for messages.
        self._address = str(getattr(self._client.scheduler, "address", None) or address_or_client)
        self._lost: str | None = None  # why the scheduler is gone, once it is
        self._lock = threading.Lock()
        self._tries: dict[str, _Try] = {}  # by task key
        self._by_try: dict[str, _Try] = {}  # the same, by try key
        self._to_release: list[Future] = []
        self._pending: list[_Try] = []  # tries started in the reporter thread, to submit together
        self._closed = False
        self._statuses: dict[str, str] = {}
        self._statuses_at = -1.0
        self._status_lock = threading.Lock()
        self._ended: queue.SimpleQueue[_Ended] = queue.SimpleQueue()
        self._reporter = threading.Thread(target=self._report, name="spincycle-jobs-dask", daemon=True)
        try:
            self._check_allowed_failures()
            self._inbox = _inbox(self._client)
        except BaseException:
            self._close_client()
            raise
        _quicken(self._client)
        self._reporter.start()

    @property
    def client(self) -> distributed.Client:
        """The ``distributed.Client`` the executor submits tries with."""
        return self._client

    def _check_allowed_failures(self) -> None:
        try:
            allowed = self._client.run_on_scheduler(_allowed_failures)  # type: ignore[no-untyped-call]
        except Exception as err:  # noqa: BLE001 - a scheduler that cannot say is trusted, and told of
            _log.warning("cannot read the Dask scheduler's allowed-failures (%s); it must be 0", err)
            return
        if allowed:
            msg = (
                f"the Dask scheduler at {self._client.scheduler_info().get('address')} has "
                f"distributed.scheduler.allowed-failures = {allowed}: it would run a job again "
                "when its worker dies; start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=0"
            )
            raise JobError(msg)

    def start(self, try_: Try, done: Callable[[Try, Outcome], None]) -> None:
        """Submit one try as a Dask task and return at once; ``done`` is called from another thread."""
        run = _Try(try_, done, _task_key(try_))
        with self._lock:
            self._tries[run.task_key] = run
            self._by_try[try_.key] = run
            why = "JobError: the executor is closed" if self._closed else self._lost
        if why is not None:  # say so from a thread of its own, as for any try
            outcome = Outcome.failed(why, try_.job_data)
            threading.Thread(target=self._finish, args=(run, outcome), daemon=True).start()
            return
        with self._inbox.lock:
            self._inbox.routes[run.task_key] = self._ended
        if threading.current_thread() is self._reporter:
            self._pending.append(run)  # submitted with the other tries started by the outcomes in hand
        else:
            self._submit([run])

    def _submit(self, runs: list[_Try]) -> None:
        """Submit tries to Dask in one message: messages sent close together wait for each other."""
        if self._lost is not None:
            self._fail_all(runs, self._lost)
            return
        sendable, texts = [], []
        for run in runs:
            try:
                texts.append(json.dumps(run.try_.to_dict(), allow_nan=False))
            except (TypeError, ValueError) as err:
                self._fail_all([run], f"JobError: the try cannot be sent to Dask as JSON: {err}")
            else:
                sendable.append(run)
        if not sendable:
            return
        keys = [run.task_key for run in sendable]
        try:
            if len(sendable) == 1:
                futures = [self._client.submit(try_task, texts[0], keys[0], key=keys[0], pure=False)]
            else:
                futures = self._client.map(try_task, texts, keys, key=keys, pure=False)
        except Exception as err:  # noqa: BLE001 - tries that cannot be submitted fail alone
            self._fail_all(sendable, f"JobError: cannot submit the try to Dask: {type(err).__name__}: {err}")
            return
        for run, future in zip(sendable, futures, strict=True):
            run.future = future
            future.add_done_callback(functools.partial(self._task_ended, run.task_key))  # type: ignore[no-untyped-call]

    def _fail_all(self, runs: list[_Try], why: str) -> None:
        """End these tries ``FAIL`` with ``why``, through the reporter thread, as any end."""
        for run in runs:
            self._ended.put((run.task_key, Outcome.failed(why, run.try_.job_data)))

    def _task_ended(self, task_key: str, future: Future) -> None:
        self._ended.put((task_key, future))

    def stop(self, try_: Try) -> None:
        """Call the job's ``stop()`` on the worker that runs the try, or as soon as one starts it."""
        with self._lock:
            run = self._by_try.get(try_.key)
        if run is not None and self._lost is None:
            self._on_workers(stop_try, run.task_key)

    def status(self, try_: Try) -> str:
        """Return the job's ``status()`` from the worker that runs it, or ``""`` when not running.

        Statuses are fetched from all workers at once, at most every 0.2
        seconds, however many tries are asked about.
        """
        with self._lock:
            run = self._by_try.get(try_.key)
        if run is None or self._lost is not None:
            return ""
        with self._status_lock:
            if time.monotonic() - self._statuses_at > 0.2:  # noqa: PLR2004 - a fresh enough status
                statuses: dict[str, str] = {}
                for answer in (self._on_workers(try_statuses) or {}).values():
                    if isinstance(answer, dict):
                        statuses.update(answer)
                self._statuses = statuses
                self._statuses_at = time.monotonic()
            return self._statuses.get(run.task_key, "")

    def close(self) -> None:
        """End the executor as :meth:`Executor.close <spincycle_jobs.Executor.close>` says.

        Tries still running end ``FAIL`` at once; their jobs are asked to
        stop on their workers (waiting at most ``timeout`` for the workers to
        hear it), and their tasks are let go of. Later tries end ``FAIL``.
        A client the executor was given stays open.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            left = list(self._tries.values())
        msg = "JobError: the executor was closed while the try ran"
        for run in left:
            self._ended.put((run.task_key, Outcome.failed(msg, run.try_.job_data)))
        self._ended.put(None)
        if threading.current_thread() is not self._reporter:
            self._reporter.join(self._timeout)
        if left and self._lost is None:  # after the FAIL above, which a stopped job's outcome cannot overtake
            self._on_workers(stop_tries, [run.task_key for run in left])
        self._release()
        self._close_client()

    def _close_client(self) -> None:
        if self._owns_client:
            self._client.close(timeout=self._timeout)  # type: ignore[no-untyped-call]

    def _on_workers(self, function: Callable[..., Any], *args: Any) -> dict[str, Any] | None:
        """Run ``function`` on every worker, waiting at most ``timeout``; ``None`` when it did not answer."""
        answer: list[dict[str, Any]] = []

        def run() -> None:
            try:
                answer.append(self._client.run(function, *args, on_error="return"))
            except Exception as err:  # noqa: BLE001 - a cluster that cannot answer is reported, not raised
                _log.warning("cannot reach the Dask workers: %s: %s", type(err).__name__, err)

        thread = threading.Thread(target=run, name="spincycle-jobs-dask-run", daemon=True)
        thread.start()
        thread.join(self._timeout)
        return answer[0] if answer else None

    def _report(self) -> None:
        """Turn what ended into outcomes and call each ``done``, in this thread, until closed."""
        while True:
            try:
                batch = [self._ended.get(timeout=_RELEASE_AFTER if self._to_release else _WATCH_EVERY)]
            except queue.Empty:
                self._release()
                self._watch()
                continue
            while not self._ended.empty():
                batch.append(self._ended.get())
            to_fetch = [fetch for entry in batch if entry is not None and (fetch := self._ended_one(*entry))]
            texts = self._results([future for _, future in to_fetch])
            for run, _ in to_fetch:
                text = texts.get(run.task_key)
                lost = "JobError: the try ended on Dask, but its outcome was lost"
                self._finish(run, Outcome.failed(lost) if text is None else _read_outcome(run.try_, text))
            pending, self._pending = self._pending, []
            if pending:
                self._submit(pending)
            if len(self._to_release) >= _RELEASE_BATCH:
                self._release()
            if None in batch:
                return

    def _watch(self) -> None:
        """See whether the scheduler is gone; then every try in flight, and every later one, fails saying so.

        Dask's client tries to reach a scheduler that went away for its
        ``timeout`` (10 s by default), then closes: the tries it had are
        lost, and it would take no more.
        """
        if self._lost is not None or self._closed:
            return
        if getattr(self._client, "status", "running") not in {"closing", "closed", "failed"}:
            return
        self._lost = self._scheduler_lost()
        with self._lock:
            left = list(self._tries.values())
        for run in left:
            self._finish(run, Outcome.failed(self._lost, run.try_.job_data))

    def _ended_one(self, task_key: str, end: _End) -> tuple[_Try, Future] | None:
        """Finish the try whose task ended, or return it with its future when its result must be fetched."""
        with self._lock:
            run = self._tries.get(task_key)
        if run is None:
            return None
        if isinstance(end, str):
            self._finish(run, _read_outcome(run.try_, end))
        elif isinstance(end, Outcome):
            self._finish(run, end)
        elif end.status == "finished":
            return run, end
        elif end.status == "cancelled" and getattr(self._client, "status", "running") != "running":
            self._finish(run, Outcome.failed(self._scheduler_lost(), run.try_.job_data))
        else:
            self._finish(run, _lost(run.try_, end))
        return None

    def _scheduler_lost(self) -> str:
        return f"JobError: the Dask scheduler at {self._address} was lost: the try cannot end there"

    def _results(self, futures: list[Future]) -> dict[str, str]:
        """Fetch the results of finished ``futures`` together, by task key; leave out what fails."""
        if not futures:
            return {}
        try:
            texts = self._client.gather(futures)  # type: ignore[no-untyped-call]
            return {str(f.key): text for f, text in zip(futures, texts, strict=True)}
        except Exception:  # noqa: BLE001 - one at a time, to tell the lost from the others
            return dict(filter(None, map(self._result, futures)))

    def _result(self, future: Future) -> tuple[str, str] | None:
        try:
            return str(future.key), self._client.gather(future)  # type: ignore[no-untyped-call]
        except Exception as err:  # noqa: BLE001 - its try fails as lost
            _log.warning("cannot fetch the outcome of %s: %s: %s", future.key, type(err).__name__, err)
            return None

    def _release(self) -> None:
        """Let go of the tasks of ended tries.

        The scheduler tells a worker to drop a released task's result, and
        sends a worker its messages at most every 5 ms: a release sent to
        a worker just before its next try would hold that try back. So the
        releases go out together, after :data:`_RELEASE_AFTER` seconds
        without an ending, or once :data:`_RELEASE_BATCH` have piled up.
        """
        with self._lock:
            futures, self._to_release = self._to_release, []
        for future in futures:
            future.release()  # type: ignore[no-untyped-call]

    def _finish(self, run: _Try, outcome: Outcome) -> None:
        """Let go of the try's task and call its ``done``, unless that was done already."""
        with self._lock:
            if self._tries.get(run.task_key) is not run:
                return
            del self._tries[run.task_key]
            if self._by_try.get(run.try_.key) is run:
                del self._by_try[run.try_.key]
        with self._inbox.lock:
            self._inbox.routes.pop(run.task_key, None)
        try:
            run.done(run.try_, outcome)
        except Exception:  # noqa: BLE001 - a broken callback must not stop the reports of other tries
            _log.exception("the done callback of try %r raised", run.try_.key)
        if run.future is not None:
            with self._lock:
                self._to_release.append(run.future)


def _read_outcome(try_: Try, text: str) -> Outcome:
    """Read the outcome a worker sent back as JSON text."""
    try:
        return Outcome.from_dict(json.loads(text))
    except Exception as err:  # noqa: BLE001 - any malformed answer fails the try
        msg = f"JobError: the Dask worker sent back an unreadable outcome: {type(err).__name__}: {err}"
        return Outcome.failed(msg, try_.job_data)


def _lost(try_: Try, future: Future) -> Outcome:
    """Return how a try whose task erred or was cancelled ended."""
    if future.status == "error":
        err = future.exception()  # type: ignore[no-untyped-call]
        if isinstance(err, distributed.KilledWorker):
            msg = f"JobError: the Dask worker running the try died, and the try with it ({err})"
        else:
            msg = f"JobError: the try could not run on the Dask worker: {type(err).__name__}: {err}"
        return Outcome.failed(msg, try_.job_data)
    msg = f"JobError: the Dask cluster lost the try (its task is {future.status})"
    return Outcome.failed(msg, try_.job_data)


def from_options(*, scheduler: str | None, factory: Factory, connect_timeout: float) -> DaskExecutor:  # noqa: ARG001
    """Make the ``dask`` executor of ``chain run --executor dask`` (see :mod:`spincycle_jobs._executors`).

    The workers make the jobs with factories of their own: ``factory`` is not used.

    :raises ValueError: without a scheduler's address.
    :raises JobError: when the scheduler cannot be reached in ``connect_timeout`` seconds.
    """
    if not scheduler:
        msg = "--executor dask needs --scheduler ADDRESS (such as tcp://127.0.0.1:8786)"
        raise ValueError(msg)
    return DaskExecutor(scheduler, timeout=connect_timeout)
