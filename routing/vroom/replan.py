"""Re-planning a solved plan after a batch of events (:func:`replan_vroom`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import InputError
from ..report import ROUTE_COLUMNS
from .events import _all_jobs, _Batch, _batch, parse_events
from .history import _assemble, _changes, _done_now, _prev_routes
from .matrices import _matrix_problem, _matrix_routes, _settings
from .model import (
    DispatchResult,
    Job,
    VroomLimits,
    VroomProblem,
    _demand,
    _depart_s,
    _rel,
    reassign_penalty_of,
)
from .output import _format, _Route
from .roads import (
    _fleet_frame,
    _minutes,
    _network_routes,
    _plan_settings,
    _records,
    _stops_frame,
    plan_date,
)


def _job_json(j: Job) -> dict[str, Any]:
    """A job as VROOM JSON (for the state)."""
    d: dict[str, Any] = {"id": j.id, "service": j.service, "priority": j.priority}
    if j.location is not None:
        d["location"] = list(j.location)
    if j.location_index is not None:
        d["location_index"] = j.location_index
    if j.delivery:
        d["delivery"] = list(j.delivery)
    if j.pickup:
        d["pickup"] = list(j.pickup)
    if j.time_window is not None:
        d["time_windows"] = [list(j.time_window)]
    if j.skills:
        d["skills"] = sorted(j.skills)
    if j.description is not None:
        d["description"] = j.description
    return d


def replan_vroom(
    problem: VroomProblem,
    state: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    *,
    network: Any | None = None,
    speed: Any | None = None,
    reassign_penalty: float | None = None,
    time_limit_s: float | None = None,
    limits: VroomLimits | None = None,
) -> DispatchResult:
    """Apply a batch of events (coalesced into one re-plan at the latest ``at``).

    Done stops stay done (with their actual times), a vehicle that has left for its next
    stop keeps it first, stops move to another vehicle only when that saves more than
    ``reassign_penalty`` (the problem's cost units per moved job, as ``shipahead route
    replan``'s; None: :func:`reassign_penalty_of`, an hour of driving at the fleet's costs), a
    cancelled job leaves the routes (``unassigned`` with reason ``cancelled``), a vehicle
    that is down keeps its history and its open jobs are planned on the others.

    Returns the new :class:`DispatchResult` with ``changes`` filled; raises
    :class:`InputError` as :func:`parse_events`.
    """
    evs = parse_events(problem, state, events, limits=limits)
    if reassign_penalty is None:
        reassign_penalty = reassign_penalty_of(problem)
    lim = limits or VroomLimits()
    b = _batch(problem, state, evs)
    jobs = _all_jobs(problem, state, lim) + b.added
    by_id = {j.id: j for j in jobs}
    down = {int(x) for x in state.get("down", [])} | set(b.down)
    done, speaks = _done_now(problem, state, b, down)
    cancelled_before = {int(x) for x in state.get("cancelled", [])}
    late_cancel = [j for j in b.cancel if j in done]
    cancelled = cancelled_before | {j for j in b.cancel if j not in done}
    actual = dict(state.get("actual", {}))
    for jid, e in b.done.items():
        actual[str(jid)] = {"arrival": e.arrival, "departure": e.departure}
    warnings = [f"cancel of job {j} ignored: it was already done" for j in late_cancel]
    if problem.uses_matrices:
        routes, un = _replan_matrices(
            problem,
            state,
            b,
            jobs,
            done,
            speaks,
            cancelled,
            down,
            actual,
            reassign_penalty,
            time_limit_s,
        )
        has_distance = all("distances" in problem.matrices[v.profile] for v in problem.vehicles)
        extra: dict[str, Any] = {}
    else:
        routes, un, extra = _replan_network(
            problem,
            state,
            b,
            jobs,
            done,
            cancelled,
            down,
            actual,
            network,
            speed,
            reassign_penalty,
            time_limit_s,
        )
        done |= set(extra.pop("done", set()))
        has_distance = True
    for j in sorted(cancelled):
        if j in by_id:
            un[j] = "cancelled"
    output = _format(problem, jobs, routes, un, has_distance=has_distance)
    new_state = {
        **{k: v for k, v in state.items()},
        "at": b.at + problem.t0,
        "done": sorted(done),
        "cancelled": sorted(cancelled),
        "down": sorted(down),
        "added": list(state.get("added", [])) + [_job_json(j) for j in b.added],
        "actual": actual,
        "output": output,
        "warnings": warnings + extra.pop("warnings", []),
        **extra,
    }
    prev_done = {int(x) for x in state.get("done", [])}
    changes = _changes(
        state["output"],
        output,
        done - prev_done,
        cancelled - cancelled_before,
        {j.id for j in b.added},
    )
    geometry = {
        str(r.vehicle.id): r.geometry for r in routes if any(s["type"] == "job" for s in r.steps)
    }
    return DispatchResult(output=output, state=new_state, geometry=geometry, changes=changes)


def _replan_matrices(
    p: VroomProblem,
    state: Mapping[str, Any],
    b: _Batch,
    jobs: Sequence[Job],
    done: set[int],
    speaks: set[int],
    cancelled: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    reassign_penalty: float,
    time_limit_s: float | None,
) -> tuple[list[_Route], dict[int, str]]:
    from ..errors import InfeasibleError
    from ..solve import solve

    del speaks
    prev = _prev_routes(state)
    at, t0 = b.at, p.t0
    at_abs = at + t0
    by_id = {j.id: j for j in jobs}
    active = [v for v in p.vehicles if v.id not in down]
    remaining = [j for j in jobs if j.id not in done and j.id not in cancelled]
    rem_pos = {j.id: k for k, j in enumerate(remaining)}
    starts: dict[int, tuple[int | None, int]] = {}
    cap_left: dict[int, tuple[int, ...]] = {}
    pinned: dict[int, int] = {}
    initial: dict[int, list[int]] = {}
    no_break: set[int] = set()
    for v in active:
        steps = prev.get(v.id, [])
        order = [int(s["id"]) for s in steps if s["type"] == "job"]
        nxt = [j for j in order if j in rem_pos]
        initial[v.id] = [rem_pos[j] for j in nxt]
        delay = b.delays.get(v.id, 0)
        s0 = _depart_s(p, _rel(v.time_window, t0, (0, 0)))
        if any(s["type"] == "break" and s["arrival"] <= at_abs for s in steps):
            no_break.add(v.id)
        started = bool(steps) and steps[0]["arrival"] <= at_abs
        mine_done = [j for j in order if j in done]
        if v.id in b.positions:
            starts[v.id] = (b.positions[v.id].location_index, at + delay)
        elif not started:
            starts[v.id] = (None, max(at, s0) + delay)
        elif steps[-1]["arrival"] <= at_abs and not nxt:
            row = v.end_index if v.end_index is not None else by_id[order[-1]].location_index
            starts[v.id] = (row, max(at, steps[-1]["arrival"] - t0) + delay)
            mine_done = []  # back at its end: unloaded
        else:
            dep = steps[0]["arrival"]
            row = v.start_index
            for s in steps:
                if s["type"] == "job" and s["id"] in done:
                    a = actual.get(str(s["id"])) or {}
                    dep = a.get("departure") or (s["arrival"] + s["waiting_time"] + s["service"])
                    row = by_id[int(s["id"])].location_index
            if row is None:  # open start, nothing done yet: treat as not started
                starts[v.id] = (None, max(at, s0) + delay)
            else:
                starts[v.id] = (row, int(dep) - t0 + delay)
                if nxt and int(dep) <= at_abs:
                    pinned[v.id] = rem_pos[nxt[0]]
        if p.dims and mine_done:
            used = np.sum([_demand(p, by_id[j]) for j in mine_done], axis=0)
            cap_left[v.id] = tuple(int(x) for x in np.maximum(np.asarray(v.capacity) - used, 0))
    while True:
        problem, nodes, real, dist = _matrix_problem(
            p,
            remaining,
            starts=starts,
            capacity_left=cap_left,
            pinned=pinned,
            initial=initial,
            reassign_penalty=reassign_penalty,
            vehicles=active,
            no_break=no_break,
        )
        try:
            sol = solve(problem, _settings(p, time_limit_s))
            break
        except InfeasibleError as exc:
            vid = next(
                (v for v in pinned if exc.message.startswith(f"vehicle {str(v)!r} cannot serve")),
                None,
            )
            if vid is None:
                raise
            del pinned[vid]
            row, t = starts[vid]
            starts[vid] = (row, max(t, at))
    routes, un = _matrix_routes(p, remaining, problem, nodes, real, dist, sol, vehicles=active)
    new = {r.vehicle.id: r for r in routes}
    return _assemble(p, state, new, done, down, actual, at_abs), un


def _event_located(exc: InputError, b: _Batch) -> InputError:
    """A snapping error of an added job or a vehicle position, named by its event."""
    m = exc.message
    for (kind, ident), i in b.where.items():
        hit = (kind == "job" and m.startswith(f"{ident} at lat")) or (
            kind == "vehicle" and m.startswith(f"the position of vehicle {str(ident)!r}")
        )
        if hit:
            path = f"events[{i}].location"
            detail = m.split(" is ", 1)[-1]
            return InputError(f"{path}: is {detail}", column=path, fix=exc.fix)
    return exc


def _replan_network(
    p: VroomProblem,
    state: Mapping[str, Any],
    b: _Batch,
    jobs: Sequence[Job],
    done: set[int],
    cancelled: set[int],
    down: set[int],
    actual: Mapping[str, Any],
    network: Any,
    speed: Any,
    reassign_penalty: float,
    time_limit_s: float | None,
) -> tuple[list[_Route], dict[int, str], dict[str, Any]]:
    import pandas as pd

    from ..replan import replan_routes as _replan_routes
    from ..tables import hhmm

    if network is None:
        raise InputError(
            "no road network: a plan without matrices needs one to re-plan",
            column="matrices",
            fix="serve/run with the plan's --roads",
        )
    t0 = p.t0
    added_ids = {j.id for j in b.added}
    known = [
        j for j in jobs if j.id not in added_ids and (j.id not in cancelled or j.id in b.cancel)
    ]
    stops = _stops_frame(p, known)
    active = [v for v in p.vehicles if v.id not in down]
    fleet = _fleet_frame(p, active)
    routes = pd.DataFrame(state["routes"])
    if routes.empty:  # every stop served: the state has no rows, and so no columns
        routes = pd.DataFrame(columns=list(ROUTE_COLUMNS))
    for jid, e in b.done.items():
        m = (routes["stop_id"].astype(str) == str(jid)) & (routes["kind"] == "stop")
        if e.arrival is not None:
            routes.loc[m, "arrival"] = hhmm(e.arrival - t0)
        if e.departure is not None:
            routes.loc[m, "departure"] = hhmm(e.departure - t0)
    act = {v.id for v in active}
    rows: list[dict[str, Any]] = []
    for jid, e in b.done.items():
        rows.append(
            {
                "type": "done",
                "stop_id": str(jid),
                "vehicle_id": str(e.vehicle_id) if e.vehicle_id in act else None,
            }
        )
    for jid in b.cancel:
        rows.append({"type": "cancel", "stop_id": str(jid)})
    add = _stops_frame(p, b.added)
    for r in _records(add):
        rows.append({"type": "add", **r})
    for vid, e in b.positions.items():
        if vid in act:
            rows.append(
                {
                    "type": "position",
                    "vehicle_id": str(vid),
                    "lon": e.location[0],
                    "lat": e.location[1],
                }
            )  # type: ignore[index]
    for vid, d in b.delays.items():
        if vid in act:
            rows.append({"type": "delay", "vehicle_id": str(vid), "delay_min": d / 60.0})
    incidents = list(state.get("incidents", []))
    for e in b.incidents:
        row: dict[str, Any] = {
            "type": "incident",
            "factor": e.factor,
            "start": _minutes(e.start - t0),
        }  # type: ignore[operator]
        if e.end is not None:
            row["end"] = _minutes(e.end - t0)
        if e.road_class is not None:
            row["road_class"] = e.road_class
        if e.location is not None:
            row.update(area_lon=e.location[0], area_lat=e.location[1], area_radius_m=e.radius_m)
        incidents.append(row)
    ev = pd.DataFrame(rows + incidents)
    try:
        res = _replan_routes(
            stops,
            fleet,
            routes,
            ev,
            network,
            at_s=int(b.at),
            speed=speed,
            settings=_plan_settings(p, time_limit_s),
            reassign_penalty=float(reassign_penalty),
            done_before=tuple(sorted(str(x) for x in done)),
            date=plan_date(p),
        )
    except InputError as exc:
        raise _event_located(exc, b) from None
    routes_new, un = _network_routes(p, jobs, res.plan, vehicles=active)
    new = {r.vehicle.id: r for r in routes_new}
    new_done = {int(x) for x in res.done}

    def geometry_of(kept, road):
        return [*(tuple(s["location"]) for s in kept if "location" in s), *road]

    out = _assemble(p, state, new, done | new_done, down, actual, b.at + t0, geometry_of)
    extra = {
        "routes": _records(res.plan.routes),
        "incidents": incidents,
        "done": new_done,
        "warnings": list(res.warnings),
    }
    return out, un, extra
