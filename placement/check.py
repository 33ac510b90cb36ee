"""Independent checker: every result is verified before it is returned.

Two levels, neither of which uses the LP matrix:

* `check_block_recourse` — per SKU block, from the problem arrays and the solution's
  ``q, y, u``: supply, non-negativity, stock (shipments ≤ position, per scenario), demand
  balance, and the block's cost recomputed term by term equals the solver objective.
* `check_plan` — on the output tables (pandas): orders are positive integers on existing inbound
  lanes, sum per SKU×node ≤ available supply, targets = on hand + orders, FC capacity holds, and
  the inbound/holding cost recomputed from the tables and the sum of terms equal the summary.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .errors import SolverError
from .inputs import PlacementProblem

TOL = 1e-6


def _fail(msg: str) -> None:
    raise SolverError(f"independent check failed: {msg}")


def check_block_recourse(
    pb: PlacementProblem,
    s0: int,
    s1: int,
    q_m: np.ndarray,
    q_a: np.ndarray,
    q: np.ndarray,
    y_p: np.ndarray,
    y_l: np.ndarray,
    y_k: np.ndarray,
    y: np.ndarray,
    u_p: np.ndarray,
    u_k: np.ndarray,
    u: np.ndarray,
    solver_objective: float,
) -> dict[str, float]:
    """Verify one block's solution; return its cost terms (currency) recomputed from arrays."""
    F, K = pb.n_fcs, pb.n_scenarios
    Sb = s1 - s0
    scale = 1.0 + float(
        np.abs(pb.demand[pb.sku_dem_start[s0] : pb.sku_dem_start[s1]]).max(initial=0)
    )
    for name, v in (("q", q), ("y", y), ("u", u)):
        if len(v) and v.min() < -TOL * scale:
            _fail(f"negative {name} ({v.min():.3g}) in SKUs {pb.sku_ids[s0]!r}..")
    # supply
    m0, m1 = int(pb.sku_sup_start[s0]), int(pb.sku_sup_start[s1])
    placed = np.bincount(q_m - m0, weights=q, minlength=m1 - m0)
    over = placed - pb.sup_avail[m0:m1]
    if len(over) and over.max() > TOL * scale:
        m = m0 + int(np.argmax(over))
        _fail(f"supply of SKU {pb.sku_ids[pb.sup_s[m]]!r} at {pb.node_ids[pb.sup_n[m]]!r} exceeded")
    # positions from q (not from the LP's x)
    pos = pb.on_hand[s0:s1].copy()
    np.add.at(pos, (pb.sup_s[q_m] - s0, pb.arc_f[q_a]), q)
    # stock per scenario
    shipped = np.zeros((Sb, F, K))
    np.add.at(shipped, (pb.dem_s[y_p] - s0, pb.lane_f[y_l], y_k), y)
    viol = shipped - pos[:, :, None]
    if viol.size and viol.max() > TOL * scale:
        s, f, k = np.unravel_index(int(np.argmax(viol)), viol.shape)
        _fail(
            f"FC {pb.fc_ids[f]!r} ships {shipped[s, f, k]:.6g} units of SKU "
            f"{pb.sku_ids[s0 + s]!r} in scenario {pb.scenarios[k]!r} but holds {pos[s, f]:.6g}"
        )
    # demand balance
    p0, p1 = int(pb.sku_dem_start[s0]), int(pb.sku_dem_start[s1])
    got = np.zeros((p1 - p0, K))
    np.add.at(got, (y_p - p0, y_k), y)
    np.add.at(got, (u_p - p0, u_k), u)
    bal = np.abs(got - pb.demand[p0:p1])
    if bal.size and bal.max() > TOL * scale:
        p = p0 + int(np.unravel_index(int(np.argmax(bal)), bal.shape)[0])
        _fail(
            f"demand of SKU {pb.sku_ids[pb.dem_s[p]]!r} in region "
            f"{pb.region_ids[pb.dem_r[p]]!r} unbalanced"
        )
    # lanes used must exist for the pair's region
    if len(y_l) and not np.array_equal(pb.lane_r[y_l], pb.dem_r[y_p]):
        _fail("a shipment uses a lane into another region")
    terms = {
        "inbound": float(pb.arc_cost[q_a] @ q),
        "holding": float(pb.hold[s0:s1] @ pos.sum(axis=1)),
        "outbound": float((pb.prob[y_k] * pb.lane_cost[y_l]) @ y),
        "late": float((pb.prob[y_k] * pb.lane_late[y_l]) @ y),
        "stockout": float((pb.prob[u_k] * pb.pen[pb.dem_s[u_p]]) @ u),
    }
    total = sum(terms.values())
    if abs(total - solver_objective) > 1e-6 * max(1.0, abs(total)):
        _fail(
            f"cost recomputed from the solution ({total:.9g}) differs from the solver objective "
            f"({solver_objective:.9g}) in SKUs {pb.sku_ids[s0]!r}.."
        )
    return terms


