"""VROOM's output format: steps from a simulated route, totals, and the cost rule
(``costs.fixed + per_hour * travel_s / 3600 + per_km * metres / 1000`` per used vehicle).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .model import Job, VroomProblem, VroomVehicle


@dataclass
class _Route:
    """One vehicle's steps in VROOM's output form (times internal until formatted)."""

    vehicle: VroomVehicle
    steps: list[dict[str, Any]]
    geometry: list[tuple[float, float]] = field(default_factory=list)


def _job_loc(j: Job) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if j.location is not None:
        out["location"] = [j.location[0], j.location[1]]
    if j.location_index is not None:
        out["location_index"] = j.location_index
    return out


def _end_loc(v: VroomVehicle, which: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    c = getattr(v, which)
    i = getattr(v, f"{which}_index")
    if c is not None:
        out["location"] = [c[0], c[1]]
    if i is not None:
        out["location_index"] = i
    return out


def _amounts(p: VroomProblem, j: Job) -> tuple[np.ndarray, np.ndarray]:
    d = np.zeros(p.dims, dtype=np.int64)
    q = np.zeros(p.dims, dtype=np.int64)
    if j.delivery:
        d += np.asarray(j.delivery)
    if j.pickup:
        q += np.asarray(j.pickup)
    return d, q


def _steps_from_sim(
    p: VroomProblem,
    sim,
    v: VroomVehicle,
    job_of_node: Mapping[int, Job],
    *,
    start_loc: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """VROOM steps (internal times) of one simulated route; ``load`` by VROOM's rule."""
    jobs = [job_of_node[x.node] for x in sim.visits]
    dl = np.zeros(p.dims, dtype=np.int64)
    for j in jobs:
        dl += _amounts(p, j)[0]
    load = dl.copy()
    brk = v.breaks[0] if v.breaks else None
    first = jobs[0] if jobs else None
    if start_loc is None:
        start_loc = (
            _end_loc(v, "start")
            if (v.start or v.start_index is not None)
            else (_job_loc(first) if first else {})
        )
    steps = [
        _step(
            "start",
            None,
            start_loc,
            sim.depart_s if sim.leave_s is None else sim.leave_s,
            0,
            0,
            0,
            0,
            load,
        )
    ]
    travel = 0.0
    metres = 0.0

    def add_break(at: float, loc: dict[str, Any]) -> None:
        steps.append(_step("break", brk.id, loc, at, travel, brk.service, 0, metres, load))  # type: ignore[union-attr]

    at_start_break = sim.break_start_s is not None and not any(x.break_s for x in sim.visits)
    if at_start_break and brk is not None:
        add_break(sim.break_start_s, start_loc)
    for x, j in zip(sim.visits, jobs, strict=True):
        travel += x.leg_s
        metres += x.leg_m
        d, q = _amounts(p, j)
        load = load - d + q
        s = _step("job", j.id, _job_loc(j), x.arrival_s, travel, j.service, x.wait_s, metres, load)
        if x.late_s > 0.5:
            s["violations"] = [{"cause": "delay", "duration": round(x.late_s)}]
        steps.append(s)
        if j.description is not None:
            s["description"] = j.description
        if x.break_s and brk is not None and x.break_start_s is not None:
            add_break(x.break_start_s, _job_loc(j))
    travel += sim.end_leg_s
    metres += sim.end_leg_m
    end_loc = (
        _end_loc(v, "end")
        if (v.end or v.end_index is not None)
        else (_job_loc(jobs[-1]) if jobs else start_loc)
    )
    steps.append(
        _step("end", None, end_loc, sim.end_arrival_s, travel, 0, sim.end_wait_s, metres, load)
    )
    return steps


def _step(kind, sid, loc, arrival, travel, service, wait, metres, load) -> dict[str, Any]:
    s: dict[str, Any] = {"type": kind}
    if sid is not None:
        s["id"] = int(sid)
    s.update(loc)
    s.update(
        {
            "setup": 0,
            "service": int(service),
            "waiting_time": round(float(wait)),
            "load": [int(x) for x in load],
            "arrival": float(arrival),
            "duration": round(float(travel)),
            "distance": round(float(metres)),
            "violations": [],
        }
    )
    return s


