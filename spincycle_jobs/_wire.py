"""Records that cross a process or a release, declared once, read and written by one rule.

A wire record is an attrs class decorated with :func:`wire`. Its JSON form
is an object with a ``format`` tag, ``spincycle-jobs/KIND/MAJOR.MINOR``, and
one key per field. The rule, the same for every record:

- a record of another *major* version is refused, naming both versions;
- a field this version does not know is ignored, so that a newer *minor*
  version may add optional fields and an older reader still reads it
  (during a rolling upgrade of workers, say);
- a field this version knows but the record lacks takes its default, or,
  when it has none, the record is refused, naming the field;
- a field of the wrong JSON type is refused, naming the field.

Add an optional field: bump the minor version. Remove, rename or retype
a field, or add one without a default: bump the major version.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import Any
from typing import Final
from typing import TypeVar

import attrs

from ._errors import JobError

__all__ = ["WireError", "from_wire", "to_wire", "wire"]

_PREFIX: Final = "spincycle-jobs/"

T = TypeVar("T")


class WireError(JobError, ValueError):
    """A record that crosses a process or a release (a try, its outcome, a job log entry) cannot be read.

    Every such record carries a format tag, ``spincycle-jobs/KIND/MAJOR.MINOR``,
    and is read by one rule: a record of another major version is refused;
    a field this release does not know is ignored (a newer minor version
    adds optional fields only); a known field that is missing, with no
    default, or of the wrong JSON type is refused. The message names the
    record and the field.
    """


@attrs.frozen
class _Spec:
    kind: str
    major: int
    minor: int
    #: (name, JSON types accepted, how to read a value, whether it is required)
    fields: tuple[tuple[str, tuple[type, ...], Any, bool], ...]

    #: ``spincycle-jobs/KIND/MAJOR.MINOR``.
    tag: str = attrs.field(init=False)

    @tag.default
    def _tag(self) -> str:
        return f"{_PREFIX}{self.kind}/{self.major}.{self.minor}"


_SPECS: dict[type, _Spec] = {}


def wire(kind: str, major: int, minor: int) -> typing.Callable[[type[T]], type[T]]:
    """Declare an attrs class a wire record of ``kind`` at version ``major.minor``.

    Field types may be ``str``, ``int``, ``float``, ``bool``, an ``IntEnum``
    (written as its value), ``dict[str, Any]``, another wire record, a
    class with ``to_dict()`` and ``from_dict(obj, where)`` of its own, or
    any of these ``| None``.
    """

    def declare(cls: type[T]) -> type[T]:
        _SPECS[cls] = _Spec(kind, major, minor, ())  # placeholder: types resolve on first use
        return cls

    return declare


_READY: dict[type, _Spec] = {}  # specs whose field types are resolved


def _spec(cls: type) -> _Spec:
    spec = _READY.get(cls)
    if spec is None:
        spec = _SPECS[cls]
        hints = typing.get_type_hints(cls)
        fields = tuple(
            (f.name, *_reader(hints[f.name]), f.default is attrs.NOTHING) for f in attrs.fields(cls)
        )
        spec = _SPECS[cls] = _READY[cls] = attrs.evolve(spec, fields=fields)
    return spec


def _reader(hint: Any) -> tuple[tuple[type, ...], Any]:
    """Return the JSON types a field of type ``hint`` accepts, and what reads its value (or ``None``)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        accepted, read = _reader(inner[0])
        return (*accepted, type(None)), read
    if isinstance(hint, type) and (hint in _SPECS or hasattr(hint, "from_dict")):
        return (dict,), hint
    if isinstance(hint, type) and issubclass(hint, enum.IntEnum):
        return (int,), hint
    if hint is float:
        return (int, float), float
    if hint is int:
        return (int,), None
    origin = typing.get_origin(hint) or hint
    return (origin,), None


#: JSON values written as they are (the common case, checked first).
_PLAIN: Final = frozenset({str, int, float, bool, type(None), dict, list})


def to_wire(record: object) -> dict[str, Any]:
    """Return a wire record as JSON data, with its ``format`` tag."""
    spec = _spec(type(record))
    out: dict[str, Any] = {"format": spec.tag}
    for name, _accepted, _read, _required in spec.fields:
        value = getattr(record, name)
        if type(value) in _PLAIN:
            out[name] = value
            continue
        if type(value) in _SPECS:
            value = to_wire(value)
        elif hasattr(value, "to_dict"):
            value = value.to_dict()
        elif isinstance(value, enum.IntEnum):
            value = int(value)
        out[name] = value
    return out


def from_wire(cls: type[T], obj: object, where: str) -> T:
    """Read a wire record of class ``cls`` that :func:`to_wire` wrote, by the rule above.

    :param where: names the record in error messages.
    :raises WireError: naming ``where``, for what the rule refuses.
    """
    spec = _spec(cls)
    if not isinstance(obj, dict):
        msg = f"{where}: expected a JSON object, got {type(obj).__name__}"
        raise WireError(msg)
    tag = obj.get("format")
    expected = f"{_PREFIX}{spec.kind}/"
    if not isinstance(tag, str) or not tag.startswith(expected):
        msg = f"{where}: not a {spec.kind} record (format {tag!r}, expected {spec.tag!r})"
        raise WireError(msg)
    version = tag[len(expected) :]
    if version.partition(".")[0] != str(spec.major):
        msg = f"{where}: {spec.kind} record version {version} is not {spec.major}.x, the version read here"
        raise WireError(msg)
    values: dict[str, Any] = {}
    for name, accepted, read, required in spec.fields:
        if name not in obj:
            if required:
                msg = f"{where}: field {name!r} is missing"
                raise WireError(msg)
            continue
        value = obj[name]
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in accepted):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in accepted)
            msg = f"{where}: field {name!r} is {type(value).__name__}, expected {names}"
            raise WireError(msg)
        if value is not None and read is not None:
            value = _read(read, value, f"{where}, field {name!r}")
        values[name] = value
    return cls(**values)


def _read(read: Any, value: Any, where: str) -> Any:
    if read in _SPECS:
        return from_wire(read, value, where)
    if hasattr(read, "from_dict"):  # a record with a reader of its own, such as a JobRecord
        return read.from_dict(value, where)
    try:
        return read(value)
    except ValueError as err:
        msg = f"{where}: {err}"
        raise WireError(msg) from None
