"""Hierarchy SKU × region → SKU total / region total → network total, and its reconciliation.

Aggregated keys use ``"*"`` for the summed-over dimension: ``(region_id="*", sku_id=s)`` is
SKU ``s`` over all regions, ``(r, "*")`` region ``r`` over all SKUs, ``("*", "*")`` the network.

Reconciliation (hierarchicalforecast) of the means: BottomUp, MinTrace(ols) and
MinTrace(wls_struct) are applied to the backtest forecasts of every window; the method with the
lowest mean scaled absolute error over all levels (|error| / mean |y| of the series) is used for
the final forecast. The quantiles of each series are shifted by the change of its mean (so only
the means add up exactly); they stay ≥ 0 and non-decreasing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import QUANTILE_COLUMNS

__all__ = ["aggregate_levels", "reconcile_forecasts"]

ALL = "*"
_METHODS = ("BottomUp", "MinTrace(ols)", "MinTrace(wls_struct)")


def aggregate_levels(
    hist: pd.DataFrame, *, full: bool, skus: list[str] | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sum the bottom history into aggregate series.

    Parameters
    ----------
    hist
        Validated history ``region_id, sku_id, ds, y``.
    full
        Build every level (network, SKU totals, region totals); else only the SKU totals of
        ``skus`` (needed by cold-start series).

    Returns
    -------
    (DataFrame, DataFrame)
        ``unique_id, ds, y`` of the aggregates and their keys ``region_id, sku_id, unique_id,
        level`` (level ∈ total, sku, region).
    """
    frames, keys = [], []
    sku_list = sorted(hist["sku_id"].unique()) if full else list(skus or [])
    by_sku = hist[hist["sku_id"].isin(sku_list)].groupby(["sku_id", "ds"], as_index=False)["y"]
    s = by_sku.sum()
    codes = {k: f"a1sku{i:07d}" for i, k in enumerate(sku_list)}
    s["unique_id"] = s["sku_id"].map(codes)
    frames.append(s[["unique_id", "ds", "y"]])
    keys += [(ALL, k, codes[k], "sku") for k in sku_list]
    if full:
        r = hist.groupby(["region_id", "ds"], as_index=False)["y"].sum()
        reg = sorted(hist["region_id"].unique())
        rc = {k: f"a2reg{i:07d}" for i, k in enumerate(reg)}
        r["unique_id"] = r["region_id"].map(rc)
        frames.append(r[["unique_id", "ds", "y"]])
        keys += [(k, ALL, rc[k], "region") for k in reg]
        t = hist.groupby("ds", as_index=False)["y"].sum()
        t["unique_id"] = "a0total"
        frames.append(t[["unique_id", "ds", "y"]])
        keys.append((ALL, ALL, "a0total", "total"))
    df = pd.concat(frames, ignore_index=True).sort_values(["unique_id", "ds"], kind="stable")
    k = pd.DataFrame(keys, columns=["region_id", "sku_id", "unique_id", "level"])
    return df.reset_index(drop=True), k


def _summing(keys: pd.DataFrame, agg_keys: pd.DataFrame):
    bottom = keys["unique_id"].to_numpy()
    rows = [pd.Series(np.ones(len(bottom)), index=bottom, name="a0total")]
    tags = {"total": np.array(["a0total"])}
    sku = agg_keys[agg_keys["level"] == "sku"]
    reg = agg_keys[agg_keys["level"] == "region"]
    for _, a in sku.iterrows():
        rows.append(
            pd.Series((keys["sku_id"] == a.sku_id).to_numpy(float), index=bottom, name=a.unique_id)
        )
    for _, a in reg.iterrows():
        rows.append(
            pd.Series(
                (keys["region_id"] == a.region_id).to_numpy(float), index=bottom, name=a.unique_id
            )
        )
    tags["sku"] = sku["unique_id"].to_numpy()
    tags["region"] = reg["unique_id"].to_numpy()
    tags["bottom"] = bottom
    S = pd.DataFrame(rows)
    S = pd.concat([S, pd.DataFrame(np.eye(len(bottom)), index=bottom, columns=bottom)])
    S.index.name = "unique_id"
    return S.reset_index(), tags


