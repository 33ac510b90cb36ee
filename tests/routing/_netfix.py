"""Shared tiny-network fixtures for the routing network/plan tests (helper module)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
from shipahead.routing import to_seconds

from shipahead import routing

DATA = Path(__file__).parent / "data"
TINY_OSM = DATA / "portland_tiny.osm.bz2"


@functools.lru_cache(maxsize=1)
def tiny_network():
    """The prepared downtown-Portland test network (read once per session)."""
    from shipahead.cli._roads import _osm_ways

    from shipahead import routing

    return routing.prepare_graph(routing.graph_from_ways(_osm_ways(TINY_OSM)))


def tiny_stops(n: int = 8, seed: int = 0, *, tw: bool = True) -> pd.DataFrame:
    """n stops at network node positions (so they snap within metres)."""
    net = tiny_network()
    rng = np.random.default_rng(seed)
    idx = rng.choice(net.n_nodes, n, replace=False)
    starts = rng.choice([8 * 60, 9 * 60, 10 * 60], n) if tw else [None] * n
    return pd.DataFrame(
        {
            "stop_id": [f"S{i:02d}" for i in range(n)],
            "lat": net.lat[idx] + 1e-5,
            "lon": net.lon[idx],
            "demand_units": rng.integers(1, 30, n),
            "tw_start": starts,
            "tw_end": [None if s is None else s + 180 for s in starts],
            "service_min": rng.integers(2, 10, n),
        }
    )


def tiny_fleet(n: int = 2, capacity: int = 100) -> pd.DataFrame:
    net = tiny_network()
    return pd.DataFrame(
        {
            "vehicle_id": [f"V{i}" for i in range(1, n + 1)],
            "depot_id": "D1",
            "depot_lat": float(net.lat[0]),
            "depot_lon": float(net.lon[0]),
            "capacity_units": capacity,
            "shift_start": "08:00",
            "shift_end": "18:00",
            "cost_per_km": 0.5,
            "cost_per_hour": 20.0,
            "fixed_cost": 10.0,
        }
    )


def rush_profile() -> pd.DataFrame:
    """Hourly profile: slow 8–10 h and 16–18 h, motorway-independent."""
    f = [1.0] * 24
    for h in (8, 9, 16, 17):
        f[h] = 0.5
    f[10] = 0.7
    return pd.DataFrame({"hour": range(24), "speed_factor": f})


#: quick, deterministic planner settings for the tiny re-plan day
FAST = routing.PlanSettings(
    engine="ortools", time_limit_s=1.0, deterministic=True, max_iterations=2
)


def seconds(x) -> int:
    """``HH:MM`` (or minutes) → seconds from midnight, as the tables read it."""
    return to_seconds(x, what="", row=0, column="", table="")
