"""Re-planning during the day: events at time ``at`` -> a new plan + what changed.

Events table (one row per event; columns not used by a type may be blank):

=========  ==============================================================================
type       columns used
=========  ==============================================================================
done       ``stop_id`` (optional ``vehicle_id``): the stop was served
add        ``stop_id, lat, lon, demand_units, tw_start, tw_end, service_min``: a new stop
cancel     ``stop_id``: drop the stop from the plan
position   ``vehicle_id, lat, lon``: where the vehicle is now (it is ready at ``at``)
delay      ``vehicle_id, delay_min``: the vehicle is ready ``delay_min`` later than planned
incident   ``factor`` (speed multiplier in (0, 1]) and ``road_class`` and/or
           ``area_lat, area_lon, area_radius_m``; optional ``start``/``end`` (HH:MM,
           default ``at`` … end of the next day)
=========  ==============================================================================

Rules: a stop is done if a ``done`` event names it, or — for vehicles without any
``done`` event — if the previous plan had it served (departure) by ``at``; a stop being
served at ``at`` counts as done. Done stops stay done. A vehicle restarts from the last
place it finished by ``at`` (its depot if it has not left, its ``position`` if given),
ready at that place's planned departure (or ``at``) plus any delay; a vehicle that was
driving to a stop at ``at`` keeps that stop first (pinned). Its capacity left is its
capacity minus what it already delivered. Stops move to another vehicle only when that
saves more than ``reassign_penalty`` (currency per moved stop).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from .errors import InputError
from .network import RoadNetwork
from .plan import (
    DAY_S,
    PlanSettings,
    RoutePlan,
    assemble,
    build_context,
    hhmm,
    iterate_plan,
    to_seconds,
)
from .traffic import Incident, SpeedModel, incident_arcs

log = logging.getLogger(__name__)

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


@dataclass(frozen=True, eq=False)
class ReplanResult:
    """The new plan, the change list, and the stops that are done."""

    plan: RoutePlan
    changes: pd.DataFrame
    done: tuple[str, ...]


def _blank(x: object) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x)) or str(x).strip() in ("", "nan")


def _float(ev: pd.Series, col: str, i: int) -> float:
    x = ev.get(col)
    try:
        v = float(x)
    except (TypeError, ValueError):
        v = math.nan
    if math.isnan(v):
        raise InputError(
            f"events row {i} ({ev['type']}): {col} is missing or not a number",
            row=i,
            column=col,
            table="events",
        )
    return v


def _prev_routes(routes: pd.DataFrame) -> dict[str, pd.DataFrame]:
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


def replan_routes(
    stops: pd.DataFrame,
    fleet: pd.DataFrame,
    routes: pd.DataFrame,
    events: pd.DataFrame,
    network: RoadNetwork,
    *,
    at_s: int,
    speed: SpeedModel | None = None,
    settings: PlanSettings | None = None,
    depots: pd.DataFrame | None = None,
    default_depot: str | None = None,
    reassign_penalty: float = 50.0,
    done_before: tuple[str, ...] = (),
    date: str | None = None,
) -> ReplanResult:
    """Re-plan the rest of the day at ``at_s`` (seconds from midnight).

    Parameters
    ----------
    stops, fleet
        The tables of the plan being changed (all stops, including done ones).
    routes
        The previous plan's routes table (``routes.csv``).
    events
        Events, see the module docstring.
    network, speed, settings, depots, default_depot
        As for :func:`routing.plan_routes`; incidents are added to ``speed``.
    reassign_penalty
        Currency per stop that moves to another vehicle than in the previous plan.
    done_before
        Stops already done in earlier re-plans.
    """
    settings = settings or PlanSettings()
    speed = speed or SpeedModel.free_flow()
    ev = events.reset_index(drop=True).copy() if events is not None else pd.DataFrame()
    if len(ev) and "type" not in ev.columns:
        raise InputError("events table has no 'type' column", column="type", table="events")
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
    prev = _prev_routes(routes)
    st = stops.reset_index(drop=True).copy()
    st["stop_id"] = st["stop_id"].astype(str)
    known = set(st["stop_id"])
    fleet_ids = [str(x) for x in fleet["vehicle_id"]]

    def need_stop(i: int, sid: object, must_exist: bool = True) -> str:
        if _blank(sid):
            raise InputError(
                f"events row {i} ({ev.at[i, 'type']}): stop_id is empty",
                row=i,
                column="stop_id",
                table="events",
            )
        sid = str(sid).strip()
        if must_exist and sid not in known:
            raise InputError(
                f"events row {i}: stop {sid!r} is not in the plan",
                row=i,
                column="stop_id",
                fix="name a stop of the plan, or use type 'add' for a new stop",
                table="events",
            )
        return sid

    def need_vehicle(i: int, vid: object) -> str:
        vid = "" if _blank(vid) else str(vid).strip()
        if vid not in fleet_ids:
            raise InputError(
                f"events row {i} ({ev.at[i, 'type']}): unknown vehicle_id {vid!r}",
                row=i,
                column="vehicle_id",
                table="events",
            )
        return vid

    done_ev: set[str] = set(done_before)
    vehicles_with_done: set[str] = set()
    cancel: set[str] = set()
    added = []
    positions: dict[str, tuple[float, float]] = {}
    delays: dict[str, float] = {}
    incidents: list[Incident] = []
    for i, e in ev.iterrows():
        t = e["type"]
        if t == "done":
            sid = need_stop(i, e.get("stop_id"))
            done_ev.add(sid)
            if not _blank(e.get("vehicle_id")):
                vehicles_with_done.add(need_vehicle(i, e.get("vehicle_id")))
            else:
                for vid, g in prev.items():
                    if sid in set(g["stop_id"]):
                        vehicles_with_done.add(vid)
        elif t == "cancel":
            cancel.add(need_stop(i, e.get("stop_id")))
        elif t == "add":
            sid = need_stop(i, e.get("stop_id"), must_exist=False)
            if sid in known or sid in {a["stop_id"] for a in added}:
                raise InputError(
                    f"events row {i}: added stop {sid!r} already exists",
                    row=i,
                    column="stop_id",
                    fix="give the new stop a new stop_id",
                    table="events",
                )
            row = {"stop_id": sid}
            for c in ("lat", "lon", "demand_units"):
                row[c] = _float(e, c, i)
            for c in ("tw_start", "tw_end"):
                row[c] = None if _blank(e.get(c)) else e.get(c)
            row["service_min"] = (
                0.0 if _blank(e.get("service_min")) else _float(e, "service_min", i)
            )
            added.append(row)
        elif t == "position":
            vid = need_vehicle(i, e.get("vehicle_id"))
            positions[vid] = (_float(e, "lon", i), _float(e, "lat", i))
        elif t == "delay":
            vid = need_vehicle(i, e.get("vehicle_id"))
            delays[vid] = delays.get(vid, 0.0) + _float(e, "delay_min", i) * 60.0
        elif t == "incident":
            f = _float(e, "factor", i)
            if not 0.0 < f <= 1.0:
                raise InputError(
                    f"events row {i}: incident factor {f:g} must be in (0, 1]",
                    row=i,
                    column="factor",
                    fix="0.5 = half speed",
                    table="events",
                )
            has_area = not _blank(e.get("area_lat"))
            arcs = incident_arcs(
                network,
                road_class=None
                if _blank(e.get("road_class"))
                else str(e.get("road_class")).strip(),
                area_lat=_float(e, "area_lat", i) if has_area else None,
                area_lon=_float(e, "area_lon", i) if has_area else None,
                area_radius_m=_float(e, "area_radius_m", i) if has_area else None,
            )
            start = to_seconds(e.get("start"), what="start", row=i, column="start", table="events")
            end = to_seconds(e.get("end"), what="end", row=i, column="end", table="events")
            incidents.append(
                Incident(
                    arcs=arcs,
                    factor=f,
                    start_s=float(at_s if start is None else start),
                    end_s=float(2 * DAY_S if end is None else end),
                    label=f"events row {i}",
                )
            )
    speed = speed.with_incidents(incidents) if incidents else speed

    # --- state of every vehicle at `at` ---------------------------------------------
    fl = fleet.reset_index(drop=True)
    demand = dict(zip(st["stop_id"], pd.to_numeric(st["demand_units"]), strict=True))
    done: set[str] = set(done_ev)
    starts: dict[str, tuple[float, float]] = {}
    ready: dict[str, int] = {}
    pinned_ids: dict[str, str] = {}
    delivered: dict[str, float] = {}
    break_taken: set[str] = set()
    prev_order: dict[str, list[str]] = {}
    for k, vid in enumerate(fleet_ids):
        g = prev.get(vid)
        shift_start = to_seconds(
            fl.at[k, "shift_start"], what="shift_start", row=k, column="shift_start", table="fleet"
        )
        if g is None or len(g) == 0:
            prev_order[vid] = []
            if vid in positions:
                starts[vid] = positions[vid]
            ready[vid] = int(max(at_s, shift_start or 0) + delays.get(vid, 0.0))
            continue
        stops_rows = g[g["kind"] == "stop"]
        prev_order[vid] = list(stops_rows["stop_id"])
        if vid not in vehicles_with_done:
            for r in stops_rows.itertuples(index=False):
                if r.arrival_s is not None and r.arrival_s <= at_s:
                    done.add(r.stop_id)  # served, or being served, at `at`
        owed_s = 0.0  # break started by `at` on the leg the vehicle is on
        if "break_min" in g.columns:
            b = pd.to_numeric(g["break_min"], errors="coerce").fillna(0.0)
            if "break_start_s" in g.columns:  # started by `at` (taken or in progress)
                begun = pd.to_numeric(g["break_start_s"], errors="coerce").fillna(np.inf) <= at_s
            else:
                begun = pd.to_numeric(g["departure_s"], errors="coerce").fillna(np.inf) <= at_s
            if bool(((b > 0) & begun).any()):
                break_taken.add(vid)
        delivered[vid] = float(sum(demand.get(s, 0.0) for s in prev_order[vid] if s in done))
        # last place finished by `at`
        last = g.iloc[0]
        started = last["departure_s"] is not None and last["departure_s"] <= at_s
        for r in g.itertuples(index=False):
            if r.kind == "stop" and r.stop_id in done:
                last = pd.Series(r._asdict())
        nxt = [s for s in prev_order[vid] if s not in done and s not in cancel]
        end_row = g[g["kind"] == "end"]
        returned = (
            len(end_row)
            and end_row["arrival_s"].iloc[0] is not None
            and (end_row["arrival_s"].iloc[0] <= at_s)
            and not nxt
        )
        if vid in positions:
            starts[vid] = positions[vid]
            ready[vid] = int(at_s + delays.get(vid, 0.0))
        elif not started:
            if last["kind"] != "start" or str(last["stop_id"]).startswith("@"):
                starts[vid] = (float(last["lon"]), float(last["lat"]))
            t_ready = max(at_s, shift_start or 0)
            if vid in break_taken and last["departure_s"] is not None:
                # resting before leaving at `at`: ready when the break is over
                t_ready = max(t_ready, last["departure_s"])
            ready[vid] = int(t_ready + delays.get(vid, 0.0))
        elif returned:
            # back at the depot: it can load again
            ready[vid] = int(max(at_s, end_row["arrival_s"].iloc[0]) + delays.get(vid, 0.0))
            delivered[vid] = 0.0
        else:
            starts[vid] = (float(last["lon"]), float(last["lat"]))
            dep = last["departure_s"] if last["departure_s"] is not None else at_s
            bs = last.get("break_start_s")
            if (
                vid in break_taken
                and bs is not None
                and not pd.isna(bs)
                and last["departure_s"] is not None
                and bs > last["departure_s"]
            ):
                # the break of the leg under way (on the road or waiting at the next stop)
                # has begun: the restart from the last stop carries its duration
                owed_s = 60.0 * float(pd.to_numeric(last.get("break_min"), errors="coerce"))
            ready[vid] = int(max(dep, 0) + owed_s + delays.get(vid, 0.0))
            if nxt and max(dep, 0) <= at_s:
                # the vehicle was on its way to the next stop at `at`: keep it first
                pinned_ids[vid] = nxt[0]

    # --- the remaining stops -----------------------------------------------------------
    remaining = st[~st["stop_id"].isin(done | cancel)]
    if added:
        add_df = pd.DataFrame(added)
        if len(remaining):
            remaining = pd.concat([remaining, add_df], ignore_index=True)
        else:  # every planned stop done or cancelled: an empty frame must not set the dtypes
            remaining = add_df.reindex(columns=list(dict.fromkeys([*remaining, *add_df])))
    fleet_now = fl.copy()
    if break_taken and {"break_start", "break_end", "break_min"} <= set(fleet_now.columns):
        for c in ("break_start", "break_end", "break_min"):
            fleet_now[c] = fleet_now[c].astype(object)
        mask = fleet_now["vehicle_id"].astype(str).isin(break_taken)
        fleet_now.loc[mask, ["break_start", "break_end", "break_min"]] = None
    ps = replace(settings, depart_s=None)
    ctx = build_context(
        remaining,
        fleet_now,
        network,
        speed,
        ps,
        depots=depots,
        default_depot=default_depot,
        starts=starts,
    )
    index = {sid: i for i, sid in enumerate(ctx.node_ids)}
    vehicle_start = {}
    for vid in fleet_ids:
        node = index["@" + vid] if vid in starts else None
        if node is None:
            depot = ctx.fleet.loc[ctx.fleet["vehicle_id"] == vid, "depot_id"].iloc[0]
            node = ctx.depot_node[depot]
        vehicle_start[vid] = (node, int(ready[vid]))
    cap = dict(zip(ctx.fleet["vehicle_id"], ctx.fleet["capacity"], strict=True))
    capacity_left = {
        vid: int(max(0, cap[vid] - math.ceil(delivered.get(vid, 0.0)))) for vid in fleet_ids
    }
    pinned = {
        vid: (index[s],)
        for vid, s in pinned_ids.items()
        if s in index and index[s] in ctx.stop_nodes
    }
    initial = tuple(
        tuple(
            index[s] for s in prev_order.get(vid, []) if s in index and index[s] in ctx.stop_nodes
        )
        for vid in fleet_ids
    )
    # pinned stops must lead their vehicle's warm start
    initial = tuple(
        (*pinned.get(vid, ()), *(s for s in r if s not in pinned.get(vid, ())))
        for vid, r in zip(fleet_ids, initial, strict=True)
    )
    problem, sol, sims, sim, log_rows = iterate_plan(
        ctx,
        ps,
        vehicle_start=vehicle_start,
        capacity_left=capacity_left,
        pinned=pinned,
        initial_routes=initial,
        reassign_penalty=reassign_penalty,
    )
    plan = assemble(ctx, problem, sol, sims, sim, log_rows, date=date)
    plan.summary["replan"] = {
        "at": hhmm(at_s),
        "done": len(done),
        "cancelled": len(cancel),
        "added": len(added),
        "incidents": len(incidents),
        "pinned": {k: ctx.node_ids[v[0]] for k, v in pinned.items()},
        "reassign_penalty": reassign_penalty,
    }
    changes = change_table(
        routes, plan.routes, plan.unassigned, done, cancel, {a["stop_id"] for a in added}
    )
    return ReplanResult(plan=plan, changes=changes, done=tuple(sorted(done)))


def change_table(
    old_routes: pd.DataFrame,
    new_routes: pd.DataFrame,
    new_unassigned: pd.DataFrame,
    done: set[str],
    cancelled: set[str],
    added: set[str],
) -> pd.DataFrame:
    """What happened to every stop: done, cancelled, added, moved, resequenced, retimed,
    unchanged, dropped (newly unassigned) or still_unassigned."""

    def index(r: pd.DataFrame) -> dict[str, tuple[str, int, str]]:
        r = r[r["kind"] == "stop"]
        return {
            str(s): (str(v), int(q), str(a))
            for s, v, q, a in zip(
                r["stop_id"], r["vehicle_id"], r["seq"], r["arrival"], strict=True
            )
        }

    old, new = index(old_routes), index(new_routes)

    # position among the vehicle's remaining stops, to tell re-sequencing from done stops
    def order(d: dict[str, tuple[str, int, str]], keep: set[str]) -> dict[str, tuple[str, int]]:
        by_v: dict[str, list[tuple[int, str]]] = {}
        for s, (v, q, _) in d.items():
            if s in keep:
                by_v.setdefault(v, []).append((q, s))
        out = {}
        for v, lst in by_v.items():
            for k, (_, s) in enumerate(sorted(lst)):
                out[s] = (v, k)
        return out

    common = set(old) & set(new)
    o_ord, n_ord = order(old, common), order(new, common)
    unassigned = set(new_unassigned["stop_id"].astype(str)) if len(new_unassigned) else set()
    rows = []
    for s in sorted(set(old) | set(new) | cancelled | added | unassigned | done):
        ov, oq, oa = old.get(s, ("", -1, ""))
        nv, nq, na = new.get(s, ("", -1, ""))
        if s in done:
            change = "done"
        elif s in cancelled:
            change = "cancelled"
        elif s in added:
            change = "added" if s in new else "added_unassigned"
        elif s in unassigned:
            change = "dropped" if s in old else "still_unassigned"
        elif s not in old:
            change = "assigned"
        elif ov != nv:
            change = "moved"
        elif o_ord.get(s) != n_ord.get(s):
            change = "resequenced"
        elif oa != na:
            change = "retimed"
        else:
            change = "unchanged"
        shift = ""
        if oa and na and s not in done:
            a = to_seconds(oa, what="arrival", row=0, column="arrival", table="routes")
            b = to_seconds(na, what="arrival", row=0, column="arrival", table="routes")
            shift = round((b - a) / 60.0, 1)
        rows.append(
            {
                "stop_id": s,
                "change": change,
                "old_vehicle_id": ov,
                "new_vehicle_id": nv,
                "old_seq": oq if oq >= 0 else "",
                "new_seq": nq if nq >= 0 else "",
                "old_eta": oa,
                "new_eta": na,
                "eta_shift_min": shift,
            }
        )
    return pd.DataFrame(
        rows,
        columns=[
            "stop_id",
            "change",
            "old_vehicle_id",
            "new_vehicle_id",
            "old_seq",
            "new_seq",
            "old_eta",
            "new_eta",
            "eta_shift_min",
        ],
    )
