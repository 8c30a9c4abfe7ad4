"""Spin Cycle's job contract in Python, and a plugin framework to bring your own jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from ._args import get_arg
from ._args import get_data
from ._basejob import BaseJob
from ._errors import ArgNotSetError
from ._errors import DataNotSetError
from ._errors import JobError
from ._errors import JobNotFoundError
from ._errors import PluginError
from ._errors import RunTimeoutError
from ._errors import UnknownJobTypeError
from ._errors import WrongArgTypeError
from ._errors import WrongDataTypeError
from ._factory import Factory
from ._factory import PluginInfo
from ._factory import TypeInfo
from ._job import Job
from ._job import JobConstructor
from ._job import JobFactory
from ._repo import MemoryRepo
from ._repo import Repo
from ._return import Return
from ._runner import Runner
from ._runner import RunResult
from ._runner import RunStatus
from ._state import State

if TYPE_CHECKING:
    from ._markers import hookimpl
    from ._markers import hookspec

__all__ = [
    "ArgNotSetError",
    "BaseJob",
    "DataNotSetError",
    "Factory",
    "Job",
    "JobConstructor",
    "JobError",
    "JobFactory",
    "JobNotFoundError",
    "MemoryRepo",
    "PluginError",
    "PluginInfo",
    "Repo",
    "Return",
    "RunResult",
    "RunStatus",
    "RunTimeoutError",
    "Runner",
    "State",
    "TypeInfo",
    "UnknownJobTypeError",
    "WrongArgTypeError",
    "WrongDataTypeError",
    "get_arg",
    "get_data",
    "hookimpl",
    "hookspec",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def __getattr__(name: str) -> Any:
    # The markers need pluggy, which a job process that only makes jobs never imports.
    if name in ("hookimpl", "hookspec"):
        from . import _markers  # noqa: PLC0415

        return getattr(_markers, name)
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        return version("spincycle-jobs")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
