"""History contract validation: every bad input is an InputError naming row/column and fix."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipahead.forecasting.validate import infer_freq, validate_history

from shipahead import forecasting as F

from .conftest import daily_series


def _hist():
    return pd.concat(
        [daily_series("R1", "A", 30, seed=1), daily_series("R2", "A", 30, seed=2)],
        ignore_index=True,
    )


def test_missing_column():
    with pytest.raises(F.InputError) as e:
        validate_history(_hist().drop(columns="y"))
    assert e.value.column == "y" and e.value.fix


def test_negative_y_names_row():
    h = _hist()
    h.loc[5, "y"] = -3
    with pytest.raises(F.InputError) as e:
        validate_history(h)
    assert e.value.row == 5 and e.value.column == "y" and "negative" in str(e.value)


def test_non_numeric_y():
    h = _hist().astype({"y": object})
    h.loc[7, "y"] = "lots"
    with pytest.raises(F.InputError) as e:
        validate_history(h)
    assert e.value.row == 7 and "not a finite number" in str(e.value)


def test_duplicate_key():
    h = _hist()
    h = pd.concat([h, h.iloc[[3]]], ignore_index=True)
    with pytest.raises(F.InputError) as e:
        validate_history(h)
    assert e.value.row == len(h) - 1 and "duplicate" in str(e.value)


def test_bad_date():
    h = _hist().astype({"ds": object})
    h.loc[4, "ds"] = "yesterday-ish"
    with pytest.raises(F.InputError) as e:
        validate_history(h)
    assert e.value.row == 4 and e.value.column == "ds"


def test_gap_is_error_unless_zero_fill():
    h = _hist().drop(index=[10, 11]).reset_index(drop=True)
    with pytest.raises(F.InputError) as e:
        validate_history(h)
    assert "missing periods" in str(e.value) and "`fill_gaps` zero" in e.value.fix
    clean, freq, warns = validate_history(h, fill_gaps="zero")
    assert freq == "D" and len(clean) == 60 and warns
    assert clean.loc[(clean.region_id == "R1") & (clean.ds == "2024-01-11"), "y"].item() == 0.0


def test_series_ending_early_is_a_gap():
    h = _hist()
    h = h[~((h.region_id == "R2") & (h.ds > "2024-01-25"))]
    with pytest.raises(F.InputError, match="ends 2024-01-25"):
        validate_history(h)


def test_future_dated_history():
    with pytest.raises(F.InputError) as e:
        validate_history(_hist(), as_of=pd.Timestamp("2024-01-20"))
    assert e.value.column == "ds" and "future" in e.value.fix


def test_off_calendar_dates():
    h = pd.DataFrame(
        {
            "region_id": "R",
            "sku_id": "S",
            "ds": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-15", "2024-01-23"]),
            "y": 1.0,
        }
    )
    with pytest.raises(F.InputError, match="not on the W-MON calendar"):
        validate_history(h)


def test_infer_freq():
    assert infer_freq(pd.Series(pd.date_range("2024-01-05", periods=5, freq="W-FRI"))) == "W-FRI"
    assert infer_freq(pd.Series(pd.date_range("2024-01-01", periods=5, freq="MS"))) == "MS"
    assert infer_freq(pd.Series(pd.date_range("2024-01-01", periods=5, freq="D"))) == "D"


def test_settings_validation():
    with pytest.raises(F.InputError):
        F.ForecastSettings(horizon=0)
    with pytest.raises(F.InputError):
        F.ForecastSettings(horizon=3, metric="r2")
    with pytest.raises(F.InputError):
        F.ForecastSettings(horizon=3, backend="spark")
    s = F.ForecastSettings(horizon=3, models="Naive, SeasonalNaive")
    assert s.models == ("Naive", "SeasonalNaive")


def test_unknown_model(small_history):
    with pytest.raises(F.InputError, match="unknown model"):
        F.forecast(small_history, F.ForecastSettings(horizon=7, models="Prophet"))


def test_ids_become_strings():
    h = _hist()
    h["region_id"] = np.where(h.region_id == "R1", 1, 2)
    clean, _, _ = validate_history(h)
    assert set(clean.region_id) == {"1", "2"}


def _rows(sku: str, dates: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"region_id": "r", "sku_id": sku, "ds": pd.to_datetime(dates), "y": 1.0})


def test_single_row_series_gap_is_named_not_a_crash():
    hist = pd.concat([_rows("a", ["2024-01-01"]), _rows("b", ["2024-01-08"])])
    with pytest.raises(F.InputError, match="sku_id=a ends 2024-01-01"):
        validate_history(hist, freq="W-MON")
    filled, _, warns = validate_history(hist, freq="W-MON", fill_gaps="zero")
    assert len(filled) == 3 and "filled 1 missing periods" in warns[0]


def test_series_out_of_phase_with_a_two_week_frequency_count_their_own_periods():
    a = _rows("a", ["2024-01-01", "2024-01-15", "2024-01-29"])
    b = _rows("b", ["2024-01-08", "2024-01-22", "2024-02-05"])
    out, freq, warns = validate_history(pd.concat([a, b]), freq="14D")
    assert len(out) == 6 and freq == "14D" and not warns
    # a missing period of the out-of-phase series is still found
    with pytest.raises(F.InputError, match="sku_id=b has missing periods"):
        validate_history(pd.concat([a, b.drop(index=1)]), freq="14D")
