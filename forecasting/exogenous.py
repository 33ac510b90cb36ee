"""Exogenous regressors: weather, holidays (``holidays`` package) and events/promotions.

All are aggregated to the history's periods (period ``[ds, ds + 1 period)``):

- weather (``region_id, ds, precip_mm, snow_cm, temp_c``; daily or per period): sums of
  ``precip_mm`` and ``snow_cm`` and the mean of ``temp_c`` over the period, per region. Every
  history region needs weather for every forecast period (else :class:`InputError` naming the
  regions and dates); missing history periods are filled with the region's mean (warning).
- holidays (``country``): ``holiday_days`` = number of public holidays in the period.
- events (``ds, [region_id], [sku_id], <numeric columns>``): the maximum of each numeric column
  over the period; a blank ``region_id``/``sku_id`` applies to all; no row means 0.

Aggregate series (region ``"*"`` or SKU ``"*"``) get the mean of their members' regressors.
Regressors that do not vary over the history are dropped (warning).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError

__all__ = ["Exogenous", "build_exogenous"]

WEATHER_COLUMNS = ("precip_mm", "snow_cm", "temp_c")


@dataclass
class Exogenous:
    """Regressors per series and period, for the history and the forecast horizon."""

    values: pd.DataFrame  # unique_id, ds, <columns>
    columns: list[str]
    future: pd.DatetimeIndex
    warnings: list[str] = field(default_factory=list)

    def attach(self, df: pd.DataFrame) -> pd.DataFrame:
        """``unique_id, ds, y`` + regressor columns (history periods)."""
        out = df.merge(self.values, on=["unique_id", "ds"], how="left")
        out[self.columns] = out[self.columns].fillna(0.0)
        return out

    def future_for(self, ids) -> pd.DataFrame:
        """``unique_id, ds`` + regressors for the forecast periods of ``ids``."""
        v = self.values[self.values["ds"].isin(self.future) & self.values["unique_id"].isin(ids)]
        return v.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def _period_of(days: pd.Series, grid: pd.DatetimeIndex) -> np.ndarray:
    """Period start (from ``grid``) containing each day, NaT before the grid."""
    pos = np.searchsorted(grid.to_numpy(), days.to_numpy(dtype="datetime64[ns]"), side="right") - 1
    out = np.where(pos >= 0, grid.to_numpy()[np.clip(pos, 0, None)], np.datetime64("NaT"))
    return out.astype("datetime64[ns]")


def _bad(msg: str, fix: str, table: str, column: str | None = None, row: int | None = None):
    return InputError(msg, fix=fix, table=table, column=column, row=row)


def build_exogenous(
    keys: pd.DataFrame,
    start: pd.Timestamp,
    end: pd.Timestamp,
    future: pd.DatetimeIndex,
    freq: str,
    weather: pd.DataFrame | None,
    events: pd.DataFrame | None,
    country: str | None,
) -> Exogenous:
    """Build regressors for every key (bottom and aggregates) over history and horizon.

    Parameters
    ----------
    keys
        ``region_id, sku_id, unique_id`` of every series (``"*"`` marks an aggregate).
    start, end
        First and last history period.
    future
        Forecast periods.
    freq
        Pandas frequency of the periods.
    weather, events, country
        See the module docstring.
    """
    grid = pd.date_range(start, end, freq=freq).append(future)
    edge = grid.append(pd.DatetimeIndex([grid[-1] + pd.tseries.frequencies.to_offset(freq)]))
    bottom = keys[(keys["region_id"] != "*") & (keys["sku_id"] != "*")]
    base = pd.MultiIndex.from_product(
        [bottom["unique_id"].to_numpy(), grid], names=["unique_id", "ds"]
    ).to_frame(index=False)
    base = base.merge(bottom, on="unique_id", how="left")
    warnings: list[str] = []
    cols: list[str] = []
    if country:
        import holidays

        try:
            cal = holidays.country_holidays(country, years=range(grid[0].year, grid[-1].year + 2))
        except NotImplementedError:
            raise _bad(
                f"country {country!r} is not known to the holidays package",
                "use an ISO 3166 code such as US, DE, FR",
                "settings",
            ) from None
        days = pd.to_datetime(pd.Series(sorted(cal.keys())))
        days = days[(days >= edge[0]) & (days < edge[-1])]
        per = pd.Series(_period_of(days, grid)).value_counts()
        base["holiday_days"] = base["ds"].map(per).fillna(0.0).astype(float)
        cols.append("holiday_days")
    if weather is not None:
        w = _weather(weather, grid, edge, future, bottom["region_id"].unique(), warnings)
        base = base.merge(w, on=["region_id", "ds"], how="left")
        cols += list(WEATHER_COLUMNS)
    if events is not None:
        ev, ecols = _events(events, grid, edge)
        for c in ecols:
            base[c] = 0.0
        for _, g in ev.groupby(["region_id", "sku_id"], dropna=False, sort=False):
            r, s = g["region_id"].iloc[0], g["sku_id"].iloc[0]
            m = np.ones(len(base), dtype=bool)
            if isinstance(r, str):
                m &= (base["region_id"] == r).to_numpy()
            if isinstance(s, str):
                m &= (base["sku_id"] == s).to_numpy()
            for c in ecols:
                vals = g.groupby("ds")[c].max()
                v = base.loc[m, "ds"].map(vals).fillna(0.0).to_numpy()
                base.loc[m, c] = np.maximum(base.loc[m, c].to_numpy(), v)
        cols += ecols
    hist_mask = base["ds"] <= end
    keep = []
    for c in cols:
        if base.loc[hist_mask, c].nunique() > 1:
            keep.append(c)
        else:
            warnings.append(f"regressor {c} does not vary over the history and was dropped")
    vals = base[["unique_id", "ds", "region_id", "sku_id", *keep]]
    agg = keys[(keys["region_id"] == "*") | (keys["sku_id"] == "*")]
    parts = [vals[["unique_id", "ds", *keep]]]
    for _, a in agg.iterrows():
        m = np.ones(len(vals), dtype=bool)
        if a.region_id != "*":
            m &= (vals["region_id"] == a.region_id).to_numpy()
        if a.sku_id != "*":
            m &= (vals["sku_id"] == a.sku_id).to_numpy()
        g = vals[m].groupby("ds", as_index=False)[keep].mean()
        g.insert(0, "unique_id", a.unique_id)
        parts.append(g)
    allv = pd.concat(parts, ignore_index=True).sort_values(["unique_id", "ds"], kind="stable")
    return Exogenous(allv.reset_index(drop=True), keep, future, warnings)


def _weather(weather, grid, edge, future, regions, warnings) -> pd.DataFrame:
    miss = [c for c in ("region_id", "ds", *WEATHER_COLUMNS) if c not in weather.columns]
    if miss:
        raise _bad(
            f"weather is missing column(s) {', '.join(miss)}",
            "provide region_id, ds, precip_mm, snow_cm, temp_c",
            "weather",
            column=miss[0],
        )
    w = weather[["region_id", "ds", *WEATHER_COLUMNS]].copy().reset_index(drop=True)
    w["region_id"] = w["region_id"].astype(str)
    ds = pd.to_datetime(w["ds"], errors="coerce", format="mixed")
    if ds.isna().any():
        r = int(np.flatnonzero(ds.isna().to_numpy())[0])
        raise _bad(f"weather ds in row {r} is not a date", "use YYYY-MM-DD", "weather", "ds", r)
    w["ds"] = ds
    for c in WEATHER_COLUMNS:
        v = pd.to_numeric(w[c], errors="coerce")
        if v.isna().any():
            r = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise _bad(
                f"weather {c} in row {r} is not a number", "fill it with a number", "weather", c, r
            )
        w[c] = v.astype(float)
    w = w[(w["ds"] >= edge[0]) & (w["ds"] < edge[-1])]
    w["period"] = _period_of(w["ds"], grid)
    agg = w.groupby(["region_id", "period"]).agg(
        precip_mm=("precip_mm", "sum"), snow_cm=("snow_cm", "sum"), temp_c=("temp_c", "mean")
    )
    agg = agg.reset_index().rename(columns={"period": "ds"})
    full = pd.MultiIndex.from_product([sorted(regions), grid], names=["region_id", "ds"])
    agg = agg.set_index(["region_id", "ds"]).reindex(full)
    fut = agg.loc[agg.index.get_level_values("ds").isin(future)]
    missing = fut[fut.isna().any(axis=1)]
    if len(missing):
        regs = sorted(missing.index.get_level_values("region_id").unique())
        dates = sorted(missing.index.get_level_values("ds").unique())
        raise _bad(
            f"weather has no values for the forecast periods {dates[0].date()}…"
            f"{dates[-1].date()} in region(s) {', '.join(regs[:5])}"
            + (f" (+{len(regs) - 5} more)" if len(regs) > 5 else ""),
            "future regressor values are required: add forecast weather for those regions "
            "and dates, or leave out `weather`",
            "weather",
            column="ds",
        )
    n_hist_missing = int(agg.isna().any(axis=1).sum())
    if n_hist_missing:
        warnings.append(
            f"weather missing for {n_hist_missing} region-periods of the history; "
            "filled with the region's mean"
        )
        agg = agg.groupby(level="region_id").transform(lambda s: s.fillna(s.mean()))
        agg = agg.fillna(0.0)
    return agg.reset_index()


def _events(events, grid, edge) -> tuple[pd.DataFrame, list[str]]:
    if "ds" not in events.columns:
        raise _bad("events is missing column ds", "add the event date column ds", "events", "ds")
    ev = events.copy().reset_index(drop=True)
    ds = pd.to_datetime(ev["ds"], errors="coerce", format="mixed")
    if ds.isna().any():
        r = int(np.flatnonzero(ds.isna().to_numpy())[0])
        raise _bad(f"events ds in row {r} is not a date", "use YYYY-MM-DD", "events", "ds", r)
    ev["ds"] = ds
    for c in ("region_id", "sku_id"):
        if c not in ev:
            ev[c] = None
        ev[c] = ev[c].where(ev[c].notna() & (ev[c].astype(str) != ""), None)
        ev[c] = ev[c].map(lambda x: None if x is None else str(x))
    flags = [c for c in ev.columns if c not in ("ds", "region_id", "sku_id")]
    ecols = []
    for c in flags:
        v = pd.to_numeric(ev[c], errors="coerce")
        if v.isna().any() and ev[c].notna().any():
            r = int(np.flatnonzero(v.isna().to_numpy())[0])
            raise _bad(
                f"events {c} in row {r} is not a number", "use numbers (e.g. 0/1)", "events", c, r
            )
        ev[f"event_{c}"] = v.fillna(0.0).astype(float)
        ecols.append(f"event_{c}")
    if not ecols:
        raise _bad(
            "events has no numeric event column", "add a column such as promo (0–1)", "events"
        )
    ev = ev[(ev["ds"] >= edge[0]) & (ev["ds"] < edge[-1])].copy()
    ev["ds"] = _period_of(ev["ds"], grid)
    return ev[["ds", "region_id", "sku_id", *ecols]], ecols
