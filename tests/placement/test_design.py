"""Network design (capacitated facility location) vs brute force on tiny instances."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog
from shipahead.placement import InfeasibleError, design
from shipahead.placement.design import solve_cflp


def brute_force(fixed, cap, demand, unit):
    best = np.inf
    I, J = unit.shape  # noqa: E741
    for mask in itertools.product([0, 1], repeat=I):
        o = np.array(mask, bool)
        if cap[o].sum() < demand.sum():
            continue
        sites = np.flatnonzero(o)
        c = (unit[sites] * demand[None, :]).ravel()
        A_eq = np.zeros((J, len(c)))
        A_ub = np.zeros((len(sites), len(c)))
        for a, _i in enumerate(sites):
            for j in range(J):
                A_eq[j, a * J + j] = 1
                A_ub[a, a * J + j] = demand[j]
        r = linprog(c, A_ub=A_ub, b_ub=cap[sites], A_eq=A_eq, b_eq=np.ones(J), bounds=(0, 1))
        if r.status == 0:
            best = min(best, r.fun + fixed[o].sum())
    return best


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_cflp_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    I, J = 5, 8  # noqa: E741
    fixed = rng.uniform(50, 200, I)
    cap = rng.uniform(20, 60, I)
    demand = rng.uniform(5, 15, J)
    unit = rng.uniform(1, 10, (I, J))
    is_open, share, obj, bound, status = solve_cflp(fixed, cap, demand, unit)
    assert status == "optimal"
    assert obj == pytest.approx(brute_force(fixed, cap, demand, unit), rel=1e-7)
    assert bound <= obj + 1e-6
    assert np.allclose(share.sum(axis=0), 1)
    assert (share @ demand <= cap * is_open + 1e-6).all()


def test_design_tables_and_infeasible():
    fcs = pd.DataFrame(
        {"fc_id": ["A", "B", "C"], "capacity_units": [100, 80, 60], "fixed_cost": [500, 300, 200]}
    )
    demand = pd.DataFrame({"region_id": ["r1", "r2", "r3"], "qty_units": [40, 50, 30]})
    lanes = pd.DataFrame(
        [(f, r, c) for f, r, c in itertools.product("ABC", ["r1", "r2", "r3"], [1.0])],
        columns=["fc_id", "region_id", "cost_per_unit"],
    )
    lanes["cost_per_unit"] = np.arange(len(lanes)) % 4 + 1.0
    res = design(fcs, demand, lanes)
    assert res.status == "optimal" and res.gap <= 1e-6
    assert res.assignments.groupby("region_id")["qty_units"].sum().to_dict() == pytest.approx(
        {"r1": 40, "r2": 50, "r3": 30}
    )
    opened = set(res.sites.loc[res.sites["open"], "fc_id"])
    assert set(res.assignments["fc_id"]) <= opened
    with pytest.raises(InfeasibleError, match="capacity"):
        design(fcs.assign(capacity_units=10), demand, lanes)
