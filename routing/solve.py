"""`solve(problem, settings)`: one entry point over the engine adapters.

Engines (`routing.engines`):

- ``"ortools"``: OR-Tools routing, carries every constraint of `Problem` (breaks, pinned
  prefixes, per-vehicle matrices, re-assignment penalties, warm starts).
- ``"pyvrp"``: PyVRP's hybrid genetic search, for problems without breaks, pins and
  re-assignment penalties (others raise `InputError`).
- ``"auto"`` (default): PyVRP for most of the budget, its plan handed to OR-Tools as the
  initial solution for the rest (OR-Tools carrying every constraint); problems PyVRP
  cannot express go to OR-Tools alone.

Every returned `Solution` has `reasons` filled for its unassigned stops
(`routing.check.explain_unassigned`).
"""

from __future__ import annotations

import logging

from .errors import InputError
from .problem import ENGINES, Problem, Solution, SolveSettings

log = logging.getLogger(__name__)


def solve(problem: Problem, settings: SolveSettings | None = None) -> Solution:
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
        raise InputError("time limit must be positive", fix="pass --time-limit > 0 seconds")
    problem.validate()
    from .engines import auto_engine, ortools_engine, pyvrp_engine

    if settings.engine == "ortools":
        sol = ortools_engine.solve(problem, settings)
    elif settings.engine == "pyvrp":
        sol = pyvrp_engine.solve(problem, settings)
    else:
        sol = auto_engine.solve(problem, settings)
    return _with_reasons(problem, sol)


def _with_reasons(problem: Problem, sol: Solution) -> Solution:
    from dataclasses import replace

    from .check import explain_unassigned

    if not sol.unassigned:
        return sol
    reasons = explain_unassigned(problem, sol.unassigned, solution=sol)
    return replace(sol, reasons=reasons)
