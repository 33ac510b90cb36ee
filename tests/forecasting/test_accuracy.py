"""Forecast accuracy over time: hand-checked metrics, the DM test, value added."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from shipahead.forecasting.accuracy import (
    accuracy_table,
    champion_vs_challenger,
    dm_test,
    score_rows,
    series_scales,
    value_added,
)
from shipahead.forecasting.scoring import seasonal_scales


def _history() -> pd.DataFrame:
    """Two regions × one SKU, weekly, 8 weeks; season 2."""
    ds = pd.date_range("2024-01-01", periods=8, freq="W-MON")
    r1 = [10, 20, 12, 22, 14, 24, 16, 26]
    r2 = [5, 5, 6, 6, 7, 7, 8, 8]
    return pd.concat(
        [
            pd.DataFrame({"region_id": "R1", "sku_id": "A", "ds": ds, "y": r1}),
            pd.DataFrame({"region_id": "R2", "sku_id": "A", "ds": ds, "y": r2}),
        ],
        ignore_index=True,
    )


def _forecast(run: str, as_of: str, means: dict[str, list[float]], **extra) -> pd.DataFrame:
    start = pd.Timestamp(as_of) + pd.Timedelta(weeks=1)
    rows = []
    for region, vals in means.items():
        ds = pd.date_range(start, periods=len(vals), freq="W-MON")
        for d, m in zip(ds, vals, strict=True):
            rows.append(
                {
                    "run_id": run,
                    "as_of": pd.Timestamp(as_of),
                    "region_id": region,
                    "sku_id": "A",
                    "ds": d,
                    "model": "Naive",
                    "mean": m,
                    "q05": m - 3,
                    "q10": m - 2,
                    "q90": m + 2,
                    "q95": m + 3,
                    **extra,
                }
            )
    return pd.DataFrame(rows)


def test_metrics_hand_checked() -> None:
    hist = _history()
    # as of week 6 (2024-02-05); forecasts for weeks 7, 8 (actuals R1 16, 26; R2 8, 8)
    fc = _forecast("run1", "2024-02-05", {"R1": [15, 30], "R2": [8, 10]})
    rows = score_rows(fc, hist, season_length=2)
    assert set(rows["level"]) == {"sku_region", "sku", "region", "network"}
    bottom = rows[rows["level"] == "sku_region"]
    assert list(bottom["lag"]) == [1, 2, 1, 2]
    # scale R1 up to week 6: |12-10|,|22-20|,|14-12|,|24-22| = 2 → 2; R2: 1,1,1,1 → 1
    assert list(bottom["scale"]) == [2.0, 2.0, 1.0, 1.0]
    # seasonal naive (season 2) from weeks 5, 6: R1 14, 24; R2 7, 7
    assert list(bottom["naive"]) == [14.0, 24.0, 7.0, 7.0]
    t = accuracy_table(bottom, ["level"]).iloc[0]
    # errors: R1 |16-15|=1, |26-30|=4; R2 0, 2 → MASE mean(0.5, 2, 0, 2) = 1.125
    assert t["mase"] == pytest.approx(1.125)
    assert t["wape"] == pytest.approx(7 / 58)
    assert t["bias"] == pytest.approx((-1 + 4 + 0 + 2) / 58)
    # 80 % intervals ±2: inside for 1, 0, 2 (edge), outside for 4 → 3/4; 90 % ±3: 3/4
    assert t["coverage_80"] == pytest.approx(0.75)
    assert t["coverage_90"] == pytest.approx(0.75)
    net = rows[rows["level"] == "network"]
    assert list(net["y"]) == [24.0, 34.0]
    assert list(net["mean"]) == [23.0, 40.0]
    assert list(net["naive"]) == [21.0, 31.0]
    # network history 15,25,18,28,21,31 → seasonal diffs 3,3,3,3 → scale 3
    assert list(net["scale"]) == [3.0, 3.0]
    by_lag = accuracy_table(rows[rows["level"] == "network"], ["lag"])
    assert list(by_lag["mase"]) == pytest.approx([1 / 3, 2.0])


def test_periods_without_actuals_are_not_scored() -> None:
    fc = _forecast("run1", "2024-02-19", {"R1": [15, 30]})  # after the last actual
    assert score_rows(fc, _history(), season_length=2).empty


def test_series_scales_match_the_backtest_rule() -> None:
    rng = np.random.default_rng(0)
    frames = []
    for k, n in (("a", 30), ("b", 5), ("c", 12)):
        ds = pd.date_range("2024-01-01", periods=n, freq="D")
        frames.append(pd.DataFrame({"unique_id": k, "ds": ds, "y": rng.poisson(4, n)}))
    train = pd.concat(frames, ignore_index=True)
    cut = pd.Timestamp("2024-01-10")
    ref = seasonal_scales(train, [cut], 7, "mase").set_index("unique_id")["scale"]
    pts = pd.DataFrame({"key": ["a", "b", "c"], "as_of": [cut] * 3})
    got = series_scales(train.rename(columns={"unique_id": "key"}), pts, 7)
    assert got == pytest.approx(ref.loc[["a", "b", "c"]].to_numpy())


def test_dm_with_h1_is_the_one_sample_t_test() -> None:
    d = np.array([0.3, -0.1, 0.5, 0.2, 0.4, -0.2, 0.1, 0.6, 0.0, 0.3])
    res = dm_test(d, h=1)
    ref = stats.ttest_1samp(d, 0.0)
    assert res.statistic == pytest.approx(ref.statistic)
    assert res.p_value == pytest.approx(ref.pvalue)
    assert dm_test(d, h=1, alternative="greater").p_value == pytest.approx(ref.pvalue / 2)


def test_dm_h2_by_hand() -> None:
    # d = 1, 2, 3, 4 (n = 4, mean 2.5): centred -1.5 -0.5 0.5 1.5
    # γ0 = 5/4, γ1 = (0.75 - 0.25 + 0.75)/4 = 0.3125; var = (1.25 + 0.625)/4 = 0.46875
    # DM = 2.5/sqrt(0.46875); HLN factor sqrt((4 + 1 - 4 + 2·1/4)/4) = sqrt(0.375)
    res = dm_test([1, 2, 3, 4], h=2)
    stat = 2.5 / math.sqrt(0.46875) * math.sqrt(0.375)
    assert res.statistic == pytest.approx(stat)
    assert res.p_value == pytest.approx(2 * stats.t(3).sf(stat))
    assert res.h == 2 and res.n == 4


def test_dm_identical_forecasts_give_no_test() -> None:
    assert math.isnan(dm_test([0.0, 0.0, 0.0]).p_value)


def test_champion_vs_challenger_finds_the_better_model() -> None:
    ds = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    rng = np.random.default_rng(1)
    y = 100 + rng.normal(0, 5, 40)
    hist = pd.DataFrame({"region_id": "R1", "sku_id": "A", "ds": ds, "y": y})
    parts = []
    for i in range(12):
        as_of = ds[20 + i]
        truth = y[21 + i : 24 + i]
        for role, noise in (("champion", 12.0), ("challenger", 1.0)):
            m = truth + rng.normal(0, noise, 3)
            f = _forecast(f"r{i:02d}", str(as_of.date()), {"R1": list(m)}, role=role)
            parts.append(f)
    rows = score_rows(pd.concat(parts), hist, season_length=4)
    res = champion_vs_challenger(rows, last=12)
    first = res.iloc[0]
    assert first["lag"] == "all" and first["runs"] == 12
    assert first["challenger_mase"] < first["champion_mase"]
    assert first["p_value"] < 0.01 and bool(first["challenger_better"])
    assert list(res["lag"]) == ["all", 1, 2, 3]


def test_value_added_per_user_and_level() -> None:
    hist = _history()
    fc = _forecast("run1", "2024-02-05", {"R1": [15, 30], "R2": [8, 10]})
    fc["baseline"] = fc["mean"]
    fc["override_user"] = None
    # ann overrides R1 lag 2 from 30 to 26 (exact); bob overrides R2 lag 1 from 8 to 9
    fc.loc[(fc["region_id"] == "R1") & (fc["mean"] == 30), ["mean", "override_user"]] = [26, "ann"]
    fc.loc[(fc["region_id"] == "R2") & (fc["mean"] == 8), ["mean", "override_user"]] = [9, "bob"]
    va = value_added(score_rows(fc, hist, season_length=2)).set_index(["level", "user"])
    ann = va.loc[("sku_region", "ann")]
    assert ann["wape_baseline"] == pytest.approx(4 / 26) and ann["wape_final"] == 0.0
    assert ann["fva_override"] == pytest.approx(4 / 26)
    bob = va.loc[("sku_region", "bob")]
    assert bob["fva_override"] == pytest.approx(-1 / 8)
    allb = va.loc[("sku_region", "*")]
    assert allb["wape_baseline"] == pytest.approx(7 / 58)
    assert allb["wape_final"] == pytest.approx(4 / 58)
    # naive 14, 24, 7, 7 vs 16, 26, 8, 8: 2+2+1+1 = 6
    assert allb["wape_naive"] == pytest.approx(6 / 58)
    assert ("network", "*") in va.index


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0, 50, allow_nan=False), min_size=4, max_size=4),
    st.floats(0, 20, allow_nan=False),
)
def test_coverage_is_a_share(means: list[float], width: float) -> None:
    fc = _forecast("run1", "2024-02-05", {"R1": means[:2], "R2": means[2:]})
    fc["q10"] = (fc["mean"] - width).clip(lower=0)
    fc["q90"] = fc["mean"] + width
    rows = score_rows(fc, _history(), season_length=2)
    t = accuracy_table(rows, ["level", "lag"])
    assert ((t["coverage_80"] >= 0) & (t["coverage_80"] <= 1)).all()
    assert ((t["coverage_90"] >= 0) & (t["coverage_90"] <= 1)).all()
    assert (t["mase"] >= 0).all()
