"""Regressors: holidays, weather (future values required), events; kept only if better."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipahead.forecasting.exogenous import build_exogenous

from shipahead import forecasting as F

from .conftest import daily_series


def _hist():
    return pd.concat(
        [daily_series("R1", "A", 70, seed=1), daily_series("R2", "A", 70, seed=2)],
        ignore_index=True,
    )


def _weather(days):
    ds = pd.date_range("2024-01-01", periods=days, freq="D")
    rng = np.random.default_rng(0)
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "region_id": r,
                    "ds": ds,
                    "precip_mm": rng.gamma(1, 2, days),
                    "snow_cm": 0.0,
                    "temp_c": rng.normal(5, 3, days),
                }
            )
            for r in ("R1", "R2")
        ],
        ignore_index=True,
    )


def test_missing_future_weather_is_named():
    with pytest.raises(F.InputError) as e:
        F.forecast(_hist(), F.ForecastSettings(horizon=5, windows=2, jobs=1), weather=_weather(72))
    msg = str(e.value)
    assert "forecast periods" in msg and "R1" in msg and e.value.table == "weather"


def test_weather_features_aggregate_to_weeks():
    keys = pd.DataFrame({"region_id": ["R1"], "sku_id": ["A"], "unique_id": ["k0"]})
    future = pd.date_range("2024-01-15", periods=2, freq="W-MON")
    ex = build_exogenous(
        keys,
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-08"),
        future,
        "W-MON",
        _weather(28).query("region_id == 'R1'"),
        None,
        "US",
    )
    v = ex.values.set_index("ds")
    w = _weather(28).query("region_id == 'R1'").set_index("ds")
    assert np.isclose(
        v.loc["2024-01-08", "precip_mm"], w.loc["2024-01-08":"2024-01-14"].precip_mm.sum()
    )
    assert np.isclose(v.loc["2024-01-08", "temp_c"], w.loc["2024-01-08":"2024-01-14"].temp_c.mean())
    # New Year's Day and MLK day (2024-01-15) are US holidays
    assert v.loc["2024-01-01", "holiday_days"] == 1 and v.loc["2024-01-15", "holiday_days"] == 1
    assert "snow_cm" not in ex.columns  # constant → dropped with a warning
    assert any("snow_cm" in w for w in ex.warnings)


def test_forecast_with_regressors_runs_and_selects_by_backtest():
    hist = _hist()
    # a promo that lifts demand strongly on known days
    promo_days = pd.date_range("2024-01-03", periods=80, freq="5D")
    hist.loc[hist.ds.isin(promo_days), "y"] += 80
    events = pd.DataFrame({"ds": promo_days, "promo": 1.0})
    res = F.forecast(
        hist,
        F.ForecastSettings(
            horizon=5, windows=2, jobs=1, models=("SeasonalNaive", "AutoARIMA_X"), country="US"
        ),
        events=events,
        weather=_weather(80),
    )
    lb = res.leaderboard.set_index("model")
    assert "AutoARIMA_X" in lb.index
    assert lb.loc["AutoARIMA_X", "mase"] < lb.loc["SeasonalNaive", "mase"]
    assert (res.forecast.model == "AutoARIMA_X").any()
    fc = res.forecast.set_index(["region_id", "ds"])["mean"]
    promo_future = [d for d in promo_days if d > hist.ds.max()][:1]
    assert promo_future and fc.loc[("R1", promo_future[0])] > fc.xs("R1").drop(promo_future).max()


def test_unknown_country():
    with pytest.raises(F.InputError, match="country"):
        F.forecast(_hist(), F.ForecastSettings(horizon=5, windows=2, jobs=1, country="XX"))
