"""The stops and fleet tables: validation, times of day, depots.

Times in the tables are HH:MM (the :mod:`shipahead.timeofday` rule: 24:00–47:59 is the
next day) or minutes from midnight as numbers (how ``cli.io.read_table`` parses HH:MM
columns); inside they are seconds from midnight. Every error is an :class:`InputError`
naming the table, row and column.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from shipahead.tables import NumberMessages, numeric_column, require_columns
from shipahead.timeofday import CLOCK_RULE, DAY_S, format_clock, parse_time_value

from .errors import InputError
from .problem import Break

#: window end of a stop whose tw_end is blank (47:59; written back as blank)
OPEN_TW_END_S = 2 * DAY_S - 1
STOP_COLUMNS = ("stop_id", "lat", "lon", "demand_units", "tw_start", "tw_end", "service_min")
FLEET_COLUMNS = (
    "vehicle_id",
    "depot_id",
    "capacity_units",
    "shift_start",
    "shift_end",
    "cost_per_km",
    "cost_per_hour",
)


def to_seconds(value: object, *, what: str, row: int, column: str, table: str) -> int | None:
    """A table cell's time of day (:func:`shipahead.timeofday.parse_time_value`) -> seconds;
    blank -> None. Bad text raises :class:`InputError` naming the table, row and column."""
    try:
        return parse_time_value(value)
    except ValueError:
        if not isinstance(value, str):
            raise
        raise InputError(
            f"{table} row {row}: {what} {value!r} is not a time of day",
            row=row,
            column=column,
            fix=f"write times as {CLOCK_RULE}",
            table=table,
        ) from None


#: seconds from midnight -> ``HH:MM`` (:func:`shipahead.timeofday.format_clock`)
hhmm = format_clock


def tw_end_text(t: float) -> str:
    # an open window end (blank in the input) stays blank in the outputs
    return "" if t >= OPEN_TW_END_S - 59 else hhmm(t)


#: per table: id column, the end and the start in words, the end's column, the fix
_TIME_ORDER = {
    "stops": (
        "stop_id",
        "time window ends",
        "it starts",
        "tw_end",
        "make tw_end later than tw_start",
    ),
    "fleet": (
        "vehicle_id",
        "shift ends",
        "the vehicle leaves",
        "shift_end",
        "make shift_end later than shift_start (and `depart`)",
    ),
}


def _ends_after_start(df: pd.DataFrame, row: int, a: int, b: int, table: str) -> None:
    """Raise an :class:`InputError` naming row ``row`` of ``table`` when its end time ``b``
    (seconds) is before its start ``a``."""
    if b < a:
        id_col, ends, starts, column, fix = _TIME_ORDER[table]
        raise InputError(
            f"{table} row {row} ({df.at[row, id_col]}): {ends} ({hhmm(b)}) "
            f"before {starts} ({hhmm(a)})",
            row=row,
            column=column,
            fix=fix,
            table=table,
        )


def _require(df: pd.DataFrame, cols: Sequence[str], table: str) -> None:
    require_columns(
        df,
        table,
        cols,
        message="{table} table has no column {first!r}",
        fix="{table} needs columns {columns}",
    )


#: routing's sentences for :func:`shipahead.tables.numeric_column`: the first faulty row wins
_NUMBER_MESSAGES = NumberMessages.invalid_or_bound(
    "{table} row {row} ({label}): {col} is missing or not a number",
    None,
    "{table} row {row} ({label}): {col} = {value:g} must be {bound}",
    "use {col} {bound}",
    one_group=True,
)


#: a numeric column in routing's sentences: ``_num(df, table, col, ge=…, gt=…)``
_num = functools.partial(numeric_column, messages=_NUMBER_MESSAGES)


def _unique_ids(s: pd.Series, col: str, table: str) -> list[str]:
    ids = [str(x).strip() for x in s]
    seen: dict[str, int] = {}
    for i, x in enumerate(ids):
        if not x or x == "nan":
            raise InputError(f"{table} row {i}: {col} is empty", row=i, column=col, table=table)
        if x in seen:
            raise InputError(
                f"{table} row {i}: {col} {x!r} repeats row {seen[x]}",
                row=i,
                column=col,
                fix=f"make every {col} unique",
                table=table,
            )
        seen[x] = i
    return ids


def normalize_stops(stops: pd.DataFrame) -> pd.DataFrame:
    """Validate the stops table; return it with ``tw_start_s, tw_end_s, service_s, demand``.

    Missing windows mean the whole day. Raises :class:`InputError` naming the row.
    """
    _require(stops, ("stop_id", "lat", "lon", "demand_units"), "stops")
    df = stops.reset_index(drop=True).copy()
    df["stop_id"] = _unique_ids(df["stop_id"], "stop_id", "stops")
    df["lat"] = _num(df, "stops", "lat", ge=-90.0)
    df["lon"] = _num(df, "stops", "lon", ge=-180.0)
    bad = (df["lat"] > 90) | (df["lon"] > 180)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(f"stops row {i}: lat/lon out of range", row=i, column="lat", table="stops")
    dem = _num(df, "stops", "demand_units", ge=0.0)
    df["demand"] = np.ceil(dem - 1e-9).astype(np.int64)
    svc = _num(df, "stops", "service_min", ge=0.0) if "service_min" in df else np.zeros(len(df))
    df["service_s"] = np.rint(np.nan_to_num(svc) * 60).astype(np.int64)
    starts, ends = [], []
    for i in range(len(df)):
        a = (
            to_seconds(
                df.at[i, "tw_start"], what="tw_start", row=i, column="tw_start", table="stops"
            )
            if "tw_start" in df
            else None
        )
        b = (
            to_seconds(df.at[i, "tw_end"], what="tw_end", row=i, column="tw_end", table="stops")
            if "tw_end" in df
            else None
        )
        a = 0 if a is None else a
        b = OPEN_TW_END_S if b is None else b
        _ends_after_start(df, i, a, b, "stops")
        starts.append(a)
        ends.append(b)
    df["tw_start_s"] = np.asarray(starts, dtype=np.int64)
    df["tw_end_s"] = np.asarray(ends, dtype=np.int64)
    return df


def normalize_fleet(
    fleet: pd.DataFrame,
    depots: pd.DataFrame | None = None,
    *,
    depart_s: int | None = None,
    default_depot: str | None = None,
) -> pd.DataFrame:
    """Validate the fleet; resolve depot coordinates; add ``*_s`` columns.

    Depot coordinates come from the fleet's ``depot_lat``/``depot_lon`` or else from
    ``depots`` (``depot_id, lat, lon``, e.g. the fulfilment centres). ``default_depot``
    fills empty ``depot_id`` cells; ``depart_s`` replaces every shift start.
    """
    _require(fleet, FLEET_COLUMNS[:5], "fleet")
    df = fleet.reset_index(drop=True).copy()
    df["vehicle_id"] = _unique_ids(df["vehicle_id"], "vehicle_id", "fleet")
    dep = df["depot_id"].astype(object).where(df["depot_id"].notna(), None)
    dep = [
        str(x).strip() if x is not None and str(x).strip() and str(x) != "nan" else default_depot
        for x in dep
    ]
    for i, d in enumerate(dep):
        if not d:
            raise InputError(
                f"fleet row {i}: depot_id is empty", row=i, column="depot_id", table="fleet"
            )
    df["depot_id"] = dep
    df["capacity"] = np.floor(_num(df, "fleet", "capacity_units", gt=0.0) + 1e-9).astype(np.int64)
    for col in ("cost_per_km", "cost_per_hour", "fixed_cost"):
        df[col] = np.nan_to_num(_num(df, "fleet", col, ge=0.0)) if col in df else 0.0
    df["shift_start_s"], df["shift_end_s"] = _shifts(df, depart_s)
    if "max_duration_min" in df:
        md = _num(df, "fleet", "max_duration_min", gt=0.0, allow_empty=True, allow_text=True)
        df["max_duration_s"] = [None if math.isnan(x) else round(x * 60) for x in md]
    else:
        df["max_duration_s"] = None
    df["break"] = _breaks(df)
    df["depot_lat"], df["depot_lon"] = _depot_coords(df, depots)
    _same_depot_same_place(df)
    return df


def _shifts(df: pd.DataFrame, depart_s: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Shift start and end (s) of every fleet row; ``depart_s`` replaces every start."""
    ss, se = [], []
    for i in range(len(df)):
        a = to_seconds(
            df.at[i, "shift_start"], what="shift_start", row=i, column="shift_start", table="fleet"
        )
        b = to_seconds(
            df.at[i, "shift_end"], what="shift_end", row=i, column="shift_end", table="fleet"
        )
        if a is None or b is None:
            raise InputError(
                f"fleet row {i}: shift_start/shift_end missing",
                row=i,
                column="shift_start",
                table="fleet",
            )
        if depart_s is not None:
            a = int(depart_s)
        _ends_after_start(df, i, a, b, "fleet")
        ss.append(a)
        se.append(b)
    return np.asarray(ss, dtype=np.int64), np.asarray(se, dtype=np.int64)