def _format(
    p: VroomProblem,
    jobs: Sequence[Job],
    routes: Sequence[_Route],
    unassigned: Mapping[int, str],
    *,
    has_distance: bool,
) -> dict[str, Any]:
    """VROOM's output: times made absolute (t0 added), rounded to whole seconds."""
    by_id = {j.id: j for j in jobs}
    out_routes = []
    tot: dict[str, Any] = {"cost": 0, "service": 0, "duration": 0, "waiting_time": 0, "distance": 0}
    tot_dl = np.zeros(p.dims, dtype=np.int64)
    tot_pu = np.zeros(p.dims, dtype=np.int64)
    prio = 0
    for r in routes:
        if not any(s["type"] == "job" for s in r.steps):
            continue
        v = r.vehicle
        dl = np.zeros(p.dims, dtype=np.int64)
        pu = np.zeros(p.dims, dtype=np.int64)
        steps = []
        for s in r.steps:
            s = dict(s)
            s["arrival"] = round(s["arrival"]) + p.t0
            if not p.dims:
                s.pop("load", None)
            if not has_distance:
                s.pop("distance", None)
            if s["type"] == "job":
                d, q = _amounts(p, by_id[s["id"]])
                dl += d
                pu += q
                prio += by_id[s["id"]].priority
            steps.append(s)
        duration = steps[-1]["duration"]
        distance = r.steps[-1]["distance"] if has_distance else 0
        service = sum(s["service"] for s in steps)
        waiting = sum(s["waiting_time"] for s in steps)
        cost = round(v.fixed + v.per_hour * duration / 3600.0 + v.per_km * distance / 1000.0)
        route: dict[str, Any] = {"vehicle": v.id, "cost": cost}
        if p.dims:
            route["delivery"] = dl.tolist()
            route["pickup"] = pu.tolist()
        route.update(
            {
                "setup": 0,
                "service": service,
                "duration": duration,
                "waiting_time": waiting,
                "priority": sum(by_id[s["id"]].priority for s in steps if s["type"] == "job"),
            }
        )
        if has_distance:
            route["distance"] = distance
        if v.description is not None:
            route["description"] = v.description
        route["violations"] = [x for s in steps for x in s["violations"]]
        route["steps"] = steps
        out_routes.append(route)
        tot_dl += dl
        tot_pu += pu
        for k in ("cost", "service", "duration", "waiting_time"):
            tot[k] += route[k]
        tot["distance"] += distance
    un = []
    for jid, why in unassigned.items():
        j = by_id[jid]
        u: dict[str, Any] = {"id": jid, "type": "job", **_job_loc(j)}
        if j.description is not None:
            u["description"] = j.description
        u["reason"] = why
        un.append(u)
    summary: dict[str, Any] = {
        "cost": tot["cost"],
        "routes": len(out_routes),
        "unassigned": len(un),
    }
    if p.dims:
        summary["delivery"] = tot_dl.tolist()
        summary["pickup"] = tot_pu.tolist()
    summary.update(
        {
            "setup": 0,
            "service": tot["service"],
            "duration": tot["duration"],
            "waiting_time": tot["waiting_time"],
            "priority": prio,
            "violations": [x for r in out_routes for x in r["violations"]],
        }
    )
    if has_distance:
        summary["distance"] = tot["distance"]
    return {"code": 0, "summary": summary, "unassigned": un, "routes": out_routes}


def _reason(p: VroomProblem, j: Job, why: str) -> str:
    if j.skills and not any(j.skills <= v.skills for v in p.vehicles):
        return f"skills: no vehicle has the skills {sorted(j.skills)}"
    return why


def _straight(steps: Sequence[Mapping[str, Any]]) -> list[tuple[float, float]]:
    pts = [tuple(s["location"]) for s in steps if "location" in s]
    out: list[tuple[float, float]] = []
    for x in pts:
        if not out or out[-1] != x:
            out.append((float(x[0]), float(x[1])))
    return out
