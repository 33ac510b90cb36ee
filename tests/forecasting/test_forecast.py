"""The pipeline: contract output, selection, calibration, cold start, zero/constant series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipahead import forecasting as F

from .conftest import FAST, daily_series

S = F.ForecastSettings


def _check_contract(fc: pd.DataFrame, keys: set, h: int) -> None:
    assert list(fc.columns) == ["region_id", "sku_id", "ds", "model", "mean", *F.QUANTILE_COLUMNS]
    assert len(fc) == len(keys) * h
    assert set(zip(fc.region_id, fc.sku_id, strict=True)) == keys
    q = fc[list(F.QUANTILE_COLUMNS)].to_numpy()
    assert np.isfinite(q).all() and (q >= 0).all() and (fc["mean"] >= 0).all()
    assert (np.diff(q, axis=1) >= -1e-9).all()


def test_auto_pipeline_contract_and_backtest(small_history):
    res = F.forecast(small_history, S(horizon=7, windows=2, jobs=1))
    keys = set(zip(small_history.region_id, small_history.sku_id, strict=True))
    _check_contract(res.forecast, keys, 7)
    assert res.freq == "D" and res.season_length == 7
    # forecast dates follow the history
    assert res.forecast.ds.min() == small_history.ds.max() + pd.Timedelta(days=1)
    bt = res.backtest
    assert {"model", "window", "cutoff", "mase", "coverage_80", "chosen"} <= set(bt.columns)
    assert set(bt.window) == {0, 1}
    # exactly one chosen candidate per series
    ch = bt[bt.chosen].groupby(["region_id", "sku_id"]).model.nunique()
    assert (ch == 1).all() and len(ch) == len(keys)
    lb = res.leaderboard
    assert "auto" in set(lb.model) and {"smooth", "intermittent"} <= set(lb.demand_class)


def test_selection_seasonal_vs_intermittent():
    hist = pd.concat(
        [
            daily_series("R1", "SEAS", 126, kind="seasonal", seed=11),
            daily_series("R2", "SEAS", 126, kind="seasonal", seed=12),
            daily_series("R1", "INT", 126, kind="intermittent", seed=13),
            daily_series("R2", "INT", 126, kind="intermittent", seed=14),
        ],
        ignore_index=True,
    )
    res = F.forecast(hist, S(horizon=7, windows=3, jobs=1, ensemble=False))
    bt = res.backtest[res.backtest.chosen].drop_duplicates(["region_id", "sku_id"])
    chosen = dict(zip(bt.sku_id + "/" + bt.region_id, bt.model, strict=True))
    seasonal = {"SeasonalNaive", "AutoETS", "AutoTheta", "MSTL"}
    intermittent = {"CrostonOptimized", "ADIDA", "IMAPA", "TSB"}
    assert chosen["SEAS/R1"] in seasonal and chosen["SEAS/R2"] in seasonal
    assert chosen["INT/R1"] in intermittent and chosen["INT/R2"] in intermittent
    cls = res.backtest.drop_duplicates(["region_id", "sku_id"]).set_index("sku_id").demand_class
    assert set(cls["INT"]) == {"intermittent"} and set(cls["SEAS"]) == {"smooth"}
    # the seasonal model beats Naive clearly on the seasonal series
    lb = res.leaderboard.set_index(["demand_class", "model"]).mase
    assert lb[("smooth", "SeasonalNaive")] < 0.5 * lb[("smooth", "Naive")]


def test_constant_and_zero_series_do_not_crash():
    hist = pd.concat(
        [
            daily_series("R1", "C", 60, kind="constant"),
            daily_series("R1", "Z", 60, kind="zero"),
            daily_series("R2", "C", 60, kind="level", seed=3),
        ],
        ignore_index=True,
    )
    res = F.forecast(hist, S(horizon=5, windows=2, jobs=1))
    fc = res.forecast.set_index(["region_id", "sku_id"])
    _check_contract(res.forecast, {("R1", "C"), ("R1", "Z"), ("R2", "C")}, 5)
    z = fc.loc[("R1", "Z")]
    assert (z["mean"] == 0).all() and (z["q95"] == 0).all() and set(z.model) == {"ZeroDemand"}
    c = fc.loc[("R1", "C")]
    assert np.allclose(c["mean"], 7.0)


def test_cold_start_share_of_sku_total():
    hist = pd.concat(
        [
            daily_series("R1", "A", 70, kind="level", seed=1),
            daily_series("R2", "A", 70, kind="level", seed=2),
            daily_series("R3", "A", 10, kind="level", seed=3, start="2024-03-01"),
        ],
        ignore_index=True,
    )
    res = F.forecast(hist, S(horizon=7, windows=2, jobs=1, models=FAST))
    assert any("cold start" in w and "R3/A" in w for w in res.warnings)
    fc = res.forecast
    cold = fc[fc.region_id == "R3"]
    assert cold.model.str.startswith("ColdStart").all()
    assert (cold["mean"] > 0).all()
    # share ≈ R3's part of the SKU total over the days it was observed (≈ 1/3 here)
    warm = fc[fc.region_id != "R3"].groupby("ds")["mean"].sum()
    assert (
        (cold.set_index("ds")["mean"] / (warm + cold.set_index("ds")["mean"]))
        .between(0.15, 0.5)
        .all()
    )


def test_explicit_models_and_metric(small_history):
    res = F.forecast(small_history, S(horizon=7, windows=2, jobs=1, models=FAST, metric="rmsse"))
    assert "rmsse" in res.backtest.columns
    assert set(res.backtest.model) <= {*FAST, "Ensemble"}
    assert set(res.leaderboard.model) - {"auto"} <= {*FAST, "Ensemble"}


def test_calibrated_coverage_reported(small_history):
    res = F.forecast(small_history, S(horizon=7, windows=3, jobs=1, models=FAST))
    auto = res.leaderboard[res.leaderboard.model == "auto"]
    assert auto["coverage_80"].between(0, 1).all() and auto["coverage_90"].between(0, 1).all()


def test_deterministic(small_history):
    a = F.forecast(small_history, S(horizon=7, windows=2, jobs=1, models=FAST))
    b = F.forecast(
        small_history.sample(frac=1, random_state=3), S(horizon=7, windows=2, jobs=1, models=FAST)
    )
    pd.testing.assert_frame_equal(a.forecast, b.forecast)


def test_ray_engine_needs_package(small_history):
    try:
        import ray  # noqa: F401

        pytest.skip("ray is installed")
    except ModuleNotFoundError:
        pass
    with pytest.raises(F.InputError, match="ray"):
        F.forecast(small_history, S(horizon=7, windows=2, backend="ray", models=FAST))


def test_window_longer_than_horizon(small_history):
    res = F.forecast(small_history, S(horizon=7, windows=2, jobs=1, models=FAST))
    with pytest.raises(F.InputError, match="longer than the forecast horizon"):
        F.window_total_scenarios(res, 30)


def test_fan_charts(small_history):
    res = F.forecast(small_history, S(horizon=7, windows=2, jobs=1, models=FAST))
    figs = F.fan_charts(res.history, res.forecast, top_n=2)
    assert len(figs) == 2
    (key, fig) = figs[0]
    assert key in set(zip(small_history.region_id, small_history.sku_id, strict=True))
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) == 3


def test_selection_modes(small_history):
    from shipahead.forecasting import select_candidates

    per = pd.DataFrame({"A": [1.0, 1.0, 2.0], "B": [0.95, 0.5, 1.0]}, index=["s1", "s2", "s3"])
    assert list(select_candidates(per, ["A", "B"], "series")) == ["B", "B", "B"]
    assert list(select_candidates(per, ["A", "B"], "class")) == ["B", "B", "B"]
    per["B"] = [0.95, 1.5, 1.2]
    per["A"] = [1.0, 1.0, 1.0]  # now A's mean 1.0 < B's 1.22: A is the class's best
    # hybrid: s1's own best B is only 5 % better → keeps A; nobody else switches
    assert list(select_candidates(per, ["A", "B"], "hybrid")) == ["A", "A", "A"]
    per.loc["s1", "B"] = 0.5  # 50 % better → switches
    assert list(select_candidates(per, ["A", "B"], "hybrid")) == ["B", "A", "A"]
    res = F.forecast(small_history, S(horizon=7, windows=2, jobs=1, models=FAST, selection="class"))
    chosen = res.backtest[res.backtest.chosen].groupby("demand_class").model.nunique()
    assert (chosen == 1).all()


def test_regression_model_without_regressors_is_skipped(small_history):
    res = F.forecast(small_history, S(horizon=3, windows=2, jobs=1, models=("Naive", "MSTL_X")))
    assert set(res.forecast.model) <= {"Naive", "ZeroDemand"}


def test_fan_chart_shows_hostile_ids_literally():
    """An id that reads as matplotlib mathtext is drawn as text, not parsed (was ValueError)."""
    import io

    from shipahead.forecasting.plots import fan_chart

    sku = "$\\foo$"
    ds = pd.date_range("2024-01-01", periods=10, freq="W")
    hist = pd.DataFrame({"region_id": "r", "sku_id": sku, "ds": ds, "y": np.arange(10.0)})
    cols = ["mean", "q05", "q10", "q25", "q50", "q75", "q90", "q95"]
    fc = pd.DataFrame(
        {"region_id": "r", "sku_id": sku, "model": "m", "ds": ds[-3:] + pd.Timedelta(weeks=3)}
        | {c: 1.0 for c in cols}
    )
    fig = fan_chart(hist, fc, "r", sku)
    fig.savefig(io.BytesIO(), format="png")
    assert sku in fig.axes[0].get_title()
