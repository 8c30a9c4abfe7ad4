"""Serving the application with uvicorn: the address, the token, and a clean stop on a signal.

:func:`parse_bind` reads ``--bind HOST:PORT``; :func:`serve` binds the
socket itself (so that port 0 works and the address is known before the
first request), says where it serves, and serves until SIGINT, SIGTERM or
SIGHUP, whose number it returns.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
from typing import TYPE_CHECKING
from typing import Final

import attrs
import uvicorn

from ._app import is_loopback
from ._app import make_app

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from types import FrameType

    from spincycle_jobs._store import Store

__all__ = ["MIN_TOKEN", "TOKEN_ENV", "Bind", "parse_bind", "serve", "token_for"]

#: The environment variable that gives the token.
TOKEN_ENV: Final = "SPINCYCLE_JOBS_UI_TOKEN"  # noqa: S105 - its name, not a token
#: The fewest characters a token from the environment may have.
MIN_TOKEN: Final = 16
#: The signals that stop the server.
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: Seconds the server waits for open connections when it stops.
_GRACE: Final = 2


@attrs.frozen
class Bind:
    """An address to serve on."""

    #: A host name or an IP address (an IPv6 one without its brackets).
    host: str
    #: The port; 0 for any free one.
    port: int


def parse_bind(text: str) -> Bind:
    """Parse ``HOST:PORT`` (``[::1]:PORT`` for IPv6); the port from 0 (any free one) to 65535.

    :raises ValueError: saying what was expected.
    """
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        colon, port = rest[:1], rest[1:]
        ok = bool(bracket) and colon == ":"
    else:
        host, colon, port = text.rpartition(":")
        ok = bool(colon) and ":" not in host
    if not ok or not host or not port.isdigit() or int(port) > 65535:  # noqa: PLR2004 - the last port
        msg = f"invalid address {text!r}: expected HOST:PORT, such as 127.0.0.1:8470 or [::1]:8470"
        raise ValueError(msg)
    return Bind(host, int(port))


def token_for(bind: Bind) -> tuple[str | None, bool]:
    """Return the token that requests must carry, and whether it was made here (and so must be shown).

    A token is needed off loopback; ``SPINCYCLE_JOBS_UI_TOKEN`` gives it (on
    loopback too), else one is made.

    :raises ValueError: for a token in the environment shorter than :data:`MIN_TOKEN`.
    """
    given = os.environ.get(TOKEN_ENV)
    if given is not None:
        if len(given) < MIN_TOKEN:
            msg = f"{TOKEN_ENV} must hold at least {MIN_TOKEN} characters, it holds {len(given)}"
            raise ValueError(msg)
        return given, False
    if is_loopback(bind.host):
        return None, False
    return secrets.token_urlsafe(24), True


def _listen(bind: Bind) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        bind.host, bind.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def address(sock: socket.socket) -> str:
    """Return the URL a listening socket serves at."""
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


class _Server(uvicorn.Server):
    """A uvicorn server that records the first stopping signal, for the exit code, and never re-raises it."""

    signum: int | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def stop(signum: int, _frame: FrameType | None) -> None:
            if self.signum is None:
                self.signum = signum
            else:  # a second one: stop waiting for open connections
                self.force_exit = True
            self.should_exit = True

        before = {}
        for signum in _SIGNALS:
            if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's stays ignored
                before[signum] = signal.signal(signum, stop)
        try:
            yield
        finally:
            for signum, handler in before.items():
                signal.signal(signum, handler)


def serve(store: Store, bind: Bind, *, say: Callable[[str], None]) -> int | None:
    """Serve ``store`` read-only at ``bind`` until a signal stops it; return that signal's number.

    :param say: prints a line for the user: where it serves, and a token made here.
    :raises OSError: when the address cannot be bound.
    :raises ValueError: for a bad token in the environment.
    """
    token, made = token_for(bind)
    loopback = is_loopback(bind.host)
    app = make_app(store, token=token, check_host=loopback)
    sock = _listen(bind)
    try:
        where = address(sock)
        say(f"serving the run store at {where}")
        if made:
            say(f"token: {token} (open {where}?token={token} once: the browser keeps it in a cookie)")
        elif token is not None:
            say(f"token: the one in {TOKEN_ENV} (open {where}?token=TOKEN once)")
        say(f"store: {store.url}; read-only; Ctrl-C stops")
        config = uvicorn.Config(
            app,
            lifespan="off",
            log_config=None,
            log_level="warning",
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=_GRACE,
        )
        server = _Server(config)
        server.run(sockets=[sock])
        return server.signum
    finally:
        sock.close()
