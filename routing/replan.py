"""Re-planning during the day: events at time ``at`` -> a new plan + what changed.

Events table (one row per event; cells a type does not use may be blank, and columns no
event uses may be left out):

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

from .context import PlanContext, RestartProblem, build_context
from .daystate import DayState, day_state, previous_routes
from .errors import InfeasibleError
from .events import EVENT_COLUMNS as EVENT_COLUMNS  # importable from here too
from .events import EVENT_TYPES as EVENT_TYPES
from .events import ReplanEvents, event_table, parse_events
from .iterate import PlanRounds, iterate_plan
from .network import RoadNetwork
from .plan import RoutePlan, assemble
from .settings import PlanSettings
from .tables import DAY_S, hhmm, to_seconds
from .traffic import SpeedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ReplanResult:
    """The new plan, the change list, the stops that are done, and what the dispatcher
    should know (events ignored, pins given up), one sentence each."""

    plan: RoutePlan
    changes: pd.DataFrame
    done: tuple[str, ...]
    warnings: tuple[str, ...] = ()


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
    ev = event_table(events)
    prev = previous_routes(routes)
    st = stops.reset_index(drop=True).copy()
    st["stop_id"] = st["stop_id"].astype(str)
    fleet_ids = [str(x) for x in fleet["vehicle_id"]]
    parsed = parse_events(
        ev,
        prev=prev,
        stop_ids=set(st["stop_id"]),
        fleet_ids=fleet_ids,
        network=network,
        at_s=at_s,
        done_before=done_before,
    )
    speed = speed.with_incidents(parsed.incidents) if parsed.incidents else speed
    fl = fleet.reset_index(drop=True)
    state = day_state(parsed, prev, st, fl, at_s)
    ps = replace(settings, depart_s=None)
    remaining = st[~st["stop_id"].isin(state.done | state.cancelled)]
    if parsed.added:
        add_df = pd.DataFrame(parsed.added)
        if len(remaining):
            # an optional field no added stop has (e.g. no window) takes the planned stops' type
            blank = {
                c: remaining[c].dtype
                for c in add_df.columns
                if c in remaining and add_df[c].isna().all() and remaining[c].dtype.kind in "fOM"
            }
            add_df = add_df.astype(blank)
            remaining = pd.concat([remaining, add_df], ignore_index=True)
        else:  # every planned stop done or cancelled: an empty frame must not set the dtypes
            remaining = add_df.reindex(columns=list(dict.fromkeys([*remaining, *add_df])))
    ctx = build_context(
        remaining,
        _fleet_now(fl, state.break_taken),
        network,
        speed,
        ps,
        depots=depots,
        default_depot=default_depot,
        starts=state.starts,
    )
    start = _restart_problem(ctx, state, fleet_ids)
    rounds = _solve_keeping_pins(ctx, start, ps, reassign_penalty, at_s, state.warnings)
    rounds, home = _drive_home(ctx, rounds, start.vehicle_start)
    plan = assemble(ctx, rounds, date=date)
    plan = _continue_numbering(plan, prev, state.done)
    if start.spent and len(plan.unassigned):
        # "capacity" only because the spent vehicles got none: say what really binds
        un = plan.unassigned.copy()
        fits = pd.to_numeric(un["demand_units"]) <= max(start.capacity.values())
        art = un["reason"].str.startswith("capacity") & fits
        un.loc[art, "reason"] = (
            "shift: no vehicle has time left in its shift to serve it (ready too late: "
            + ", ".join(start.spent)
            + ")"
        )
        plan = replace(plan, unassigned=un)
    return _result(plan, routes, ctx, parsed, state, start, home, at_s, reassign_penalty)


def _fleet_now(fleet: pd.DataFrame, break_taken: set[str]) -> pd.DataFrame:
    """The fleet for the rest of the day: vehicles whose break has begun owe none."""
    fleet_now = fleet.copy()
    if break_taken and {"break_start", "break_end", "break_min"} <= set(fleet_now.columns):
        for c in ("break_start", "break_end", "break_min"):
            fleet_now[c] = fleet_now[c].astype(object)
        mask = fleet_now["vehicle_id"].astype(str).isin(break_taken)
        fleet_now.loc[mask, ["break_start", "break_end", "break_min"]] = None
    return fleet_now


def _restart_problem(ctx: PlanContext, state: DayState, fleet_ids: list[str]) -> RestartProblem:
    """Start nodes, ready times, capacity left, pins and the warm start of every vehicle;
    sets the shift end of a vehicle too late to serve anything (it only drives home)."""
    index = {sid: i for i, sid in enumerate(ctx.node_ids)}
    vehicle_start = {}
    for vid in fleet_ids:
        node = index["@" + vid] if vid in state.starts else None
        if node is None:
            depot = ctx.fleet.loc[ctx.fleet["vehicle_id"] == vid, "depot_id"].iloc[0]
            node = ctx.depot_node[depot]
        vehicle_start[vid] = (node, int(state.ready[vid]))
    cap = dict(zip(ctx.fleet["vehicle_id"], ctx.fleet["capacity"], strict=True))
    capacity_left = {
        vid: int(max(0, cap[vid] - math.ceil(state.delivered.get(vid, 0.0)))) for vid in fleet_ids
    }
    pinned_ids = dict(state.pinned)
    spent: list[str] = []
    # a vehicle out on the road that is ready too late to serve anything within its shift
    # (e.g. delayed past its end) only drives back to its depot, leaving when it is ready;
    # the solver gets it no capacity and a shift long enough for that drive
    for vid in state.starts:
        node, t = vehicle_start[vid]
        k = int(np.flatnonzero((ctx.fleet["vehicle_id"] == vid).to_numpy())[0])
        end_s = int(ctx.fleet.at[k, "shift_end_s"])
        depot = ctx.depot_node[ctx.fleet.at[k, "depot_id"]]
        trip = float(ctx.mats.time_for(t)[ctx.mats.pos[node], ctx.mats.pos[depot]])
        if t + trip >= end_s:
            spent.append(vid)
            capacity_left[vid] = 0
            pinned_ids.pop(vid, None)
            ctx.fleet.at[k, "shift_end_s"] = int(min(2 * DAY_S - 1, t + 3 * trip + 3600))
            state.warnings.append(
                f"vehicle {vid!r} is ready at {hhmm(t)}, too late to serve anything within "
                f"its shift (ends {hhmm(end_s)}): it only drives back to its depot"
            )
    pinned = {
        vid: (index[s],)
        for vid, s in pinned_ids.items()
        if s in index and index[s] in ctx.stop_nodes
    }
    initial = tuple(
        tuple(
            index[s]
            for s in state.prev_order.get(vid, [])
            if s in index and index[s] in ctx.stop_nodes
        )
        for vid in fleet_ids
    )
    # pinned stops must lead their vehicle's warm start
    initial = tuple(
        (*pinned.get(vid, ()), *(s for s in r if s not in pinned.get(vid, ())))
        for vid, r in zip(fleet_ids, initial, strict=True)
    )
    return RestartProblem(vehicle_start, cap, capacity_left, pinned, initial, spent)


def _solve_keeping_pins(
    ctx: PlanContext,
    start: RestartProblem,
    settings: PlanSettings,
    reassign_penalty: float,
    at_s: int,
    warnings: list[str],
) -> PlanRounds:
    """Plan the rest of the day; a pin the vehicle can no longer keep is given up (with a
    warning; ``start.pinned`` and ``start.vehicle_start`` are updated) and the plan redone."""
    while True:
        try:
            return iterate_plan(ctx, settings, restart=start, reassign_penalty=reassign_penalty)
        except InfeasibleError as exc:
            # a vehicle that can no longer make the stop it was driving to (delayed past the
            # window or its shift): that stop is no longer kept first (planned or dropped
            # like any other), and the vehicle is ready where it last was, from `at` on
            vid = next(
                (v for v in start.pinned if exc.message.startswith(f"vehicle {v!r} cannot serve")),
                None,
            )
            if vid is None:
                raise
            warnings.append(f"{exc.message}; it is no longer kept first")
            del start.pinned[vid]
            node, t = start.vehicle_start[vid]
            start.vehicle_start[vid] = (node, max(int(t), int(at_s)))


def _drive_home(
    ctx: PlanContext, rounds: PlanRounds, vehicle_start: dict[str, tuple[int, int]]
) -> tuple[PlanRounds, list[int]]:
    """Add the drive back to the depot of every vehicle out on the road with no stops left;
    returns the rounds with those routes and the vehicles' numbers."""
    problem, sims = rounds.problem, rounds.sims
    used = {x.vehicle for x in sims}
    home = [
        v
        for v, veh in enumerate(problem.vehicles)
        if v not in used and ctx.node_ids[veh.start].startswith("@")
    ]
    if not home:
        return rounds, home
    for v in home:
        veh = problem.vehicles[v]
        sims.append(
            rounds.simulator.route(
                problem,
                v,
                (),
                depart_s=math.ceil(vehicle_start[veh.vehicle_id][1] / 60.0) * 60.0,
                keep_legs=True,
                break_gap=-1,
            )
        )
    return replace(rounds, sims=sorted(sims, key=lambda x: x.vehicle)), home


