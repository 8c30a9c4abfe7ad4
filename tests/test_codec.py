"""The codec against hostile input: every case gives a JobError naming the field, or a faithful value."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import zoneinfo
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import JobError

from .test_basejob import Rich


def deep_list(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def fields(**values: Any) -> bytes:
    """A serialized Rich job with ``values`` instead of its defaults."""
    return json.dumps(json.loads(Rich("rich", "r").serialize()) | values).encode()


class TestNesting:
    @pytest.mark.parametrize(
        "blob",
        [b"[" * 100_000 + b"]" * 100_000, b'{"anything": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"],
        ids=["document", "in-a-field"],
    )
    def test_deep_json(self, blob: bytes) -> None:
        """JSON nested 100,000 levels deep is a JobError, not a RecursionError."""
        with pytest.raises(JobError, match="not JSON"):
            Rich("rich", "r").deserialize(blob)

    def test_deep_value(self) -> None:
        """A value nested 100,000 levels deep (from job args, say) fails serialize, naming the field."""
        job = Rich("rich", "r")
        job.anything = deep_list(100_000)
        with pytest.raises(JobError, match="field anything: nested too deeply"):
            job.serialize()


class TestNumbers:
    def test_huge_int_in_a_float_field(self) -> None:
        """A 400-digit integer in a float field is a JobError naming the field, not an OverflowError."""
        with pytest.raises(JobError, match="field ratio: the int 1000.* is out of range for a float"):
            Rich("rich", "r").deserialize(fields(ratio=10**400))

    def test_huge_int_in_an_int_field(self) -> None:
        """A 400-digit integer in an int field round-trips: Python ints are unbounded."""
        job = Rich("rich", "r")
        job.deserialize(fields(count=10**400))
        assert job.count == 10**400

    def test_int_too_long_for_a_str(self) -> None:
        """An int beyond the interpreter's digit limit fails serialize, naming the field."""
        job = Rich("rich", "r")
        job.count = 10**5000
        with pytest.raises(JobError, match="field count: .*digits"):
            job.serialize()

    @pytest.mark.parametrize("number", [b"1e999", b"-1e999", b"1E400"], ids=["inf", "-inf", "upper"])
    def test_overflowing_float(self, number: bytes) -> None:
        """1e999 is refused like Infinity, not read as infinity."""
        with pytest.raises(JobError, match="out of range for a float"):
            Rich("rich", "r").deserialize(b'{"ratio": ' + number + b"}")

    @pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
    def test_constants(self, constant: bytes) -> None:
        """NaN and Infinity are not JSON."""
        with pytest.raises(JobError, match="is not a JSON value"):
            Rich("rich", "r").deserialize(b'{"anything": ' + constant + b"}")


class TestKeys:
    @pytest.mark.parametrize("key", ["\u0661", "01", "+1", " 1", "1_0", "-0", "1.0", ""])
    def test_int_key_not_as_written(self, key: str) -> None:
        """An int key that dump would not write (Arabic-Indic digits, padding, signs) is refused."""
        with pytest.raises(JobError, match="field by_id key: expected an int key written in ASCII digits"):
            Rich("rich", "r").deserialize(fields(by_id={key: "x"}))

    def test_arabic_indic_one_does_not_merge_with_one(self) -> None:
        """ "1" and an Arabic-Indic "1" are not silently merged into one key."""
        with pytest.raises(JobError, match="field by_id key"):
            Rich("rich", "r").deserialize(fields(by_id={"1": "a", "\u0661": "b"}))

    def test_negative_int_key(self) -> None:
        """A negative int key round-trips."""
        job = Rich("rich", "r")
        job.deserialize(fields(by_id={"-3": "x"}))
        assert job.by_id == {-3: "x"}

    def test_colliding_keys_on_serialize(self) -> None:
        """A dict whose keys write to the same JSON key fails serialize instead of losing one."""
        job = Rich("rich", "r")
        job.anything = {1: "int", "1": "str"}
        with pytest.raises(JobError, match="field anything: two dict keys are written as the same JSON key"):
            job.serialize()


class TestText:
    @pytest.mark.parametrize(
        ("where", "message"),
        [
            ({"text": "caf\udce9"}, "field text: 'caf\\\\udce9' is not UTF-8 text"),
            ({"hosts": [["h", "x\udcff"]]}, "field hosts\\[0\\]\\[1\\]: "),
            ({"by_name": {"k\udcff": None}}, "field by_name key: "),
        ],
        ids=["field", "nested", "key"],
    )
    def test_lone_surrogate_on_serialize(self, where: dict[str, Any], message: str) -> None:
        """A str from non-UTF-8 bytes (a lone surrogate) fails serialize with a JobError naming the field."""
        job = Rich("rich", "r")
        for name, value in where.items():
            setattr(job, name, value)
        with pytest.raises(JobError, match=message + ".*lone surrogate"):
            job.serialize()

    def test_lone_surrogate_on_deserialize(self) -> None:
        """Data holding an escaped lone surrogate is refused: it could not be serialized again."""
        with pytest.raises(JobError, match="lone surrogate"):
            Rich("rich", "r").deserialize(b'{"text": "caf\\udce9"}')

    def test_surrogate_pair_is_text(self) -> None:
        """An escaped surrogate pair is one character, and fine."""
        job = Rich("rich", "r")
        job.deserialize(b'{"text": "\\ud83d\\ude00"}')
        assert job.text == "\U0001f600"

    @pytest.mark.parametrize("data", [None, 42, "{}"], ids=["none", "int", "str"])
    def test_not_bytes(self, data: Any) -> None:
        """Anything but bytes or str is a JobError; a str of JSON is read."""
        job = Rich("rich", "r")
        if isinstance(data, str):
            job.deserialize(data)  # type: ignore[arg-type]
        else:
            with pytest.raises(JobError, match="not JSON"):
                job.deserialize(data)


class TestTimes:
    def test_named_zone_comes_back_with_its_offset(self) -> None:
        """A datetime in a named zone comes back with a fixed offset: the same instant, no zone name."""
        when = dt.datetime(2021, 3, 4, 5, 6, 7, tzinfo=zoneinfo.ZoneInfo("America/Buenos_Aires"))
        job = Rich("rich", "r")
        job.when = when
        back = Rich("rich", "r")
        back.deserialize(job.serialize())
        assert back.when == when
        assert back.when.tzinfo == dt.timezone(dt.timedelta(hours=-3))

    def test_time_in_a_named_zone_is_refused(self) -> None:
        """A time whose zone gives no UTC offset would come back naive: serialize refuses it."""
        job = Rich("rich", "r")
        job.anything = dt.time(5, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
        with pytest.raises(JobError, match="field anything: .*gives no UTC offset"):
            job.serialize()


FIELD_NAMES = [f.name for f in attrs.fields(Rich) if f.init][2:]


@given(name=st.sampled_from(FIELD_NAMES), blob=st.binary() | st.text().map(str.encode))
def test_any_bytes_in_any_field(name: str, blob: bytes) -> None:
    """Any bytes where a field's value goes, whatever its type, give a value or a JobError, nothing else."""
    job = Rich("rich", "r")
    with contextlib.suppress(JobError):
        job.deserialize(b'{"' + name.encode() + b'": ' + blob + b"}")
