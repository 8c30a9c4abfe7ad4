"""The chain's state machine, driven event by event: no threads, no clock, no executor."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from spincycle_jobs import Chain
from spincycle_jobs import ChainJob
from spincycle_jobs import Outcome
from spincycle_jobs import State
from spincycle_jobs._chainstate import Action
from spincycle_jobs._chainstate import ChainState
from spincycle_jobs._chainstate import JobEnded
from spincycle_jobs._chainstate import Start
from spincycle_jobs._chainstate import StopTry
from spincycle_jobs._chainstate import TryEnded
from spincycle_jobs._document import JobRecord


def chain(graph: dict[str, list[str]], **options: dict[str, Any]) -> Chain:
    """A chain of the graph (ids in topological order), each job with its options."""
    return Chain(
        "req",
        {
            job_id: ChainJob(
                job_id, JobRecord("noop", job_id, b"{}"), tuple(after), **options.get(job_id, {})
            )
            for job_id, after in graph.items()
        },
    )


def started(actions: list[Action]) -> list[str]:
    return [a.try_.job_id for a in actions if isinstance(a, Start)]


def complete(job_id: str, **data: Any) -> Outcome:
    return Outcome(State.COMPLETE, job_data={job_id: True, **data})


class TestOrder:
    def test_a_job_starts_when_its_last_prerequisite_completes(self) -> None:
        """A fan-in's join starts once, after the last of its prerequisites, not before."""
        state = ChainState(chain({"a": [], "b": [], "join": ["a", "b"]}), {})
        first = state.begin()
        assert started(first) == ["a", "b"]
        a, b = (action.try_ for action in first if isinstance(action, Start))
        assert started(state.ended(a, complete("a"), 0.0)) == []
        then = state.ended(b, complete("b"), 0.0)
        assert started(then) == ["join"]
        join = next(action.try_ for action in then if isinstance(action, Start))
        assert join.job_data == {"a": True, "b": True}

    def test_a_failed_job_keeps_its_dependents_pending_and_others_go_on(self) -> None:
        """The chain fails once nothing more can run; the failed job's dependents never start."""
        state = ChainState(chain({"a": [], "b": ["a"], "c": []}), {})
        a, c = (action.try_ for action in state.begin() if isinstance(action, Start))
        actions = state.ended(a, Outcome.failed("boom"), 0.0)
        assert actions == [TryEnded(a, Outcome.failed("boom"), State.FAIL, None)]
        assert started(state.ended(c, complete("c"), 0.0)) == []
        assert not state.running
        assert state.job("b").state == State.PENDING
        assert state.final_state() == State.FAIL

    def test_job_data_merge_in_the_order_jobs_completed(self) -> None:
        """The last to complete wins a key both set."""
        state = ChainState(chain({"a": [], "b": [], "c": ["a", "b"]}), {"k": 0})
        a, b = (action.try_ for action in state.begin() if isinstance(action, Start))
        state.ended(b, complete("b", k="b"), 0.0)
        c = next(x.try_ for x in state.ended(a, complete("a", k="a"), 0.0) if isinstance(x, Start))
        assert c.job_data["k"] == "a"
        state.ended(c, complete("c"), 0.0)
        assert state.job_data() == {"k": "a", "a": True, "b": True, "c": True}
        assert state.final_state() == State.COMPLETE


class TestRetries:
    def test_a_retry_comes_due_after_retry_wait(self) -> None:
        """A failed try with a retry left waits retry_wait, on the clock the events bring."""
        state = ChainState(chain({"a": []}, a={"retry": 1, "retry_wait": 5.0}), {})
        a1 = state.begin()[0]
        assert isinstance(a1, Start)
        assert state.ended(a1.try_, Outcome.failed("once"), 10.0) == [
            TryEnded(a1.try_, Outcome.failed("once"), None, None)
        ]
        assert state.next_due == 15.0
        assert state.due(14.9) == []
        (a2,) = state.due(15.0)
        assert isinstance(a2, Start)
        assert a2.try_.try_number == 2

    def test_a_timeout_is_not_retried(self) -> None:
        """TIMEOUT ends the job at once, retries or not."""
        state = ChainState(chain({"a": []}, a={"retry": 3}), {})
        a1 = state.begin()[0]
        assert isinstance(a1, Start)
        (ended,) = state.ended(a1.try_, Outcome(State.TIMEOUT), 0.0)
        assert isinstance(ended, TryEnded)
        assert ended.job_state == State.TIMEOUT


