"""Problems that carry ``matrices``: the RoutingProblem built from them and its solution."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .drive import _matrix_sim
from .fields import _err
from .model import (
    DAY_S,
    MAX_PER_VEHICLE_ENTRIES,
    Job,
    VroomProblem,
    VroomVehicle,
    _all_times,
    _capacity,
    _demand,
    _depart_s,
    _rel,
)
from .output import _reason, _Route, _steps_from_sim, _straight


@dataclass
class _Nodes:
    """The RoutingProblem nodes of a matrices problem: matrix row (-1: the open node)."""

    ids: list[str]
    loc: list[int]
    stops: list[int]  # job node per job position (-1: not in this problem)


def _horizon(p: VroomProblem, jobs: Sequence[Job], max_dur: int) -> int:
    """A time (s, internal frame) beyond which nothing can happen."""
    hi = max((t - p.t0 for t in _all_times(jobs, p.vehicles)), default=0)
    busy = sum(j.service for j in jobs) + sum(b.service for v in p.vehicles for b in v.breaks)
    return int(min(hi + busy + (len(jobs) + 2) * max_dur + DAY_S, 2**50))


def _cost_model(p: VroomProblem, veh: Sequence[VroomVehicle], dur0: np.ndarray, dist0):
    """(internal distance matrix, per-vehicle (cost_per_km, cost_per_hour), exact?).

    VROOM's objective is per arc: ``per_hour * s / 3600 + per_km * m / 1000``. When every
    vehicle's arc costs are one shared matrix times a factor it is optimised exactly (the
    matrix goes in as the 'distance'); otherwise per_km applies to metres and per_hour to
    the route's span (an approximation, reported costs stay VROOM's)."""
    groups = {(v.profile, v.speed_factor) for v in veh}
    rates = {(v.per_hour, v.per_km) for v in veh}
    if len(groups) == 1:
        if len(rates) == 1:
            ph, pk = next(iter(rates))
            c = ph * dur0 / 3600.0 + (pk * dist0 / 1000.0 if dist0 is not None else 0.0)
            return np.rint(c * 1000.0).astype(np.int64), [(1.0, 0.0)] * len(veh), True
        if all(v.per_km == 0 for v in veh) or dist0 is None:
            return dur0, [(v.per_hour / 3.6, 0.0) for v in veh], all(v.per_km == 0 for v in veh)
        if all(v.per_hour == 0 for v in veh):
            return dist0, [(float(v.per_km), 0.0) for v in veh], True
    base = dist0 if dist0 is not None else dur0
    per_km = [(float(v.per_km) if dist0 is not None else v.per_hour / 3.6) for v in veh]
    return (
        base,
        [
            (k, float(v.per_hour) if dist0 is not None else 0.0)
            for k, v in zip(per_km, veh, strict=True)
        ],
        False,
    )


def _matrix_problem(
    p: VroomProblem,
    jobs: Sequence[Job],
    *,
    starts: Mapping[int, tuple[int, int]] | None = None,
    capacity_left: Mapping[int, tuple[int, ...]] | None = None,
    pinned: Mapping[int, int] | None = None,
    initial: Mapping[int, Sequence[int]] | None = None,
    reassign_penalty: float = 0.0,
    vehicles: Sequence[VroomVehicle] | None = None,
    no_break: set[int] | None = None,
):
    """The RoutingProblem of a matrices problem for ``jobs`` (job positions in ``jobs``).

    Re-planning: ``starts`` vehicle id -> (matrix row, ready time internal s) of a vehicle
    out on the road; ``pinned`` vehicle id -> job position kept first; ``initial`` vehicle
    id -> job positions (warm start). Returns (problem, nodes, real durations (V, n, n),
    real distances (V, n, n) or None, exact-objective flag).
    """
    from ..problem import RoutingProblem

    veh = list(vehicles if vehicles is not None else p.vehicles)
    starts = starts or {}
    nodes, vstart, vend = _nodes(veh, jobs, starts)
    stop_nodes = nodes.stops
    n = len(nodes.ids)
    by_group = _travel_matrices(p, veh, nodes.loc)
    real = [by_group[(v.profile, v.speed_factor)][0] for v in veh]
    has_dist = all("distances" in p.matrices[v.profile] for v in veh)
    dist = [by_group[(v.profile, v.speed_factor)][1] for v in veh] if has_dist else None
    max_dur = max(int(g[0].max(initial=0)) for g in by_group.values())
    H = _horizon(p, jobs, max_dur)
    dur = _solver_durations(veh, jobs, stop_nodes, by_group, H + 1, n)
    dist_mat, rates, _exact = _cost_model(p, veh, real[0], None if dist is None else dist[0])
    tw = np.zeros((n, 2), dtype=np.int64)
    tw[:, 1] = H
    svc = np.zeros(n, dtype=np.int64)
    dem = np.zeros((n, max(p.dims, 1)), dtype=np.int64)
    dp = np.zeros(n)
    base = _drop_base(veh, jobs, by_group, max_dur)
    for s, j in zip(stop_nodes, jobs, strict=True):
        tw[s] = _rel(j.time_window, p.t0, (0, H))
        svc[s] = j.service
        dem[s] = _demand(p, j)
        dp[s] = base * (1 + j.priority)
    pinned = dict(pinned or {})
    vehicles_out = [
        _vehicle(p, v, k, vstart, vend, real, rates, H, starts, capacity_left, pinned, no_break)
        for k, v in enumerate(veh)
    ]
    job_node = {k: s for k, s in enumerate(stop_nodes)}
    pins = {str(vid): (job_node[jp],) for vid, jp in pinned.items()}
    init = None
    if initial:
        init = tuple(tuple(job_node[x] for x in initial.get(v.id, ())) for v in veh)
    problem = RoutingProblem(
        node_ids=tuple(nodes.ids),
        stops=tuple(stop_nodes),
        distance_m=dist_mat,
        duration_s=dur,
        demand=dem,
        tw_s=tw,
        service_s=svc,
        vehicles=tuple(vehicles_out),
        drop_penalty=dp,
        pinned=pins,
        initial_routes=init,
        # never leave a job out to avoid moving it (a down vehicle's jobs move)
        reassign_penalty=min(float(reassign_penalty), base / 2.0),
        objective="cost",
    )
    problem.validate()
    return problem, nodes, real, dist


def _nodes(
    veh: Sequence[VroomVehicle], jobs: Sequence[Job], starts: Mapping[int, tuple[int, int]]
) -> tuple[_Nodes, list[int], list[int]]:
    """(nodes, start node per vehicle, end node per vehicle): one node per distinct place."""
    ids: list[str] = []
    loc: list[int] = []
    where: dict[str, int] = {}

    def node(key: str, row: int) -> int:
        if key not in where:
            where[key] = len(ids)
            ids.append(key)
            loc.append(row)
        return where[key]

    vstart, vend = [], []
    for v in veh:
        if v.id in starts and starts[v.id][0] is not None:
            vstart.append(node(f"@{v.id}", starts[v.id][0]))
        else:
            vstart.append(
                node("open", -1)
                if v.start_index is None
                else node(f"loc:{v.start_index}", v.start_index)
            )
        vend.append(
            node("open", -1) if v.end_index is None else node(f"loc:{v.end_index}", v.end_index)
        )
    stop_nodes = [node(f"job:{j.id}", int(j.location_index)) for j in jobs]  # type: ignore[arg-type]
    return _Nodes(ids, loc, stop_nodes), vstart, vend


def _travel_matrices(
    p: VroomProblem, veh: Sequence[VroomVehicle], loc: Sequence[int]
) -> dict[tuple[str, float], tuple[np.ndarray, np.ndarray | None]]:
    """One (n, n) durations (s) / distances (m) pair per profile and speed factor, shared by
    the vehicles that use it; the open node is 0 away from everything."""
    rows = np.asarray(loc)
    opened = rows < 0
    r = np.where(opened, 0, rows)
    by_group: dict[tuple[str, float], tuple[np.ndarray, np.ndarray | None]] = {}
    has_dist = all("distances" in p.matrices[v.profile] for v in veh)
    for v in veh:
        key = (v.profile, v.speed_factor)
        if key in by_group:
            continue
        m = p.matrices[v.profile]
        d = m["durations"][np.ix_(r, r)].astype(np.float64)
        if v.speed_factor != 1.0:
            d = np.rint(d / v.speed_factor)
        d[opened, :] = 0
        d[:, opened] = 0
        dd = None
        if has_dist:
            dd = m["distances"][np.ix_(r, r)].copy()
            dd[opened, :] = 0
            dd[:, opened] = 0
        by_group[key] = (d.astype(np.int64), dd)
    return by_group


def _solver_durations(veh, jobs, stop_nodes, by_group, big: int, n: int) -> np.ndarray:
    """The solver's durations: a job a vehicle lacks the skills for is ``big`` s away.
    One (n, n) matrix when all vehicles share it, else (V, n, n)."""
    solver_by: dict[tuple, np.ndarray] = {}
    keys = []
    for v in veh:
        bad = tuple(s for s, j in zip(stop_nodes, jobs, strict=True) if not j.skills <= v.skills)
        key = (v.profile, v.speed_factor, bad)
        keys.append(key)
        if key not in solver_by:
            m = by_group[(v.profile, v.speed_factor)][0]
            if bad:
                m = m.copy()
                m[:, list(bad)] = big
                m[list(bad), list(bad)] = 0
            solver_by[key] = m
    if len(solver_by) == 1:
        return next(iter(solver_by.values()))
    if len(veh) * n * n > MAX_PER_VEHICLE_ENTRIES:
        raise _err(
            "vehicles",
            f"{len(solver_by)} different profiles / speed factors / skill sets for "
            f"{len(veh)} vehicles over {n} nodes need {len(veh) * n * n:,} matrix entries "
            f"(limit {MAX_PER_VEHICLE_ENTRIES:,})",
            fix="use fewer vehicles or give them the same profile, speed and skills",
        )
    return np.stack([solver_by[k] for k in keys])


def _drop_base(veh, jobs, by_group, max_dur: int) -> float:
    """Penalty (objective units) for leaving a priority-0 job out: more than serving it
    costs (VROOM serves all it can first)."""
    maxdist = max(
        (float(x[1].max(initial=0)) for x in by_group.values() if x[1] is not None), default=0.0
    )
    arc = max(
        (v.per_hour * max_dur / 3600.0 + v.per_km * maxdist / 1000.0 for v in veh), default=0.0
    )
    base = 10.0 * (2.0 * arc + max((v.fixed for v in veh), default=0)) + 1000.0
    return min(base, 4e18 / 3.6e6 / max(1, len(jobs)) / 101.0)


def _vehicle(p, v, k, vstart, vend, real, rates, H, starts, capacity_left, pinned, no_break):
    """The RoutingProblem vehicle ``k``; a vehicle ready too late to serve anything only
    drives to its end (and loses its pin: ``pinned`` is updated)."""
    from ..problem import Break, Vehicle

    shift = _rel(v.time_window, p.t0, (0, H))
    s0 = _depart_s(p, shift)
    end_s = shift[1]
    cap = capacity_left.get(v.id) if capacity_left else None
    if v.id in starts:
        s0 = max(int(starts[v.id][1]), shift[0])
        trip = int(real[k][vstart[k], vend[k]])
        if s0 + trip > end_s:
            end_s = s0 + trip + 3600
            cap = (0,) * len(_capacity(p, v))
            pinned.pop(v.id, None)
    brk = None
    if v.breaks and v.id not in (no_break or set()):
        b = v.breaks[0]
        lo, hi = _rel(b.time_window, p.t0, shift)
        if not (v.id in starts and s0 > hi):
            brk = Break(max(lo, s0) if v.id in starts else lo, hi, b.service)
    return Vehicle(
        vehicle_id=str(v.id),
        start=vstart[k],
        end=vend[k],
        capacity=tuple(cap) if cap is not None else _capacity(p, v),
        shift_start_s=int(s0),
        shift_end_s=int(end_s),
        fixed_cost=float(v.fixed),
        cost_per_km=rates[k][0],
        cost_per_hour=rates[k][1],
        break_=brk,
    )


def _settings(p: VroomProblem, time_limit_s: float | None = None):
    from ..problem import SolveSettings

    o = p.options
    return SolveSettings(
        engine=o.engine,
        time_limit_s=float(time_limit_s or o.time_limit_s),
        seed=o.seed,
        deterministic=o.deterministic,
    )


def _solve_matrices(p: VroomProblem, jobs: Sequence[Job]) -> tuple[list[_Route], dict[int, str]]:
    from ..solve import solve

    initial = None
    pos = {j.id: k for k, j in enumerate(jobs)}
    if any(v.steps for v in p.vehicles):
        initial = {v.id: [pos[x] for x in v.steps if x in pos] for v in p.vehicles}
    # a vehicle that cannot even drive from its start to its end within its time window
    # serves nothing and is left out (as VROOM: an unused vehicle has no route)
    veh = [v for v in p.vehicles if _can_drive(p, v)]
    if not veh:
        un = {
            j.id: "shift: no vehicle can drive from its start to its end in its time window"
            for j in jobs
        }
        return [], un
    problem, nodes, real, dist = _matrix_problem(p, jobs, initial=initial, vehicles=veh)
    sol = solve(problem, _settings(p))
    return _matrix_routes(p, jobs, problem, nodes, real, dist, sol, vehicles=veh)


def _can_drive(p: VroomProblem, v: VroomVehicle) -> bool:
    """Whether the bare trip start -> end fits the vehicle's time window (matrices)."""
    if v.time_window is None or v.start_index is None or v.end_index is None:
        return True
    shift = _rel(v.time_window, p.t0, (0, 0))
    d = float(p.matrices[v.profile]["durations"][v.start_index, v.end_index])
    return _depart_s(p, shift) + round(d / v.speed_factor) <= shift[1]


def _matrix_routes(p, jobs, problem, nodes: _Nodes, real, dist, sol, vehicles=None):
    veh = list(vehicles if vehicles is not None else p.vehicles)
    job_of_node = {nodes.stops[k]: j for k, j in enumerate(jobs)}
    routes = []
    for vi, r in enumerate(sol.routes):
        sim = _matrix_sim(problem, vi, tuple(int(x) for x in r), real, dist)
        steps = _steps_from_sim(p, sim, veh[vi], job_of_node)
        routes.append(_Route(veh[vi], steps, _straight(steps)))
    un = {
        job_of_node[s].id: _reason(p, job_of_node[s], sol.reasons.get(s, "not served"))
        for s in sol.unassigned
    }
    return routes, un
