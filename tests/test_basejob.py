from __future__ import annotations

import contextlib
import datetime as dt
import enum
import functools
import json
import threading
from typing import Any
from typing import ClassVar
from typing import Literal

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import BaseJob
from spincycle_jobs import Factory
from spincycle_jobs import Job
from spincycle_jobs import JobError
from spincycle_jobs import PluginError
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs._basejob import PlainStateError
from spincycle_jobs.testing import deserialize

from .jobs import Echo
from .jobs import offering


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.define
class Host:
    name: str
    port: int = 22
    tags: tuple[str, ...] = ()


@attrs.define
class Rich(BaseJob):
    """A job with a field of every supported kind."""

    text: str = ""
    count: int = 0
    ratio: float = 0.0
    flag: bool = False
    color: Color = Color.RED
    level: Level = Level.LOW
    when: dt.datetime = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    day: dt.date = dt.date(2020, 1, 1)
    hosts: list[Host] = attrs.Factory(list)
    by_name: dict[str, Host] = attrs.Factory(dict)
    by_id: dict[int, str] = attrs.Factory(dict)
    pair: tuple[int, str] = (0, "")
    maybe: int | None = None
    either: int | str = 0
    mode: Literal["fast", "safe"] = "safe"
    anything: Any = None
    _cache: dict[str, Any] = attrs.field(factory=dict, init=False)

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return(State.COMPLETE)


def round_trip(job: BaseJob) -> Rich:
    fresh = Rich(job.type(), job.name())
    fresh.deserialize(job.serialize())
    return fresh


class TestBaseJob:
    def test_is_a_job(self) -> None:
        """A BaseJob subclass is a Job made as Sub(job_type, job_name)."""
        job = Rich("rich", "r1")
        assert isinstance(job, Job)
        assert (job.type(), job.name()) == ("rich", "r1")

    def test_status_and_stop(self) -> None:
        """set_status feeds status(); stop() wakes wait() and is idempotent."""
        job = Rich("rich", "r1")
        job.set_status("working")
        assert job.status() == "working"
        assert job.wait(0) is False
        assert not job.stopped
        woke: list[bool] = []
        waiter = threading.Thread(target=lambda: woke.append(job.wait(30)))
        waiter.start()
        job.stop()
        job.stop()
        waiter.join(5)
        assert woke == [True]
        assert job.stopped

    def test_runtime_fields_not_serialized(self) -> None:
        """Fields declared with init=False, and the base's own state, stay out of the JSON."""
        job = Rich("rich", "r1")
        job._cache["x"] = object()
        data = json.loads(job.serialize())
        assert "cache" not in data
        assert "_cache" not in data
        assert not {"job_type", "job_name", "_job_type", "_status"} & set(data)

    def test_round_trip_restores_types(self) -> None:
        """Nested attrs classes, enums, dates, tuples, dicts and unions come back with their types."""
        job = Rich("rich", "r1")
        job.hosts = [Host("a", 1, ("x",))]
        job.by_name = {"b": Host("b")}
        job.by_id = {7: "seven"}
        job.color, job.level = Color.BLUE, Level.HIGH
        job.pair, job.maybe, job.either, job.mode = (1, "one"), 5, "five", "fast"
        back = round_trip(job)
        assert back.hosts == [Host("a", 1, ("x",))]
        assert type(back.hosts[0].tags) is tuple
        assert back.by_name == {"b": Host("b")}
        assert back.by_id == {7: "seven"}
        assert back.color is Color.BLUE
        assert back.level is Level.HIGH
        assert (back.pair, back.maybe, back.either, back.mode) == ((1, "one"), 5, "five", "fast")
        assert back.when == job.when
        assert back.serialize() == job.serialize()

    def test_serialize_is_compact_sorted_json(self) -> None:
        """serialize() returns compact JSON bytes with sorted keys."""
        blob = Rich("rich", "r1").serialize()
        assert isinstance(blob, bytes)
        assert list(json.loads(blob)) == sorted(json.loads(blob))
        assert b": " not in blob

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ({1, 2}, "field anything: cannot serialize a value of type set"),
            (float("nan"), "field anything: nan is not a finite number"),
            ({"k": object()}, "field anything\\['k'\\]: cannot serialize a value of type object"),
        ],
        ids=["set", "nan", "nested-object"],
    )
    def test_unserializable_value(self, value: Any, message: str) -> None:
        """A value JSON cannot carry raises a JobError naming the job and the field."""
        job = Rich("rich", "r1")
        job.anything = value
        with pytest.raises(JobError, match=f"cannot serialize job 'r1' of type 'rich': {message}"):
            job.serialize()

    @pytest.mark.parametrize(
        ("mutate", "message"),
        [
            (lambda d: d.update(hosts=[{"port": 1}]), "field hosts\\[0\\].name: missing field, which has no"),
            (lambda d: d.update(count="3"), "field count: expected int, got str"),
            (lambda d: d.update(count=True), "field count: expected int, got bool"),
            (lambda d: d.update(extra=1), "field extra: unknown field$"),
            (lambda d: d.update(color="green"), "field color: expected .*Color"),
            (
                lambda d: d.update(hosts=[{"name": "a", "port": "22"}]),
                "field hosts\\[0\\].port: expected int",
            ),
            (lambda d: d.update(pair=[1]), "field pair: expected 2 items, got 1"),
            (lambda d: d.update(when="yesterday"), "field when: expected .*datetime"),
            (lambda d: d.update(mode="slow"), "field mode: expected Literal"),
            (lambda d: d.update(either=[1]), "field either: expected int \\| str"),
        ],
        ids=[
            "missing",
            "str-for-int",
            "bool-for-int",
            "extra",
            "enum",
            "nested",
            "tuple",
            "date",
            "lit",
            "union",
        ],
    )
    def test_bad_field_names_job_and_field(self, mutate: Any, message: str) -> None:
        """A missing field without a default, an unknown or a mistyped field raises a JobError naming it."""
        data = json.loads(Rich("rich", "r1").serialize())
        mutate(data)
        job = Rich("rich", "r1")
        job.count = 42
        with pytest.raises(JobError, match=f"cannot deserialize job 'r1' of type 'rich': {message}"):
            job.deserialize(json.dumps(data).encode())
        assert job.count == 42  # nothing changed

    @pytest.mark.parametrize(
        "blob", [b"", b"\xff\xfe\x00", b"[1, 2]", b"null", b"[" * 100_000, b'{"ratio": NaN}']
    )
    def test_not_json(self, blob: bytes) -> None:
        """Bytes that are not a JSON object raise a JobError."""
        with pytest.raises(JobError, match="cannot deserialize job 'r1' of type 'rich'"):
            Rich("rich", "r1").deserialize(blob)


