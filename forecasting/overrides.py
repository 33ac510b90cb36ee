"""Planners' overrides applied after the statistical forecast.

An override sets a key's forecast for one period to a ``value`` (units) or changes it by a
``percent``. The rule: **final = override where present, else baseline**; the statistical mean
is kept as ``baseline``. The quantiles follow the mean by the same ratio (``final / baseline``,
so the interval keeps its width relative to the mean; a percent change scales every quantile
by ``1 + percent/100``); where the baseline mean is 0 a value override shifts the quantiles by
the value instead. Quantiles stay ≥ 0 and non-decreasing.

Overrides dated outside the forecast's periods (last week's, or beyond the horizon) do not
apply to this run and are reported in the warnings; an override of a key the forecast does not
have, or of a date between two forecast periods, is an error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import InputError
from .settings import QUANTILE_COLUMNS

__all__ = ["OVERRIDE_COLUMNS", "apply_overrides", "check_overrides"]

#: Columns of the overrides table (``value`` or ``percent`` per row; ``comment`` optional).
OVERRIDE_COLUMNS: tuple[str, ...] = (
    "region_id",
    "sku_id",
    "ds",
    "value",
    "percent",
    "user",
    "comment",
)
_KEY = ["region_id", "sku_id", "ds"]


def _err(msg: str, *, row: int | None = None, column: str | None = None, fix: str) -> InputError:
    return InputError(msg, row=row, column=column, fix=fix, table="overrides")


def check_overrides(overrides: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """Check an overrides table before forecasting; return it parsed.

    ``keys`` holds the ``region_id, sku_id`` pairs that will be forecast (the history's). Raises
    :class:`InputError` naming the row and column: neither or both of ``value`` and
    ``percent``, a negative value, a percent below -100, an empty ``user``, a second override
    of a key and period, a key that is not forecast.
    """
    ov = overrides
    for c in ("region_id", "sku_id", "ds", "user"):
        if c not in ov:
            raise _err(f"missing column {c}", column=c, fix="see docs/data-formats.md#overrides")
    ov = ov.reset_index(drop=True).copy()
    for c in ("value", "percent"):
        ov[c] = pd.to_numeric(ov[c], errors="coerce") if c in ov else np.nan
    has_v, has_p = ov["value"].notna(), ov["percent"].notna()
    for bad, msg, col in (
        (~has_v & ~has_p, "neither value nor percent is given", "value"),
        (has_v & has_p, "both value and percent are given", "percent"),
        (has_v & ~(ov["value"] >= 0), "value must be ≥ 0 units", "value"),
        (has_p & ~(ov["percent"] >= -100), "percent must be ≥ -100", "percent"),
        (has_v & ~np.isfinite(ov["value"].fillna(0)), "value must be finite", "value"),
        (has_p & ~np.isfinite(ov["percent"].fillna(0)), "percent must be finite", "percent"),
    ):
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise _err(msg, row=i, column=col, fix="give either value (units) or percent (%)")
    user = ov["user"].astype("string").str.strip()
    if (user.isna() | (user == "")).any():
        i = int((user.isna() | (user == "")).to_numpy().argmax())
        raise _err("user is empty", row=i, column="user", fix="name who made the override")
    ov["user"] = user.astype(str)
    comment = ov["comment"] if "comment" in ov else pd.Series([None] * len(ov), dtype=object)
    ov["comment"] = comment.astype(object).where(comment.notna(), None)
    ov["region_id"] = ov["region_id"].astype(str)
    ov["sku_id"] = ov["sku_id"].astype(str)
    ov["ds"] = pd.to_datetime(ov["ds"])
    dup = ov.duplicated(_KEY, keep="first")
    if dup.any():
        i = int(dup.to_numpy().argmax())
        raise _err(
            "a second override of the same region_id, sku_id, ds",
            row=i,
            column="ds",
            fix="keep one override per key and period",
        )
    keys = keys[["region_id", "sku_id"]].astype(str).drop_duplicates()
    known = ov.merge(keys.assign(_k=True), on=["region_id", "sku_id"], how="left")["_k"]
    if known.isna().any():
        i = int(known.isna().to_numpy().argmax())
        raise _err(
            f"region_id '{ov['region_id'].iloc[i]}', sku_id '{ov['sku_id'].iloc[i]}' is not "
            "in the forecast",
            row=i,
            column="sku_id",
            fix="override a key of the forecast (check the ids)",
        )
    return ov


def _applicable(ov: pd.DataFrame, forecast: pd.DataFrame) -> pd.DataFrame:
    """The checked overrides dated inside ``forecast``'s periods (dates between two periods
    are an error)."""
    span = forecast.groupby(["region_id", "sku_id"])["ds"].agg(["min", "max"]).reset_index()
    ov = ov.merge(span, on=["region_id", "sku_id"], how="left")
    inside = (ov["ds"] >= ov["min"]) & (ov["ds"] <= ov["max"])
    periods = forecast[_KEY].assign(_p=True)
    on_grid = ov.merge(periods, on=_KEY, how="left")["_p"].notna().to_numpy()
    between = inside.to_numpy() & ~on_grid
    if between.any():
        i = int(between.argmax())
        raise _err(
            f"ds {ov['ds'].iloc[i].date()} is not a forecast period",
            row=i,
            column="ds",
            fix="date the override by the period's first day (as in the forecast)",
        )
    return ov[inside.to_numpy()].drop(columns=["min", "max"])


def apply_overrides(
    forecast: pd.DataFrame, overrides: pd.DataFrame
) -> tuple[pd.DataFrame, list[str]]:
    """Apply overrides to a forecast (the forecast contract).

    Parameters
    ----------
    forecast
        ``region_id, sku_id, ds, model, mean, q05 … q95`` (units).
    overrides
        ``region_id, sku_id, ds, user`` and ``value`` (units) or ``percent`` (%) per row;
        ``comment`` optional.

    Returns
    -------
    (DataFrame, list[str])
        The forecast with ``mean`` and the quantiles final, plus ``baseline`` (the statistical
        mean), ``override_user`` and ``override_comment`` (blank where not overridden), same
        rows and order; and
        warnings (overrides dated outside the forecast's periods).
    """
    fc = forecast.copy()
    n_in = len(overrides)
    ov = _applicable(check_overrides(overrides, fc[["region_id", "sku_id"]]), fc)
    warnings = []
    if len(ov) < n_in:
        warnings.append(
            f"overrides: {n_in - len(ov)} of {n_in} rows are dated outside this forecast's "
            "periods and do not apply to it"
        )
    fc["baseline"] = fc["mean"].astype(float)
    fc["override_user"] = pd.Series([None] * len(fc), index=fc.index, dtype=object)
    fc["override_comment"] = pd.Series([None] * len(fc), index=fc.index, dtype=object)
    m = fc[_KEY].reset_index().merge(ov, on=_KEY, how="inner")
    if m.empty:
        return fc, warnings
    idx = m["index"].to_numpy()
    base = fc.loc[idx, "baseline"].to_numpy(dtype=float)
    pct = m["percent"].to_numpy(dtype=float)
    val = m["value"].to_numpy(dtype=float)
    final = np.where(np.isnan(pct), val, base * (1 + pct / 100.0))
    ratio = np.where(base > 0, final / np.where(base > 0, base, 1.0), 1.0)
    shift = np.where(base > 0, 0.0, final - base)
    q = fc.loc[idx, list(QUANTILE_COLUMNS)].to_numpy(dtype=float) * ratio[:, None] + shift[:, None]
    q = np.maximum.accumulate(np.maximum(q, 0.0), axis=1)
    fc.loc[idx, "mean"] = final
    fc.loc[idx, list(QUANTILE_COLUMNS)] = q
    fc.loc[idx, "override_user"] = m["user"].to_numpy()
    fc.loc[idx, "override_comment"] = m["comment"].to_numpy()
    return fc, warnings
