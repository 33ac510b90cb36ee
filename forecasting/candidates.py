"""Forecast candidates beyond the single models: the selection rule, the ``Ensemble`` search
and the ``TopDown`` candidate (share × SKU-total forecast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .models import (
    TOP_DOWN,
    TOP_DOWN_BASE,
    make_models,
)
from .scoring import _BOUNDS

if TYPE_CHECKING:
    from .pipeline import ForecastCore

__all__ = [
    "ENSEMBLE",
    "TopDownCandidate",
    "add_ensemble",
    "ensemble_pool",
    "search_ensemble",
    "select_candidates",
]

ENSEMBLE = "Ensemble"
#: Ensemble search: backward elimination over the mean of the ENSEMBLE_POOL best models of a
#: class (by mean backtest error); a member is dropped only when that lowers the class's mean
#: backtest error by at least ENSEMBLE_DROP_GAIN (relative).
ENSEMBLE_POOL = 5
ENSEMBLE_DROP_GAIN = 0.005
#: Near-duplicate candidates: MSTL and MSTL_SES decompose the series identically and differ
#: only in the forecaster of the seasonally adjusted series, so their errors move together.
#: Only the better of a family (by the class's backtest error) enters the ensemble pool: a
#: second member adds fitting time, not diversity.
ENSEMBLE_FAMILIES: dict[str, str] = {"MSTL": "MSTL", "MSTL_SES": "MSTL"}


SWITCH_MARGIN = 0.10


def select_candidates(per: pd.DataFrame, cand: list[str], selection: str) -> pd.Series:
    """Chosen candidate per series from its mean backtest error per candidate (``per``).

    ``series``: each series' best; ``class``: the candidate with the lowest mean over the
    class; ``hybrid``: the class's best unless the series' own best is at least
    ``SWITCH_MARGIN`` (10 %) better on that series (per-series choices on few windows are
    noisy, so they must earn the switch).
    """
    filled = per.fillna(np.inf)
    own = pd.Series(np.asarray(cand)[np.argmin(filled.to_numpy(), axis=1)], index=per.index)
    if selection == "series":
        return own
    best = per.mean().idxmin()
    if selection == "class":
        return pd.Series(best, index=per.index)
    own_err = filled.min(axis=1)
    best_err = filled[best]
    switch = own_err < (1 - SWITCH_MARGIN) * best_err
    return pd.Series(np.where(switch, own, best), index=per.index)


def _clip_and_fill(df: pd.DataFrame, names) -> pd.DataFrame:
    """Means and bounds ≥ 0; missing intervals → the mean (then conformal calibration)."""
    df = df.copy()
    for m in names:
        if m not in df:
            continue
        mean = df[m].to_numpy(dtype=float)
        bad = ~np.isfinite(mean)
        if bad.any():
            mean = np.where(bad, 0.0, mean)
        mean = np.maximum(mean, 0.0)
        df[m] = mean
        for b in _BOUNDS:
            col = f"{m}-{b}"
            v = df[col].to_numpy(dtype=float) if col in df else np.full(len(df), np.nan)
            v = np.where(np.isfinite(v), v, mean)
            df[col] = v
    return df


def add_ensemble(df: pd.DataFrame, members: list[str], how: str = "mean") -> pd.DataFrame:
    """``Ensemble`` columns: the mean or median of the members' means and of their bounds."""
    f = np.median if how == "median" else np.mean
    df = df.copy()
    df[ENSEMBLE] = f(df[members].to_numpy(dtype=float), axis=1)
    for b in _BOUNDS:
        df[f"{ENSEMBLE}-{b}"] = f(df[[f"{m}-{b}" for m in members]].to_numpy(dtype=float), axis=1)
    return df


def ensemble_pool(board: pd.Series, exclude: set[str]) -> list[str]:
    """The ``ENSEMBLE_POOL`` best candidates of a class for the ensemble search, from
    ``board`` (mean backtest error per candidate, ascending): finite errors only, none of
    ``exclude``, and one per family of ``ENSEMBLE_FAMILIES``."""
    pool: list[str] = []
    families: set[str] = set()
    for m in board.index:
        if m in exclude or not np.isfinite(board[m]):
            continue
        fam = ENSEMBLE_FAMILIES.get(m)
        if fam is not None:
            if fam in families:
                continue
            families.add(fam)
        pool.append(m)
    return pool[:ENSEMBLE_POOL]


