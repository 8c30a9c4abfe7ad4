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

Documents (a job document, a chain document) follow the same rule, at
every level: the document, each chain job, each job record. Their tags,
``spincycle-jobs/job/1`` and ``spincycle-jobs/chain/1``, name the major
version alone, which is minor version 0; a reader takes ``1`` and
``1.N`` (N in ASCII digits) alike. Their fields, which carry checks of
their own (a non-empty id, a count from 0), are declared as
:class:`Field` s and read by :func:`read_fields`, as a wire record's
are.
"""

from __future__ import annotations

import enum
import types
import typing
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import TypeVar

import attrs

from ._errors import JobError

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterable

__all__ = ["Field", "WireError", "from_wire", "read_fields", "to_wire", "version_error", "wire"]

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
    #: The fields, as their JSON values are checked.
    fields: tuple[Field, ...]
    #: What reads a checked value into the field's type, by field, where a value is not used as it is.
    readers: dict[str, Any] = attrs.field(factory=dict)

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
        fields, readers = [], {}
        for f in attrs.fields(cls):
            accepted, read = _reader(hints[f.name])
            what = " or ".join("null" if t is type(None) else t.__name__ for t in accepted)
            default = REQUIRED if f.default is attrs.NOTHING else ABSENT  # absent: attrs gives the default
            fields.append(Field(f.name, _accepts(accepted), what, default))
            if read is not None:
                readers[f.name] = read
        spec = _SPECS[cls] = _READY[cls] = attrs.evolve(spec, fields=tuple(fields), readers=readers)
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
    for field in spec.fields:
        name = field.name
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


#: A :class:`Field` default that leaves the field out of what :func:`read_fields` returns.
ABSENT: Final = object()
#: The :class:`Field` default of a field that every record must have.
REQUIRED: Final = object()


@attrs.frozen
class Field:
    """One field of a record as its JSON form holds it: what its value must be, and its default."""

    name: str
    #: Whether a JSON value is one this field takes.
    check: Callable[[object], bool]
    #: What such a value is, as error messages say it: ``"a string"``, ``"an integer >= 0"``.
    what: str
    #: The value of a record that lacks the field; :data:`REQUIRED` when it must have it.
    default: object = REQUIRED


def read_fields(
    obj: object, fields: Iterable[Field], where: str, error: Callable[[str], Exception]
) -> dict[str, Any]:
    """Read the ``fields`` of ``obj`` by the rule: unknown keys ignored, missing ones defaulted or refused.

    :param error: makes the exception to raise from a message that names ``where`` and the field.
    :returns: each field's value (its default when absent, none for :data:`ABSENT`).
    """
    if not isinstance(obj, dict):
        msg = f"{where}: expected a JSON object, got {type(obj).__name__}"
        raise error(msg)
    values: dict[str, Any] = {}
    for field in fields:
        if field.name not in obj:
            if field.default is REQUIRED:
                msg = f"{where}: field {field.name!r} is missing"
                raise error(msg)
            if field.default is not ABSENT:
                values[field.name] = field.default
            continue
        value = obj[field.name]
        if not field.check(value):
            msg = f"{where}: field {field.name!r} is not {field.what}"
            raise error(msg)
        values[field.name] = value
    return values


def version_error(tag: object, kind: str, major: int, where: str, what: str = "record") -> str | None:
    """Return why what is tagged ``tag`` cannot be read as ``kind`` version ``major``, or ``None``.

    ``spincycle-jobs/KIND/MAJOR`` and ``spincycle-jobs/KIND/MAJOR.MINOR`` are read, whatever the minor
    (ASCII digits). A message shows a long or unprintable tag cut short, as its ``repr``.
    """
    prefix = f"{_PREFIX}{kind}/"
    if not isinstance(tag, str) or not tag.startswith(prefix):
        return f"{where}: not a {kind} {what} (format {_shown(tag)}, expected {prefix}{major})"
    version = tag[len(prefix) :]
    got, dot, minor = version.partition(".")
    if got != str(major) or (dot and not (minor.isascii() and minor.isdigit())):
        shown = version if _plain(version) else _shown(version)
        return f"{where}: {kind} {what} version {shown} is not {major}.x, the version read here"
    return None


#: The longest tag or version a message shows whole.
_SHOWN: Final = 60


def _plain(text: str) -> bool:
    return 0 < len(text) <= _SHOWN and text.isascii() and text.isprintable() and " " not in text


def _shown(value: object) -> str:
    """Return the ``repr`` of ``value`` for a message, cut short when long."""
    text = repr(value)
    return text if len(text) <= _SHOWN else f"{text[: _SHOWN - 3]}..."


def _accepts(accepted: tuple[type, ...]) -> Callable[[object], bool]:
    def check(value: object) -> bool:
        return isinstance(value, accepted) and (bool in accepted or not isinstance(value, bool))

    return check


def from_wire(cls: type[T], obj: object, where: str) -> T:
    """Read a wire record of class ``cls`` that :func:`to_wire` wrote, by the rule above.

    :param where: names the record in error messages.
    :raises WireError: naming ``where``, for what the rule refuses.
    """
    spec = _spec(cls)
    if not isinstance(obj, dict):
        msg = f"{where}: expected a JSON object, got {type(obj).__name__}"
        raise WireError(msg)
    problem = version_error(obj.get("format"), spec.kind, spec.major, where)
    if problem is not None:
        raise WireError(problem)
    values = read_fields(obj, spec.fields, where, WireError)
    for name, read in spec.readers.items():
        if values.get(name) is not None:
            values[name] = _read(read, values[name], f"{where}, field {name!r}")
    return cls(**values)


def _read(read: Any, value: Any, where: str) -> Any:
    if read in _SPECS:
        return from_wire(read, value, where)
    try:
        if hasattr(read, "from_dict"):  # a record with a reader of its own, such as a JobRecord
            return read.from_dict(value, where)
        return read(value)
    except ValueError as err:  # a record's own error (a DocumentError) names where already
        msg = str(err) if isinstance(err, JobError) else f"{where}: {err}"
        raise WireError(msg) from None
