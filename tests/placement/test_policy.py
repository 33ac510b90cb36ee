"""Inventory policy per SKU × FC beside the stock targets (hand-checked on the tiny network)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm
from shipahead.placement import PlacementSettings, PlacementTables, plan
from shipahead.placement.policy import POLICY_COLUMNS

W = 14.0


def test_policy_on_the_tiny_network(tiny) -> None:
    res = plan(PlacementTables(**tiny), PlacementSettings(window_days=W))
    pol = res.inventory_policy
    assert list(pol.columns) == POLICY_COLUMNS
    t = res.stock_targets.set_index(["fc_id", "sku_id"])["target_units"]
    row = pol.set_index(["fc_id", "sku_id"]).loc[("EAST", "A")]
    # EAST's catchment is NY and CHI (cheapest lanes): lo 18 + 13 = 31, hi 42 + 29 = 71
    assert row["mean_demand_units"] == pytest.approx(51.0)
    assert row["sd_demand_units"] == pytest.approx(20.0)
    assert row["target_units"] == t.loc[("EAST", "A")]
    assert row["lead_days"] == 2.0
    tsl = 20.0 / (20.0 + 0.01 * W)
    assert row["target_service_level"] == pytest.approx(tsl, abs=1e-6)
    target = row["target_units"]
    assert row["achieved_service_level"] == (1.0 if target >= 71 else 0.5 if target >= 31 else 0)
    assert row["safety_stock_units"] == pytest.approx(target - 51.0)
    assert row["days_of_cover"] == pytest.approx(target / (51.0 / W), abs=1e-5)
    rop = 51.0 / W * 2 + norm.ppf(tsl) * 20.0 * math.sqrt(2 / W)
    assert row["reorder_point_units"] == pytest.approx(rop, abs=1e-5)
    west = pol.set_index(["fc_id", "sku_id"]).loc[("WEST", "B")]
    assert west["mean_demand_units"] == pytest.approx(0.5 * (9 + 20))  # LA: 12·1.2·0.6/1.4
    assert west["lead_days"] == 4.0
    for c in ("achieved_service_level", "target_service_level"):
        v = pol[c].dropna().to_numpy()
        assert ((v >= 0) & (v <= 1)).all()
    assert np.isfinite(pol["reorder_point_units"]).all()
