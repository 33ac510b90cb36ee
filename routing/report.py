"""Output tables and KPIs of a simulated plan: ``routes``, ``unassigned``, the summary."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .context import PlanContext
from .problem import RoutingProblem, Solution
from .simulate import RouteSim
from .tables import hhmm, tw_end_text

ROUTE_COLUMNS = (
    "vehicle_id",
    "seq",
    "stop_id",
    "arrival",
    "departure",
    "load_units",
    "leg_km",
    "leg_min",
    "kind",
    "lat",
    "lon",
    "tw_start",
    "tw_end",
    "service_min",
    "wait_min",
    "break_min",
    "break_start",
    "late_min",
    "on_time",
)


def routes_table(
    problem: RoutingProblem, sims: Sequence[RouteSim], node_lonlat: np.ndarray, stops: pd.DataFrame
) -> pd.DataFrame:
    """One row per vehicle start, stop and end, with simulated times (DESIGN contract first)."""
    st = stops.set_index("stop_id")
    rows = []
    for s in sims:
        v = problem.vehicles[s.vehicle]
        start_break = 0.0
        start_break_at = None
        if s.break_start_s is not None and not any(x.break_s for x in s.visits):
            start_break = v.break_.duration_s / 60.0 if v.break_ else 0.0
            start_break_at = s.break_start_s
        leave = s.depart_s if s.leave_s is None else s.leave_s
        rows.append(
            _row(
                v.vehicle_id,
                0,
                problem.node_ids[v.start],
                s.depart_s,
                leave,
                sum(s.load_start),
                0.0,
                0.0,
                "start",
                node_lonlat[v.start],
                break_min=start_break,
                break_start=start_break_at,
            )
        )
        for k, x in enumerate(s.visits, start=1):
            sid = problem.node_ids[x.node]
            r = st.loc[sid]
            rows.append(
                _row(
                    v.vehicle_id,
                    k,
                    sid,
                    x.arrival_s,
                    x.departure_s,
                    sum(x.load_after),
                    x.leg_m,
                    x.leg_s,
                    "stop",
                    node_lonlat[x.node],
                    tw=(r["tw_start_s"], r["tw_end_s"]),
                    service_min=r["service_s"] / 60.0,
                    wait_min=x.wait_s / 60.0,
                    break_min=x.break_s / 60.0,
                    break_start=x.break_start_s,
                    late_min=x.late_s / 60.0,
                )
            )
        rows.append(
            _row(
                v.vehicle_id,
                len(s.visits) + 1,
                problem.node_ids[v.end],
                s.end_arrival_s,
                s.end_arrival_s,
                0,
                s.end_leg_m,
                s.end_leg_s,
                "end",
                node_lonlat[v.end],
                late_min=max(0.0, s.end_arrival_s - v.shift_end_s) / 60.0,
            )
        )
    return pd.DataFrame(rows, columns=list(ROUTE_COLUMNS))


def _row(
    vid,
    seq,
    sid,
    arr,
    dep,
    load,
    leg_m,
    leg_s,
    kind,
    lonlat,
    *,
    tw=None,
    service_min=0.0,
    wait_min=0.0,
    break_min=0.0,
    break_start=None,
    late_min=0.0,
) -> dict:
    return {
        "vehicle_id": vid,
        "seq": int(seq),
        "stop_id": sid,
        "arrival": hhmm(arr),
        "departure": hhmm(dep),
        "load_units": int(load),
        "leg_km": round(leg_m / 1000.0, 3),
        "leg_min": round(leg_s / 60.0, 2),
        "kind": kind,
        "lat": round(float(lonlat[1]), 6),
        "lon": round(float(lonlat[0]), 6),
        "tw_start": "" if tw is None else hhmm(tw[0]),
        "tw_end": "" if tw is None else tw_end_text(tw[1]),
        "service_min": round(float(service_min), 2),
        "wait_min": round(float(wait_min), 2),
        "break_min": round(float(break_min), 2),
        "break_start": "" if break_start is None else hhmm(break_start),
        "late_min": round(float(late_min), 2),
        "on_time": bool(late_min <= 0.0083),
    }


def unassigned_table(
    problem: RoutingProblem,
    sol: Solution,
    ctx: PlanContext,
    extra_unassigned: dict[str, str] | None = None,
) -> pd.DataFrame:
    """One row per stop left unserved (before or by the solver, or ``extra_unassigned``:
    stop_id -> reason), sorted by stop_id."""
    reasons = dict(ctx.pre_unassigned)
    st_tw = ctx.stops.set_index("stop_id")["tw_end_s"]
    for s in sol.unassigned:
        sid = problem.node_ids[s]
        why = sol.reasons.get(s, "penalty cheaper")
        if why.startswith("window unreachable") and sid in st_tw.index:
            # the solver saw the window shortened by late_margin_s: quote the user's window
            why = (
                f"window unreachable: no vehicle can arrive at {sid!r} before its window "
                f"closes at {hhmm(st_tw[sid])}"
            )
        reasons[sid] = why
    reasons.update(extra_unassigned or {})
    st = ctx.stops.set_index("stop_id")
    un_rows = []
    for sid, why in reasons.items():
        if sid in st.index:
            r = st.loc[sid]
            un_rows.append(
                {
                    "stop_id": sid,
                    "reason": why,
                    "lat": float(r["lat"]),
                    "lon": float(r["lon"]),
                    "demand_units": int(r["demand"]),
                    "tw_start": hhmm(r["tw_start_s"]),
                    "tw_end": tw_end_text(r["tw_end_s"]),
                }
            )
        else:
            un_rows.append(
                {
                    "stop_id": sid,
                    "reason": why,
                    "lat": np.nan,
                    "lon": np.nan,
                    "demand_units": 0,
                    "tw_start": "",
                    "tw_end": "",
                }
            )
    unassigned = pd.DataFrame(
        un_rows, columns=["stop_id", "reason", "lat", "lon", "demand_units", "tw_start", "tw_end"]
    )
    return unassigned.sort_values("stop_id", kind="stable").reset_index(drop=True)


def summarize(
    problem: RoutingProblem,
    sol: Solution,
    sims: Sequence[RouteSim],
    ctx: PlanContext,
    log_rows: list[dict],
    *,
    n_unassigned: int,
) -> dict:
    """KPIs of a simulated plan."""
    served = sum(len(s.visits) for s in sims)
    late = sum(s.late_stops for s in sims)
    km = sum(s.distance_m for s in sims) / 1000.0
    fixed = sum(problem.vehicles[s.vehicle].fixed_cost for s in sims)
    dist_cost = sum(problem.vehicles[s.vehicle].cost_per_km * s.distance_m / 1000.0 for s in sims)
    time_cost = sum(problem.vehicles[s.vehicle].cost_per_hour * s.duration_s / 3600.0 for s in sims)
    load_used = sum(sum(s.load_start) for s in sims)
    cap_used = sum(problem.vehicles[s.vehicle].capacity[0] for s in sims)
    shift = sum(
        problem.vehicles[s.vehicle].shift_end_s - problem.vehicles[s.vehicle].shift_start_s
        for s in sims
    )
    kept = next((r for r in log_rows if r.get("kept")), log_rows[-1] if log_rows else {})
    return {
        "stops": len(ctx.stops),
        "served": served,
        "unassigned": n_unassigned,
        "vehicles_available": len(problem.vehicles),
        "vehicles_used": len(sims),
        "km": round(km, 3),
        "driving_h": round(sum(s.driving_s for s in sims) / 3600.0, 3),
        "service_h": round(sum(s.service_s for s in sims) / 3600.0, 3),
        "wait_h": round(sum(s.wait_s for s in sims) / 3600.0, 3),
        "break_h": round(
            sum(
                (
                    problem.vehicles[s.vehicle].break_.duration_s
                    if s.break_start_s is not None and problem.vehicles[s.vehicle].break_
                    else 0
                )
                for s in sims
            )
            / 3600.0,
            3,
        ),
        "cost": {
            "fixed": round(fixed, 2),
            "distance": round(dist_cost, 2),
            "time": round(time_cost, 2),
            "total": round(fixed + dist_cost + time_cost, 2),
        },
        "late_stops": late,
        "on_time_share": round(1.0 - late / served, 4) if served else None,
        "shift_overruns": sum(
            1 for s in sims if s.end_arrival_s > problem.vehicles[s.vehicle].shift_end_s + 0.5
        ),
        "breaks_late": sum(1 for s in sims if s.break_late_s > 0.5),
        "utilisation": {
            "load": round(load_used / cap_used, 4) if cap_used else None,
            "time": round(sum(s.duration_s for s in sims) / shift, 4) if shift else None,
        },
        "eta_planned_vs_simulated_max_abs_min": kept.get("eta_max_abs_error_min"),
        "engine": sol.engine,
        "solver_status": sol.status,
        "iterations": log_rows,
        "network": ctx.net.report.as_dict(),
        "snap_m": {
            "max": round(float(np.max(ctx.snap_m)), 1),
            "mean": round(float(np.mean(ctx.snap_m)), 1),
        },
        "snap_far": dict(sorted(ctx.snap_far.items())),
        "matrix_dijkstra_runs": ctx.mats.dijkstra_runs,
    }
