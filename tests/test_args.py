from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spincycle_jobs import ArgNotSetError
from spincycle_jobs import DataNotSetError
from spincycle_jobs import WrongArgTypeError
from spincycle_jobs import WrongDataTypeError
from spincycle_jobs import get_arg
from spincycle_jobs import get_data


class TestGetArg:
    def test_returns_value_of_type(self) -> None:
        """A value of the expected type is returned as is."""
        assert get_arg({"host": "db1"}, "host", str) == "db1"
        assert get_arg({"n": [1]}, "n", list) == [1]

    def test_missing_raises_not_set(self) -> None:
        """A missing key raises ArgNotSetError naming it."""
        with pytest.raises(ArgNotSetError, match="^srcHost not set in job args$"):
            get_arg({}, "srcHost", str)

    def test_default_for_missing_only(self) -> None:
        """The default is returned for a missing key, never for a wrong type."""
        assert get_arg({}, "port", int, default=None) is None
        with pytest.raises(WrongArgTypeError):
            get_arg({"port": "x"}, "port", int, default=5)

    def test_wrong_type(self) -> None:
        """A value of another type raises WrongArgTypeError with both types."""
        with pytest.raises(WrongArgTypeError, match="^port in job args is type str, expected type int$"):
            get_arg({"port": "80"}, "port", int)

    def test_int_accepted_as_float(self) -> None:
        """With float, an int is accepted and returned as a float."""
        value = get_arg({"d": 3}, "d", float)
        assert value == 3.0
        assert type(value) is float

    @pytest.mark.parametrize("expect", [int, float, (int, float)], ids=["int", "float", "tuple"])
    def test_bool_never_a_number(self, expect: Any) -> None:
        """A bool is never accepted for an int or a float."""
        with pytest.raises(WrongArgTypeError, match="is type bool"):
            get_arg({"n": True}, "n", expect)

    def test_bool_for_bool(self) -> None:
        """A bool is accepted where a bool is expected."""
        assert get_arg({"f": False}, "f", bool) is False

    def test_tuple_of_types(self) -> None:
        """A tuple of types accepts any of them and names them all when none fits."""
        assert get_arg({"a": "x y"}, "a", (list, str)) == "x y"
        with pytest.raises(WrongArgTypeError, match="expected type list \\| str$"):
            get_arg({"a": 5}, "a", (list, str))


class TestGetData:
    def test_data_errors(self) -> None:
        """get_data raises the job-data errors."""
        with pytest.raises(DataNotSetError, match="^cluster not set in job data$"):
            get_data({}, "cluster", dict)
        with pytest.raises(WrongDataTypeError, match="^cluster in job data is type int, expected type dict$"):
            get_data({"cluster": 1}, "cluster", dict)
        assert get_data({"cluster": {}}, "cluster", dict) == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=5,
)


@given(key=st.text(min_size=1), value=json_values)
def test_get_arg_agrees_with_isinstance(key: str, value: Any) -> None:
    """For any JSON value, get_arg(str) returns it exactly when it is a str, and raises otherwise."""
    if isinstance(value, str):
        assert get_arg({key: value}, key, str) == value
    else:
        with pytest.raises(WrongArgTypeError) as info:
            get_arg({key: value}, key, str)
        assert info.value.key == key
        assert info.value.got_type is type(value)
