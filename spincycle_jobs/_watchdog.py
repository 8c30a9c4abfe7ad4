"""A Dask worker's watchdog: when the worker process dies, it kills the processes its running jobs started.

A job such as ``shell-command`` runs its command in a session of its own,
so that a stop can end the command's whole process group; but then nothing
ends the command when the worker itself is killed. The watchdog is a small
process of its own, started by the worker at its first try (see
:mod:`spincycle_jobs.dask`): the worker writes ``+`` on the watchdog's
stdin when a try starts and ``-`` when it ends. While tries run, the
watchdog looks, every 10 to 250 ms, for the worker's child processes; when
its stdin closes (the worker is gone, however it ended), it kills those it
saw last, each only if it is still the same process (its start time).

It runs as a script, ``python -I -S _watchdog.py WORKER_PID``, with the
standard library alone: it imports nothing of the package. Linux only: it
reads ``/proc``.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time

#: Seconds between two looks for the worker's children: the first, and the longest.
FIRST_LOOK = 0.01
LONGEST_WAIT = 0.25
#: Where a process's start time is among the fields of ``/proc/PID/stat`` after its name.
_START_TIME = 19


def _stat(pid: int | str) -> list[bytes] | None:
    """Return the fields of ``/proc/PID/stat`` after the process's name, or ``None`` when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as src:  # noqa: PTH123 - the standard library's plainest read
            text = src.read()
    except OSError:
        return None
    return text[text.rindex(b")") + 2 :].split()


def _children(worker: int, me: int) -> dict[int, tuple[int, bytes]]:
    """Return the worker's child processes: by pid, their process group and start time."""
    found = {}
    for name in os.listdir("/proc"):  # noqa: PTH208 - the plainest listing, no pathlib to import
        fields = _stat(name) if name.isdigit() and int(name) != me else None
        if fields and int(fields[1]) == worker:
            found[int(name)] = (int(fields[2]), fields[_START_TIME])
    return found


def watch(worker: int) -> dict[int, tuple[int, bytes]]:
    """Follow the tries on stdin until it closes; return the worker's children last seen while tries ran."""
    me = os.getpid()
    seen: dict[int, tuple[int, bytes]] = {}
    running, wait, due = 0, FIRST_LOOK, None
    while True:
        now = time.monotonic()
        if select.select([0], [], [], None if due is None else max(0.0, due - now))[0]:
            data = os.read(0, 4096)
            if not data:
                return seen
            running += data.count(b"+") - data.count(b"-")
            if running <= 0:
                seen, due = {}, None
            elif b"+" in data:  # a try started: look for its commands soon, not before it could start one
                wait = FIRST_LOOK
                due = now + wait if due is None else min(due, now + wait)
        elif due is not None:
            seen = _children(worker, me)
            wait = min(LONGEST_WAIT, wait * 2)
            due = time.monotonic() + wait


def kill(seen: dict[int, tuple[int, bytes]]) -> None:
    """Kill each process of ``seen`` that is still the one seen: a group leader with its group."""
    for pid, (group, start) in seen.items():
        fields = _stat(pid)
        if fields and fields[_START_TIME] == start:
            try:
                if group == pid:
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


if __name__ == "__main__":
    kill(watch(int(sys.argv[1])))
