"""Planners' overrides: value and percent, quantiles, bad rows."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipahead.forecasting import InputError
from shipahead.forecasting.overrides import apply_overrides
from shipahead.forecasting.settings import QUANTILE_COLUMNS


def _fc() -> pd.DataFrame:
    ds = pd.date_range("2024-03-04", periods=3, freq="W-MON")
    rows = []
    for r in ("R1", "R2"):
        for d in ds:
            rows.append(
                {"region_id": r, "sku_id": "A", "ds": d, "model": "AutoETS", "mean": 10.0}
                | dict(zip(QUANTILE_COLUMNS, [4.0, 6.0, 8.0, 10.0, 12.0, 14.0, 16.0], strict=True))
            )
    rows[-1]["mean"] = 0.0
    rows[-1].update(dict.fromkeys(QUANTILE_COLUMNS, 0.0))
    return pd.DataFrame(rows)


def test_value_and_percent() -> None:
    ov = pd.DataFrame(
        {
            "region_id": ["R1", "R1", "R2"],
            "sku_id": ["A", "A", "A"],
            "ds": ["2024-03-04", "2024-03-11", "2024-03-18"],
            "value": [15.0, None, 5.0],
            "percent": [None, -20.0, None],
            "user": ["ann", "bob", "ann"],
            "comment": ["promo", "", "new store"],
        }
    )
    out, warns = apply_overrides(_fc(), ov)
    assert warns == []
    assert list(out["baseline"]) == [10.0] * 5 + [0.0]
    assert list(out["mean"]) == [15.0, 8.0, 10.0, 10.0, 10.0, 5.0]
    assert list(out["override_user"].fillna("")) == ["ann", "bob", "", "", "", "ann"]
    q = out[list(QUANTILE_COLUMNS)].to_numpy()
    assert list(q[0]) == pytest.approx([6, 9, 12, 15, 18, 21, 24])  # × 1.5
    assert list(q[1]) == pytest.approx([3.2, 4.8, 6.4, 8, 9.6, 11.2, 12.8])  # × 0.8
    assert list(q[2]) == [4, 6, 8, 10, 12, 14, 16]
    assert list(q[5]) == [5.0] * 7  # zero baseline: shifted by the value


def test_overrides_outside_the_horizon_are_reported_not_applied() -> None:
    ov = pd.DataFrame(
        {"region_id": ["R1"], "sku_id": ["A"], "ds": ["2024-02-26"], "value": [1], "user": ["a"]}
    )
    out, warns = apply_overrides(_fc(), ov)
    assert out["mean"].tolist() == _fc()["mean"].tolist()
    assert "1 of 1 rows" in warns[0]


@pytest.mark.parametrize(
    ("row", "column", "text"),
    [
        ({"value": 1, "percent": 5}, "percent", "both value and percent"),
        ({}, "value", "neither value nor percent"),
        ({"percent": -150}, "percent", "≥ -100"),
        ({"value": 1, "sku_id": "ZZ"}, "sku_id", "not in the forecast"),
        ({"value": 1, "ds": "2024-03-06"}, "ds", "not a forecast period"),
        ({"value": 1, "user": " "}, "user", "user is empty"),
    ],
)
def test_bad_rows_are_errors(row: dict, column: str, text: str) -> None:
    base = {"region_id": "R1", "sku_id": "A", "ds": "2024-03-04", "user": "ann"}
    ov = pd.DataFrame([base | row])
    with pytest.raises(InputError) as exc:
        apply_overrides(_fc(), ov)
    assert exc.value.table == "overrides" and exc.value.column == column
    assert exc.value.row == 0 and text in exc.value.message


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["R1", "R2"]),
            st.integers(0, 2),
            st.one_of(st.floats(0, 1e4), st.none()),
            st.floats(-100, 300),
        ),
        max_size=6,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_final_equals_baseline_where_no_override(rows) -> None:
    fc = _fc()
    ds = sorted(fc["ds"].unique())
    ov = pd.DataFrame(
        [
            {
                "region_id": r,
                "sku_id": "A",
                "ds": ds[i],
                "value": v,
                "percent": None if v is not None else p,
                "user": "u",
            }
            for r, i, v, p in rows
        ],
        columns=["region_id", "sku_id", "ds", "value", "percent", "user"],
    )
    out, _ = apply_overrides(fc, ov)
    hit = set(zip(ov["region_id"], pd.to_datetime(ov["ds"]), strict=True))
    for i, r in out.iterrows():
        q = r[list(QUANTILE_COLUMNS)].to_numpy(dtype=float)
        assert (q >= 0).all() and (q[1:] >= q[:-1] - 1e-9).all()
        if (r["region_id"], r["ds"]) not in hit:
            assert r["mean"] == r["baseline"] == fc.loc[i, "mean"]
            assert list(q) == list(fc.loc[i, list(QUANTILE_COLUMNS)])
            assert r["override_user"] is None
        else:
            assert r["override_user"] == "u"
