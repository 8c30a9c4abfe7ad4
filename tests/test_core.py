from __future__ import annotations

import threading
from typing import Any

import attrs
import pytest

from spincycle_jobs import Job
from spincycle_jobs import JobNotFoundError
from spincycle_jobs import MemoryRepo
from spincycle_jobs import Repo
from spincycle_jobs import Return
from spincycle_jobs import State

METHODS = ["create", "serialize", "deserialize", "run", "stop", "status", "name", "type"]


class Plain(Job):
    """A job written against the ABC alone, as the seed's users would."""

    def __init__(self, job_type: str, job_name: str) -> None:
        self._type, self._name = job_type, job_name

    def create(self, job_args: dict[str, Any]) -> None:
        pass

    def serialize(self) -> bytes:
        return b""

    def deserialize(self, data: bytes) -> None:
        pass

    def run(self, job_data: dict[str, Any]) -> Return:
        return Return(State.COMPLETE)

    def stop(self) -> None:
        pass

    def status(self) -> str:
        return ""

    def name(self) -> str:
        return self._name

    def type(self) -> str:
        return self._type


class TestState:
    def test_values_never_change(self) -> None:
        """State values are those of the seed's proto constants."""
        assert {s.name: s.value for s in State} == {
            "UNKNOWN": 0,
            "PENDING": 1,
            "RUNNING": 2,
            "COMPLETE": 3,
            "FAIL": 4,
            "TIMEOUT": 5,
            "STOPPED": 6,
        }

    @pytest.mark.parametrize("state", list(State), ids=[s.name for s in State])
    def test_str_is_the_name(self, state: State) -> None:
        """str() and format() give the name, as Go's String() does; the int value is unchanged."""
        assert str(state) == f"{state}" == f"{state:s}" == state.name
        assert f"{state:>10}" == state.name.rjust(10)
        assert int(state) == state.value
        assert repr(state) == f"<State.{state.name}: {state.value}>"


class TestReturn:
    def test_defaults(self) -> None:
        """A bare Return is UNKNOWN with no exit, error or output."""
        r = Return()
        assert (r.state, r.exit, r.error, r.stdout, r.stderr) == (State.UNKNOWN, 0, None, "", "")

    def test_int_state_becomes_state(self) -> None:
        """An int given as state becomes a State."""
        r = Return(state=4)
        assert r.state is State.FAIL
        assert type(r.state) is State

    def test_unknown_state_int_is_refused(self) -> None:
        """An int that is no State is refused."""
        with pytest.raises(ValueError, match="99"):
            Return(state=99)

    def test_frozen_value(self) -> None:
        """Return is an immutable value, compared by value."""
        r = Return(State.COMPLETE, exit=1, stdout="x")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            r.exit = 2  # type: ignore[misc]
        assert r == Return(State.COMPLETE, exit=1, stdout="x")
        assert attrs.evolve(r, exit=0).exit == 0


class TestJob:
    def test_complete_job_instantiates(self) -> None:
        """A subclass with all eight methods can be made."""
        job = Plain("t", "n")
        assert (job.type(), job.name()) == ("t", "n")

    @pytest.mark.parametrize("missing", METHODS)
    def test_missing_method_refused(self, missing: str) -> None:
        """A subclass missing any of the eight methods cannot be instantiated."""
        namespace = {m: getattr(Plain, m) for m in METHODS if m != missing}
        namespace["__init__"] = Plain.__init__
        cls = type("Partial", (Job,), namespace)
        with pytest.raises(TypeError, match=missing):
            cls("t", "n")

    def test_exactly_eight_abstract_methods(self) -> None:
        """The ABC declares the seed's eight methods, and nothing more."""
        assert Job.__abstractmethods__ == frozenset(METHODS)


class TestMemoryRepo:
    def test_add_get_remove(self) -> None:
        """A job added is found by name until it is removed."""
        repo = MemoryRepo()
        job = Plain("t", "a")
        repo.add(job)
        assert repo.get("a") is job
        assert "a" in repo
        assert len(repo) == 1
        repo.remove(job)
        assert "a" not in repo
        with pytest.raises(JobNotFoundError, match="job not found: 'a'"):
            repo.get("a")

    def test_add_replaces_by_name(self) -> None:
        """Adding a job of a name already there replaces the old one."""
        repo = MemoryRepo()
        first, second = Plain("t", "a"), Plain("u", "a")
        repo.add(first)
        repo.add(second)
        assert repo.get("a") is second
        assert len(repo) == 1

    def test_remove_missing(self) -> None:
        """Removing a name that is not there raises JobNotFoundError, by job or by name."""
        repo = MemoryRepo()
        with pytest.raises(JobNotFoundError) as info:
            repo.remove(Plain("t", "ghost"))
        assert info.value.job_name == "ghost"
        with pytest.raises(JobNotFoundError):
            repo.remove("ghost")

    def test_is_a_repo(self) -> None:
        """MemoryRepo satisfies the Repo protocol, also at run time."""
        repo: Repo = MemoryRepo()
        assert isinstance(repo, Repo)
        repo.add(Plain("t", "x"))
        assert repo.get("x").name() == "x"

    def test_thread_safe(self) -> None:
        """8 threads adding, reading and removing lose no job and raise nothing unexpected."""
        repo = MemoryRepo()
        errors: list[BaseException] = []
        barrier = threading.Barrier(8)

        def work(worker: int) -> None:
            try:
                barrier.wait()
                for i in range(500):
                    name = f"{worker}-{i}"
                    repo.add(Plain("t", name))
                    assert repo.get(name).name() == name
                    if i % 2:
                        repo.remove(name)
                    repo.add(Plain("t", "shared"))
            except BaseException as err:  # noqa: BLE001 - reported below
                errors.append(err)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert len(repo) == 8 * 250 + 1
        assert all(f"{w}-{i}" in repo for w in range(8) for i in range(0, 500, 2))
