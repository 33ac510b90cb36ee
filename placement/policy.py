"""Inventory policy per SKU × FC beside the stock targets: safety stock, reorder point, target
and achieved service level, days of cover.

Each FC serves the demand of its catchment: the regions whose cheapest lane (cost + late
penalty) is from it — the same rule as the stock targets' ``expected_fill_rate``. Over the
coverage window of ``W`` days the catchment's demand is the weighted scenarios ``D_k`` (units,
probabilities ``p_k``), with mean ``μ`` and standard deviation ``σ``. Then, per SKU × FC:

* ``target_service_level`` = ``π / (π + h·W)`` — the newsvendor critical ratio of the
  stock-out cost ``π`` and the holding cost over the window: the cycle service level the
  costs ask for (before capacity, lanes and supply limit it);
* ``achieved_service_level`` = ``Σ p_k [D_k ≤ target]``: the probability that the position
  covers the window's catchment demand (cycle service level, from the scenarios);
* ``safety_stock_units`` = ``target − μ`` (negative when the costs place less than the mean);
* ``reorder_point_units`` = ``d·L + z·σ·√(L/W)`` with daily demand ``d = μ/W``, ``L`` the
  shortest inbound lead time (days) from a node that supplies the SKU, and ``z`` the normal
  quantile of the target service level (demand over ``L`` days scaled from the window,
  independent days): reorder when the position falls to it;
* ``days_of_cover`` = ``target / d`` (days; empty without demand).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .inputs import PlacementProblem

__all__ = ["POLICY_COLUMNS", "home_fc", "inventory_policy"]

POLICY_COLUMNS = [
    "fc_id",
    "sku_id",
    "target_units",
    "on_hand_units",
    "mean_demand_units",
    "sd_demand_units",
    "daily_demand_units",
    "safety_stock_units",
    "lead_days",
    "reorder_point_units",
    "target_service_level",
    "achieved_service_level",
    "days_of_cover",
]


def home_fc(pb: PlacementProblem) -> np.ndarray:
    """Index of each region's FC: the cheapest lane (cost + late), -1 without a lane."""
    lane_total = pb.lane_cost + pb.lane_late
    home = np.full(len(pb.region_ids), -1, dtype=np.int64)
    for r in range(len(pb.region_ids)):
        a, b = pb.region_lane_start[r], pb.region_lane_start[r + 1]
        if b > a:
            home[r] = pb.lane_f[a + int(np.argmin(lane_total[a:b]))]
    return home


def _lead_days(pb: PlacementProblem) -> np.ndarray:
    """(S, F) shortest inbound lead time (days) from a node supplying the SKU; NaN if none."""
    lead = np.full((pb.n_skus, pb.n_fcs), np.inf)
    for s, n in zip(pb.sup_s, pb.sup_n, strict=True):
        a, b = pb.node_arc_start[n], pb.node_arc_start[n + 1]
        for j in range(a, b):
            f = pb.arc_f[j]
            lead[s, f] = min(lead[s, f], float(pb.arc_lead[j]))
    return np.where(np.isfinite(lead), lead, np.nan)


def inventory_policy(
    pb: PlacementProblem, stock_targets: pd.DataFrame, window_days: float
) -> pd.DataFrame:
    """The inventory policy of every SKU × FC with a position or catchment demand.

    Parameters
    ----------
    pb
        The placement problem (demand scenarios, lanes, costs).
    stock_targets
        ``fc_id, sku_id, target_units, on_hand_units`` (units) from the same plan.
    window_days
        Coverage window ``W`` (days).

    Returns
    -------
    DataFrame
        :data:`POLICY_COLUMNS` (units, days, service levels as shares 0–1), sorted by FC and
        SKU; deterministic.
    """
    from scipy.stats import norm

    S, F = pb.n_skus, pb.n_fcs
    h = home_fc(pb)[pb.dem_r]
    K = pb.n_scenarios
    dem = np.zeros((S, F, K))
    ok = h >= 0
    np.add.at(dem, (pb.dem_s[ok], h[ok]), pb.demand[ok])
    mu = dem @ pb.prob
    sd = np.sqrt(np.maximum(((dem - mu[..., None]) ** 2) @ pb.prob, 0.0))
    target = np.zeros((S, F))
    on_hand = pb.on_hand.astype(float).copy()
    s_idx = {s: i for i, s in enumerate(pb.sku_ids)}
    f_idx = {f: i for i, f in enumerate(pb.fc_ids)}
    st = stock_targets
    si = st["sku_id"].astype(str).map(s_idx).to_numpy()
    fi = st["fc_id"].astype(str).map(f_idx).to_numpy()
    target[si, fi] = st["target_units"].to_numpy(dtype=float)
    achieved = ((dem <= target[..., None] + 1e-9).astype(float)) @ pb.prob
    ratio = pb.pen / (pb.pen + pb.hold)
    tsl = np.broadcast_to(ratio[:, None], (S, F))
    z = norm.ppf(np.clip(tsl, 1e-6, 1 - 1e-6))
    lead = _lead_days(pb)
    W = float(window_days)
    daily = mu / W
    rop = np.maximum(daily * lead + z * sd * np.sqrt(lead / W), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        cover = np.where(daily > 0, target / np.where(daily > 0, daily, 1.0), np.nan)
    ss, ff = np.nonzero((target > 0) | (on_hand > 0) | (mu > 0))
    out = pd.DataFrame(
        {
            "fc_id": pb.fc_ids[ff],
            "sku_id": pb.sku_ids[ss],
            "target_units": target[ss, ff],
            "on_hand_units": on_hand[ss, ff],
            "mean_demand_units": mu[ss, ff],
            "sd_demand_units": sd[ss, ff],
            "daily_demand_units": daily[ss, ff],
            "safety_stock_units": target[ss, ff] - mu[ss, ff],
            "lead_days": lead[ss, ff],
            "reorder_point_units": rop[ss, ff],
            "target_service_level": tsl[ss, ff],
            "achieved_service_level": np.where(mu[ss, ff] > 0, achieved[ss, ff], np.nan),
            "days_of_cover": cover[ss, ff],
        }
    )
    num = out.columns[2:]
    out[num] = out[num].astype(float).round(6)
    return out.sort_values(["fc_id", "sku_id"], kind="stable", ignore_index=True)[POLICY_COLUMNS]
