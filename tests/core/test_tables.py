"""The shared table checks: required columns and numeric columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipahead.errors import InputError
from shipahead.tables import (
    NumberMessages,
    first_row,
    numeric_column,
    require_columns,
    require_frame,
)


def test_first_row() -> None:
    assert first_row(np.array([False, True, True])) == 1
    assert first_row(pd.Series([0, 5, 7]) > 4) == 1
    assert first_row(np.zeros(3, dtype=bool)) is None
    assert first_row(np.zeros(0, dtype=bool)) is None
    assert isinstance(first_row(np.array([True])), int)


def test_require_frame() -> None:
    require_frame(pd.DataFrame(), "t", message="t must be a table")
    with pytest.raises(InputError, match="t must be a table") as info:
        require_frame([1, 2], "t", message="t must be a table", fix="pass a DataFrame")
    assert (info.value.table, info.value.fix) == ("t", "pass a DataFrame")


def test_require_columns_default_and_custom_messages() -> None:
    df = pd.DataFrame({"a": [1]})
    require_columns(df, "t", ["a"])
    with pytest.raises(InputError) as info:
        require_columns(df, "t", ["a", "b", "c"])
    exc = info.value
    assert (exc.message, exc.column, exc.fix, exc.table) == (
        "t is missing column(s) b, c",
        "b",
        "add the column(s) b, c",
        "t",
    )
    with pytest.raises(InputError) as info:
        require_columns(
            df, "t", ["a", "b"], message="{table} has no {first!r}", fix="need {columns}"
        )
    assert (info.value.message, info.value.fix) == ("t has no 'b'", "need a, b")


def test_numeric_column_parses_and_checks() -> None:
    df = pd.DataFrame({"id": ["x", "y"], "v": ["1.5", "2"]})
    np.testing.assert_array_equal(numeric_column(df, "t", "v", ge=0.0), [1.5, 2.0])
    with pytest.raises(InputError, match=r"t row 1: v='a' is not a number") as info:
        numeric_column(pd.DataFrame({"v": ["1", "a"]}), "t", "v")
    assert (info.value.row, info.value.column, info.value.table) == (1, "v", "t")
    with pytest.raises(InputError, match="t row 0: v is empty"):
        numeric_column(pd.DataFrame({"v": [None, 1.0]}), "t", "v")
    out = numeric_column(pd.DataFrame({"v": [None, 1.0]}), "t", "v", allow_empty=True)
    assert np.isnan(out[0])
    with pytest.raises(InputError, match="not finite or above 10"):
        numeric_column(pd.DataFrame({"v": [1.0, 11.0]}), "t", "v", max_magnitude=10.0)
    with pytest.raises(InputError, match=r"v=0 must be > 0"):
        numeric_column(pd.DataFrame({"v": [1.0, 0.0]}), "t", "v", gt=0.0)


def test_numeric_column_groups_choose_the_reported_row() -> None:
    df = pd.DataFrame({"v": [1.0, -1.0, None]})
    # one check after another: the empty cell (row 2) before the bound (row 1)
    with pytest.raises(InputError) as info:
        numeric_column(df, "t", "v", ge=0.0)
    assert info.value.row == 2
    # one group: the first faulty row wins
    one = NumberMessages(bound="{table} row {row} ({label}): {bound}", groups=(0, 0, 0, 0))
    with pytest.raises(InputError, match=r"t row 1 \(-1.0\): >= 0") as info:
        numeric_column(df, "t", "v", ge=0.0, messages=one)
    assert info.value.fix == "correct v in row 1"
