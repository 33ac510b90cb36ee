"""Forecast accuracy over time: stored forecasts scored against the actuals that came after.

A nightly run stores its forecast; weeks later the actuals of those periods arrive. This module
scores every forecast row that now has an actual, at every level of the hierarchy, and tests a
challenger against the champion.

* :func:`score_rows` joins forecasts of many runs to the actuals and adds the aggregate levels
  (``sku_region`` → ``sku`` / ``region`` → ``network``: means, baselines, naive forecasts and
  actuals add up; see :mod:`forecasting.hierarchy`), the lag (periods ahead), the seasonal-naive
  forecast and the MASE scale of each series as of the run;
* :func:`accuracy_table` gives MASE, WAPE, bias and 80/90 % interval coverage by any grouping
  (level, lag, model, run, role);
* :func:`dm_test` is the Diebold–Mariano test with the Harvey–Leybourne–Newbold small-sample
  correction (as R's ``forecast::dm.test``); :func:`champion_vs_challenger` applies it to the
  last N runs;
* :func:`value_added` is the forecast value added: seasonal naive vs the statistical baseline vs
  the final forecast (after planners' overrides), per user and level.

Definitions (units: ``y`` and forecasts in the history's units):

* ``lag`` k: the k-th forecast period of the run (1 = the period after ``as_of``);
* MASE: mean of ``|y − ŷ| / scale``; ``scale`` is the mean absolute in-sample seasonal-naive
  error of the series' history up to the run's ``as_of`` (lag 1 when the history is not longer
  than a season; a zero scale falls back to the mean ``|y|``, then 1 — the backtest's rule,
  :func:`forecasting.scoring.seasonal_scales`);
* WAPE: ``Σ|y − ŷ| / Σy``; bias: ``Σ(ŷ − y) / Σy`` (positive = over-forecast);
* coverage: share of actuals inside ``[q10, q90]`` (80 %) and ``[q05, q95]`` (90 %). At the
  aggregate levels the interval is the sum of the bottom quantiles — the interval if the
  series move together, wider than the aggregate's own interval when they do not, so
  aggregate coverage is an upper bound;
* seasonal naive: the value one season before the target period, taken from the history up to
  ``as_of`` (the last value when the history is shorter than a season).

A series' periods are its rows in the actuals, in date order (the history contract: one row
per period; fill gaps before scoring). Forecast rows without an actual are not scored yet.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = [
    "ALL",
    "LEVELS",
    "DMTest",
    "accuracy_table",
    "champion_vs_challenger",
    "dm_test",
    "score_rows",
    "series_scales",
    "value_added",
]

#: Levels of the hierarchy, bottom first; aggregated keys are ``"*"``.
LEVELS: tuple[str, ...] = ("sku_region", "sku", "region", "network")
ALL = "*"
_REQUIRED = ("run_id", "as_of", "region_id", "sku_id", "ds", "mean", "q05", "q10", "q90", "q95")
_SUMMED = ("y", "mean", "baseline", "naive", "q05", "q10", "q90", "q95")
_ROW_COLUMNS = (
    "run_id",
    "as_of",
    "role",
    "level",
    "region_id",
    "sku_id",
    "ds",
    "lag",
    "model",
    "override_user",
    *_SUMMED,
    "scale",
)


def _require(df: pd.DataFrame, columns: tuple[str, ...], table: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{table} lacks column(s) {', '.join(missing)}",
            fix=f"give {table} the columns {', '.join(columns)}",
            table=table,
            column=missing[0],
        )


def series_scales(actuals: pd.DataFrame, points: pd.DataFrame, season: int) -> np.ndarray:
    """MASE scale of each series as of a date: the in-sample seasonal-naive MAE.

    Parameters
    ----------
    actuals
        ``key, ds, y`` (one row per period of each series; any hashable ``key``).
    points
        ``key, as_of``: the series and the last date of its history to use.
    season
        Seasonal lag in periods.

    Returns
    -------
    ndarray
        One scale per row of ``points`` (units of ``y``), NaN where the series has no history
        up to ``as_of``.
    """
    a = actuals.sort_values(["key", "ds"], kind="stable").reset_index(drop=True)
    g = a.groupby("key", sort=False)["y"]
    y = a["y"].to_numpy(dtype=float)
    a["n"] = g.cumcount() + 1
    a["c_s"] = (a["y"] - g.shift(season)).abs().groupby(a["key"], sort=False).cumsum()
    a["c_1"] = (a["y"] - g.shift(1)).abs().groupby(a["key"], sort=False).cumsum()
    a["c_y"] = pd.Series(np.abs(y)).groupby(a["key"], sort=False).cumsum()
    at = _as_of(points, a[["key", "ds", "n", "c_s", "c_1", "c_y"]])
    n = at["n"].to_numpy(dtype=float)
    seasonal = at["c_s"].to_numpy(dtype=float) / np.maximum(n - season, 1)
    first = at["c_1"].to_numpy(dtype=float) / np.maximum(n - 1, 1)
    sc = np.where(n > season, seasonal, np.where(n > 1, first, 0.0))
    mean_abs = at["c_y"].to_numpy(dtype=float) / np.maximum(n, 1)
    sc = np.where(sc > 0, sc, np.where(mean_abs > 0, mean_abs, 1.0))
    return np.where(np.isnan(n), np.nan, sc)


def _as_of(points: pd.DataFrame, history: pd.DataFrame) -> pd.DataFrame:
    """Each row of ``points`` (``key, as_of, …``, in its order) with the columns of the last
    ``history`` row (``key, ds, …``) of its key on or before ``as_of`` (NaN when none)."""
    p = points.reset_index(drop=True).assign(_i=np.arange(len(points)))
    return pd.merge_asof(
        p.sort_values("as_of", kind="stable"),
        history.sort_values("ds", kind="stable"),
        left_on="as_of",
        right_on="ds",
        by="key",
        direction="backward",
    ).sort_values("_i")


def _naive(actuals: pd.DataFrame, rows: pd.DataFrame, season: int) -> np.ndarray:
    """Seasonal-naive forecast of each row (``key, as_of, lag``) from the history to as_of."""
    a = actuals.sort_values(["key", "ds"], kind="stable").reset_index(drop=True)
    a["pos"] = a.groupby("key", sort=False).cumcount()
    at = _as_of(rows[["key", "as_of", "lag"]], a[["key", "ds", "pos"]])
    p0 = at["pos"].to_numpy(dtype=float)
    lag = at["lag"].to_numpy(dtype=np.int64)
    start = p0 - season + 1
    target = np.where(start >= 0, start + (lag - 1) % season, p0)
    look = pd.DataFrame({"key": at["key"].to_numpy(), "pos": target})
    vals = look.merge(a[["key", "pos", "y"]], on=["key", "pos"], how="left")["y"]
    return vals.to_numpy(dtype=float)


def score_rows(
    forecasts: pd.DataFrame, actuals: pd.DataFrame, *, season_length: int
) -> pd.DataFrame:
    """Forecast rows of many runs joined to their actuals, at every level of the hierarchy.

    Parameters
    ----------
    forecasts
        ``run_id, as_of, region_id, sku_id, ds, mean, q05, q10, q90, q95`` and optionally
        ``role`` (``"champion"`` by default; e.g. ``"challenger"``), ``model``, ``baseline``
        (the statistical forecast before overrides; default ``mean``) and ``override_user``
        (who overrode the row; blank = not overridden). ``as_of`` is the last date of the
        history the run forecast from.
    actuals
        The history contract ``region_id, sku_id, ds, y`` (including the periods up to each
        run's ``as_of``: they give the MASE scale and the seasonal-naive forecast).
    season_length
        Periods per season (e.g. 52 for weekly data).

    Returns
    -------
    DataFrame
        One row per run, role, level, key and scored period: ``run_id, as_of, role, level,
        region_id, sku_id, ds, lag, model, override_user, y, mean, baseline, naive, q05, q10,
        q90, q95, scale`` (``"*"`` marks an aggregated key; ``model`` is ``"*"`` above the
        bottom level). Sorted; empty when no forecast period has an actual yet.
    """
    _require(forecasts, _REQUIRED, "forecasts")
    _require(actuals, ("region_id", "sku_id", "ds", "y"), "actuals")
    if season_length < 1:
        raise InputError("season_length must be ≥ 1", fix="use e.g. 52 for weekly data")
    f = forecasts.copy()
    f["ds"] = pd.to_datetime(f["ds"])
    f["as_of"] = pd.to_datetime(f["as_of"])
    if "role" not in f:
        f["role"] = "champion"
    if "model" not in f:
        f["model"] = ""
    if "baseline" not in f:
        f["baseline"] = f["mean"]
    f["baseline"] = f["baseline"].fillna(f["mean"])
    if "override_user" not in f:
        f["override_user"] = None
    f["override_user"] = f["override_user"].where(
        f["override_user"].notna() & (f["override_user"].astype(str).str.strip() != ""), None
    )
    for c in ("region_id", "sku_id", "run_id", "role"):
        f[c] = f[c].astype(str)
    act = actuals[["region_id", "sku_id", "ds", "y"]].copy()
    act["ds"] = pd.to_datetime(act["ds"])
    act["region_id"] = act["region_id"].astype(str)
    act["sku_id"] = act["sku_id"].astype(str)
    act["y"] = act["y"].astype(float)
    f = f[f["ds"] > f["as_of"]].copy()
    f["lag"] = (
        f.groupby(["run_id", "role", "region_id", "sku_id"])["ds"]
        .rank(method="dense")
        .astype(np.int64)
    )
    bottom = f.merge(act, on=["region_id", "sku_id", "ds"], how="inner")
    if bottom.empty:
        return pd.DataFrame(columns=list(_ROW_COLUMNS))
    bottom["level"] = "sku_region"
    bottom["key"] = bottom["region_id"] + "\x1f" + bottom["sku_id"]
    act["key"] = act["region_id"] + "\x1f" + act["sku_id"]
    bottom["naive"] = _naive(act, bottom, season_length)
    parts = [bottom]
    hist = {"sku_region": act}
    group_cols = ["run_id", "as_of", "role", "ds", "lag"]
    for level, by in (("sku", ["sku_id"]), ("region", ["region_id"]), ("network", [])):
        agg = bottom.groupby(group_cols + by, sort=True, as_index=False)[list(_SUMMED)].sum()
        for c in ("region_id", "sku_id"):
            if c not in by:
                agg[c] = ALL
        agg["level"] = level
        agg["model"] = ALL
        agg["override_user"] = None
        agg["key"] = agg["region_id"] + "\x1f" + agg["sku_id"]
        h = (
            act.groupby([*by, "ds"], as_index=False)["y"].sum()
            if by
            else (act.groupby("ds", as_index=False)["y"].sum())
        )
        for c in ("region_id", "sku_id"):
            if c not in by:
                h[c] = ALL
        h["key"] = h["region_id"] + "\x1f" + h["sku_id"]
        hist[level] = h
        parts.append(agg)
    out = []
    for part in parts:
        level = str(part["level"].iloc[0])
        points = part[["key", "as_of"]].drop_duplicates()
        points = points.assign(scale=series_scales(hist[level], points, season_length))
        out.append(part.merge(points, on=["key", "as_of"], how="left"))
    rows = pd.concat(out, ignore_index=True)
    rows["_l"] = rows["level"].map({lv: i for i, lv in enumerate(LEVELS)})
    rows = rows.sort_values(
        ["as_of", "run_id", "role", "_l", "region_id", "sku_id", "ds"], kind="stable"
    )
    return rows[list(_ROW_COLUMNS)].reset_index(drop=True)


def accuracy_table(rows: pd.DataFrame, by: list[str], *, column: str = "mean") -> pd.DataFrame:
    """MASE, WAPE, bias and 80/90 % interval coverage of ``rows`` grouped by ``by``.

    Parameters
    ----------
    rows
        Output of :func:`score_rows` (or a subset of it).
    by
        Grouping columns, e.g. ``["role", "level", "lag"]``.
    column
        The forecast scored: ``"mean"`` (final, after overrides) or ``"baseline"``.

    Returns
    -------
    DataFrame
        ``*by, n, mase, wape, bias, coverage_80, coverage_90`` (wape and bias are fractions of
        the actual volume; coverage a share of rows).
    """
    from utilsforecast.losses import coverage, wape

    cols = [*by, "n", "mase", "wape", "bias", "coverage_80", "coverage_90"]
    if rows.empty:
        return pd.DataFrame(columns=cols)
    d = rows.copy()
    d["_k"] = d.groupby(by, sort=True).ngroup() if by else 0
    d["f"] = d[column].astype(float)
    d["f-lo-80"], d["f-hi-80"] = d["q10"].astype(float), d["q90"].astype(float)
    d["f-lo-90"], d["f-hi-90"] = d["q05"].astype(float), d["q95"].astype(float)
    d["_ase"] = (d["y"] - d["f"]).abs() / d["scale"]
    d["_e"] = d["f"] - d["y"]
    g = d.groupby("_k", sort=True)
    res = g[by].first() if by else pd.DataFrame(index=g.size().index)
    res["n"] = g.size()
    res["mase"] = g["_ase"].mean()
    res["wape"] = wape(d[["_k", "y", "f"]], models=["f"], id_col="_k").set_index("_k")["f"]
    ysum = g["y"].sum()
    res["bias"] = (g["_e"].sum() / ysum).where(ysum > 0)
    for lv in (80, 90):
        c = coverage(d[["_k", "y", f"f-lo-{lv}", f"f-hi-{lv}"]], ["f"], lv, id_col="_k")
        res[f"coverage_{lv}"] = c.set_index("_k")["f"]
    res["wape"] = res["wape"].where(ysum > 0)
    return res.reset_index(drop=True)[cols]


@dataclass(frozen=True)
class DMTest:
    """A Diebold–Mariano test (Harvey–Leybourne–Newbold corrected).

    ``mean_difference`` is the mean loss of the first forecast minus the second's;
    ``statistic`` follows Student's t with ``n − 1`` degrees of freedom under the null of
    equal accuracy; ``h`` is the forecast horizon whose autocovariances the variance uses.
    """

    statistic: float
    p_value: float
    n: int
    h: int
    mean_difference: float


def _dm_variance(d: np.ndarray, h: int) -> float:
    n = len(d)
    c = d - d.mean()
    gam = [float(c[k:] @ c[: n - k]) / n for k in range(h)]
    return (gam[0] + 2.0 * sum(gam[1:])) / n


def dm_test(
    loss_difference: np.ndarray | list[float],
    *,
    h: int = 1,
    alternative: str = "two-sided",
) -> DMTest:
    """Diebold–Mariano test of equal accuracy with the HLN small-sample correction.

    Parameters
    ----------
    loss_difference
        ``d_t = L(e1_t) − L(e2_t)``, e.g. ``|e1| − |e2|`` (R ``dm.test(power=1)``), in time
        order.
    h
        Forecast horizon: autocovariances of ``d`` up to lag ``h − 1`` enter its variance.
    alternative
        ``"two-sided"``, ``"less"`` (the first forecast is more accurate: ``d`` < 0) or
        ``"greater"`` (the second is more accurate).

    Returns
    -------
    DMTest
        Statistic ``DM × sqrt((n + 1 − 2h + h(h − 1)/n) / n)`` and its p-value from Student's
        t with ``n − 1`` degrees of freedom. NaN when ``n < 2`` or the variance estimate is
        not positive (e.g. identical forecasts).
    """
    from scipy import stats

    if alternative not in ("two-sided", "less", "greater"):
        raise ValueError(f"unknown alternative {alternative!r}")
    if not isinstance(h, int) or h < 1:
        raise ValueError(f"h must be a positive integer, got {h!r}")
    d = np.asarray(loss_difference, dtype=float)
    d = d[np.isfinite(d)]
    n = len(d)
    mean = float(d.mean()) if n else math.nan
    if n < 2 or h >= n:
        return DMTest(math.nan, math.nan, n, h, mean)
    var = _dm_variance(d, h)
    corr = (n + 1 - 2 * h + h * (h - 1) / n) / n
    if not var > 0 or not corr > 0:
        return DMTest(math.nan, math.nan, n, h, mean)
    stat = mean / math.sqrt(var) * math.sqrt(corr)
    t = stats.t(df=n - 1)
    if alternative == "two-sided":
        p = 2.0 * float(t.cdf(-abs(stat)))
    elif alternative == "less":
        p = float(t.cdf(stat))
    else:
        p = float(t.sf(stat))
    return DMTest(float(stat), p, n, h, mean)


def _overlap_h(runs: pd.DataFrame, max_lag: int) -> int:
    """Runs whose forecasts of lags ≤ ``max_lag`` overlap (the DM ``h``): max_lag divided by
    the median spacing of consecutive runs in periods (1 when they never overlap)."""
    firsts = runs.sort_values("as_of")
    spacing = []
    for (_, a), (_, b) in zip(firsts.iloc[:-1].iterrows(), firsts.iloc[1:].iterrows(), strict=True):
        ahead = [ds for ds in a["dates"] if ds <= b["first"]]
        spacing.append(len(ahead) if b["first"] in a["dates"] else max_lag)
    step = float(np.median(spacing)) if spacing else float(max_lag)
    return max(1, math.ceil(max_lag / max(step, 1.0)))


def champion_vs_challenger(
    rows: pd.DataFrame,
    *,
    last: int = 12,
    level: str = "sku_region",
    alpha: float = 0.05,
    challenger: str = "challenger",
) -> pd.DataFrame:
    """Diebold–Mariano test of the challenger against the champion over the last runs.

    Losses are scaled absolute errors (``|y − ŷ| / scale``) of the statistical forecasts (the
    champion's ``baseline``, before overrides) on the periods both forecast; ``d_t`` is the
    run's mean loss difference (champion − challenger), so the test runs over runs in time
    order. One-sided: the alternative is that the challenger is more accurate.

    Returns
    -------
    DataFrame
        ``lag`` (``"all"`` then 1, 2, …), ``runs``, ``champion_mase``, ``challenger_mase``,
        ``dm_statistic``, ``p_value``, ``h``, ``challenger_better`` (the challenger's MASE is
        lower and ``p_value < alpha``). Empty when no run has both.
    """
    cols = [
        "lag",
        "runs",
        "champion_mase",
        "challenger_mase",
        "dm_statistic",
        "p_value",
        "h",
        "challenger_better",
    ]
    r = rows[rows["level"] == level]
    champ = r[r["role"] == "champion"]
    chall = r[r["role"] == challenger]
    key = ["run_id", "as_of", "region_id", "sku_id", "ds", "lag"]
    both = champ[[*key, "y", "baseline", "scale"]].merge(
        chall[[*key, "mean"]].rename(columns={"mean": "challenger"}), on=key
    )
    if both.empty:
        return pd.DataFrame(columns=cols)
    runs = both[["run_id", "as_of"]].drop_duplicates().sort_values(["as_of", "run_id"])
    runs = runs.tail(last)
    both = both.merge(runs, on=["run_id", "as_of"])
    both["l_champ"] = (both["y"] - both["baseline"]).abs() / both["scale"]
    both["l_chall"] = (both["y"] - both["challenger"]).abs() / both["scale"]
    dates = (
        champ.merge(runs, on=["run_id", "as_of"])
        .groupby(["run_id", "as_of"])["ds"]
        .agg(lambda s: sorted(set(s)))
        .rename("dates")
        .reset_index()
    )
    dates["first"] = dates["dates"].map(lambda v: v[0])
    out = []
    lags: list[object] = ["all", *sorted(both["lag"].unique())]
    for lag in lags:
        sel = both if lag == "all" else both[both["lag"] == lag]
        per_run = sel.groupby(["as_of", "run_id"], sort=True)[["l_champ", "l_chall"]].mean()
        d = (per_run["l_champ"] - per_run["l_chall"]).to_numpy()
        max_lag = int(sel["lag"].max())
        h = min(_overlap_h(dates, max_lag), max(len(d) - 1, 1))
        test = dm_test(d, h=h, alternative="greater")
        if math.isnan(test.p_value) and h > 1:  # variance estimate not positive: h = 1
            test = dm_test(d, h=1, alternative="greater")
        cm, xm = float(sel["l_champ"].mean()), float(sel["l_chall"].mean())
        out.append(
            (
                lag,
                len(d),
                cm,
                xm,
                test.statistic,
                test.p_value,
                test.h,
                bool(xm < cm and test.p_value < alpha),
            )
        )
    return pd.DataFrame(out, columns=cols)


def value_added(rows: pd.DataFrame, *, role: str = "champion") -> pd.DataFrame:
    """Forecast value added: seasonal naive → statistical baseline → final (after overrides).

    Per level (``user = "*"``: every scored row) and per user (the ``sku_region`` rows that
    user overrode). ``fva_model`` = WAPE(naive) − WAPE(baseline): what the statistics add;
    ``fva_override`` = WAPE(baseline) − WAPE(final): what the overrides add (positive = better).

    Returns
    -------
    DataFrame
        ``level, user, n, wape_naive, wape_baseline, wape_final, mase_naive, mase_baseline,
        mase_final, fva_model, fva_override``.
    """
    cols = [
        "level",
        "user",
        "n",
        "wape_naive",
        "wape_baseline",
        "wape_final",
        "mase_naive",
        "mase_baseline",
        "mase_final",
        "fva_model",
        "fva_override",
    ]
    r = rows[rows["role"] == role]
    groups: list[tuple[str, str, pd.DataFrame]] = [
        (lv, ALL, r[r["level"] == lv]) for lv in LEVELS if (r["level"] == lv).any()
    ]
    bottom = r[(r["level"] == "sku_region") & r["override_user"].notna()]
    groups += [("sku_region", str(u), g) for u, g in bottom.groupby("override_user", sort=True)]
    out = []
    for lv, user, g in groups:
        y = g["y"].to_numpy(dtype=float)
        ysum = y.sum()
        vals = {}
        for name, col in (("naive", "naive"), ("baseline", "baseline"), ("final", "mean")):
            e = np.abs(y - g[col].to_numpy(dtype=float))
            vals[f"wape_{name}"] = float(np.nansum(e) / ysum) if ysum > 0 else math.nan
            vals[f"mase_{name}"] = float(np.nanmean(e / g["scale"].to_numpy(dtype=float)))
        out.append(
            {
                "level": lv,
                "user": user,
                "n": len(g),
                **vals,
                "fva_model": vals["wape_naive"] - vals["wape_baseline"],
                "fva_override": vals["wape_baseline"] - vals["wape_final"],
            }
        )
    return pd.DataFrame(out, columns=cols)