def _reconcile(yhat: pd.DataFrame, S_df: pd.DataFrame, tags) -> dict[str, pd.DataFrame]:
    from hierarchicalforecast.core import HierarchicalReconciliation
    from hierarchicalforecast.methods import BottomUp, MinTrace

    hrec = HierarchicalReconciliation(
        reconcilers=[BottomUp(), MinTrace(method="ols"), MinTrace(method="wls_struct")]
    )
    order = {u: i for i, u in enumerate(S_df["unique_id"])}
    yhat = yhat.assign(_o=yhat["unique_id"].map(order)).sort_values(["_o", "ds"], kind="stable")
    rec = hrec.reconcile(Y_hat_df=yhat.drop(columns="_o"), S_df=S_df, tags=tags)
    cols = [c for c in rec.columns if c.startswith("mean/")]
    out = {}
    for name, c in zip(_METHODS, cols, strict=True):
        out[name] = rec[["unique_id", "ds", c]].rename(columns={c: "mean"})
    return out


def reconcile_forecasts(
    base: pd.DataFrame,
    keys: pd.DataFrame,
    agg_keys: pd.DataFrame,
    cv_chosen: pd.DataFrame,
    df: pd.DataFrame,
    season: int,
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Reconcile base forecasts of every level (method chosen on the backtest windows).

    Parameters
    ----------
    base
        Base forecasts ``unique_id, ds, model, mean, q05 … q95`` of bottom keys and aggregates.
    keys, agg_keys
        Bottom keys (``region_id, sku_id, unique_id``) and aggregate keys (plus ``level``).
    cv_chosen
        Backtest paths ``unique_id, ds, cutoff, y, mean`` of the chosen candidates.
    df
        Bottom history ``unique_id, ds, y`` (for scaling errors and cold-start shares).

    Returns
    -------
    (DataFrame, DataFrame, list[str])
        All levels (``level, region_id, sku_id, ds, model, mean, q05 … q95``), the reconciled
        bottom forecasts (``unique_id, ds, model, mean, q…``) and warnings.
    """
    S_df, tags = _summing(keys, agg_keys)
    warns: list[str] = []
    method = _choose_method(cv_chosen, S_df, tags, keys, df)
    if method is None:
        method = "MinTrace(wls_struct)"
        warns.append(
            "reconcile: some series have no backtest (cold start/zero), "
            "so MinTrace(wls_struct) was used without a backtest comparison"
        )
    yhat = base[["unique_id", "ds", "mean"]]
    rec = _reconcile(yhat, S_df, tags)[method]
    out = base.merge(rec.rename(columns={"mean": "rec"}), on=["unique_id", "ds"], how="left")
    shift = (out["rec"] - out["mean"]).to_numpy()
    out["mean"] = np.maximum(out["rec"].to_numpy(), 0.0)
    q = out[list(QUANTILE_COLUMNS)].to_numpy() + shift[:, None]
    q = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
    out[list(QUANTILE_COLUMNS)] = q
    out["model"] = out["model"].astype(str) + f"+{method}"
    out = out.drop(columns="rec")
    allk = pd.concat(
        [keys.assign(level="bottom"), agg_keys[["region_id", "sku_id", "unique_id", "level"]]]
    )
    hier = out.merge(allk, on="unique_id", how="left")
    hier = hier[["level", "region_id", "sku_id", "ds", "model", "mean", *QUANTILE_COLUMNS]]
    lvl = {"total": 0, "sku": 1, "region": 2, "bottom": 3}
    hier = hier.assign(_l=hier["level"].map(lvl)).sort_values(
        ["_l", "region_id", "sku_id", "ds"], kind="stable"
    )
    bottom = out[out["unique_id"].isin(keys["unique_id"])].reset_index(drop=True)
    return hier.drop(columns="_l").reset_index(drop=True), bottom, warns


def _choose_method(cv, S_df, tags, keys, df) -> str | None:
    ids = set(S_df["unique_id"])
    if cv.empty or not ids.issubset(set(cv["unique_id"])):
        return None
    cuts = sorted(cv["cutoff"].unique())
    scale_all = df.groupby("unique_id")["y"].apply(lambda v: np.mean(np.abs(v)))
    err = dict.fromkeys(_METHODS, 0.0)
    for c in cuts:
        w = cv[cv["cutoff"] == c]
        rec = _reconcile(w[["unique_id", "ds", "mean"]], S_df, tags)
        truth = w.set_index(["unique_id", "ds"])["y"]
        for name, r in rec.items():
            r = r.set_index(["unique_id", "ds"])
            e = (r["mean"].clip(lower=0) - truth.reindex(r.index)).abs()
            u = e.index.get_level_values(0)
            sc = scale_all.reindex(u).to_numpy()
            if np.isnan(sc).any():
                sc = np.where(np.isnan(sc), e.groupby(level=0).transform("mean") + 1e-9, sc)
            err[name] += float(np.nanmean(e.to_numpy() / np.maximum(sc, 1e-9)))
    return min(_METHODS, key=lambda m: (err[m], _METHODS.index(m)))
