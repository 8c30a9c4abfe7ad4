"""A real PostgreSQL server for the tests: started once per session on 127.0.0.1, a database per test.

The server runs from a fresh ``initdb`` in a temporary folder, listens on
127.0.0.1 only, on a free port, with its unix socket in that folder, and
stops when the session ends. Tests connect as :data:`ROLE`, a role with a
password, so that their URLs carry one; the fixture itself connects as the
cluster's superuser through the unix socket. PostgreSQL refuses to run as
root: as root, ``initdb`` and ``postgres`` run as the ``postgres`` user.

When no PostgreSQL server is installed, the tests that ask for one fail,
saying so: CI installs it (``.ci/run``).
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import final

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    import psycopg

__all__ = ["PASSWORD", "ROLE", "PostgresServer", "postgres_server"]

#: The role the tests connect as, with :data:`PASSWORD`: it owns each test's database.
ROLE: Final = "runs"
#: Its password: no error message or printed URL may show it.
PASSWORD: Final = "Pw-4f1c9e-never-printed"  # noqa: S105 - the role of a server the tests start
#: The cluster's superuser, reached through the unix socket without a password.
ADMIN: Final = "admin"
#: Seconds to wait for the server to start or stop: longer means it is broken.
WAIT: Final = 60.0


def find_bindir() -> Path:
    """Return the folder of PostgreSQL's ``initdb`` and ``postgres``; fail the test when there is none."""
    candidates = []
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        candidates.append(Path(out.strip()))
    versions = glob.glob("/usr/lib/postgresql/*/bin")  # noqa: PTH207
    candidates += sorted((Path(p) for p in versions), key=lambda p: int(p.parent.name), reverse=True)
    which = shutil.which("initdb")
    if which:
        candidates.append(Path(which).resolve().parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "postgres").is_file():
            return bindir
    pytest.fail(
        "these tests need a PostgreSQL server, and none is installed: no initdb and postgres in "
        "'pg_config --bindir', /usr/lib/postgresql/*/bin or on PATH. Install it (Debian: "
        "apt-get install postgresql), as .ci/run does."
    )


def _free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@final
class PostgresServer:
    """A PostgreSQL server of the tests' own; see the module's documentation.

    :param bindir: the folder of ``initdb`` and ``postgres``.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self._as: dict[str, Any] = {}
        if os.geteuid() == 0:  # PostgreSQL refuses root
            try:
                user = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail(
                    "running as root, these tests run PostgreSQL as the 'postgres' user: there is none"
                )
            self._as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        #: The temporary folder: the data folder, the unix socket and the server's log.
        self.root = Path(tempfile.mkdtemp(prefix="spincycle-pg-"))
        if self._as:
            os.chown(self.root, self._as["user"], self._as["group"])
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        #: The port it listens on, on 127.0.0.1.
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._names = itertools.count(1)
        self._initdb()

    def _run(self, *args: str) -> None:
        env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
        proc = subprocess.run(args, capture_output=True, text=True, check=False, env=env, **self._as)
        if proc.returncode:
            pytest.fail(f"{' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")

    def _initdb(self) -> None:
        pwfile = self.root / "admin-password"
        pwfile.write_text(os.urandom(16).hex() + "\n")  # over TCP only; the fixture uses the socket
        if self._as:
            os.chown(pwfile, self._as["user"], self._as["group"])
        self._run(
            str(self.bindir / "initdb"),
            f"--pgdata={self.data}",
            f"--username={ADMIN}",
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> None:
        """Start the server and wait until it accepts connections.

        It listens on the port it listened on before, if any, else on a free
        one; a port taken meanwhile is replaced by another.
        """
        ports = [self.port] if self.port else []
        for port in ports + [_free_port() for _ in range(5)]:
            self.port = port
            if self._start_on_port():
                return
        pytest.fail(f"PostgreSQL did not start; its log:\n{self.log.read_text(errors='replace')}")

    def _start_on_port(self) -> bool:
        """Start on :attr:`port`; return whether it runs, False when it exited at once (the port taken)."""
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [
                    str(self.bindir / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    f"unix_socket_directories={self.root}",
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=100",
                ],
                stdout=log,
                stderr=log,
                env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
                **self._as,
            )
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                self.admin().close()
            except Exception:  # noqa: BLE001 - not ready yet
                time.sleep(0.05)
            else:
                return True
        self.stop()
        pytest.fail(
            f"PostgreSQL did not accept connections within {WAIT} s; its log:\n{self.log.read_text()}"
        )

    def stop(self) -> None:
        """Stop the server (a fast shutdown: its connections are ended); harmless when it is stopped."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def close(self) -> None:
        """Stop the server and remove its folder."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, database: str = "postgres") -> psycopg.Connection[Any]:
        """Connect as the superuser through the unix socket, in autocommit mode."""
        import psycopg  # noqa: PLC0415 - only the tests that start a server need it

        return psycopg.connect(
            host=str(self.root),
            port=self.port,
            user=ADMIN,
            dbname=database,
            autocommit=True,
            connect_timeout=5,
        )

    def url(self, database: str, *, password: str = PASSWORD, port: int | None = None) -> str:
        """Return the URL of ``database`` for :data:`ROLE` over TCP, password included."""
        return f"postgresql://{ROLE}:{password}@127.0.0.1:{port or self.port}/{database}"

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """Create a fresh database owned by :data:`ROLE`; yield its URL; drop it, ending its connections."""
        name = f"test_{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {ROLE} STRATEGY FILE_COPY")
        try:
            yield self.url(name)
        finally:
            if self._proc is not None:
                with self.admin() as conn:
                    conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def terminate(self, database: str) -> int:
        """End every connection to ``database`` (``pg_terminate_backend``); return how many."""
        with self.admin() as conn:
            row = conn.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
        return int(row[0]) if row else 0


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL server for the session, with the role :data:`ROLE`; stopped and removed at the end."""
    server = PostgresServer(find_bindir())
    try:
        server.start()
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        server.close()