hosts = st.builds(Host, st.text(), st.integers(), st.lists(st.text()).map(tuple))
finite = st.floats(allow_nan=False, allow_infinity=False)


@given(
    text=st.text(),
    count=st.integers(),
    ratio=finite,
    flag=st.booleans(),
    color=st.sampled_from(Color),
    level=st.sampled_from(Level),
    when=st.datetimes(timezones=st.none() | st.timezones()),
    day=st.dates(),
    host_list=st.lists(hosts, max_size=3),
    by_name=st.dictionaries(st.text(), hosts, max_size=3),
    by_id=st.dictionaries(st.integers(), st.text(), max_size=3),
    pair=st.tuples(st.integers(), st.text()),
    maybe=st.none() | st.integers(),
    either=st.integers() | st.text(),
    mode=st.sampled_from(["fast", "safe"]),
)
def test_round_trip_any_values(  # noqa: PLR0913 - one argument per field
    text: str,
    count: int,
    ratio: float,
    flag: bool,  # noqa: FBT001
    color: Color,
    level: Level,
    when: dt.datetime,
    day: dt.date,
    host_list: list[Host],
    by_name: dict[str, Host],
    by_id: dict[int, str],
    pair: tuple[int, str],
    maybe: int | None,
    either: int | str,
    mode: Literal["fast", "safe"],
) -> None:
    """Any field values survive serialize, deserialize, serialize unchanged."""
    job = Rich("rich", "r")
    job.text, job.count, job.ratio, job.flag = text, count, ratio, flag
    job.color, job.level, job.when, job.day = color, level, when, day
    job.hosts, job.by_name, job.by_id = host_list, by_name, by_id
    job.pair, job.maybe, job.either, job.mode = pair, maybe, either, mode
    back = round_trip(job)
    assert attrs.evolve(back, when=job.when) == job
    assert same_instant(back.when, job.when)
    assert back.serialize() == job.serialize()


def same_instant(back: dt.datetime, sent: dt.datetime) -> bool:
    """Whether ``back`` is ``sent`` as the codec keeps it: same offset and wall time, or same naive time."""
    if sent.tzinfo is None:
        return back == sent and back.tzinfo is None
    assert isinstance(back.tzinfo, dt.timezone)
    return back.utcoffset() == sent.utcoffset() and back.replace(tzinfo=None) == sent.replace(tzinfo=None)


