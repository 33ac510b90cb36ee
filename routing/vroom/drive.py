"""Static simulation of a route on the matrices (ETAs as VROOM computes them)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np


def _matrix_sim(problem, v: int, route: tuple[int, ...], real: np.ndarray, dist):
    """Static simulation of one route on the matrices (a :class:`routing.RouteSim`).

    As VROOM: the vehicle leaves at its shift start, or later by the wait it would have at
    its first job (no service start moves)."""
    from ..schedule import planned_schedule

    gap = planned_schedule(problem, v, route).break_gap
    veh = problem.vehicles[v]
    t0 = float(max(veh.shift_start_s, int(problem.tw_s[veh.start, 0])))
    sim = _matrix_drive(problem, v, route, real, dist, t0, gap)
    if sim.visits and sim.visits[0].wait_s > 0 and sim.break_start_s is None:
        sim = _matrix_drive(problem, v, route, real, dist, t0 + sim.visits[0].wait_s, gap)
    return sim


def _matrix_drive(problem, v: int, route, real, dist, depart: float, gap):
    """Drive ``route`` on the matrices leaving at ``depart`` (s), the break on leg ``gap``."""
    from ..simulate import RouteSim, serve

    veh = problem.vehicles[v]
    b = veh.break_
    dur, dm = real[v], (dist[v] if dist is not None else None)
    dem = np.asarray(problem.demand)
    load = dem[list(route)].sum(axis=0) if route else np.zeros(dem.shape[1], dtype=np.int64)
    t = float(depart)
    prev = veh.start
    visits: list = []
    brk_at = None
    end = (0.0, 0.0, 0.0)
    for pos, node in enumerate((*route, veh.end)):
        travel = float(dur[prev, node])
        metres = float(dm[prev, node]) if dm is not None else 0.0
        rest_here = 0.0
        if b is not None and gap == pos:
            rest_from = max(t, float(b.earliest_s))
            brk_at = rest_from
            if visits:
                visits[-1] = replace(
                    visits[-1], break_s=float(b.duration_s), break_start_s=rest_from
                )
            if rest_from >= t + travel:
                arrive = t + travel
                ready = max(arrive, rest_from + b.duration_s)
                rest_here = float(b.duration_s)
            else:
                arrive = t + travel + b.duration_s
                ready = arrive
        else:
            arrive = ready = t + travel
        if pos == len(route):
            end = (ready, metres, travel)
            break
        load = load - dem[node]
        visits.append(serve(problem, node, arrive, ready, rest_here, load, metres, travel))
        t = visits[-1].departure_s
        prev = node
    return RouteSim(
        vehicle=v,
        depart_s=float(depart),
        load_start=tuple(int(x) for x in dem[list(route)].sum(axis=0)) if route else (0,),
        visits=tuple(visits),
        end_arrival_s=end[0],
        end_leg_m=end[1],
        end_leg_s=end[2],
        break_start_s=brk_at,
        break_late_s=max(0.0, brk_at - b.latest_s)
        if (b is not None and brk_at is not None)
        else 0.0,
        leave_s=float(depart),
    )
