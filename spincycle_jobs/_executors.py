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

The run store records a run's executor by its entry-point name: the name
it was made by on the command line, else the name of the entry point
whose module defines the executor's class, else the class's name.
"""

from __future__ import annotations

import contextlib
import functools
import weakref
from typing import TYPE_CHECKING
from typing import Final

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._executor import Executor

__all__ = ["GROUP", "installed", "load", "name_of", "named"]

#: The entry-point group of executors.
GROUP: Final = "spincycle_jobs.executors"
#: The entry-point names of this package's executors, by the module of their class (as pyproject.toml says).
_OURS: Final = {"spincycle_jobs._threadexec": "thread", "spincycle_jobs.dask": "dask"}
#: The executors made by name, with the name.
_names: weakref.WeakKeyDictionary[object, str] = weakref.WeakKeyDictionary()


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


def named(executor: Executor, name: str) -> None:
    """Remember that ``executor`` was made by the entry point ``name``, for :func:`name_of`."""
    with contextlib.suppress(TypeError):  # not weakly referable, or not hashable: found by its class instead
        _names[executor] = name


def name_of(executor: Executor) -> str:
    """Return the entry-point name of ``executor``, as the run store records it.

    The name it was made by (:func:`named`), else that of the entry point in
    :data:`GROUP` whose module defines its class, else the class's name.
    """
    try:
        name = _names.get(executor)
    except TypeError:
        name = None
    if name is not None:
        return name
    module = type(executor).__module__
    return _OURS.get(module) or _by_module(module) or type(executor).__qualname__


@functools.cache
def _by_module(module: str) -> str | None:
    """Return the name of the first entry point, by name, whose object is in ``module``."""
    from importlib.metadata import entry_points  # noqa: PLC0415 - only for an executor not ours

    return min((ep.name for ep in entry_points(group=GROUP) if ep.module == module), default=None)
