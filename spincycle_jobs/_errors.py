"""The job errors: the seed's errors plus the plugin framework's own.

This module is a leaf: it imports nothing from the package.
"""

from __future__ import annotations

import builtins
from typing import Any

__all__ = [
    "ArgNotSetError",
    "DataNotSetError",
    "JobError",
    "JobNotFoundError",
    "PluginError",
    "RunTimeoutError",
    "UnknownJobTypeError",
    "WrongArgTypeError",
    "WrongDataTypeError",
]


def type_name(tp: object) -> str:
    """Name a type the way the messages do.

    A builtin by its bare name (``str``, ``NoneType``), any other class as
    ``module.QualName``, and a tuple of types as ``int | str``.
    """
    if isinstance(tp, tuple):
        return " | ".join(type_name(t) for t in tp)
    if not isinstance(tp, builtins.type):
        return repr(tp)
    if tp.__module__ == "builtins":
        return tp.__qualname__
    return f"{tp.__module__}.{tp.__qualname__}"


def _restore(cls: type[JobError], args: tuple[Any, ...], state: dict[str, Any]) -> JobError:
    err = cls.__new__(cls, *args)
    err.args = args
    err.__dict__.update(state)
    return err


class JobError(Exception):
    """Base class of every error this package raises; one ``except`` catches them all.

    Errors compare equal when they are of the same class and carry the same
    values, and they pickle without calling ``__init__`` again.
    """

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.args, self.__dict__))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, JobError)  # noqa: S101 - narrows for type checkers
        return self.args == other.args and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), self.args))


class UnknownJobTypeError(JobError, LookupError):
    """A factory cannot make the requested job type (the seed's ``ErrUnknownJobType``).

    :param job_type: the type that was asked for.
    :param suggestions: known types close to ``job_type``, best first.
    :param failed_plugins: plugins that failed to load, by name, with why;
        one of them may have been meant to provide the type.
    """

    def __init__(
        self,
        job_type: str,
        *,
        suggestions: tuple[str, ...] = (),
        failed_plugins: tuple[tuple[str, str], ...] = (),
    ) -> None:
        #: The job type that was asked for.
        self.job_type = job_type
        #: Known job types close to :attr:`job_type`, best first.
        self.suggestions = tuple(suggestions)
        #: ``(plugin name, reason)`` for each plugin that failed to load.
        self.failed_plugins = tuple(failed_plugins)
        msg = f"unknown job type {job_type!r}"
        if self.suggestions:
            msg += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        if self.failed_plugins:
            failed = "; ".join(f"{name!r}: {why}" for name, why in self.failed_plugins)
            msg += f" (plugins that failed to load: {failed})"
        super().__init__(msg)


class JobNotFoundError(JobError, LookupError):
    """A repo does not contain the requested job (the seed's ``ErrJobNotFound``).

    :param job_name: the name that was looked up.
    """

    def __init__(self, job_name: str) -> None:
        #: The job name that was looked up.
        self.job_name = job_name
        super().__init__(f"job not found: {job_name!r}")


class RunTimeoutError(JobError, TimeoutError):
    """A job ran out of time (the seed's ``ErrRunTimeout``).

    :param timeout: the limit, in seconds, if known.
    """

    def __init__(self, timeout: float | None = None) -> None:
        #: The limit in seconds, or ``None``.
        self.timeout = timeout
        super().__init__("run timeout" if timeout is None else f"run timeout after {timeout:g} s")


class ArgNotSetError(JobError, LookupError):
    """A required key is not set in the job args (the seed's ``ErrArgNotSet``).

    >>> str(ArgNotSetError("srcHost"))
    'srcHost not set in job args'
    """

    def __init__(self, arg: str) -> None:
        #: The missing key.
        self.arg = arg
        super().__init__(f"{arg} not set in job args")


class DataNotSetError(JobError, LookupError):
    """A required key is not set in the job data (the seed's ``ErrDataNotSet``).

    >>> str(DataNotSetError("cluster"))
    'cluster not set in job data'
    """

    def __init__(self, key: str) -> None:
        #: The missing key.
        self.key = key
        super().__init__(f"{key} not set in job data")


class _WrongTypeError(JobError, TypeError):
    """A value under ``key`` is not of the expected type."""

    _where = ""

    def __init__(self, key: str, got: object, expect: object) -> None:
        is_types = isinstance(expect, builtins.type) or (
            isinstance(expect, tuple)
            and len(expect) > 0
            and all(isinstance(t, builtins.type) for t in expect)
        )
        #: The key whose value is wrong.
        self.key = key
        #: The type of the value found.
        self.got_type: builtins.type[Any] = builtins.type(got)
        #: The expected type, or tuple of types.
        self.expect_type: builtins.type[Any] | tuple[builtins.type[Any], ...] = (
            expect if is_types else builtins.type(expect)  # type: ignore[assignment]
        )
        got_name, expect_name = type_name(self.got_type), type_name(self.expect_type)
        super().__init__(f"{key} in {self._where} is type {got_name}, expected type {expect_name}")


class WrongArgTypeError(_WrongTypeError):
    """A job args value is not of the expected type (the seed's ``ErrWrongArgType``).

    :param key: the key whose value is wrong.
    :param got: the value found; its type is what the message names.
    :param expect: the expected type, a tuple of types, or an example value
        whose type is taken.

    >>> str(WrongArgTypeError("sliceOfStrings", 5, list))
    'sliceOfStrings in job args is type int, expected type list'
    """

    _where = "job args"


class WrongDataTypeError(_WrongTypeError):
    """A job data value is not of the expected type (the seed's ``ErrWrongDataType``).

    :param key: the key whose value is wrong.
    :param got: the value found; its type is what the message names.
    :param expect: the expected type, a tuple of types, or an example value
        whose type is taken.

    >>> str(WrongDataTypeError("cluster", None, dict))
    'cluster in job data is type NoneType, expected type dict'
    """

    _where = "job data"


class PluginError(JobError):
    """A plugin failed: it did not load, or could not make a job it offers.

    :param message: what went wrong.
    :param plugin: the name of the plugin at fault (for a conflict, each
        plugin involved, joined by ``", "``).
    """

    def __init__(self, message: str, *, plugin: str) -> None:
        #: The plugin at fault.
        self.plugin = plugin
        super().__init__(message)
