"""BaseJob's own codec against msgspec, on the four criteria of the choice between them.

Run: ``python -m tests.benchmarks.codec [--number 2000] [--repeat 7]`` (msgspec must be installed).

1. Round-trip time per job: ``serialize``, then ``deserialize`` into a fresh job,
   both codecs building the job through ``__init__`` as ``deserialize`` does.
2. What a process pays to import msgspec the first time it serializes.
3. The error message each gives for the same bad input.
4. Which of the field types BaseJob supports each carries there and back.
"""

from __future__ import annotations

import argparse
import datetime as dt
import enum
import functools
import timeit
from typing import Any
from typing import Literal

import attrs
import msgspec

from spincycle_jobs import BaseJob
from spincycle_jobs import JobError
from spincycle_jobs import Return
from spincycle_jobs._codec import resolved_fields

from ._common import interleaved
from ._common import run_once
from ._common import table


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


@attrs.define
class Host:
    name: str
    port: int = 22
    tags: tuple[str, ...] = ()


@attrs.define
class Small(BaseJob):
    """The size of most jobs: a few scalars (the example plugin's ``sleep`` has one)."""

    text: str = ""
    count: int = 0
    ratio: float = 0.0

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return()


@attrs.define
class Shell(BaseJob):
    """A ``shell-command`` sized job: a command, its arguments, an environment."""

    cmd: str = ""
    args: list[str] = attrs.Factory(list)
    env: dict[str, str] = attrs.Factory(dict)
    timeout: float | None = None
    shell: bool = False

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return()


@attrs.define
class Rich(BaseJob):
    """A large job: nested attrs classes, enums, times, int keys."""

    hosts: list[Host] = attrs.Factory(list)
    by_id: dict[int, str] = attrs.Factory(dict)
    color: Color = Color.RED
    when: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    pair: tuple[int, str] = (0, "")
    mode: Literal["fast", "safe"] = "safe"

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return()


def jobs() -> dict[str, BaseJob]:
    """One filled job of each size."""
    shell = Shell("shell", "s", cmd="rsync", args=[f"--opt{i}" for i in range(20)])
    shell.env = {f"VAR{i}": f"value {i}" for i in range(20)}
    rich = Rich("rich", "r", hosts=[Host(f"db{i}.example.com", 5432, ("primary", "eu")) for i in range(50)])
    rich.by_id = {i: f"id {i}" for i in range(50)}
    return {
        "small (3 scalars)": Small("small", "s", "hello", 3, 0.5),
        "shell-command": shell,
        "rich (50 hosts)": rich,
    }


class MsgspecCodec:
    """What BaseJob's serialize and deserialize would be on msgspec: a Struct per job class."""

    def __init__(self, cls: type[BaseJob]) -> None:
        fields = [f for f in resolved_fields(cls) if f.init and not f.name.startswith("_")]
        self.cls = cls
        self.aliases = {f.name: str(f.alias) for f in fields}
        spec = [(f.name, f.type, _default(f)) for f in fields]
        self.struct = msgspec.defstruct(cls.__name__, spec, forbid_unknown_fields=True)
        self.encoder = msgspec.json.Encoder()
        self.decoder = msgspec.json.Decoder(self.struct)

    def serialize(self, job: BaseJob) -> bytes:
        return self.encoder.encode({name: getattr(job, name) for name in self.aliases})

    def deserialize(self, job: BaseJob, data: bytes) -> BaseJob:
        try:
            obj = self.decoder.decode(data)
        except msgspec.ValidationError as err:
            msg = f"cannot deserialize job {job.name()!r} of type {job.type()!r}: {err}"
            raise JobError(msg) from None
        values = {self.aliases[name]: getattr(obj, name) for name in self.aliases}
        return self.cls(job_type=job.type(), job_name=job.name(), **values)


def _default(field: attrs.Attribute[Any]) -> Any:
    default: Any = field.default
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        return msgspec.field(default_factory=default.factory)
    return default


def ours_round_trip(job: BaseJob) -> None:
    type(job)(job.type(), job.name()).deserialize(job.serialize())


def msgspec_round_trip(codec: MsgspecCodec, job: BaseJob) -> None:
    codec.deserialize(job, codec.serialize(job))


def time_round_trips(number: int, repeat: int) -> list[list[object]]:
    """Microseconds per round trip, ours and msgspec's, taking turns."""
    rows = []
    for label, job in jobs().items():
        codec = MsgspecCodec(type(job))
        assert codec.deserialize(job, codec.serialize(job)) == job == _ours(job), label
        cases = {
            "ours": functools.partial(timeit.timeit, functools.partial(ours_round_trip, job), number=number),
            "msgspec": functools.partial(
                timeit.timeit, functools.partial(msgspec_round_trip, codec, job), number=number
            ),
        }
        times = interleaved(cases, repeat)
        ours, theirs = (times[k] / number * 1e6 for k in ("ours", "msgspec"))
        rows.append([label, len(job.serialize()), f"{ours:.1f}", f"{theirs:.1f}", f"{ours / theirs:.1f}x"])
    return rows


def time_import(repeat: int) -> list[list[str]]:
    """The first serialize in a process: what importing msgspec adds."""
    cases = {
        "import spincycle_jobs": functools.partial(run_once, "import spincycle_jobs", {}),
        "import spincycle_jobs, msgspec": functools.partial(run_once, "import spincycle_jobs, msgspec", {}),
    }
    times = interleaved(cases, repeat)
    base = times["import spincycle_jobs"]
    return [[name, f"{t * 1000:.1f}", f"{(t - base) * 1000:.1f}"] for name, t in times.items()]


