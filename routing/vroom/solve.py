"""Solving a parsed problem (:func:`solve_vroom`)."""

from __future__ import annotations

from typing import Any

from .matrices import _solve_matrices
from .model import STATE_KIND, DispatchResult, VroomProblem
from .output import _format
from .roads import _network_routes, _records, _solve_network


def solve_vroom(
    problem: VroomProblem,
    *,
    network: Any | None = None,
    speed: Any | None = None,
) -> DispatchResult:
    """Solve a parsed VROOM problem; answer in VROOM's output format.

    Parameters
    ----------
    problem
        From :func:`parse_vroom`.
    network
        A :class:`routing.RoadNetwork`; required when the problem has no ``matrices``
        (ignored otherwise).
    speed
        A :class:`routing.SpeedModel` (traffic × weather for :func:`plan_date`); default
        free flow.

    Returns
    -------
    DispatchResult
        ``output`` (VROOM format; ``arrival`` = simulated ETA, absolute when the input
        was), ``state`` (for :func:`replan_vroom`), ``geometry`` per vehicle id.

    Raises
    ------
    routing.InputError
        No road network for a problem without matrices, a location off the network, ...
    routing.SolverError
        The engine found no plan.
    """
    return solve_vroom_plan(problem, network=network, speed=speed)[0]


def solve_vroom_plan(
    problem: VroomProblem,
    *,
    network: Any | None = None,
    speed: Any | None = None,
) -> tuple[DispatchResult, Any]:
    """:func:`solve_vroom` plus the :class:`routing.RoutePlan` behind a road-network
    solution (None with matrices), for writing ``shipahead route``'s usual outputs."""
    jobs = list(problem.jobs)
    plan = None
    state: dict[str, Any] = {
        "kind": STATE_KIND,
        "version": 1,
        "mode": "matrices" if problem.uses_matrices else "network",
        "t0": problem.t0,
        "at": None,
        "done": [],
        "cancelled": [],
        "down": [],
        "added": [],
        "incidents": [],
        "actual": {},
    }
    if problem.uses_matrices:
        routes, un = _solve_matrices(problem, jobs)
        has_distance = all("distances" in problem.matrices[v.profile] for v in problem.vehicles)
    else:
        plan = _solve_network(problem, jobs, network, speed)
        routes, un = _network_routes(problem, jobs, plan)
        has_distance = True
        state["routes"] = _records(plan.routes)
    output = _format(problem, jobs, routes, un, has_distance=has_distance)
    state["output"] = output
    geometry = {
        str(r.vehicle.id): r.geometry for r in routes if any(s["type"] == "job" for s in r.steps)
    }
    return DispatchResult(output=output, state=state, geometry=geometry), plan
