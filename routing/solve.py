"""`solve(problem, settings)`: one entry point over the engine adapters.

Engines (`routing.engines`):

- ``"ortools"``: OR-Tools routing, carries every constraint of `RoutingProblem` (breaks, pinned
  prefixes, per-vehicle matrices, re-assignment penalties, warm starts).
- ``"pyvrp"``: PyVRP's hybrid genetic search, for problems without breaks, pins and
  re-assignment penalties (others raise `InputError`).
- ``"auto"`` (default): PyVRP for most of the budget (two searches with different seeds
  when two cores are available), the best plan handed to OR-Tools as the initial solution
  for the rest (OR-Tools carrying every constraint); problems PyVRP cannot express go to
  OR-Tools alone.

Every returned `Solution` has `reasons` filled for its unassigned stops
(`routing.check.explain_unassigned`).
"""

from __future__ import annotations

import logging
from dataclasses import replace

from .errors import InfeasibleError, InputError
from .problem import ENGINES, RoutingProblem, Solution, SolveSettings

log = logging.getLogger(__name__)


def solve(problem: RoutingProblem, settings: SolveSettings | None = None) -> Solution:
    """Solve `problem` with the engine named in `settings`.

    Parameters
    ----------
    problem
        The validated internal problem (integer metres / seconds / units).
    settings
        Engine, time limit (seconds), seed, deterministic mode.

    Returns
    -------
    Solution
        Routes per vehicle (stop indices), unassigned stops with reasons, objective in
        problem units, total distance (integer distance units), engine stats.

    Raises
    ------
    routing.InputError
        Bad problem, or an engine asked for a constraint it cannot express.
    routing.InfeasibleError
        No plan serves all must-serve stops (the message names the binding constraint).
    routing.SolverError
        The engine found no plan within its limit.
    """
    settings = settings or SolveSettings()
    if settings.engine not in ENGINES:
        raise InputError(f"engine {settings.engine!r} is unknown", fix=f"use one of {ENGINES}")
    if settings.time_limit_s <= 0:
        raise InputError("time limit must be positive", fix="pass `time_limit_s` > 0 seconds")
    problem.validate()
    _precheck_pinned(problem)
    if problem.drop_penalty is None:
        _precheck_must_serve(problem)
    from .engines import auto_engine, ortools_engine, pyvrp_engine

    # stops that no vehicle can serve even on a direct trip are dropped up front (only
    # possible when drops are allowed; otherwise the pre-check above raised)
    hopeless: tuple[int, ...] = ()
    work = problem
    if problem.drop_penalty is not None:
        hopeless = _hopeless_stops(problem)
        if hopeless:
            keep = tuple(s for s in problem.stops if s not in set(hopeless))
            work = replace(problem, stops=keep, initial_routes=_strip(problem, set(hopeless)))
    if not work.stops:
        sol = Solution(
            routes=tuple(() for _ in problem.vehicles),
            unassigned=(),
            reasons={},
            objective=0.0,
            distance_m=0,
            engine=settings.engine,
            status="no-stops",
            stats={},
        )
    elif settings.engine == "ortools":
        sol = ortools_engine.solve(work, settings)
    elif settings.engine == "pyvrp":
        sol = pyvrp_engine.solve(work, settings)
    else:
        sol = auto_engine.solve(work, settings)
    if hopeless:
        from .check import evaluate

        un = tuple(sorted(set(sol.unassigned) | set(hopeless)))
        sol = replace(sol, unassigned=un, objective=evaluate(problem, sol.routes)["objective"])
    return _with_reasons(problem, sol)


_HARD = ("capacity", "window unreachable", "shift")


def _hopeless_stops(problem: RoutingProblem) -> tuple[int, ...]:
    from .check import explain_unassigned

    why = explain_unassigned(problem, problem.stops)
    pinned = {s for seq in problem.pinned.values() for s in seq}
    return tuple(s for s, r in why.items() if r.startswith(_HARD) and s not in pinned)


def _strip(problem: RoutingProblem, drop: set[int]):
    if problem.initial_routes is None:
        return None
    return tuple(tuple(s for s in r if s not in drop) for r in problem.initial_routes)


def _with_reasons(problem: RoutingProblem, sol: Solution) -> Solution:
    from .check import explain_unassigned

    if not sol.unassigned:
        return sol
    reasons = explain_unassigned(problem, sol.unassigned, solution=sol)
    return replace(sol, reasons=reasons)


def _precheck_must_serve(problem: RoutingProblem) -> None:
    """Raise `InfeasibleError` when a must-serve stop cannot be served even on its own."""
    from .check import explain_unassigned

    why = explain_unassigned(problem, problem.stops)
    bad = [(s, r) for s, r in why.items() if r.startswith(_HARD)]
    if bad:
        s, r = bad[0]
        more = f" ({len(bad) - 1} more stops too)" if len(bad) > 1 else ""
        raise InfeasibleError(
            f"stop {problem.node_ids[s]!r} cannot be served: {r}{more}",
            row=s,
            fix="widen its window, raise capacities or shifts, or allow drops with a penalty",
        )


def _precheck_pinned(problem: RoutingProblem) -> None:
    """Raise `InfeasibleError` when a pinned prefix cannot be driven as pinned."""
    import numpy as np

    from .check import route_schedule

    vindex = {v.vehicle_id: i for i, v in enumerate(problem.vehicles)}
    dem = np.asarray(problem.demand)
    for vid, seq in problem.pinned.items():
        if not seq:
            continue
        vi = vindex[vid]
        v = problem.vehicles[vi]
        over = (dem[list(seq)].sum(axis=0) > np.array(v.capacity)).any()
        viol = list(route_schedule(problem, vi, tuple(seq)).violations)
        if over:
            viol.insert(0, f"the pinned stops exceed its capacity {v.capacity}")
        if viol:
            raise InfeasibleError(
                f"vehicle {vid!r} cannot serve its pinned stops "
                f"{', '.join(repr(problem.node_ids[s]) for s in seq)}: {viol[0]}",
                fix="un-pin those stops or widen their windows / the shift",
            )
