"""Tiny synthetic histories for the forecasting tests (built in code)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

FAST = ("Naive", "SeasonalNaive", "CrostonOptimized")


def daily_series(
    region: str, sku: str, n: int, *, kind: str = "seasonal", seed: int = 0, start="2024-01-01"
) -> pd.DataFrame:
    """One daily series: seasonal (weekly pattern), intermittent, constant or zero."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    if kind == "seasonal":
        pattern = np.array([5.0, 8.0, 12.0, 30.0, 60.0, 90.0, 40.0])
        y = 50 + pattern[t % 7] + rng.normal(0, 2.0, n)
    elif kind == "intermittent":
        occur = rng.random(n) < 0.3
        y = np.where(occur, rng.poisson(6, n) + 1, 0).astype(float)
    elif kind == "constant":
        y = np.full(n, 7.0)
    elif kind == "zero":
        y = np.zeros(n)
    else:  # noisy level
        y = np.maximum(0, 20 + rng.normal(0, 3, n))
    return pd.DataFrame(
        {
            "region_id": region,
            "sku_id": sku,
            "ds": pd.date_range(start, periods=n, freq="D"),
            "y": np.maximum(y, 0.0),
        }
    )


@pytest.fixture
def small_history() -> pd.DataFrame:
    parts = [
        daily_series("R1", "A", 84, kind="seasonal", seed=1),
        daily_series("R2", "A", 84, kind="seasonal", seed=2),
        daily_series("R1", "B", 84, kind="intermittent", seed=3),
        daily_series("R2", "B", 84, kind="level", seed=4),
    ]
    return pd.concat(parts, ignore_index=True)
