"""Exact time-dependent simulation of routes on the road network.

Each leg follows the fastest road path for the traffic bucket in which the leg starts
(a fixed path per leg) and is then driven arc by arc with the Ichoua–Gendreau–Potvin
(2003) model: the speed on an arc is ``free_flow_speed * factor(arc, t)`` with a
piecewise-constant factor (hour buckets, incidents), and a vehicle that crosses a bucket
boundary on an arc continues at the new speed. Travel time over a fixed path under this
model is FIFO: leaving later never arrives earlier.

At a stop the vehicle waits for the window to open, then serves it. A late arrival is
served at once and reported (``late_s``), never hidden. The optional driver break is taken
after the first stop whose departure is at or after the break's earliest start (or at the
start if it is already due), and is reported late if it starts after its latest start.

Units: seconds (time of day = seconds from midnight), metres.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .matrix import path_nodes, path_predecessors
from .network import RoadNetwork
from .traffic import SpeedModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Visit:
    """One stop of a simulated route (times in s from midnight)."""

    node: int  # problem node index
    arrival_s: float
    start_s: float  # service start = max(arrival, window start)
    departure_s: float
    wait_s: float
    late_s: float  # arrival after the window end (0 if on time)
    load_after: tuple[int, ...]  # load on board after the stop (deliveries leave the vehicle)
    leg_m: float
    leg_s: float  # driving time of the leg that ends here
    break_s: float = 0.0  # break taken right after this stop (its duration)
    break_wait_s: float = 0.0  # idle time between the end of service and the break start


@dataclass(frozen=True)
class Leg:
    """Road path of one leg: graph node sequence and the times the vehicle reaches them."""

    nodes: np.ndarray
    arcs: np.ndarray
    times_s: np.ndarray


@dataclass(frozen=True)
class RouteSim:
    """Simulation of one vehicle's route."""

    vehicle: int  # index into Problem.vehicles
    depart_s: float
    load_start: tuple[int, ...]
    visits: tuple[Visit, ...]
    end_arrival_s: float
    end_leg_m: float
    end_leg_s: float
    legs: tuple[Leg, ...] = field(repr=False, default=())
    break_start_s: float | None = None
    break_late_s: float = 0.0

    @property
    def distance_m(self) -> float:
        return sum(v.leg_m for v in self.visits) + self.end_leg_m

    @property
    def driving_s(self) -> float:
        return sum(v.leg_s for v in self.visits) + self.end_leg_s

    @property
    def wait_s(self) -> float:
        return sum(v.wait_s + v.break_wait_s for v in self.visits)

    @property
    def service_s(self) -> float:
        return sum(v.departure_s - v.start_s - v.break_s - v.break_wait_s for v in self.visits)

    @property
    def duration_s(self) -> float:
        return self.end_arrival_s - self.depart_s

    @property
    def late_stops(self) -> int:
        return sum(1 for v in self.visits if v.late_s > 0.5)


