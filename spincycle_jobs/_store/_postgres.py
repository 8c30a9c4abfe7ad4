"""The run store in PostgreSQL: many hosts share one store (extra ``spincycle-jobs[postgres]``).

A ``postgresql://`` URL is handed to psycopg as it is, so every libpq
parameter works (``?sslmode=require``, ``?connect_timeout=3``); the
connection waits at most 10 s unless the URL says otherwise. The password
in a URL is never printed: errors and ``chain ps`` show :func:`redact`'s form.

When the server goes away (it restarts, a failover, an administrator ends
the connection), the store finds its connection lost at the start of its
next transaction, and connects again, once, before that transaction: a
connection lost while idle costs nothing. A transaction the loss cuts
off is never retried (its ``COMMIT`` may have been applied): it raises
:class:`StoreError`, and the next transaction connects again. When the
new connection fails too, that transaction raises :class:`StoreError`
("cannot connect").

For a chain run, a :class:`StoreError` stops the run: no further job
starts, the running jobs are stopped, and ``ChainRunner.run()`` raises
it. What the store holds stays true: a job is ``COMPLETE`` in it only
once its end was committed, and a try whose end could not be recorded
stays ``RUNNING`` there. The run itself stays ``RUNNING`` until it shows
as lost (once the driving process has ended, seen from its host; else
once its heartbeat is ``LOST_AFTER``, 10 s, old), and ``chain resume``
runs it on: the cut-off tries end as ``FAIL`` and their jobs run again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar
from typing import final
from urllib.parse import unquote

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
        self._dsn = url
        try:
            import psycopg  # noqa: PLC0415 - only a PostgreSQL store needs it
        except ImportError:
            msg = f"run store {self.url}: PostgreSQL needs psycopg: pip install 'spincycle-jobs[postgres]'"
            raise StoreError(msg) from None
        conn = self._reconnect()
        try:
            self._setup(conn, self.url, psycopg.Error)
        except BaseException:
            conn.close()
            raise

    def _reconnect(self) -> Any:
        import psycopg  # noqa: PLC0415 - imported by __init__ already

        try:
            return psycopg.connect(self._dsn, autocommit=True, **_connect_args(self._dsn))
        except psycopg.Error as err:
            msg = f"run store {self.url}: cannot connect: {_without(str(err), self._dsn)}"
            raise StoreError(msg) from None

    def _broken(self, conn: Any) -> bool:
        return bool(conn.broken or conn.closed)

    def _lock_schema(self, tx: Any) -> None:
        tx("SELECT pg_advisory_xact_lock(?)", (_SCHEMA_LOCK,))

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def _executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(self._sql(statement), rows)


def _without(message: str, url: str) -> str:
    """Return a driver's message on one line, with the URL's passwords, should it quote them, replaced."""
    rest, _, query = url.partition("://")[2].partition("?")
    userinfo, at, _ = rest.partition("/")[0].rpartition("@")
    passwords = [userinfo.partition(":")[2]] if at else []
    for param in query.split("&"):
        key, _, value = param.partition("=")
        if key.lower() == "password":
            passwords.append(value)
    for password in sorted(filter(None, passwords), key=len, reverse=True):
        message = message.replace(password, "***").replace(unquote(password), "***")
    return " ".join(message.split())
