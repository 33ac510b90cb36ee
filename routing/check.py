"""Independent static checker, plan evaluation and reasons for unassigned stops.

Nothing here calls an engine: loads, arrival times (with each vehicle's own static duration
matrix), windows, shifts, maximum durations and breaks are recomputed from the routes.

Time semantics (the same as the engines'): a vehicle leaves its start node at a departure
time `t0` in its shift; arriving at a stop it waits until the window opens, serves
(`service_s`), then drives on. A route is feasible when every service starts no later than
the window end, the vehicle is back at its end node by the end of its shift, the route lasts
at most `max_duration_s`, and (when the vehicle has a break) the break fits.

Breaks (OR-Tools' `SetBreakIntervalsOfVehicle` with node visit transits = service times):
the break never overlaps a service; it lies in one leg, between the end of service at a
node (or the departure) and the start of service at the next stop (or the return). On the
leg chosen, the break starts at ``max(L, earliest)`` where ``L`` is when the vehicle leaves
(end of service), wherever the vehicle is at that moment: still at the node (``L >=
earliest``), on the road (it stops, rests, then drives the rest of the leg), or already at
the next stop, waiting. So the next service starts no earlier than
``max(L + travel, earliest) + duration``, and the break must start by ``latest``. A route
needs no break when the break fits entirely before its departure or after its return (the
OR-Tools semantics: a route over before the break window needs no break). The departure
time is chosen as late as possible (that minimises the route duration, which is what
``cost_per_hour`` pays for); the simulation (`routing.simulate`) follows the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shipahead.timeofday import format_clock_down

from .problem import RoutingProblem, Solution, Vehicle


@dataclass(frozen=True)
class RouteSchedule:
    """Times of one route (seconds from midnight); `violations` empty when feasible."""

    departure_s: int
    arrival_s: tuple[int, ...]  # at each stop
    start_s: tuple[int, ...]  # service start at each stop
    end_s: int  # arrival at the end node
    break_start_s: int | None
    violations: tuple[str, ...]
    break_gap: int | None = None  # leg holding the break (0 = leaving the start)

    @property
    def duration_s(self) -> int:
        return self.end_s - self.departure_s


def _forward(
    problem: RoutingProblem,
    v: Vehicle,
    dur: np.ndarray,
    route: tuple[int, ...],
    t0: int,
    gap: int | None,
) -> tuple[list[int], list[int], int, int | None, list[str]]:
    """Forward pass from departure `t0`, break (if any) taken on leg number `gap`.

    Leg ``k`` goes from position ``k`` (0 = the start) to the next visit (or the end). The
    vehicle leaves at the end of service ``L``; the break starts at ``max(L, earliest)``
    wherever the vehicle is then (still at the node, on the road, or already waiting at the
    next stop), so the next service can start at ``max(L + travel, earliest) + duration``
    at the earliest. Returned arrivals are the physical arrivals.
    """
    tw, svc, ids = problem.tw_s, problem.service_s, problem.node_ids
    b = v.break_
    viol: list[str] = []
    arr: list[int] = []
    st: list[int] = []
    prev = v.start
    t = t0  # time the vehicle is ready to leave `prev`
    bstart = None
    for pos, node in enumerate((*route, v.end)):
        travel = int(dur[prev, node])
        if b is not None and gap == pos:
            bstart = max(t, b.earliest_s)
            if bstart > b.latest_s:
                viol.append(
                    f"break starts at {format_clock_down(bstart)}, "
                    f"after its latest {format_clock_down(b.latest_s)}"
                )
            # there before the break starts: taken there; else at the node or on the road,
            # and the leg lasts the break longer
            a = t + travel if bstart >= t + travel else t + travel + b.duration_s
            ready = max(a, bstart + b.duration_s)
        else:
            a = ready = t + travel
        if pos == len(route):
            t = ready
            break
        s = max(ready, int(tw[node, 0]))
        if s > int(tw[node, 1]):
            viol.append(
                f"stop {ids[node]!r} served at {format_clock_down(s)}, after its window end "
                f"{format_clock_down(int(tw[node, 1]))}"
            )
        arr.append(a)
        st.append(s)
        t = s + int(svc[node])
        prev = node
    end = t
    end_late = min(v.shift_end_s, int(tw[v.end, 1]))
    if end > end_late:
        viol.append(
            f"vehicle {v.vehicle_id!r} returns at {format_clock_down(end)}, "
            f"after its shift end {format_clock_down(end_late)}"
        )
    return arr, st, end, bstart, viol


def _pass(
    problem: RoutingProblem, v: Vehicle, dur: np.ndarray, route: tuple[int, ...], t0: int, mode
):
    """Forward pass from `t0` for one way of fitting the break: ``(*_forward(...), gap)``.

    ``mode``: None = the vehicle has no break; ``"on"`` = the break on one leg of the route
    (the leg giving the earliest return); ``"after"`` = after the return (the vehicle is back
    by the break's latest start); ``"before"`` = over before the departure. ``gap`` is the
    leg holding the break, None when the route holds none.
    """
    if mode is None or mode in ("after", "before"):
        res = _forward(problem, v, dur, route, t0, None)
        b = v.break_
        if mode == "after" and not res[4] and res[2] > b.latest_s:
            res = (
                *res[:4],
                [f"back at {format_clock_down(res[2])}, after the break's latest start"],
            )
        if mode == "before" and t0 < b.earliest_s + b.duration_s:
            res = (*res[:4], ["leaves before the break is over"])
        return (*res, None)
    cands = [(*_forward(problem, v, dur, route, t0, g), g) for g in range(len(route) + 1)]
    ok = [c for c in cands if not c[4]]
    if ok:
        return min(ok, key=lambda r: r[2])
    return min(cands, key=lambda r: (len(r[4]), r[2]))


def _latest(problem, v, dur, route, lo: int, hi: int, mode):
    """Latest feasible departure in [lo, hi] for `mode` (feasibility is a prefix there)."""
    r = _pass(problem, v, dur, route, lo, mode)
    if r[4]:
        return lo, r
    a, b_ = lo, hi
    best = (lo, r)
    while a < b_:
        mid = (a + b_ + 1) // 2
        rm = _pass(problem, v, dur, route, mid, mode)
        if rm[4]:
            b_ = mid - 1
        else:
            a = mid
            best = (mid, rm)
    return best


def route_schedule(problem: RoutingProblem, vehicle: int, route: tuple[int, ...]) -> RouteSchedule:
    """Static schedule of `route` on vehicle number `vehicle`.

    The departure is the one giving the shortest route (the latest such): for each way of
    fitting the break (none; on a leg; after the return; before the departure) feasibility
    is monotone in the departure time and the duration non-increasing while feasible, so
    each has its latest feasible departure found by binary search, and the shortest wins.
    """
    v = problem.vehicles[vehicle]
    dur = problem.duration_of(vehicle)
    if not route:
        t0 = max(v.shift_start_s, int(problem.tw_s[v.start, 0]))
        return RouteSchedule(t0, (), (), t0, None, ())
    lo = max(v.shift_start_s, int(problem.tw_s[v.start, 0]))
    hi = max(lo, min(v.shift_end_s, int(problem.tw_s[v.start, 1])))
    if v.break_ is None:
        found = [_latest(problem, v, dur, route, lo, hi, None)]
    else:
        found = [
            _latest(problem, v, dur, route, lo, hi, "on"),
            _latest(problem, v, dur, route, lo, hi, "after"),
        ]
        t1 = v.break_.earliest_s + v.break_.duration_s
        if t1 <= hi:
            found.append(_latest(problem, v, dur, route, max(lo, t1), hi, "before"))
    ok = [f for f in found if not f[1][4]]
    if ok:  # shortest route, then the latest departure
        t0, (arr, st, end, bst, viol, gap) = min(ok, key=lambda f: (f[1][2] - f[0], -f[0]))
    else:  # infeasible: report the break on the route with the fewest violations
        t0, (arr, st, end, bst, viol, gap) = found[0]
    viol = list(viol)
    if not viol and v.max_duration_s is not None and end - t0 > v.max_duration_s:
        viol.append(
            f"vehicle {v.vehicle_id!r} route lasts {(end - t0) / 60:.0f} min, over its maximum "
            f"{v.max_duration_s / 60:.0f} min"
        )
    return RouteSchedule(t0, tuple(arr), tuple(st), end, bst, tuple(viol), gap)


def route_distance(problem: RoutingProblem, vehicle: int, route: tuple[int, ...]) -> int:
    """Distance (integer units) of `route` from the vehicle's start to its end."""
    if not route:
        return 0
    v = problem.vehicles[vehicle]
    path = np.array((v.start, *route, v.end))
    return int(np.asarray(problem.distance_m)[path[:-1], path[1:]].sum())


def evaluate(problem: RoutingProblem, routes: tuple[tuple[int, ...], ...]) -> dict:
    """Objective of a plan computed from the routes alone (engine independent).

    Returns a dict with ``objective`` (currency for "cost"; distance units + drop penalties
    for "distance" and "hierarchical"), ``distance`` (integer units), ``vehicles`` (routes
    used), ``duration_s`` (sum of route durations), ``unassigned`` (stop indices) and
    ``key`` (a tuple to compare plans: hierarchical compares vehicles first).
    """
    served = {s for r in routes for s in r}
    unassigned = tuple(s for s in problem.stops if s not in served)
    dist = 0
    dur_total = 0
    used = 0
    money = 0.0
    prev_vehicle: dict[int, int] = {}
    if problem.initial_routes is not None and problem.reassign_penalty > 0:
        for vi, r in enumerate(problem.initial_routes):
            for s in r:
                prev_vehicle[s] = vi
    for vi, r in enumerate(routes):
        if not r:
            continue
        used += 1
        v = problem.vehicles[vi]
        d = route_distance(problem, vi, r)
        dist += d
        sched = route_schedule(problem, vi, r)
        dur_total += sched.duration_s
        money += (
            v.fixed_cost + v.cost_per_km * d / 1000.0 + v.cost_per_hour * sched.duration_s / 3600.0
        )
        for s in r:
            if s in prev_vehicle and prev_vehicle[s] != vi:
                money += problem.reassign_penalty
    pen = 0.0
    if problem.drop_penalty is not None:
        pen = float(np.asarray(problem.drop_penalty, dtype=float)[list(unassigned)].sum())
    if problem.objective == "cost":
        obj = money + pen
        key: tuple = (obj,)
    else:
        obj = float(dist) + pen
        if problem.objective == "distance":
            for vi, r in enumerate(routes):
                for s in r:
                    if s in prev_vehicle and prev_vehicle[s] != vi:
                        obj += problem.reassign_penalty
        key = (used, obj) if problem.objective == "hierarchical" else (obj,)
    if problem.drop_penalty is None and unassigned:
        key = (float("inf"), *key)
    return {
        "objective": obj,
        "distance": dist,
        "vehicles": used,
        "duration_s": dur_total,
        "unassigned": unassigned,
        "key": (len(unassigned) if problem.drop_penalty is None else 0, *key),
    }


def check_solution(problem: RoutingProblem, solution: Solution) -> list[str]:
    """Independent feasibility check of `solution` with the static matrices.

    Checks: one route per vehicle; every stop visited exactly once or listed unassigned
    (and unassigned only when the problem allows drops); pinned prefixes; loads per
    dimension within capacity; service starts within windows; return by shift end; maximum
    route duration; breaks. Returns human-readable problems, empty when the plan is valid.
    """
    out: list[str] = []
    ids = problem.node_ids
    if len(solution.routes) != len(problem.vehicles):
        return [f"{len(solution.routes)} routes for {len(problem.vehicles)} vehicles"]
    stop_set = set(problem.stops)
    seen: dict[int, int] = {}
    for vi, r in enumerate(solution.routes):
        for s in r:
            if s not in stop_set:
                out.append(
                    f"vehicle {problem.vehicles[vi].vehicle_id!r} visits node {s}, "
                    "which is not a stop"
                )
            seen[s] = seen.get(s, 0) + 1
    for s, c in seen.items():
        if c > 1:
            out.append(f"stop {ids[s]!r} visited {c} times")
    un = list(solution.unassigned)
    if len(set(un)) != len(un):
        out.append("a stop is listed unassigned twice")
    for s in un:
        if s in seen:
            out.append(f"stop {ids[s]!r} is both served and unassigned")
    for s in problem.stops:
        if s not in seen and s not in un:
            out.append(f"stop {ids[s]!r} is neither served nor unassigned")
    if problem.drop_penalty is None and un:
        out.append(f"{len(un)} stops unassigned although every stop must be served")
    for s in un:
        if s not in solution.reasons:
            out.append(f"unassigned stop {ids[s]!r} has no reason")
    dem = np.asarray(problem.demand)
    for vi, r in enumerate(solution.routes):
        v = problem.vehicles[vi]
        pin = problem.pinned.get(v.vehicle_id, ())
        if pin and tuple(r[: len(pin)]) != tuple(pin):
            out.append(f"vehicle {v.vehicle_id!r} does not start with its pinned stops")
        if not r:
            continue
        load = dem[list(r)].sum(axis=0)
        for d, (ld, cap) in enumerate(zip(load, v.capacity, strict=True)):
            if ld > cap:
                out.append(
                    f"vehicle {v.vehicle_id!r} load {int(ld)} > capacity {cap} (dimension {d})"
                )
        out.extend(route_schedule(problem, vi, tuple(r)).violations)
    return out


def _direct_trip_reason(problem: RoutingProblem, s: int, vi: int) -> str | None:
    """Why vehicle `vi` cannot serve stop `s` even on a trip serving only `s`."""
    v = problem.vehicles[vi]
    dem = np.asarray(problem.demand)[s]
    if any(int(x) > c for x, c in zip(dem, v.capacity, strict=True)):
        return "capacity"
    dur = problem.duration_of(vi)
    t0 = max(v.shift_start_s, int(problem.tw_s[v.start, 0]))
    arr = t0 + int(dur[v.start, s])
    if arr > int(problem.tw_s[s, 1]):
        return "window unreachable"
    sched = route_schedule(problem, vi, (s,))
    if sched.violations:
        return "shift"
    return None


def explain_unassigned(
    problem: RoutingProblem, stops, solution: Solution | None = None
) -> dict[int, str]:
    """A reason for each stop in `stops` (node indices) being unserved.

    Pre-checks on a direct trip depot -> stop -> depot for every vehicle: demand above every
    vehicle's capacity ("capacity: ..."), window closes before any vehicle can arrive
    ("window unreachable: ..."), or the trip does not fit any shift / maximum duration / break
    ("shift: ..."). Otherwise the stop could be served alone and was dropped by the
    optimiser: "no capacity left: ..." when the fleet's total capacity is below the total
    demand, else "penalty cheaper: ...".
    """
    ids = problem.node_ids
    dem = np.asarray(problem.demand)
    out: dict[int, str] = {}
    caps = np.array([v.capacity for v in problem.vehicles])
    total_cap = caps.sum(axis=0)
    # total demand of the stops that fit at least the largest vehicle
    fits = [s for s in problem.stops if (dem[s] <= caps.max(axis=0)).all()]
    total_dem = dem[fits].sum(axis=0) if fits else np.zeros(dem.shape[1])
    # identical vehicles (same start/end, capacity, shift, limits, matrix) answer alike
    classes: dict[tuple, int] = {}
    for vi, v in enumerate(problem.vehicles):
        key = (
            v.start,
            v.end,
            v.capacity,
            v.shift_start_s,
            v.shift_end_s,
            v.max_duration_s,
            v.break_,
            vi if np.ndim(problem.duration_s) == 3 else -1,
        )
        classes.setdefault(key, vi)
    reps = list(classes.values())
    free = None
    if solution is not None and len(solution.routes) == len(problem.vehicles):
        free = [
            np.array(v.capacity) - (dem[list(r)].sum(axis=0) if r else 0)
            for v, r in zip(problem.vehicles, solution.routes, strict=True)
        ]
    for s in stops:
        s = int(s)
        reasons = [_direct_trip_reason(problem, s, vi) for vi in reps]
        if all(r is not None for r in reasons):
            kinds = set(reasons)
            if kinds == {"capacity"}:
                big = int(caps.max(axis=0)[int(np.argmax(dem[s] - caps.max(axis=0)))])
                out[s] = (
                    f"capacity: demand {int(dem[s].max())} exceeds the largest vehicle "
                    f"capacity {big}"
                )
            elif "window unreachable" in kinds and kinds <= {"window unreachable", "capacity"}:
                out[s] = (
                    f"window unreachable: no vehicle can arrive at {ids[s]!r} before its window "
                    f"closes at {format_clock_down(int(problem.tw_s[s, 1]))}"
                )
            else:
                out[s] = (
                    f"shift: serving {ids[s]!r} on its own does not fit any vehicle's shift, "
                    f"maximum duration or break"
                )
        elif free is not None and not any((dem[s] <= f).all() for f in free):
            out[s] = f"no capacity left: no vehicle has {int(dem[s].max())} units free on its route"
        elif free is None and (total_dem > total_cap).any():
            out[s] = "no capacity left: the fleet cannot carry the total demand"
        else:
            out[s] = "penalty cheaper: leaving the stop unserved costs less than serving it"
    return out
