"""``auto`` engine: PyVRP for most of the budget, then OR-Tools from PyVRP's plan.

One core, the same wall-clock budget as either engine alone:

1. if the problem uses something only OR-Tools expresses (breaks, pinned stops,
   re-assignment penalties) -> OR-Tools alone, whole budget;
2. else PyVRP (hybrid genetic search) for `PYVRP_SHARE` of the budget;
3. its plan is handed to OR-Tools as the initial solution (`ReadAssignmentFromRoutes`) for
   the rest of the budget: OR-Tools re-checks every constraint and runs guided local search
   from there; if PyVRP found nothing feasible, OR-Tools starts from scratch instead;
4. the better plan by the problem's own objective (`routing.check.evaluate`) wins.

Deterministic mode splits iteration / solution counts instead of time.
"""

from __future__ import annotations

import logging
import time

from ..check import evaluate
from ..errors import SolverError
from ..problem import Problem, Solution, SolveSettings
from . import _common as C
from . import ortools_engine, pyvrp_engine

log = logging.getLogger(__name__)

PYVRP_SHARE = 0.85


def solve(problem: Problem, settings: SolveSettings) -> Solution:
    """Solve with the combination described in the module docstring."""
    t0 = time.perf_counter()
    if C.needs_ortools(problem):
        sol = ortools_engine.solve(problem, settings)
        return _tag(sol, "auto(ortools)", {"pyvrp_skipped": ", ".join(C.needs_ortools(problem))})
    budget = settings.time_limit_s
    first = None
    try:
        if settings.deterministic:
            pv = pyvrp_engine.solve(problem, settings)
        else:
            pv = pyvrp_engine.solve(problem, settings, time_limit_s=PYVRP_SHARE * budget)
        first = pv.stats.get("first_solution_s")
    except SolverError as e:
        log.info("PyVRP found no feasible plan (%s); OR-Tools gets the whole budget", e)
        pv = None
    rest = max(0.2, budget - (time.perf_counter() - t0))
    warm = pv.routes if pv is not None else None
    try:
        if settings.deterministic:
            sl = max(
                50, (settings.solution_limit or ortools_engine.default_solution_limit(problem)) // 5
            )
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, solution_limit=sl)
        else:
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, time_limit_s=rest)
    except SolverError:
        if pv is None:
            raise
        ot = None
    cands = [s for s in (pv, ot) if s is not None]
    best = min(cands, key=lambda s: evaluate(problem, s.routes)["key"])
    stats = dict(best.stats)
    stats.update(
        {
            "pyvrp_objective": None if pv is None else pv.objective,
            "ortools_objective_after": None if ot is None else ot.objective,
            "winner": best.engine,
            "total_s": round(time.perf_counter() - t0, 3),
        }
    )
    if first is not None:
        stats["first_solution_s"] = first
    return _tag(best, f"auto({best.engine})", stats)


def _tag(sol: Solution, engine: str, stats: dict) -> Solution:
    from dataclasses import replace

    merged = dict(sol.stats)
    merged.update(stats)
    return replace(sol, engine=engine, stats=merged)
