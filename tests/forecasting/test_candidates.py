"""The added candidates: Log1p models, TopDown (share × SKU total) and the ensemble search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from shipahead.forecasting import (
    ENSEMBLE,
    ForecastCore,
    TopDownCandidate,
    add_ensemble,
    search_ensemble,
)
from shipahead.forecasting.models import Log1p, make_models
from statsforecast import StatsForecast
from statsforecast.models import MSTL, AutoETS, Naive

from shipahead import forecasting as F

from .conftest import daily_series


def _multiplicative(n: int = 70, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    pattern = np.array([1.0, 1.2, 0.8, 1.5, 2.5, 3.0, 0.6])
    return 20.0 * np.exp(0.01 * t) * pattern[t % 7] * rng.lognormal(0, 0.05, n)


def test_log1p_is_the_inner_model_on_log_scale():
    y = _multiplicative()
    inner = MSTL(season_length=7, trend_forecaster=AutoETS(model="ANN"))
    wrapped = Log1p(MSTL(season_length=7, trend_forecaster=AutoETS(model="ANN")), alias="L")
    got = wrapped.forecast(y=y, h=7, level=[80])
    ref = inner.forecast(y=np.log1p(y), h=7, level=[80])
    assert np.allclose(got["mean"], np.expm1(ref["mean"]))
    assert np.allclose(got["lo-80"], np.expm1(ref["lo-80"]))
    assert (got["lo-80"] <= got["mean"]).all() and (got["mean"] <= got["hi-80"]).all()
    # fit/predict equals forecast; forward on the same data reproduces it
    fitted = wrapped.new().fit(y)
    assert np.allclose(fitted.predict(h=7)["mean"], got["mean"])
    assert np.allclose(fitted.forward(y=y, h=7)["mean"], got["mean"])


def test_log1p_in_statsforecast_cross_validation():
    df = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.date_range("2024-01-01", periods=70, freq="D"),
            "y": _multiplicative(),
        }
    )
    (m,) = make_models(("MSTL_SES_log",), season_length=7, freq_days=1, n_min=56, horizon=7)
    for refit in (True, False):
        sf = StatsForecast(models=[m], freq="D", n_jobs=1, fallback_model=Naive())
        cv = sf.cross_validation(df=df, h=7, n_windows=2, step_size=7, level=[80], refit=refit)
        assert {"MSTL_SES_log", "MSTL_SES_log-lo-80"} <= set(cv.columns)
        err = np.abs(cv["MSTL_SES_log"] - cv["y"]) / cv["y"]
        # a clean multiplicative series is forecast well (a Naive fallback would be ~50 % off)
        assert err.mean() < 0.15


def test_ensemble_search_finds_mean_and_median_combinations():
    rng = np.random.default_rng(0)
    n = 64
    y = rng.uniform(10, 20, n)
    cv = pd.DataFrame(
        {
            "unique_id": np.repeat(["a", "b"], n // 2),
            "cutoff": pd.Timestamp("2024-01-01"),
            "y": y,
        }
    )
    scale = pd.DataFrame({"unique_id": ["a", "b"], "cutoff": cv["cutoff"][:2], "scale": 1.0})
    # A and B err in opposite directions by the same amount: their mean is exact
    cv["A"], cv["B"], cv["C"] = y + 2.0, y - 2.0, y + 0.5
    assert search_ensemble(cv, ["C", "A", "B"], scale, "mase") == (["A", "B"], "mean")
    # only the median of three is exact: P above, Q exact, R below by different amounts
    cv["P"] = y + rng.uniform(3, 6, n)
    cv["Q"] = y
    cv["R"] = y - rng.uniform(3, 9, n)
    cv["S"] = y + 1.5
    members, how = search_ensemble(cv, ["S", "P", "R", "Q"], scale, "mase")
    # no mean of these is exact; a median with Q in the middle is
    assert how == "median" and "Q" in members and len(members) >= 3
    assert np.allclose(np.median(cv[members].to_numpy(), axis=1), y)
    for m in "PQRS":
        for b in ("lo-50", "hi-50", "lo-80", "hi-80", "lo-90", "hi-90"):
            cv[f"{m}-{b}"] = cv[m]
    out = add_ensemble(cv, members, how)
    assert np.allclose(out[ENSEMBLE], np.median(cv[members].to_numpy(), axis=1))


def _cv_frame(n_series: int = 40, n: int = 16, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = np.repeat([f"s{i:02d}" for i in range(n_series)], n)
    y = rng.uniform(50, 150, n_series * n)
    cv = pd.DataFrame({"unique_id": ids, "cutoff": pd.Timestamp("2024-01-01"), "y": y})
    scale = pd.DataFrame(
        {"unique_id": np.unique(ids), "cutoff": pd.Timestamp("2024-01-01"), "scale": 10.0}
    )
    return cv, scale


def test_ensemble_search_keeps_near_tied_members_and_drops_a_harmful_one():
    cv, scale = _cv_frame()
    y = cv["y"].to_numpy()
    rng = np.random.default_rng(2)
    noise = rng.normal(0, 8, len(y))
    # A, A2 and B are near-ties (their errors differ by a fraction of a percent); W is far off
    cv["A"] = y + noise
    cv["A2"] = y + noise * 1.001
    cv["B"] = y + noise * 0.999 + rng.normal(0, 0.2, len(y))
    cv["W"] = y + 60
    members, how = search_ensemble(cv, ["A", "A2", "B", "W"], scale, "mase")
    assert how == "mean"
    # W is dropped (it costs far more than 0.5 %); dropping A or A2 would gain < 0.5 %
    assert sorted(members) == ["A", "A2", "B"]


def test_ensemble_search_choice_is_stable_on_a_sample_of_the_class():
    """The rule's point: a sample of the class's series picks the same members as all of them
    when the candidates differ by less than the drop margin."""
    cv, scale = _cv_frame(n_series=400)
    y = cv["y"].to_numpy()
    rng = np.random.default_rng(3)
    for name, bias in (("M1", 5.0), ("M2", 5.2), ("M3", -4.0), ("M4", -4.1), ("M5", 30.0)):
        cv[name] = y + bias + rng.normal(0, 10, len(y))
    pool = ["M1", "M2", "M3", "M4", "M5"]
    full = search_ensemble(cv, pool, scale, "mase")
    ids = cv["unique_id"].unique()
    for seed in range(5):
        pick = np.random.default_rng(seed).choice(ids, 80, replace=False)
        assert search_ensemble(cv[cv["unique_id"].isin(pick)], pool, scale, "mase") == full
    assert "M5" not in full[0] and len(full[0]) >= 2


def _proportional_history() -> pd.DataFrame:
    """Three regions of one SKU with one weekly shape, sizes 1 : 2 : 3, plus a lone SKU."""
    parts = []
    for r, c in (("R1", 1.0), ("R2", 2.0), ("R3", 3.0)):
        d = daily_series(r, "A", 84, kind="seasonal", seed=int(c))
        d["y"] *= c
        parts.append(d)
    parts.append(daily_series("R1", "B", 84, kind="seasonal", seed=9))
    return pd.concat(parts, ignore_index=True)


def test_top_down_is_share_times_sku_total():
    hist = _proportional_history()
    keys = hist[["region_id", "sku_id"]].drop_duplicates().reset_index(drop=True)
    keys["unique_id"] = [f"k{i}" for i in range(len(keys))]
    df = hist.merge(keys)[["unique_id", "ds", "y"]]
    core = ForecastCore(F.ForecastSettings(horizon=7, windows=2, jobs=1), "D", 7, 1.0)
    core.sku_of = keys.set_index("unique_id")["sku_id"]
    td = TopDownCandidate.make(core, df, ["TopDown", "MSTL_SES_log"])
    assert td is not None and set(td.sku.index) == {"k0", "k1", "k2"}  # SKU B has one series
    shares = td.shares([None]).set_index("unique_id")["share"]
    own = df.groupby("unique_id")["y"].sum()
    assert np.allclose(shares, own[shares.index] / own[["k0", "k1", "k2"]].sum())
    # final forecasts: a hand-made SKU total forecast is split by the shares
    ds = pd.date_range(hist["ds"].max() + pd.Timedelta(days=1), periods=7, freq="D")
    tot = pd.DataFrame({"unique_id": "T:A", "ds": ds, "MSTL_SES_log": np.arange(1.0, 8.0)})
    fc = pd.DataFrame(
        {
            "unique_id": np.repeat(["k0", "k1", "k2", "k3"], 7),
            "ds": np.tile(ds, 4),
            "MSTL_SES_log": 100.0,
        }
    )
    out = td.apply(fc, tot, None)
    for uid in ("k0", "k1", "k2"):
        got = out.loc[out.unique_id == uid, "TopDown"].to_numpy()
        assert np.allclose(got, shares[uid] * np.arange(1.0, 8.0))
    # the lone SKU's series keeps its own forecast
    assert np.allclose(out.loc[out.unique_id == "k3", "TopDown"], 100.0)


@pytest.mark.parametrize("top_down", [True, False])
def test_auto_backtests_the_new_candidates(top_down):
    res = F.forecast(
        _proportional_history(), F.ForecastSettings(horizon=7, windows=2, jobs=1, top_down=top_down)
    )
    smooth = set(res.backtest.loc[res.backtest.demand_class == "smooth", "model"])
    assert {"MSTL_SES", "MSTL_SES_log", ENSEMBLE} <= smooth
    assert ("TopDown" in smooth) is top_down
    assert np.isfinite(res.backtest["mase"]).all()
    assert len(res.forecast) == 4 * 7 and (res.forecast["mean"] >= 0).all()
