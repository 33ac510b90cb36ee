"""Benchmark instances (VRPLIB `.vrp`, Solomon `.txt`) -> `RoutingProblem`; VRPLIB solution text.

The CLI reads the file with `vrplib.read_instance` and passes the dict here. Conventions
(as in the shared benchmark README; a gap is only meaningful within one convention):

- CVRPLIB ``.vrp`` without time windows (A, B, P, X): TSPLIB ``EUC_2D``, Euclidean distance
  rounded to the nearest integer (``floor(d + 0.5)``), objective = distance.
  ``EXPLICIT`` edge weights are used as given (rounded to integers).
- ``.vrp`` with time windows (Gehring & Homberger, e.g. RC1_10_1) and Solomon with
  ``objective="distance"``: Euclidean truncated to one decimal (DIMACS), also the travel
  time; stored as integers x10 (`distance_scale` 10), objective = distance.
- Solomon with ``objective="hierarchical"`` (the default for Solomon): fewest vehicles, then
  exact double-precision Euclidean distance; travel time = distance. Stored x10,000: the
  distance rounded, the travel time rounded *up* (so every plan feasible for the integer
  model is feasible with exact times); reported costs use the exact float distances.

Times (windows, service) are multiplied by the same scale; the fleet is the instance's
(``vehicles``) or, for CVRP, enough vehicles for 1.2x the minimum route count + 2.
"""

from __future__ import annotations

import math
import re

import numpy as np

from .errors import InputError
from .problem import RoutingProblem, Solution, Vehicle

HIER_SCALE = 10_000


