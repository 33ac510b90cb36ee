"""Backtest scoring and interval calibration: scaled errors (MASE / RMSSE), the chosen
candidate's backtest paths, split-conformal offsets, coverage and the leaderboard."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .settings import LEVELS, QUANTILE_COLUMNS

__all__ = ["seasonal_scales"]

# quantile column -> (level, side)
_QMAP = {
    "q05": (90, "lo"),
    "q10": (80, "lo"),
    "q25": (50, "lo"),
    "q75": (50, "hi"),
    "q90": (80, "hi"),
    "q95": (90, "hi"),
}
_BOUNDS = [f"{side}-{lv}" for lv in LEVELS for side in ("lo", "hi")]


def seasonal_scales(train: pd.DataFrame, cutoffs, season: int, metric: str) -> pd.DataFrame:
    """In-sample seasonal-naive error per series and cutoff (the MASE/RMSSE denominator).

    Seasonal lag = ``season`` when the training part is longer than one season, else 1. A zero
    scale (constant series) falls back to the mean |y|, then to 1.
    """
    rows = []
    ids = train["unique_id"].to_numpy()
    ds = train["ds"].to_numpy()
    y = train["y"].to_numpy(dtype=float)
    starts = np.r_[0, np.flatnonzero(ids[1:] != ids[:-1]) + 1]
    ends = np.r_[starts[1:], len(ids)]
    for cut in cutoffs:
        for a, b in zip(starts, ends, strict=True):
            v = y[a:b] if cut is None else y[a:b][ds[a:b] <= np.datetime64(cut)]
            lag = season if len(v) > season else 1
            d = v[lag:] - v[:-lag] if len(v) > lag else np.zeros(1)
            sc = np.sqrt(np.mean(d**2)) if metric == "rmsse" else np.mean(np.abs(d))
            if not sc > 0:
                sc = np.mean(np.abs(v)) if len(v) and np.mean(np.abs(v)) > 0 else 1.0
            rows.append((ids[a], cut, float(sc)))
    return pd.DataFrame(rows, columns=["unique_id", "cutoff", "scale"])


def _errors(cv: pd.DataFrame, names, scale: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per series, model and window: metric, mae, coverage_80, coverage_90 (utilsforecast)."""
    from utilsforecast.losses import coverage, mae, rmse

    cvk = cv.assign(key=cv["unique_id"] + "|" + cv["cutoff"].astype(str))
    names = [m for m in names if m in cv]
    e_mae = mae(cvk, models=names, id_col="key").set_index("key")
    out = []
    cov = {
        lv: coverage(cvk, models=names, level=lv, id_col="key").set_index("key") for lv in (80, 90)
    }
    e_rmse = rmse(cvk, models=names, id_col="key").set_index("key") if metric == "rmsse" else None
    keymap = cvk.drop_duplicates("key").set_index("key")[["unique_id", "cutoff"]]
    sc = scale.set_index(["unique_id", "cutoff"])["scale"]
    s = sc.reindex(pd.MultiIndex.from_frame(keymap.reset_index(drop=True))).to_numpy()
    windows = keymap.groupby("unique_id")["cutoff"].rank(method="dense").astype(int) - 1
    for m in names:
        a = e_mae[m].reindex(keymap.index).to_numpy()
        if metric == "mase":
            v = a / s
        elif metric == "rmsse":
            v = e_rmse[m].reindex(keymap.index).to_numpy() / s
        else:
            v = a
        out.append(
            pd.DataFrame(
                {
                    "unique_id": keymap["unique_id"].to_numpy(),
                    "model": m,
                    "window": windows.to_numpy(),
                    "cutoff": keymap["cutoff"].to_numpy(),
                    metric: v,
                    "mae": a,
                    "coverage_80": cov[80][m].reindex(keymap.index).to_numpy(),
                    "coverage_90": cov[90][m].reindex(keymap.index).to_numpy(),
                }
            )
        )
    res = pd.concat(out, ignore_index=True)
    if metric == "mae":
        res = res.loc[:, ~res.columns.duplicated()]
    return res


