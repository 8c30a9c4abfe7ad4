"""Job chains: building, the document and running, with in-process jobs and the installed example plugin."""

from __future__ import annotations

import copy
import json
import pickle
import socket
import threading
from collections import defaultdict
from typing import TYPE_CHECKING
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from spincycle_jobs import BaseJob
from spincycle_jobs import Chain
from spincycle_jobs import ChainBuilder
from spincycle_jobs import ChainError
from spincycle_jobs import ChainRunner
from spincycle_jobs import Executor
from spincycle_jobs import Factory
from spincycle_jobs import Job
from spincycle_jobs import JobError
from spincycle_jobs import Outcome
from spincycle_jobs import Return
from spincycle_jobs import State
from spincycle_jobs import ThreadExecutor
from spincycle_jobs import Try
from spincycle_jobs import hookimpl
from spincycle_jobs._chain import CHAIN_FORMAT
from spincycle_jobs._chain import topological_order
from spincycle_jobs._document import JOB_FORMAT
from spincycle_jobs._document import dump_document

if TYPE_CHECKING:
    from collections.abc import Callable
    from collections.abc import Iterator
    from pathlib import Path

WAIT = 30.0  # generous: a wait this long means a hang, never a slow machine


class Board:
    """What the in-process jobs did, and the gates that hold them."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.runs: list[tuple[str, dict[str, Any]]] = []
        self.started: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.release: defaultdict[str, threading.Event] = defaultdict(threading.Event)
        self.ended: list[str] = []

    def tries(self, name: str) -> int:
        with self.lock:
            return sum(1 for run, _data in self.runs if run == name)

    def seen(self, name: str) -> dict[str, Any]:
        """The job data the last try of ``name`` started with."""
        with self.lock:
            return [data for run, data in self.runs if run == name][-1]


BOARD = Board()


@attrs.define
class Step(BaseJob):
    """A test job steered by job arg ``steps``: ``{name: {what it does}}``.

    ``set``: job data to set; ``append``: append the name to job data list
    ``trail``; ``block``: wait for its release (or stop); ``ignore_stop``:
    wait for the release even when stopped; ``fail``: fail that many tries
    first; ``state``: the state to return; ``bad_data``: leave a non-JSON
    value in job data.
    """

    conf: dict[str, Any] = attrs.Factory(dict)

    def create(self, job_args: dict[str, Any]) -> None:
        self.conf = dict(job_args.get("steps", {}).get(self.name(), {}))
        job_args.setdefault("created", []).append(self.name())

    def run(self, job_data: dict[str, Any]) -> Return:
        name = self.name()
        with BOARD.lock:
            BOARD.runs.append((name, copy.deepcopy(job_data)))
            tries = sum(1 for run, _data in BOARD.runs if run == name)
        BOARD.started[name].set()
        if self.conf.get("block"):
            while not BOARD.release[name].wait(0.005):
                if self.stopped and not self.conf.get("ignore_stop"):
                    break
        job_data.update(self.conf.get("set", {}))
        if self.conf.get("append"):
            job_data.setdefault("trail", []).append(name)
        if self.conf.get("bad_data"):
            job_data["bad"] = {1, 2}
        with BOARD.lock:
            BOARD.ended.append(name)
        if tries <= self.conf.get("fail", 0):
            return Return(State.FAIL, exit=tries, error=JobError(f"{name} fails try {tries}"))
        if self.stopped and not self.conf.get("ignore_stop"):
            return Return(State.STOPPED)
        return Return(State[self.conf.get("state", "COMPLETE")], stdout=f"{name} ran\n")


class StepPlugin:
    """An in-process plugin offering ``step``."""

    @staticmethod
    @hookimpl
    def spincycle_jobs_job_types() -> dict[str, Any]:
        return {"step": Step}


@pytest.fixture(autouse=True)
def board() -> Iterator[Board]:
    """A clean board per test; every gate opened at the end, so no thread outlives its test for long."""
    global BOARD  # noqa: PLW0603 - the jobs find the board through the module
    BOARD = Board()
    yield BOARD
    for event in list(BOARD.release.values()):
        event.set()


@pytest.fixture(scope="module")
def steps() -> Factory:
    """A factory offering only the in-process ``step`` job."""
    return Factory(autoload=False, plugins=[StepPlugin])


@pytest.fixture(scope="module")
def installed() -> Factory:
    """A factory over the installed plugins: the example plugin's noop, sleep, set-args, shell-command."""
    return Factory()


def step_chain(
    steps: Factory, graph: dict[str, list[str]], conf: dict[str, Any] | None = None, **kw: Any
) -> Chain:
    """A chain of ``step`` jobs: ``graph`` maps each id (also the job name) to its ``after``."""
    builder = ChainBuilder("req", {"steps": conf or {}}, factory=steps)
    for job_id, after in graph.items():
        builder.job(job_id, "step", job_id, after=after, **kw.get(job_id, {}))
    return builder.build()


