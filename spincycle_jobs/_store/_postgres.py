"""The run store in PostgreSQL: many hosts share one store (extra ``spincycle-jobs[postgres]``).

A ``postgresql://`` URL is handed to psycopg as it is, so every libpq
parameter works (``?sslmode=require``, ``?connect_timeout=3``); the
connection waits at most 10 s unless the URL says otherwise. The password
in a URL is never printed: errors and ``chain ps`` show :func:`redact`'s form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import final

from . import StoreError
from . import redact
from ._sql import SQLStore

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["PostgresStore"]

#: Seconds to wait for the server when the URL does not say.
_CONNECT_TIMEOUT = 10
#: Key of the advisory lock that keeps two processes from creating the schema at once.
_SCHEMA_LOCK = 0x5C1C1E


def _connect_args(url: str) -> dict[str, Any]:
    return {} if "connect_timeout=" in url else {"connect_timeout": _CONNECT_TIMEOUT}


@final
class PostgresStore(SQLStore):
    """The run store in a PostgreSQL database, named by a ``postgresql://`` URL."""

    LOCK: ClassVar[str] = "FOR UPDATE"

    def __init__(self, url: str) -> None:
        self.url = redact(url)
        try:
            import psycopg  # noqa: PLC0415 - only a PostgreSQL store needs it
        except ImportError:
            msg = f"run store {self.url}: PostgreSQL needs psycopg: pip install 'spincycle-jobs[postgres]'"
            raise StoreError(msg) from None
        try:
            conn = psycopg.connect(url, autocommit=True, **_connect_args(url))
        except psycopg.Error as err:
            msg = f"run store {self.url}: cannot connect: {_without(str(err), url)}"
            raise StoreError(msg) from None
        try:
            self._setup(conn, self.url, psycopg.Error)
        except BaseException:
            conn.close()
            raise

    def _lock_schema(self, tx: Any) -> None:
        tx("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(self._sql(statement), rows)


def _without(message: str, url: str) -> str:
    """Return a driver's message with the URL's password, should it quote it, replaced."""
    password = url.partition("://")[2].partition("@")[0].partition(":")[2]
    return message.replace(password, "***") if password else message