def _euclid(coords: np.ndarray) -> np.ndarray:
    diff = coords[:, None, :] - coords[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def _trunc1(coords: np.ndarray) -> np.ndarray:
    """Euclidean distance truncated to one decimal, as integers x10 (exact for int coords)."""
    c = np.asarray(coords)
    if np.allclose(c, np.round(c)):
        ci = np.round(c).astype(np.int64)
        sq = ((ci[:, None, :] - ci[None, :, :]) ** 2).sum(axis=2) * 100
        r = np.floor(np.sqrt(sq.astype(float))).astype(np.int64)
        # fix floating error so that r = isqrt(sq) exactly
        r -= (r * r > sq).astype(np.int64)
        r += ((r + 1) * (r + 1) <= sq).astype(np.int64)
        return r
    return np.floor(_euclid(c) * 10 + 1e-9).astype(np.int64)


def problem_from_vrplib(
    instance: dict, kind: str = "vrplib", *, objective: str | None = None
) -> RoutingProblem:
    """Map a `vrplib.read_instance` dict to a `RoutingProblem`.

    Parameters
    ----------
    instance
        The dict returned by ``vrplib.read_instance(path)`` (``kind="vrplib"``) or
        ``vrplib.read_instance(path, instance_format="solomon")`` (``kind="solomon"``).
    kind
        ``"vrplib"`` or ``"solomon"``.
    objective
        Solomon only: ``"hierarchical"`` (default) or ``"distance"``.

    Raises
    ------
    routing.InputError
        Missing sections or an unsupported edge-weight type.
    """
    if kind not in ("vrplib", "solomon"):
        raise InputError(f"instance kind {kind!r} is unknown", fix="use 'vrplib' or 'solomon'")
    for key in ("demand", "capacity"):
        if key not in instance:
            raise InputError(f"instance has no {key.upper()} section", fix="check the file")
    demand = np.asarray(instance["demand"], dtype=np.int64).reshape(-1)
    n = len(demand)
    coords = instance.get("node_coord")
    has_tw = "time_window" in instance
    exact = None
    if kind == "solomon":
        objective = objective or "hierarchical"
        if objective not in ("hierarchical", "distance"):
            raise InputError(f"Solomon objective {objective!r} is unknown")
        if coords is None:
            raise InputError("Solomon instance has no coordinates")
    else:
        if objective not in (None, "distance"):
            raise InputError("VRPLIB instances use objective 'distance'")
        objective = "distance"
    coords = None if coords is None else np.asarray(coords, dtype=float)
    if kind == "solomon" and objective == "hierarchical":
        scale = HIER_SCALE
        exact = _euclid(coords)
        dist = np.round(exact * scale).astype(np.int64)
        dur = np.ceil(exact * scale - 1e-9).astype(np.int64)
    elif kind == "solomon" or has_tw:
        if coords is None:
            raise InputError("time-window instance has no NODE_COORD_SECTION")
        scale = 10
        dist = _trunc1(coords)
        dur = dist
    else:
        scale = 1
        ewt = str(instance.get("edge_weight_type", "EUC_2D")).upper()
        if ewt == "EUC_2D" and coords is not None:
            dist = np.floor(_euclid(coords) + 0.5).astype(np.int64)
        elif "edge_weight" in instance:
            dist = np.round(np.asarray(instance["edge_weight"], dtype=float)).astype(np.int64)
        else:
            raise InputError(f"edge weight type {ewt!r} is not supported", fix="use EUC_2D")
        dur = dist
    depots = [int(x) for x in np.asarray(instance.get("depot", [0])).reshape(-1)]
    depot = depots[0]
    cap = int(np.asarray(instance["capacity"]).reshape(-1)[0])
    if has_tw:
        tw = np.asarray(instance["time_window"], dtype=np.int64) * scale
        st = np.asarray(instance.get("service_time", 0))
        svc = (np.broadcast_to(st, (n,)).astype(np.int64) * scale).copy()
        svc[depot] = 0
    else:
        horizon = int(dist.sum()) + 1
        tw = np.tile(np.array([0, horizon], dtype=np.int64), (n, 1))
        svc = np.zeros(n, dtype=np.int64)
    stops = tuple(i for i in range(n) if i not in depots)
    if "vehicles" in instance:
        nveh = int(np.asarray(instance["vehicles"]).reshape(-1)[0])
    else:
        kmin = math.ceil(int(demand[list(stops)].sum()) / max(cap, 1))
        m = re.search(r"-k(\d+)", str(instance.get("name", "")))
        if m:
            kmin = max(kmin, int(m.group(1)))
        nveh = math.ceil(1.2 * kmin) + 2
    vehicles = tuple(
        Vehicle(
            vehicle_id=f"v{k + 1}",
            start=depot,
            end=depot,
            capacity=(cap,),
            shift_start_s=int(tw[depot, 0]),
            shift_end_s=int(tw[depot, 1]),
        )
        for k in range(nveh)
    )
    return RoutingProblem(
        node_ids=tuple(str(i) for i in range(n)),
        stops=stops,
        distance_m=dist,
        duration_s=dur,
        demand=demand.reshape(-1, 1),
        tw_s=tw,
        service_s=svc,
        vehicles=vehicles,
        objective=objective,
        distance_scale=scale,
        exact_distance=exact,
    )


def reported_cost(problem: RoutingProblem, routes: tuple[tuple[int, ...], ...]) -> float:
    """Total distance in the instance's convention (exact floats when available)."""
    total = 0.0
    for vi, r in enumerate(routes):
        if not r:
            continue
        v = problem.vehicles[vi]
        path = np.array((v.start, *r, v.end))
        if problem.exact_distance is not None:
            total += float(problem.exact_distance[path[:-1], path[1:]].sum())
        else:
            total += float(np.asarray(problem.distance_m)[path[:-1], path[1:]].sum())
    if problem.exact_distance is None:
        total /= problem.distance_scale
    return total


def solution_text(problem: RoutingProblem, solution: Solution) -> str:
    """VRPLIB solution text: ``Route #k: id id ...`` per used route, then ``Cost X``.

    Node ids are the problem's (`node_ids`; for instances the VRPLIB node numbers, depot 0).
    The cost is the distance in the instance's convention: an integer for CVRPLIB, one
    decimal for the truncated convention, two decimals for exact Euclidean.
    """
    lines = []
    k = 0
    for r in solution.routes:
        if not r:
            continue
        k += 1
        lines.append(f"Route #{k}: " + " ".join(problem.node_ids[s] for s in r))
    cost = reported_cost(problem, solution.routes)
    if problem.exact_distance is not None:
        cost_s = f"{cost:.2f}"
    elif problem.distance_scale == 1:
        cost_s = f"{round(cost)}"
    else:
        digits = max(0, round(math.log10(problem.distance_scale)))
        cost_s = f"{cost:.{digits}f}"
    lines.append(f"Cost {cost_s}")
    return "\n".join(lines) + "\n"
