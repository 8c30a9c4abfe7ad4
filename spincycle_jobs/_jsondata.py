"""JSON data, defined once: what job args, job data, documents and command-line values may hold.

JSON data is ``None``, ``bool``, ``int``, a finite ``float``, a ``str`` that
is UTF-8 text (no lone surrogate, which is what Python makes of bytes that
are not UTF-8), a ``list`` of JSON data, or a ``dict`` of JSON data with
``str`` keys. :func:`loads` reads text strictly to it (no ``NaN``,
``Infinity`` or out-of-range numbers), at most ``max_depth`` deep when
asked (what the command line reads: :data:`MAX_DEPTH`); :func:`copy_data`
checks a value and returns a deep copy that shares nothing with it, and
:func:`problem` says what in a value is not JSON data. Every other module
reads, copies and checks JSON data through these.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any
from typing import Final

__all__ = ["MAX_DEPTH", "JSONDataError", "copy_data", "deeper", "has_surrogate", "loads", "problem"]

#: The deepest nesting of lists and dicts the command line accepts.
MAX_DEPTH: Final = 100


class JSONDataError(ValueError):
    """A value or a text that is not JSON data; the message says what is wrong and where."""


def has_surrogate(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate, which UTF-8 cannot encode."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _refuse_constant(name: str) -> None:
    msg = f"{name} is not a JSON value"
    raise JSONDataError(msg)


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        msg = f"the number {text:.40} is out of range for a float"
        raise JSONDataError(msg)
    return value


def loads(data: bytes | str, *, max_depth: int | None = None) -> Any:
    """Read JSON text strictly to JSON data.

    :param max_depth: refuse lists and dicts nested deeper than this.
    :raises JSONDataError: for text that is not JSON, or that holds ``NaN``,
        ``Infinity``, a number out of range, a lone surrogate, or lists and
        dicts nested too deeply.
    :raises TypeError: for ``data`` that is neither ``bytes`` nor ``str``.
    """
    try:
        value = json.loads(data, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        limit = "the interpreter allows" if max_depth is None else f"{max_depth}"
        msg = f"it nests lists and dicts more deeply than {limit}"
        raise JSONDataError(msg) from None
    except JSONDataError:
        raise
    except ValueError as err:  # json.JSONDecodeError, or a UnicodeDecodeError of bytes
        raise JSONDataError(str(err)) from None
    if max_depth is not None and deeper(value, max_depth):
        msg = f"it nests lists and dicts more deeply than {max_depth}"
        raise JSONDataError(msg)
    if _may_hold_surrogates(data):
        where = _surrogate_at(value, "")
        if where is not None:
            msg = f"the str at {where or 'the top'} holds a lone surrogate: it is not UTF-8 text"
            raise JSONDataError(msg)
    return value


def copy_data(value: Any) -> Any:
    """Return a deep copy of JSON data ``value`` (or of a read-only mapping of it), sharing no object with it.

    :raises JSONDataError: naming what in ``value`` is not JSON data, and where.
    """
    if isinstance(value, Mapping) and not isinstance(value, dict):
        value = dict(value)  # a read-only view, such as a recorded chain job's job data
    if value == {}:  # nothing to copy: spare the codec
        return {}
    try:
        text = json.dumps(value, allow_nan=False, ensure_ascii=False)
    except RecursionError:
        msg = "it nests lists and dicts more deeply than the interpreter allows"
        raise JSONDataError(msg) from None
    except (TypeError, ValueError):
        raise JSONDataError(problem(value) or "it is not JSON data") from None
    if not text.isascii() and has_surrogate(text):
        where = _surrogate_at(value, "")
        msg = f"the str at {where or 'the top'} holds a lone surrogate, which is not UTF-8 text"
        raise JSONDataError(msg)
    if not _str_keys(value):
        raise JSONDataError(problem(value) or "a dict key is not a str")
    return json.loads(text)


def problem(value: Any, path: str = "") -> str | None:
    """Return what makes ``value`` not JSON data, and where (``['key'][0]``), or ``None`` when it is."""
    here = path or "the top"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{here}: {value} is not a finite number"
    if value is None or isinstance(value, bool | int | float | str):
        return None
    if not isinstance(value, list | dict):
        return f"{here}: a {type(value).__name__} is not JSON data"
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if isinstance(value, dict) and not isinstance(key, str):
            return f"{here}: the key {key!r} is a {type(key).__name__}, not a str"
        found = problem(item, f"{path}[{key!r}]")
        if found:
            return found
    return None


def deeper(value: Any, limit: int) -> bool:
    """Whether ``value`` nests lists and dicts more than ``limit`` deep."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((x, depth + 1) for x in (item.values() if isinstance(item, dict) else item))
    return False


def _str_keys(value: Any) -> bool:
    """Whether every dict in ``value`` has ``str`` keys (json.dumps writes others as strings, silently)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if not all(isinstance(key, str) for key in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def _may_hold_surrogates(data: bytes | str) -> bool:
    """Whether JSON text ``data`` may hold a lone surrogate, raw or escaped (a quick test)."""
    if isinstance(data, str):
        if not data.isascii() and has_surrogate(data):
            return True
        return "\\ud" in data or "\\uD" in data
    return b"\\ud" in data or b"\\uD" in data


def _surrogate_at(value: Any, path: str) -> str | None:
    """Return where in ``value`` a str holds a lone surrogate (``['key'][0]``, ``""`` the top), or None."""
    if isinstance(value, str):
        return path if not value.isascii() and has_surrogate(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}[{key!r}]"
        if isinstance(key, str) and has_surrogate(key):
            return f"{where} key"
        found = _surrogate_at(item, where)
        if found is not None:
            return found
    return None
