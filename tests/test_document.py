"""Job documents: one place writes, reads and verifies them, and hands the versions to the job."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import Factory
from spincycle_jobs import Job
from spincycle_jobs import JobError
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import DocumentError
from spincycle_jobs._document import JobRecord
from spincycle_jobs._document import NotBytesError
from spincycle_jobs._document import _distribution_of
from spincycle_jobs._document import dump_document
from spincycle_jobs._document import load_document
from spincycle_jobs._document import make_job

from .jobs import Echo
from .jobs import offering
from .test_basejob import New
from .test_basejob import Overriding
from .test_basejob import Rich

if TYPE_CHECKING:
    from collections.abc import Callable


class ByHand(Job):
    """A job written against Job alone; its methods take exactly the seed's arguments."""

    def __init__(self, job_type: str, job_name: str) -> None:
        self._type, self._name, self.text = job_type, job_name, ""

    def create(self, job_args: dict[str, Any]) -> None:
        self.text = job_args["text"]

    def serialize(self) -> bytes:
        return self.text.encode()

    def deserialize(self, data: bytes) -> None:
        self.text = data.decode()

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return(State.COMPLETE, stdout=self.text)

    def stop(self) -> None:
        pass

    def status(self) -> str:
        return ""

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self._type


class Loose:
    """A JobFactory that is not a Factory: it says nothing of where a type comes from."""

    def make(self, job_type: str, job_name: str) -> Job:
        classes: dict[str, Callable[[str, str], Job]] = {"echo": Echo, "new": New, "by-hand": ByHand}
        return classes[job_type](job_type, job_name)


@pytest.fixture
def factory() -> Factory:
    return Factory(
        autoload=False,
        plugins=[offering(echo=Echo, new=New, rich=Rich, overriding=Overriding, **{"by-hand": ByHand})],
    )


def document(record: JobRecord) -> str:
    return dump_document(JOB_FORMAT, record.to_dict())


def read(text: str) -> JobRecord:
    return JobRecord.from_dict(load_document(text, JOB_FORMAT, "doc"), "doc")


def resigned(text: str, change: Any) -> str:
    """The document with ``change`` applied to its body, and a new, matching sha256."""
    body = json.loads(text)
    del body["sha256"], body["format"]
    change(body)
    return dump_document(JOB_FORMAT, body)


class TestRoundTrip:
    def test_create_dump_load_make(self, factory: Factory) -> None:
        """A record written to a document and read back makes the same job."""
        record = JobRecord.create(factory, "echo", "e", {"text": "hi"})
        again = read(document(record))
        assert again == record
        job = make_job(factory, again, "doc", pytest.fail)
        assert isinstance(job, Echo)
        assert job.text == "hi"

    def test_edit_anywhere_is_refused(self, factory: Factory) -> None:
        """The sha256 covers the whole document: an edit to job_args is refused too."""
        text = document(JobRecord.create(factory, "echo", "e", {"text": "hi"}))
        with pytest.raises(DocumentError, match="does not match its sha256"):
            read(text.replace('"hi"', '"ho"'))


