"""The day's state at the re-plan time: stops done, where each vehicle restarts and when,
what it still carries, breaks taken, the stop each vehicle is driving to (pinned).

The rules are in :mod:`routing.replan`'s docstring. Times in seconds from midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .errors import InputError
from .events import ReplanEvents
from .tables import hhmm, to_seconds


def previous_routes(routes: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The previous plan's rows per vehicle (sorted by seq) with ``*_s`` time columns."""
    need = ("vehicle_id", "seq", "stop_id", "arrival", "departure", "kind", "lat", "lon")
    for c in need:
        if c not in routes.columns:
            raise InputError(
                f"the plan's routes table has no column {c!r}",
                column=c,
                fix="re-plan from a folder written by `shipahead route`",
                table="routes",
            )
    out = {}
    r = routes.copy()
    r["vehicle_id"] = r["vehicle_id"].astype(str)
    r["stop_id"] = r["stop_id"].astype(str)
    for c in ("arrival", "departure", "break_start"):
        if c not in r.columns:  # plans written before break_start existed
            continue
        r[c + "_s"] = [
            to_seconds(x, what=c, row=k, column=c, table="routes") for k, x in enumerate(r[c])
        ]
    r["seq"] = pd.to_numeric(r["seq"], errors="coerce").astype(int)
    for vid, g in r.groupby("vehicle_id", sort=False):
        out[str(vid)] = g.sort_values("seq").reset_index(drop=True)
    return out


@dataclass
class DayState:
    """Every vehicle's state at ``at`` (ids as text; times in seconds from midnight)."""

    done: set[str]  # stops served (or being served) by ``at``
    cancelled: set[str] = field(default_factory=set)  # cancels that still apply
    late_cancel: set[str] = field(default_factory=set)  # cancels of stops already done
    starts: dict[str, tuple[float, float]] = field(default_factory=dict)  # (lon, lat)
    ready: dict[str, int] = field(default_factory=dict)  # when each vehicle can move on
    pinned: dict[str, str] = field(default_factory=dict)  # vehicle -> stop driven to
    delivered: dict[str, float] = field(default_factory=dict)  # units already delivered
    break_taken: set[str] = field(default_factory=set)  # breaks begun by ``at``
    prev_order: dict[str, list[str]] = field(default_factory=dict)  # previous stop order
    warnings: list[str] = field(default_factory=list)


def _break_begun(g: pd.DataFrame, at_s: int) -> bool:
    """Whether the vehicle's break (a row with ``break_min > 0``) started by ``at_s``."""
    if "break_min" not in g.columns:
        return False
    b = pd.to_numeric(g["break_min"], errors="coerce").fillna(0.0)
    if "break_start_s" in g.columns:  # started by `at` (taken or in progress)
        begun = pd.to_numeric(g["break_start_s"], errors="coerce").fillna(np.inf) <= at_s
    else:
        begun = pd.to_numeric(g["departure_s"], errors="coerce").fillna(np.inf) <= at_s
    return bool(((b > 0) & begun).any())


