"""Exact time-dependent simulation of routes on the road network.

Each leg follows the fastest road path for the traffic bucket in which the leg starts
(a fixed path per leg) and is then driven arc by arc with the Ichoua–Gendreau–Potvin
(2003) model: the speed on an arc is ``free_flow_speed * factor(arc, t)`` with a
piecewise-constant factor (hour buckets, incidents), and a vehicle that crosses a bucket
boundary on an arc continues at the new speed. Travel time over a fixed path under this
model is FIFO: leaving later never arrives earlier.

At a stop the vehicle waits for the window to open, then serves it. A late arrival is
served at once and reported (``late_s``), never hidden. The optional driver break follows
the checker's rule (`routing.check`): it belongs to one leg and starts at ``max(L,
earliest)``, ``L`` being when the vehicle leaves (end of service), wherever the vehicle is
then — at the node, on the road (it stops mid-arc, rests, then drives on), or already at
the next stop, waiting for it (service starts after the break). It is reported late if it
starts after its latest start.

Units: seconds (time of day = seconds from midnight), metres.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

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
    late_s: float  # service start after the window end (0 if on time)
    load_after: tuple[int, ...]  # load on board after the stop (deliveries leave the vehicle)
    leg_m: float
    leg_s: float  # driving time of the leg that ends here
    break_s: float = 0.0  # break taken on the leg that leaves this stop (its duration)
    break_start_s: float | None = None  # when that break starts


def serve(
    problem,
    node: int,
    arrival_s: float,
    ready_s: float,
    rest_s: float,
    load_after: np.ndarray,
    leg_m: float,
    leg_s: float,
) -> Visit:
    """The visit of ``node`` reached at ``arrival_s`` and ready to serve at ``ready_s`` (after a
    break of ``rest_s`` taken there): service starts at the later of that and the window's
    start, waiting excludes the break, lateness is against the window's end (all s from
    midnight; ``load_after`` in the problem's units, leg in m and s)."""
    lo, hi = (float(x) for x in problem.tw_s[node])
    start = max(ready_s, lo)
    return Visit(
        node=node,
        arrival_s=arrival_s,
        start_s=start,
        departure_s=start + float(problem.service_s[node]),
        wait_s=start - arrival_s - rest_s,
        late_s=max(0.0, start - hi),
        load_after=tuple(int(x) for x in load_after),
        leg_m=leg_m,
        leg_s=leg_s,
    )


@dataclass(frozen=True)
class Leg:
    """Road path of one leg: graph node sequence and the times the vehicle reaches them."""

    nodes: np.ndarray
    arcs: np.ndarray
    times_s: np.ndarray


