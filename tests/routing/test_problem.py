"""`RoutingProblem.validate` names what is wrong."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from shipahead.routing.errors import InputError
from shipahead.routing.problem import Break, RoutingProblem, Vehicle

H = 3600


def _ok() -> RoutingProblem:
    n = 3
    return RoutingProblem(
        node_ids=("depot", "s1", "s2"),
        stops=(1, 2),
        distance_m=np.ones((n, n), dtype=np.int64),
        duration_s=np.ones((n, n), dtype=np.int64),
        demand=np.array([[0], [1], [2]]),
        tw_s=np.tile(np.array([0, 24 * H]), (n, 1)),
        service_s=np.zeros(n, dtype=np.int64),
        vehicles=(Vehicle("v0", 0, 0, (5,), 8 * H, 17 * H),),
    )


def test_valid_problem_passes():
    _ok().validate()
    p = _ok()
    replace(p, duration_s=np.ones((1, 3, 3), dtype=np.int64)).validate()


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(node_ids=("depot", "s1", "s1")), "appears twice"),
        (dict(distance_m=np.ones((2, 2), dtype=np.int64)), "distance_m has shape"),
        (dict(duration_s=np.ones((3, 3))), "must be integers"),
        (dict(duration_s=-np.ones((3, 3), dtype=np.int64)), "negative"),
        (dict(demand=np.array([[0], [-1], [2]])), "negative demand"),
        (dict(tw_s=np.array([[0, 10], [5, 4], [0, 10]])), "ends before it starts"),
        (dict(stops=(1, 5)), "out of range"),
        (dict(stops=(0, 1, 2)), "also a stop"),
        (dict(vehicles=()), "fleet is empty"),
        (dict(vehicles=(Vehicle("v0", 0, 0, (5, 1), 0, 1),)), "load dimensions"),
        (dict(vehicles=(Vehicle("v0", 0, 0, (5,), 10, 1),)), "shift ends before"),
        (dict(vehicles=(Vehicle("v0", 0, 0, (5,), 0, 1, break_=Break(5, 4, 1)),)), "break"),
        (
            dict(vehicles=(Vehicle("v", 0, 0, (5,), 0, 9), Vehicle("v", 0, 0, (5,), 0, 9))),
            "vehicle id 'v' appears twice",
        ),
        (dict(pinned={"nope": (1,)}), "unknown vehicle"),
        (dict(pinned={"v0": (0,)}), "not a stop"),
        (dict(initial_routes=((1,), (2,))), "one route per vehicle"),
        (dict(initial_routes=((1, 1),)), "twice"),
        (dict(objective="fastest"), "objective"),
        (dict(drop_penalty=np.array([1.0, -1.0, 1.0])), "drop_penalty"),
    ],
)
def test_invalid_problems_name_the_problem(change, match):
    with pytest.raises(InputError, match=match):
        replace(_ok(), **change).validate()
