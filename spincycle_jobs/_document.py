"""Documents that carry jobs between hosts: one place reads, verifies and writes them.

A *job record* is one serialized job with its provenance: type, name, the
bytes from ``serialize`` (base64), the job args after ``create``, and the
plugin, distribution and version that created it. A job document is one
record; a chain document holds many. Every document is a JSON object
with a ``format`` tag and a ``sha256`` over all the rest, so an edit
anywhere in it is refused.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import importlib.metadata
import json
from typing import TYPE_CHECKING
from typing import Any
from typing import Final
from typing import Protocol
from typing import runtime_checkable

import attrs

from ._basejob import versions
from ._errors import JobError
from ._jsondata import JSONDataError
from ._jsondata import copy_data
from ._jsondata import loads
from ._wire import Field
from ._wire import read_fields
from ._wire import version_error

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._catalog import TypeInfo
    from ._job import Job
    from ._job import JobFactory

__all__ = [
    "JOB_FORMAT",
    "DocumentError",
    "JobRecord",
    "NotBytesError",
    "dump_document",
    "load_document",
    "make_job",
]

#: The ``format`` of a job document; bump it when the document changes shape.
JOB_FORMAT: Final = "spincycle-jobs/job/1"


class DocumentError(JobError, ValueError):
    """A document that cannot be read: malformed, changed, truncated or foreign."""


class NotBytesError(JobError, TypeError):
    """A job's ``serialize`` returned something other than bytes."""


@runtime_checkable
class _Lists(Protocol):
    """A factory that says which plugin offers a job type, as :class:`~spincycle_jobs.Factory` does."""

    def type_info(self, job_type: str) -> TypeInfo: ...


def _type_info(factory: JobFactory, job_type: str) -> TypeInfo | None:
    return factory.type_info(job_type) if isinstance(factory, _Lists) else None


@functools.cache
def _distribution_of(module: str) -> tuple[str, str] | None:
    """Return the installed distribution (name, version) holding ``module``'s top-level package, if one.

    That is the one distribution whose files list the package, else (an
    editable install lists none) the one whose entry points name it.
    """
    top = module.partition(".")[0]
    names = importlib.metadata.packages_distributions().get(top, [])
    if not names:
        names = [
            dist.metadata["Name"]
            for dist in importlib.metadata.distributions()
            if any(ep.value.partition(":")[0].partition(".")[0] == top for ep in dist.entry_points)
        ]
    if len(set(names)) != 1:
        return None
    try:
        dist = importlib.metadata.distribution(names[0])
    except importlib.metadata.PackageNotFoundError:
        return None
    return dist.metadata["Name"], dist.version


@attrs.frozen
class JobRecord:
    """One created, serialized job and where it came from."""

    #: The job type.
    type: str
    #: The job name.
    name: str
    #: What the job's ``serialize`` returned.
    data: bytes
    #: The job args after ``create`` (JSON data).
    job_args: dict[str, Any] = attrs.field(factory=dict)
    #: The entry-point name of the plugin that offered the type, if known.
    plugin: str | None = None
    #: The distribution of that plugin, as its metadata spells it, if known.
    distribution: str | None = None
    #: That distribution's version, if known.
    version: str | None = None

    @classmethod
    def create(cls, factory: JobFactory, job_type: str, job_name: str, job_args: dict[str, Any]) -> JobRecord:
        """Make a job, call ``create`` with ``job_args`` (which it may change), and serialize it.

        :param factory: any :class:`~spincycle_jobs.JobFactory`. The record's
            provenance is what a :class:`~spincycle_jobs.Factory` says of the
            type; for another factory, the installed distribution holding the
            job class's top-level package, if any, and no plugin.
        :raises JobError: when the job cannot be made, created or serialized,
            or the job args after ``create`` are not JSON data.
        """
        job = factory.make(job_type, job_name)
        job.create(job_args)
        return cls.created(factory, job, job_args)

    @classmethod
    def created(cls, factory: JobFactory, job: Job, job_args: dict[str, Any]) -> JobRecord:
        """Serialize ``job``, made by ``factory`` and just given ``job_args`` by its ``create``.

        The provenance is what ``factory`` says of the job type when it is a
        :class:`~spincycle_jobs.Factory`. Any other factory says nothing: the
        record then names the installed distribution (and its version) that
        holds the job class's top-level package, when there is one, and no
        plugin.

        :raises NotBytesError: when ``serialize`` does not return bytes.
        :raises DocumentError: when the job args are not JSON data.
        :raises JobError: when ``serialize`` raises it.
        """
        data: object = job.serialize()
        if not isinstance(data, bytes):
            msg = f"{type(job).__qualname__}.serialize() returned {type(data).__name__}, not bytes"
            raise NotBytesError(msg)
        args = _json_data(job_args, "the job args after create")
        info = _type_info(factory, job.type())
        if info is not None:
            return cls(job.type(), job.name(), data, args, info.plugin, info.distribution, info.version)
        dist = _distribution_of(type(job).__module__)
        return cls(job.type(), job.name(), data, args, None, *(dist or (None, None)))

    def to_dict(self) -> dict[str, Any]:
        """Return the record as JSON data."""
        return {
            "type": self.type,
            "name": self.name,
            "data": base64.b64encode(self.data).decode("ascii"),
            "job_args": self.job_args,
            "plugin": self.plugin,
            "distribution": self.distribution,
            "version": self.version,
        }

    @classmethod
    def from_dict(cls, obj: object, where: str) -> JobRecord:
        """Read a record that :meth:`to_dict` wrote, by the wire rule (unknown fields are ignored).

        :param where: names the record in error messages.
        :raises DocumentError: naming ``where`` and the field at fault.
        """
        values = read_fields(obj, _RECORD_FIELDS, where, DocumentError)
        try:
            data = base64.b64decode(values.pop("data").encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError) as err:
            msg = f"{where}: field 'data' is not base64 ({err})"
            raise DocumentError(msg) from None
        return cls(data=data, **values | {"job_args": values["job_args"] or {}})


