from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import json
import threading
import typing
from collections.abc import Collection  # noqa: TC003 - attrs.resolve_types reads ignorable_fields' annotation
from typing import TYPE_CHECKING
from typing import Any
from typing import ClassVar

import attrs

from ._codec import CodecError
from ._codec import dump
from ._codec import load_fields
from ._codec import resolved_fields
from ._errors import JobError
from ._job import Job
from ._jsondata import loads

if TYPE_CHECKING:
    from collections.abc import Iterator
    from collections.abc import Sequence
    from typing import Self

__all__ = ["BaseJob", "PlainStateError", "versions"]

#: What :meth:`BaseJob.deserialize` is told of the job being read: the job,
#: the version of its distribution that created the data, and the version
#: running here. Set by :func:`versions` around a call to ``deserialize``.
_VERSIONS: contextvars.ContextVar[tuple[Job, str | None, str | None] | None] = contextvars.ContextVar(
    "spincycle_jobs_versions", default=None
)


@contextlib.contextmanager
def versions(job: Job, version: str | None, running_version: str | None) -> Iterator[None]:
    """Within the block, tell ``job``'s :meth:`BaseJob.deserialize` which versions it reads between.

    The job's methods keep the seed's signatures (``deserialize(data)``), so
    that a subclass that overrides ``deserialize`` and calls ``super()``
    works; the versions travel in a context variable instead, for ``job``
    alone (another job deserialized in the block is told nothing), and in
    this thread alone.

    :param version: the version of the job's distribution that created the data, if known.
    :param running_version: the version running here, if known.
    """
    token = _VERSIONS.set((job, version, running_version))
    try:
        yield
    finally:
        _VERSIONS.reset(token)


class PlainStateError(JobError, TypeError):
    """A job kept state in a plain attribute, which ``serialize`` would lose."""


