"""Job and chain documents follow the one wire rule of the records that cross a process or a release.

A document of a later minor version, with fields this release does not
know at every level (the document, each chain job, each job record), is
read as the fields it knows; one of another major version is refused,
naming both versions; a known field that is missing takes its default, or
is refused, naming it. The sha256 covers whatever the document holds.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import Chain
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainError
from spincycle_jobs import Factory
from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import DocumentError
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import dump_document
from spincycle_jobs._document import load_document

from .jobs import Echo
from .jobs import offering

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
    """``body`` as a document tagged ``tag``, its sha256 over all of it, as a later release writes it."""
    return dump_document(tag, body)


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