class Simulator:
    """Drive routes over a network under a speed model.

    Parameters
    ----------
    net
        Prepared network.
    speed
        Speed factors over the day.
    graph_node
        ``(n,)`` graph node index of each problem node.
    """

    def __init__(self, net: RoadNetwork, speed: SpeedModel, graph_node: Sequence[int]) -> None:
        self.net = net
        self.speed = speed
        self.graph_node = np.asarray(graph_node, dtype=np.int64)
        self._pred: dict[tuple, np.ndarray] = {}
        self._paths: dict[tuple, tuple[list[int], list[int]]] = {}
        self._ff = net.arc_time_s.tolist()
        self._len = net.arc_length_m.tolist()
        self._cls = net.arc_class.tolist()
        self._hourly = speed.hourly.tolist()

    # ---- paths -------------------------------------------------------------------
    def bucket_key(self, t: float) -> tuple:
        h0 = np.floor(t / 3600.0) * 3600.0
        return self.speed.bucket_key(h0, h0 + 3600.0)

    def path(self, u: int, v: int, t: float) -> tuple[list[int], list[int]]:
        """Fastest path (graph nodes, arcs) from graph node u to v for the bucket of time t."""
        key = self.bucket_key(t)
        pk = (key, u, v)
        if pk in self._paths:
            return self._paths[pk]
        if u == v:
            out: tuple[list[int], list[int]] = ([u], [])
        else:
            sk = (key, u)
            if sk not in self._pred:
                times = self.net.arc_time_s / self.speed.arc_factors_for_key(key, self.net)
                self._pred[sk] = path_predecessors(self.net, u, times)
            nodes = path_nodes(self._pred[sk], u, v)
            arcs = self.net.arc_index(nodes[:-1], nodes[1:])
            out = (nodes.tolist(), arcs.tolist())
        self._paths[pk] = out
        return out

    # ---- driving -----------------------------------------------------------------
    def drive(self, arcs: Sequence[int], t: float) -> tuple[float, list[float], float]:
        """Drive the arcs from time t: (arrival time, time at each node, metres)."""
        speed = self.speed
        hourly = self._hourly
        simple = not speed.incidents
        times = [t]
        metres = 0.0
        for a in arcs:
            rem = self._ff[a]  # free-flow seconds still to drive on this arc
            c = self._cls[a]
            metres += self._len[a]
            while True:
                if simple:
                    f = hourly[int(t // 3600) % 24][c]
                    nb = (t // 3600 + 1) * 3600.0
                else:
                    f = speed.factor_at(a, c, t)
                    nb = speed.next_change(t)
                dt = rem / f
                if t + dt <= nb:
                    t += dt
                    break
                rem -= (nb - t) * f
                t = nb
            times.append(t)
        return t, times, metres

    def travel(self, u: int, v: int, t: float) -> tuple[float, float, Leg]:
        """Leg between problem nodes u, v leaving at t: (arrival, metres, Leg)."""
        gu, gv = int(self.graph_node[u]), int(self.graph_node[v])
        nodes, arcs = self.path(gu, gv, t)
        arr, times, metres = self.drive(arcs, t)
        return (
            arr,
            metres,
            Leg(np.asarray(nodes), np.asarray(arcs, dtype=np.int64), np.asarray(times)),
        )

    def route(
        self,
        problem,
        vehicle: int,
        stops: Sequence[int],
        *,
        depart_s: float | None = None,
        keep_legs: bool = False,
        delay_departure: bool = False,
        break_gap: int | None = None,
    ) -> RouteSim:
        """Simulate one route of a :class:`routing.problem.Problem`.

        Parameters
        ----------
        problem
            The problem (windows, service times, demands, vehicles).
        vehicle
            Index into ``problem.vehicles``.
        stops
            Problem node indices in visit order (without start/end).
        depart_s
            Departure from the start (default: the vehicle's shift start).
        keep_legs
            Keep each leg's road path with node times (for maps and replanning).
        delay_departure
            Leave the start as late as possible (whole minutes) without delaying any
            service start, instead of waiting at the first stop.
        break_gap
            Where the driver break is taken: ``k`` = before leaving the k-th visit
            (0 = at the start), as planned; ``-1`` = no break on this route (the plan has
            none, e.g. the route starts after the break window); ``None`` = after the first
            stop whose departure is at or after the break's earliest start.
        """
        veh = problem.vehicles[vehicle]
        t0 = float(veh.shift_start_s if depart_s is None else depart_s)
        sim = self._route(problem, vehicle, stops, t0, keep_legs, break_gap)
        if delay_departure and sim.visits and sim.visits[0].wait_s >= 60.0:
            base = [v.start_s for v in sim.visits]
            lo, hi = 0, int(sim.visits[0].wait_s // 60)

            def ok(m: int) -> bool:
                s = self._route(problem, vehicle, stops, t0 + 60.0 * m, False, break_gap)
                return all(a.start_s <= b + 0.5 for a, b in zip(s.visits, base, strict=True))

            while lo < hi:
                mid = (lo + hi + 1) // 2
                if ok(mid):
                    lo = mid
                else:
                    hi = mid - 1
            if lo > 0:
                sim = self._route(problem, vehicle, stops, t0 + 60.0 * lo, keep_legs, break_gap)
        return sim

    def _route(
        self,
        problem,
        vehicle: int,
        stops: Sequence[int],
        t0: float,
        keep_legs: bool,
        break_gap: int | None,
    ) -> RouteSim:
        veh = problem.vehicles[vehicle]
        demand = np.asarray(problem.demand)
        load = (
            demand[list(stops)].sum(axis=0)
            if len(stops)
            else np.zeros(demand.shape[1], dtype=np.int64)
        )
        load_start = tuple(int(x) for x in load)
        brk = veh.break_ if break_gap != -1 else None
        break_taken: float | None = None
        t = t0
        if brk is not None and (break_gap == 0 or (break_gap is None and t >= brk.earliest_s)):
            break_taken = max(t, float(brk.earliest_s))
            t = break_taken + brk.duration_s
        prev = veh.start
        visits: list[Visit] = []
        legs: list[Leg] = []
        for k, s in enumerate(stops, start=1):
            arr, metres, leg = self.travel(prev, int(s), t)
            if keep_legs:
                legs.append(leg)
            lo, hi = (float(x) for x in problem.tw_s[s])
            start = max(arr, lo)
            dep = start + float(problem.service_s[s])
            load = load - demand[s]
            b = bw = 0.0
            if (
                brk is not None
                and break_taken is None
                and (break_gap == k or (break_gap is None and dep >= brk.earliest_s))
            ):
                break_taken = max(dep, float(brk.earliest_s))
                bw = break_taken - dep
                b = float(brk.duration_s)
                dep = break_taken + b
            visits.append(
                Visit(
                    node=int(s),
                    arrival_s=arr,
                    start_s=start,
                    departure_s=dep,
                    wait_s=start - arr,
                    late_s=max(0.0, arr - hi),
                    load_after=tuple(int(x) for x in load),
                    leg_m=metres,
                    leg_s=arr - t,
                    break_s=b,
                    break_wait_s=bw,
                )
            )
            t = dep
            prev = int(s)
        arr, metres, leg = self.travel(prev, veh.end, t)
        if keep_legs:
            legs.append(leg)
        break_late = 0.0
        if brk is not None and break_taken is not None:
            break_late = max(0.0, break_taken - brk.latest_s)
        return RouteSim(
            vehicle=vehicle,
            depart_s=t0,
            load_start=load_start,
            visits=tuple(visits),
            end_arrival_s=arr,
            end_leg_m=metres,
            end_leg_s=arr - t,
            legs=tuple(legs),
            break_start_s=break_taken,
            break_late_s=break_late,
        )


def planned_schedule(
    problem, vehicle: int, stops: Sequence[int], depart_s: float | None = None
) -> list[float]:
    """Arrival times at the stops (and the end) under the problem's static matrices.

    Uses the vehicle's own duration matrix when ``problem.duration_s`` is ``(V, n, n)``;
    waits for windows and adds service times like the simulation does (without breaks).
    """
    veh = problem.vehicles[vehicle]
    dur = problem.duration_s
    m = dur[vehicle] if np.ndim(dur) == 3 else dur
    t = float(veh.shift_start_s if depart_s is None else depart_s)
    prev = veh.start
    out = []
    for s in stops:
        t += float(m[prev, s])
        out.append(t)
        t = max(t, float(problem.tw_s[s][0])) + float(problem.service_s[s])
        prev = s
    out.append(t + float(m[prev, veh.end]))
    return out
