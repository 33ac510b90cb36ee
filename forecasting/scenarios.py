"""Demand totals over a coverage window as a few weighted scenarios (for placement).

Daily/weekly quantiles do not add up, so totals are built in two documented ways:

* :func:`window_total_scenarios` (from a :class:`ForecastResult`, preferred): the backtest gives,
  for every series and window, the error of the *window total* of the chosen model (actual sum
  minus forecast sum over the first ``k`` periods). These errors, scaled by the series' seasonal-
  naive error × ``k``, are pooled per demand class; their empirical quantiles, rescaled to each
  key, are added to the key's forecast total. So the spread of totals includes the correlation of
  errors across periods as it actually happened in the backtest. Keys without a backtest (cold
  start, all-zero) use the contract method below.
* :func:`scenarios_from_forecast` (from the forecast contract alone): per period the quantile
  function is interpolated linearly between q05…q95 (flat outside); the total's quantile at ``p``
  is the sum of the periods' quantiles at ``p`` (``dependence="comonotonic"``: errors perfectly
  correlated across periods, the usual case when the level is uncertain) or the mean plus the
  root-sum-square of the deviations (``"independent"``).

Scenarios: ``n`` bins of the probability axis (outer bins 10 % each, inner bins with edges at
equally spaced normal scores; ``n=1``: the mean); each scenario is the total's quantile at its
bin's mid-probability, weighted by the bin's probability. Ids ``s1…sn`` and probabilities are the
same for every key and sum to 1; quantities are ≥ 0 and increase with the scenario number.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from shipahead.tables import require_columns

from .errors import InputError
from .settings import QUANTILE_COLUMNS, ForecastResult
from .validate import period_days

__all__ = [
    "scenario_grid",
    "scenarios_from_forecast",
    "window_quantiles_from_forecast",
    "window_total_quantiles",
    "window_total_scenarios",
]

_QP = np.array([0.05, 0.10, 0.25, 0.50, 0.75, 0.90, 0.95])
_OUT = ["sku_id", "region_id", "scenario", "prob", "qty_units"]


def scenario_grid(n_scenarios: int) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and representative quantile levels of ``n`` scenarios.

    Returns
    -------
    (ndarray, ndarray)
        ``prob`` (sums to 1) and ``p`` (increasing, in (0, 1)).
    """
    from scipy.stats import norm

    if n_scenarios < 1:
        raise InputError("n_scenarios must be ≥ 1", fix="use e.g. 5", table="settings")
    if n_scenarios == 1:
        return np.array([1.0]), np.array([0.5])
    if n_scenarios == 2:
        edges = np.array([0.0, 0.5, 1.0])
    else:
        z = norm.ppf(0.9)
        edges = np.r_[0.0, norm.cdf(np.linspace(-z, z, n_scenarios - 1)), 1.0]
    prob = np.diff(edges)
    p = (edges[:-1] + edges[1:]) / 2
    return prob / prob.sum(), p


def _window_weights(window_days: float, pdays: float, horizon: int) -> np.ndarray:
    k = window_days / pdays
    if k > horizon + 1e-9:
        raise InputError(
            f"coverage window {window_days:g} days is longer than the forecast horizon "
            f"({horizon} periods of {pdays:g} days)",
            fix="forecast a longer horizon or use a shorter `window_days`",
            table="settings",
        )
    w = np.zeros(horizon)
    full = math.floor(k + 1e-9)
    w[:full] = 1.0
    if full < horizon and k - full > 1e-9:
        w[full] = k - full
    return w


def _frame(keys: pd.DataFrame, qty: np.ndarray, prob: np.ndarray) -> pd.DataFrame:
    n = len(prob)
    return pd.DataFrame(
        {
            "sku_id": np.repeat(keys["sku_id"].to_numpy(), n),
            "region_id": np.repeat(keys["region_id"].to_numpy(), n),
            "scenario": np.tile([f"s{i + 1}" for i in range(n)], len(keys)),
            "prob": np.tile(prob, len(keys)),
            "qty_units": np.maximum(qty.reshape(-1), 0.0),
        }
    )


