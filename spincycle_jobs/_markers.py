from __future__ import annotations

from typing import Final

import pluggy

from ._catalog import PROJECT_NAME

__all__ = ["hookimpl", "hookspec"]

#: Marks a function of a plugin as a hook implementation:
#: ``@spincycle_jobs.hookimpl``.
hookimpl: Final = pluggy.HookimplMarker(PROJECT_NAME)

#: Marks a function of :mod:`spincycle_jobs.hookspecs` as a hook specification.
hookspec: Final = pluggy.HookspecMarker(PROJECT_NAME)
