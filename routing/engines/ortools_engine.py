"""OR-Tools routing adapter: carries every constraint of `routing.RoutingProblem`.

Model built from arrays: transit matrices and demand vectors are registered once
(`RegisterTransitMatrix`, `RegisterUnaryTransitVector`), never per-arc Python callbacks.

- arc cost per vehicle cost class (`SetArcCostEvaluatorOfVehicle`, one registered matrix
  per class): ``per_metre_cost * distance + per_second_cost * (service at the origin +
  travel time)`` (+ re-assignment penalty on arcs leaving a stop that was on another
  vehicle); waiting is paid through the time dimension's slack cost, so arc + slack costs
  equal the route duration cost (``cost_per_hour``) exactly;
- fixed cost per vehicle;
- one load dimension per capacity entry (`AddDimensionWithVehicleCapacity`);
- a time dimension with one transit matrix per vehicle duration matrix (service time of the
  origin + travel time; `AddDimensionWithVehicleTransits`), stop windows as cumul ranges,
  shift start/end on the route start/end cumuls, maximum duration as a span upper bound;
- optional driver break (`SetBreakIntervalsOfVehicle` with node visit transits = service);
- drops: one disjunction per stop with its penalty; pinned prefixes as fixed `NextVar`s;
- warm start (`ReadAssignmentFromRoutes`);
- PARALLEL_CHEAPEST_INSERTION, then GUIDED_LOCAL_SEARCH under the time limit; deterministic
  mode stops on a solution count instead (a generous time cap stays as a safety net, and the
  status says when it was hit).
"""

from __future__ import annotations

import itertools
import logging
import time
from dataclasses import dataclass

import numpy as np
from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from ..errors import InputError, SolverError
from ..problem import RoutingProblem, Solution, SolveSettings
from . import _common as C

log = logging.getLogger(__name__)

_STATUS = {
    0: "not-solved",
    1: "feasible",
    2: "feasible-partial",
    3: "no-solution",
    4: "timeout-no-solution",
    5: "invalid",
    6: "infeasible",
    7: "optimal",
}


def default_solution_limit(problem: RoutingProblem, time_limit_s: float) -> int:
    """Solution count for deterministic mode: ``a(n) * t ** c(n)``, calibrated here.

    Guided local search reports solutions at a rate that depends mostly on the number of
    stops n (measured on this 2-core machine, quiet, time limits 1, 3 and 10 s, random
    Euclidean CVRP/VRPTW n = 25-200 and the sample scenario, see docs/routing.md): in the
    first second about ``400 * (50 / n) ** 1.26`` solutions, at least ~220 (n >= 75), and
    about linearly more later up to n = 70, then slower and slower (exponent
    ``c = 1 - 0.5 * log2(n / 70)``, at least 0.3: at n = 200 ten seconds give only twice
    the solutions of one). Larger problems are extrapolated (``a`` shrinks as ``200 / n``
    above n = 200; unmeasured). So a deterministic run lasts roughly the time limit; it is
    a count, never the clock.
    """
    n = max(1, len(problem.stops))
    t = max(time_limit_s, 0.0)
    a = max(220.0, 400.0 * (50.0 / n) ** 1.26)
    if n > 200:
        a *= 200.0 / n
    c = min(1.0, max(0.3, 1.0 - 0.5 * float(np.log2(n / 70.0))))
    sl = max(50.0, a * t**c)
    return int(min(sl, 100 * n * n))  # tiny problems have few distinct solutions


@dataclass
class _Search:
    """The search parameters of a run and the time limit they were derived from."""

    params: object  # pywrapcp RoutingSearchParameters
    limit_s: float  # time limit of the run (s)


@dataclass
class _SearchRun:
    """What the search returned."""

    assignment: object | None  # the final assignment (None: no solution)
    warm_used: bool  # the warm start was accepted
    solve_s: float  # search wall time (s)
    first_s: float | None  # time to the first solution (s)
    solutions: int  # solutions reported by the search