def _interp_q(q: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Rows of contract quantiles (n × 7) → values at levels ``p`` (n × len(p))."""
    out = np.empty((q.shape[0], len(p)))
    for j, pj in enumerate(p):
        pc = min(max(pj, _QP[0]), _QP[-1])
        i = int(np.clip(np.searchsorted(_QP, pc, side="right") - 1, 0, len(_QP) - 2))
        t = (pc - _QP[i]) / (_QP[i + 1] - _QP[i])
        out[:, j] = q[:, i] * (1 - t) + q[:, i + 1] * t
    return out


def scenarios_from_forecast(
    forecast_df: pd.DataFrame,
    window_days: float,
    n_scenarios: int = 5,
    start: pd.Timestamp | str | None = None,
    *,
    freq: str | None = None,
    dependence: str = "comonotonic",
) -> pd.DataFrame:
    """Window-total scenarios from the forecast contract alone.

    Parameters
    ----------
    forecast_df
        Forecast contract ``region_id, sku_id, ds, mean, q05 … q95`` (units per period).
    window_days
        Coverage window length in days (e.g. 14 = the first 2 weeks of weekly forecasts; a
        window that ends inside a period takes that period pro rata).
    n_scenarios
        Number of scenarios.
    start
        First day of the window (default: the first forecast period).
    freq
        Period frequency; ``None`` infers it from the dates.
    dependence
        ``"comonotonic"`` or ``"independent"`` (see the module docstring).

    Returns
    -------
    DataFrame
        ``sku_id, region_id, scenario, prob, qty_units`` (units over the window).
    """
    prob, p = scenario_grid(n_scenarios)
    q = window_quantiles_from_forecast(
        forecast_df, window_days, p, start=start, freq=freq, dependence=dependence
    )
    return _frame(q[["sku_id", "region_id"]], q[[float(x) for x in p]].to_numpy(), prob)


def window_quantiles_from_forecast(
    forecast_df: pd.DataFrame,
    window_days: float,
    p: np.ndarray,
    *,
    start: pd.Timestamp | str | None = None,
    freq: str | None = None,
    dependence: str = "comonotonic",
) -> pd.DataFrame:
    """Quantiles at levels ``p`` of each key's window total from the forecast contract.

    Returns ``sku_id, region_id, mean_units`` and one column per level (units over the window);
    see :func:`scenarios_from_forecast` for the parameters.
    """
    need = ["region_id", "sku_id", "ds", "mean", *QUANTILE_COLUMNS]
    require_columns(
        forecast_df,
        "forecast",
        need,
        fix="pass a forecast in the contract (region_id, sku_id, ds, mean, q05 … q95)",
    )
    if dependence not in ("comonotonic", "independent"):
        raise InputError(
            f"unknown dependence {dependence!r}",
            fix="use comonotonic or independent",
            table="settings",
        )
    if window_days <= 0:
        raise InputError("window_days must be > 0", fix="use e.g. 14", table="settings")
    f = forecast_df[need].copy()
    f["ds"] = pd.to_datetime(f["ds"])
    f["region_id"] = f["region_id"].astype(str)
    f["sku_id"] = f["sku_id"].astype(str)
    f = f.sort_values(["sku_id", "region_id", "ds"], kind="stable").reset_index(drop=True)
    if freq is None:
        u = np.sort(f["ds"].unique())
        pdays = float(np.min(np.diff(u)) / np.timedelta64(1, "D")) if len(u) > 1 else 1.0
    else:
        pdays = period_days(freq)
    t0 = pd.Timestamp(start) if start is not None else f["ds"].min()
    p0 = (f["ds"] - t0) / pd.Timedelta(days=1)
    overlap = np.clip(np.minimum(p0 + pdays, window_days) - np.maximum(p0, 0.0), 0.0, pdays)
    wt = (overlap / pdays).to_numpy()
    covered = f.assign(w=wt).groupby(["sku_id", "region_id"], sort=False)["w"].sum()
    short = covered[covered * pdays < window_days - 1e-6]
    if len(short):
        k = short.index[0]
        raise InputError(
            f"the forecast of sku_id={k[0]}, region_id={k[1]} covers only "
            f"{short.iloc[0] * pdays:g} of the {window_days:g} window days",
            fix="forecast a longer horizon or use a shorter window",
            table="forecast",
        )
    p = np.asarray(p, dtype=float)
    qv = _interp_q(f[list(QUANTILE_COLUMNS)].to_numpy(dtype=float), p)
    mean = f["mean"].to_numpy(dtype=float)
    key = f.groupby(["sku_id", "region_id"], sort=False).ngroup().to_numpy()
    nk = key.max() + 1
    keys = f.drop_duplicates(["sku_id", "region_id"])[["sku_id", "region_id"]]
    tot_mean = np.bincount(key, weights=wt * mean, minlength=nk)
    if dependence == "comonotonic":
        tot = np.column_stack(
            [np.bincount(key, weights=wt * qv[:, j], minlength=nk) for j in range(len(p))]
        )
    else:
        dev = (qv - mean[:, None]) * wt[:, None]
        rss = np.column_stack(
            [np.bincount(key, weights=dev[:, j] ** 2, minlength=nk) for j in range(len(p))]
        )
        sgn = np.sign(
            np.column_stack(
                [np.bincount(key, weights=dev[:, j], minlength=nk) for j in range(len(p))]
            )
        )
        tot = tot_mean[:, None] + sgn * np.sqrt(rss)
    tot = np.maximum.accumulate(np.maximum(tot, 0.0), axis=1)
    out = keys.reset_index(drop=True).copy()
    out["mean_units"] = tot_mean
    for j, pj in enumerate(p):
        out[float(pj)] = tot[:, j]
    return out


def window_total_quantiles(
    result: ForecastResult, window_days: float, p: np.ndarray
) -> pd.DataFrame:
    """Quantiles (at levels ``p``) of each key's demand total over the window (units).

    See the module docstring (backtested window-total errors, pooled per class).
    Returns ``region_id, sku_id, mean_units`` and one column per level ``p``.
    """
    from .pipeline import _scales

    pdays = period_days(result.freq)
    fc = result.forecast.sort_values(["region_id", "sku_id", "ds"], kind="stable")
    h = int(fc.groupby(["region_id", "sku_id"]).size().max())
    w = _window_weights(window_days, pdays, h)
    k = float(w.sum())
    fc = fc.assign(step=fc.groupby(["region_id", "sku_id"]).cumcount())
    fc["w"] = w[fc["step"].to_numpy()]
    tot = (
        fc.assign(m=fc["w"] * fc["mean"])
        .groupby(["region_id", "sku_id"], sort=True)["m"]
        .sum()
        .rename("mean_units")
        .reset_index()
    )
    res = result.residuals
    if res is None or res.empty:
        return None  # type: ignore[return-value]
    r = res.assign(w=w[np.clip(res["step"].to_numpy() - 1, 0, h - 1)])
    r = r.assign(ey=r["w"] * r["y"], em=r["w"] * r["mean"])
    g = r.groupby(["region_id", "sku_id", "cutoff", "demand_class"], sort=True).agg(
        ey=("ey", "sum"), em=("em", "sum"), scale=("scale", "first")
    )
    g = g.reset_index()
    g["e"] = (g["ey"] - g["em"]) / (g["scale"] * k)
    hist = result.history
    hk = hist.assign(unique_id=hist["region_id"] + "\x1f" + hist["sku_id"])[
        ["unique_id", "ds", "y"]
    ]
    sc = _scales(hk, [None], result.season_length, "mase")
    parts = sc["unique_id"].str.split("\x1f", n=1, expand=True)
    sc = pd.DataFrame({"region_id": parts[0], "sku_id": parts[1], "scale": sc["scale"]})
    cls = g.drop_duplicates(["region_id", "sku_id"])[["region_id", "sku_id", "demand_class"]]
    if result.series_class is not None and len(result.series_class):
        # every series of a backtested class (with backtest="sample" most are not backtested)
        cls = result.series_class[result.series_class["demand_class"].isin(set(g["demand_class"]))]
    tot = tot.merge(cls, on=["region_id", "sku_id"], how="inner").merge(
        sc, on=["region_id", "sku_id"], how="left"
    )
    qe = {c: np.quantile(grp["e"].to_numpy(), p) for c, grp in g.groupby("demand_class", sort=True)}
    vals = np.vstack([qe[c] for c in tot["demand_class"]])
    q = tot["mean_units"].to_numpy()[:, None] + (tot["scale"].to_numpy() * k)[:, None] * vals
    q = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
    out = tot[["region_id", "sku_id", "mean_units"]].copy()
    for j, pj in enumerate(p):
        out[float(pj)] = q[:, j]
    return out


def window_total_scenarios(
    result: ForecastResult, window_days: float, n_scenarios: int = 5
) -> pd.DataFrame:
    """Window-total scenarios per key from a forecast result (backtested method).

    Parameters
    ----------
    result
        Output of :func:`forecasting.forecast`.
    window_days
        Coverage window in days from the first forecast period (must fit in the horizon).
    n_scenarios
        Number of scenarios (same ids and probabilities for every key).

    Returns
    -------
    DataFrame
        ``sku_id, region_id, scenario, prob, qty_units`` (units over the window), sorted.
    """
    if window_days <= 0:
        raise InputError("window_days must be > 0", fix="use e.g. 14", table="settings")
    timings = getattr(result, "timings", None)
    if timings is None:
        return _window_total_scenarios(result, window_days, n_scenarios)
    from .stages import StageClock

    clock = StageClock()
    clock.timings = timings
    n = int(result.forecast[["region_id", "sku_id"]].drop_duplicates().shape[0])
    with clock.stage("scenarios"):
        out = _window_total_scenarios(result, window_days, n_scenarios)
    clock.advance("scenarios", n)
    return out


def _window_total_scenarios(
    result: ForecastResult, window_days: float, n_scenarios: int
) -> pd.DataFrame:
    prob, p = scenario_grid(n_scenarios)
    q = window_total_quantiles(result, window_days, p)
    parts = []
    done = set()
    if q is not None and len(q):
        parts.append(_frame(q[["sku_id", "region_id"]], q[[float(x) for x in p]].to_numpy(), prob))
        done = set(zip(q["region_id"], q["sku_id"], strict=True))
    fc = result.forecast
    rest = fc[[(r, s) not in done for r, s in zip(fc["region_id"], fc["sku_id"], strict=True)]]
    if len(rest):
        parts.append(scenarios_from_forecast(rest, window_days, n_scenarios, freq=result.freq))
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["sku_id", "region_id"], kind="stable").reset_index(drop=True)
