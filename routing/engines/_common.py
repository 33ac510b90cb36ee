"""Integer cost model shared by the engine adapters (so both optimise the same thing).

Internal cost unit for ``objective="cost"``: 1 currency = `COST_SCALE` integer units, so
that a per-km cost becomes an integer per metre (``cost_per_km * 3600``) and a per-hour
cost an integer per second (``cost_per_hour * 1000``). One extra unit per metre breaks
ties (and guides the search when every cost is zero): 1 unit = 2.8e-7 currency.

``objective="distance"``: 1 unit per distance unit, drop penalties in distance units.
``objective="hierarchical"``: as distance plus a fixed cost per used vehicle larger than
any possible total distance (fewest vehicles first).
"""

from __future__ import annotations

import numpy as np

from ..problem import RoutingProblem, Solution, Vehicle

COST_SCALE = 3_600_000


def per_metre_cost(problem: RoutingProblem, v: Vehicle) -> int:
    """Integer cost per distance unit for vehicle `v`."""
    if problem.objective != "cost":
        return 1
    return round(v.cost_per_km * COST_SCALE / 1000.0) + 1


def per_second_cost(problem: RoutingProblem, v: Vehicle) -> int:
    """Integer cost per second of route duration for vehicle `v`."""
    if problem.objective != "cost":
        return 0
    return round(v.cost_per_hour * COST_SCALE / 3600.0)


def big_vehicle_cost(problem: RoutingProblem) -> int:
    """Fixed cost per vehicle for the hierarchical objective (> any total distance)."""
    d = np.asarray(problem.distance_m)
    n_arcs = len(problem.stops) + len(problem.vehicles)
    return int(d.max(initial=0)) * (n_arcs + 1) + 1


def fixed_cost(problem: RoutingProblem, v: Vehicle) -> int:
    """Integer fixed cost of using vehicle `v`."""
    if problem.objective == "hierarchical":
        return big_vehicle_cost(problem)
    if problem.objective == "cost":
        return round(v.fixed_cost * COST_SCALE)
    return 0


def drop_penalties(problem: RoutingProblem) -> np.ndarray | None:
    """Integer penalty per node for leaving it unserved (None = must serve)."""
    if problem.drop_penalty is None:
        return None
    dp = np.asarray(problem.drop_penalty, dtype=float)
    scale = COST_SCALE if problem.objective == "cost" else 1
    return np.round(dp * scale).astype(np.int64)


def reassign_cost(problem: RoutingProblem) -> int:
    """Integer penalty per stop moved off its previous vehicle."""
    scale = COST_SCALE if problem.objective == "cost" else 1
    return round(problem.reassign_penalty * scale)


def needs_ortools(problem: RoutingProblem) -> list[str]:
    """Features of `problem` that only the OR-Tools adapter can express."""
    out = []
    if any(v.break_ is not None for v in problem.vehicles):
        out.append("driver breaks")
    if any(problem.pinned.values()):
        out.append("pinned stops")
    if problem.reassign_penalty > 0 and problem.initial_routes is not None:
        out.append("re-assignment penalties")
    return out


def engine_solution(
    problem: RoutingProblem, routes, *, engine: str, status: str, stats: dict
) -> Solution:
    """An engine's routes as a :class:`Solution`: unassigned = the stops no route serves,
    objective and distance (m) as the checker evaluates them, ``stats`` plus
    ``vehicles_used``."""
    from ..check import evaluate

    served = {s for r in routes for s in r}
    unassigned = tuple(s for s in problem.stops if s not in served)
    ev = evaluate(problem, routes)
    return Solution(
        routes=routes,
        unassigned=unassigned,
        reasons={},
        objective=ev["objective"],
        distance_m=ev["distance"],
        engine=engine,
        status=status,
        stats={**stats, "vehicles_used": ev["vehicles"]},
    )
