"""Validation of the demand-history contract (``region_id, sku_id, ds, y``) at the boundary.

Every problem raises :class:`forecasting.errors.InputError` naming the row (0-based position in
the frame passed in), the column and the fix.
"""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd

from shipahead.tables import NumberMessages, numeric_column, require_columns, require_frame

from .errors import InputError

__all__ = ["infer_freq", "period_days", "season_length_for", "validate_history"]

log = logging.getLogger(__name__)

REQUIRED = ("region_id", "sku_id", "ds", "y")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")


#: the sentences for y (:func:`shipahead.tables.numeric_column`): any non-finite cell first
_Y_MESSAGES = NumberMessages.invalid_or_bound(
    "y {raw!r} in row {row} is not a finite number",
    "write demand as a number of units (0 if none); drop unknown periods",
    "y is negative ({value:g}) in row {row} ({count} negative rows)",
    "demand must be ≥ 0: net returns out separately or clip at 0",
)


def _err(msg: str, *, column: str | None = None, row: int | None = None, fix: str) -> InputError:
    return InputError(msg, column=column, row=row, fix=fix, table="history")


def infer_freq(ds: pd.Series) -> str:
    """Infer the pandas frequency of a history from its dates.

    Parameters
    ----------
    ds
        Period dates (datetime64) of all series.

    Returns
    -------
    str
        ``"D"``, ``"W-<weekday>"`` (anchored on the dates' weekday), ``"MS"``/``"ME"`` or
        whatever :func:`pandas.infer_freq` finds on the distinct dates.
    """
    u = np.sort(pd.Series(ds.unique()).dropna().to_numpy())
    if len(u) < 3:
        raise _err(
            "cannot infer the frequency from fewer than 3 distinct dates",
            column="ds",
            fix="pass `freq` (e.g. D or W-MON)",
        )
    steps = np.diff(u).astype("timedelta64[D]").astype(int)
    step = int(np.min(steps))
    if step == 1:
        return "D"
    if step == 7:
        # anchor on the most common weekday; off-calendar dates are reported by the caller
        wd = pd.DatetimeIndex(u).dayofweek
        return "W-" + _WEEKDAYS[int(np.bincount(wd, minlength=7).argmax())]
    idx = pd.DatetimeIndex(u)
    if step in (28, 29, 30, 31):
        if bool(np.all(idx.is_month_start)):
            return "MS"
        if bool(np.all(idx.is_month_end)):
            return "ME"
    f = pd.infer_freq(idx)
    if f is None:
        raise _err(
            f"cannot infer the frequency of the dates (smallest step {step} days)",
            column="ds",
            fix="pass `freq` (e.g. D, W-MON, MS)",
        )
    return f


def period_days(freq: str) -> float:
    """Length of one period of ``freq`` in days (months count 30.44 days)."""
    off = pd.tseries.frequencies.to_offset(freq)
    if isinstance(off, pd.offsets.Week):
        return 7.0 * off.n
    if isinstance(off, pd.offsets.Day):
        return float(off.n)
    if isinstance(off, pd.offsets.MonthBegin | pd.offsets.MonthEnd):
        return 30.44 * off.n
    try:
        return pd.Timedelta(off).total_seconds() / 86400.0
    except (TypeError, ValueError):
        return (pd.Timestamp("2001-01-01") + off - pd.Timestamp("2001-01-01")).days


def season_length_for(freq: str) -> int:
    """Default season length (periods per year/week cycle) for a frequency."""
    d = period_days(freq)
    if d <= 1:
        return 7
    if d <= 7:
        return 52
    if d <= 31:
        return 12
    return 1


