"""`shipahead plan` end to end on a tiny in-code scenario (downtown Portland fixture): fast."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from ..routing._netfix import TINY_OSM, tiny_fleet, tiny_stops
from ._outputs import assert_outputs_keep_contracts


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _scenario(root: Path) -> Path:
    """Two regions × two SKUs, weekly, 80 weeks; two FCs; six stops; two vans."""
    rng = np.random.default_rng(3)
    root.mkdir(parents=True, exist_ok=True)
    ds = pd.date_range("2021-01-04", periods=80, freq="W-MON")
    rows = []
    for r, scale in (("R1", 40.0), ("R2", 25.0)):
        for s, amp in (("A", 0.3), ("B", 0.1)):
            season = 1 + amp * np.sin(2 * np.pi * np.arange(80) / 52)
            y = np.round(scale * season * rng.lognormal(0, 0.15, 80))
            rows.append(pd.DataFrame({"region_id": r, "sku_id": s, "ds": ds, "y": y}))
    pd.concat(rows).to_csv(root / "history.csv", index=False)
    days = pd.date_range(ds[0], ds[-1] + pd.Timedelta(weeks=8), freq="D")
    weather = pd.DataFrame(
        [(r, d) for r in ("R1", "R2") for d in days], columns=["region_id", "ds"]
    )
    weather["precip_mm"] = np.round(rng.gamma(0.5, 3.0, len(weather)), 1)
    weather["snow_cm"] = 0.0
    weather["temp_c"] = 12.0
    weather.to_csv(root / "weather.csv", index=False)
    import geopandas as gpd
    from shapely.geometry import box

    gpd.GeoDataFrame(
        {"region_id": ["R1", "R2"], "name": ["North", "South"]},
        geometry=[box(-122.70, 45.52, -122.66, 45.53), box(-122.70, 45.51, -122.66, 45.52)],
        crs=4326,
    ).to_file(root / "regions.geojson", driver="GeoJSON")
    fleet = tiny_fleet(2, capacity=120)
    fleet["depot_id"] = "F1"
    fleet.to_csv(root / "fleet.csv", index=False)
    pd.DataFrame(
        {
            "fc_id": ["F1", "F2"],
            "name": ["Downtown", "East"],
            "lat": [fleet.depot_lat[0], 45.52],
            "lon": [fleet.depot_lon[0], -122.60],
            "capacity_units": [120, 300],
        }
    ).to_csv(root / "fcs.csv", index=False)
    pd.DataFrame(
        {
            "sku_id": ["A", "B"],
            "unit_volume_m3": [0.01, 0.02],
            "holding_cost_per_unit_day": [0.01, 0.01],
            "stockout_cost_per_unit": [5.0, 4.0],
        }
    ).to_csv(root / "skus.csv", index=False)
    pd.DataFrame({"fc_id": ["F1", "F2"], "sku_id": ["A", "B"], "on_hand_units": [20, 10]}).to_csv(
        root / "inventory.csv", index=False
    )
    pd.DataFrame(
        {
            "node_id": ["V1", "V1"],
            "sku_id": ["A", "B"],
            "available_units": [500, 500],
            "lat": [45.60, 45.60],
            "lon": [-122.70, -122.70],
        }
    ).to_csv(root / "supply.csv", index=False)
    stops = tiny_stops(6, seed=5)
    for c in ("tw_start", "tw_end"):
        stops[c] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops[c]]
    stops.to_csv(root / "stops.csv", index=False)
    shutil.copy(TINY_OSM, root / "roads.osm.bz2")
    toml = root / "scenario.toml"
    toml.write_text(
        '[scenario]\nname = "tiny"\nseed = 1\n'
        '[inputs]\nhistory = "history.csv"\nweather = "weather.csv"\n'
        'regions = "regions.geojson"\nfcs = "fcs.csv"\nskus = "skus.csv"\n'
        'inventory = "inventory.csv"\nsupply = "supply.csv"\nstops = "stops.csv"\n'
        'fleet = "fleet.csv"\nroads = "roads.osm.bz2"\n'
        '[forecast]\nhorizon = 4\nwindows = 1\ncountry = "US"\nplot_top = 2\n'
        "[placement]\nwindow_days = 14\npromise_days = 1\n"
        '[routing]\ndelivery_date = "2022-07-26"\ndepot_fc = "F1"\ndepart = "08:00"\n'
        "time_limit_s = 1\n"
    )
    return toml


def test_tiny_plan_end_to_end_and_resume(tmp_path: Path) -> None:
    toml = _scenario(tmp_path / "scn")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0, res.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert {k: v["status"] for k, v in manifest["steps"].items()} == {
        "forecast": "ran",
        "placement": "ran",
        "routes": "ran",
    }
    assert_outputs_keep_contracts(out)
    fc = pd.read_parquet(out / "forecast" / "forecast.parquet")
    assert len(fc) == 4 * 4  # keys × horizon
    routes = pd.read_csv(out / "routes" / "routes.csv", dtype=str)
    unassigned = pd.read_csv(out / "routes" / "unassigned.csv", dtype=str)
    served = routes[routes["stop_id"].str.startswith("S")]["stop_id"]
    assert sorted([*served, *unassigned["stop_id"]]) == [f"S{i:02d}" for i in range(6)]
    assert set(manifest["inputs"]) == {
        "history",
        "weather",
        "regions",
        "fcs",
        "skus",
        "inventory",
        "supply",
        "stops",
        "fleet",
        "roads",
    }
    assert manifest["inputs"]["history"]["path"] == "history.csv"
    assert (out / "report.html").exists()
    # unchanged → every step skipped; a new stop reruns routing only
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0
    steps = json.loads((out / "manifest.json").read_text())["steps"]
    assert all(v["status"].startswith("skipped") for v in steps.values())
    stops = pd.read_csv(toml.parent / "stops.csv", dtype=str)
    stops.loc[0, "demand_units"] = "1"
    stops.to_csv(toml.parent / "stops.csv", index=False)
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0
    steps = json.loads((out / "manifest.json").read_text())["steps"]
    assert {k: v["status"].split()[0] for k, v in steps.items()} == {
        "forecast": "skipped",
        "placement": "skipped",
        "routes": "ran",
    }


def test_tiny_plan_on_a_local_dask_cluster_matches_local(tmp_path: Path) -> None:
    toml = _scenario(tmp_path / "scn")
    runs = {}
    for engine in ("local", "dask"):
        out = tmp_path / engine
        res = CliRunner().invoke(
            app, ["--quiet", "plan", str(toml), "--out", str(out), "--engine", engine]
        )
        assert res.exit_code == 0, res.output
        runs[engine] = out
    a = pd.read_parquet(runs["local"] / "forecast" / "forecast.parquet")
    b = pd.read_parquet(runs["dask"] / "forecast" / "forecast.parquet")
    key = ["region_id", "sku_id", "ds"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6)
    for name in ("stock_targets.csv", "placement_orders.csv"):
        pd.testing.assert_frame_equal(
            pd.read_csv(runs["local"] / "placement" / name),
            pd.read_csv(runs["dask"] / "placement" / name),
            check_exact=False,
            rtol=1e-6,
        )
    manifest = json.loads((runs["dask"] / "manifest.json").read_text())
    assert manifest["engine"] == "dask"