@dataclass(frozen=True)
class RouteSim:
    """Simulation of one vehicle's route."""

    vehicle: int  # index into RoutingProblem.vehicles
    depart_s: float
    load_start: tuple[int, ...]
    visits: tuple[Visit, ...]
    end_arrival_s: float
    end_leg_m: float
    end_leg_s: float
    legs: tuple[Leg, ...] = field(repr=False, default=())
    break_start_s: float | None = None
    break_late_s: float = 0.0
    leave_s: float | None = None  # when the vehicle drives off its start (after a break there)
    end_wait_s: float = 0.0  # back before the break is due: idle until it starts

    @property
    def distance_m(self) -> float:
        return sum(v.leg_m for v in self.visits) + self.end_leg_m

    @property
    def driving_s(self) -> float:
        return sum(v.leg_s for v in self.visits) + self.end_leg_s

    @property
    def wait_s(self) -> float:
        return sum(v.wait_s for v in self.visits) + self.end_wait_s

    @property
    def service_s(self) -> float:
        # a break taken at the stop itself (right at the end of service) delays the departure
        return sum(
            v.departure_s
            - v.start_s
            - (v.break_s if v.break_start_s is not None and v.break_start_s < v.departure_s else 0)
            for v in self.visits
        )

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
    def drive(
        self, arcs: Sequence[int], t: float, pause: tuple[float, float] | None = None
    ) -> tuple[float, list[float], float]:
        """Drive the arcs from time t: (arrival time, time at each node, metres).

        ``pause = (start, duration)``: the vehicle stops where it is at ``start`` (possibly
        inside an arc) for ``duration`` seconds, if it is still driving then.
        """
        speed = self.speed
        hourly = self._hourly
        simple = not speed.incidents
        metres = 0.0
        p_at = pause[0] if pause is not None else float("inf")
        if p_at <= t and pause is not None:  # the break before moving off
            t += pause[1]
            p_at = float("inf")
        times = [t]
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
                nb = min(nb, p_at)
                dt = rem / f
                if t + dt <= nb:
                    t += dt
                    break
                rem -= (nb - t) * f
                t = nb
                if t >= p_at:  # the break, mid-arc
                    t += pause[1]  # type: ignore[index]
                    p_at = float("inf")
            times.append(t)
        return t, times, metres

    def travel(
        self, u: int, v: int, t: float, pause: tuple[float, float] | None = None
    ) -> tuple[float, float, Leg]:
        """Leg between problem nodes u, v leaving at t: (arrival, metres, Leg).

        The path is the fastest one for the bucket of t; ``pause`` as in `drive`.
        """
        gu, gv = int(self.graph_node[u]), int(self.graph_node[v])
        nodes, arcs = self.path(gu, gv, t)
        arr, times, metres = self.drive(arcs, t, pause)
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
        """Simulate one route of a :class:`routing.problem.RoutingProblem`.

        Parameters
        ----------
        problem
            The problem (windows, service times, demands, vehicles).
        vehicle
            Index into ``problem.vehicles``.
        stops
            RoutingProblem node indices in visit order (without start/end).
        depart_s
            Departure from the start (default: the vehicle's shift start).
        keep_legs
            Keep each leg's road path with node times (for maps and replanning).
        delay_departure
            Leave the start as late as possible (whole minutes) without delaying any
            service start, instead of waiting at the first stop.
        break_gap
            Which leg holds the driver break: ``k`` = the leg leaving the k-th visit (0 =
            leaving the start, ``len(stops)`` = the way back), as planned
            (`routing.schedule.PlannedSchedule.break_gap`); ``-1`` = no break on this route (the
            plan has none, e.g. the route starts after the break window); ``None`` = the
            first leg left at or after the break's earliest start. On that leg the break
            starts at ``max(leave, earliest)`` wherever the vehicle is.
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
        t = t0  # ready to leave `prev`
        prev = veh.start
        visits: list[Visit] = []
        legs: list[Leg] = []
        route_nodes = [*(int(s) for s in stops), int(veh.end)]
        end_arr = end_m = end_leg = end_wait = first_leave = 0.0
        for k, s in enumerate(route_nodes):
            leave = t
            pause = None
            take = (
                brk is not None
                and break_taken is None
                and (break_gap == k or (break_gap is None and t >= brk.earliest_s))
            )
            if take:
                break_taken = max(t, float(brk.earliest_s))
                pause = (break_taken, float(brk.duration_s))
                if break_taken <= t:  # at the node itself: the vehicle leaves after it
                    leave = t + brk.duration_s
                if visits:
                    visits[-1] = replace(
                        visits[-1],
                        departure_s=leave,
                        break_s=float(brk.duration_s),
                        break_start_s=break_taken,
                    )
            arr, metres, leg = self.travel(prev, s, t, pause)
            if keep_legs:
                legs.append(leg)
            if k == 0:
                first_leave = leave
            driving = arr - leave
            ready = arr
            rest_here = 0.0  # break taken at this stop before serving it
            if pause is not None and break_taken > leave:
                if break_taken < arr:  # stopped on the road
                    driving -= brk.duration_s
                else:  # already there: waits for the break, rests, then serves
                    ready = break_taken + brk.duration_s
                    rest_here = float(brk.duration_s)
            if k == len(stops):
                end_arr, end_m, end_leg = ready, metres, driving
                end_wait = ready - arr - rest_here
                break
            load = load - demand[s]
            visits.append(serve(problem, s, arr, ready, rest_here, load, metres, driving))
            t = visits[-1].departure_s
            prev = s
        break_late = 0.0
        if brk is not None and break_taken is not None:
            break_late = max(0.0, break_taken - brk.latest_s)
        return RouteSim(
            vehicle=vehicle,
            depart_s=t0,
            load_start=load_start,
            visits=tuple(visits),
            end_arrival_s=end_arr,
            end_leg_m=end_m,
            end_leg_s=end_leg,
            legs=tuple(legs),
            break_start_s=break_taken,
            break_late_s=break_late,
            leave_s=first_leave,
            end_wait_s=end_wait,
        )