@given(st.binary())
def test_random_bytes_only_raise_job_error(blob: bytes) -> None:
    """deserialize of arbitrary bytes either works or raises JobError, nothing else."""
    with contextlib.suppress(JobError):
        Rich("rich", "r").deserialize(blob)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
)
FIELDS = [f.name for f in attrs.fields(Rich) if f.init][2:]  # past the job's type and name


@given(field=st.sampled_from(FIELDS), value=json_values)
def test_random_json_only_raises_job_error(field: str, value: Any) -> None:
    """Any JSON value in any field either raises a JobError naming it, or round-trips from then on."""
    data = json.loads(Rich("rich", "r").serialize()) | {field: value}
    job = Rich("rich", "r")
    try:
        job.deserialize(json.dumps(data).encode())
    except JobError as err:
        refused = str(err)
    else:
        refused = ""
        again = Rich("rich", "r")
        again.deserialize(job.serialize())
        assert again.serialize() == job.serialize()
    assert not refused or f"field {field}" in refused or "not a JSON value" in refused


@attrs.define
class Unresolvable(BaseJob):
    later: NotDefinedAnywhere = None  # type: ignore[name-defined]  # noqa: F821

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return(State.COMPLETE)


@attrs.define
class Unsupported(Echo):
    later: set[int] = attrs.Factory(set)


@attrs.define
class Keyed(Echo):
    keyed: dict[Color, int] = attrs.Factory(dict)
    day: dt.date = dt.date(2020, 1, 1)
    raw: list = attrs.Factory(list)  # type: ignore[type-arg]


class TestCodecEdges:
    def test_unresolvable_annotation(self) -> None:
        """An annotation that names nothing is a JobError naming the class."""
        with pytest.raises(JobError, match="cannot resolve the field annotations of Unresolvable"):
            Unresolvable("u", "u").serialize()

    def test_unsupported_field_type(self) -> None:
        """A field of a type the codec does not carry fails both ways with a clear message."""
        job = Unsupported("u", "u")
        with pytest.raises(JobError, match="field later: cannot serialize a value of type set"):
            job.serialize()
        with pytest.raises(JobError, match="field later: unsupported type set"):
            job.deserialize(b'{"later": [1], "text": ""}')

    def test_enum_keys_date_and_bare_list(self) -> None:
        """Enum dict keys, dates and a bare list round-trip with their types."""
        job = Keyed("k", "k")
        job.keyed, job.day, job.raw = {Color.RED: 1, Color.BLUE: 2}, dt.date(2021, 2, 3), [1, "a", None]
        back = Keyed("k", "k")
        back.deserialize(job.serialize())
        assert (back.keyed, back.day, back.raw) == (job.keyed, job.day, job.raw)
        assert back.serialize() == job.serialize()

    @pytest.mark.parametrize(
        ("keyed", "day", "message"),
        [
            ({"green": 1}, "2021-02-03", "field keyed key: expected .*Color"),
            ({}, "2021-02-03T04:05:06", "field day: expected datetime.date"),
            ({}, 20210203, "field day: expected datetime.date, got int"),
        ],
        ids=["enum-key", "datetime-for-date", "not-a-string"],
    )
    def test_bad_keys_and_dates(self, keyed: Any, day: Any, message: str) -> None:
        """A dict key that is no member of its enum, or a date that is not a date, names the field."""
        data = {"keyed": keyed, "day": day, "raw": [], "text": ""}
        with pytest.raises(JobError, match=message):
            Keyed("k", "k").deserialize(json.dumps(data).encode())

    def test_dict_key_that_json_cannot_carry(self) -> None:
        """A dict key that is neither str, int nor enum fails serialize, naming the field."""
        job = Rich("rich", "r")
        job.anything = {(1, 2): "tuple key"}
        with pytest.raises(JobError, match="field anything: cannot serialize a dict key of type tuple"):
            job.serialize()


@attrs.define
class Old(Echo):
    """Version 1 of a job: one field, ``text``."""


@attrs.define
class New(Echo):
    """Version 2: a new field with a default; ``legacy`` was dropped and may be ignored."""

    ignorable_fields = frozenset({"legacy"})
    seen: ClassVar[list[tuple[dict[str, Any], str | None]]] = []

    overwrite: bool = False

    @classmethod
    def migrate(cls, fields: dict[str, Any], version: str | None) -> dict[str, Any]:
        cls.seen.append((dict(fields), version))
        if "txt" in fields:  # version 0.0.1 called it txt
            fields["text"] = fields.pop("txt")
        return fields


