"""Tiny in-code placement scenarios shared by the placement tests."""

from __future__ import annotations

import pandas as pd
import pytest
from shipahead.placement import generate_instance


def tiny_tables() -> dict[str, pd.DataFrame]:
    """2 FCs, 2 SKUs, 3 regions, 2 scenarios, one vendor; lanes and inbound lanes given."""
    fcs = pd.DataFrame(
        {
            "fc_id": ["EAST", "WEST"],
            "name": ["East", "West"],
            "lat": [40.7, 34.0],
            "lon": [-74.0, -118.2],
            "capacity_m3": [3.0, 2.0],
        }
    )
    skus = pd.DataFrame(
        {
            "sku_id": ["A", "B"],
            "unit_volume_m3": [0.02, 0.05],
            "holding_cost_per_unit_day": [0.01, 0.02],
            "stockout_cost_per_unit": [20.0, 20.0],
        }
    )
    inventory = pd.DataFrame({"fc_id": ["EAST"], "sku_id": ["A"], "on_hand_units": [10]})
    supply = pd.DataFrame(
        {"node_id": ["V1", "V1"], "sku_id": ["A", "B"], "available_units": [200, 60]}
    )
    inbound = pd.DataFrame(
        {
            "node_id": ["V1", "V1"],
            "fc_id": ["EAST", "WEST"],
            "cost_per_unit": [0.5, 0.8],
            "lead_days": [2, 4],
        }
    )
    lanes = pd.DataFrame(
        {
            "fc_id": ["EAST", "EAST", "WEST", "WEST", "EAST"],
            "region_id": ["NY", "CHI", "LA", "CHI", "LA"],
            "cost_per_unit": [1.0, 2.0, 1.0, 2.5, 4.0],
            "transit_days": [1, 2, 1, 3, 5],
        }
    )
    rows = []
    for sku, base in (("A", 30), ("B", 12)):
        for reg, mult in (("NY", 1.0), ("CHI", 0.7), ("LA", 1.2)):
            for sc, p, f in (("lo", 0.5, 0.6), ("hi", 0.5, 1.4)):
                rows.append((sku, reg, sc, p, round(base * mult * f)))
    scenarios = pd.DataFrame(rows, columns=["sku_id", "region_id", "scenario", "prob", "qty_units"])
    return {
        "scenarios": scenarios,
        "fcs": fcs,
        "skus": skus,
        "inventory": inventory,
        "supply": supply,
        "inbound_lanes": inbound,
        "lanes": lanes,
    }


@pytest.fixture
def tiny() -> dict[str, pd.DataFrame]:
    return tiny_tables()


@pytest.fixture
def small_generated() -> dict[str, pd.DataFrame]:
    return generate_instance(12, 4, 8, 3, seed=3).tables()
