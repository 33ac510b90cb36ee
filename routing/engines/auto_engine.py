"""``auto`` engine: PyVRP and OR-Tools combined, the same wall-clock budget as either alone.

1. If the problem uses something only OR-Tools expresses (breaks, pinned stops,
   re-assignment penalties): OR-Tools alone, whole budget.
2. Else the *chain*: PyVRP (iterated local search) for `PYVRP_SHARE` of the budget, then
   its plan handed to OR-Tools as the initial solution (`ReadAssignmentFromRoutes`) for
   the rest: OR-Tools re-checks every constraint and runs guided local search from there
   (from scratch if PyVRP found nothing feasible). The better plan by the problem's own
   objective (`routing.check.evaluate`) is the chain's result.
3. With two cores (`SolveSettings.workers`, default min(2, cores)) the chain runs with the
   next seed in a forked worker process while this process runs plain PyVRP with the
   settings' seed for the whole budget; the best of the two wins. On two free cores the
   result is therefore never worse than plain PyVRP with the same seed and time (same
   search trajectory), and the second core adds a second seed plus OR-Tools' polish.

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
from ..problem import RoutingProblem, Solution, SolveSettings
from . import _common as C
from . import ortools_engine, pyvrp_engine

log = logging.getLogger(__name__)

PYVRP_SHARE = 0.85


def _pyvrp(problem: RoutingProblem, settings: SolveSettings, limit_s: float) -> Solution | None:
    try:
        return pyvrp_engine.solve(problem, settings, time_limit_s=limit_s)
    except SolverError as e:
        log.info("PyVRP found no feasible plan: %s", e)
        return None


def _best(problem: RoutingProblem, sols) -> Solution:
    return min((s for s in sols if s is not None), key=lambda s: evaluate(problem, s.routes)["key"])


def _chain(problem: RoutingProblem, settings: SolveSettings, budget: float) -> Solution:
    """PyVRP for PYVRP_SHARE of `budget`, then OR-Tools from its plan for the rest."""
    t0 = time.perf_counter()
    pv = _pyvrp(problem, settings, PYVRP_SHARE * budget)
    rest = max(0.2, budget - (time.perf_counter() - t0))
    warm = pv.routes if pv is not None else None
    try:
        if settings.deterministic:
            sl = settings.solution_limit or ortools_engine.default_solution_limit(
                problem, (1 - PYVRP_SHARE) * budget
            )
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, solution_limit=sl)
        else:
            ot = ortools_engine.solve(problem, settings, initial_routes=warm, time_limit_s=rest)
    except SolverError:
        if pv is None:
            raise
        ot = None
    best = _best(problem, (pv, ot))
    stats = {
        "pyvrp_objective": None if pv is None else pv.objective,
        "ortools_objective_after": None if ot is None else ot.objective,
    }
    if pv is not None and pv.stats.get("first_solution_s") is not None:
        stats["first_solution_s"] = pv.stats["first_solution_s"]
    return _tag(best, best.engine, stats)


def _chain_worker(problem: RoutingProblem, settings: SolveSettings, budget: float):
    """Run in the worker process; returns a Solution or None (no exception pickling)."""
    try:
        return _chain(problem, settings, budget)
    except SolverError:
        return None


def _n_workers(settings: SolveSettings) -> int:
    if settings.workers is not None:
        return max(1, int(settings.workers))
    return max(1, min(2, os.cpu_count() or 1))


def solve(problem: RoutingProblem, settings: SolveSettings) -> Solution:
    """Solve with the combination described in the module docstring."""
    t0 = time.perf_counter()
    if C.needs_ortools(problem):
        sol = ortools_engine.solve(problem, settings)
        return _tag(sol, "auto(ortools)", {"pyvrp_skipped": ", ".join(C.needs_ortools(problem))})
    budget = settings.time_limit_s
    workers = _n_workers(settings)
    if workers == 1:
        best = _chain(problem, settings, budget)
        return _tag(best, f"auto({best.engine})", {"workers": 1, "total_s": _since(t0)})
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else None
    pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
    other = None
    try:
        fut = pool.submit(
            _chain_worker, problem, replace(settings, seed=settings.seed + 1), budget - 0.05
        )
        main_limit = budget if settings.deterministic else budget - (time.perf_counter() - t0)
        main = _pyvrp(problem, settings, main_limit)
        if settings.deterministic:
            # counts, not the clock: the worker's plan must count whatever the load, so wait
            # for it up to the same safety cap as OR-Tools' deterministic mode
            wait_s = max(60.0, 20.0 * budget)
        else:
            wait_s = max(0.0, budget - (time.perf_counter() - t0)) + 10.0
        try:
            other = fut.result(timeout=wait_s)
        except Exception as e:  # worker crash / timeout: keep the main search's plan
            log.warning("auto: the worker process failed: %s", e)
    finally:
        # join the worker when it is done (it is, unless it failed or timed out)
        pool.shutdown(wait=other is not None, cancel_futures=True)
    if main is None and other is None:
        # nothing feasible from PyVRP (both seeds) nor OR-Tools in the worker: last try
        rest = max(0.5, budget - (time.perf_counter() - t0))
        sol = ortools_engine.solve(problem, settings, time_limit_s=rest)
        return _tag(sol, "auto(ortools)", {"workers": workers, "total_s": _since(t0)})
    best = _best(problem, (main, other))
    stats = {
        "workers": workers,
        "main_pyvrp_objective": None if main is None else main.objective,
        "worker_chain_objective": None if other is None else other.objective,
        "winner": "main pyvrp" if best is main else f"worker chain ({other.engine})",
        "total_s": _since(t0),
    }
    return _tag(best, f"auto({best.engine})", stats)


def _since(t0: float) -> float:
    return round(time.perf_counter() - t0, 3)


def _tag(sol: Solution, engine: str, stats: dict) -> Solution:
    merged = dict(sol.stats)
    merged.update(stats)
    return replace(sol, engine=engine, stats=merged)
