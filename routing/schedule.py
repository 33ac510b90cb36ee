"""The planner's static schedule of a route: when it leaves, where the break goes, ETAs.

The planner's own code, kept apart from the independent checker (:mod:`routing.check`),
which recomputes the same times from the routes to judge a plan; sharing the scheduling
would let a mistake in it pass unnoticed. The rules are the engines' (see
:mod:`routing.check` for the full statement): a vehicle waits for a window to open,
serves, drives on; the break lies in one leg and starts at ``max(leave, earliest)``
wherever the vehicle is then; a route that is over before the break window, or back
before it, needs none; the departure is the latest one giving the shortest route.

Times are integer seconds from midnight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .problem import RoutingProblem, Vehicle


@dataclass(frozen=True)
class ForwardPass:
    """One pass along a route from a departure time (seconds from midnight)."""

    arrival_s: tuple[int, ...]  # physical arrival at each stop
    end_s: int  # arrival at the end node
    violations: int  # windows missed, break started late, shift overrun
    break_gap: int | None = None  # leg holding the break (0 = leaving the start)

    @property
    def feasible(self) -> bool:
        return self.violations == 0


@dataclass(frozen=True)
class PlannedSchedule:
    """The static schedule the planner simulates from."""

    departure_s: int
    arrival_s: tuple[int, ...]
    break_gap: int | None  # None: the route holds no break


def forward_pass(
    problem: RoutingProblem,
    v: Vehicle,
    dur: np.ndarray,
    route: tuple[int, ...],
    t0: int,
    gap: int | None,
) -> ForwardPass:
    """Drive ``route`` leaving at ``t0`` (s), the break (if any) on leg number ``gap``.

    Leg ``k`` goes from position ``k`` (0 = the start) to the next visit or the end. A
    break taken before the vehicle reaches the next node makes that leg last the break
    longer; the next service starts no earlier than ``max(leave + travel, earliest) +
    duration``.
    """
    tw, svc = problem.tw_s, problem.service_s
    b = v.break_
    violations = 0
    arrivals: list[int] = []
    prev = v.start
    t = t0  # when the vehicle is ready to leave `prev`
    for pos, node in enumerate((*route, v.end)):
        travel = int(dur[prev, node])
        if b is not None and gap == pos:
            rest_from = max(t, b.earliest_s)
            violations += rest_from > b.latest_s
            arrive = t + travel if rest_from >= t + travel else t + travel + b.duration_s
            ready = max(arrive, rest_from + b.duration_s)
        else:
            arrive = ready = t + travel
        if pos == len(route):
            t = ready
            break
        serve = max(ready, int(tw[node, 0]))
        violations += serve > int(tw[node, 1])
        arrivals.append(arrive)
        t = serve + int(svc[node])
        prev = node
    violations += t > min(v.shift_end_s, int(tw[v.end, 1]))
    return ForwardPass(tuple(arrivals), t, int(violations), gap)


def _fit_break(
    problem: RoutingProblem, v: Vehicle, dur: np.ndarray, route: tuple[int, ...], t0: int, mode
) -> ForwardPass:
    """The pass from ``t0`` for one way of fitting the break.

    ``mode``: None = no break; ``"on"`` = on the leg giving the earliest return;
    ``"after"`` = after the return (back by the break's latest start); ``"before"`` =
    over before the departure.
    """
    if mode in (None, "after", "before"):
        res = forward_pass(problem, v, dur, route, t0, None)
        b = v.break_
        if mode == "after" and res.feasible and res.end_s > b.latest_s:
            res = replace(res, violations=1)
        if mode == "before" and t0 < b.earliest_s + b.duration_s:
            res = replace(res, violations=1)
        return res
    passes = [forward_pass(problem, v, dur, route, t0, g) for g in range(len(route) + 1)]
    ok = [p for p in passes if p.feasible]
    if ok:
        return min(ok, key=lambda p: p.end_s)
    return min(passes, key=lambda p: (p.violations, p.end_s))


def _latest_departure(
    problem: RoutingProblem,
    v: Vehicle,
    dur: np.ndarray,
    route: tuple[int, ...],
    lo: int,
    hi: int,
    mode,
) -> tuple[int, ForwardPass]:
    """Latest feasible departure in [lo, hi] for ``mode`` (feasible departures are a prefix
    of the range), with its pass; ``lo`` when none is feasible."""
    first = _fit_break(problem, v, dur, route, lo, mode)
    if not first.feasible:
        return lo, first
    a, b = lo, hi
    best = (lo, first)
    while a < b:
        mid = (a + b + 1) // 2
        p = _fit_break(problem, v, dur, route, mid, mode)
        if p.feasible:
            a = mid
            best = (mid, p)
        else:
            b = mid - 1
    return best


def planned_schedule(
    problem: RoutingProblem, vehicle: int, route: tuple[int, ...]
) -> PlannedSchedule:
    """Static schedule of ``route`` on vehicle number ``vehicle``: the shortest route over
    the ways of fitting the break (then the latest departure); when none is feasible, the
    break on the route with the fewest violations."""
    v = problem.vehicles[vehicle]
    dur = problem.duration_of(vehicle)
    lo = max(v.shift_start_s, int(problem.tw_s[v.start, 0]))
    if not route:
        return PlannedSchedule(lo, (), None)
    hi = max(lo, min(v.shift_end_s, int(problem.tw_s[v.start, 1])))
    if v.break_ is None:
        found = [_latest_departure(problem, v, dur, route, lo, hi, None)]
    else:
        found = [
            _latest_departure(problem, v, dur, route, lo, hi, "on"),
            _latest_departure(problem, v, dur, route, lo, hi, "after"),
        ]
        rested = v.break_.earliest_s + v.break_.duration_s
        if rested <= hi:
            found.append(_latest_departure(problem, v, dur, route, max(lo, rested), hi, "before"))
    ok = [f for f in found if f[1].feasible]
    t0, p = min(ok, key=lambda f: (f[1].end_s - f[0], -f[0])) if ok else found[0]
    return PlannedSchedule(t0, p.arrival_s, p.break_gap)