class TestUpgrades:
    def test_missing_field_takes_its_default(self) -> None:
        """A field that an older version did not write takes its default."""
        job = New("new", "n")
        job.overwrite = True
        deserialize(job, Old("old", "o", text="hi").serialize(), version="0.1.0", running_version="0.2.0")
        assert (job.text, job.overwrite) == ("hi", False)

    def test_unknown_field_names_it_and_both_versions(self) -> None:
        """A field this version does not know is refused, naming the field and both versions."""
        data = New("new", "n", text="hi", overwrite=True).serialize()
        job = Old("old", "o", text="kept")
        versions = "\\(the data was created by version 0.2.0; this is version 0.1.0\\)"
        with pytest.raises(JobError, match=f"field overwrite: unknown field {versions}"):
            deserialize(job, data, version="0.2.0", running_version="0.1.0")
        assert job.text == "kept"

    def test_unknown_version_is_said(self) -> None:
        """Without versions, the message says nothing of them; with one unknown, it says so."""
        with pytest.raises(JobError, match="field overwrite: unknown field$"):
            Old("old", "o").deserialize(b'{"overwrite": true}')
        with pytest.raises(JobError, match="created by an unknown version; this is version 0.1.0"):
            deserialize(Old("old", "o"), b'{"overwrite": true}', running_version="0.1.0")

    def test_ignorable_field_is_dropped(self) -> None:
        """A field listed in ignorable_fields is dropped without a word."""
        job = New("new", "n")
        deserialize(job, b'{"legacy": [1, 2], "text": "hi"}', version="0.1.0", running_version="0.2.0")
        assert job.text == "hi"

    def test_migrate_gets_raw_fields_and_version(self) -> None:
        """migrate gets the parsed fields and the creating version, and its result is read."""
        New.seen.clear()
        job = New("new", "n")
        deserialize(job, b'{"txt": "hi"}', version="0.0.1", running_version="0.2.0")
        assert New.seen == [({"txt": "hi"}, "0.0.1")]
        assert job.text == "hi"

    def test_migrate_only_across_versions(self) -> None:
        """migrate is not called when the versions are the same, or not given."""
        New.seen.clear()
        New("new", "n").deserialize(b'{"text": "a"}')
        deserialize(New("new", "n"), b'{"text": "a"}', version="0.2.0", running_version="0.2.0")
        assert New.seen == []

    @pytest.mark.parametrize(
        ("migrate", "message"),
        [
            (lambda fields, version: fields["nope"], "migrate raised KeyError: 'nope'"),
            (lambda fields, version: [fields], "migrate returned list, not a dict of fields"),
        ],
        ids=["raises", "returns-list"],
    )
    def test_bad_migrate_is_a_job_error(
        self, monkeypatch: pytest.MonkeyPatch, migrate: Any, message: str
    ) -> None:
        """A migrate hook that raises or returns no dict gives a JobError, and the job is unchanged."""
        monkeypatch.setattr(New, "migrate", classmethod(lambda cls, f, v: migrate(f, v)))
        job = New("new", "n", text="kept")
        with pytest.raises(JobError, match=message):
            deserialize(job, b'{"text": "hi"}', version="0.1.0", running_version="0.2.0")
        assert job.text == "kept"

    def test_nested_class_field_takes_its_default(self) -> None:
        """A field of a nested attrs class that the data lacks takes its default too."""
        job = Rich("rich", "r")
        job.deserialize(b'{"hosts": [{"name": "a"}]}')
        assert job.hosts == [Host("a", 22, ())]


@attrs.define
class Overriding(New):
    """Overrides deserialize with the seed's signature, and calls super(), as the Job interface shows."""

    loaded: bool = attrs.field(default=False, init=False)

    def deserialize(self, data: bytes) -> None:
        super().deserialize(data)
        self.loaded = True