def run_in_thread(runner: ChainRunner, job_data: dict[str, Any] | None = None) -> Callable[[], Any]:
    """Start ``runner.run`` in a thread; return a function that waits for its result."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(runner.run(job_data)), daemon=True)
    thread.start()

    def result() -> Any:
        thread.join(WAIT)
        assert not thread.is_alive(), "run did not return"
        return out[0]

    return result


def started(board: Board, *names: str) -> None:
    for name in names:
        assert board.started[name].wait(WAIT), f"{name} never started"


def shells(installed: Factory, jobs: dict[str, tuple[str, list[str], int]]) -> Chain:
    """A chain of the example's shell-command jobs, ``{id: (sh script, after, retry)}``.

    Job args are shared, and shell-command reads ``cmd`` and ``args``: so
    before each shell job, an example set-args job sets them, taking the
    next level of a nested ``set`` for the set-args job after it.
    """
    order = topological_order([(job_id, after) for job_id, (_script, after, _retry) in jobs.items()])
    nested: dict[str, Any] = {}
    for job_id in reversed(order):
        nested = {"cmd": "sh", "args": ["-c", jobs[job_id][0]], "set": nested}
    builder = ChainBuilder("sh", {"set": nested}, factory=installed)
    for job_id, (_script, after, retry) in jobs.items():
        builder.job(f"args-{job_id}", "set-args", f"args-{job_id}", after=after)
        builder.job(job_id, "shell-command", job_id, after=[f"args-{job_id}"], retry=retry)
    chain = builder.build()
    assert all(chain.jobs[job_id].record.job_args["args"][1] == jobs[job_id][0] for job_id in jobs)
    return chain


def deep(levels: int) -> list[Any]:
    """A list nested ``levels`` deep, built without recursion."""
    top: list[Any] = []
    inner = top
    for _ in range(levels):
        inner.append([])
        inner = inner[0]
    return top


class TestBuild:
    def test_jobs_are_created_in_topological_order_with_one_shared_args_dict(self, steps: Factory) -> None:
        """Each step takes the first-added job whose after-jobs are taken; later jobs see earlier args."""
        chain = (
            ChainBuilder("req", {"x": 1}, factory=steps)
            .job("c", "step", "c", after=["a", "b"])
            .job("b", "step", "b")
            .job("a", "step", "a", after=["b"])
            .job("d", "step", "d")
            .build()
        )
        assert list(chain.jobs) == ["b", "a", "c", "d"]
        assert chain.jobs["d"].record.job_args == {"x": 1, "created": ["b", "a", "c", "d"]}
        assert chain.jobs["a"].record.job_args["created"] == ["b", "a"]
        assert chain.jobs["c"].after == ("a", "b")
        assert (chain.jobs["c"].id, chain.jobs["c"].type, chain.jobs["c"].name) == ("c", "step", "c")

    def test_the_callers_job_args_are_left_alone(self, steps: Factory) -> None:
        """The builder copies the job args once: the caller's dict is not changed, and build() repeats."""
        args: dict[str, Any] = {"steps": {}}
        builder = ChainBuilder("req", args, factory=steps).job("a", "step", "a")
        assert builder.build() == builder.build()
        assert args == {"steps": {}}

    def test_set_args_sets_args_for_the_jobs_after_it(self, installed: Factory) -> None:
        """With the installed example plugin: set-args's create gives sleep the duration it needs."""
        chain = (
            ChainBuilder("req", {"set": {"duration": 0}}, factory=installed)
            .job("wait", "sleep", "wait", after=["defaults"])
            .job("defaults", "set-args", "defaults")
            .build()
        )
        assert list(chain.jobs) == ["defaults", "wait"]
        assert chain.jobs["wait"].record.job_args["duration"] == 0
        assert chain.jobs["wait"].record.distribution == "spincycle-jobs-example"
        assert ChainRunner(chain).run().state == State.COMPLETE

    @pytest.mark.parametrize(
        ("jobs", "match"),
        [
            ([], "at least one job"),
            ([("a", ()), ("a", ())], "'a' is used twice"),
            ([("a", ("z",))], "job 'a' runs after 'z', which is not a job"),
            ([("a", ("b", "b")), ("b", ())], "lists the same job twice"),
            ([("a", ("a",))], r"cycle: 'a' -> 'a'"),
            ([("a", ("c",)), ("b", ("a",)), ("c", ("b",)), ("d", ())], r"cycle: '.' -> '.' -> '.' -> '.'"),
        ],
        ids=["no jobs", "duplicate id", "unknown after", "after twice", "self", "three"],
    )
    def test_bad_graphs_are_refused_before_any_job_is_made(
        self, jobs: list[tuple[str, tuple[str, ...]]], match: str
    ) -> None:
        """Validation comes first: the factory here cannot make anything, and is never asked to."""
        builder = ChainBuilder("req", factory=Factory(autoload=False))
        for job_id, after in jobs:
            builder.job(job_id, "nope", job_id, after=after)
        with pytest.raises(ChainError, match=match):
            builder.build()

    @pytest.mark.parametrize(
        ("call", "match"),
        [
            (lambda: ChainBuilder(""), "request_id must be a non-empty string"),
            (lambda: ChainBuilder("r", {"x": {1, 2}}), "job args of request 'r' are not JSON data"),
            (
                lambda: ChainBuilder("r", {"x": deep(100_000)}),
                "not JSON data: it nests lists and dicts more deeply",
            ),
            (lambda: ChainBuilder("r").job("", "noop", "n"), "job id must be a non-empty string"),
            (lambda: ChainBuilder("r").job("a", "noop", "n", retry=-1), "job 'a': retry must be"),
            (lambda: ChainBuilder("r").job("a", "noop", "n", retry=True), "job 'a': retry must be"),
            (lambda: ChainBuilder("r").job("a", "noop", "n", retry_wait=float("inf")), "retry_wait must be"),
        ],
        ids=[
            "empty request",
            "args not JSON",
            "args too deep",
            "empty id",
            "negative retry",
            "bool retry",
            "infinite wait",
        ],
    )
    def test_bad_arguments_are_refused_at_once(self, call: Callable[[], object], match: str) -> None:
        """A bad request id, job args, id, retry or retry_wait: a ChainError naming it."""
        with pytest.raises(ChainError, match=match):
            call()

    def test_job_data_too_deep_for_a_chain_job(self, installed: Factory) -> None:
        """A ChainJob given job data nested deeper than Python recurses: ValueError, not RecursionError."""
        job = ChainBuilder("r", factory=installed).job("a", "noop", "a").build().jobs["a"]
        with pytest.raises(ValueError, match="nests lists and dicts more deeply than the interpreter allows"):
            attrs.evolve(job, job_data={"x": deep(100_000)})

    @pytest.mark.parametrize(
        ("job_type", "args", "match"),
        [
            ("no-such-type", {}, r"job 'b' \(no-such-type 'b'\) cannot be built: UnknownJobTypeError"),
            ("sleep", {}, r"job 'b' \(sleep 'b'\) cannot be built: ArgNotSetError: duration not set"),
            ("shell-command", {"cmd": 5}, r"cannot be built: WrongArgTypeError: cmd in job args is type int"),
        ],
        ids=["unknown type", "create raises", "wrong arg type"],
    )
    def test_a_job_that_cannot_be_built_names_the_job_and_the_cause(
        self, installed: Factory, job_type: str, args: dict[str, Any], match: str
    ) -> None:
        """With the installed plugins: ChainError with the id, and the cause as __cause__."""
        builder = ChainBuilder("req", args, factory=installed).job("a", "noop", "a")
        builder.job("b", job_type, "b", after=["a"])
        with pytest.raises(ChainError, match=match) as info:
            builder.build()
        assert info.value.job_id == "b"
        assert isinstance(info.value.__cause__, JobError)

    def test_any_job_factory_builds_and_runs_a_chain(self) -> None:
        """A bare JobFactory: the chain builds, names the distribution of the job's module when it
        has one (none here: a test module), and runs with that factory on the ThreadExecutor."""

        class Bare:
            def make(self, job_type: str, job_name: str) -> Step:
                return Step(job_type, job_name)

        chain = (
            ChainBuilder("r", factory=Bare()).job("a", "step", "a").job("b", "step", "b", after=["a"]).build()
        )
        record = chain.jobs["a"].record
        assert (record.plugin, record.distribution, record.version) == (None, None, None)
        assert Chain.from_json(chain.to_json()) == chain
        result = ChainRunner(chain, factory=Bare()).run({"k": "v"})  # type: ignore[arg-type]
        assert result.state == State.COMPLETE, result
        noop = Factory().make("noop", "n")
        dist = ChainBuilder("r", factory=_Only(noop)).job("n", "noop", "n").build().jobs["n"].record
        assert (dist.plugin, dist.distribution) == (None, "spincycle-jobs-example")

    def test_a_chain_is_an_immutable_value(self, steps: Factory) -> None:
        """No attribute, job or recorded job data of a chain can be changed in place."""
        chain = step_chain(steps, {"a": []})
        result = ChainRunner(chain, factory=steps).run({"k": "v"})
        done = result.chain
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            done.request_id = "x"  # type: ignore[misc]
        with pytest.raises(TypeError):
            done.jobs["b"] = done.jobs["a"]  # type: ignore[index]
        with pytest.raises(TypeError):
            done.jobs["a"].job_data["k"] = "w"  # type: ignore[index]
        assert chain.jobs["a"].state == State.PENDING
        assert done.jobs["a"].state == State.COMPLETE

    def test_chain_error_is_a_job_error_that_pickles(self) -> None:
        """One except JobError catches it; it keeps the job id through pickle."""
        err = ChainError("job 'a' is bad", "a")
        assert isinstance(err, JobError)
        assert pickle.loads(pickle.dumps(err)) == err  # noqa: S301 - our own bytes
        assert err.job_id == "a"