@attrs.define(eq=False)
class BaseJob(Job):
    """A :class:`Job` that does the ceremony, so a subclass writes only ``create`` and ``run``.

    Decorate the subclass with :func:`attrs.define` and declare the state
    that ``run`` needs as fields, each with a default (a factory makes a
    blank job as ``Sub(job_type, job_name)``). ``create`` fills them from the
    job args; :meth:`serialize` and :meth:`deserialize` carry them across as
    JSON, their types restored from the annotations. A field declared with
    ``attrs.field(init=False, ...)`` is runtime state (a process handle, a
    lock): it is never serialized.

    ``run`` reports progress with :meth:`set_status` and waits with
    :meth:`wait`, which returns early once :meth:`stop` is called::

        @attrs.define
        class Sleep(BaseJob):
            duration: float = 0.0

            def create(self, job_args):
                self.duration = get_arg(job_args, "duration", float)

            def run(self, job_data):
                stopped = self.wait(self.duration)
                return Return(State.STOPPED if stopped else State.COMPLETE)

    :param job_type: the job's type.
    :param job_name: the job's name.
    """

    _job_type: str = attrs.field(alias="job_type")
    _job_name: str = attrs.field(alias="job_name")
    _status: str = attrs.field(default="", init=False, repr=False, eq=False)
    _stop_event: threading.Event = attrs.field(factory=threading.Event, init=False, repr=False, eq=False)

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:  # noqa: ARG004 - __init__ takes them
        """Refuse a subclass that declares fields without ``@attrs.define``, at its first ``make``."""
        _check_decorated(cls)
        return super().__new__(cls)

    def name(self) -> str:
        """Return the job's name."""
        return self._job_name

    def type(self) -> str:
        """Return the job's type."""
        return self._job_type

    def status(self) -> str:
        """Return the text last given to :meth:`set_status`; safe from any thread."""
        return self._status

    def set_status(self, text: str) -> None:
        """Set what :meth:`status` returns; safe from any thread."""
        self._status = text

    def stop(self) -> None:
        """Ask ``run`` to stop: :meth:`wait` returns ``True`` from now on.

        Safe from any thread, and harmless to call again. A subclass that
        must do more (end a process) overrides it and calls ``super().stop()``.
        """
        self._stop_event.set()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` has been called."""
        return self._stop_event.is_set()

    def wait(self, seconds: float | None = None) -> bool:
        """Wait up to ``seconds`` (forever for ``None``), or until :meth:`stop` is called.

        :returns: ``True`` when the job was stopped, ``False`` when the time ran out.
        """
        return self._stop_event.wait(seconds)

    #: Fields that data from another version of the job may hold and this
    #: version drops without a word, such as a field it no longer has. Any
    #: other field it does not know is refused.
    ignorable_fields: ClassVar[Collection[str]] = ()

    @classmethod
    def migrate(cls, fields: dict[str, Any], version: str | None) -> dict[str, Any]:  # noqa: ARG003
        """Turn the fields another version of the job serialized into fields this version reads.

        :meth:`deserialize` calls it when it is told which version created
        the data and that differs from the running one, before it reads the
        fields. The default returns ``fields`` as they are: a missing field
        then takes its default, and an unknown one is refused unless it is
        in :attr:`ignorable_fields`. Override it to rename a field, or to
        fill a new one from an old one::

            @classmethod
            def migrate(cls, fields, version):
                if "host" in fields:  # before 2.0 there was one host
                    fields["hosts"] = [fields.pop("host")]
                return fields

        :param fields: the JSON object that version serialized, as parsed.
        :param version: the version of the job's distribution that created
            the data, or ``None`` when that is not known.
        :returns: the fields for this version.
        :raises JobError: for data it cannot migrate.
        """
        return fields

    def serialize(self) -> bytes:
        """Return the job's fields as compact JSON with sorted keys.

        State kept in a plain attribute (``self.payload = ...`` in
        ``create``, where ``payload`` is not a field) would be lost here, and
        ``run`` would never see it: it is refused instead.

        :raises JobError: naming the field whose value JSON cannot carry; or,
            also a ``TypeError``, naming each attribute of the job that is not
            a field and that a new job of the class does not have.
        """
        plain = self._plain_attributes()
        if plain:
            raise PlainStateError(_plain_state_message(self._describe(), type(self).__qualname__, plain))
        data = {}
        for f in self._serialized_fields():
            try:
                data[f.name] = dump(getattr(self, f.name), f.name)
            except CodecError as err:
                msg = f"cannot serialize {self._describe()}: field {err}"
                raise JobError(msg) from None
            except RecursionError:
                msg = f"cannot serialize {self._describe()}: field {f.name}: nested too deeply"
                raise JobError(msg) from None
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def deserialize(self, data: bytes) -> None:
        """Set the job's fields from what :meth:`serialize` returned, maybe by another version.

        A field the data lacks takes its default; a field the data holds
        but this class does not have is refused, unless it is in
        :attr:`ignorable_fields`. When the data was created by another
        version of the job's distribution than the one running here (a job
        document records it, and the platform says so when it reads one),
        :meth:`migrate` first gets the fields. The fields are then set as
        ``__init__`` sets them, so converters and validators see them all
        together.

        All or nothing: when it raises, the job is unchanged.

        A subclass that overrides it keeps this signature and calls
        ``super().deserialize(data)``; the versions reach this method all the
        same. To read data as the platform would read a document of another
        version, in a test, use :func:`spincycle_jobs.testing.deserialize`.

        :raises JobError: naming the job and the field at fault (and both
            versions, when they differ), for bytes that are not such JSON;
            never another exception.
        """
        told = _VERSIONS.get()
        version, running_version = told[1:] if told is not None and told[0] is self else (None, None)
        try:
            values = self._load(data, version, running_version)
        except JobError as err:
            note = ""
            if version != running_version:
                note = f" (the data was created by {_version(version)}; this is {_version(running_version)})"
            msg = f"cannot deserialize {self._describe()}: {err}{note}"
            raise JobError(msg) from err.__cause__
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def _load(self, data: bytes, version: str | None, running_version: str | None) -> dict[str, Any]:
        """Return every serialized field's new value, as ``__init__`` would set it from ``data``."""
        try:
            obj = loads(data)
        except (ValueError, TypeError, RecursionError) as err:
            msg = f"not JSON ({err})"
            raise JobError(msg) from None
        if not isinstance(obj, dict):
            msg = f"expected a JSON object, got {type(obj).__name__}"
            raise JobError(msg)
        if version != running_version:
            obj = self._migrate(obj, version)
        fields = self._serialized_fields()
        known = {f.name for f in fields}
        obj = {k: v for k, v in obj.items() if k in known or k not in self.ignorable_fields}
        try:
            values = load_fields(obj, fields, "")
        except CodecError as err:
            msg = f"field {err}"
            raise JobError(msg) from None
        except RecursionError:
            msg = "nested too deeply"
            raise JobError(msg) from None
        aliases = {f.name: str(f.alias) for f in fields}
        try:
            fresh = type(self)(
                job_type=self._job_type, job_name=self._job_name, **{aliases[k]: v for k, v in values.items()}
            )
        except Exception as err:
            raise JobError(_refused(err)) from err
        return {f.name: getattr(fresh, f.name) for f in fields}

    def _migrate(self, obj: dict[str, Any], version: str | None) -> dict[str, Any]:
        try:
            fields: object = self.migrate(obj, version)
        except JobError:
            raise
        except Exception as err:
            msg = f"migrate raised {type(err).__name__}: {err}"
            raise JobError(msg) from err
        if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
            msg = f"migrate returned {type(fields).__name__}, not a dict of fields"
            raise JobError(msg)
        return fields

    def _plain_attributes(self) -> list[str]:
        """Return the instance attributes that are not fields and that a new job of this class lacks."""
        found = vars(self).keys()
        if not found:
            return []
        cls = type(self)
        names = {
            name
            for name in found - {f.name for f in attrs.fields(cls)}
            if not isinstance(inspect.getattr_static(cls, name, None), functools.cached_property)
        }
        if not names:
            return []
        try:
            fresh = cls(job_type=self._job_type, job_name=self._job_name)
        except Exception:  # noqa: BLE001 - deserialize says why such a class cannot be made
            return []
        return sorted(names - vars(fresh).keys())

    def _describe(self) -> str:
        return f"job {self._job_name!r} of type {self._job_type!r}"

    def _serialized_fields(self) -> Sequence[attrs.Attribute[Any]]:
        try:
            fields = resolved_fields(type(self))
        except NameError as err:
            msg = f"cannot resolve the field annotations of {type(self).__qualname__}: {err}"
            raise JobError(msg) from err
        return [f for f in fields if f.init and f.name not in _BASE_FIELDS]


_BASE_FIELDS = frozenset(f.name for f in attrs.fields(BaseJob))


def _plain_state_message(job: str, cls: str, names: list[str]) -> str:
    one = len(names) == 1
    what = (
        f"attribute {names[0]!r} of {cls} is not a field"
        if one
        else (f"attributes {', '.join(map(repr, names))} of {cls} are not fields")
    )
    it = "it" if one else "them"
    return (
        f"cannot serialize {job}: {what}, so serialize would lose {it} and run would not get {it}: "
        f"declare {it} as {'a field' if one else 'fields'} of the attrs class ({names[0]}: T = default), "
        "or with attrs.field(init=False) for runtime state that is not serialized"
    )


def _version(version: str | None) -> str:
    return "an unknown version" if version is None else f"version {version}"


def _refused(err: Exception) -> str:
    """Say which field a validator or converter refused, when its error tells (attrs' validators do)."""
    field = next((a.name for a in err.args if isinstance(a, attrs.Attribute)), None)
    where = f"field {field}" if field else "the fields"
    return f"{where} refused by the class's checks: {type(err).__name__}: {err.args[0] if err.args else err}"


@functools.cache
def _check_decorated(cls: type) -> None:
    """Raise if ``cls``, or a class between it and :class:`BaseJob`, declares fields attrs never saw."""
    for klass in cls.__mro__:
        if klass is BaseJob:
            return
        if "__attrs_attrs__" in klass.__dict__:
            continue
        names = [k for k, v in inspect.get_annotations(klass).items() if not _is_class_var(v)]
        if names:
            msg = (
                f"{klass.__module__}.{klass.__qualname__} declares fields ({', '.join(names)}) but is not "
                "decorated with @attrs.define, so they would never be serialized: decorate the class"
            )
            raise JobError(msg)


def _is_class_var(annotation: object) -> bool:
    if isinstance(annotation, str):
        return annotation.startswith(
            ("ClassVar", "typing.ClassVar", "t.ClassVar", "typing_extensions.ClassVar")
        )
    return typing.get_origin(annotation) is typing.ClassVar