class TestVersionsTold:
    def test_an_override_with_the_seed_signature_gets_the_versions(self) -> None:
        """A deserialize override that calls super() still has the data migrated across versions."""
        New.seen.clear()
        job = Overriding("new", "n")
        deserialize(job, b'{"txt": "hi"}', version="0.0.1", running_version="0.2.0")
        assert (job.text, job.loaded) == ("hi", True)
        assert New.seen == [({"txt": "hi"}, "0.0.1")]

    def test_the_versions_are_told_to_that_job_alone(self) -> None:
        """Another job deserialized while the versions are told is told nothing."""
        other = New("new", "other")

        @attrs.define
        class Nesting(New):
            def deserialize(self, data: bytes) -> None:
                other.deserialize(b'{"txt": "x"}')  # no versions: txt is an unknown field

        with pytest.raises(JobError, match="field txt: unknown field$"):
            deserialize(Nesting("new", "n"), b"{}", version="0.0.1", running_version="0.2.0")

    def test_the_versions_stay_in_their_thread(self) -> None:
        """Versions told in one thread do not reach a deserialize in another one."""
        New.seen.clear()
        job = New("new", "n")
        errors: list[BaseException] = []

        def elsewhere() -> None:
            try:
                job.deserialize(b'{"text": "b"}')
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        class Spawning(New):
            def deserialize(self, data: bytes) -> None:
                thread = threading.Thread(target=elsewhere)
                thread.start()
                thread.join()
                super().deserialize(data)

        deserialize(Spawning("new", "s"), b'{"text": "a"}', version="0.1.0", running_version="0.2.0")
        assert errors == []
        assert New.seen == [({"text": "a"}, "0.1.0")]  # once, for the job in this thread

    def test_without_versions_nothing_is_migrated(self) -> None:
        """After the block, the job is told nothing again."""
        New.seen.clear()
        job = New("new", "n")
        deserialize(job, b'{"text": "a"}', version="0.1.0", running_version="0.2.0")
        job.deserialize(b'{"text": "b"}')
        assert New.seen == [({"text": "a"}, "0.1.0")]


@attrs.define
class Plain(Echo):
    """Keeps what create read in a plain attribute, not a field."""

    def create(self, job_args: dict[str, Any]) -> None:
        self.payload = job_args.get("payload")


@attrs.define
class TwoPlain(Echo):
    def create(self, job_args: dict[str, Any]) -> None:
        self.payload = 1
        self.more = 2


@attrs.define
class PostInit(Echo):
    """Sets an attribute in __attrs_post_init__: every new job has it, so nothing is lost."""

    def __attrs_post_init__(self) -> None:
        self.helper = "made with every job"


@attrs.define(slots=False)
class Unslotted(Echo):
    count: int = 0

    @functools.cached_property
    def twice(self) -> int:
        return self.count * 2

    def create(self, job_args: dict[str, Any]) -> None:
        self.count = 2
        assert self.twice == 4


class TestPlainState:
    def test_a_plain_attribute_from_create_is_refused_by_serialize(self) -> None:
        """serialize refuses state kept in a plain attribute, naming it and the fix."""
        job = Plain("plain", "p")
        job.create({"payload": "x"})
        with pytest.raises(
            PlainStateError,
            match="job 'p' of type 'plain': attribute 'payload' of Plain is not a field, so serialize would "
            "lose it .* declare it as a field of the attrs class \\(payload: T = default\\)",
        ) as info:
            job.serialize()
        assert isinstance(info.value, JobError)
        assert isinstance(info.value, TypeError)

    def test_every_plain_attribute_is_named(self) -> None:
        """Each plain attribute is named."""
        job = TwoPlain("two", "t")
        job.create({})
        with pytest.raises(PlainStateError, match="attributes 'more', 'payload' of TwoPlain are not fields"):
            job.serialize()

    @pytest.mark.parametrize("cls", [PostInit, Unslotted], ids=["post-init", "unslotted-cached-property"])
    def test_what_every_new_job_has_is_not_refused(self, cls: type[Echo]) -> None:
        """Attributes that every new job has, fields of a dict class and cached properties are kept."""
        job = cls("t", "n")
        job.create({})
        again = cls("t", "n")
        again.deserialize(job.serialize())
        assert again == job


def strip(text: str) -> str:
    return text.strip()


def positive(instance: Any, attribute: attrs.Attribute[int], value: int) -> None:
    if value < 0:
        msg = f"{attribute.name} must be positive, got {value}"
        raise ValueError(msg)


@attrs.define
class Checked(Echo):
    """Fields with validators, one across fields, and a converter."""

    low: int = attrs.field(default=0, validator=positive)
    high: int = attrs.field(default=0)
    code: Any = attrs.field(default=0, validator=attrs.validators.instance_of(int))
    label: str = attrs.field(default="", converter=strip)

    @high.validator
    def _above_low(self, attribute: attrs.Attribute[int], value: int) -> None:
        if value < self.low:
            msg = "high must not be below low"
            raise ValueError(msg)