class TestStop:
    def test_stop_stops_handed_tries_and_ends_waiting_ones(self) -> None:
        """Handed tries get a StopTry; a job waiting to retry ends STOPPED; nothing starts after."""
        state = ChainState(chain({"a": [], "b": [], "c": ["a"]}, b={"retry": 1, "retry_wait": 60.0}), {})
        a, b = (x.try_ for x in state.begin() if isinstance(x, Start))
        assert state.handed(a) == []
        state.handed(b)
        state.ended(b, Outcome.failed("x"), 0.0)
        actions = state.stop()
        assert actions == [JobEnded("b", State.STOPPED, "x"), StopTry(a)]
        assert state.stop() == []
        assert started(state.ended(a, complete("a"), 0.0)) == []
        assert state.final_state() == State.STOPPED

    def test_a_try_handed_after_stop_is_stopped_at_once(self) -> None:
        """Stop between counting a try and the executor accepting it: the try is stopped when handed."""
        state = ChainState(chain({"a": []}), {})
        a = state.begin()[0]
        assert isinstance(a, Start)
        assert state.stop() == []
        assert state.handed(a.try_) == [StopTry(a.try_)]

    def test_a_withdrawn_try_never_started(self) -> None:
        """A try taken back before it was handed out leaves its job PENDING with 0 tries."""
        state = ChainState(chain({"a": []}), {})
        a = state.begin()[0]
        assert isinstance(a, Start)
        state.stop()
        assert state.withdraw(a.try_) == []
        assert (state.job("a").state, state.job("a").tries, state.running) == (State.PENDING, 0, False)

    def test_give_up_fails_what_still_runs(self) -> None:
        """After stop_timeout, a try still running ends its job FAIL; its late end is ignored."""
        state = ChainState(chain({"a": []}), {})
        a = state.begin()[0]
        assert isinstance(a, Start)
        state.stop()
        (ended,) = state.give_up("did not return")
        assert ended == JobEnded("a", State.FAIL, "ChainError: job 'a' did not return")
        assert state.ended(a.try_, complete("a"), 0.0) == []


class TestResume:
    def test_recorded_complete_jobs_are_skipped_with_their_data(self) -> None:
        """A resumed chain starts after its COMPLETE jobs, with their recorded job data."""
        done = {"state": State.COMPLETE, "tries": 1, "job_data": {"a": 1}, "finished": 1}
        state = ChainState(chain({"a": [], "b": ["a"]}, a=done), {})
        (b,) = state.begin()
        assert isinstance(b, Start)
        assert (b.try_.job_id, b.try_.job_data) == ("b", {"a": 1})
        assert state.job("a").skipped


@st.composite
def graphs(draw: st.DrawFn) -> dict[str, list[str]]:
    """Random DAGs: each job runs after a subset of the jobs before it."""
    n = draw(st.integers(1, 12))
    return {
        f"j{i}": draw(st.lists(st.sampled_from([f"j{k}" for k in range(i)]), unique=True)) if i else []
        for i in range(n)
    }


@settings(max_examples=60, deadline=None)
@given(
    graph=graphs(), outcomes=st.lists(st.sampled_from([State.COMPLETE, State.FAIL]), min_size=12, max_size=12)
)
def test_any_graph_runs_each_job_after_its_prerequisites(
    graph: dict[str, list[str]], outcomes: list[State]
) -> None:
    """Driving any DAG to its end: a job starts only after all its prerequisites completed; it ends right."""
    state = ChainState(chain(graph), {})
    pending = [a.try_ for a in state.begin() if isinstance(a, Start)]
    completed: set[str] = set()
    step = 0
    while pending:
        try_ = pending.pop(0)
        assert set(graph[try_.job_id]) <= completed
        outcome = outcomes[step % len(outcomes)]
        step += 1
        if outcome == State.COMPLETE:
            completed.add(try_.job_id)
        ended = state.ended(try_, Outcome(outcome, job_data={try_.job_id: step}), float(step))
        pending += [a.try_ for a in ended if isinstance(a, Start)]
    assert not state.running
    expected = State.COMPLETE if completed == set(graph) else State.FAIL
    assert state.final_state() == expected
    assert {job.spec.id for job in state.jobs() if job.state == State.COMPLETE} == completed