def _breaks(df: pd.DataFrame) -> list[Break | None]:
    """Each fleet row's break (None: no break columns filled)."""
    brks = []
    for i in range(len(df)):
        bs = (
            to_seconds(
                df.at[i, "break_start"],
                what="break_start",
                row=i,
                column="break_start",
                table="fleet",
            )
            if "break_start" in df
            else None
        )
        be = (
            to_seconds(
                df.at[i, "break_end"], what="break_end", row=i, column="break_end", table="fleet"
            )
            if "break_end" in df
            else None
        )
        bm = df.at[i, "break_min"] if "break_min" in df else None
        bm = None if bm is None or pd.isna(bm) or str(bm).strip() == "" else float(bm)
        if bs is None and be is None and not bm:
            brks.append(None)
            continue
        if bs is None or be is None or bm is None or bm < 0:
            raise InputError(
                f"fleet row {i}: a break needs break_start, break_end and break_min >= 0",
                row=i,
                column="break_start",
                table="fleet",
            )
        if be < bs:
            raise InputError(
                f"fleet row {i}: break_end {hhmm(be)} is before break_start {hhmm(bs)}",
                row=i,
                column="break_end",
                fix="break_end is the latest break start; make it >= break_start",
                table="fleet",
            )
        brks.append(Break(int(bs), int(be), round(bm * 60)))
    return brks


