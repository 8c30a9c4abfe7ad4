"""check_job: each rule it checks, broken on purpose by a hand-written job."""

from __future__ import annotations

import pickle
import threading
import time
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest

from spincycle_jobs import BaseJob
from spincycle_jobs import Factory
from spincycle_jobs import Job
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs._document import make_job
from spincycle_jobs.testing import ConformanceError
from spincycle_jobs.testing import check_job

from .jobs import Echo
from .jobs import offering

if TYPE_CHECKING:
    from spincycle_jobs._document import JobRecord


@attrs.define
class StrSerializer(Echo):
    def serialize(self) -> bytes:
        return "text"  # type: ignore[return-value]


@attrs.define
class Unstable(Echo):
    """Serializes a counter that grows each time: not a faithful round trip."""

    count: int = 0

    def serialize(self) -> bytes:
        self.count += 1
        return super().serialize()


@attrs.define
class SlowStatus(Echo):
    def status(self) -> str:
        time.sleep(3)
        return "slow"

    def run(self, job_data: dict[str, Any]) -> Return:
        self.wait(2)
        return Return(State.COMPLETE)


@attrs.define
class IntStatus(Echo):
    def status(self) -> str:
        return 5  # type: ignore[return-value]

    def run(self, job_data: dict[str, Any]) -> Return:
        self.wait(1)
        return Return(State.COMPLETE)


@attrs.define
class NoReturn(Echo):
    def run(self, job_data: dict[str, Any]) -> Return:
        return State.COMPLETE  # type: ignore[return-value]


@attrs.define
class BadData(Echo):
    def run(self, job_data: dict[str, Any]) -> Return:
        job_data["lock"] = threading.Lock()
        return Return(State.COMPLETE)


@attrs.define
class IgnoresStop(Echo):
    def stop(self) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        time.sleep(3)
        return Return(State.COMPLETE)


@attrs.define
class BlockingStop(Echo):
    def stop(self) -> None:
        time.sleep(3)
        super().stop()

    def run(self, job_data: dict[str, Any]) -> Return:
        self.wait(10)
        return Return(State.STOPPED)


@attrs.define
class Forgetful(Echo):
    """Serializes nothing of what create set: the same bytes every time, but the state is lost."""

    def serialize(self) -> bytes:
        return b"{}"


@attrs.define
class Plain(Echo):
    """Keeps what create read in a plain attribute: run would never see it."""

    def create(self, job_args: dict[str, Any]) -> None:
        self.payload = job_args.get("text")


@attrs.define
class SetArgs(Echo):
    """Leaves in the job args what JSON cannot carry, for the jobs after it."""

    def create(self, job_args: dict[str, Any]) -> None:
        job_args["hosts"] = {"a", "b"}


@attrs.define
class Passes(Echo):
    """Overrides deserialize with the seed's signature, calling super(); passes on what it got."""

    loaded: bool = attrs.field(default=False, init=False)

    def deserialize(self, data: bytes) -> None:
        super().deserialize(data)
        self.loaded = True

    def run(self, job_data: dict[str, Any]) -> Return:
        job_data["got"] = {"text": self.text, "loaded": self.loaded}
        return Return(State.COMPLETE)


class Undecorated(Echo):
    """Declares a field without @attrs.define."""

    count: int = 0


@attrs.define
class Good(Echo):
    def run(self, job_data: dict[str, Any]) -> Return:
        stopped = self.wait(10)
        return Return(State.STOPPED if stopped else State.COMPLETE)


def renamed(job_type: str, job_name: str) -> Job:
    return Echo(job_type, "someone-else")


def not_a_job(job_type: str, job_name: str) -> Job:
    return object()  # type: ignore[return-value]


class Loose:
    """A JobFactory that checks nothing, unlike Factory, so check_job must."""

    def __init__(self, constructor: Any) -> None:
        self.constructor = constructor

    def make(self, job_type: str, job_name: str) -> Job:
        job: Job = self.constructor(job_type, job_name)
        return job


def factory(constructor: Any) -> Factory | Loose:
    if constructor in (renamed, not_a_job):
        return Loose(constructor)
    return Factory(autoload=False, plugins=[offering(job=constructor)])


