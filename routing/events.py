"""The events table of a re-plan: validation and parsing (see :mod:`routing.replan` for
what each event type means). Pure: the table in, a :class:`ReplanEvents` out; every error
is an :class:`InputError` naming the events row and column."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError
from .network import RoadNetwork
from .tables import DAY_S, to_seconds
from .traffic import Incident, incident_arcs

EVENT_TYPES = ("done", "add", "cancel", "position", "delay", "incident")
EVENT_COLUMNS = (
    "type",
    "stop_id",
    "vehicle_id",
    "lat",
    "lon",
    "demand_units",
    "tw_start",
    "tw_end",
    "service_min",
    "delay_min",
    "factor",
    "road_class",
    "area_lat",
    "area_lon",
    "area_radius_m",
    "start",
    "end",
)


def blank(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or str(x).strip() in ("", "nan")


def _float(ev: pd.Series, col: str, i: int) -> float:
    x = ev.get(col)
    try:
        v = float(x)
    except (TypeError, ValueError):
        v = math.nan
    if not math.isfinite(v):
        raise InputError(
            f"events row {i} ({ev['type']}): {col} is missing or not a finite number",
            row=i,
            column=col,
            table="events",
        )
    low, high = _EVENT_BOUNDS.get(col, (-math.inf, math.inf))
    if not low <= v <= high:
        raise InputError(
            f"events row {i} ({ev['type']}): {col} = {v:g} is outside {low:g}–{high:g}",
            row=i,
            column=col,
            table="events",
            fix=f"give {col} a value from {low:g} to {high:g}",
        )
    return v


#: bounds of the numeric event fields (the replan-events contract of `shipahead validate`)
_EVENT_BOUNDS = {
    "delay_min": (0.0, 2880.0),
    "lat": (-90.0, 90.0),
    "lon": (-180.0, 180.0),
    "area_lat": (-90.0, 90.0),
    "area_lon": (-180.0, 180.0),
    "demand_units": (0.0, 1e9),
    "service_min": (0.0, 2880.0),
}


@dataclass
class ReplanEvents:
    """What the events say (stop and vehicle ids as text, times in seconds)."""

    done: set[str]  # stops named by a ``done`` event, or done in earlier re-plans
    vehicles_with_done: set[str]  # vehicles a ``done`` event speaks for
    cancel_rows: dict[str, int] = field(default_factory=dict)  # stop -> first cancel row
    added: list[dict] = field(default_factory=list)  # new stops, stops-table rows
    positions: dict[str, tuple[float, float]] = field(default_factory=dict)  # (lon, lat)
    delays: dict[str, float] = field(default_factory=dict)  # vehicle -> seconds
    incidents: list[Incident] = field(default_factory=list)


def event_table(events: pd.DataFrame | None) -> pd.DataFrame:
    """The events with every :data:`EVENT_COLUMNS` column and a known, lower-case type."""
    ev = events.reset_index(drop=True).copy() if events is not None else pd.DataFrame()
    if len(ev) and "type" not in ev.columns:
        raise InputError("events table has no 'type' column", column="type", table="events")
    for c in EVENT_COLUMNS:  # columns no event uses may be left out of the file
        if c not in ev.columns:
            ev[c] = np.nan
    if len(ev):
        ev["type"] = ev["type"].astype(str).str.strip().str.lower()
        bad = ~ev["type"].isin(EVENT_TYPES)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(
                f"events row {i}: unknown type {ev.at[i, 'type']!r}",
                row=i,
                column="type",
                fix=f"use one of {', '.join(EVENT_TYPES)}",
                table="events",
            )
    return ev


def _stop_id(e: pd.Series, i: int, known: set[str] | None) -> str:
    """The event's stop_id; ``known``: the stops it must name (None: a new stop)."""
    sid = e.get("stop_id")
    if blank(sid):
        raise InputError(
            f"events row {i} ({e['type']}): stop_id is empty",
            row=i,
            column="stop_id",
            table="events",
        )
    sid = str(sid).strip()
    if known is not None and sid not in known:
        raise InputError(
            f"events row {i}: stop {sid!r} is not in the plan",
            row=i,
            column="stop_id",
            fix="name a stop of the plan, or use type 'add' for a new stop",
            table="events",
        )
    return sid


