from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import TypeVar
from typing import overload

from ._errors import ArgNotSetError
from ._errors import DataNotSetError
from ._errors import WrongArgTypeError
from ._errors import WrongDataTypeError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["get_arg", "get_data"]

T = TypeVar("T")
D = TypeVar("D")
_MISSING: Any = object()


def _get(
    values: Mapping[str, Any],
    key: str,
    expect_type: type | tuple[type, ...],
    default: Any,
    not_set: type[ArgNotSetError | DataNotSetError],
    wrong_type: type[WrongArgTypeError | WrongDataTypeError],
) -> Any:
    try:
        value = values[key]
    except KeyError:
        if default is _MISSING:
            raise not_set(key) from None
        return default
    types = expect_type if isinstance(expect_type, tuple) else (expect_type,)
    if isinstance(value, bool) and bool not in types and object not in types:
        raise wrong_type(key, value, expect_type)
    if isinstance(value, types):
        return value
    if float in types and isinstance(value, int):
        return float(value)
    raise wrong_type(key, value, expect_type)


@overload
def get_arg(job_args: Mapping[str, Any], key: str, expect_type: type[T]) -> T: ...
@overload
def get_arg(job_args: Mapping[str, Any], key: str, expect_type: type[T], default: D) -> T | D: ...
@overload
def get_arg(job_args: Mapping[str, Any], key: str, expect_type: tuple[type, ...]) -> Any: ...
@overload
def get_arg(job_args: Mapping[str, Any], key: str, expect_type: tuple[type, ...], default: Any) -> Any: ...
def get_arg(
    job_args: Mapping[str, Any], key: str, expect_type: type | tuple[type, ...], default: Any = _MISSING
) -> Any:
    """Return ``job_args[key]``, checked to be of ``expect_type``.

    ``expect_type`` may be a tuple of types. With ``float``, an ``int`` is
    accepted and returned as a ``float`` (JSON does not keep the
    difference); a ``bool`` is never accepted for an ``int`` or a ``float``.

    >>> get_arg({"duration": 5}, "duration", float)
    5.0

    :param default: returned when ``key`` is missing; without it a missing
        key raises.
    :raises ArgNotSetError: when ``key`` is missing and there is no default.
    :raises WrongArgTypeError: when the value is of another type.
    """
    return _get(job_args, key, expect_type, default, ArgNotSetError, WrongArgTypeError)


@overload
def get_data(job_data: Mapping[str, Any], key: str, expect_type: type[T]) -> T: ...
@overload
def get_data(job_data: Mapping[str, Any], key: str, expect_type: type[T], default: D) -> T | D: ...
@overload
def get_data(job_data: Mapping[str, Any], key: str, expect_type: tuple[type, ...]) -> Any: ...
@overload
def get_data(job_data: Mapping[str, Any], key: str, expect_type: tuple[type, ...], default: Any) -> Any: ...
def get_data(
    job_data: Mapping[str, Any], key: str, expect_type: type | tuple[type, ...], default: Any = _MISSING
) -> Any:
    """Return ``job_data[key]``, checked to be of ``expect_type``; see :func:`get_arg`.

    :param default: returned when ``key`` is missing; without it a missing
        key raises.
    :raises DataNotSetError: when ``key`` is missing and there is no default.
    :raises WrongDataTypeError: when the value is of another type.
    """
    return _get(job_data, key, expect_type, default, DataNotSetError, WrongDataTypeError)
