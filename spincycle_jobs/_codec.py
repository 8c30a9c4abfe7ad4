"""JSON for attrs fields: dump by the value's own type, load by the annotation.

Supported: ``None``, ``bool``, ``int``, ``float`` (finite), ``str``, enums,
``datetime``/``date``/``time``, attrs classes, ``list``, ``tuple`` (both
``tuple[X, ...]`` and fixed), ``dict`` with ``str``, ``int`` or enum keys,
``Literal``, ``Optional`` and unions (members tried in order), ``Any``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import math
import types
import typing
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import attrs

from ._errors import type_name

__all__ = ["CodecError", "dump", "load", "load_fields", "resolved_fields"]

_NoneType = type(None)
_TIMES = (dt.datetime, dt.date, dt.time)  # datetime first: it is a date too


class CodecError(ValueError):
    """A value that cannot go to or come from JSON, at ``path``."""

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@functools.cache
def resolved_fields(cls: type) -> tuple[attrs.Attribute[Any], ...]:
    """Return the attrs fields of ``cls``, with string annotations resolved to types."""
    attrs.resolve_types(cls)
    fields: tuple[attrs.Attribute[Any], ...] = attrs.fields(cls)
    return fields


def dump(value: Any, path: str) -> Any:  # noqa: PLR0911 - one return per supported kind
    """Turn ``value`` into JSON-safe data.

    :raises CodecError: for a value of a type JSON cannot carry.
    """
    if isinstance(value, enum.Enum):
        return dump(value.value, path)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = f"{value} is not a finite number"
            raise CodecError(path, problem)
        return value
    if isinstance(value, _TIMES):
        return value.isoformat()
    if attrs.has(type(value)):
        return {f.name: dump(getattr(value, f.name), f"{path}.{f.name}") for f in attrs.fields(type(value))}
    if isinstance(value, (list, tuple)):
        return [dump(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_dump_key(k, path): dump(v, f"{path}[{k!r}]") for k, v in value.items()}
    problem = f"cannot serialize a value of type {type_name(type(value))}"
    raise CodecError(path, problem)


def _dump_key(key: Any, path: str) -> str:
    plain = key.value if isinstance(key, enum.Enum) else key
    if isinstance(plain, bool) or not isinstance(plain, (str, int)):
        problem = f"cannot serialize a dict key of type {type_name(type(key))}"
        raise CodecError(path, problem)
    return str(plain)


def _mismatch(path: str, tp: Any, data: Any) -> CodecError:
    return CodecError(path, f"expected {_tp_name(tp)}, got {type_name(type(data))} {data!r:.60}")


def _tp_name(tp: Any) -> str:
    return type_name(tp) if isinstance(tp, type) else str(tp).replace("typing.", "")


def load(data: Any, tp: Any, path: str) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per supported kind
    """Turn JSON data back into a value of type ``tp``.

    :raises CodecError: when ``data`` does not fit ``tp``.
    """
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any or tp is object:
        return data
    if tp is None or tp is _NoneType:
        if data is not None:
            raise _mismatch(path, None, data)
        return None
    if origin is typing.Union or origin is types.UnionType:
        return _load_union(data, tp, args, path)
    if origin is typing.Literal:
        if not any(type(data) is type(a) and data == a for a in args):
            raise _mismatch(path, tp, data)
        return data
    if origin is not None:
        return _load_generic(data, tp, origin, args, path)
    if not isinstance(tp, type):
        problem = f"unsupported annotation {tp!r}"
        raise CodecError(path, problem)
    if issubclass(tp, enum.Enum):
        try:
            return tp(data)
        except ValueError:
            raise _mismatch(path, tp, data) from None
    if tp is float and isinstance(data, int) and not isinstance(data, bool):
        return float(data)
    if tp in (bool, int, float, str):
        if type(data) is not tp:
            raise _mismatch(path, tp, data)
        return data
    if issubclass(tp, _TIMES):
        return _load_time(data, tp, path)
    if attrs.has(tp):
        return _load_attrs(data, tp, path)
    if tp in (list, tuple, dict):
        return _load_generic(data, tp, tp, (), path)
    problem = f"unsupported type {type_name(tp)}"
    raise CodecError(path, problem)


def _load_union(data: Any, tp: Any, args: tuple[Any, ...], path: str) -> Any:
    for member in args:
        try:
            return load(data, member, path)
        except CodecError:
            continue
    raise _mismatch(path, tp, data)


def _load_time(data: Any, tp: type[dt.date | dt.time], path: str) -> Any:
    if not isinstance(data, str):
        raise _mismatch(path, tp, data)
    try:
        value = tp.fromisoformat(data)
    except ValueError:
        raise _mismatch(path, tp, data) from None
    if tp is dt.date and isinstance(value, dt.datetime):
        raise _mismatch(path, tp, data)
    return value


def _load_generic(data: Any, tp: Any, origin: Any, args: tuple[Any, ...], path: str) -> Any:
    if issubclass(origin, Mapping):
        if not isinstance(data, dict):
            raise _mismatch(path, tp, data)
        key_tp, value_tp = args or (str, Any)
        return {_load_key(k, key_tp, path): load(v, value_tp, f"{path}[{k!r}]") for k, v in data.items()}
    if not issubclass(origin, Sequence) or issubclass(origin, str):
        problem = f"unsupported type {_tp_name(tp)}"
        raise CodecError(path, problem)
    if not isinstance(data, list):
        raise _mismatch(path, tp, data)
    if origin is tuple and args and args[-1] is not Ellipsis:
        if len(args) != len(data):
            problem = f"expected {len(args)} items, got {len(data)}"
            raise CodecError(path, problem)
        return tuple(load(v, a, f"{path}[{i}]") for i, (v, a) in enumerate(zip(data, args, strict=True)))
    item_tp = args[0] if args else Any
    items = [load(v, item_tp, f"{path}[{i}]") for i, v in enumerate(data)]
    return tuple(items) if issubclass(origin, tuple) else items


def _load_key(key: str, tp: Any, path: str) -> Any:
    if tp is int:
        try:
            return int(key)
        except ValueError:
            raise _mismatch(path + " key", int, key) from None
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if str(member.value) == key:
                return member
        raise _mismatch(path + " key", tp, key)
    return load(key, tp, f"{path} key")


def _load_attrs(data: Any, tp: type, path: str) -> Any:
    if not isinstance(data, dict):
        raise _mismatch(path, tp, data)
    fields = resolved_fields(tp)
    values = load_fields(data, fields, path)
    obj = tp(**{str(f.alias): values[f.name] for f in fields if f.init})
    for f in fields:
        if not f.init:
            object.__setattr__(obj, f.name, values[f.name])
    return obj


def load_fields(data: dict[str, Any], fields: Sequence[attrs.Attribute[Any]], path: str) -> dict[str, Any]:
    """Load every field of ``fields`` from ``data``, which must hold exactly those.

    :raises CodecError: for a missing, unexpected or mistyped field.
    """
    names = {f.name for f in fields}
    unexpected = sorted(set(data) - names)
    if unexpected:
        raise CodecError(f"{path}.{unexpected[0]}" if path else unexpected[0], "unexpected field")
    values = {}
    for f in fields:
        where = f"{path}.{f.name}" if path else f.name
        if f.name not in data:
            raise CodecError(where, "missing field")
        values[f.name] = load(data[f.name], f.type, where)
    return values