def _chosen_columns(
    df: pd.DataFrame, chosen: pd.Series
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Each row's chosen candidate (by ``unique_id``) and its ``mean`` and interval bounds,
    read from the wide statsforecast columns ``{model}`` / ``{model}-lo-80`` …"""
    m = chosen.reindex(df["unique_id"]).to_numpy()
    idx = np.arange(len(df))
    cols = {}
    for col, src in [("mean", "")] + [(b, f"-{b}") for b in _BOUNDS]:
        vals = np.full(len(df), np.nan)
        for name in np.unique(m):
            sel = m == name
            vals[sel] = df[f"{name}{src}"].to_numpy(dtype=float)[idx[sel]]
        cols[col] = vals
    return m, cols


def _chosen_paths(cv: pd.DataFrame, chosen: pd.Series, scale: pd.DataFrame) -> pd.DataFrame:
    m, cols = _chosen_columns(cv, chosen)
    out = cv[["unique_id", "ds", "cutoff", "y"]].copy()
    out["model"] = m
    for col, vals in cols.items():
        out[col] = vals
    out["step"] = out.groupby(["unique_id", "cutoff"]).cumcount() + 1
    return out.merge(scale, on=["unique_id", "cutoff"], how="left")


def _conformal_q(scores: np.ndarray, level: int) -> float:
    n = len(scores)
    if n == 0:
        return 0.0
    k = min(1.0, math.ceil((n + 1) * level / 100) / n)
    return float(np.quantile(scores, k, method="higher"))


def _calibrate(ch: pd.DataFrame) -> dict[int, float]:
    """Scaled conformal offset per level: widen lo/hi by ``q × scale`` (q may be < 0)."""
    out = {}
    for lv in LEVELS:
        sc = np.maximum(ch[f"lo-{lv}"] - ch["y"], ch["y"] - ch[f"hi-{lv}"]) / ch["scale"]
        out[lv] = _conformal_q(sc.to_numpy(dtype=float), lv)
    return out


def _apply(lo, hi, mean, q, scale):
    lo2 = lo - q * scale
    hi2 = hi + q * scale
    cross = lo2 > hi2
    mid = np.clip(mean, np.minimum(lo, hi), np.maximum(lo, hi))
    lo2 = np.where(cross, mid, lo2)
    hi2 = np.where(cross, mid, hi2)
    return np.maximum(lo2, 0.0), np.maximum(hi2, 0.0)


def _lowo_coverage(ch: pd.DataFrame, calibrate: bool, select=None) -> dict[str, float]:
    """Coverage of the calibrated intervals, each window calibrated on the other windows
    (reported on the rows ``select`` keeps, e.g. the bottom-level series)."""
    res: dict[str, list[float]] = {"coverage_80": [], "coverage_90": []}
    cuts = sorted(ch["cutoff"].unique())
    for c in cuts:
        test = ch[ch["cutoff"] == c]
        if select is not None:
            test = select(test)
        if test.empty:
            continue
        train = ch[ch["cutoff"] != c]
        offs = _calibrate(train) if calibrate and len(train) else dict.fromkeys(LEVELS, 0.0)
        for lv in (80, 90):
            lo, hi = _apply(
                test[f"lo-{lv}"].to_numpy(),
                test[f"hi-{lv}"].to_numpy(),
                test["mean"].to_numpy(),
                offs[lv],
                test["scale"].to_numpy(),
            )
            y = test["y"].to_numpy()
            res[f"coverage_{lv}"].append(float(np.mean((y >= lo) & (y <= hi))))
    return {k: float(np.mean(v)) if v else float("nan") for k, v in res.items()}


def _finish(fc, cand, chosen: pd.Series, offsets, scale) -> pd.DataFrame:
    """Pick each series' chosen candidate and turn its intervals into contract quantiles."""
    m, cols = _chosen_columns(fc, chosen)
    mean = np.maximum(np.nan_to_num(cols["mean"]), 0.0)
    out = pd.DataFrame({"unique_id": fc["unique_id"].to_numpy(), "ds": fc["ds"].to_numpy()})
    out["model"] = m
    out["mean"] = mean
    sc = np.ones(len(fc)) if scale is None else scale.reindex(fc["unique_id"]).to_numpy()
    bounds = {}
    for lv in LEVELS:
        lo = np.where(np.isfinite(cols[f"lo-{lv}"]), cols[f"lo-{lv}"], mean)
        hi = np.where(np.isfinite(cols[f"hi-{lv}"]), cols[f"hi-{lv}"], mean)
        q = 0.0 if offsets is None else offsets[lv]
        bounds[lv] = _apply(lo, hi, mean, q, sc)
    qs = np.column_stack(
        [
            bounds[90][0],
            bounds[80][0],
            bounds[50][0],
            np.clip(mean, bounds[50][0], bounds[50][1]),
            bounds[50][1],
            bounds[80][1],
            bounds[90][1],
        ]
    )
    qs = np.maximum.accumulate(np.maximum(qs, 0.0), axis=1)
    for i, c in enumerate(QUANTILE_COLUMNS):
        out[c] = qs[:, i]
    return out


def _board(err: pd.DataFrame, metric: str, chosen: pd.Series, cov: dict, group: str):
    g = err.groupby("model", sort=False)
    b = pd.DataFrame(
        {
            metric: g[metric].mean(),
            "coverage_80": g["coverage_80"].mean(),
            "coverage_90": g["coverage_90"].mean(),
            "n_series": g["unique_id"].nunique(),
        }
    )
    b["n_chosen"] = chosen.value_counts().reindex(b.index).fillna(0).astype(int)
    sel = err[err["chosen"]]
    auto = pd.DataFrame(
        {
            metric: [sel[metric].mean()],
            "coverage_80": [cov["coverage_80"]],
            "coverage_90": [cov["coverage_90"]],
            "n_series": [sel["unique_id"].nunique()],
            "n_chosen": [sel["unique_id"].nunique()],
        },
        index=["auto"],
    )
    b = pd.concat([b, auto])
    b.index.name = "model"
    b = b.reset_index()
    b.insert(1, "demand_class", group)
    return b


def _merge_boards(boards: list[pd.DataFrame], metric: str) -> pd.DataFrame:
    cols = ["model", "demand_class", metric, "coverage_80", "coverage_90", "n_series", "n_chosen"]
    if not boards:
        return pd.DataFrame(columns=cols)
    b = pd.concat(boards, ignore_index=True)
    b = b[b["n_series"] > 0]
    if b["demand_class"].nunique() > 1:
        # overall rows, weighted by series count
        def wavg(x: pd.DataFrame) -> pd.Series:
            wt = x["n_series"].to_numpy(dtype=float)
            r = {
                c: float(np.average(x[c], weights=wt))
                for c in (metric, "coverage_80", "coverage_90")
            }
            r["n_series"] = int(wt.sum())
            r["n_chosen"] = int(x["n_chosen"].sum())
            return pd.Series(r)

        tot = b[b["model"] == "auto"]
        allrow = wavg(tot).to_frame().T
        allrow.insert(0, "model", "auto")
        allrow.insert(1, "demand_class", "all")
        b = pd.concat([b, allrow], ignore_index=True)
    b["n_series"] = b["n_series"].astype(int)
    b["n_chosen"] = b["n_chosen"].astype(int)
    return b.sort_values(["demand_class", metric], kind="stable").reset_index(drop=True)[cols]