def search_ensemble(
    cv: pd.DataFrame, pool: list[str], scale: pd.DataFrame, metric: str
) -> tuple[list[str], str]:
    """The ensemble of a class: backward elimination from the mean of the whole ``pool``.

    Starting from every model of ``pool``, the member whose removal lowers the class's mean
    backtest error (series × windows) the most is dropped, while that lowers it by at least
    ``ENSEMBLE_DROP_GAIN`` (0.5 %, relative) and at least two members remain. The same
    elimination is run for the median (at least three members); the median wins only if it is
    that much better than the mean.

    The margin makes the choice stable: combinations whose errors differ by less are
    near-ties, which a backtest on a sample of the class (or the next night's data) would
    order differently; keeping a near-tied member costs nothing measurable, and averaging more
    models is the robust side of the tie. Returns the members (in ``pool`` order) and the
    combination (``"mean"`` or ``"median"``). Only backtest forecasts are used.
    """
    sc = cv[["unique_id", "cutoff"]].merge(scale, on=["unique_id", "cutoff"], how="left")
    s_row = sc["scale"].to_numpy(dtype=float)
    key = pd.MultiIndex.from_frame(cv[["unique_id", "cutoff"]])
    codes, uniq = pd.factorize(key)
    n_keys = len(uniq)
    cnt = np.bincount(codes, minlength=n_keys).astype(float)
    s_key = np.bincount(codes, weights=s_row, minlength=n_keys) / cnt
    y = cv["y"].to_numpy(dtype=float)
    X = np.column_stack([cv[m].to_numpy(dtype=float) for m in pool])

    def score(members: tuple[int, ...], how: str = "mean") -> float:
        sub = X[:, list(members)]
        d = (np.median(sub, axis=1) if how == "median" else sub.mean(axis=1)) - y
        if metric == "rmsse":
            v = np.sqrt(np.bincount(codes, weights=d * d, minlength=n_keys) / cnt) / s_key
        else:
            v = np.bincount(codes, weights=np.abs(d), minlength=n_keys) / cnt
            if metric == "mase":
                v = v / s_key
        return float(np.nanmean(v))

    def eliminate(how: str, k_min: int) -> tuple[tuple[int, ...], float]:
        keep = tuple(range(len(pool)))
        err = score(keep, how)
        while len(keep) > k_min:
            # ties between removals go to the later (weaker) pool member
            e, neg_r = min((score(tuple(i for i in keep if i != r), how), -r) for r in keep)
            if not e <= err * (1 - ENSEMBLE_DROP_GAIN):
                break
            keep, err = tuple(i for i in keep if i != -neg_r), e
        return keep, err

    keep, err = eliminate("mean", 2)
    how = "mean"
    if len(pool) >= 3:
        keep_m, err_m = eliminate("median", 3)
        if err_m <= err * (1 - ENSEMBLE_DROP_GAIN):
            keep, how = keep_m, "median"
    return [pool[i] for i in keep], how