def _result(
    plan: RoutePlan,
    routes: pd.DataFrame,
    ctx: PlanContext,
    parsed: ReplanEvents,
    state: DayState,
    start: RestartProblem,
    home: list[int],
    at_s: int,
    reassign_penalty: float,
) -> ReplanResult:
    """The summary's ``replan`` section, the change table and the result."""
    problem = plan.problem
    fleet_ids = list(state.prev_order)
    had_route = {vid for vid, o in state.prev_order.items() if o}
    new_counts = (
        plan.routes[plan.routes["kind"] == "stop"].groupby("vehicle_id", sort=True).size().to_dict()
    )
    dispatched = {
        str(v): int(n) for v, n in new_counts.items() if str(v) not in had_route and n > 0
    }
    idle = [
        vid
        for vid in fleet_ids
        if vid in had_route
        and not new_counts.get(vid)
        and vid not in {problem.vehicles[v].vehicle_id for v in home}
    ]
    returning = [problem.vehicles[v].vehicle_id for v in home]
    plan.summary["replan"] = {
        "at": hhmm(at_s),
        "done": len(state.done),
        "cancelled": len(state.cancelled),
        "added": len(parsed.added),
        "incidents": len(parsed.incidents),
        "pinned": {k: ctx.node_ids[v[0]] for k, v in start.pinned.items()},
        "reassign_penalty": reassign_penalty,
        "dispatched": dispatched,
        "returning_empty": returning,
        "idle": idle,
        "warnings": list(state.warnings),
    }
    changes = change_table(
        routes,
        plan.routes,
        plan.unassigned,
        state.done,
        state.cancelled,
        {a["stop_id"] for a in parsed.added},
    )
    notes = {s: "cancel ignored: already done" for s in state.late_cancel}
    for s, v in zip(changes["stop_id"], changes["new_vehicle_id"], strict=True):
        if v in dispatched and s not in notes:
            notes[s] = f"vehicle {v} newly dispatched with {dispatched[v]} stops"
    changes["note"] = [notes.get(s, "") for s in changes["stop_id"]]
    return ReplanResult(
        plan=plan, changes=changes, done=tuple(sorted(state.done)), warnings=tuple(state.warnings)
    )


def _continue_numbering(
    plan: RoutePlan, prev: dict[str, pd.DataFrame], done: set[str]
) -> RoutePlan:
    """Number each vehicle's rows on from the day's sequence: the stops it has done keep
    their numbers (from the previous plan), the new route continues after them."""
    offset: dict[str, int] = {}
    for vid, g in prev.items():
        first = g["seq"].min() if len(g) else 0  # the previous re-plan's own offset
        served = g.loc[(g["kind"] == "stop") & g["stop_id"].isin(done), "seq"]
        offset[vid] = int(max(first, served.max() if len(served) else 0))
    if not any(offset.values()):
        return plan
    routes = plan.routes.copy()
    routes["seq"] = routes["seq"] + routes["vehicle_id"].astype(str).map(offset).fillna(0).astype(
        int
    )
    return replace(plan, routes=routes)


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
