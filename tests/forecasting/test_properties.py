"""Hypothesis properties: quantiles ordered and ≥ 0, keys × horizon, totals add up, scenarios."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shipahead import forecasting as F

from .conftest import FAST


@st.composite
def histories(draw):
    n_keys = draw(st.integers(1, 3))
    n = draw(st.integers(30, 45))
    parts = []
    for i in range(n_keys):
        kind = draw(st.sampled_from(["random", "zero", "constant", "sparse"]))
        vals = draw(st.lists(st.floats(0, 500, allow_nan=False, width=32), min_size=n, max_size=n))
        y = np.asarray(vals, dtype=float)
        if kind == "zero":
            y[:] = 0
        elif kind == "constant":
            y[:] = y[0]
        elif kind == "sparse":
            y[::2] = 0
        parts.append(
            pd.DataFrame(
                {
                    "region_id": f"R{i % 2}",
                    "sku_id": f"S{i}",
                    "ds": pd.date_range("2024-01-01", periods=n, freq="D"),
                    "y": y,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


FAST_SETTINGS = dict(windows=2, jobs=1, models=FAST)
HYP = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)


@HYP
@given(histories(), st.integers(1, 6))
def test_quantiles_ordered_nonnegative_keys_times_horizon(hist, h):
    res = F.forecast(hist, F.ForecastSettings(horizon=h, **FAST_SETTINGS))
    fc = res.forecast
    keys = set(zip(hist.region_id, hist.sku_id, strict=True))
    assert len(fc) == len(keys) * h
    assert set(zip(fc.region_id, fc.sku_id, strict=True)) == keys
    assert fc.groupby(["region_id", "sku_id"]).ds.nunique().eq(h).all()
    q = fc[["mean", *F.QUANTILE_COLUMNS]].to_numpy()
    assert np.isfinite(q).all() and (q >= 0).all()
    assert (np.diff(q[:, 1:], axis=1) >= -1e-9).all()
    # scenarios: same ids and probabilities for every key, sum 1, totals ≥ 0 and increasing
    sc = F.window_total_scenarios(res, window_days=min(h, 3), n_scenarios=4)
    assert len(sc) == 4 * len(keys)
    p = sc.groupby(["sku_id", "region_id"]).prob.sum()
    assert np.allclose(p, 1.0)
    assert sc.groupby(["sku_id", "region_id"]).scenario.apply(tuple).nunique() == 1
    assert (sc.qty_units >= 0).all()
    assert (sc.groupby(["sku_id", "region_id"]).qty_units.diff().dropna() >= -1e-9).all()


@HYP
@given(histories())
def test_reconciled_totals_add_up(hist):
    res = F.forecast(hist, F.ForecastSettings(horizon=3, reconcile=True, **FAST_SETTINGS))
    hier = res.hierarchy
    bottom = hier[hier.level == "bottom"]
    tot = hier[hier.level == "total"].set_index("ds")["mean"]
    assert np.allclose(bottom.groupby("ds")["mean"].sum().reindex(tot.index), tot, rtol=1e-6)
    sku = hier[hier.level == "sku"].set_index(["sku_id", "ds"])["mean"]
    assert np.allclose(bottom.groupby(["sku_id", "ds"])["mean"].sum().reindex(sku.index), sku)
    reg = hier[hier.level == "region"].set_index(["region_id", "ds"])["mean"]
    assert np.allclose(bottom.groupby(["region_id", "ds"])["mean"].sum().reindex(reg.index), reg)
    # the forecast file is the reconciled bottom level
    fc = res.forecast.set_index(["region_id", "sku_id", "ds"])["mean"]
    b = bottom.set_index(["region_id", "sku_id", "ds"])["mean"]
    assert np.allclose(fc.reindex(b.index), b)
    assert (hier[list(F.QUANTILE_COLUMNS)].to_numpy() >= 0).all()


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 12))
def test_scenario_grid(n):
    prob, p = F.scenario_grid(n)
    assert len(prob) == n and np.isclose(prob.sum(), 1.0) and (prob > 0).all()
    assert (np.diff(p) > 0).all() and ((p > 0) & (p < 1)).all()
