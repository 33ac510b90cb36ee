"""Window-total scenarios from the forecast contract and from a result."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipahead import forecasting as F

from .conftest import FAST


def _weekly_forecast(mean_by_week, spread=0.0):
    rows = []
    for k, (r, s) in enumerate([("R1", "A"), ("R2", "A")]):
        for i, m in enumerate(mean_by_week):
            m = m * (k + 1)
            d = spread * m
            rows.append(
                dict(
                    region_id=r,
                    sku_id=s,
                    ds=pd.Timestamp("2025-01-06") + pd.Timedelta(weeks=i),
                    model="x",
                    mean=m,
                    q05=max(m - 1.645 * d, 0),
                    q10=max(m - 1.28 * d, 0),
                    q25=max(m - 0.674 * d, 0),
                    q50=m,
                    q75=m + 0.674 * d,
                    q90=m + 1.28 * d,
                    q95=m + 1.645 * d,
                )
            )
    return pd.DataFrame(rows)


def test_weekly_window_14_days_is_first_two_weeks():
    fc = _weekly_forecast([10, 20, 40, 80])
    sc = F.scenarios_from_forecast(fc, 14, n_scenarios=3)
    assert list(sc.columns) == ["sku_id", "region_id", "scenario", "prob", "qty_units"]
    assert np.allclose(sc[sc.region_id == "R1"].qty_units, 30)
    assert np.allclose(sc[sc.region_id == "R2"].qty_units, 60)
    # a window ending inside a period takes it pro rata
    sc = F.scenarios_from_forecast(fc, 10.5, n_scenarios=1)
    assert np.allclose(sc[sc.region_id == "R1"].qty_units, 10 + 20 * 0.5)


def test_dependence_options():
    fc = _weekly_forecast([100, 100], spread=0.2)
    co = F.scenarios_from_forecast(fc, 14, n_scenarios=5)
    ind = F.scenarios_from_forecast(fc, 14, n_scenarios=5, dependence="independent")
    r1c = co[co.region_id == "R1"].qty_units.to_numpy()
    r1i = ind[ind.region_id == "R1"].qty_units.to_numpy()
    assert np.isclose(r1c[2], 200) and np.isclose(r1i[2], 200, atol=1e-6)
    # comonotone totals are wider than independent ones (by √2 for equal periods)
    assert np.isclose((r1c[-1] - 200) / (r1i[-1] - 200), np.sqrt(2))
    probs = co.groupby(["sku_id", "region_id"]).prob.apply(tuple)
    assert probs.nunique() == 1 and np.isclose(sum(probs.iloc[0]), 1)


def test_contract_errors():
    fc = _weekly_forecast([1, 2])
    with pytest.raises(F.InputError, match="covers only"):
        F.scenarios_from_forecast(fc, 21)
    with pytest.raises(F.InputError, match="missing column"):
        F.scenarios_from_forecast(fc.drop(columns="q95"), 7)


def test_result_scenarios_match_means(small_history):
    res = F.forecast(small_history, F.ForecastSettings(horizon=7, windows=3, jobs=1, models=FAST))
    sc = F.window_total_scenarios(res, 7, n_scenarios=5)
    keys = res.forecast[["region_id", "sku_id"]].drop_duplicates()
    assert len(sc) == 5 * len(keys)
    tot = res.forecast.groupby(["sku_id", "region_id"])["mean"].sum()
    mid = sc[sc.scenario == "s3"].set_index(["sku_id", "region_id"]).qty_units
    lo = sc[sc.scenario == "s1"].set_index(["sku_id", "region_id"]).qty_units
    hi = sc[sc.scenario == "s5"].set_index(["sku_id", "region_id"]).qty_units
    assert ((lo <= mid) & (mid <= hi)).all()
    assert ((lo <= tot.reindex(lo.index) + 1e-9) & (tot.reindex(hi.index) <= hi + 1e-9)).all()
    q = F.window_total_quantiles(res, 7, np.array([0.1, 0.9]))
    assert {"region_id", "sku_id", "mean_units", 0.1, 0.9} <= set(q.columns)