def _restart(
    state: DayState,
    vid: str,
    g: pd.DataFrame,
    events: ReplanEvents,
    shift_start: int | None,
    at_s: int,
) -> None:
    """Where and when vehicle ``vid`` (previous rows ``g``) carries on from."""
    delay = events.delays.get(vid, 0.0)
    # last place finished by `at`
    last = g.iloc[0]
    started = last["departure_s"] is not None and last["departure_s"] <= at_s
    for r in g.itertuples(index=False):
        if r.kind == "stop" and r.stop_id in state.done:
            last = pd.Series(r._asdict())
    nxt = [s for s in state.prev_order[vid] if s not in state.done and s not in events.cancel_rows]
    end_row = g[g["kind"] == "end"]
    returned = (
        len(end_row)
        and end_row["arrival_s"].iloc[0] is not None
        and (end_row["arrival_s"].iloc[0] <= at_s)
        and not nxt
    )
    if vid in events.positions:
        state.starts[vid] = events.positions[vid]
        state.ready[vid] = int(at_s + delay)
    elif not started:
        if last["kind"] != "start" or str(last["stop_id"]).startswith("@"):
            state.starts[vid] = (float(last["lon"]), float(last["lat"]))
        t_ready = max(at_s, shift_start or 0)
        if vid in state.break_taken and last["departure_s"] is not None:
            # resting before leaving at `at`: ready when the break is over
            t_ready = max(t_ready, last["departure_s"])
        state.ready[vid] = int(t_ready + delay)
    elif returned:
        # back at the depot: it can load again
        state.ready[vid] = int(max(at_s, end_row["arrival_s"].iloc[0]) + delay)
        state.delivered[vid] = 0.0
    else:
        state.starts[vid] = (float(last["lon"]), float(last["lat"]))
        dep = last["departure_s"] if last["departure_s"] is not None else at_s
        owed_s = 0.0  # break started by `at` on the leg the vehicle is on
        bs = last.get("break_start_s")
        if (
            vid in state.break_taken
            and bs is not None
            and not pd.isna(bs)
            and last["departure_s"] is not None
            and bs > last["departure_s"]
        ):
            # the break of the leg under way (on the road or waiting at the next stop)
            # has begun: the restart from the last stop carries its duration
            owed_s = 60.0 * float(pd.to_numeric(last.get("break_min"), errors="coerce"))
        state.ready[vid] = int(max(dep, 0) + owed_s + delay)
        if nxt and max(dep, 0) <= at_s:
            # the vehicle was on its way to the next stop at `at`: keep it first
            state.pinned[vid] = nxt[0]


def day_state(
    events: ReplanEvents,
    prev: dict[str, pd.DataFrame],
    stops: pd.DataFrame,
    fleet: pd.DataFrame,
    at_s: int,
) -> DayState:
    """The state of every fleet row at ``at_s`` (``stops`` with text stop ids; ``prev`` from
    :func:`previous_routes`)."""
    demand = dict(zip(stops["stop_id"], pd.to_numeric(stops["demand_units"]), strict=True))
    state = DayState(done=set(events.done))
    for k, vid in enumerate(str(x) for x in fleet["vehicle_id"]):
        g = prev.get(vid)
        shift_start = to_seconds(
            fleet.at[k, "shift_start"],
            what="shift_start",
            row=k,
            column="shift_start",
            table="fleet",
        )
        if g is None or len(g) == 0:
            state.prev_order[vid] = []
            if vid in events.positions:
                state.starts[vid] = events.positions[vid]
            state.ready[vid] = int(max(at_s, shift_start or 0) + events.delays.get(vid, 0.0))
            continue
        stops_rows = g[g["kind"] == "stop"]
        state.prev_order[vid] = list(stops_rows["stop_id"])
        if vid not in events.vehicles_with_done:
            for r in stops_rows.itertuples(index=False):
                if r.arrival_s is not None and r.arrival_s <= at_s:
                    state.done.add(r.stop_id)  # served, or being served, at `at`
        if _break_begun(g, at_s):
            state.break_taken.add(vid)
        state.delivered[vid] = float(
            sum(demand.get(s, 0.0) for s in state.prev_order[vid] if s in state.done)
        )
        _restart(state, vid, g, events, shift_start, at_s)
    # a cancel for a stop already served cannot undo it: the stop stays done, and the
    # dispatcher is told (warning + note in changes.csv) instead of the event vanishing
    for sid, i in events.cancel_rows.items():
        if sid in state.done:
            state.late_cancel.add(sid)
            state.warnings.append(
                f"events row {i}: cancel for stop {sid!r} ignored: it was already done by "
                f"{hhmm(at_s)}"
            )
        else:
            state.cancelled.add(sid)
    return state