def solve(
    problem: RoutingProblem,
    settings: SolveSettings,
    *,
    initial_routes: tuple[tuple[int, ...], ...] | None = None,
    time_limit_s: float | None = None,
    solution_limit: int | None = None,
) -> Solution:
    """Solve with OR-Tools routing.

    Parameters
    ----------
    problem, settings
        See `routing.solve`.
    initial_routes
        Warm start overriding `problem.initial_routes` (used by the ``auto`` engine).
    time_limit_s, solution_limit
        Overrides of the settings' limits (``auto`` gives OR-Tools the rest of the budget).

    Raises
    ------
    SolverError
        No solution within the limit.
    """
    t_start = time.perf_counter()
    vehicles = problem.vehicles
    manager = pywrapcp.RoutingIndexManager(
        problem.n_nodes, len(vehicles), [v.start for v in vehicles], [v.end for v in vehicles]
    )
    model = pywrapcp.RoutingModel(manager)
    _set_arc_costs(problem, model)
    _add_load_dimensions(problem, model)
    tdim = _add_time_dimension(problem, manager, model)
    _add_breaks(problem, manager, model, tdim)
    _add_drops(problem, manager, model)
    _pin_prefixes(problem, manager, model)
    search = _search_parameters(problem, settings, model, time_limit_s, solution_limit)
    build_s = time.perf_counter() - t_start
    warm = initial_routes if initial_routes is not None else problem.initial_routes
    run = _run_search(manager, model, search.params, warm)
    return _solution(problem, settings, manager, model, search, run, build_s)


def _set_arc_costs(problem: RoutingProblem, model) -> None:
    """Arc costs (one registered matrix per vehicle cost class) and fixed vehicle costs."""
    n = problem.n_nodes
    dist = np.asarray(problem.distance_m, dtype=np.int64)
    prev_vehicle = np.full(n, -1)
    if problem.initial_routes is not None and problem.reassign_penalty > 0:
        for vi, r in enumerate(problem.initial_routes):
            prev_vehicle[list(r)] = vi
    rpen = C.reassign_cost(problem)
    svc = np.asarray(problem.service_s, dtype=np.int64)
    arc_cache: dict[tuple, int] = {}
    for vi, v in enumerate(problem.vehicles):
        pm = C.per_metre_cost(problem, v)
        ps = C.per_second_cost(problem, v)
        moved = None
        if rpen > 0 and (prev_vehicle >= 0).any():
            moved = (prev_vehicle >= 0) & (prev_vehicle != vi)
        dkey = None
        if ps:
            dkey = "shared" if problem.duration_s.ndim == 2 else problem.duration_of(vi).tobytes()
        key = (pm, ps, dkey, None if moved is None else moved.tobytes())
        if key not in arc_cache:
            m = dist * pm
            if ps:  # paid time on the arc: service at the origin + driving (waiting: slack)
                m = m + ps * (svc[:, None] + np.asarray(problem.duration_of(vi), dtype=np.int64))
            if moved is not None:
                m = m + np.where(moved, rpen, 0)[:, None]
            arc_cache[key] = model.RegisterTransitMatrix(m.tolist())
        model.SetArcCostEvaluatorOfVehicle(arc_cache[key], vi)
        fc = C.fixed_cost(problem, v)
        if fc:
            model.SetFixedCostOfVehicle(fc, vi)


def _add_load_dimensions(problem: RoutingProblem, model) -> None:
    """One load dimension per capacity entry."""
    dem = np.asarray(problem.demand, dtype=np.int64)
    for d in range(dem.shape[1]):
        cb = model.RegisterUnaryTransitVector(dem[:, d].tolist())
        model.AddDimensionWithVehicleCapacity(
            cb, 0, [int(v.capacity[d]) for v in problem.vehicles], True, f"load{d}"
        )


