"""The run store in a SQLite file: embedded, the default.

The file's folder is created ``0700`` and the file ``0600``: a job log holds
what jobs print. The file is in WAL mode, so that readers (``chain ps``,
the web page) never wait for the driver, and a writer waits up to 30 s
for another.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import time
from typing import ClassVar

from . import StoreError
from ._sql import SQLStore

__all__ = ["SQLiteStore"]

#: Milliseconds a write waits for another process's write to end.
_BUSY_TIMEOUT = 30_000


def _path(url: str) -> str:
    """Return the file a ``sqlite:///PATH`` URL names."""
    scheme, _, rest = url.partition("://")
    path = rest[1:] if rest.startswith("/") else ""
    if scheme.lower() != "sqlite" or not path or "?" in path:
        msg = f"run store URL {url!r}: expected sqlite:///PATH (sqlite:////abs/path, or sqlite:///rel/path)"
        raise StoreError(msg)
    return path


def _create(path: str) -> None:
    """Create the folder ``0700`` and the file ``0600`` if missing; refuse what is not a regular file."""
    folder = os.path.dirname(os.path.abspath(path))  # noqa: PTH100, PTH120
    try:
        try:
            os.makedirs(folder, mode=0o700, exist_ok=True)  # noqa: PTH103
        except FileExistsError:  # a file where a folder goes: say so, not "File exists"
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR)) from None
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                msg = f"run store {path}: not a regular file"
                raise StoreError(msg)
        finally:
            os.close(fd)
    except OSError as err:
        msg = f"run store {path}: {err.strerror or err}"
        raise StoreError(msg) from None


def _wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode, waiting as long as the busy timeout for another process doing it.

    SQLite says "locked" at once, without its busy timeout, to a second process
    that asks for WAL mode while another one sets it up.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as err:
            if "locked" not in str(err) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


class SQLiteStore(SQLStore):
    """The run store in one SQLite file, named by a ``sqlite:///PATH`` URL."""

    BEGIN: ClassVar[str] = "BEGIN IMMEDIATE"

    def __init__(self, url: str) -> None:
        path = _path(url)
        _create(path)
        self.url = url
        try:
            conn = sqlite3.connect(
                path, timeout=_BUSY_TIMEOUT / 1000, isolation_level=None, check_same_thread=False
            )
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT}")
            _wal(conn)
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as err:
            msg = f"run store {url}: {err}"
            raise StoreError(msg) from None
        try:
            self._setup(conn, url, sqlite3.Error)
        except BaseException:
            conn.close()
            raise