def _depot_coords(df: pd.DataFrame, depots: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Depot latitude and longitude of every fleet row: its own ``depot_lat``/``depot_lon``,
    else the ``depots`` table's row for its depot_id."""
    lat = (
        pd.to_numeric(df["depot_lat"], errors="coerce")
        if "depot_lat" in df
        else pd.Series(np.nan, index=df.index)
    )
    lon = (
        pd.to_numeric(df["depot_lon"], errors="coerce")
        if "depot_lon" in df
        else pd.Series(np.nan, index=df.index)
    )
    lookup: dict[str, tuple[float, float]] = {}
    if depots is not None and len(depots):
        idc = (
            "depot_id"
            if "depot_id" in depots
            else ("fc_id" if "fc_id" in depots else depots.columns[0])
        )
        for _, r in depots.iterrows():
            lookup[str(r[idc]).strip()] = (float(r["lat"]), float(r["lon"]))
    for i in range(len(df)):
        if math.isnan(lat[i]) or math.isnan(lon[i]):
            d = df.at[i, "depot_id"]
            if d not in lookup:
                raise InputError(
                    f"fleet row {i} ({df.at[i, 'vehicle_id']}): depot {d!r} has no coordinates",
                    row=i,
                    column="depot_id",
                    fix="add depot_lat/depot_lon to the fleet or pass a depot table "
                    "(`depots` / fcs) that lists it",
                    table="fleet",
                )
            lat[i], lon[i] = lookup[d]
    return lat.astype(float), lon.astype(float)


def _same_depot_same_place(df: pd.DataFrame) -> None:
    """Raise when rows naming the same depot give it different coordinates."""
    for d, g in df.groupby("depot_id", sort=False):
        if g["depot_lat"].nunique() > 1 or g["depot_lon"].nunique() > 1:
            i = int(g.index[1])
            raise InputError(
                f"fleet row {i}: depot {d!r} has different coordinates on different rows",
                row=i,
                column="depot_lat",
                table="fleet",
            )