def _vehicle_id(e: pd.Series, i: int, fleet_ids: list[str]) -> str:
    vid = e.get("vehicle_id")
    vid = "" if blank(vid) else str(vid).strip()
    if vid not in fleet_ids:
        raise InputError(
            f"events row {i} ({e['type']}): unknown vehicle_id {vid!r}",
            row=i,
            column="vehicle_id",
            table="events",
        )
    return vid


def _added_stop(e: pd.Series, i: int, sid: str) -> dict:
    row: dict = {"stop_id": sid}
    for c in ("lat", "lon", "demand_units"):
        row[c] = _float(e, c, i)
    for c in ("tw_start", "tw_end"):
        row[c] = None if blank(e.get(c)) else e.get(c)
    row["service_min"] = 0.0 if blank(e.get("service_min")) else _float(e, "service_min", i)
    return row


def _incident(e: pd.Series, i: int, network: RoadNetwork, at_s: int) -> Incident:
    f = _float(e, "factor", i)
    if not 0.0 < f <= 1.0:
        raise InputError(
            f"events row {i}: incident factor {f:g} must be in (0, 1]",
            row=i,
            column="factor",
            fix="0.5 = half speed",
            table="events",
        )
    has_area = not blank(e.get("area_lat"))
    arcs = incident_arcs(
        network,
        road_class=None if blank(e.get("road_class")) else str(e.get("road_class")).strip(),
        area_lat=_float(e, "area_lat", i) if has_area else None,
        area_lon=_float(e, "area_lon", i) if has_area else None,
        area_radius_m=_float(e, "area_radius_m", i) if has_area else None,
    )
    start = to_seconds(e.get("start"), what="start", row=i, column="start", table="events")
    end = to_seconds(e.get("end"), what="end", row=i, column="end", table="events")
    return Incident(
        arcs=arcs,
        factor=f,
        start_s=float(at_s if start is None else start),
        end_s=float(2 * DAY_S if end is None else end),
        label=f"events row {i}",
    )


def parse_events(
    ev: pd.DataFrame,
    *,
    prev: dict[str, pd.DataFrame],
    stop_ids: set[str],
    fleet_ids: list[str],
    network: RoadNetwork,
    at_s: int,
    done_before: tuple[str, ...] = (),
) -> ReplanEvents:
    """Read every row of :func:`event_table`'s result (``prev``: the previous plan's rows
    per vehicle, to find who served a ``done`` stop without a vehicle_id)."""
    out = ReplanEvents(done=set(done_before), vehicles_with_done=set())
    for i, e in ev.iterrows():
        t = e["type"]
        if t == "done":
            sid = _stop_id(e, i, stop_ids)
            out.done.add(sid)
            if not blank(e.get("vehicle_id")):
                out.vehicles_with_done.add(_vehicle_id(e, i, fleet_ids))
            else:
                for vid, g in prev.items():
                    if sid in set(g["stop_id"]):
                        out.vehicles_with_done.add(vid)
        elif t == "cancel":
            out.cancel_rows.setdefault(_stop_id(e, i, stop_ids), i)
        elif t == "add":
            sid = _stop_id(e, i, None)
            if sid in stop_ids or sid in {a["stop_id"] for a in out.added}:
                raise InputError(
                    f"events row {i}: added stop {sid!r} already exists",
                    row=i,
                    column="stop_id",
                    fix="give the new stop a new stop_id",
                    table="events",
                )
            out.added.append(_added_stop(e, i, sid))
        elif t == "position":
            vid = _vehicle_id(e, i, fleet_ids)
            out.positions[vid] = (_float(e, "lon", i), _float(e, "lat", i))
        elif t == "delay":
            vid = _vehicle_id(e, i, fleet_ids)
            out.delays[vid] = out.delays.get(vid, 0.0) + _float(e, "delay_min", i) * 60.0
        elif t == "incident":
            out.incidents.append(_incident(e, i, network, at_s))
    return out