@pytest.mark.parametrize(
    ("constructor", "kwargs", "rule"),
    [
        (renamed, {}, "make returns a job of the type and name asked"),
        (not_a_job, {}, "make returns a job"),
        ("no_such_module_anywhere:Job", {}, "make returns a job"),
        (StrSerializer, {}, "serialize returns bytes"),
        (Unstable, {}, "serialize, deserialize, serialize gives the same bytes"),
        (Forgetful, {}, "the state from create survives serialize and deserialize"),
        (Plain, {}, "the state from create survives serialize and deserialize"),
        (SetArgs, {}, "job args stay JSON data"),
        (Undecorated, {}, "make returns a job"),
        (SlowStatus, {}, "status answers while run blocks"),
        (IntStatus, {}, "status returns a str"),
        (NoReturn, {}, "run returns a Return with a State"),
        (BadData, {}, "job data stays JSON-serializable"),
        (BlockingStop, {"stop_after": 0.1}, "stop returns quickly"),
        (IgnoresStop, {"stop_after": 0.1, "timeout": 0.5}, "run ends after stop"),
        (IgnoresStop, {"timeout": 0.5}, "run ends in time"),
    ],
    ids=[
        "wrong-name",
        "not-a-job",
        "make-raises",
        "not-bytes",
        "round-trip",
        "state-lost",
        "plain-attribute",
        "args-not-json",
        "undecorated",
        "slow-status",
        "status-type",
        "no-return",
        "job-data",
        "blocking-stop",
        "ignores-stop",
        "too-long",
    ],
)
def test_each_rule(constructor: Any, kwargs: dict[str, Any], rule: str) -> None:
    """A job that breaks a rule fails check_job with a ConformanceError naming that rule."""
    with pytest.raises(ConformanceError) as info:
        check_job(factory(constructor), "job", {"text": "hi"}, **kwargs)
    assert info.value.rule == rule
    assert str(info.value).startswith(f"{rule}: ")
    assert isinstance(info.value, AssertionError)
    assert str(pickle.loads(pickle.dumps(info.value))) == str(info.value)  # noqa: S301 - our own bytes


def test_undecorated_names_the_fix() -> None:
    """A BaseJob subclass without @attrs.define fails check_job with a message that names the fix."""
    with pytest.raises(
        ConformanceError, match="Undecorated declares fields \\(count\\) but is not decorated"
    ):
        check_job(factory(Undecorated), "job")


def test_good_job_passes_and_stops() -> None:
    """A job that keeps the contract passes, with and without a stop."""
    assert check_job(factory(Good), "job", timeout=15).state == State.COMPLETE
    assert check_job(factory(Good), "job", stop_after=0.1).state == State.STOPPED


def test_args_are_copied() -> None:
    """create gets a copy of the args: the caller's dict is left as it was."""
    args = {"text": "hi", "nested": {"a": 1}}

    @attrs.define
    class Mutating(Echo):
        def create(self, job_args: dict[str, Any]) -> None:
            job_args["nested"]["a"] = 2
            super().create(job_args)

    ret = check_job(factory(Mutating), "job", args)
    assert ret.stdout == "hi"
    assert args == {"text": "hi", "nested": {"a": 1}}


def test_run_exception_propagates() -> None:
    """An exception from run propagates as is."""

    @attrs.define
    class Raises(BaseJob):
        def create(self, job_args: dict[str, Any]) -> None:
            pass

        def run(self, job_data: dict[str, Any]) -> Return:
            msg = "no route to host"
            raise OSError(msg)

    with pytest.raises(OSError, match="no route to host"):
        check_job(factory(Raises), "job")


def test_pytest_fixture(job_factory: Factory) -> None:
    """The job_factory fixture is a Factory over what is installed."""
    assert isinstance(job_factory, Factory)


def test_a_plain_attribute_is_named() -> None:
    """State kept in a plain attribute fails check_job, naming the attribute and the fix."""
    with pytest.raises(
        ConformanceError, match="attribute 'payload' of Plain is not a field.*declare it as a field"
    ):
        check_job(factory(Plain), "job", {"text": "hi"})


def test_the_job_data_after_run() -> None:
    """With return_job_data, check_job gives back the job data as run left it, besides the Return."""
    result, data = check_job(factory(Passes), "job", {"text": "hi"}, {"given": 1}, return_job_data=True)
    assert result.state == State.COMPLETE
    assert data == {"given": 1, "got": {"text": "hi", "loaded": True}}


def test_the_runners_code_makes_the_job(monkeypatch: pytest.MonkeyPatch) -> None:
    """The job that runs is read from a job document by make_job, the function every runner uses."""
    read: list[JobRecord] = []

    def spy(*args: Any, **kwargs: Any) -> Job:
        read.append(args[1])
        return make_job(*args, **kwargs)

    monkeypatch.setattr("spincycle_jobs.testing.make_job", spy)
    check_job(factory(Passes), "job", {"text": "hi"})
    assert [(r.type, r.name, r.data) for r in read] == [
        ("job", "check", b'{"text":"hi"}')
    ] * 2  # round trip, run


def test_a_loose_factory_is_enough() -> None:
    """check_job takes any JobFactory, not only a Factory."""
    assert check_job(Loose(Passes), "job", {"text": "hi"}).state == State.COMPLETE
