"""JSON for attrs fields: dump by the value's own type, load by the annotation.

Supported: ``None``, ``bool``, ``int``, ``float`` (finite), ``str``, enums,
``datetime``/``date``/``time``, attrs classes, ``list``, ``tuple`` (both
``tuple[X, ...]`` and fixed), ``dict`` with ``str``, ``int`` or enum keys,
``Literal``, ``Optional`` and unions (members tried in order), ``Any``.

An aware ``datetime`` is written with its UTC offset at that instant and
comes back with that fixed offset: the same instant, but the zone's name
(``America/Buenos_Aires``) and ``fold`` are not kept. A ``str`` must be
UTF-8 text: one holding a lone surrogate (what Python makes of non-UTF-8
bytes on the command line) is refused.
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


def dump(value: Any, path: str) -> Any:  # noqa: C901, PLR0911 - one return per supported kind
    """Turn ``value`` into JSON-safe data.

    :raises CodecError: for a value of a type JSON cannot carry.
    """
    if isinstance(value, enum.Enum):
        return dump(value.value, path)
    if isinstance(value, str):
        return _dump_str(value, path)
    if value is None or isinstance(value, (bool, int)):
        if not isinstance(value, bool) and isinstance(value, int) and value.bit_length() > _MAX_INT_BITS:
            _check_int_digits(value, path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            problem = f"{value} is not a finite number"
            raise CodecError(path, problem)
        return value
    if isinstance(value, _TIMES):
        return _dump_time(value, path)
    if attrs.has(type(value)):
        return {f.name: dump(getattr(value, f.name), f"{path}.{f.name}") for f in attrs.fields(type(value))}
    if isinstance(value, (list, tuple)):
        return [dump(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {_dump_key(k, path): dump(v, f"{path}[{k!r}]") for k, v in value.items()}
        if len(out) != len(value):
            problem = "two dict keys are written as the same JSON key"
            raise CodecError(path, problem)
        return out
    problem = f"cannot serialize a value of type {type_name(type(value))}"
    raise CodecError(path, problem)


#: Ints longer than this may exceed the interpreter's limit on digits in a str.
_MAX_INT_BITS = 10_000


def _check_int_digits(value: int, path: str) -> None:
    try:
        str(value)
    except ValueError as err:
        raise CodecError(path, str(err)) from None


def _dump_str(value: str, path: str) -> str:
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            problem = (
                f"{value!r:.60} is not UTF-8 text: it holds the lone surrogate {value[err.start]!r} "
                f"at index {err.start}, as Python reads non-UTF-8 bytes"
            )
            raise CodecError(path, problem) from None
    return value


def _dump_time(value: dt.date | dt.time, path: str) -> str:
    if isinstance(value, (dt.datetime, dt.time)) and value.tzinfo is not None and value.utcoffset() is None:
        problem = f"{value!r:.80} has a time zone that gives no UTC offset, so it would come back naive"
        raise CodecError(path, problem)
    return value.isoformat()


def _dump_key(key: Any, path: str) -> str:
    plain = key.value if isinstance(key, enum.Enum) else key
    if isinstance(plain, bool) or not isinstance(plain, (str, int)):
        problem = f"cannot serialize a dict key of type {type_name(type(key))}"
        raise CodecError(path, problem)
    if isinstance(plain, str):
        return _dump_str(plain, f"{path} key")
    return str(dump(plain, f"{path} key"))


def _mismatch(path: str, tp: Any, data: Any) -> CodecError:
    return CodecError(path, f"expected {_tp_name(tp)}, got {type_name(type(data))} {data!r:.60}")


def _tp_name(tp: Any) -> str:
    return type_name(tp) if isinstance(tp, type) else str(tp).replace("typing.", "")


def load(data: Any, tp: Any, path: str) -> Any:  # noqa: C901, PLR0911, PLR0912 - one branch per supported kind
    """Turn JSON data back into a value of type ``tp``.

    :raises CodecError: when ``data`` does not fit ``tp``.
    """
    if tp is str or tp is int or tp is bool:  # the common case first
        if type(data) is not tp:
            raise _mismatch(path, tp, data)
        return data
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
    if tp is float:
        return _load_float(data, path)
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


def _load_float(data: Any, path: str) -> float:
    if type(data) is int:
        try:
            return float(data)
        except OverflowError:
            problem = f"the int {data!r:.40}... is out of range for a float"
            raise CodecError(path, problem) from None
    if type(data) is not float:
        raise _mismatch(path, float, data)
    if not math.isfinite(data):
        problem = f"{data} is not a finite number"
        raise CodecError(path, problem)
    return data


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
        out = {_load_key(k, key_tp, path): load(v, value_tp, f"{path}[{k!r}]") for k, v in data.items()}
        if len(out) != len(data):
            problem = f"two JSON keys read as the same {_tp_name(key_tp)} key"
            raise CodecError(path, problem)
        return out
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
        # int() also reads non-ASCII digits, " 1", "+1", "01" and "1_0": accept only what dump writes.
        plain = key.isascii() and key.lstrip("-").isdigit() and len(key) <= _MAX_KEY_DIGITS
        value = int(key) if plain else None
        if value is None or str(value) != key:
            problem = f"expected an int key written in ASCII digits, got {key!r:.60}"
            raise CodecError(path + " key", problem)
        return value
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        for member in tp:
            if str(member.value) == key:
                return member
        raise _mismatch(path + " key", tp, key)
    return load(key, tp, f"{path} key")


#: The longest int key read: the interpreter's default limit on digits in a str.
_MAX_KEY_DIGITS = 4300


def _load_attrs(data: Any, tp: type, path: str) -> Any:
    if not isinstance(data, dict):
        raise _mismatch(path, tp, data)
    fields = resolved_fields(tp)
    values = load_fields(data, fields, path)
    try:
        obj = tp(**{str(f.alias): values[f.name] for f in fields if f.init and f.name in values})
    except Exception as err:  # noqa: BLE001 - a validator or converter may raise anything
        raise CodecError(path, f"refused by {type_name(tp)}: {type(err).__name__}: {err}") from None
    for f in fields:
        if not f.init and f.name in values:
            object.__setattr__(obj, f.name, values[f.name])
    return obj


def load_fields(data: dict[str, Any], fields: Sequence[attrs.Attribute[Any]], path: str) -> dict[str, Any]:
    """Load the fields of ``fields`` that ``data`` holds; a field it lacks must have a default.

    :returns: the loaded values by field name, without the missing fields
        (the class's defaults stand for them).
    :raises CodecError: for a missing field without a default, an unknown
        field, or a mistyped one.
    """
    names = {f.name for f in fields}
    unknown = sorted(set(data) - names)
    if unknown:
        raise CodecError(f"{path}.{unknown[0]}" if path else unknown[0], "unknown field")
    values = {}
    for f in fields:
        where = f"{path}.{f.name}" if path else f.name
        if f.name in data:
            values[f.name] = load(data[f.name], f.type, where)
        elif f.default is attrs.NOTHING:
            raise CodecError(where, "missing field, which has no default")
    return values
