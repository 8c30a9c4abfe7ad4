"""Job and chain documents follow the one wire rule of the records that cross a process or a release.

A document of a later minor version, with fields this release does not
know at every level (the document, each chain job, each job record), is
read as the fields it knows; one of another major version is refused,
naming both versions; a known field that is missing takes its default, or
is refused, naming it. The sha256 covers whatever the document holds.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import Chain
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainError
from spincycle_jobs import Factory
from spincycle_jobs import Try
from spincycle_jobs import WireError
from spincycle_jobs._chain import _CHAIN_FIELDS
from spincycle_jobs._chain import _JOB_FIELDS
from spincycle_jobs._document import _RECORD_FIELDS
from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import DocumentError
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import load_document

from .jobs import Echo
from .jobs import offering
from .test_canonical import canonical

KNOWN = {"format", "sha256", "request_id", "jobs", "id", "record", "after", "retry", "retry_wait", "state"}
KNOWN |= {"tries", "job_data", "error", "finished", "type", "name", "data", "job_args", "plugin"}
KNOWN |= {"distribution", "version"}
#: Keys a later release might add, and JSON values it might give them.
NEW_KEYS = st.text(min_size=1, max_size=12).filter(lambda k: k not in KNOWN)
NEW_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
EXTRA = st.dictionaries(NEW_KEYS, NEW_VALUES, max_size=3)


@pytest.fixture(scope="module")
def factory() -> Factory:
    return Factory(autoload=False, plugins=[offering(echo=Echo)])


def chain_of(factory: Factory) -> Chain:
    builder = ChainBuilder("req", {"text": "hi"}, factory=factory)
    builder.job("a", "echo", "first")
    builder.job("b", "echo", "second", after=["a"], retry=2, retry_wait=0.5)
    return builder.build()


def written(body: dict[str, Any], tag: str) -> str:
    """``body`` as a document tagged ``tag``, as a later release writes it: its sha256 over all of it.

    The hash is of the canonical form as docs/cli.rst describes it, not as this release computes it.
    """
    doc = {"format": tag, **body}
    digest = hashlib.sha256(canonical(doc).encode("ascii")).hexdigest()
    return json.dumps({**doc, "sha256": digest}, indent=1)


def body_of(text: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(text)
    del doc["format"], doc["sha256"]
    return doc


class TestLaterMinorVersions:
    @given(top=EXTRA, job=EXTRA, record=EXTRA, minor=st.integers(0, 99))
    def test_a_chain_document_with_new_fields_everywhere_reads(
        self, factory: Factory, top: dict[str, Any], job: dict[str, Any], record: dict[str, Any], minor: int
    ) -> None:
        chain = chain_of(factory)
        body = body_of(chain.to_json())
        body.update(top)
        for entry in body["jobs"]:
            entry.update(job)
            entry["record"].update(record)
        assert Chain.from_json(written(body, f"spincycle-jobs/chain/1.{minor}")) == chain

    @given(record=EXTRA, minor=st.integers(0, 99))
    def test_a_job_document_with_new_fields_reads(
        self, factory: Factory, record: dict[str, Any], minor: int
    ) -> None:
        made = JobRecord.create(factory, "echo", "e", {"text": "hi"})
        body = made.to_dict() | record
        read = load_document(written(body, f"spincycle-jobs/job/1.{minor}"), JOB_FORMAT, "job.json")
        assert JobRecord.from_dict(read, "job.json") == made

    def test_what_this_release_writes_names_the_major_version_alone(self, factory: Factory) -> None:
        assert json.loads(chain_of(factory).to_json())["format"] == "spincycle-jobs/chain/1"


class TestOtherMajorVersions:
    @pytest.mark.parametrize("version", ["2", "2.0", "0.9", "1.x", "1.", "10"])
    def test_a_chain_document_of_another_major_version_is_refused(
        self, factory: Factory, version: str
    ) -> None:
        body = body_of(chain_of(factory).to_json())
        with pytest.raises(
            ChainError, match=rf"chain document version {version} is not 1\.x, the version read"
        ):
            Chain.from_json(written(body, f"spincycle-jobs/chain/{version}"), "chain.json")

    def test_a_job_document_of_another_major_version_is_refused(self, factory: Factory) -> None:
        body = JobRecord.create(factory, "echo", "e", {"text": "hi"}).to_dict()
        with pytest.raises(DocumentError, match=r"job\.json: job document version 2\.1 is not 1\.x"):
            load_document(written(body, "spincycle-jobs/job/2.1"), JOB_FORMAT, "job.json")


class TestMissingFields:
    def test_optional_fields_take_their_defaults(self, factory: Factory) -> None:
        """A chain job written with only its id and record is a pending job after nothing, as built."""
        body = body_of(chain_of(factory).to_json())
        for entry in body["jobs"]:
            for key in ("after", "retry", "retry_wait", "state", "tries", "job_data", "error", "finished"):
                del entry[key]
            for key in ("job_args", "plugin", "distribution", "version"):
                del entry["record"][key]
        chain = Chain.from_json(written(body, "spincycle-jobs/chain/1"))
        b = chain.jobs["b"]
        assert (b.after, b.retry, b.retry_wait, b.state.name, b.tries, b.job_data, b.error, b.finished) == (
            (),
            0,
            0.0,
            "PENDING",
            0,
            None,
            None,
            None,
        )
        assert (b.record.job_args, b.record.distribution) == ({}, None)

    @pytest.mark.parametrize(
        ("where", "key"),
        [("jobs", "id"), ("jobs", "record"), ("record", "type"), ("record", "data"), ("top", "request_id")],
    )
    def test_a_required_field_that_is_missing_is_refused_by_name(
        self, factory: Factory, where: str, key: str
    ) -> None:
        body = body_of(chain_of(factory).to_json())
        holder = {"top": body, "jobs": body["jobs"][0], "record": body["jobs"][0]["record"]}[where]
        del holder[key]
        with pytest.raises(ChainError, match=f"field '{key}' is missing"):
            Chain.from_json(written(body, "spincycle-jobs/chain/1"), "chain.json")

    @pytest.mark.parametrize("key", ["type", "name", "data"])
    def test_a_job_document_without_a_required_field_is_refused_by_name(
        self, factory: Factory, key: str
    ) -> None:
        body = JobRecord.create(factory, "echo", "e", {"text": "hi"}).to_dict()
        del body[key]
        read = load_document(written(body, "spincycle-jobs/job/1"), JOB_FORMAT, "job.json")
        with pytest.raises(DocumentError, match=rf"^job\.json: field '{key}' is missing$"):
            JobRecord.from_dict(read, "job.json")


class TestWrongTypes:
    @pytest.mark.parametrize(
        ("key", "value", "what"),
        [
            ("type", 1, "a string"),
            ("name", None, "a string"),
            ("data", [], r"a string \(base64\)"),
            ("job_args", [], "an object or null"),
            ("version", 1.5, "a string or null"),
        ],
    )
    def test_a_job_document_field_of_the_wrong_type_is_refused_by_name(
        self, factory: Factory, key: str, value: object, what: str
    ) -> None:
        body = JobRecord.create(factory, "echo", "e", {"text": "hi"}).to_dict() | {key: value}
        read = load_document(written(body, "spincycle-jobs/job/1.2"), JOB_FORMAT, "job.json")
        with pytest.raises(DocumentError, match=rf"^job\.json: field '{key}' is not {what}$"):
            JobRecord.from_dict(read, "job.json")

    @given(key=st.sampled_from(["retry", "tries", "finished", "after", "id", "job_data"]))
    def test_a_chain_job_field_of_the_wrong_type_is_refused_naming_the_job_and_field(
        self, factory: Factory, key: str
    ) -> None:
        body = body_of(chain_of(factory).to_json())
        body["jobs"][1][key] = True  # a JSON boolean is no count, list, id or object
        with pytest.raises(ChainError, match=rf"^chain\.json, job #2: field '{key}' is not ") as caught:
            Chain.from_json(written(body, "spincycle-jobs/chain/1.3"), "chain.json")
        assert caught.value.job_id == (None if key == "id" else "b")


class TestTheHash:
    @given(record=EXTRA.filter(bool))
    def test_it_covers_the_fields_unknown_here(self, factory: Factory, record: dict[str, Any]) -> None:
        """A field this release ignores is still hashed: changing it after the hash is refused."""
        chain = chain_of(factory)
        body = body_of(chain.to_json())
        body["jobs"][0]["record"].update(record)
        text = written(body, "spincycle-jobs/chain/1.3")
        doc = json.loads(text)
        key = next(iter(record))
        doc["jobs"][0]["record"][key] = {"changed": doc["jobs"][0]["record"][key]}
        with pytest.raises(ChainError, match=r"chain\.json does not match its sha256"):
            Chain.from_json(json.dumps(doc), "chain.json")

    def test_what_this_release_writes_is_hashed_as_described(self, factory: Factory) -> None:
        text = chain_of(factory).to_json()
        assert json.loads(written(body_of(text), "spincycle-jobs/chain/1")) == json.loads(text)


class TestTags:
    @given(major=st.integers(0, 10**6).filter(lambda n: n != 1), minor=st.none() | st.integers(0, 99))
    def test_any_other_major_version_is_refused_naming_both(
        self, factory: Factory, major: int, minor: int | None
    ) -> None:
        version = str(major) if minor is None else f"{major}.{minor}"
        body = JobRecord.create(factory, "echo", "e", {"text": "hi"}).to_dict()
        text = written(body, f"spincycle-jobs/job/{version}")
        with pytest.raises(
            DocumentError,
            match=rf"^job\.json: job document version {version} is not 1\.x, the version read here$",
        ):
            load_document(text, JOB_FORMAT, "job.json")

    @pytest.mark.parametrize("version", ["1.\u00b2", "1.\u0663", "1.-1", "1.+1", " 1", "1.0.1"])
    def test_a_minor_version_is_ascii_digits(self, factory: Factory, version: str) -> None:
        body = body_of(chain_of(factory).to_json())
        with pytest.raises(ChainError, match=r"chain document version '?.+'? is not 1\.x"):
            Chain.from_json(written(body, f"spincycle-jobs/chain/{version}"), "chain.json")

    def test_a_huge_tag_is_shown_cut_short(self, factory: Factory) -> None:
        body = body_of(chain_of(factory).to_json())
        for tag in ("spincycle-jobs/chain/" + "9" * 100_000, "x" * 100_000):
            with pytest.raises(ChainError) as caught:
                Chain.from_json(written(body, tag), "chain.json")
            assert len(str(caught.value)) < 200


class TestTheFieldsDeclared:
    """What a release writes is what it reads: the declared fields are the keys written, at every level."""

    def test_a_chain_document(self, factory: Factory) -> None:
        body = body_of(chain_of(factory).to_json())
        assert set(body) == {field.name for field in _CHAIN_FIELDS}
        assert set(body["jobs"][0]) == {field.name for field in _JOB_FIELDS}
        assert set(body["jobs"][0]["record"]) == {field.name for field in _RECORD_FIELDS}

    def test_a_try_with_a_bad_record_is_a_wire_error(self, factory: Factory) -> None:
        """A job record inside a wire record is read by the same rule, refused as a wire record is."""
        record = JobRecord.create(factory, "echo", "e", {"text": "hi"})
        sent = Try("req", "a", record, {}, 1).to_dict()
        sent["record"]["data"] = "!!"
        with pytest.raises(WireError, match=r"^the try, field 'record': field 'data' is not base64"):
            Try.from_dict(sent)
        del sent["record"]["type"]
        with pytest.raises(WireError, match=r"^the try, field 'record': field 'type' is missing$"):
            Try.from_dict(sent)
