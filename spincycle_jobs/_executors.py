"""Executors by name: the entry-point group ``spincycle_jobs.executors``.

Each entry point names a callable that makes an
:class:`~spincycle_jobs.Executor` from the options of ``chain run`` and
``chain resume``, all given by keyword::

    make(*, scheduler: str | None, factory: Factory, connect_timeout: float) -> Executor

- ``scheduler``: ``--scheduler``, the address of whatever the executor
  hands tries to, or ``None``;
- ``factory``: the :class:`~spincycle_jobs.Factory` of this process (with
  ``--allow`` and ``--deny``), for an executor that runs jobs here;
- ``connect_timeout``: ``--connect-timeout``, seconds to wait for a
  scheduler.

It raises ``ValueError`` for options it cannot take (the command line shows
the message as bad input). This package registers ``thread`` and ``dask``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._executor import Executor

__all__ = ["GROUP", "installed", "load"]

#: The entry-point group of executors.
GROUP: Final = "spincycle_jobs.executors"


def installed() -> list[str]:
    """Return the names of the installed executors, sorted, ``thread`` first."""
    from importlib.metadata import entry_points  # noqa: PLC0415 - only when executors are asked for

    names = {ep.name for ep in entry_points(group=GROUP)}
    return sorted(names, key=lambda name: (name != "thread", name))


def load(name: str) -> Callable[..., Executor]:
    """Return the maker of the executor called ``name``.

    :raises LookupError: naming the installed executors, for a name none has.
    :raises ImportError: when its module cannot be imported (a missing extra).
    """
    from importlib.metadata import entry_points  # noqa: PLC0415

    for ep in entry_points(group=GROUP, name=name):
        maker: Callable[..., Executor] = ep.load()
        return maker
    msg = f"no executor {name!r} is installed (installed: {', '.join(installed()) or 'none'})"
    raise LookupError(msg)