BAD_INPUTS = {
    "str for a nested int": b'{"hosts": [{"name": "a", "port": "22"}]}',
    "unknown field": b'{"colour": "red"}',
    "enum value": b'{"color": "green"}',
    "Arabic-Indic int key": '{"by_id": {"\u0661": "x"}}'.encode(),
    "1e999": b'{"pair": [1e999, "x"]}',
}


_CELL = 72  # characters of a message shown in a table cell


def error_messages() -> list[list[str]]:
    """The message each codec gives for the same bad input."""
    codec = MsgspecCodec(Rich)
    rows = []
    for label, data in BAD_INPUTS.items():
        said = []
        for deserialize in (
            Rich("rich", "r").deserialize,
            functools.partial(codec.deserialize, Rich("rich", "r")),
        ):
            try:
                deserialize(data)
            except JobError as err:
                said.append(str(err).removeprefix("cannot deserialize job 'r' of type 'rich': ")[:_CELL])
            else:
                said.append("(accepted)")
        rows.append([label, *said])
    return rows


class Blank(BaseJob):
    """A job with no fields, to give one field of any type (no fields: no @attrs.define needed)."""

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return()


SERIALIZE_BAD: dict[str, dict[str, Any]] = {
    "NaN in a float field": {"ratio": float("nan")},
    "a lone surrogate": {"text": "caf\udce9"},
}


def serialize_messages() -> list[list[str]]:
    """What each codec does when asked to serialize what JSON cannot carry."""
    codec = MsgspecCodec(Small)
    rows = []
    for label, values in SERIALIZE_BAD.items():
        job = Small("small", "s", **values)
        said = []
        for serialize in (job.serialize, functools.partial(codec.serialize, job)):
            try:
                said.append(f"writes {serialize()!r}"[:_CELL])
            except (JobError, UnicodeError) as err:
                text = str(err).removeprefix("cannot serialize job 's' of type 'small': ")
                said.append(f"{type(err).__name__}: {text}"[:_CELL])
        rows.append([label, *said])
    return rows


@attrs.define
class Other:
    size: int = 0


TYPES: dict[str, tuple[Any, Any]] = {
    "None": (None, None),
    "bool": (bool, True),
    "int (400 digits)": (int, 10**400),
    "float": (float, 0.5),
    "str": (str, "café"),
    "enum": (Color, Color.BLUE),
    "datetime, date, time": (
        tuple[dt.datetime, dt.date, dt.time],
        (dt.datetime(2020, 1, 2, tzinfo=dt.UTC), dt.date(2020, 1, 2), dt.time(3)),
    ),
    "attrs class": (Host, Host("a")),
    "list[X]": (list[int], [1, 2]),
    "tuple[X, ...]": (tuple[int, ...], (1, 2)),
    "tuple[int, str]": (tuple[int, str], (1, "a")),
    "dict[str, X]": (dict[str, int], {"a": 1}),
    "dict[int, X]": (dict[int, str], {1: "a"}),
    "dict[Enum, X]": (dict[Color, int], {Color.RED: 1}),
    "Literal": (Literal["fast", "safe"], "fast"),
    "X | None": (int | None, None),
    "datetime | str (tried in order)": (dt.datetime | str, "not a date"),
    "Host | Other (two attrs classes)": (Host | Other, Other(3)),
    "Any": (Any, {"a": [1, None]}),
}


def field_types() -> list[list[str]]:
    """Whether each codec carries a field of each type there and back, equal."""
    rows = []
    for label, (tp, value) in TYPES.items():
        one = attrs.define(type("One", (Blank,), {"__annotations__": {"value": tp}, "value": None}))
        job = one("one", "o", value)
        verdicts = []
        for round_trip in (_ours, _msgspec):
            try:
                verdicts.append("yes" if round_trip(job).value == value else "comes back different")
            except (JobError, TypeError, ValueError, msgspec.MsgspecError) as err:
                verdicts.append(f"no: {type(err).__name__}: {err}"[:_CELL])
        rows.append([label, *verdicts])
    return rows


def _ours(job: Any) -> Any:
    fresh = type(job)(job.type(), job.name())
    fresh.deserialize(job.serialize())
    return fresh


def _msgspec(job: Any) -> Any:
    codec = MsgspecCodec(type(job))
    return codec.deserialize(job, codec.serialize(job))


def main() -> None:
    """Print the four tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="round trips per timing")
    parser.add_argument("--repeat", type=int, default=7, help="timings per row; the median is shown")
    opts = parser.parse_args()
    print(f"msgspec {msgspec.__version__}\n")
    print("Round trip per job, microseconds (median of the runs)")
    header = ["job", "bytes", "ours", "msgspec", "ours / msgspec"]
    print(table(header, time_round_trips(opts.number, opts.repeat)))
    print("\nThe first serialize in a process, ms (new processes, median)")
    print(table(["process", "ms", "more"], time_import(max(opts.repeat, 11))))
    print("\nError messages for the same bad input")
    print(table(["input", "ours", "msgspec"], error_messages()))
    print("\nSerializing what JSON cannot carry")
    print(table(["value", "ours", "msgspec"], serialize_messages()))
    print("\nField types carried there and back")
    print(table(["field type", "ours", "msgspec"], field_types()))


if __name__ == "__main__":
    main()