def reference_order(jobs: list[tuple[str, tuple[str, ...]]]) -> list[str] | None:
    """The order, the slow and obvious way; ``None`` for a cycle."""
    taken: list[str] = []
    left = list(jobs)
    while left:
        ready = [job for job in left if set(job[1]) <= set(taken)]
        if not ready:
            return None
        taken.append(ready[0][0])
        left.remove(ready[0])
    return taken


@st.composite
def graphs(draw: st.DrawFn, *, acyclic: bool) -> list[tuple[str, tuple[str, ...]]]:
    """Random graphs of up to 12 jobs, added in a random order; cycles only when not ``acyclic``."""
    n = draw(st.integers(1, 12))
    ids = [f"j{i}" for i in range(n)]
    edges = []
    for i in range(n):
        pool = ids[:i] if acyclic else ids
        edges.append(tuple(draw(st.lists(st.sampled_from(pool), unique=True, max_size=3)) if pool else ()))
    order = draw(st.permutations(range(n)))
    return [(ids[i], edges[i]) for i in order]


class TestOrderProperties:
    @settings(derandomize=True, database=None, max_examples=200)
    @given(graphs(acyclic=True))
    def test_the_order_is_the_first_added_ready_job_at_each_step(
        self, jobs: list[tuple[str, tuple[str, ...]]]
    ) -> None:
        """On random DAGs: every job comes after its after-jobs, ties go to the job added first."""
        order = topological_order(jobs)
        assert order == reference_order(jobs)
        place = {job_id: i for i, job_id in enumerate(order)}
        assert all(place[before] < place[job_id] for job_id, after in jobs for before in after)

    @settings(derandomize=True, database=None, max_examples=200)
    @given(graphs(acyclic=False))
    def test_a_graph_is_refused_exactly_when_it_has_a_cycle(
        self, jobs: list[tuple[str, tuple[str, ...]]]
    ) -> None:
        """On random graphs: ChainError naming a real cycle, or the reference order."""
        expected = reference_order(jobs)
        if expected is not None:
            assert topological_order(jobs) == expected
            return
        with pytest.raises(ChainError, match="cycle") as info:
            topological_order(jobs)
        cycle = str(info.value).split("cycle: ")[1].replace("'", "").split(" -> ")
        after = dict(jobs)
        assert cycle[0] == cycle[-1]
        assert all(cycle[i] in after[cycle[i + 1]] for i in range(len(cycle) - 1))

    @settings(derandomize=True, database=None, max_examples=25, deadline=None)
    @given(graphs(acyclic=True))
    def test_a_random_chain_runs_every_job_after_its_after_jobs(
        self, steps: Factory, jobs: list[tuple[str, tuple[str, ...]]]
    ) -> None:
        """On random DAGs: built in order, every job completes, each one after all of its after-jobs."""
        global BOARD  # noqa: PLW0603
        BOARD = Board()
        conf = {job_id: {"set": {job_id: True}} for job_id, _after in jobs}
        chain = step_chain(steps, {job_id: list(after) for job_id, after in jobs}, conf)
        assert list(chain.jobs) == reference_order(jobs)
        result = ChainRunner(chain, factory=steps).run()
        assert result.state == State.COMPLETE
        ended = BOARD.ended
        assert all(ended.index(b) < ended.index(j) for j, after in jobs for b in after)
        for job_id, after in jobs:  # job data carries every job before it on each path
            assert set(after) <= set(BOARD.seen(job_id))


