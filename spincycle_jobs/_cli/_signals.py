"""The one place where the command line handles signals; every command that runs something uses it.

:func:`run_interruptibly` runs the work (a job, a chain) in a worker thread,
while the main thread waits for it and handles SIGINT (Ctrl-C), SIGTERM
(systemd, Kubernetes, ``timeout``) and SIGHUP (a closed terminal) alike:

- the first of them calls ``stop`` at once, in a thread that is not a
  daemon, so an exit cannot cut it short; the work is then awaited;
- a second gives up: the command waits for ``stop`` to return (at most
  :data:`GIVE_UP_WAIT` seconds) but no longer for the work, and exits
  ``128 + signal number``, as a shell reports a process a signal ended;
- a signal that was ignored when the command started (``nohup``, a
  background job) stays ignored;
- once the work ended after a signal, more of them are ignored: the
  command is exiting, as asked, and a late one cannot cut that short;
- on a terminal, stderr shows the work's status line while it runs.

A command that is stopped so exits with :func:`signal_exit` of the first
signal, unless the work completed all the same.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import Generic
from typing import TypeVar

import attrs

from spincycle_jobs._thread import Call

from ._common import PROG
from ._common import clean
from ._common import err

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType

__all__ = ["GIVE_UP_WAIT", "SIGNALS", "Ended", "run_interruptibly", "signal_exit"]

T = TypeVar("T")

#: The signals that stop the work.
SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds a command that gives up still waits for the work's ``stop`` to return.
GIVE_UP_WAIT: Final = 5.0
_STATUS_EVERY: Final = 0.2


@attrs.frozen
class Ended(Generic[T]):
    """How interruptible work ended."""

    #: What the work returned; ``None`` when the command gave up on it.
    value: T | None
    #: The first signal received, or ``None``.
    signum: int | None
    #: Whether a second signal made the command give up on the work.
    gave_up: bool


def signal_exit(signum: int) -> int:
    """Return the exit code of a command a signal ended: ``128 + signum``, as a shell reports it."""
    return 128 + signum


class _Interrupts:
    """Counts the signals; the first starts the stop."""

    def __init__(self, stop: Callable[[], object], what: str) -> None:
        self.received: list[int] = []
        self.stopper: Call | None = None
        self._stop, self._what, self._announced = stop, what, 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle the signals, but those ignored; only the main thread can."""
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                if signal.getsignal(signum) is not signal.SIG_IGN:
                    self._previous[signum] = signal.signal(signum, self.handle)

    def uninstall(self) -> None:
        """Restore the handlers; once a signal came, ignore more: the command is exiting, as asked.

        (The interpreter resets a Python handler to the default as it exits,
        so a late signal would otherwise kill it halfway through.)
        """
        for signum, handler in self._previous.items():
            signal.signal(signum, signal.SIG_IGN if self.received else handler)

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        self.received.append(signum)
        self.start_stop()

    def start_stop(self) -> None:
        # A second signal may come while the first is handled: two stoppers are harmless, none is not.
        if self.stopper is None:
            stopper = Call(self._stop, f"stop {self._what}", daemon=False)
            self.stopper = stopper
            stopper.start()

    def announce(self) -> None:
        """Say what the signals received since the last call do (not in the handler: stderr may be busy)."""
        for signum in self.received[self._announced :]:
            name = signal.Signals(signum).name
            if self._announced == 0:
                again = "Ctrl-C" if signum == signal.SIGINT else name
                err(f"\n{PROG}: {name}: stopping {self._what} ({again} again to give up)")
            elif self._announced == 1:
                err(f"{PROG}: {name} again: giving up")
            self._announced += 1


def run_interruptibly(
    work: Callable[[], T], stop: Callable[[], object], *, what: str, status: Callable[[], str] | None = None
) -> Ended[T]:
    """Run ``work`` in a worker thread; a signal calls ``stop``, a second gives up (see the module).

    :param what: names the work in messages, such as ``"sleep nap"``.
    :param status: the status line to show on a terminal while the work runs.
    :returns: how it ended. What ``work`` raised is raised here.
    """
    what = clean(what)
    interrupts = _Interrupts(stop, what)
    interrupts.install()
    worker = Call(work, f"run {what}")
    live = status is not None and sys.stderr.isatty()
    try:
        worker.start()
        while worker.is_alive() and len(interrupts.received) < 2:  # noqa: PLR2004 - the second signal
            worker.join(_STATUS_EVERY)
            interrupts.announce()
            if live and worker.is_alive():
                _show(status)
    finally:
        interrupts.uninstall()
        if live:
            err("\r\x1b[K", end="")
    interrupts.announce()
    first = interrupts.received[0] if interrupts.received else None
    gave_up = worker.is_alive()
    if interrupts.received:
        _await_stop(interrupts)
    if gave_up:
        return Ended(None, first, gave_up=True)
    return Ended(worker.outcome(), first, gave_up=False)


def _show(status: Callable[[], str] | None) -> None:
    try:
        text = status() if status is not None else ""
    except Exception as error:  # noqa: BLE001 - a status line must never end the command
        text = f"status raised {type(error).__name__}"
    err(f"\r\x1b[K{clean(text)}"[:200], end="")
    sys.stderr.flush()


def _await_stop(interrupts: _Interrupts) -> None:
    """Let ``stop`` finish what it started; exit at once if it does not return in time."""
    interrupts.start_stop()
    assert interrupts.stopper is not None  # noqa: S101 - start_stop sets it
    interrupts.stopper.join(GIVE_UP_WAIT)
    if interrupts.stopper.is_alive():  # it breaks the contract, and would keep the process alive
        err(f"{PROG}: stop did not return within {GIVE_UP_WAIT:g} s; exiting without it")
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(signal_exit(interrupts.received[-1]))