def validate_history(
    history: pd.DataFrame,
    *,
    freq: str | None = None,
    fill_gaps: str | None = None,
    as_of: pd.Timestamp | None = None,
) -> tuple[pd.DataFrame, str, list[str]]:
    """Check and normalise a demand history.

    Parameters
    ----------
    history
        ``region_id, sku_id, ds, y`` (y in units ≥ 0, one row per key and period); other
        columns are ignored.
    freq
        Pandas frequency, or ``None`` to infer.
    fill_gaps
        ``"zero"`` fills missing periods between a series' first observation and the last date
        of the whole history with 0; ``None`` makes any missing period an error.
    as_of
        Today's date; history after it is an error. ``None`` skips the check.

    Returns
    -------
    (DataFrame, str, list[str])
        The clean history (ids as str, ds datetime64, y float64, sorted by key and date), the
        frequency and warnings.
    """
    require_frame(
        history, "history", message="history must be a table", fix="pass a pandas DataFrame"
    )
    require_columns(
        history,
        "history",
        REQUIRED,
        fix="provide region_id, sku_id, ds, y (one row per key and period)",
    )
    if history.empty:
        raise _err("history has no rows", fix="provide at least a few periods per series")
    df = history.loc[:, list(REQUIRED)].reset_index(drop=True)
    warnings: list[str] = []
    for c in ("region_id", "sku_id"):
        na = df[c].isna().to_numpy()
        if na.any():
            r = int(np.flatnonzero(na)[0])
            raise _err(f"{c} is empty in row {r}", column=c, row=r, fix=f"fill {c} or drop the row")
        df[c] = df[c].astype(str)
    ds = pd.to_datetime(df["ds"], errors="coerce", format="mixed")
    bad = ds.isna().to_numpy()
    if bad.any():
        r = int(np.flatnonzero(bad)[0])
        raise _err(
            f"ds {df['ds'].iloc[r]!r} in row {r} is not a date",
            column="ds",
            row=r,
            fix="write dates as YYYY-MM-DD",
        )
    if getattr(ds.dt, "tz", None) is not None:
        ds = ds.dt.tz_localize(None)
    df["ds"] = ds.astype("datetime64[ns]")
    df["y"] = numeric_column(
        df, "history", "y", ge=0.0, max_magnitude=math.inf, messages=_Y_MESSAGES
    )
    dup = df.duplicated(["region_id", "sku_id", "ds"], keep="first").to_numpy()
    if dup.any():
        r = int(np.flatnonzero(dup)[0])
        k = df.iloc[r]
        raise _err(
            f"duplicate key region_id={k.region_id}, sku_id={k.sku_id}, "
            f"ds={k.ds.date()} in row {r}",
            row=r,
            column="ds",
            fix="aggregate to one row per region_id, sku_id, ds (sum y)",
        )
    if as_of is not None:
        fut = (df["ds"] > pd.Timestamp(as_of)).to_numpy()
        if fut.any():
            r = int(np.flatnonzero(fut)[0])
            raise _err(
                f"ds {df['ds'].iloc[r].date()} in row {r} is after today "
                f"({pd.Timestamp(as_of).date()}): history cannot be future-dated",
                column="ds",
                row=r,
                fix="drop rows dated in the future (plans/orders are not demand history)",
            )
    if freq is None:
        freq = infer_freq(df["ds"])
    else:
        try:
            pd.tseries.frequencies.to_offset(freq)
        except ValueError:
            raise _err(
                f"unknown frequency {freq!r}", fix="use a pandas frequency such as D, W-MON, MS"
            ) from None
    off = pd.tseries.frequencies.to_offset(freq)
    on = np.asarray([off.is_on_offset(t) for t in df["ds"].drop_duplicates()], dtype=bool)
    if not on.all():
        first_bad = df["ds"].drop_duplicates().to_numpy()[np.flatnonzero(~on)[0]]
        r = int(np.flatnonzero(df["ds"].to_numpy() == first_bad)[0])
        raise _err(
            f"ds {pd.Timestamp(first_bad).date()} in row {r} is not on the {freq} calendar",
            column="ds",
            row=r,
            fix=f"label every period by its {freq} date, or pass the right `freq`",
        )
    df = df.sort_values(["region_id", "sku_id", "ds"], kind="stable").reset_index(drop=True)
    df = _check_gaps(df, freq, fill_gaps, warnings)
    return df, freq, warnings


