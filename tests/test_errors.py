from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import spincycle_jobs
from spincycle_jobs import ArgNotSetError
from spincycle_jobs import DataNotSetError
from spincycle_jobs import JobError
from spincycle_jobs import JobNotFoundError
from spincycle_jobs import PluginError
from spincycle_jobs import Return
from spincycle_jobs import RunTimeoutError
from spincycle_jobs import UnknownJobTypeError
from spincycle_jobs import WrongArgTypeError
from spincycle_jobs import WrongDataTypeError


class Cluster:
    pass


ERRORS = [
    (ArgNotSetError("srcHost"), "srcHost not set in job args"),
    (DataNotSetError("cluster"), "cluster not set in job data"),
    (
        WrongArgTypeError("sliceOfStrings", 5, list),
        "sliceOfStrings in job args is type int, expected type list",
    ),
    (
        WrongDataTypeError("sliceOfStrings", 5, list),
        "sliceOfStrings in job data is type int, expected type list",
    ),
    (WrongArgTypeError("k", None, ["example"]), "k in job args is type NoneType, expected type list"),
    (
        WrongDataTypeError("cluster", {}, Cluster()),
        f"cluster in job data is type dict, expected type {__name__}.Cluster",
    ),
    (WrongArgTypeError("k", "x", (int, float)), "k in job args is type str, expected type int | float"),
    (JobNotFoundError("down-sip"), "job not found: 'down-sip'"),
    (UnknownJobTypeError("slep"), "unknown job type 'slep'"),
    (RunTimeoutError(), "run timeout"),
    (RunTimeoutError(2.5), "run timeout after 2.5 s"),
    (PluginError("plugin 'x' broke", plugin="x"), "plugin 'x' broke"),
]
IDS = [f"{type(e).__name__}-{i}" for i, (e, _) in enumerate(ERRORS)]


class TestMessages:
    @pytest.mark.parametrize(("err", "message"), ERRORS, ids=IDS)
    def test_message(self, err: JobError, message: str) -> None:
        """Each error's str() is exactly the documented message."""
        assert str(err) == message

    @pytest.mark.parametrize(("err", "message"), ERRORS, ids=IDS)
    def test_all_are_job_errors(self, err: JobError, message: str) -> None:
        """One except JobError catches every error."""
        with pytest.raises(JobError, match="."):
            raise err

    def test_unknown_type_names_suggestions_and_failed_plugins(self) -> None:
        """The unknown-type message names close types and the plugins that failed."""
        err = UnknownJobTypeError(
            "slep", suggestions=("sleep",), failed_plugins=(("acme", "ImportError: no"),)
        )
        assert str(err).startswith("unknown job type 'slep'")
        assert "did you mean 'sleep'?" in str(err)
        assert "'acme': ImportError: no" in str(err)

    def test_qualified_name_for_non_builtin(self) -> None:
        """A non-builtin type is named module.QualName."""
        err = WrongArgTypeError("r", Return(), str)
        assert str(err) == "r in job args is type spincycle_jobs._return.Return, expected type str"


class TestAttributes:
    def test_seed_attributes(self) -> None:
        """Each error keeps its culprit as an attribute."""
        assert ArgNotSetError("a").arg == "a"
        assert DataNotSetError("d").key == "d"
        assert JobNotFoundError("n").job_name == "n"
        assert UnknownJobTypeError("t").job_type == "t"
        assert RunTimeoutError(3).timeout == 3
        assert PluginError("m", plugin="p").plugin == "p"

    def test_wrong_type_attributes(self) -> None:
        """The wrong-type errors keep the key, the type found and the type expected."""
        err = WrongArgTypeError("k", 5, [])
        assert (err.key, err.got_type, err.expect_type) == ("k", int, list)
        assert WrongDataTypeError("k", "s", (int, str)).expect_type == (int, str)

    def test_builtin_bases(self) -> None:
        """Each error is also the builtin exception that fits it."""
        assert isinstance(JobNotFoundError("n"), LookupError)
        assert isinstance(UnknownJobTypeError("t"), LookupError)
        assert isinstance(ArgNotSetError("a"), LookupError)
        assert isinstance(WrongArgTypeError("k", 1, str), TypeError)
        assert isinstance(RunTimeoutError(), TimeoutError)

    def test_arg_and_data_errors_are_distinct(self) -> None:
        """Catching the job-args error does not catch the job-data one."""
        assert not isinstance(WrongDataTypeError("k", 1, str), WrongArgTypeError)
        assert not isinstance(DataNotSetError("k"), ArgNotSetError)