def _optional_str(value: object) -> bool:
    return value is None or isinstance(value, str)


#: A job record's fields, as its JSON form holds them.
_RECORD_FIELDS: Final = (
    Field("type", lambda v: isinstance(v, str), "a string"),
    Field("name", lambda v: isinstance(v, str), "a string"),
    Field("data", lambda v: isinstance(v, str), "a string (base64)"),
    Field("job_args", lambda v: v is None or isinstance(v, dict), "an object or null", None),
    Field("plugin", _optional_str, "a string or null", None),
    Field("distribution", _optional_str, "a string or null", None),
    Field("version", _optional_str, "a string or null", None),
)


def _json_data(value: Any, what: str) -> Any:
    """Return ``value`` as plain JSON data (a deep copy), refusing what JSON cannot carry, naming ``what``."""
    try:
        return copy_data(value)
    except JSONDataError as err:
        msg = f"{what} are not JSON data: {err}"
        raise DocumentError(msg) from None


def _digest(body: dict[str, Any]) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def dump_document(fmt: str, body: dict[str, Any]) -> str:
    """Return the text of a document of format ``fmt``: ``body`` with the tag and a hash of it all.

    :raises DocumentError: when ``body`` is not JSON data.
    """
    doc = {"format": fmt, **_json_data(body, "the document's contents")}
    return json.dumps({**doc, "sha256": _digest(doc)}, indent=2) + "\n"


def load_document(text: str, fmt: str, where: str) -> dict[str, Any]:
    """Read and verify a document that :func:`dump_document` wrote as ``fmt``, or as a later minor version.

    :returns: the body, without ``format`` and ``sha256``.
    :raises DocumentError: naming ``where`` for text that is not such a
        document, or was changed after it was written.
    """
    try:
        doc = loads(text)
    except (ValueError, TypeError, RecursionError) as err:
        msg = f"{where} is not JSON ({err})"
        raise DocumentError(msg) from None
    kind, _, major = fmt.removeprefix("spincycle-jobs/").partition("/")
    problem = version_error(
        doc.get("format") if isinstance(doc, dict) else None, kind, int(major), where, "document"
    )
    if problem is not None or not isinstance(doc, dict):
        raise DocumentError(problem or where)
    claimed = doc.pop("sha256", None)
    if not isinstance(claimed, str):
        msg = f"{where} has no sha256"
        raise DocumentError(msg)
    try:
        digest = _digest(doc)
    except (ValueError, RecursionError) as err:
        msg = f"{where} cannot be hashed ({err})"
        raise DocumentError(msg) from None
    if digest != claimed:
        msg = f"{where} does not match its sha256: the document was changed or truncated"
        raise DocumentError(msg)
    del doc["format"]
    return doc


def make_job(
    factory: JobFactory,
    record: JobRecord,
    where: str,
    warn: Callable[[str], None],
    *,
    make: Callable[[str, str], Job] | None = None,
) -> Job:
    """Make the job ``record`` holds and deserialize it, as every Job Runner does.

    The job's ``deserialize(data)`` is called with the seed's signature. A
    :class:`~spincycle_jobs.BaseJob` is told, besides, which version created
    the record and which runs here, so that a document created by another
    version of the plugin is upgraded as
    :meth:`BaseJob.deserialize <spincycle_jobs.BaseJob.deserialize>` says.
    A factory that is not a :class:`~spincycle_jobs.Factory` says nothing of
    the type's distribution: nothing is checked or told then.

    :param warn: called with a message when the plugin's version differs
        from the one that created the record.
    :param make: makes the job, instead of ``factory.make``.
    :raises JobError: when the type is unknown here, comes from another
        distribution, or the job refuses the bytes; an error that says
        "here" names the host, or the Dask worker's address.
    """
    info = _type_info(factory, record.type)
    if info is not None:
        if record.distribution != info.distribution:
            from ._factory import here  # noqa: PLC0415 - only this error needs it

            msg = (
                f"{where} was created by distribution {record.distribution!r}, "
                f"but job type {info.type!r} here comes from {info.distribution!r} ({here()})"
            )
            raise DocumentError(msg)
        if record.version != info.version:
            created = f"{info.distribution} {record.version}"
            warn(f"{where} was created with {created}, running it with {info.version}")
    job = (make or factory.make)(record.type, record.name)
    running = record.version if info is None else info.version
    with versions(job, record.version, running):
        job.deserialize(record.data)
    return job
