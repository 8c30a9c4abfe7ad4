"""The ``spincycle-jobs`` command line: ``main`` and the assembly of its command groups.

Each command group is a module of this package with a function
``register(commands: Commands) -> None`` (see :mod:`._common`). Adding a
group is one import and one entry in :data:`GROUPS`::

    from . import _chain
    GROUPS = (_jobs.register, _chain.register)

Exit codes (documented in ``docs/cli.rst``): 0 success; 1 the job did not
complete, or ``doctor`` found problems; 2 bad input; a job's own exit code;
``128 + N`` for a signal N (a stopped run, a job's command a signal ended,
141 for a closed pipe); 70 for a bug in the command line itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from typing import TYPE_CHECKING
from typing import Final

from spincycle_jobs._errors import JobError

from . import _chain
from . import _jobs
from . import _ui
from ._common import EXIT_INTERNAL
from ._common import EXIT_USAGE
from ._common import PROG
from ._common import Commands
from ._common import Parser
from ._common import UsageError
from ._common import add_top_options
from ._common import clean
from ._common import err
from ._common import merge_options

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Sequence

__all__ = ["GROUPS", "main"]

#: The command groups, in the order their commands are listed.
GROUPS: Final[tuple[Callable[[Commands], None], ...]] = (_jobs.register, _chain.register, _ui.register)


def parser() -> Parser:
    """Build the whole command line's parser, with every group registered."""
    top = Parser(prog=PROG, description="List, inspect, create and run Spin Cycle jobs from plugins.")
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    add_top_options(top)
    commands = Commands(top.add_subparsers(dest="command", required=True, parser_class=Parser))
    for register in GROUPS:
        register(commands)
    return top


def _version() -> str:
    from importlib.metadata import version  # noqa: PLC0415 - only --version needs it

    return version("spincycle-jobs")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return its exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in args
    try:
        opts = parser().parse_args(args)
        merge_options(opts)
        code: int = opts.handler(opts)
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:  # Ctrl-C outside a run: the shell's convention
        err("")
        return 128 + signal.SIGINT
    except (UsageError, JobError, OSError) as error:
        _fail(error, debug, "error")
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001 - a bug: one line, the traceback with --debug
        _fail(error, debug, "internal error")
        return EXIT_INTERNAL
    return code


def _fail(error: BaseException, debug: bool, what: str) -> None:  # noqa: FBT001
    if debug:
        import traceback  # noqa: PLC0415 - only --debug needs it

        traceback.print_exception(error)
    text = str(error) if isinstance(error, UsageError | JobError) else f"{type(error).__name__}: {error}"
    hint = "" if debug or what == "error" else " (run with --debug for the traceback)"
    with contextlib.suppress(OSError):  # stderr may be gone too
        err(f"{PROG}: {what}: {clean(text)}{hint}")


def _closed_pipe() -> int:
    """Stop quietly when a reader closed stdout, as Unix tools do; return SIGPIPE's exit code."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the interpreter's last flush must not fail again
    except (OSError, ValueError):
        pass
    return 128 + signal.SIGPIPE