def check_plan(
    pb: PlacementProblem,
    stock_targets: pd.DataFrame,
    placement_orders: pd.DataFrame,
    summary: dict,
) -> None:
    """Verify the output tables against the problem and the summary (raises `SolverError`)."""
    o = placement_orders
    if len(o):
        qty = o["qty_units"].to_numpy(dtype=float)
        if (qty < 1).any() or (np.abs(qty - np.round(qty)) > 0).any():
            _fail("placement orders must be positive whole units")
        if o.duplicated(["sku_id", "from_node", "to_fc_id"]).any():
            _fail("more than one order per sku × source × FC")
        sup = pd.DataFrame(
            {
                "sku_id": pb.sku_ids[pb.sup_s],
                "from_node": pb.node_ids[pb.sup_n],
                "available": pb.sup_avail,
            }
        )
        per = o.groupby(["sku_id", "from_node"], as_index=False)["qty_units"].sum()
        per = per.merge(sup, on=["sku_id", "from_node"], how="left")
        if per["available"].isna().any() or (per["qty_units"] > per["available"] + TOL).any():
            bad = per[per["available"].isna() | (per["qty_units"] > per["available"] + TOL)].iloc[0]
            _fail(f"orders of SKU {bad['sku_id']!r} from {bad['from_node']!r} exceed supply")
        arcs = pd.DataFrame(
            {
                "from_node": pb.node_ids[pb.arc_n],
                "to_fc_id": pb.fc_ids[pb.arc_f],
                "arc_cost": pb.arc_cost,
            }
        )
        oc = o.merge(arcs, on=["from_node", "to_fc_id"], how="left")
        if oc["arc_cost"].isna().any():
            _fail("an order uses an inbound lane that does not exist")
        inbound = float((oc["qty_units"] * oc["arc_cost"]).sum())
    else:
        inbound = 0.0
    # targets = on hand + orders, capacity, holding
    S, F = pb.n_skus, pb.n_fcs
    fidx = pd.Index(pb.fc_ids)
    sidx = pd.Index(pb.sku_ids)
    target = np.zeros((S, F))
    st = stock_targets
    target[sidx.get_indexer(st["sku_id"]), fidx.get_indexer(st["fc_id"])] = st["target_units"]
    on_hand = np.zeros((S, F))
    on_hand[sidx.get_indexer(st["sku_id"]), fidx.get_indexer(st["fc_id"])] = st["on_hand_units"]
    if np.abs(on_hand - pb.on_hand).max(initial=0) > TOL:
        _fail("stock_targets.on_hand_units differ from the inventory table")
    moved = np.zeros((S, F))
    if len(o):
        np.add.at(
            moved,
            (sidx.get_indexer(o["sku_id"]), fidx.get_indexer(o["to_fc_id"])),
            o["qty_units"].to_numpy(dtype=float),
        )
    if np.abs(target - on_hand - moved).max(initial=0) > TOL:
        _fail("target_units differ from on_hand_units plus the placement orders")
    used = pb.vol @ target
    over = used - pb.cap
    if over.max(initial=-1) > TOL * max(1.0, pb.cap.max(initial=1.0)):
        f = int(np.argmax(over))
        _fail(f"FC {pb.fc_ids[f]!r} over capacity ({used[f]:.6g} > {pb.cap[f]:.6g})")
    holding = float(pb.hold @ target.sum(axis=1))
    terms = summary["expected_cost"]
    for name, val in (("inbound", inbound), ("holding", holding)):
        if abs(terms[name] - val) > 1e-6 * max(1.0, abs(val)):
            _fail(f"{name} cost {terms[name]:.9g} differs from the tables ({val:.9g})")
    tot = sum(terms[k] for k in ("inbound", "holding", "outbound", "late", "stockout"))
    if abs(tot - terms["total"]) > 1e-6 * max(1.0, abs(tot)):
        _fail("cost terms do not add up to the total")
