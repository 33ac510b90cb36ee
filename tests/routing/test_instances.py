"""VRPLIB / Solomon conventions, solution text, and best-known quality on small instances."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import vrplib
from shipahead.routing.check import check_solution
from shipahead.routing.errors import InputError
from shipahead.routing.instances import problem_from_vrplib, reported_cost, solution_text
from shipahead.routing.problem import Solution, SolveSettings
from shipahead.routing.solve import solve

DATA = Path(__file__).parent / "data"


def _read(name: str, objective: str | None = None):
    path = DATA / name
    if path.suffix == ".txt":
        return problem_from_vrplib(
            vrplib.read_instance(path, instance_format="solomon"), "solomon", objective=objective
        )
    return problem_from_vrplib(vrplib.read_instance(path), "vrplib")


def _as_solution(problem, sol_path: Path) -> Solution:
    routes = vrplib.read_solution(sol_path)["routes"]
    per_vehicle = [tuple(int(x) for x in r) for r in routes]
    per_vehicle += [()] * (len(problem.vehicles) - len(per_vehicle))
    return Solution(tuple(per_vehicle), (), {}, 0.0, 0, "file", "file")


def test_cvrplib_rounding_reproduces_bks_cost():
    p = _read("A-n32-k5.vrp")
    assert p.objective == "distance" and p.distance_scale == 1
    sol = _as_solution(p, DATA / "A-n32-k5.sol")
    assert check_solution(p, sol) == []
    assert reported_cost(p, sol.routes) == 784
    # TSPLIB nint: node 1 (depot, 82 76) to node 2 (96 44): sqrt(14^2 + 32^2) = 34.93 -> 35
    assert p.distance_m[0, 1] == 35


def test_solomon_distance_convention_truncates_to_one_decimal():
    p = _read("R102.txt", "distance")
    assert p.distance_scale == 10
    sol = _as_solution(p, DATA / "R102.sol")
    assert check_solution(p, sol) == []
    assert solution_text(p, sol).strip().endswith("Cost 1466.6")


def test_solomon_hierarchical_uses_exact_times():
    # R102's distance-optimal plan violates a window under exact Euclidean times
    # (shared benchmark README); the hierarchical model must see that
    p = _read("R102.txt", "hierarchical")
    assert p.objective == "hierarchical" and p.exact_distance is not None
    sol = _as_solution(p, DATA / "R102.sol")
    assert any("window end" in e for e in check_solution(p, sol))
    c = _read("C101.txt", "hierarchical")
    csol = _as_solution(c, DATA / "C101.sol")
    assert check_solution(c, csol) == []
    assert reported_cost(c, csol.routes) == pytest.approx(828.94, abs=0.005)


def test_a_n32_k5_reaches_best_known_and_writes_vrplib_solution():
    p = _read("A-n32-k5.vrp")
    sol = solve(p, SolveSettings(engine="auto", time_limit_s=2, seed=1))
    assert check_solution(p, sol) == []
    cost = reported_cost(p, sol.routes)
    assert cost <= 784 * 1.02
    text = solution_text(p, sol)
    lines = text.strip().splitlines()
    assert all(re.fullmatch(r"Route #\d+: [\d ]+", ln) for ln in lines[:-1])
    assert lines[-1] == f"Cost {round(cost)}"
    # the text parses back with vrplib to the same customers
    path_routes = [[int(x) for x in ln.split(":")[1].split()] for ln in lines[:-1]]
    assert sorted(x for r in path_routes for x in r) == list(range(1, 32))


def test_solomon_c101_hierarchical_reaches_bks_vehicles():
    p = _read("C101.txt", "hierarchical")
    sol = solve(p, SolveSettings(engine="pyvrp", time_limit_s=1))
    assert check_solution(p, sol) == []
    assert sum(1 for r in sol.routes if r) == 10
    assert reported_cost(p, sol.routes) <= 828.94 * 1.01
    assert re.search(r"^Cost \d+\.\d\d$", solution_text(p, sol), re.M)


def test_bad_instances_are_input_errors():
    with pytest.raises(InputError, match="DEMAND"):
        problem_from_vrplib({"capacity": 10}, "vrplib")
    with pytest.raises(InputError):
        problem_from_vrplib({"capacity": 10, "demand": np.zeros(3)}, "unknown")
    inst = vrplib.read_instance(DATA / "C101.txt", instance_format="solomon")
    with pytest.raises(InputError):
        problem_from_vrplib(inst, "solomon", objective="cost")