class TestValueSemantics:
    @pytest.mark.parametrize(("err", "message"), ERRORS, ids=IDS)
    def test_pickle_round_trip(self, err: JobError, message: str) -> None:
        """Errors survive pickling with their message and attributes."""
        back = pickle.loads(pickle.dumps(err))  # noqa: S301 - our own bytes
        assert back == err
        assert str(back) == message
        assert vars(back) == vars(err)

    def test_equal_by_value(self) -> None:
        """Errors of the same class and values are equal, and hash alike."""
        assert ArgNotSetError("a") == ArgNotSetError("a")
        assert hash(ArgNotSetError("a")) == hash(ArgNotSetError("a"))
        assert ArgNotSetError("a") != ArgNotSetError("b")
        assert ArgNotSetError("a") != DataNotSetError("a")
        assert WrongArgTypeError("k", 1, str) == WrongArgTypeError("k", 2, str)
        assert WrongArgTypeError("k", 1, str) != WrongArgTypeError("k", 1.0, str)


keys = st.text(min_size=1)
values = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(), st.lists(st.integers()))
expects = st.sampled_from([int, str, list, dict, float, bool, type(None), Return])


@given(key=keys)
def test_not_set_messages(key: str) -> None:
    """The not-set messages hold for any key."""
    assert str(ArgNotSetError(key)) == f"{key} not set in job args"
    assert str(DataNotSetError(key)) == f"{key} not set in job data"


@given(key=keys, got=values, expect=expects)
def test_wrong_type_messages(key: str, got: Any, expect: type) -> None:
    """The wrong-type messages name the key and both types, for any key and value."""
    expect_name = expect.__name__ if expect.__module__ == "builtins" else "spincycle_jobs._return.Return"
    got_name = type(got).__name__
    err = WrongArgTypeError(key, got, expect)
    assert str(err) == f"{key} in job args is type {got_name}, expected type {expect_name}"
    data_err = WrongDataTypeError(key, got, expect)
    assert str(data_err) == f"{key} in job data is type {got_name}, expected type {expect_name}"
    assert pickle.loads(pickle.dumps(err)) == err  # noqa: S301 - our own bytes


def test_all_is_the_documented_api() -> None:
    """__all__ is exactly the documented public API, and every name of it is there, lazy ones too."""
    assert all(hasattr(spincycle_jobs, name) for name in spincycle_jobs.__all__)
    assert set(spincycle_jobs.__all__) <= set(dir(spincycle_jobs))
    assert spincycle_jobs.__all__ == sorted(spincycle_jobs.__all__)
    assert set(spincycle_jobs.__all__) == {
        "ArgNotSetError",
        "Try",
        "JobInfo",
        "LeaseLostError",
        "LogEntry",
        "Owner",
        "RunBusyError",
        "RunExistsError",
        "RunInfo",
        "RunNotFoundError",
        "SchemaVersionError",
        "WireError",
        "Store",
        "StoreError",
        "open_store",
        "BaseJob",
        "Chain",
        "ChainBuilder",
        "ChainError",
        "ChainJob",
        "ChainJobStatus",
        "ChainResult",
        "ChainRunner",
        "DataNotSetError",
        "Executor",
        "Factory",
        "Job",
        "JobConstructor",
        "JobError",
        "JobFactory",
        "JobNotFoundError",
        "JobRecord",
        "MemoryRepo",
        "Outcome",
        "PluginError",
        "PluginInfo",
        "Repo",
        "Return",
        "RunResult",
        "RunStatus",
        "RunTimeoutError",
        "Runner",
        "State",
        "ThreadExecutor",
        "TypeInfo",
        "UnknownJobTypeError",
        "WrongArgTypeError",
        "WrongDataTypeError",
        "get_arg",
        "get_data",
        "hookimpl",
        "hookspec",
        "run_try",
    }
