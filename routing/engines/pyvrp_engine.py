"""PyVRP adapter (hybrid genetic search) for the problems PyVRP expresses.

Supported: capacities (several load dimensions), stop windows and service times, several
depots (vehicle start/end), shifts (vehicle type time window), maximum route duration,
fixed cost, cost per distance and per duration unit, per-vehicle duration matrices
(routing profiles) and optional stops with a prize (= drop penalty). Not supported: driver
breaks, pinned prefixes and re-assignment penalties (the ``auto`` engine sends those
problems to OR-Tools; asking for ``pyvrp`` explicitly raises `InputError`).

The `ProblemData` is built from numpy arrays (locations = depots then stops; matrices are
sub-matrices of the problem's), not edge by edge. Costs use the same integer model as the
OR-Tools adapter (`routing.engines._common`). Deterministic mode stops on an iteration
count (`MaxIterations`) instead of `MaxRuntime`; the seed is passed through.

Hierarchical objective (fewest vehicles, then distance) with one vehicle type and no
drops: `pyvrp.minimise_fleet` for `FLEET_SHARE` of the budget first, then the search on
the smallest fleet found (a fixed cost per vehicle above any distance keeps the order).
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pyvrp
from pyvrp import Client, Depot, Location, ProblemData, VehicleType
from pyvrp.stop import MaxIterations, MaxRuntime

from ..errors import InputError, SolverError
from ..problem import RoutingProblem, Solution, SolveSettings
from . import _common as C

log = logging.getLogger(__name__)

_INT_MAX = np.iinfo(np.int64).max
FLEET_SHARE = 0.3  # share of the PyVRP budget spent on fleet minimisation (hierarchical)


def default_iterations(problem: RoutingProblem, time_limit_s: float) -> int:
    """Iteration count for deterministic mode: a calibrated rate per second of the limit.

    PyVRP's iterations per second on this 2-core machine (quiet, one process; measured
    with ``MaxRuntime`` 2 s vs 8 s on random Euclidean instances n = 25-200 and on the
    sample scenario, see docs/routing.md) fall slowly with the number of stops n
    (about ``n ** -0.5``) but strongly with the cost model: about 1,900/s at n = 100 for
    distance costs only (CVRP, Solomon), half that with optional stops (drop prizes),
    0.45 x with a cost per hour, about 300/s with both (every shipahead plan); several
    duration profiles (time-bucketed per-vehicle matrices) cost another 0.66 x. Windows
    change little. So a deterministic run lasts roughly the time limit (measured within
    0.75-1.2 x for n >= 50); it is a count, never the clock.
    """
    n = max(1, len(problem.stops))
    prizes = problem.drop_penalty is not None
    per_hour = any(C.per_second_cost(problem, v) > 0 for v in problem.vehicles)
    factor = {(False, False): 1.0, (True, False): 0.5, (False, True): 0.45}.get(
        (prizes, per_hour), 300.0 / 1900.0
    )
    d = np.asarray(problem.duration_s)
    if d.ndim == 3 and len(d) > 1 and not (d == d[:1]).all():
        factor *= 0.66
    rate = 1900.0 * (n / 100.0) ** -0.5 * factor
    its = max(100.0, time_limit_s * rate)
    return int(min(its, 1000 * n * n + 1000))  # tiny problems converge at once


class PyVRPModel:
    """A `RoutingProblem` mapped to PyVRP data, with the maps back to problem indices."""

    def __init__(self, problem: RoutingProblem) -> None:
        unsupported = C.needs_ortools(problem)
        if unsupported:
            raise InputError(
                f"the pyvrp engine cannot express {', '.join(unsupported)}",
                fix="use `engine` ortools or `engine` auto",
            )
        self.problem = problem
        vehicles = problem.vehicles
        depot_nodes = sorted({v.start for v in vehicles} | {v.end for v in vehicles})
        self.depot_nodes = depot_nodes
        self.stop_nodes = list(problem.stops)
        sub = np.array(depot_nodes + self.stop_nodes, dtype=np.int64)
        dpos = {node: i for i, node in enumerate(depot_nodes)}
        nd = len(depot_nodes)
        tw = np.asarray(problem.tw_s, dtype=np.int64)
        svc = np.asarray(problem.service_s, dtype=np.int64)
        dem = np.asarray(problem.demand, dtype=np.int64)
        pens = C.drop_penalties(problem)
        locations = [Location(0.0, 0.0, name=str(problem.node_ids[x])) for x in sub]
        depots = [
            Depot(i, tw_early=int(tw[node, 0]), tw_late=int(tw[node, 1]))
            for i, node in enumerate(depot_nodes)
        ]
        clients = []
        for k, s in enumerate(self.stop_nodes):
            kw = {}
            if pens is not None:
                kw = {"prize": int(pens[s]), "required": False}
            clients.append(
                Client(
                    nd + k,
                    delivery=[int(x) for x in dem[s]],
                    service_duration=int(svc[s]),
                    tw_early=int(tw[s, 0]),
                    tw_late=int(tw[s, 1]),
                    **kw,
                )
            )
        dist = np.ascontiguousarray(
            np.asarray(problem.distance_m, dtype=np.int64)[np.ix_(sub, sub)]
        )
        # routing profiles: one per distinct duration matrix
        prof_of: list[int] = []
        durs: list[np.ndarray] = []
        keys: dict = {}
        for vi in range(len(vehicles)):
            dmat = problem.duration_of(vi)
            key = "shared" if problem.duration_s.ndim == 2 else hash(dmat.tobytes())
            if key not in keys:
                keys[key] = len(durs)
                durs.append(
                    np.ascontiguousarray(np.asarray(dmat, dtype=np.int64)[np.ix_(sub, sub)])
                )
            prof_of.append(keys[key])
        # vehicle types: identical vehicles grouped, in first-appearance order
        types: dict[tuple, list[int]] = {}
        for vi, v in enumerate(vehicles):
            key = (
                tuple(int(c) for c in v.capacity),
                dpos[v.start],
                dpos[v.end],
                int(v.shift_start_s),
                int(v.shift_end_s),
                C.fixed_cost(problem, v),
                C.per_metre_cost(problem, v),
                C.per_second_cost(problem, v),
                v.max_duration_s,
                prof_of[vi],
            )
            types.setdefault(key, []).append(vi)
        self.type_vehicles = list(types.values())
        vtypes = []
        for key, members in types.items():
            cap, sd, ed, s0, s1, fc, pm, ps, md, prof = key
            vtypes.append(
                VehicleType(
                    len(members),
                    capacity=list(cap),
                    start_depot=sd,
                    end_depot=ed,
                    fixed_cost=fc,
                    tw_early=s0,
                    tw_late=s1,
                    shift_duration=_INT_MAX if md is None else int(md),
                    unit_distance_cost=pm,
                    unit_duration_cost=ps,
                    profile=prof,
                    start_late=s1,
                    name=str(vehicles[members[0]].vehicle_id),
                )
            )
        self.nd = nd
        self.data = ProblemData(locations, clients, depots, vtypes, [dist] * len(durs), durs)
        # PyVRP's default penalty range (<= 1e5 per unit of excess load / time warp) assumes
        # unit costs near 1; ours are scaled (see _common), and drop prizes can be large.
        # Scale the range so that infeasibility never pays (capped against int overflow).
        unit = max(
            [C.per_metre_cost(problem, v) for v in vehicles]
            + [C.per_second_cost(problem, v) for v in vehicles]
            + [1]
        )
        top = max(
            [4 * int(pens[s]) for s in self.stop_nodes] if pens is not None else [], default=0
        )
        self.max_penalty = float(min(1e12, max(1e5, 1e5 * unit, top)))

    def to_routes(self, sol: pyvrp.Solution) -> tuple[tuple[int, ...], ...]:
        """PyVRP solution -> one tuple of problem stop indices per vehicle."""
        out: list[tuple[int, ...]] = [()] * len(self.problem.vehicles)
        used = [0] * len(self.type_vehicles)
        for r in sol.routes():
            t = r.vehicle_type()
            vi = self.type_vehicles[t][used[t]]
            used[t] += 1
            out[vi] = tuple(self.stop_nodes[a.idx] for a in r if a.is_client())
        return tuple(out)

    def from_routes(self, routes: tuple[tuple[int, ...], ...]) -> pyvrp.Solution | None:
        """Routes of the problem (one per vehicle) -> PyVRP solution, None when not expressible."""
        cpos = {s: k for k, s in enumerate(self.stop_nodes)}
        type_of = {vi: t for t, vs in enumerate(self.type_vehicles) for vi in vs}
        try:
            rs = [
                pyvrp.Route(self.data, [cpos[s] for s in r], type_of[vi])
                for vi, r in enumerate(routes)
                if r
            ]
            return pyvrp.Solution(self.data, rs)
        except (RuntimeError, KeyError, ValueError):
            return None


def solve(
    problem: RoutingProblem,
    settings: SolveSettings,
    *,
    time_limit_s: float | None = None,
    iterations: int | None = None,
) -> Solution:
    """Solve with PyVRP; see `routing.solve`.

    Raises
    ------
    InputError
        The problem uses a constraint PyVRP cannot express.
    SolverError
        No feasible plan within the limit.
    """
    t0 = time.perf_counter()
    m = PyVRPModel(problem)
    build_s = time.perf_counter() - t0
    limit_s = settings.time_limit_s if time_limit_s is None else time_limit_s
    its = 0
    if settings.deterministic:
        # `settings.solution_limit` counts OR-Tools solutions; PyVRP gets its own count
        its = int(iterations or default_iterations(problem, limit_s))
        stop = MaxIterations(its)
    else:
        stop = MaxRuntime(max(0.01, limit_s - build_s))
    init = None
    if problem.initial_routes is not None and any(problem.initial_routes):
        init = m.from_routes(problem.initial_routes)
    t1 = time.perf_counter()
    params = pyvrp.SolveParams(penalty=pyvrp.PenaltyParams(max_penalty=m.max_penalty))
    fleet_before = fleet_after = None
    if (
        problem.objective == "hierarchical"
        and m.data.num_vehicle_types == 1
        and problem.drop_penalty is None
        and len(problem.stops) > 1
    ):
        # fewest vehicles first: PyVRP's fleet minimisation for FLEET_SHARE of the budget,
        # then the distance search on the smallest feasible fleet it found
        if settings.deterministic:
            fstop = MaxIterations(max(1, int(FLEET_SHARE * its)))
            stop = MaxIterations(max(1, its - int(FLEET_SHARE * its)))
        else:
            fstop = MaxRuntime(FLEET_SHARE * max(0.01, limit_s - build_s))
        fleet_before = m.data.vehicle_type(0).num_available
        m.data, fleet_sol = _minimise_fleet(m.data, fstop, int(settings.seed), params)
        fleet_after = m.data.vehicle_type(0).num_available
        init = fleet_sol  # a feasible plan on the smallest fleet (None if none was found)
        if not settings.deterministic:
            stop = MaxRuntime(max(0.01, limit_s - (time.perf_counter() - t0)))
    if isinstance(stop, MaxRuntime):
        stop(0)  # start its clock now: PyVRP's initial construction counts in the budget
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = pyvrp.solve(
            m.data,
            stop=stop,
            seed=int(settings.seed),
            display=False,
            params=params,
            initial_solution=init,
        )
    for w in caught:
        log.debug("PyVRP: %s", w.message)
    solve_s = time.perf_counter() - t1
    best = res.best
    routes = m.to_routes(best)
    repaired = 0
    if not best.is_feasible() and problem.drop_penalty is not None:
        routes, repaired = _repair(problem, routes)
    elif not best.is_feasible():
        routes = None
    if routes is None:
        raise SolverError(
            f"PyVRP found no feasible plan within {limit_s:g} s; raise the time limit, allow "
            "drops with a penalty, or use `engine` ortools"
        )
    # time to the first feasible best solution, from the call (the initial construction
    # happens before PyVRP's statistics clock starts: count it)
    first = None
    cum = np.cumsum(res.stats.runtimes)
    setup = solve_s - (float(cum[-1]) if len(cum) else 0.0)
    for i, d in enumerate(res.stats.data):
        if d.best_feas:
            first = build_s + setup + float(cum[i])
            break
    return C.engine_solution(
        problem,
        routes,
        engine="pyvrp",
        status="feasible",
        stats={
            "build_s": round(build_s, 3),
            "solve_s": round(solve_s, 3),
            "first_solution_s": None if first is None else round(first, 3),
            "iterations": int(res.num_iterations),
            "pyvrp_cost": int(res.cost()) if best.is_feasible() else None,
            "repaired_drops": repaired,
            "fleet_minimised": None if fleet_before is None else [fleet_before, fleet_after],
        },
    )


def _repair(problem: RoutingProblem, routes):
    """Make an infeasible PyVRP plan feasible by dropping stops (drops must be allowed).

    Greedy: while a route violates capacity / time, drop the stop whose removal lowers the
    violation most, breaking ties by the smaller drop penalty. Returns (routes, n_dropped).
    """
    from ..check import route_schedule

    dem = np.asarray(problem.demand)
    pen = np.asarray(problem.drop_penalty, dtype=float)
    out = []
    dropped = 0
    for vi, r in enumerate(routes):
        r = list(r)
        v = problem.vehicles[vi]

        def bad(seq, vi=vi, v=v):
            over = np.maximum(dem[seq].sum(axis=0) - np.array(v.capacity), 0).sum() if seq else 0
            return int(over) + len(route_schedule(problem, vi, tuple(seq)).violations)

        while r and bad(r):
            k = min(range(len(r)), key=lambda i: (bad(r[:i] + r[i + 1 :]), pen[r[i]], i))
            del r[k]
            dropped += 1
        out.append(tuple(r))
    return tuple(out), dropped


def _minimise_fleet(data: ProblemData, stop, seed: int, params):
    """Fewest vehicles: PyVRP searches to the first feasible plan, one vehicle less each time.

    The same loop as `pyvrp.minimise_fleet`, but it keeps the feasible plan found for the
    smallest fleet so that the distance search starts from it (and is never left without a
    feasible plan). Returns (data with the smallest feasible fleet, that plan or None).
    """
    from pyvrp.stop import FirstFeasible, MultipleCriteria

    vt = data.vehicle_type(0)
    best = None
    n = vt.num_available
    while n >= 1:
        trial = data.replace(vehicle_types=[vt.replace(num_available=n)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = pyvrp.solve(
                trial,
                stop=MultipleCriteria([FirstFeasible(), stop]),
                seed=seed,
                collect_stats=False,
                display=False,
                params=params,
            )
        if not res.best.is_feasible():
            break
        data, best = trial, res.best
        n = min(n, res.best.num_routes()) - 1
        if stop(0):
            break
    if best is not None:
        data = data.replace(vehicle_types=[vt.replace(num_available=best.num_routes())])
        best = pyvrp.Solution(
            data, [pyvrp.Route(data, [a.idx for a in r if a.is_client()], 0) for r in best.routes()]
        )
    return data, best