class TestHostile:
    def test_non_ascii_base64(self, factory: Factory) -> None:
        """A non-ASCII character in the base64 field is a DocumentError, not a ValueError."""
        text = resigned(
            document(JobRecord.create(factory, "echo", "e", {})), lambda b: b.update(data="e30\u00e9")
        )
        with pytest.raises(DocumentError, match="doc: field 'data' is not base64"):
            read(text)

    @pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
    def test_nan_never_written(self, factory: Factory, value: float) -> None:
        """NaN or infinity in the job args is refused: the document would not be JSON."""
        with pytest.raises(DocumentError, match="the job args after create are not JSON data"):
            JobRecord.create(factory, "echo", "e", {"r": value})
        with pytest.raises(DocumentError, match="not JSON data"):
            dump_document(JOB_FORMAT, {"r": value})

    @pytest.mark.parametrize(
        ("value", "message"),
        [("NaN", "NaN is not a JSON value"), ("-Infinity", "Infinity is not"), ("1e999", "out of range")],
        ids=["nan", "infinity", "1e999"],
    )
    def test_numbers_json_has_not(self, value: str, message: str) -> None:
        """A document with NaN, Infinity or 1e999 is refused as not JSON, wherever it is."""
        text = '{"format": "%s", "job_args": {"r": %s}, "sha256": "0"}' % (JOB_FORMAT, value)  # noqa: UP031
        with pytest.raises(DocumentError, match=f"doc is not JSON \\(.*{message}"):
            load_document(text, JOB_FORMAT, "doc")

    def test_deep_nesting(self) -> None:
        """A document nested 100,000 levels deep is a DocumentError, not a RecursionError."""
        with pytest.raises(DocumentError, match="doc is not JSON"):
            load_document("[" * 100_000 + "]" * 100_000, JOB_FORMAT, "doc")

    def test_deep_job_args(self, factory: Factory) -> None:
        """Job args nested deeper than JSON goes are refused, naming them."""
        deep: list[Any] = []
        for _ in range(100_000):
            deep = [deep]
        with pytest.raises(DocumentError, match="the job args after create are not JSON data"):
            JobRecord.create(factory, "echo", "e", {"deep": deep})

    def test_lone_surrogate_in_job_args(self, factory: Factory) -> None:
        """A job arg from non-UTF-8 bytes is refused, naming where it is."""
        with pytest.raises(DocumentError, match="the str at \\['paths'\\]\\[1\\] holds a lone surrogate"):
            JobRecord.create(factory, "echo", "e", {"paths": ["ok", "caf\udce9"]})

    def test_lone_surrogate_in_a_document(self) -> None:
        """A document holding an escaped lone surrogate is refused."""
        text = '{"format": "%s", "name": "\\udce9", "sha256": "0"}' % JOB_FORMAT  # noqa: UP031
        with pytest.raises(DocumentError, match="lone surrogate"):
            load_document(text, JOB_FORMAT, "doc")

    @given(st.text() | st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")))
    def test_any_text_only_raises_document_error(self, text: str) -> None:
        """Any text read as a document gives a body or a DocumentError, nothing else."""
        with contextlib.suppress(DocumentError):
            JobRecord.from_dict(load_document(text, JOB_FORMAT, "doc"), "doc")


class TestVersions:
    def test_versions_reach_the_job(self, factory: Factory) -> None:
        """A record from another version is migrated by the job class, with a warning."""
        New.seen.clear()
        record = JobRecord("new", "n", b'{"txt": "hi"}', version="0.0.1")
        warnings: list[str] = []
        job = make_job(factory, record, "doc", warnings.append)
        assert isinstance(job, New)
        assert (job.text, job.overwrite) == ("hi", False)
        assert New.seen == [({"txt": "hi"}, "0.0.1")]
        assert len(warnings) == 1

    def test_unknown_field_names_both_versions(self, factory: Factory) -> None:
        """A field the running version does not know is refused, naming both versions."""
        record = JobRecord("echo", "e", b'{"text": "", "overwrite": true}', version="0.2.0")
        with pytest.raises(
            JobError, match="field overwrite: unknown field .*version 0.2.0; this is an unknown"
        ):
            make_job(factory, record, "doc", lambda _: None)


class TestSeedSignatures:
    def test_an_override_with_the_seed_signature_is_migrated(self, factory: Factory) -> None:
        """A deserialize(self, data) override that calls super() is called as such, and told the versions."""
        New.seen.clear()
        record = JobRecord("overriding", "o", b'{"txt": "hi"}', version="0.0.1")
        job = make_job(factory, record, "doc", lambda _: None)
        assert isinstance(job, Overriding)
        assert (job.text, job.loaded) == ("hi", True)
        assert New.seen == [({"txt": "hi"}, "0.0.1")]

    def test_a_job_written_by_hand(self, factory: Factory) -> None:
        """A Job written by hand goes through the document with the seed's signatures."""
        record = read(document(JobRecord.create(factory, "by-hand", "h", {"text": "hi"})))
        job = make_job(factory, record, "doc", pytest.fail)
        assert isinstance(job, ByHand)
        assert job.run({}).stdout == "hi"

    def test_serialize_that_returns_no_bytes(self) -> None:
        """A serialize that returns a str is refused, naming the class."""

        class Str(ByHand):
            def serialize(self) -> bytes:
                return self.text  # type: ignore[return-value]

        job = Str("str", "s")
        job.create({"text": "x"})
        with pytest.raises(NotBytesError, match="Str.serialize\\(\\) returned str, not bytes"):
            JobRecord.created(Loose(), job, {})


class TestOtherFactories:
    def test_any_job_factory_creates_a_record(self) -> None:
        """A JobFactory that is not a Factory creates a record with no plugin; no distribution here."""
        record = JobRecord.create(Loose(), "echo", "e", {"text": "hi"})
        assert (record.type, record.name, record.plugin, record.distribution, record.version) == (
            "echo",
            "e",
            None,
            None,
            None,
        )
        assert record.data == b'{"text":"hi"}'

    def test_the_distribution_of_an_installed_module(self) -> None:
        """The provenance such a factory cannot give is the installed distribution of the class's module."""
        import pluggy  # noqa: PLC0415 - an installed distribution, not an editable one

        assert _distribution_of("pluggy._manager") == ("pluggy", pluggy.__version__)
        assert _distribution_of("no_such_module_anywhere") is None

    def test_make_job_checks_and_tells_nothing(self) -> None:
        """With a factory that says nothing, no distribution is checked, and nothing migrated."""
        New.seen.clear()
        record = JobRecord("new", "n", b'{"text": "hi"}', distribution="elsewhere", version="0.0.1")
        job = make_job(Loose(), record, "doc", pytest.fail)
        assert isinstance(job, New)
        assert job.text == "hi"
        assert New.seen == []

    def test_make_is_used_when_given(self, factory: Factory) -> None:
        """make_job makes the job with ``make`` when given one."""
        made: list[tuple[str, str]] = []

        def make(job_type: str, job_name: str) -> Job:
            made.append((job_type, job_name))
            return factory.make(job_type, job_name)

        make_job(factory, JobRecord.create(factory, "echo", "e", {}), "doc", pytest.fail, make=make)
        assert made == [("echo", "e")]
