"""The plan/simulate loop: solve with bucket matrices, simulate, re-plan with the buckets
the simulation actually drove in, keep the best simulated plan."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from .context import PlanContext, RestartProblem, build_problem, initial_estimates
from .errors import SolverError
from .problem import RoutingProblem, Solution, SolveSettings
from .schedule import forward_pass, planned_schedule
from .settings import PlanSettings
from .simulate import RouteSim, Simulator

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class PlanRounds:
    """The plan kept by :func:`iterate_plan` (lateness judged against the real windows)."""

    problem: RoutingProblem
    solution: Solution
    sims: list[RouteSim]
    simulator: Simulator
    iterations: list[dict]  # one row per round, ``kept`` marks the plan kept


def simulate_solution(
    problem: RoutingProblem,
    solution_routes: Sequence[Sequence[int]],
    sim: Simulator,
    *,
    keep_legs: bool = False,
    sim_problem: RoutingProblem | None = None,
) -> tuple[list[RouteSim], list[list[float]]]:
    """Simulate every non-empty route from its planned (static) departure and break slot.

    ``sim_problem`` (default ``problem``) holds the windows lateness is judged against
    (the real ones when the solver saw tightened windows). Returns the simulations and,
    per route, the planned (static) arrival times.
    """
    sims, planned = [], []
    for v, route in enumerate(solution_routes):
        route = tuple(int(s) for s in route)
        if not route:
            continue
        sch = planned_schedule(problem, v, route)
        # the leg the plan puts the break on (-1: the route needs none)
        gap = -1 if sch.break_gap is None else int(sch.break_gap)
        veh = problem.vehicles[v]
        if problem.node_ids[veh.start].startswith("@"):
            # a vehicle already out on the road (re-plan) carries on at once (after its
            # break when the plan has it rest before moving on)
            depart = math.ceil(veh.shift_start_s / 60.0) * 60.0
            b = veh.break_
            if gap == -1 and b is not None and sch.departure_s >= b.earliest_s + b.duration_s:
                depart = max(depart, math.ceil((b.earliest_s + b.duration_s) / 60.0) * 60.0)
            arrivals = forward_pass(
                problem, veh, problem.duration_of(v), route, int(depart), None if gap < 0 else gap
            ).arrival_s
        else:
            # latest feasible departure in whole minutes (floored: never later anywhere,
            # FIFO), so routes.csv replays exactly
            depart = math.floor(sch.departure_s / 60.0) * 60.0
            b = veh.break_
            if (
                gap == -1
                and b is not None
                and depart < b.earliest_s + b.duration_s <= sch.departure_s
            ):
                # the plan leaves after the break: so does the simulation
                depart = math.ceil(sch.departure_s / 60.0) * 60.0
            arrivals = list(sch.arrival_s)
        sims.append(
            sim.route(
                sim_problem or problem,
                v,
                route,
                depart_s=depart,
                keep_legs=keep_legs,
                break_gap=gap,
            )
        )
        planned.append([float(a) for a in arrivals])
    return sims, planned


def _sim_cost(problem: RoutingProblem, sims: Sequence[RouteSim]) -> float:
    c = 0.0
    for s in sims:
        v = problem.vehicles[s.vehicle]
        c += (
            v.fixed_cost
            + v.cost_per_km * s.distance_m / 1000.0
            + v.cost_per_hour * s.duration_s / 3600.0
        )
    return c


def _moved(reference: Sequence[Sequence[int]] | None, routes: Sequence[Sequence[int]]) -> int:
    """Stops ``routes`` serve on another vehicle than ``reference`` (node indices per vehicle)."""
    if reference is None:
        return 0
    was = {int(s): v for v, r in enumerate(reference) for s in r}
    return sum(1 for v, r in enumerate(routes) for s in r if was.get(int(s), v) != v)


def _score(
    problem: RoutingProblem,
    sol: Solution,
    sims: Sequence[RouteSim],
    reference: Sequence[Sequence[int]] | None = None,
) -> tuple:
    """(unassigned, late stops + shifts overrun, cost + reassignment penalties vs
    ``reference``): the order in which rounds are compared."""
    late = sum(s.late_stops for s in sims)
    over = sum(1 for s in sims if s.end_arrival_s > problem.vehicles[s.vehicle].shift_end_s + 0.5)
    cost = _sim_cost(problem, sims) + problem.reassign_penalty * _moved(reference, sol.routes)
    return (len(sol.unassigned), late + over, round(cost, 6))


def iterate_plan(
    ctx: PlanContext,
    settings: PlanSettings,
    *,
    restart: RestartProblem | None = None,
    reassign_penalty: float = 0.0,
    initial_routes: tuple[tuple[int, ...], ...] | None = None,
) -> PlanRounds:
    """Plan with bucket matrices, simulate, re-plan with the simulated buckets; keep the best.

    ``restart``: how each vehicle enters a re-plan (its previous order is the warm start).
    ``initial_routes``: a warm start (node indices per vehicle) for a plan that is not a
    re-plan."""
    from .solve import solve

    sim = Simulator(ctx.net, ctx.speed, ctx.node_graph)
    est = initial_estimates(ctx, None if restart is None else restart.vehicle_start)
    best = None
    log_rows: list[dict] = []
    warm = initial_routes if restart is None else restart.initial
    time_dependent = not ctx.speed.is_free_flow
    for it in range(max(1, settings.max_iterations)):
        problem = build_problem(
            ctx,
            est,
            drop_penalty=settings.drop_penalty,
            restart=restart,
            initial_routes=warm,
            reassign_penalty=reassign_penalty,
            late_margin_s=settings.late_margin_s if time_dependent else 0,
        )
        limit = settings.time_limit_s if it == 0 else max(1.0, settings.time_limit_s / 3.0)
        engine = settings.engine
        if it > 0 and engine == "auto" and settings.deterministic:
            # deterministic PyVRP runs an iteration count, not the clock: re-plan rounds
            # refine the warm start with OR-Tools, whose solution count follows the limit
            engine = "ortools"
        t0 = time.perf_counter()
        sol = solve(
            problem,
            SolveSettings(
                engine=engine,
                time_limit_s=limit,
                seed=settings.seed,
                deterministic=settings.deterministic,
            ),
        )
        solve_s = time.perf_counter() - t0
        if not any(sol.routes) and not sol.unassigned and problem.stops:
            raise SolverError(f"the solver returned no routes ({sol.status})")
        real = replace(problem, tw_s=real_windows(ctx, problem))
        sims, planned = simulate_solution(problem, sol.routes, sim, sim_problem=real)
        errs = [
            abs(a - v.arrival_s)
            for s, p in zip(sims, planned, strict=True)
            for a, v in zip(p, s.visits, strict=True)
        ]
        max_err = max(errs, default=0.0)
        score = _score(problem, sol, sims, None if restart is None else restart.initial)
        log_rows.append(
            {
                "iteration": it + 1,
                "engine": sol.engine,
                "status": sol.status,
                "solve_s": round(solve_s, 2),
                "unassigned": len(sol.unassigned),
                "late_stops": score[1],
                "cost": score[2],
                "eta_max_abs_error_min": round(max_err / 60.0, 2),
                "eta_mean_abs_error_min": round(float(np.mean(errs)) / 60.0 if errs else 0.0, 2),
            }
        )
        log.info("plan round %d: %s", it + 1, log_rows[-1])
        if best is None or score < best[0]:
            best = (score, problem, sol, sims, it, real)
        if not time_dependent or (max_err <= settings.eta_tolerance_s and score[1] == 0):
            break
        # re-plan with the bucket each node is actually left in
        new_est = est.copy()
        first_departure: dict[int, float] = {}
        for s in sims:
            start = problem.vehicles[s.vehicle].start
            first_departure[start] = min(first_departure.get(start, np.inf), s.depart_s)
            for vis in s.visits:
                new_est[:, vis.node] = vis.departure_s
        # one estimate per start node keeps identical vehicles' matrices identical
        for start, t in first_departure.items():
            new_est[:, start] = t
        est = new_est
        if restart is None:
            # a re-plan keeps its previous plan as the warm start of every round: it is also
            # what the reassignment penalty measures moves against
            warm = tuple(tuple(int(x) for x in r) for r in sol.routes)
    assert best is not None
    _, problem, sol, sims, it, real = best
    for row in log_rows:
        row["kept"] = row["iteration"] == it + 1
    # legs for maps and replanning
    sims, _ = simulate_solution(problem, sol.routes, sim, keep_legs=True, sim_problem=real)
    # outputs and re-simulation judge lateness against the real windows
    return PlanRounds(real, sol, sims, sim, log_rows)


def real_windows(ctx: PlanContext, problem: RoutingProblem) -> np.ndarray:
    """``problem``'s windows (s) with every stop's own window end (the solver may have seen
    them tightened by ``late_margin_s``)."""
    tw = np.array(problem.tw_s, copy=True)
    st = ctx.stops.set_index("stop_id")
    for i in ctx.stop_nodes:
        tw[i, 1] = int(st.at[ctx.node_ids[i], "tw_end_s"])
    return tw