class TestDocument:
    def test_a_chain_survives_its_document_before_and_after_a_run(self, installed: Factory) -> None:
        """to_json / from_json give an equal chain, with states, tries, errors and job data."""
        chain = (
            ChainBuilder("req", {"duration": 0}, factory=installed)
            .job("a", "sleep", "a", retry=2, retry_wait=0.5)
            .job("b", "noop", "b", after=["a"])
            .build()
        )
        assert Chain.from_json(chain.to_json()) == chain
        done = ChainRunner(chain).run({"k": [1, {"x": None}]}).chain
        again = Chain.from_json(done.to_json())
        assert again == done
        assert again.jobs["b"].job_data == {"k": [1, {"x": None}]}
        assert json.loads(done.to_json())["format"] == CHAIN_FORMAT

    @pytest.mark.parametrize(
        ("change", "match"),
        [
            (lambda text: text.replace('"noop"', '"sleep"'), "does not match its sha256"),
            (lambda text: text[: len(text) // 2], "is not JSON"),
            (
                lambda text: text.replace(CHAIN_FORMAT, JOB_FORMAT),
                r"not a chain document \(format 'spincycle-jobs/job/1', expected spincycle-jobs/chain/1\)",
            ),
            (lambda text: "[]", r"not a chain document \(format None"),
        ],
        ids=["tampered", "truncated", "foreign", "not an object"],
    )
    def test_a_changed_or_foreign_document_is_refused(
        self, installed: Factory, change: Callable[[str], str], match: str
    ) -> None:
        """Integrity is the job document's: any change anywhere is a ChainError."""
        text = ChainBuilder("req", factory=installed).job("a", "noop", "a").build().to_json()
        with pytest.raises(ChainError, match=match):
            Chain.from_json(change(text), "chain.json")

    @pytest.mark.parametrize(
        ("edit", "match"),
        [
            (lambda body: body.pop("request_id"), "'request_id' is missing"),
            (lambda body: body.update(jobs={}), "field 'jobs' is not a list"),
            (
                lambda body: body["jobs"][0].update(retry=-1),
                r"job #1: field 'retry' is not an integer >= 0",
            ),
            (
                lambda body: body["jobs"][0].update(state="DONE"),
                "field 'state' is not a state name",
            ),
            (lambda body: body["jobs"][0]["record"].update(data="!!"), "field 'data' is not base64"),
            (lambda body: body["jobs"][0].update(after=["a"]), r"cycle: 'a' -> 'a'"),
            (lambda body: body["jobs"].append(body["jobs"][0]), "'a' is used twice"),
        ],
        ids=[
            "no request id",
            "jobs not a list",
            "bad retry",
            "bad state",
            "bad record",
            "cycle",
            "duplicate",
        ],
    )
    def test_a_well_signed_document_with_bad_contents_is_refused(
        self, installed: Factory, edit: Callable[[dict[str, Any]], object], match: str
    ) -> None:
        """A document written by other code, hash and all, is still checked field by field and as a graph."""
        text = ChainBuilder("req", factory=installed).job("a", "noop", "a").build().to_json()
        body = json.loads(text)
        del body["format"], body["sha256"]
        edit(body)
        with pytest.raises(ChainError, match=match):
            Chain.from_json(dump_document(CHAIN_FORMAT, body))


class TestRun:
    def test_a_chain_of_installed_jobs_completes(self, installed: Factory) -> None:
        """Example noop and sleep jobs, fanned out and in: COMPLETE, one try each, the job data kept."""
        builder = ChainBuilder("req", {"duration": 0}, factory=installed).job("first", "noop", "first")
        for i in range(4):
            builder.job(f"b{i}", "sleep", f"b{i}", after=["first"])
        chain = builder.job("last", "noop", "last", after=[f"b{i}" for i in range(4)]).build()
        result = ChainRunner(chain).run({"host": "db1"})
        assert result.state == State.COMPLETE
        assert {job_id: (r.state, r.tries) for job_id, r in result.jobs.items()} == dict.fromkeys(
            chain.jobs, (State.COMPLETE, 1)
        )
        assert result.job_data == {"host": "db1"}
        assert [job.state for job in result.chain.jobs.values()] == [State.COMPLETE] * 6

    def test_jobs_whose_prerequisites_are_met_run_at_the_same_time(
        self, installed: Factory, tmp_path: Path
    ) -> None:
        """Three example shell-command jobs leave a file each, then wait for all three: only overlaps end."""
        script = (
            f"mktemp {tmp_path}/XXXXXX >/dev/null; i=0; "
            f'while [ "$(ls {tmp_path} | wc -l)" -lt 3 ] && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); '
            "done; "
            f'[ "$(ls {tmp_path} | wc -l)" -ge 3 ]'
        )
        builder = ChainBuilder("req", {"cmd": "sh", "args": ["-c", script]}, factory=installed)
        builder.job("root", "noop", "root")
        for name in ("a", "b", "c"):
            builder.job(name, "shell-command", name, after=["root"])
        result = ChainRunner(builder.build()).run()
        assert result.state == State.COMPLETE, result.jobs
        assert len(list(tmp_path.iterdir())) == 3

    def test_job_data_flows_down_and_the_last_parent_to_finish_wins(
        self, steps: Factory, board: Board
    ) -> None:
        """c runs after a and b, which both set x; b finishes last, so c starts with b's x."""
        conf = {
            "root": {"set": {"x": 0, "root": 1}},
            "a": {"set": {"x": "a", "a": 1}, "block": True},
            "b": {"set": {"x": "b", "b": 1}, "block": True},
        }
        chain = step_chain(steps, {"root": [], "a": ["root"], "b": ["root"], "c": ["a", "b"]}, conf)
        wait = run_in_thread(ChainRunner(chain, factory=steps), {"given": True, "x": -1})
        started(board, "a", "b")
        board.release["a"].set()
        while "a" not in board.ended:
            board.started["never"].wait(0.005)
        board.release["b"].set()
        result = wait()
        assert board.seen("root") == {"given": True, "x": -1}
        assert board.seen("a") == {"given": True, "x": 0, "root": 1}
        assert board.seen("c") == {"given": True, "x": "b", "root": 1, "a": 1, "b": 1}
        assert result.job_data == {"given": True, "x": "b", "root": 1, "a": 1, "b": 1}
        assert [result.chain.jobs[j].finished for j in ("root", "a", "b", "c")] == [1, 2, 3, 4]

    def test_no_object_is_shared_between_two_jobs(self, steps: Factory, board: Board) -> None:
        """Parallel jobs append to the same list in job data: each sees only its own change."""
        conf = {"a": {"append": True}, "b": {"append": True}, "root": {"set": {"trail": ["root"]}}}
        chain = step_chain(steps, {"root": [], "a": ["root"], "b": ["root"]}, conf)
        given = {"trail": ["given"]}
        result = ChainRunner(chain, factory=steps).run(given)
        assert given == {"trail": ["given"]}
        assert result.chain.jobs["a"].job_data == {"trail": ["root", "a"]}
        assert result.chain.jobs["b"].job_data == {"trail": ["root", "b"]}
        assert board.seen("a") == board.seen("b") == {"trail": ["root"]}

    def test_job_data_that_is_not_json_fails_the_job_naming_the_key(self, steps: Factory) -> None:
        """A job that leaves a set in job data fails with the key named; the job after it never starts."""
        chain = step_chain(steps, {"a": [], "b": ["a"]}, {"a": {"bad_data": True}})
        result = ChainRunner(chain, factory=steps).run()
        assert result.state == State.FAIL
        assert result.jobs["a"].state == State.FAIL
        assert "not JSON data under key 'bad'" in str(result.jobs["a"].returns[0].error)
        assert (result.jobs["b"].state, result.jobs["b"].tries) == (State.PENDING, 0)

    def test_job_data_given_to_run_must_be_json(self, steps: Factory) -> None:
        """Bad job data is refused before anything runs."""
        chain = step_chain(steps, {"a": []})
        with pytest.raises(ChainError, match="job data given to run chain 'req' are not JSON data"):
            ChainRunner(chain, factory=steps).run({"x": object()})
        with pytest.raises(ChainError, match="are not JSON data: it nests lists and dicts more deeply"):
            ChainRunner(chain, factory=steps).run({"x": deep(100_000)})

    def test_a_job_is_tried_1_plus_retry_times(self, steps: Factory, board: Board) -> None:
        """Two failed tries then a complete one, with retry=2; every try starts from the same job data."""
        chain = step_chain(steps, {"a": [], "b": ["a"]}, {"a": {"fail": 2, "set": {"n": 1}}}, a={"retry": 2})
        result = ChainRunner(chain, factory=steps).run({"n": 0})
        assert result.state == State.COMPLETE
        assert result.jobs["a"].tries == 3
        assert [r.state for r in result.jobs["a"].returns] == [State.FAIL, State.FAIL, State.COMPLETE]
        assert [data for name, data in board.runs if name == "a"] == [{"n": 0}] * 3

    def test_a_job_out_of_tries_fails_and_blocks_what_depends_on_it(
        self, steps: Factory, board: Board
    ) -> None:
        """retry=1 for a job failing twice: FAIL after 2 tries; its dependants stay PENDING, others go on."""
        graph = {"a": [], "b": ["a"], "c": ["b"], "x": [], "y": ["x"]}
        chain = step_chain(steps, graph, {"a": {"fail": 5}}, a={"retry": 1})
        result = ChainRunner(chain, factory=steps).run()
        assert result.state == State.FAIL
        assert (result.jobs["a"].state, result.jobs["a"].tries) == (State.FAIL, 2)
        assert result.jobs["a"].returns[-1].error == ChainError("JobError: a fails try 2", "a")
        assert {j: result.jobs[j].state for j in "bcxy"} == {
            "b": State.PENDING,
            "c": State.PENDING,
            "x": State.COMPLETE,
            "y": State.COMPLETE,
        }
        assert result.chain.jobs["a"].error == "JobError: a fails try 2"

    def test_installed_jobs_retry_and_fail_alone(self, installed: Factory, tmp_path: Path) -> None:
        """Example shell-command jobs: one fails its first try only, one always fails; the others go on."""
        flag = tmp_path / "flag"
        chain = shells(
            installed,
            {
                "flaky": (f"test -e {flag} || {{ touch {flag}; exit 3; }}", [], 1),
                "after-flaky": ("true", ["flaky"], 0),
                "broken": ("exit 4", [], 3),
                "after-broken": ("true", ["broken"], 0),
            },
        )
        result = ChainRunner(chain).run()
        assert result.state == State.FAIL
        assert [r.exit for r in result.jobs["flaky"].returns] == [3, 0]
        assert result.jobs["after-flaky"].state == State.COMPLETE
        assert (result.jobs["broken"].state, result.jobs["broken"].tries) == (State.FAIL, 4)
        assert (result.jobs["after-broken"].state, result.jobs["after-broken"].tries) == (State.PENDING, 0)

    def test_a_job_stopped_on_its_own_fails_the_chain(self, steps: Factory) -> None:
        """A job returning STOPPED when nobody stopped the chain: the job is STOPPED, the chain FAIL."""
        chain = step_chain(steps, {"a": [], "b": ["a"]}, {"a": {"state": "STOPPED"}})
        result = ChainRunner(chain, factory=steps).run()
        assert (result.state, result.jobs["a"].state, result.jobs["b"].state) == (
            State.FAIL,
            State.STOPPED,
            State.PENDING,
        )

    @pytest.mark.parametrize(
        ("run_with", "match"),
        [
            (lambda: Factory(autoload=False, plugins=[StepPlugin]), "unknown job type 'noop'"),
            (lambda: Factory(allow=["nothing"]), "UnknownJobTypeError"),
        ],
        ids=["type unknown there", "plugin not allowed there"],
    )
    def test_a_job_that_cannot_be_made_where_it_runs_fails_alone(
        self, installed: Factory, run_with: Callable[[], Factory], match: str
    ) -> None:
        """Built with the example plugin, run where its types are unknown: those jobs fail, saying why."""
        chain = (
            ChainBuilder("req", factory=installed)
            .job("a", "noop", "a")
            .job("b", "noop", "b", after=["a"])
            .build()
        )
        result = ChainRunner(chain, factory=run_with()).run()
        assert result.state == State.FAIL
        error = str(result.jobs["a"].returns[0].error)
        assert error.startswith(f"cannot make job 'a' (noop 'a') on host {socket.gethostname()!r}: ")
        assert match in error
        assert result.jobs["b"].state == State.PENDING

    def test_a_job_from_another_distribution_fails_alone(self, installed: Factory, steps: Factory) -> None:
        """A noop created by the installed example plugin, run where noop comes from an in-process plugin."""

        class NoopHere:
            @staticmethod
            @hookimpl
            def spincycle_jobs_job_types() -> dict[str, Any]:
                return {"noop": Step}

        chain = ChainBuilder("req", factory=installed).job("a", "noop", "a").build()
        other = ChainBuilder("req", factory=steps).job("s", "step", "s").build()
        chain = Chain("req", {**chain.jobs, **other.jobs})
        result = ChainRunner(chain, factory=Factory(autoload=False, plugins=[StepPlugin, NoopHere])).run()
        assert (result.jobs["a"].state, result.jobs["s"].state) == (State.FAIL, State.COMPLETE)
        assert (
            "was created by distribution 'spincycle-jobs-example', but job type 'noop' here comes from None"
            in str(result.jobs["a"].returns[0].error)
        )

    def test_a_job_that_refuses_its_bytes_fails_alone(self, installed: Factory) -> None:
        """Bytes the job cannot deserialize: that job fails, saying so."""
        chain = ChainBuilder("req", {"duration": 0}, factory=installed).job("a", "sleep", "a").build()
        bad = attrs.evolve(chain.jobs["a"], record=attrs.evolve(chain.jobs["a"].record, data=b"{not json"))
        result = ChainRunner(Chain("req", {"a": bad})).run()
        assert result.jobs["a"].state == State.FAIL
        assert str(result.jobs["a"].returns[0].error).startswith(
            f"cannot make job 'a' (sleep 'a') on host {socket.gethostname()!r}"
        )

    def test_status_reports_each_running_job(self, installed: Factory) -> None:
        """While two example sleep jobs run: one record each with id, type, name, tries and status()."""
        chain = (
            ChainBuilder("req", {"duration": 600}, factory=installed)
            .job("s1", "sleep", "nap-1")
            .job("s2", "sleep", "nap-2")
            .job("after", "noop", "after", after=["s1"])
            .build()
        )
        runner = ChainRunner(chain)
        wait = run_in_thread(runner)
        statuses = runner.status()
        while sum("left" in s.status for s in statuses) < 2:
            threading.Event().wait(0.01)
            statuses = runner.status()
        assert [(s.id, s.type, s.name, s.tries) for s in statuses] == [
            ("s1", "sleep", "nap-1", 1),
            ("s2", "sleep", "nap-2", 1),
        ]
        assert statuses[0].status.endswith("left of 600s")
        runner.stop()
        assert wait().state == State.STOPPED
        assert runner.status() == []


class TestStop:
    def test_stop_stops_running_jobs_and_starts_no_more(self, installed: Factory) -> None:
        """Example sleep jobs: stop() reaches both running ones; the chain is STOPPED; later jobs wait."""
        chain = (
            ChainBuilder("req", {"duration": 600}, factory=installed)
            .job("s1", "sleep", "s1")
            .job("s2", "sleep", "s2")
            .job("after", "noop", "after", after=["s1", "s2"])
            .build()
        )
        runner = ChainRunner(chain)
        wait = run_in_thread(runner)
        while sum("left" in s.status for s in runner.status()) < 2:  # both sleeping
            threading.Event().wait(0.01)
        runner.stop()
        result = wait()
        assert result.state == State.STOPPED
        assert [result.jobs[j].state for j in ("s1", "s2", "after")] == [
            State.STOPPED,
            State.STOPPED,
            State.PENDING,
        ]
        assert result.jobs["after"].tries == 0
        assert [result.chain.jobs[j].state for j in ("s1", "s2", "after")] == [
            State.STOPPED,
            State.STOPPED,
            State.PENDING,
        ]

    def test_a_job_still_running_after_stop_timeout_is_marked_fail(
        self, steps: Factory, board: Board
    ) -> None:
        """A job ignoring stop(): STOPPED after stop_timeout, that job FAIL, a polite one STOPPED."""
        conf = {"deaf": {"block": True, "ignore_stop": True}, "polite": {"block": True}}
        chain = step_chain(steps, {"deaf": [], "polite": []}, conf)
        runner = ChainRunner(chain, factory=steps, stop_timeout=0.2)
        wait = run_in_thread(runner)
        started(board, "deaf", "polite")
        runner.stop()
        result = wait()
        assert result.state == State.STOPPED
        assert result.jobs["polite"].state == State.STOPPED
        assert result.jobs["deaf"].state == State.FAIL
        assert "job 'deaf' did not return within 0.2s of stop()" in str(result.jobs["deaf"].returns[-1].error)

    def test_a_chain_whose_jobs_all_complete_is_complete_even_if_stopped(
        self, steps: Factory, board: Board
    ) -> None:
        """stop() while the last job runs, which then completes anyway: COMPLETE."""
        chain = step_chain(steps, {"a": [], "last": ["a"]}, {"last": {"block": True, "ignore_stop": True}})
        runner = ChainRunner(chain, factory=steps)
        wait = run_in_thread(runner)
        started(board, "last")
        runner.stop()
        board.release["last"].set()
        result = wait()
        assert result.state == State.COMPLETE
        assert result.jobs["last"].state == State.COMPLETE

    def test_stop_cuts_a_retry_wait_short(self, steps: Factory, board: Board) -> None:
        """A job waiting an hour for its next try: stop() ends the wait; the job is STOPPED after one try."""
        chain = step_chain(
            steps, {"a": [], "b": ["a"]}, {"a": {"fail": 5}}, a={"retry": 3, "retry_wait": 3600}
        )
        runner = ChainRunner(chain, factory=steps)
        wait = run_in_thread(runner)
        while not runner.status() or runner.status()[0].status != "waiting to start try 2":
            threading.Event().wait(0.01)
        runner.stop()
        result = wait()
        assert result.state == State.STOPPED
        assert (result.jobs["a"].state, result.jobs["a"].tries) == (State.STOPPED, 1)
        assert board.tries("a") == 1

    def test_stop_before_run_runs_nothing(self, steps: Factory, board: Board) -> None:
        """A runner stopped before run(): STOPPED, every job PENDING with 0 tries."""
        runner = ChainRunner(step_chain(steps, {"a": []}), factory=steps)
        runner.stop()
        runner.stop()
        result = runner.run()
        assert (result.state, result.jobs["a"].state, result.jobs["a"].tries) == (
            State.STOPPED,
            State.PENDING,
            0,
        )
        assert board.runs == []


class TestResume:
    def test_completed_jobs_are_skipped_and_their_job_data_used(self, steps: Factory, board: Board) -> None:
        """A chain failed at c: resumed, a and b are skipped, c runs with their data and all its tries."""
        graph = {"a": [], "b": ["a"], "c": ["b"], "d": ["c"]}
        conf = {"a": {"set": {"a": 1}}, "b": {"set": {"b": 1}}, "c": {"fail": 2}}
        chain = step_chain(steps, graph, conf, c={"retry": 1})
        first = ChainRunner(chain, factory=steps).run({"given": 1})
        assert (first.state, first.jobs["c"].tries) == (State.FAIL, 2)
        saved = Chain.from_json(first.chain.to_json())
        again = ChainRunner(saved, factory=steps).run({"given": 2})
        assert again.state == State.COMPLETE
        assert {j: (r.state, r.tries) for j, r in again.jobs.items()} == {
            "a": (State.COMPLETE, 0),
            "b": (State.COMPLETE, 0),
            "c": (State.COMPLETE, 1),
            "d": (State.COMPLETE, 1),
        }
        assert [name for name, _data in board.runs] == ["a", "b", "c", "c", "c", "d"]
        # b's recorded job data holds what it started with, so it wins over the new run's given data
        assert board.seen("c") == {"given": 1, "a": 1, "b": 1}
        assert again.job_data == {"given": 1, "a": 1, "b": 1}
        assert again.chain.jobs["a"].tries == 1  # as recorded by the run that did it

    def test_the_recorded_finish_order_decides_job_data_on_resume(self, steps: Factory) -> None:
        """Two completed parents setting the same key: the one recorded as finishing last wins."""
        conf = {"a": {"set": {"x": "a"}}, "b": {"set": {"x": "b"}}, "c": {"state": "FAIL"}}
        first = ChainRunner(step_chain(steps, {"a": [], "b": [], "c": ["a", "b"]}, conf), factory=steps).run()
        last = max(("a", "b"), key=lambda j: first.chain.jobs[j].finished or 0)
        assert first.chain.jobs["c"].job_data == {"x": last}
        flipped = {
            "a": attrs.evolve(first.chain.jobs["a"], finished=first.chain.jobs["b"].finished),
            "b": attrs.evolve(first.chain.jobs["b"], finished=first.chain.jobs["a"].finished),
            "c": first.chain.jobs["c"],
        }
        again = ChainRunner(Chain("req", flipped), factory=steps).run()
        assert again.chain.jobs["c"].job_data == {"x": "b" if last == "a" else "a"}

    def test_an_installed_chain_resumes_from_its_document(self, installed: Factory, tmp_path: Path) -> None:
        """Example shell-command jobs: the failed one runs again once the cause is gone; the others do not."""
        flag, log = tmp_path / "flag", tmp_path / "log"
        chain = shells(
            installed,
            {
                "first": (f"echo first >> {log}", [], 0),
                "gate": (f"echo gate >> {log}; test -e {flag}", ["first"], 1),
                "last": (f"echo last >> {log}", ["gate"], 0),
            },
        )
        first = ChainRunner(chain).run()
        assert (first.state, first.jobs["gate"].tries) == (State.FAIL, 2)
        flag.touch()
        again = ChainRunner(Chain.from_json(first.chain.to_json())).run()
        assert again.state == State.COMPLETE
        assert (again.jobs["first"].tries, again.jobs["gate"].tries, again.jobs["last"].tries) == (0, 1, 1)
        assert log.read_text().split() == ["first", "gate", "gate", "gate", "last"]


class TestRunnerApi:
    def test_on_job_end_sees_each_job_end(self, steps: Factory) -> None:
        """The callback gets the chain with the job's state recorded, once per job, in the order they end."""
        seen: list[tuple[str, State, int]] = []
        chain = step_chain(steps, {"a": [], "b": ["a"]}, {"b": {"fail": 1}}, b={"retry": 1})

        def on_end(job_id: str) -> None:
            now = runner.snapshot()
            seen.append((job_id, now.jobs[job_id].state, now.jobs[job_id].tries))

        runner = ChainRunner(chain, factory=steps, on_job_end=on_end)
        runner.run()
        assert seen == [("a", State.COMPLETE, 1), ("b", State.COMPLETE, 2)]

    def test_a_failing_on_job_end_stops_the_chain_and_is_raised(self, steps: Factory, board: Board) -> None:
        """The callback's error stops the chain, and run raises it once the jobs have ended."""

        def on_end(_job_id: str) -> None:
            raise OSError("disk full")

        chain = step_chain(steps, {"a": [], "b": ["a"]})
        with pytest.raises(OSError, match="disk full"):
            ChainRunner(chain, factory=steps, on_job_end=on_end).run()
        assert [name for name, _data in board.runs] == ["a"]

    def test_a_runner_runs_once(self, steps: Factory) -> None:
        """A second run() is a ChainError; make another runner."""
        runner = ChainRunner(step_chain(steps, {"a": []}), factory=steps)
        runner.run()
        with pytest.raises(ChainError, match="already run"):
            runner.run()

    @pytest.mark.parametrize(
        ("kwargs", "error", "match"),
        [
            ({"stop_timeout": -1}, ValueError, "stop_timeout must be"),
            ({"stop_timeout": float("inf")}, ValueError, "stop_timeout must be"),
            ({"executor": object()}, TypeError, "Executor protocol"),
        ],
        ids=["negative stop timeout", "infinite stop timeout", "not an executor"],
    )
    def test_bad_runner_arguments(
        self, steps: Factory, kwargs: dict[str, Any], error: type, match: str
    ) -> None:
        """Refused at once, with what was wrong."""
        with pytest.raises(error, match=match):
            ChainRunner(step_chain(steps, {"a": []}), **kwargs)

    def test_a_try_on_a_closed_executor_fails(self, steps: Factory) -> None:
        """A closed executor ends the try FAIL through done, saying so; nothing hangs."""
        executor = ThreadExecutor(steps)
        executor.close()
        result = ChainRunner(step_chain(steps, {"a": []}), executor=executor).run()
        assert result.state == State.FAIL
        assert "the executor is closed" in str(result.jobs["a"].returns[0].error)

    def test_a_custom_executor_that_reports_at_once_works(self, steps: Factory) -> None:
        """An Executor calling done() inside start(), in the calling thread: the chain still runs through."""

        class Inline:
            def start(self, try_: Try, done: Callable[[Try, Outcome], None]) -> None:
                done(try_, Outcome(State.COMPLETE, job_data={**try_.job_data, try_.job_id: 1}))

            def stop(self, try_: Try) -> None: ...

            def status(self, try_: Try) -> str:
                return ""

            def close(self) -> None: ...

        assert isinstance(Inline(), Executor)
        chain = step_chain(steps, {"a": [], "b": ["a"], "c": ["b"]})
        result = ChainRunner(chain, executor=Inline()).run()
        assert (result.state, result.job_data) == (State.COMPLETE, {"a": 1, "b": 1, "c": 1})


class TestThreadExecutor:
    def test_stop_before_the_job_runs_reaches_it_when_it_starts(self, steps: Factory, board: Board) -> None:
        """A try stopped before its job was made: the job is stopped as it starts."""
        chain = step_chain(steps, {"a": []}, {"a": {"block": True}})
        try_ = Try("req", "a", chain.jobs["a"].record, {}, 1)
        executor = ThreadExecutor(steps)
        ended: list[Outcome] = []
        gate = threading.Event()

        def done(_try: Try, outcome: Outcome) -> None:
            ended.append(outcome)
            gate.set()

        executor._running.taken(try_.key)  # taken, its job not yet made
        executor.stop(try_)
        executor.start(try_, done)
        assert gate.wait(WAIT)
        assert ended[0].state == State.STOPPED
        assert executor.status(try_) == ""
        executor.close()


def test_importing_the_package_loads_no_chain_module() -> None:
    """Chains load on first use: ``import spincycle_jobs`` stays cheap."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    code = "import sys, spincycle_jobs; print(sorted(m for m in sys.modules if 'chain' in m or 'exec' in m))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


class TestStopInstalled:
    def test_stop_cuts_an_installed_jobs_retry_wait_short(self, installed: Factory, tmp_path: Path) -> None:
        """An example shell-command failing, an hour to wait before its next try: stop() ends the wait."""
        log = tmp_path / "log"
        chain = shells(installed, {"flaky": (f"echo try >> {log}; exit 1", [], 5)})
        runner = ChainRunner(attrs.evolve(chain, jobs=_with_wait(chain, "flaky", 3600)))
        wait = run_in_thread(runner)
        while not any(s.status == "waiting to start try 2" for s in runner.status()):
            threading.Event().wait(0.01)
        runner.stop()
        result = wait()
        assert (result.state, result.jobs["flaky"].state, result.jobs["flaky"].tries) == (
            State.STOPPED,
            State.STOPPED,
            1,
        )
        assert log.read_text() == "try\n"

    def test_an_installed_job_that_outlasts_stop_timeout_is_marked_fail(
        self, installed: Factory, tmp_path: Path
    ) -> None:
        """An example shell-command whose command ignores SIGTERM: FAIL after stop_timeout; chain STOPPED."""
        started_file = tmp_path / "started"
        chain = shells(installed, {"deaf": (f"trap '' TERM; touch {started_file}; sleep 30", [], 0)})
        runner = ChainRunner(chain, stop_timeout=0.1)
        wait = run_in_thread(runner)
        while not started_file.exists():
            threading.Event().wait(0.01)
        runner.stop()
        result = wait()
        assert (result.state, result.jobs["deaf"].state) == (State.STOPPED, State.FAIL)
        assert "did not return within 0.1s of stop()" in str(result.jobs["deaf"].returns[-1].error)


def _with_wait(chain: Chain, job_id: str, seconds: float) -> dict[str, Any]:
    return {**chain.jobs, job_id: attrs.evolve(chain.jobs[job_id], retry_wait=seconds)}


class _Only:
    """A JobFactory that makes one kind of job, of an installed distribution, and knows nothing of plugins."""

    def __init__(self, job: Job) -> None:
        self._class = type(job)

    def make(self, job_type: str, job_name: str) -> Job:
        return self._class(job_type, job_name)  # type: ignore[call-arg]
