from __future__ import annotations

from typing import Final

import pluggy

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]

#: The pluggy project name, and the entry-point group plugins declare.
PROJECT_NAME: Final = "spincycle_jobs"

#: Marks a function of a plugin as a hook implementation:
#: ``@spincycle_jobs.hookimpl``.
hookimpl: Final = pluggy.HookimplMarker(PROJECT_NAME)

#: Marks a function of :mod:`spincycle_jobs.hookspecs` as a hook specification.
hookspec: Final = pluggy.HookspecMarker(PROJECT_NAME)
