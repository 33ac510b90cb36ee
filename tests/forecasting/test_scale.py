"""Forecasting at scale: the stratified backtest sample, the global model candidate and the
per-stage timings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipahead.forecasting import pipeline
from shipahead.forecasting.global_model import GLOBAL, GlobalModel
from shipahead.forecasting.pipeline import backtest_sample

from shipahead import forecasting as F

from .conftest import daily_series

FAST = "Naive,SeasonalNaive,AutoETS"


def _panel(n: int, days: int = 70) -> pd.DataFrame:
    kinds = ("seasonal", "level")
    parts = [
        daily_series(f"R{i:02d}", f"S{i % 4}", days, kind=kinds[i % 2], seed=i) for i in range(n)
    ]
    return pd.concat(parts, ignore_index=True)


def test_backtest_sample_is_stratified_and_spans_volume_and_variability() -> None:
    rng = np.random.default_rng(0)
    info = pd.DataFrame(
        {
            "demand_class": ["smooth"] * 90 + ["constant"] * 10,
            "total": rng.permutation(100).astype(float),
            "cv2": rng.uniform(0, 2, 100),
        },
        index=pd.Index([f"k{i:03d}" for i in range(100)], name="unique_id"),
    )
    s = backtest_sample(info, 20)
    assert len(s) == 20 and list(s) == sorted(s)
    picked = info.loc[s]
    assert (picked["demand_class"] == "constant").sum() == 2  # its share of the sample
    sm = info[info["demand_class"] == "smooth"]
    # every fifth of the smooth series' sales volume is represented, and so are calm and
    # volatile series
    fifth = pd.Series(pd.qcut(sm["total"].rank(method="first"), 5, labels=False), sm.index)
    assert set(fifth.reindex(picked.index).dropna()) == set(range(5))
    sp = picked[picked["demand_class"] == "smooth"]
    assert (sp["cv2"] < sm["cv2"].median()).any() and (sp["cv2"] > sm["cv2"].median()).any()
    assert list(backtest_sample(info, 20)) == list(s)  # deterministic
    assert list(backtest_sample(info, 100)) == list(info.index)  # small class: all
    assert len(backtest_sample(info, 7)) == 7  # fewer picks than bands


def test_sample_and_all_choose_alike_on_a_small_panel(monkeypatch) -> None:
    monkeypatch.setattr(pipeline, "BACKTEST_SAMPLE", 8)
    hist = _panel(20)
    kw = dict(horizon=7, windows=2, jobs=1, models=FAST, ensemble=False)
    samp = F.forecast(hist, F.ForecastSettings(**kw, backtest="sample"))
    full = F.forecast(hist, F.ForecastSettings(**kw, backtest="all"))
    keys = ["region_id", "sku_id"]
    # only the sample is backtested; every series is forecast
    assert samp.backtest.groupby(keys).ngroups == 8
    assert full.backtest.groupby(keys).ngroups == 20
    assert len(samp.forecast) == len(full.forecast) == 20 * 7
    # same choice, hence the same point forecasts; the intervals differ only by calibration
    assert (samp.forecast["model"] == full.forecast["model"]).all()
    np.testing.assert_allclose(samp.forecast["mean"], full.forecast["mean"])
    a = samp.leaderboard.set_index(["model", "demand_class"])
    b = full.leaderboard.set_index(["model", "demand_class"])
    assert a.loc[("auto", "smooth"), "n_series"] == 8
    assert (
        abs(a.loc[("auto", "smooth"), "coverage_80"] - b.loc[("auto", "smooth"), "coverage_80"])
        < 0.15
    )
    # every series has its class for the window-total scenarios
    assert len(samp.series_class) == 20
    sc = F.window_total_scenarios(samp, 7, 3)
    assert sc.groupby(["region_id", "sku_id"]).ngroups == 20


def test_global_model_is_deterministic_with_ordered_intervals() -> None:
    hist = _panel(10, days=84)
    df = hist.assign(unique_id=hist["region_id"] + "/" + hist["sku_id"])[["unique_id", "ds", "y"]]
    gm = GlobalModel(F.ForecastSettings(horizon=7, windows=2), "D", 7, 1.0)
    cv1 = gm.cross_validation(df, 84 - 14)
    cv2 = gm.cross_validation(df, 84 - 14)
    pd.testing.assert_frame_equal(cv1, cv2)
    assert cv1["cutoff"].nunique() == 2 and cv1["unique_id"].nunique() == 10
    fc1 = gm.forecast(df, 84)
    pd.testing.assert_frame_equal(fc1, gm.forecast(df, 84))
    assert len(fc1) == 10 * 7
    for f in (cv1, fc1):
        cols = [f"{GLOBAL}-lo-90", f"{GLOBAL}-lo-80", f"{GLOBAL}-lo-50", GLOBAL]
        cols += [f"{GLOBAL}-hi-50", f"{GLOBAL}-hi-80", f"{GLOBAL}-hi-90"]
        v = f[cols].to_numpy()
        assert np.isfinite(v).all() and (np.diff(v, axis=1) >= -1e-9).all()
    # a learnt model, not a constant: tracks the weekly pattern of the seasonal series
    s = fc1[fc1["unique_id"] == "R00/S0"][GLOBAL].to_numpy()
    assert s.max() - s.min() > 20


def test_global_model_candidate_in_the_pipeline() -> None:
    hist = _panel(10, days=84)
    st = F.ForecastSettings(horizon=7, windows=2, jobs=1, models=f"SeasonalNaive,{GLOBAL}")
    r1 = F.forecast(hist, st)
    assert GLOBAL in set(r1.leaderboard["model"])
    assert GLOBAL in set(r1.backtest["model"])
    q = r1.forecast[list(F.QUANTILE_COLUMNS)].to_numpy()
    assert (np.diff(q, axis=1) >= 0).all() and (q >= 0).all()
    r2 = F.forecast(hist, st)
    pd.testing.assert_frame_equal(r1.forecast, r2.forecast)
    pd.testing.assert_frame_equal(r1.leaderboard, r2.leaderboard)
    # ``auto`` adds it to the candidates (and the ensemble pool) of a class with enough series
    core = F.ForecastCore(F.ForecastSettings(horizon=7), "D", 7, 1.0)
    assert GLOBAL in core.candidates("smooth", False)
    off = F.ForecastCore(F.ForecastSettings(horizon=7, global_model=False), "D", 7, 1.0)
    assert GLOBAL not in off.candidates("smooth", False)


def test_global_model_needs_its_extra_backtest_windows() -> None:
    """Series long enough to backtest (windows × horizon + season + 1 = 36 days) but too short
    for GlobalLGBM's two extra conformal windows ((2 + 2) × 14 + 1 = 57 days): ``auto`` leaves
    it out with a warning, a named GlobalLGBM is a clear error (it used to get zero-width
    backtest intervals)."""
    hist = _panel(10, days=50)
    named = F.ForecastSettings(horizon=14, windows=2, jobs=1, models=f"SeasonalNaive,{GLOBAL}")
    with pytest.raises(F.InputError, match="GlobalLGBM needs 57 periods"):
        F.forecast(hist, named)
    res = F.forecast(
        hist, F.ForecastSettings(horizon=14, windows=2, jobs=1, top_down=False, ensemble=False)
    )
    assert GLOBAL not in set(res.leaderboard["model"])
    assert any("GlobalLGBM needs 57 periods" in w for w in res.warnings)
    ok = F.forecast(_panel(10, days=60), named)
    lo, hi = ok.forecast["q10"].to_numpy(), ok.forecast["q90"].to_numpy()
    assert GLOBAL in set(ok.backtest["model"]) and (hi > lo).any()


def test_stage_timings_and_progress(small_history) -> None:
    seen: dict[str, list[tuple[int, int]]] = {}
    res = F.forecast(
        small_history,
        F.ForecastSettings(
            horizon=7, windows=2, jobs=1, models="Naive,SeasonalNaive,AutoETS,Ensemble"
        ),
        stage_progress=lambda s, d, t: seen.setdefault(s, []).append((d, t)),
    )
    st = res.timings.stages
    assert {"backtest", "ensembles", "calibration", "fits"} <= set(st)
    assert st["fits"].series == 4 and st["backtest"].series >= 3
    assert all(v.seconds > 0 and v.peak_rss_gb > 0.01 for v in st.values())
    for stage in ("backtest", "calibration", "fits"):
        done, total = seen[stage][-1]
        assert done == total > 0
    F.window_total_scenarios(res, 7, 3)
    assert res.timings.stages["scenarios"].series == 4
    rows = res.timings.rows()
    assert [r["stage"] for r in rows][:2] == ["backtest", "ensembles"]


def test_unknown_backtest_mode() -> None:
    with pytest.raises(F.InputError, match="backtest"):
        F.ForecastSettings(horizon=7, backtest="some")


@pytest.mark.slow
def test_global_model_on_dask() -> None:
    """mlforecast's Dask path (DistributedMLForecast + lightgbm.dask) on a 2-worker cluster."""
    from distributed import Client, LocalCluster

    hist = _panel(10, days=84)
    df = hist.assign(unique_id=hist["region_id"] + "/" + hist["sku_id"])[["unique_id", "ds", "y"]]
    gm = GlobalModel(F.ForecastSettings(horizon=7, windows=2, backend="dask"), "D", 7, 1.0)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cl,
        Client(cl),
    ):
        cv = gm.cross_validation(df, 84 - 14)
        fc = gm.forecast(df, 84)
    assert cv["cutoff"].nunique() == 2 and len(fc) == 10 * 7
    for f in (cv, fc):
        lo, mid, hi = f[f"{GLOBAL}-lo-90"], f[GLOBAL], f[f"{GLOBAL}-hi-90"]
        assert np.isfinite(mid).all() and (lo <= mid).all() and (mid <= hi).all()