def _add_time_dimension(problem: RoutingProblem, manager, model):
    """The time dimension: stop windows, shifts, maximum durations, waiting cost."""
    vehicles = problem.vehicles
    svc = np.asarray(problem.service_s, dtype=np.int64)
    tw = np.asarray(problem.tw_s, dtype=np.int64)
    horizon = int(max(max(v.shift_end_s for v in vehicles), tw[:, 1].max()))
    time_cache: dict[int, int] = {}
    time_cbs = []
    for vi in range(len(vehicles)):
        dmat = problem.duration_of(vi)
        key = id(dmat) if problem.duration_s.ndim == 2 else hash(dmat.tobytes())
        if key not in time_cache:
            time_cache[key] = model.RegisterTransitMatrix(
                (svc[:, None] + np.asarray(dmat, dtype=np.int64)).tolist()
            )
        time_cbs.append(time_cache[key])
    model.AddDimensionWithVehicleTransits(time_cbs, horizon, horizon, False, "time")
    tdim = model.GetDimensionOrDie("time")
    stop_set = set(problem.stops)
    depots = {v.start for v in vehicles} | {v.end for v in vehicles}
    for node in range(problem.n_nodes):
        if node in depots:
            continue
        idx = manager.NodeToIndex(node)
        if node in stop_set:
            tdim.CumulVar(idx).SetRange(int(tw[node, 0]), int(tw[node, 1]))
        else:  # neither a stop nor a depot of this fleet: never visited
            model.AddDisjunction([idx], 0)
            model.ActiveVar(idx).SetValue(0)
    for vi, v in enumerate(vehicles):
        s_lo = max(v.shift_start_s, int(tw[v.start, 0]))
        s_hi = min(v.shift_end_s, int(tw[v.start, 1]))
        e_hi = min(v.shift_end_s, int(tw[v.end, 1]))
        if s_lo > s_hi or s_lo > e_hi:
            raise InputError(
                f"vehicle {v.vehicle_id!r} cannot leave its depot within its shift and the "
                f"depot's opening hours",
                fix="check shift_start/shift_end against the depot window",
            )
        tdim.CumulVar(model.Start(vi)).SetRange(s_lo, s_hi)
        tdim.CumulVar(model.End(vi)).SetRange(s_lo, e_hi)
        if v.max_duration_s is not None:
            tdim.SetSpanUpperBoundForVehicle(int(v.max_duration_s), vi)
        ps = C.per_second_cost(problem, v)
        if ps:  # waiting costs the same per second (arc costs + slack costs = span cost)
            tdim.SetSlackCostCoefficientForVehicle(ps, vi)
        model.AddVariableMaximizedByFinalizer(tdim.CumulVar(model.Start(vi)))
        model.AddVariableMinimizedByFinalizer(tdim.CumulVar(model.End(vi)))
    return tdim


def _add_breaks(problem: RoutingProblem, manager, model, tdim) -> None:
    """One driver break interval per vehicle that has one (node visit transits = service)."""
    vehicles = problem.vehicles
    if not any(v.break_ is not None for v in vehicles):
        return
    svc = np.asarray(problem.service_s, dtype=np.int64)
    solver = model.solver()
    visit = [int(svc[manager.IndexToNode(i)]) for i in range(model.Size())]
    for vi, v in enumerate(vehicles):
        b = v.break_
        if b is None:
            continue
        iv = solver.FixedDurationIntervalVar(
            int(b.earliest_s), int(b.latest_s), int(b.duration_s), False, f"break{vi}"
        )
        tdim.SetBreakIntervalsOfVehicle([iv], vi, visit)


def _add_drops(problem: RoutingProblem, manager, model) -> None:
    """One disjunction per stop (not pinned) with its drop penalty, when drops are allowed."""
    pens = C.drop_penalties(problem)
    pinned_nodes = {s for seq in problem.pinned.values() for s in seq}
    if pens is not None:
        for s in problem.stops:
            if s not in pinned_nodes:
                model.AddDisjunction([manager.NodeToIndex(s)], int(pens[s]))


def _pin_prefixes(problem: RoutingProblem, manager, model) -> None:
    """Pinned prefixes as fixed `NextVar`s and vehicles."""
    vindex = {v.vehicle_id: i for i, v in enumerate(problem.vehicles)}
    for vid, seq in problem.pinned.items():
        if not seq:
            continue
        vi = vindex[vid]
        chain = [model.Start(vi)] + [manager.NodeToIndex(s) for s in seq]
        for a, b in itertools.pairwise(chain):
            model.NextVar(a).SetValues([b])
        for s in seq:
            model.VehicleVar(manager.NodeToIndex(s)).SetValues([vi])


