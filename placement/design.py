"""Network design: which FCs (or overflow sites) to open — capacitated facility location.

    min  Σ_i fixed_i · o_i + Σ_ij c_ij · d_j · z_ij
    s.t. Σ_i z_ij = 1                 (every region's demand is served)     ∀ j
         Σ_j d_j · z_ij ≤ Cap_i · o_i  (capacity only if open)               ∀ i
         z_ij ≤ o_i                    (strong linking; tightens the LP)     ∀ i, j
         Σ_i Cap_i · o_i ≥ Σ_j d_j     (aggregate capacity cut)
         o_i ∈ {0, 1}, 0 ≤ z_ij ≤ 1

``z_ij`` is the share of region j's demand served from site i (demand may split between sites,
as in Beasley's OR-Library "cap" instances). The model is assembled from scipy.sparse arrays and
solved as a MIP with OR-Tools (SCIP by default; ``"cp-sat"`` or ``"highs"`` through
OR-Tools' model_builder as alternatives).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import InfeasibleError, InputError, SolverError
from .inputs import _ids, _known, _num, _require, _unique
from .solvers import quiet_stdout


@dataclass(frozen=True)
class DesignResult:
    """Outcome of `design`.

    Attributes
    ----------
    sites
        ``fc_id, open, fixed_cost, capacity_units, used_units`` per candidate site.
    assignments
        ``fc_id, region_id, qty_units, cost`` for every positive flow.
    objective
        Fixed plus flow cost of the returned design (currency).
    bound
        Proven lower bound from the MIP solver; ``gap = (objective − bound) / objective``.
    status
        ``"optimal"`` or ``"feasible"`` (time limit hit with a solution).
    seconds
        Wall time of the solve.
    """

    sites: pd.DataFrame
    assignments: pd.DataFrame
    objective: float
    bound: float
    status: str
    seconds: float

    @property
    def gap(self) -> float:
        return (self.objective - self.bound) / max(abs(self.objective), 1e-12)


def _transport(
    open_mask: np.ndarray, capacity: np.ndarray, demand: np.ndarray, unit_cost: np.ndarray
) -> tuple[float, np.ndarray] | None:
    """Cheapest assignment of all demand to the open sites (LP, HiGHS); None if infeasible."""
    import highspy

    from .solvers import new_highs, pass_lp

    sites = np.flatnonzero(open_mask)
    uc = unit_cost[sites]
    ok = np.isfinite(uc) & (demand[None, :] > 0)
    ii, jj = np.nonzero(ok)
    served = np.flatnonzero(demand > 0)
    jrow = -np.ones(len(demand), dtype=np.int64)
    jrow[served] = np.arange(len(served))
    n = len(ii)
    mat = sp.csc_matrix(
        (
            np.concatenate([np.ones(n), demand[jj]]),
            (np.concatenate([jrow[jj], len(served) + ii]), np.concatenate([np.arange(n)] * 2)),
        ),
        shape=(len(served) + len(sites), n),
    )
    h = new_highs()
    pass_lp(
        h,
        mat,
        uc[ii, jj] * demand[jj],
        np.zeros(n),
        np.ones(n),
        np.concatenate([np.ones(len(served)), np.full(len(sites), -np.inf)]),
        np.concatenate([np.ones(len(served)), capacity[sites]]),
    )
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    share = np.zeros_like(unit_cost)
    share[sites[ii], jj] = np.asarray(h.getSolution().col_value)
    return float(h.getInfo().objective_function_value), share


def cflp_heuristic(
    fixed: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
    unit_cost: np.ndarray,
    open_score: np.ndarray,
    max_moves: int = 15,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """A good first design for the MIP: open sites by LP score, then greedy closing.

    Opens every site with a positive LP opening value, then tries to close sites in increasing
    LP value while the transport cost rise is below the fixed cost saved (each trial is one
    transportation LP). Returns ``(open, share, cost)`` or None.
    """
    is_open = open_score > 1e-6
    if capacity[is_open].sum() < demand.sum():
        is_open = np.ones_like(is_open)
    r = _transport(is_open, capacity, demand, unit_cost)
    if r is None:
        return None
    flow_cost, share = r
    best = flow_cost + float(fixed[is_open].sum())
    moves = 0
    for i in np.argsort(open_score, kind="stable"):
        if moves >= max_moves:
            break
        if not is_open[i] or capacity[is_open].sum() - capacity[i] < demand.sum():
            continue
        trial = is_open.copy()
        trial[i] = False
        moves += 1
        r = _transport(trial, capacity, demand, unit_cost)
        if r is not None and r[0] + fixed[trial].sum() < best - 1e-9:
            is_open, (flow_cost, share) = trial, r
            best = flow_cost + float(fixed[is_open].sum())
    return is_open, share, best


def solve_cflp(
    fixed: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
    unit_cost: np.ndarray,
    *,
    solver: str = "scip",
    time_limit_s: float | None = None,
    relative_gap: float = 1e-9,
    threads: int = 1,
    hint: bool = True,
) -> tuple[np.ndarray, np.ndarray, float, float, str]:
    """Capacitated facility location on arrays.

    Parameters
    ----------
    fixed, capacity
        (I,) opening cost (currency) and capacity (units) of each site.
    demand
        (J,) units per customer/region.
    unit_cost
        (I, J) cost per unit served from i to j; ``np.inf`` forbids the pair.
    hint
        Give the MIP solver a first design: LP relaxation → open the sites it uses → close
        sites greedily while that saves money (`cflp_heuristic`).

    Returns
    -------
    open, share, objective, bound, status
        ``open`` (I,) bool, ``share`` (I, J) fraction of demand j served by i.
    """
    from ortools.linear_solver.python import model_builder_helper as mbh

    fixed = np.asarray(fixed, float)
    capacity = np.asarray(capacity, float)
    demand = np.asarray(demand, float)
    unit_cost = np.asarray(unit_cost, float)
    I, J = unit_cost.shape  # noqa: E741 (sites I, customers J as in the literature)
    allowed = np.isfinite(unit_cost) & (demand[None, :] > 0)
    ai, aj = np.nonzero(allowed)  # flow columns, row-major (by site)
    A = len(ai)
    n_cols = I + A
    cost = np.concatenate([fixed, unit_cost[ai, aj] * demand[aj]])
    lo = np.zeros(n_cols)
    hi = np.ones(n_cols)
    # rows: assignment (J), capacity (I), linking (A), aggregate (1)
    served_j = np.flatnonzero(demand > 0)
    jrow = -np.ones(J, dtype=np.int64)
    jrow[served_j] = np.arange(len(served_j))
    nJ = len(served_j)
    r_cap, r_link, r_agg = nJ, nJ + I, nJ + I + A
    fc = np.arange(I, I + A)
    rows = np.concatenate(
        [
            jrow[aj],
            r_cap + ai,
            np.arange(I),
            r_cap + np.arange(I),
            r_link + np.arange(A),
            r_link + np.arange(A),
            np.full(I, r_agg),
        ]
    )
    cols = np.concatenate([fc, fc, np.arange(I), np.arange(I), fc, ai, np.arange(I)])
    vals = np.concatenate(
        [np.ones(A), demand[aj], np.zeros(I), -capacity, np.ones(A), -np.ones(A), capacity]
    )
    mat = sp.csr_matrix((vals, (rows, cols)), shape=(r_agg + 1, n_cols))
    row_lo = np.concatenate([np.ones(nJ), np.full(I, -np.inf), np.full(A, -np.inf), [demand.sum()]])
    row_hi = np.concatenate([np.ones(nJ), np.zeros(I), np.zeros(A), [np.inf]])
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(lo, hi, cost, row_lo, row_hi, mat)
    lp_bound = -np.inf
    if hint:
        # LP relaxation (strong formulation) → open scores → heuristic design → MIP hint
        relax = mbh.ModelSolverHelper("glop")
        with quiet_stdout():
            relax.solve(model)
        if relax.status() == mbh.SolveStatus.OPTIMAL:
            lp_bound = float(relax.objective_value())
        if relax.has_solution():
            score = np.asarray(relax.variable_values())[:I]
            heur = cflp_heuristic(fixed, capacity, demand, unit_cost, score)
            if heur is not None:
                h_open, h_share, _ = heur
                for i in range(I):
                    model.add_hint(i, float(h_open[i]))
                for k, v in enumerate(h_share[ai, aj].tolist()):
                    model.add_hint(I + k, v)
    for i in range(I):
        model.set_var_integrality(i, True)
    name = {"scip": "scip", "cp-sat": "sat", "highs": "highs"}.get(solver)
    if name is None:
        raise InputError(f"design solver must be scip, cp-sat or highs, got {solver!r}")
    sol = mbh.ModelSolverHelper(name)
    if time_limit_s is not None:
        sol.set_time_limit_in_seconds(float(time_limit_s))
    if name == "scip":
        sol.set_solver_specific_parameters(
            f"limits/gap = {relative_gap}\nlimits/absgap = 0\nparallel/maxnthreads = {threads}\n"
            "randomization/randomseedshift = 0"
        )
    elif name == "sat":
        sol.set_solver_specific_parameters(
            f"num_workers: {max(1, threads)} relative_gap_limit: {relative_gap} random_seed: 0"
        )
    with quiet_stdout():
        sol.solve(model)
    st = sol.status()
    if st == mbh.SolveStatus.INFEASIBLE:
        raise InfeasibleError(
            "no set of sites can serve all demand: total capacity or allowed lanes are too small"
        )
    if not sol.has_solution():
        raise SolverError(f"OR-Tools {name} found no design within the limit ({st.name})")
    v = np.asarray(sol.variable_values())
    is_open = v[:I] > 0.5
    share = np.zeros((I, J))
    share[ai, aj] = np.clip(v[I:], 0.0, 1.0)
    obj = float(sol.objective_value())
    # the LP relaxation's optimum is a proven bound too (the MIP may stop before its root LP)
    bound = max(float(sol.best_objective_bound()), lp_bound)
    proven = obj - bound <= 1e-9 * max(1.0, abs(obj))
    status = "optimal" if st == mbh.SolveStatus.OPTIMAL or proven else "feasible"
    # independent check of the returned design
    if np.abs(share.sum(axis=0)[served_j] - 1).max(initial=0) > 1e-6:
        raise SolverError("independent check failed: a region's demand is not fully assigned")
    load = share @ demand
    if (load > capacity * is_open + 1e-6 * (1 + capacity)).any():
        raise SolverError("independent check failed: a closed or full site serves demand")
    recomputed = float(fixed @ is_open + (share[ai, aj] * unit_cost[ai, aj] * demand[aj]).sum())
    if abs(recomputed - obj) > 1e-6 * max(1.0, abs(obj)):
        raise SolverError("independent check failed: design cost differs from the solver's")
    return is_open, share, obj, bound, status


def design(
    fcs: pd.DataFrame,
    demand: pd.DataFrame,
    lanes: pd.DataFrame,
    *,
    solver: str = "scip",
    time_limit_s: float | None = 600.0,
    relative_gap: float = 1e-9,
) -> DesignResult:
    """Choose which candidate FCs / overflow sites to open for a (peak) demand.

    Parameters
    ----------
    fcs
        Candidate sites: ``fc_id, capacity_units, fixed_cost`` (fixed cost of opening for the
        period, currency).
    demand
        ``region_id, qty_units`` — demand to cover (e.g. the peak-window scenario totals).
    lanes
        ``fc_id, region_id, cost_per_unit``; a missing pair is not allowed.
    solver
        ``"scip"`` (default), ``"cp-sat"`` or ``"highs"`` via OR-Tools.
    """
    _require(fcs, "fcs", ["fc_id", "capacity_units", "fixed_cost"])
    _require(demand, "demand", ["region_id", "qty_units"])
    _require(lanes, "lanes", ["fc_id", "region_id", "cost_per_unit"])
    fcs = fcs.reset_index(drop=True).assign(fc_id=lambda d: _ids(d, "fcs", "fc_id"))
    _unique(fcs, "fcs", ["fc_id"])
    demand = demand.reset_index(drop=True).assign(
        region_id=lambda d: _ids(d, "demand", "region_id")
    )
    demand = demand.groupby("region_id", as_index=False, sort=True)["qty_units"].sum()
    fc_ids = fcs["fc_id"].to_numpy(dtype=object)
    reg_ids = demand["region_id"].to_numpy(dtype=object)
    cap = _num(fcs, "fcs", "capacity_units")
    fixed = _num(fcs, "fcs", "fixed_cost")
    d = _num(demand, "demand", "qty_units")
    ln = lanes.reset_index(drop=True)
    ln = ln.assign(fc_id=_ids(ln, "lanes", "fc_id"), region_id=_ids(ln, "lanes", "region_id"))
    _unique(ln, "lanes", ["fc_id", "region_id"])
    li = _known(ln["fc_id"], fc_ids, "lanes", "fc_id", "fcs")
    lj = pd.Index(reg_ids).get_indexer(ln["region_id"])
    ok = lj >= 0
    uc = np.full((len(fc_ids), len(reg_ids)), np.inf)
    uc[li[ok], lj[ok]] = _num(ln, "lanes", "cost_per_unit")[ok]
    unreachable = (~np.isfinite(uc).any(axis=0)) & (d > 0)
    if unreachable.any():
        j = int(np.flatnonzero(unreachable)[0])
        raise InfeasibleError(
            f"region {reg_ids[j]!r} has demand but no lane from any candidate site; add lanes"
        )
    if cap.sum() < d.sum() - 1e-9:
        raise InfeasibleError(
            f"total capacity of all candidate sites ({cap.sum():g} units) is below the demand "
            f"({d.sum():g} units): add sites or capacity"
        )
    t = time.perf_counter()
    is_open, share, obj, bound, status = solve_cflp(
        fixed, cap, d, uc, solver=solver, time_limit_s=time_limit_s, relative_gap=relative_gap
    )
    secs = time.perf_counter() - t
    flow = share * d[None, :]
    sites = pd.DataFrame(
        {
            "fc_id": fc_ids,
            "open": is_open,
            "fixed_cost": fixed,
            "capacity_units": cap,
            "used_units": flow.sum(axis=1),
        }
    )
    ii, jj = np.nonzero(flow > 1e-9)
    assignments = pd.DataFrame(
        {
            "fc_id": fc_ids[ii],
            "region_id": reg_ids[jj],
            "qty_units": flow[ii, jj],
            "cost": flow[ii, jj] * uc[ii, jj],
        }
    )
    return DesignResult(sites, assignments, obj, bound, status, secs)
