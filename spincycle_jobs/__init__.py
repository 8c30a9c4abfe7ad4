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
    from ._chain import Chain
    from ._chain import ChainBuilder
    from ._chain import ChainError
    from ._chain import ChainJob
    from ._chainrunner import ChainJobStatus
    from ._chainrunner import ChainResult
    from ._chainrunner import ChainRunner
    from ._document import JobRecord
    from ._executor import Executor
    from ._executor import Outcome
    from ._executor import Try
    from ._executor import run_try
    from ._markers import hookimpl
    from ._markers import hookspec
    from ._store import JobInfo
    from ._store import LeaseLostError
    from ._store import LogEntry
    from ._store import Owner
    from ._store import RunBusyError
    from ._store import RunExistsError
    from ._store import RunInfo
    from ._store import RunNotFoundError
    from ._store import SchemaVersionError
    from ._store import Store
    from ._store import StoreError
    from ._store import open_store
    from ._threadexec import ThreadExecutor
    from ._wire import WireError

__all__ = [
    "ArgNotSetError",
    "BaseJob",
    "Chain",
    "ChainBuilder",
    "ChainError",
    "ChainJob",
    "ChainJobStatus",
    "ChainResult",
    "ChainRunner",
    "DataNotSetError",
    "Executor",
    "Factory",
    "Job",
    "JobConstructor",
    "JobError",
    "JobFactory",
    "JobInfo",
    "JobNotFoundError",
    "JobRecord",
    "LeaseLostError",
    "LogEntry",
    "MemoryRepo",
    "Outcome",
    "Owner",
    "PluginError",
    "PluginInfo",
    "Repo",
    "Return",
    "RunBusyError",
    "RunExistsError",
    "RunInfo",
    "RunNotFoundError",
    "RunResult",
    "RunStatus",
    "RunTimeoutError",
    "Runner",
    "SchemaVersionError",
    "State",
    "Store",
    "StoreError",
    "ThreadExecutor",
    "Try",
    "TypeInfo",
    "UnknownJobTypeError",
    "WireError",
    "WrongArgTypeError",
    "WrongDataTypeError",
    "get_arg",
    "get_data",
    "hookimpl",
    "hookspec",
    "open_store",
    "run_try",
]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


#: Names whose modules load on first use: chains need hashlib and json, and the run store sqlite3,
#: which making a job does not.
_LAZY = {
    "Chain": "_chain",
    "ChainBuilder": "_chain",
    "ChainError": "_chain",
    "ChainJob": "_chain",
    "ChainJobStatus": "_chainrunner",
    "ChainResult": "_chainrunner",
    "ChainRunner": "_chainrunner",
    "Executor": "_executor",
    "JobInfo": "_store",
    "JobRecord": "_document",
    "LeaseLostError": "_store",
    "LogEntry": "_store",
    "Outcome": "_executor",
    "Owner": "_store",
    "RunBusyError": "_store",
    "RunExistsError": "_store",
    "RunInfo": "_store",
    "RunNotFoundError": "_store",
    "SchemaVersionError": "_store",
    "Store": "_store",
    "StoreError": "_store",
    "ThreadExecutor": "_threadexec",
    "Try": "_executor",
    "WireError": "_wire",
    "open_store": "_store",
    "run_try": "_executor",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from importlib import import_module  # noqa: PLC0415 - only when a chain name is asked for

        return getattr(import_module(f"{__name__}.{_LAZY[name]}"), name)
    # The markers need pluggy, which a job process that only makes jobs never imports.
    if name in ("hookimpl", "hookspec"):
        from . import _markers  # noqa: PLC0415

        return getattr(_markers, name)
    if name == "__version__":
        from importlib.metadata import version  # noqa: PLC0415 - only when asked

        return version("spincycle-jobs")
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
