"""Problems without ``matrices``: the stops/fleet tables of the road planner and back."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ..errors import InputError
from .model import DAY_S, Job, VroomProblem, VroomVehicle, _demand, _rel
from .output import _reason, _Route, _steps_from_sim


def _minutes(t: int | None) -> float | None:
    return None if t is None else t / 60.0


def _stops_frame(p: VroomProblem, jobs: Sequence[Job]):
    import pandas as pd

    rows = []
    for j in jobs:
        tw = _rel(j.time_window, p.t0, (0, 0)) if j.time_window else None
        rows.append(
            {
                "stop_id": str(j.id),
                "lat": j.location[1],  # type: ignore[index]
                "lon": j.location[0],  # type: ignore[index]
                "demand_units": sum(_demand(p, j)) if p.dims else 0,
                "tw_start": _minutes(tw[0]) if tw else None,
                "tw_end": _minutes(tw[1]) if tw else None,
                "service_min": j.service / 60.0,
            }
        )
    cols = ["stop_id", "lat", "lon", "demand_units", "tw_start", "tw_end", "service_min"]
    return pd.DataFrame(rows, columns=cols)


def _fleet_frame(p: VroomProblem, vehicles: Sequence[VroomVehicle]):
    import pandas as pd

    depots: dict[tuple[float, float], str] = {}
    rows = []
    for v in vehicles:
        dep = depots.setdefault(v.start, f"depot-{len(depots) + 1}")  # type: ignore[arg-type]
        shift = _rel(v.time_window, p.t0, (0, 2 * DAY_S - 60))
        row = {
            "vehicle_id": str(v.id),
            "depot_id": dep,
            "depot_lat": v.start[1],  # type: ignore[index]
            "depot_lon": v.start[0],  # type: ignore[index]
            "capacity_units": v.capacity[0] if p.dims else 10**9,
            "shift_start": _minutes(shift[0]),
            "shift_end": _minutes(shift[1]),
            "cost_per_km": float(v.per_km),
            "cost_per_hour": float(v.per_hour),
            "fixed_cost": float(v.fixed),
            "break_start": None,
            "break_end": None,
            "break_min": None,
        }
        if v.breaks:
            b = v.breaks[0]
            lo, hi = _rel(b.time_window, p.t0, shift)
            row.update(break_start=_minutes(lo), break_end=_minutes(hi), break_min=b.service / 60.0)
        rows.append(row)
    return pd.DataFrame(rows)


def _plan_settings(p: VroomProblem, time_limit_s: float | None = None):
    from ..settings import PlanSettings

    o = p.options
    return PlanSettings(
        depart_s=None if o.depart_s is None else o.depart_s - p.t0,
        max_snap_m=o.max_snap_m,
        engine=o.engine,
        time_limit_s=float(time_limit_s or o.time_limit_s),
        seed=o.seed,
        deterministic=o.deterministic,
    )


def plan_date(p: VroomProblem) -> str | None:
    """The plan date (YYYY-MM-DD) for traffic weekday and weather: ``options.date``, else
    the UTC day of absolute timestamps, else None."""
    if p.options.date:
        return p.options.date
    if p.t0:
        return dt.datetime.fromtimestamp(p.t0, tz=dt.UTC).date().isoformat()
    return None


def _network_routes(p: VroomProblem, jobs: Sequence[Job], plan, vehicles=None):
    """Routes (steps + road geometry) and unassigned reasons of a RoutePlan."""
    from ..outputs import route_coordinates

    veh = {str(v.id): v for v in (vehicles if vehicles is not None else p.vehicles)}
    by_id = {str(j.id): j for j in jobs}
    job_of_node = {i: by_id[sid] for i, sid in enumerate(plan.problem.node_ids) if sid in by_id}
    routes = []
    for k, sim in enumerate(plan.sims):
        v = veh[plan.problem.vehicles[sim.vehicle].vehicle_id]
        start_loc = None
        vn = plan.problem.node_ids[plan.problem.vehicles[sim.vehicle].start]
        if vn.startswith("@"):
            x, y = plan.node_lonlat[plan.problem.vehicles[sim.vehicle].start]
            start_loc = {"location": [round(float(x), 6), round(float(y), 6)]}
        steps = _steps_from_sim(p, sim, v, job_of_node, start_loc=start_loc)
        geo = [(float(a), float(b)) for a, b in route_coordinates(plan, k)]
        routes.append(_Route(v, steps, geo))
    un = {}
    for sid, why in zip(plan.unassigned["stop_id"], plan.unassigned["reason"], strict=True):
        j = by_id[str(sid)]
        un[j.id] = _reason(p, j, str(why))
    return routes, un


def _solve_network(p: VroomProblem, jobs: Sequence[Job], network, speed):
    if network is None:
        raise InputError(
            "no road network: a problem without matrices needs one",
            column="matrices",
            fix="give matrices (durations per profile) or serve/run with --roads",
        )
    stops = _stops_frame(p, jobs)
    fleet = _fleet_frame(p, p.vehicles)
    settings = _plan_settings(p)
    try:
        return _plan_network(p, stops, fleet, network, speed, settings)
    except InputError as exc:
        raise _located(exc, jobs, p.vehicles) from None


def _located(exc: InputError, jobs: Sequence[Job], vehicles: Sequence[VroomVehicle]) -> InputError:
    """A snapping error of the stops/fleet tables, named by its JSON path."""
    if exc.table not in ("stops", "fleet") or exc.row is None:
        return exc
    detail = exc.message.split(" is ", 1)[-1] if " is " in exc.message else exc.message
    if exc.table == "stops" and exc.row < len(jobs):
        path = f"jobs[{exc.row}].location"
        what = f"job {jobs[exc.row].id}"
    elif exc.table == "fleet" and exc.row < len(vehicles):
        path = f"vehicles[{exc.row}].start"
        what = f"vehicle {vehicles[exc.row].id}'s start"
    else:
        return exc
    return InputError(f"{path}: {what} is {detail}", column=path, fix=exc.fix)


def _plan_network(p: VroomProblem, stops, fleet, network, speed, settings):
    from ..plan import plan_routes

    if any(v.steps for v in p.vehicles):
        from ..context import build_context
        from ..iterate import iterate_plan
        from ..plan import assemble
        from ..traffic import SpeedModel

        ctx = build_context(stops, fleet, network, speed or SpeedModel.free_flow(), settings)
        index = {sid: i for i, sid in enumerate(ctx.node_ids)}
        init = tuple(
            tuple(
                index[str(x)]
                for x in v.steps
                if str(x) in index and index[str(x)] in ctx.stop_nodes
            )
            for v in p.vehicles
        )
        plan = assemble(ctx, iterate_plan(ctx, settings, initial_routes=init), date=plan_date(p))
    else:
        plan = plan_routes(stops, fleet, network, speed=speed, settings=settings, date=plan_date(p))
    return plan


def _records(df) -> list[dict[str, Any]]:
    import pandas as pd

    out = df.astype(object).where(pd.notna(df), None)
    recs = out.to_dict("records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in recs]
