"""``auto`` engine: PyVRP for most of the budget, then OR-Tools from PyVRP's plan.

The same wall-clock budget as either engine alone:

1. if the problem uses something only OR-Tools expresses (breaks, pinned stops,
   re-assignment penalties) -> OR-Tools alone, whole budget;
2. else PyVRP (hybrid genetic search) for `PYVRP_SHARE` of the budget; with two cores
   (`SolveSettings.workers`, default min(2, cores)) a second PyVRP search with the next
   seed runs on the other core in a forked worker process;
3. its plan is handed to OR-Tools as the initial solution (`ReadAssignmentFromRoutes`) for
   the rest of the budget: OR-Tools re-checks every constraint and runs guided local search
   from there; if PyVRP found nothing feasible, OR-Tools starts from scratch instead;
4. the best plan by the problem's own objective (`routing.check.evaluate`) wins.

Deterministic mode splits iteration / solution counts instead of time.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace

from ..check import evaluate
from ..errors import SolverError
from ..problem import Problem, Solution, SolveSettings
from . import _common as C
from . import ortools_engine, pyvrp_engine

log = logging.getLogger(__name__)

PYVRP_SHARE = 0.85


def _pyvrp_worker(problem: Problem, settings: SolveSettings, limit_s: float):
    """Run in a worker process; returns a Solution or None (no exception pickling)."""
    try:
        return pyvrp_engine.solve(problem, settings, time_limit_s=limit_s)
    except SolverError:
        return None


def _n_workers(settings: SolveSettings) -> int:
    if settings.workers is not None:
        return max(1, int(settings.workers))
    return max(1, min(2, os.cpu_count() or 1))


def solve(problem: Problem, settings: SolveSettings) -> Solution:
    """Solve with the combination described in the module docstring."""
    t0 = time.perf_counter()
    if C.needs_ortools(problem):
        sol = ortools_engine.solve(problem, settings)
        return _tag(sol, "auto(ortools)", {"pyvrp_skipped": ", ".join(C.needs_ortools(problem))})
    budget = settings.time_limit_s
    workers = _n_workers(settings)
    share = PYVRP_SHARE * budget
    pool = None
    fut = None
    if workers > 1:
        # a second PyVRP search (next seed) on the other core, started by fork
        ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
        pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
        fut = pool.submit(_pyvrp_worker, problem, replace(settings, seed=settings.seed + 1), share)
    try:
        pv = _pyvrp_worker(problem, settings, share)
        pv2 = None
        if fut is not None:
            try:
                pv2 = fut.result(timeout=max(0.0, share - (time.perf_counter() - t0)) + 10.0)
            except Exception as e:  # worker crash/timeout: keep the main search's plan
                log.warning("second PyVRP worker failed: %s", e)
    finally:
        if pool is not None:
            # join the worker when it is done (it is, unless it failed or timed out)
            pool.shutdown(wait=fut is not None and fut.done(), cancel_futures=True)
    pvs = [s for s in (pv, pv2) if s is not None]
    pv_best = min(pvs, key=lambda s: evaluate(problem, s.routes)["key"]) if pvs else None
    first = pv_best.stats.get("first_solution_s") if pv_best is not None else None
    rest = max(0.2, budget - (time.perf_counter() - t0))
    warm = pv_best.routes if pv_best is not None else None
    try:
        if settings.deterministic:
            sl = settings.solution_limit or ortools_engine.default_solution_limit(
                problem, (1 - PYVRP_SHARE) * budget
            )
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, solution_limit=sl)
        else:
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, time_limit_s=rest)
    except SolverError:
        if pv_best is None:
            raise
        ot = None
    cands = [s for s in (pv_best, ot) if s is not None]
    best = min(cands, key=lambda s: evaluate(problem, s.routes)["key"])
    stats = dict(best.stats)
    stats.update(
        {
            "pyvrp_objectives": [None if s is None else s.objective for s in (pv, pv2)],
            "ortools_objective_after": None if ot is None else ot.objective,
            "winner": best.engine,
            "workers": workers,
            "total_s": round(time.perf_counter() - t0, 3),
        }
    )
    if first is not None:
        stats["first_solution_s"] = first
    return _tag(best, f"auto({best.engine})", stats)


def _tag(sol: Solution, engine: str, stats: dict) -> Solution:
    merged = dict(sol.stats)
    merged.update(stats)
    return replace(sol, engine=engine, stats=merged)
