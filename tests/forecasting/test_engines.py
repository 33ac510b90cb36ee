"""Distributed engine: a small local Dask cluster gives the same numbers as the local engine."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shipahead import forecasting as F

from .conftest import daily_series


def test_dask_equals_local():
    from distributed import Client, LocalCluster

    hist = pd.concat(
        [
            daily_series("R1", "A", 50, kind="seasonal", seed=1),
            daily_series("R2", "A", 50, kind="level", seed=2),
            daily_series("R1", "B", 50, kind="intermittent", seed=3),
        ],
        ignore_index=True,
    )
    # MSTL_SES_log (a Log1p-wrapped model) and TopDown (SKU totals) run on Dask too
    models = ("Naive", "SeasonalNaive", "AutoETS", "MSTL_SES_log", "TopDown", "CrostonOptimized")
    local = F.forecast(hist, F.ForecastSettings(horizon=4, windows=2, jobs=1, models=models))
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        dist = F.forecast(
            hist, F.ForecastSettings(horizon=4, windows=2, backend="dask", models=models)
        )
    a, b = local.forecast, dist.forecast
    assert list(a.columns) == list(b.columns)
    assert (
        (a[["region_id", "sku_id", "ds", "model"]] == b[["region_id", "sku_id", "ds", "model"]])
        .all()
        .all()
    )
    num = ["mean", *F.QUANTILE_COLUMNS]
    np.testing.assert_allclose(a[num].to_numpy(), b[num].to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(
        local.backtest["mase"].to_numpy(), dist.backtest["mase"].to_numpy(), rtol=1e-4
    )