def _check_gaps(df: pd.DataFrame, freq: str, fill_gaps: str | None, warnings: list[str]):
    from utilsforecast.preprocessing import fill_gaps as uf_fill_gaps

    end = df["ds"].max()
    key = df["region_id"] + "\x1f" + df["sku_id"]
    g = df.groupby(key, sort=False)["ds"]
    first = g.min()
    last = g.max()
    counts = g.size()
    rng = pd.DataFrame({"first": first, "last": last, "n": counts})
    # periods from each series' first date to the history's end, on one shared calendar (a
    # series whose first date is off it, e.g. out of phase with a 2-week frequency, is
    # counted on its own)
    calendar = pd.date_range(first.min(), end, freq=freq)
    starts = rng["first"].to_numpy()
    pos = calendar.searchsorted(starts)
    expected = (len(calendar) - pos).astype(np.int64)
    off = np.flatnonzero(calendar[np.minimum(pos, len(calendar) - 1)].to_numpy() != starts)
    for i in off:
        expected[i] = len(pd.date_range(starts[i], end, freq=freq))
    short = expected != rng["n"].to_numpy()
    if not short.any():
        return df
    mixed = _mixed_frequencies(df, key)
    if mixed and fill_gaps != "zero":
        raise _err(
            mixed,
            column="ds",
            fix="aggregate every series to one frequency (e.g. weekly) before forecasting",
        )
    if mixed:
        warnings.append(f"{mixed}: the coarser series are filled with zeros between their dates")
    n_missing = int((expected - rng["n"].to_numpy())[short].sum())
    k = rng.index[np.flatnonzero(short)[0]]
    region, sku = k.split("\x1f")
    row = rng.iloc[np.flatnonzero(short)[0]]
    if fill_gaps != "zero":
        where = (
            f"ends {row['last'].date()} before the history's last date {end.date()}"
            if row["n"] == len(pd.date_range(row["first"], row["last"], freq=freq))
            else f"has missing periods between {row['first'].date()} and {row['last'].date()}"
        )
        raise _err(
            f"series region_id={region}, sku_id={sku} {where} "
            f"({int(short.sum())} series, {n_missing} missing periods in all)",
            column="ds",
            fix="add the missing periods with y=0, or pass `fill_gaps` zero",
        )
    tmp = df.assign(unique_id=key)[["unique_id", "ds", "y"]]
    filled = uf_fill_gaps(tmp, freq=freq, start="per_serie", end="global")
    filled["y"] = filled["y"].fillna(0.0)
    parts = filled["unique_id"].str.split("\x1f", n=1, expand=True)
    out = pd.DataFrame(
        {"region_id": parts[0], "sku_id": parts[1], "ds": filled["ds"], "y": filled["y"]}
    )
    out = out.sort_values(["region_id", "sku_id", "ds"], kind="stable").reset_index(drop=True)
    warnings.append(
        f"filled {n_missing} missing periods with 0 in {int(short.sum())} series "
        f"(e.g. region_id={region}, sku_id={sku})"
    )
    return out


def _mixed_frequencies(df: pd.DataFrame, key: pd.Series) -> str | None:
    """Describe series that step by different periods (e.g. some daily, some weekly), or None.

    A series' step is the greatest common divisor of its date differences (days), over series
    with at least 3 differences: weekly dates give 7 however many weeks are missing, sparse
    daily dates give 1.
    """
    days = df["ds"].groupby(key, sort=False).diff().dt.days.dropna().astype(np.int64)
    k = key.loc[days.index].to_numpy()
    if not len(k):
        return None
    # df is sorted by key, so each series' differences are one contiguous run
    starts = np.r_[0, np.flatnonzero(k[1:] != k[:-1]) + 1]
    counts = np.diff(np.r_[starts, len(k)])
    gcd = np.gcd.reduceat(days.to_numpy(), starts)
    step = pd.Series(gcd, index=k[starts])[counts >= 3]
    if step.nunique() <= 1:
        return None
    freq = step.value_counts()
    a, b = (int(x) for x in freq.index[:2])
    ka = step.index[step.to_numpy() == a][0].split("\x1f")
    kb = step.index[step.to_numpy() == b][0].split("\x1f")
    return (
        f"the history mixes frequencies: {int(freq.iloc[0])} series step by {a} days "
        f"(e.g. region_id={ka[0]}, sku_id={ka[1]}), {int(freq.iloc[1])} by {b} days "
        f"(e.g. region_id={kb[0]}, sku_id={kb[1]})"
    )