class TestAllOrNothing:
    def test_validator_refusal_changes_nothing(self) -> None:
        """A validator that refuses a value gives a JobError, after which no field has changed."""
        job = Checked("c", "c", text="kept", low=1, high=2)
        with pytest.raises(
            JobError, match="the fields refused by the class's checks: ValueError: low must be"
        ):
            job.deserialize(b'{"text": "new", "low": -1, "high": 5}')
        assert (job.text, job.low, job.high) == ("kept", 1, 2)

    def test_attrs_validator_names_the_field(self) -> None:
        """An attrs validator's error names its field."""
        with pytest.raises(
            JobError, match="field code refused by the class's checks: TypeError: 'code' must be"
        ):
            Checked("c", "c").deserialize(b'{"code": "x"}')

    def test_fields_are_checked_together(self) -> None:
        """Validators see every new value at once: raising low and high together passes."""
        job = Checked("c", "c", low=0, high=0)
        job.deserialize(b'{"low": 5, "high": 10, "label": " x "}')
        assert (job.low, job.high, job.label) == (5, 10, "x")


class Undecorated(Echo):
    forgotten: int = 0


class NoFields(Echo):
    """A subclass that only overrides a method needs no decorator."""

    def status(self) -> str:
        return "fine"


class Middle(Echo):
    lost: str = ""


@attrs.define
class Leaf(Middle):
    kept: int = 0


class WithClassVar(Echo):
    limit: ClassVar[int] = 3


class TestDecorator:
    @pytest.mark.parametrize(
        ("cls", "names"),
        [
            (Undecorated, "Undecorated declares fields \\(forgotten\\)"),
            (Leaf, "Middle declares fields \\(lost\\)"),
        ],
        ids=["leaf", "middle"],
    )
    def test_missing_decorator_raises_at_first_make(self, cls: type[Echo], names: str) -> None:
        """A subclass that declares fields without @attrs.define raises a JobError naming it when made."""
        with pytest.raises(JobError, match=f"{names} but is not decorated with @attrs.define"):
            cls("u", "u")

    def test_factory_names_the_plugin(self) -> None:
        """Through a factory, the error names the plugin and keeps the cause."""
        factory = Factory(autoload=False, plugins=[offering(undecorated=Undecorated)])
        with pytest.raises(PluginError, match="offers-undecorated") as info:
            factory.make("undecorated", "u")
        assert "not decorated with @attrs.define" in str(info.value.__cause__)

    @pytest.mark.parametrize("cls", [NoFields, WithClassVar], ids=["methods-only", "class-var"])
    def test_no_new_fields_needs_no_decorator(self, cls: type[Echo]) -> None:
        """A subclass with no new fields (a ClassVar is none) works without the decorator."""
        job = cls("n", "n")
        job.deserialize(b'{"text": "hi"}')
        assert job.text == "hi"


@attrs.define
class Everything(Rich):
    """Rich with a validated field: deserialize must leave every field alone when anything fails."""

    small: int = attrs.field(default=0, validator=attrs.validators.le(10))


def snapshot(job: BaseJob) -> list[Any]:
    return [getattr(job, f.name) for f in attrs.fields(type(job))] + [job.serialize()]


@given(st.binary())
def test_random_bytes_change_nothing(blob: bytes) -> None:
    """deserialize of arbitrary bytes works or raises only a JobError, changing nothing."""
    job = Everything("e", "e", text="before", small=3)
    before = snapshot(job)
    try:
        job.deserialize(blob)
    except JobError:
        assert snapshot(job) == before


EVERY_FIELD = [f.name for f in attrs.fields(Everything) if f.init][2:]


@given(
    fields=st.dictionaries(st.sampled_from([*EVERY_FIELD, "unknown"]), json_values, min_size=1, max_size=4),
    version=st.sampled_from([None, "0.1.0"]),
)
def test_random_json_changes_nothing(fields: dict[str, Any], version: str | None) -> None:
    """Any JSON values in any fields give only a JobError that names a field, and change nothing."""
    job = Everything("e", "e", text="before", small=3)
    before = snapshot(job)
    try:
        deserialize(job, json.dumps(fields).encode(), version=version, running_version="0.2.0")
    except JobError as err:
        refused = str(err)
        assert snapshot(job) == before
    else:
        refused = "field "
    assert "field " in refused or "not a JSON value" in refused or "out of range" in refused
