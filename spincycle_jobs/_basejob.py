from __future__ import annotations

import json
import threading
from typing import TYPE_CHECKING
from typing import Any

import attrs

from ._codec import CodecError
from ._codec import dump
from ._codec import load_fields
from ._codec import resolved_fields
from ._errors import JobError
from ._job import Job

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["BaseJob"]


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

    def serialize(self) -> bytes:
        """Return the job's fields as compact JSON with sorted keys.

        :raises JobError: naming the field whose value JSON cannot carry.
        """
        try:
            data = {f.name: dump(getattr(self, f.name), f.name) for f in self._serialized_fields()}
        except CodecError as err:
            msg = f"cannot serialize {self._describe()}: field {err}"
            raise JobError(msg) from None
        return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def deserialize(self, data: bytes) -> None:
        """Set the job's fields from what :meth:`serialize` returned.

        Nothing changes unless every field is present and of its type.

        :raises JobError: naming the job and the field at fault, for bytes
            that are not such JSON.
        """
        try:
            obj = json.loads(data, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as err:
            msg = f"cannot deserialize {self._describe()}: not JSON ({err})"
            raise JobError(msg) from None
        if not isinstance(obj, dict):
            msg = f"cannot deserialize {self._describe()}: expected a JSON object, got {type(obj).__name__}"
            raise JobError(msg)
        try:
            values = load_fields(obj, self._serialized_fields(), "")
        except CodecError as err:
            msg = f"cannot deserialize {self._describe()}: field {err}"
            raise JobError(msg) from None
        for key, value in values.items():
            setattr(self, key, value)

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


def _refuse_constant(name: str) -> None:
    """Refuse ``NaN`` and ``Infinity``: Python's json reads them, but they are not JSON."""
    msg = f"{name} is not a JSON value"
    raise ValueError(msg)