def _search_parameters(
    problem: RoutingProblem,
    settings: SolveSettings,
    model,
    time_limit_s: float | None,
    solution_limit: int | None,
) -> _Search:
    """First solution strategy, metaheuristic and limits; closes the model."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = (
        routing_enums_pb2.FirstSolutionStrategy.PARALLEL_CHEAPEST_INSERTION
    )
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    limit_s = settings.time_limit_s if time_limit_s is None else time_limit_s
    if settings.deterministic:
        sl = (
            solution_limit
            or settings.solution_limit
            or default_solution_limit(problem, settings.time_limit_s)
        )
        params.solution_limit = int(sl)
        cap_s = max(60.0, 20.0 * limit_s)
        params.time_limit.FromMilliseconds(int(cap_s * 1000))
    else:
        params.time_limit.FromMilliseconds(max(1, int(limit_s * 1000)))
    if settings.deterministic:
        # small problems can have fewer distinct solutions than the limit: also stop on a
        # deterministic count of search branches (never on the clock)
        model.AddSearchMonitor(
            model.solver().BranchesLimit(int(50 * params.solution_limit + 10_000))
        )
    model.CloseModelWithParameters(params)
    return _Search(params, limit_s)


def _run_search(manager, model, params, warm) -> _SearchRun:
    """Search from the warm start ``warm`` (routes of nodes) if OR-Tools accepts it."""
    first: list[float] = []
    count = [0]

    def _on_solution() -> None:
        count[0] += 1
        if not first:
            first.append(time.perf_counter() - t_solve)

    model.AddAtSolutionCallback(_on_solution)

    t_solve = time.perf_counter()
    assignment = None
    warm_used = False
    if warm is not None and any(warm):
        routes_idx = [[manager.NodeToIndex(s) for s in r] for r in warm]
        init = model.ReadAssignmentFromRoutes(routes_idx, True)
        if init is not None:
            warm_used = True
            assignment = model.SolveFromAssignmentWithParameters(init, params)
        else:
            log.info("OR-Tools rejected the warm start; solving from scratch")
    if assignment is None and not warm_used:
        assignment = model.SolveWithParameters(params)
    solve_s = time.perf_counter() - t_solve
    return _SearchRun(assignment, warm_used, solve_s, first[0] if first else None, count[0])


def _routes(manager, model, assignment, nv: int) -> tuple[tuple[int, ...], ...]:
    """Each vehicle's sequence of visited nodes (depots excluded)."""
    routes = []
    for vi in range(nv):
        r = []
        idx = assignment.Value(model.NextVar(model.Start(vi)))
        while not model.IsEnd(idx):
            r.append(manager.IndexToNode(idx))
            idx = assignment.Value(model.NextVar(idx))
        routes.append(tuple(r))
    return tuple(routes)


def _solution(
    problem: RoutingProblem,
    settings: SolveSettings,
    manager,
    model,
    search: _Search,
    run: _SearchRun,
    build_s: float,
) -> Solution:
    """The `Solution` of a search run, evaluated by the checker."""
    limit_s = search.limit_s
    status = _STATUS.get(model.status(), str(model.status()))
    if run.assignment is None:
        raise SolverError(
            f"OR-Tools found no plan within {limit_s:g} s (status {status}); raise the time "
            "limit or allow drops with a penalty"
        )
    routes = _routes(manager, model, run.assignment, len(problem.vehicles))
    if settings.deterministic and run.solve_s >= 0.98 * max(60.0, 20.0 * limit_s):
        status = "feasible-time-cap"
    return C.engine_solution(
        problem,
        routes,
        engine="ortools",
        status=status,
        stats={
            "build_s": round(build_s, 3),
            "solve_s": round(run.solve_s, 3),
            "first_solution_s": round(run.first_s, 3) if run.first_s is not None else None,
            "solutions": run.solutions,
            "ortools_objective": run.assignment.ObjectiveValue(),
            "warm_start": run.warm_used,
        },
    )