class TopDownCandidate:
    """The ``TopDown`` candidate of one class group: each bottom series' share of its SKU
    total (over the last year before the forecast origin) × the ``TOP_DOWN_BASE`` forecast of
    that SKU total (summed over the group's series of the SKU). Series whose SKU has no other
    series in the group, and aggregate series, get their own ``TOP_DOWN_BASE`` forecast.
    """

    def __init__(self, core: ForecastCore, sub: pd.DataFrame, sku: pd.Series):
        self.core = core
        self.sub = sub
        self.sku = sku  # unique_id -> total id (only series of SKUs with ≥ 2 series)
        d = sub[sub["unique_id"].isin(sku.index)]
        d = d.assign(tot=sku.reindex(d["unique_id"]).to_numpy())
        self.members = d
        self.totals = (
            d.groupby(["tot", "ds"], as_index=False, sort=True)["y"]
            .sum()
            .rename(columns={"tot": "unique_id"})
        )
        self.year = max(core.season, round(365.0 / max(core.pdays, 1e-9)))

    @classmethod
    def make(
        cls, core: ForecastCore, sub: pd.DataFrame, names: list[str]
    ) -> TopDownCandidate | None:
        if TOP_DOWN not in names or TOP_DOWN_BASE not in names or core.sku_of is None:
            return None
        ids = pd.Index(sub["unique_id"].unique())
        sku = core.sku_of.reindex(ids).dropna()
        n = sku.map(sku.value_counts())
        sku = sku[n >= 2]
        if sku.empty:
            return None
        return cls(core, sub, "T:" + sku.astype(str))

    def shares(self, cutoffs) -> pd.DataFrame:
        """``unique_id, cutoff, share`` over the last year up to each cutoff (None = end)."""
        rows = []
        d = self.members
        ds = d["ds"].to_numpy()
        for cut in cutoffs:
            end = ds.max() if cut is None else np.datetime64(cut)
            start = end - np.timedelta64(round(self.year * self.core.pdays), "D")
            w = d[(ds > start) & (ds <= end)]
            own = w.groupby("unique_id")["y"].sum()
            tot = w.groupby("tot")["y"].sum()
            den = tot.reindex(self.sku.reindex(own.index)).to_numpy()
            sh = np.where(den > 0, own.to_numpy() / np.where(den > 0, den, 1.0), 0.0)
            rows.append(pd.DataFrame({"unique_id": own.index, "cutoff": cut, "share": sh}))
        return pd.concat(rows, ignore_index=True)

    def _models(self, kw: dict, n_min: int):
        return make_models((TOP_DOWN_BASE,), n_min=n_min, **kw)

    def apply(self, fc: pd.DataFrame, tot_fc: pd.DataFrame, cutoffs) -> pd.DataFrame:
        """Add ``TopDown`` columns to ``fc`` (backtest rows with ``cutoff``, or final rows)."""
        on = ["ds", "cutoff"] if "cutoff" in fc else ["ds"]
        cols = [TOP_DOWN_BASE] + [f"{TOP_DOWN_BASE}-{b}" for b in _BOUNDS]
        t = tot_fc[["unique_id", *on, *[c for c in cols if c in tot_fc]]].rename(
            columns={"unique_id": "tot"}
        )
        base = fc[["unique_id", *on]].assign(tot=self.sku.reindex(fc["unique_id"]).to_numpy())
        sh = self.shares(sorted(fc["cutoff"].unique()) if "cutoff" in fc else [None])
        if "cutoff" in fc:
            base = base.merge(sh, on=["unique_id", "cutoff"], how="left")
        else:
            base = base.merge(sh.drop(columns="cutoff"), on="unique_id", how="left")
        base = base.merge(t, on=["tot", *on], how="left")
        fc = fc.copy()
        has = base["tot"].notna().to_numpy()
        share = base["share"].fillna(0.0).to_numpy()
        for c in cols:
            suffix = c[len(TOP_DOWN_BASE) :]
            own = fc[c].to_numpy(dtype=float) if c in fc else np.full(len(fc), np.nan)
            tv = base[c].to_numpy(dtype=float) if c in base else np.full(len(fc), np.nan)
            fc[f"{TOP_DOWN}{suffix}"] = np.where(has, share * tv, own)
        return fc

    def backtest(self, cv: pd.DataFrame, n_min: int, kw: dict) -> pd.DataFrame:
        n_tot = int(self.totals.groupby("unique_id").size().min()) - self.core.s.windows * (
            self.core.s.horizon
        )
        cvt = self.core.fit.cross_validation(self.totals, self._models(kw, max(n_tot, 1)), n_min)
        return self.apply(cv, cvt, None)

    def final_totals(self, kw: dict) -> pd.DataFrame:
        n_all = int(self.totals.groupby("unique_id").size().min())
        return self.core.fit.final(self.totals, self._models(kw, n_all))
