"""One job class per shape the Job interface allows, each written to its documented signatures.

Each job reads job arg ``payload`` (and ``nested`` also ``when``) in
``create``, and ``run`` reports what it has: it sets job data key
``<name>`` and prints ``<name> got <report>``. The report is the payload,
passed through what the shape adds, so a test sees that the state
``create`` set reached ``run``, in whatever process and host ran it.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from typing import Any

import attrs

from spincycle_jobs import BaseJob
from spincycle_jobs import Job
from spincycle_jobs import JobError
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import get_arg


def _completed(job: Job, report: str, job_data: dict[str, Any]) -> Return:
    job_data[job.name()] = report
    return Return(State.COMPLETE, stdout=f"{job.name()} got {report}\n")


class ByHand(Job):
    """A job written against Job alone: no BaseJob, no attrs."""

    def __init__(self, job_type: str, job_name: str) -> None:
        """Make a blank job."""
        self._type = job_type
        self._name = job_name
        self._payload = ""
        self._stopped = threading.Event()

    def create(self, job_args: dict[str, Any]) -> None:
        """Keep job arg ``payload``."""
        self._payload = get_arg(job_args, "payload", str)

    def serialize(self) -> bytes:
        """Return the payload as JSON."""
        return json.dumps({"payload": self._payload}).encode()

    def deserialize(self, data: bytes) -> None:
        """Read what serialize returned."""
        try:
            payload = json.loads(data)["payload"]
        except (ValueError, KeyError, TypeError) as err:
            msg = f"cannot deserialize {self._name!r}: {err}"
            raise JobError(msg) from None
        if not isinstance(payload, str):
            msg = f"cannot deserialize {self._name!r}: payload is {type(payload).__name__}"
            raise JobError(msg)
        self._payload = payload

    def run(self, job_data: dict[str, Any]) -> Return:
        """Report the payload."""
        if self._stopped.is_set():
            return Return(State.STOPPED)
        return _completed(self, self._payload, job_data)

    def stop(self) -> None:
        """Stop: run returns at once."""
        self._stopped.set()

    def status(self) -> str:
        """Say whether it was stopped."""
        return "stopped" if self._stopped.is_set() else ""

    def name(self) -> str:
        """Return the job's name."""
        return self._name

    def type(self) -> str:
        """Return the job's type."""
        return self._type


@attrs.define
class Base(BaseJob):
    """A BaseJob that overrides only what it must: create and run."""

    payload: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        """Keep job arg ``payload``."""
        self.payload = get_arg(job_args, "payload", str)

    def report(self) -> str:
        """Say what the job has, from its fields."""
        return self.payload

    def run(self, job_data: dict[str, Any]) -> Return:
        """Report what the job has."""
        return _completed(self, self.report(), job_data)


@attrs.define
class CreateSuper(Base):
    """Overrides create, calling super(), and keeps more."""

    suffix: str = ""

    def create(self, job_args: dict[str, Any]) -> None:
        """Keep what Base keeps, and a suffix."""
        super().create(job_args)
        self.suffix = "+created"

    def report(self) -> str:
        """The payload, with the suffix create set."""
        return self.payload + self.suffix


@attrs.define
class SerializeSuper(Base):
    """Overrides serialize, calling super()."""

    def serialize(self) -> bytes:
        """Serialize as BaseJob does."""
        return super().serialize()


@attrs.define
class DeserializeSuper(Base):
    """Overrides deserialize with the seed's signature, calling super(), and notes that it ran."""

    loaded: bool = attrs.field(default=False, init=False)

    def deserialize(self, data: bytes) -> None:
        """Deserialize as BaseJob does, and note it."""
        super().deserialize(data)
        self.loaded = True

    def report(self) -> str:
        """The payload, once this override ran."""
        return self.payload if self.loaded else "deserialize(data) was never called"


@attrs.define
class RunSuper(Base):
    """Overrides run, calling super()."""

    def run(self, job_data: dict[str, Any]) -> Return:
        """Set a status, then run as Base does."""
        self.set_status("running")
        return super().run(job_data)


@attrs.define
class StopSuper(Base):
    """Overrides stop, calling super()."""

    def stop(self) -> None:
        """Say so, then stop as BaseJob does."""
        self.set_status("stopping")
        super().stop()


@attrs.define
class StatusSuper(Base):
    """Overrides status, calling super()."""

    def status(self) -> str:
        """BaseJob's status, with a prefix."""
        return "status: " + super().status()


@attrs.define(slots=False)
class Unslotted(Base):
    """A class with a __dict__ for its fields: ``@attrs.define(slots=False)``."""

    parts: list[str] = attrs.Factory(list)

    def create(self, job_args: dict[str, Any]) -> None:
        """Keep the payload, and its parts."""
        super().create(job_args)
        self.parts = self.payload.split("-")

    def report(self) -> str:
        """The parts, joined again."""
        return "-".join(self.parts)


@attrs.define
class Host:
    """A nested attrs class."""

    name: str = ""
    port: int = 22


@attrs.define
class Target:
    """A nested attrs class holding another."""

    host: Host = attrs.Factory(Host)
    backups: list[Host] = attrs.Factory(list)


@attrs.define
class Nested(Base):
    """Nested attrs fields and a datetime field."""

    target: Target = attrs.Factory(Target)
    when: dt.datetime = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

    def create(self, job_args: dict[str, Any]) -> None:
        """Keep the payload as a host's name, and job arg ``when`` as a datetime."""
        super().create(job_args)
        self.target = Target(Host(self.payload, 2222), [Host("backup", 22)])
        self.when = dt.datetime.fromisoformat(get_arg(job_args, "when", str))

    def report(self) -> str:
        """The host, its backups and the time, each read from its restored type."""
        host: object = self.target.host
        when: object = self.when
        if not isinstance(host, Host) or not isinstance(when, dt.datetime):
            return f"wrong types: {type(host).__name__}, {type(when).__name__}"
        backups = ",".join(f"{h.name}:{h.port}" for h in self.target.backups)
        return f"{self.target.host.name}:{self.target.host.port}/{backups}@{self.when.isoformat()}"
