"""Seeded synthetic placement instances (contract tables) for tests, demos and benchmarks."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .inputs import haversine_km


@dataclass(frozen=True)
class Instance:
    """Contract tables of one generated instance."""

    scenarios: pd.DataFrame
    fcs: pd.DataFrame
    skus: pd.DataFrame
    inventory: pd.DataFrame
    supply: pd.DataFrame
    inbound_lanes: pd.DataFrame
    lanes: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """The contract tables by name (``PlacementTables(**inst.tables())`` for `plan`)."""
        return {
            "scenarios": self.scenarios,
            "fcs": self.fcs,
            "skus": self.skus,
            "inventory": self.inventory,
            "supply": self.supply,
            "inbound_lanes": self.inbound_lanes,
            "lanes": self.lanes,
        }


def generate_instance(
    n_skus: int,
    n_fcs: int,
    n_regions: int,
    n_scenarios: int,
    *,
    seed: int = 0,
    lanes_per_region: int = 4,
    capacity_ratio: float = 0.6,
    n_vendors: int = 3,
    on_hand_share: float = 0.2,
    demand_scale: float = 20.0,
) -> Instance:
    """Generate a national-network-like instance.

    FCs and region centroids are drawn in a 4000 × 2000 km box; each region is served by its
    ``lanes_per_region`` nearest FCs (cost 0.002 per unit-km + 0.5, transit ceil(km/500) days);
    each SKU has demand in every region (lognormal means, gamma-distributed scenarios with
    equal probabilities); vendors ship in at 0.0005 per unit-km; FC capacity is
    ``capacity_ratio`` × the FC's share of the expected demand volume, so it binds.
    """
    rng = np.random.default_rng(seed)
    S, F, R, K = n_skus, n_fcs, n_regions, n_scenarios
    fc_lat = rng.uniform(30.0, 47.0, F)
    fc_lon = rng.uniform(-120.0, -75.0, F)
    r_lat = rng.uniform(30.0, 47.0, R)
    r_lon = rng.uniform(-120.0, -75.0, R)
    v_lat = rng.uniform(30.0, 47.0, n_vendors)
    v_lon = rng.uniform(-120.0, -75.0, n_vendors)
    fc_ids = np.array([f"FC{f:03d}" for f in range(F)], dtype=object)
    reg_ids = np.array([f"R{r:04d}" for r in range(R)], dtype=object)
    sku_ids = np.array([f"S{s:06d}" for s in range(S)], dtype=object)
    ven_ids = np.array([f"V{v:02d}" for v in range(n_vendors)], dtype=object)
    km = haversine_km(fc_lat[:, None], fc_lon[:, None], r_lat[None, :], r_lon[None, :])
    L = min(lanes_per_region, F)
    near = np.argsort(km, axis=0, kind="stable")[:L]  # (L, R)
    lf = near.T.ravel()
    lr = np.repeat(np.arange(R), L)
    lkm = km[lf, lr]
    lanes = pd.DataFrame(
        {
            "fc_id": fc_ids[lf],
            "region_id": reg_ids[lr],
            "cost_per_unit": np.round(0.5 + 0.002 * lkm, 4),
            "transit_days": np.maximum(1, np.ceil(lkm / 500.0)).astype(int),
        }
    )
    vol = np.round(rng.uniform(0.002, 0.05, S), 5)
    skus = pd.DataFrame(
        {
            "sku_id": sku_ids,
            "unit_volume_m3": vol,
            "holding_cost_per_unit_day": np.round(rng.uniform(0.01, 0.05, S), 4),
            "stockout_cost_per_unit": np.round(rng.uniform(5.0, 30.0, S), 2),
        }
    )
    mean = demand_scale * rng.lognormal(0.0, 1.0, (S, 1)) * rng.uniform(0.2, 1.0, (1, R))
    shape = 4.0
    qty = np.round(rng.gamma(shape, mean[:, :, None] / shape, (S, R, K)), 0)
    sc = pd.DataFrame(
        {
            "sku_id": np.repeat(sku_ids, R * K),
            "region_id": np.tile(np.repeat(reg_ids, K), S),
            "scenario": np.tile(np.array([f"w{k}" for k in range(K)], dtype=object), S * R),
            "prob": 1.0 / K,
            "qty_units": qty.ravel(),
        }
    )
    # capacity: share of expected volume by nearest FC
    exp_vol = (mean * vol[:, None]).sum(axis=0)  # (R,)
    share = np.bincount(near[0], weights=exp_vol, minlength=F)
    cap = np.round(np.maximum(capacity_ratio * np.maximum(share, exp_vol.mean()), 5 * vol.max()), 3)
    fcs = pd.DataFrame(
        {"fc_id": fc_ids, "name": fc_ids, "lat": fc_lat, "lon": fc_lon, "capacity_m3": cap}
    )
    # on-hand: a share of each FC's capacity, spread over random SKUs
    n_inv = min(S * F, max(1, S * F // 4))
    cells = rng.choice(S * F, size=n_inv, replace=False)
    cells.sort()
    ss, ff = cells // F, cells % F
    raw = rng.uniform(0.0, 1.0, n_inv)
    per_fc = np.bincount(ff, weights=raw * vol[ss], minlength=F)
    scale_f = on_hand_share * cap / np.maximum(per_fc, 1e-12)
    oh = np.floor(raw * scale_f[ff])
    inventory = pd.DataFrame(
        {"fc_id": fc_ids[ff], "sku_id": sku_ids[ss], "on_hand_units": oh.astype(int)}
    )
    inventory = inventory[inventory["on_hand_units"] > 0].reset_index(drop=True)
    # supply: each SKU at one or two vendors, enough for ~1.1 × expected demand
    tot = mean.sum(axis=1)
    v1 = rng.integers(0, n_vendors, S)
    two = rng.uniform(size=S) < 0.3
    v2 = (v1 + 1) % n_vendors
    sup = pd.DataFrame(
        {
            "node_id": np.concatenate([ven_ids[v1], ven_ids[v2[two]]]),
            "sku_id": np.concatenate([sku_ids, sku_ids[two]]),
            "available_units": np.concatenate(
                [np.ceil(1.1 * tot * np.where(two, 0.6, 1.0)), np.ceil(0.6 * tot[two])]
            ).astype(int),
            "lat": np.concatenate([v_lat[v1], v_lat[v2[two]]]),
            "lon": np.concatenate([v_lon[v1], v_lon[v2[two]]]),
        }
    )
    if n_vendors > 1:
        sup = sup.drop_duplicates(["node_id", "sku_id"]).reset_index(drop=True)
    vkm = haversine_km(v_lat[:, None], v_lon[:, None], fc_lat[None, :], fc_lon[None, :])
    inbound = pd.DataFrame(
        {
            "node_id": np.repeat(ven_ids, F),
            "fc_id": np.tile(fc_ids, n_vendors),
            "cost_per_unit": np.round(0.1 + 0.0005 * vkm.ravel(), 4),
            "lead_days": np.maximum(1, np.ceil(vkm.ravel() / 600.0)).astype(int) + 1,
        }
    )
    return Instance(sc, fcs, skus, inventory, sup, inbound, lanes)
