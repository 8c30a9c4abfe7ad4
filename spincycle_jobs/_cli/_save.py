"""``chain run --save FILE``: the chain document kept up to date, at most once a second, by one run at a time.

A run that saves takes an exclusive lock on ``FILE`` (a lock file beside
it, ``.FILE.lock``, held with ``flock`` for the run's life), so a second
run that would save to it, a second resume of one document say, is refused
with the holder's host and pid. The document is written whole and replaced
atomically (:func:`~._common.write_text`): after a ``kill -9`` it reads, and
holds every job that had ended a second before, at least; a job that ended
in that last second runs again on resume (the run store loses none).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import threading
from typing import TYPE_CHECKING
from typing import Final

from ._common import UsageError
from ._common import write_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from spincycle_jobs._chain import Chain

__all__ = ["SAVE_EVERY", "Saver"]

#: Seconds between two writes of the saved document while jobs end.
SAVE_EVERY: Final = 1.0


class Saver:
    """Keeps the chain document at ``path``: locked, written now, then again when jobs have ended."""

    def __init__(self, path: str, chain: Chain) -> None:
        folder, name = os.path.split(os.path.abspath(path))  # noqa: PTH100 - plain str paths
        self._path = path
        self._lock_fd = _lock(os.path.join(folder, f".{name}.lock"), path)  # noqa: PTH118
        self._changed = threading.Event()
        self._closed = threading.Event()
        self._snapshot: Callable[[], Chain] | None = None
        self._thread: threading.Thread | None = None
        try:
            write_text(path, chain.to_json())  # a path that cannot be written is bad input, found first
        except BaseException:
            os.close(self._lock_fd)
            raise

    def follow(self, snapshot: Callable[[], Chain]) -> None:
        """Write what ``snapshot`` returns at most every :data:`SAVE_EVERY` seconds after :meth:`changed`."""
        self._snapshot = snapshot
        self._thread = threading.Thread(target=self._loop, name="spincycle-jobs-save", daemon=True)
        self._thread.start()

    def changed(self, _job_id: str = "") -> None:
        """Note that a job ended: the document is written within :data:`SAVE_EVERY` seconds."""
        self._changed.set()

    def _loop(self) -> None:
        assert self._snapshot is not None  # noqa: S101 - set by follow
        while not self._closed.is_set():
            self._changed.wait()
            if self._closed.is_set():
                return
            self._changed.clear()
            write_text(self._path, self._snapshot().to_json())
            self._closed.wait(SAVE_EVERY)

    def close(self, final: Chain | None) -> None:
        """Stop following; write ``final`` when given; release the lock."""
        self._closed.set()
        self._changed.set()
        try:
            if self._thread is not None:
                self._thread.join()
            if final is not None:
                write_text(self._path, final.to_json())
        finally:
            os.close(self._lock_fd)


def _lock(lock_path: str, path: str) -> int:
    """Take the lock file's ``flock``, writing who holds it; refuse when another process holds it."""
    try:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
    except OSError as err:
        msg = f"cannot lock {path!r} to save the chain document to it: {lock_path}: {err.strerror or err}"
        raise UsageError(msg) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = "another process"
        with contextlib.suppress(OSError):
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or holder
        os.close(fd)
        msg = f"chain document {path!r} is in use: {holder} saves a run to it (lock file {lock_path})"
        raise UsageError(msg) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"process {os.getpid()} on host {socket.gethostname()}".encode(), 0)
    return fd
