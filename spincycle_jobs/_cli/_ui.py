"""``spincycle-jobs ui``: the run store on a web page, read-only (SPEC section 7).

The page itself is :mod:`spincycle_jobs._ui`, which needs the extra
``spincycle-jobs[ui]`` (Starlette and uvicorn); without it the command
exits 2 and says what to install.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from ._common import EXIT_OK
from ._common import UsageError
from ._common import out
from ._ops import add_store
from ._ops import open_store
from ._signals import signal_exit

if TYPE_CHECKING:
    import argparse

    from ._common import Commands

__all__ = ["DEFAULT_BIND", "register"]

#: Where the page is served when ``--bind`` is not given.
DEFAULT_BIND = "127.0.0.1:8470"

_DESCRIPTION = """\
Serves the runs (filtered by state), each run's chain drawn as its graph,
live while it runs, each job's tries with their output, and what runs now,
as 'chain ps' shows it. It only reads the store.

It serves 127.0.0.1:8470 unless --bind names another address; port 0 takes
any free one. Off loopback, every request must carry a token: the one in
SPINCYCLE_JOBS_UI_TOKEN, else one made and printed at start. Open the
address with ?token=TOKEN once; the browser keeps it in a cookie.
Ctrl-C (or SIGTERM) stops it. Needs: pip install 'spincycle-jobs[ui]'"""


def register(commands: Commands) -> None:
    """Add ``ui``."""
    parser = commands.add(
        "ui", _ui, "Serve the run store on a web page, read-only.", description=_DESCRIPTION
    )
    add_store(parser)
    parser.add_argument(
        "--bind",
        metavar="HOST:PORT",
        default=DEFAULT_BIND,
        help=f"where to serve (default: {DEFAULT_BIND}; another host than loopback needs a token)",
    )


def _say(line: str) -> None:
    out(line)
    sys.stdout.flush()


def _ui(opts: argparse.Namespace) -> int:
    try:
        from spincycle_jobs._ui import parse_bind  # noqa: PLC0415 - only this command needs the extra
        from spincycle_jobs._ui import serve  # noqa: PLC0415
    except ImportError as error:
        msg = f"the web page needs Starlette and uvicorn ({error}): pip install 'spincycle-jobs[ui]'"
        raise UsageError(msg) from None
    try:
        bind = parse_bind(opts.bind)
    except ValueError as error:
        raise UsageError(str(error)) from None
    with open_store(opts) as store:
        try:
            signum = serve(store, bind, say=_say)
        except ValueError as error:
            raise UsageError(str(error)) from None
    return EXIT_OK if signum is None else signal_exit(signum)
