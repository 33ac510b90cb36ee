"""report.html: self-contained, loads in a real headless browser without console errors."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, box
from shipahead.cli.report import build_report
from shipahead.cli.scenario import Scenario

from .browser import dump_dom, find_chromium, screenshot


def _tiny_run(tmp_path: Path) -> tuple[Path, Scenario, dict[str, Path]]:
    data = tmp_path / "data"
    data.mkdir()
    run = tmp_path / "run"
    regions = gpd.GeoDataFrame(
        {"region_id": ["R1", "R2"], "name": ["North", "South"]},
        geometry=[box(-83.1, 40.0, -82.9, 40.1), box(-83.1, 39.9, -82.9, 40.0)],
        crs=4326,
    )
    regions.to_file(data / "regions.geojson", driver="GeoJSON")
    ds = pd.date_range("2022-01-03", periods=30, freq="W-MON")
    hist = pd.DataFrame(
        [
            (r, s, d, float(10 + i % 7))
            for r in ("R1", "R2")
            for s in ("A", "B")
            for i, d in enumerate(ds)
        ],
        columns=["region_id", "sku_id", "ds", "y"],
    )
    hist.to_csv(data / "history.csv", index=False)
    fds = pd.date_range(ds[-1] + pd.Timedelta(weeks=1), periods=4, freq="W-MON")
    fc = pd.DataFrame(
        [(r, s, d) for r in ("R1", "R2") for s in ("A", "B") for d in fds],
        columns=["region_id", "sku_id", "ds"],
    )
    fc["model"] = "SeasonalNaive"
    fc["mean"] = 12.0
    for q, v in zip(
        ("q05", "q10", "q25", "q50", "q75", "q90", "q95"), np.linspace(6, 18, 7), strict=True
    ):
        fc[q] = v
    (run / "forecast").mkdir(parents=True)
    fc.to_parquet(run / "forecast" / "forecast.parquet", index=False)
    pd.DataFrame(
        {"fc_id": ["F1"], "name": ["x"], "lat": [40.05], "lon": [-83.0], "capacity_units": [100]}
    ).to_csv(data / "fcs.csv", index=False)
    pd.DataFrame(
        {
            "node_id": ["N1"],
            "sku_id": ["A"],
            "available_units": [50],
            "lat": [39.95],
            "lon": [-82.95],
        }
    ).to_csv(data / "supply.csv", index=False)
    (run / "placement").mkdir()
    pd.DataFrame(
        {
            "order_id": ["PO-1"],
            "sku_id": ["A"],
            "from_node": ["N1"],
            "to_fc_id": ["F1"],
            "qty_units": [20],
            "ship_by": ["2022-08-01"],
        }
    ).to_csv(run / "placement" / "placement_orders.csv", index=False)
    (run / "routes").mkdir()
    gpd.GeoDataFrame(
        {"vehicle_id": ["V1"]}, geometry=[LineString([(-83.0, 40.05), (-82.95, 40.02)])], crs=4326
    ).to_file(run / "routes" / "routes.geojson", driver="GeoJSON")
    scenario = Scenario.model_validate(
        {"inputs": {k: f"{k}.csv" for k in ("history", "fcs", "skus", "inventory", "supply")}}
    )
    files = {
        "regions": data / "regions.geojson",
        "history": data / "history.csv",
        "fcs": data / "fcs.csv",
        "supply": data / "supply.csv",
    }
    return run, scenario, files


def test_report_is_self_contained_and_deterministic(tmp_path: Path) -> None:
    run, scenario, files = _tiny_run(tmp_path)
    shown = build_report(run, scenario, files)
    assert shown == {"fan_charts": 6, "network_map": True, "route_map": True}
    page = (run / "report.html").read_text()
    first = page
    build_report(run, scenario, files)
    assert (run / "report.html").read_text() == first
    # nothing is fetched from the network: no http(s) src/href for scripts, styles or images
    assert not re.search(r"""(src|href)=['"]https?://""", page)
    assert page.count("data:image/png;base64,") == 3


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium on this machine (.ci/run installs Debian's chromium)")
    run, scenario, files = _tiny_run(tmp_path)
    build_report(run, scenario, files)
    dom, errors = dump_dom(chromium, run / "report.html")
    assert errors == []
    total = int(re.search(r'data-images-total="(\d+)"', dom).group(1))
    rendered = int(re.search(r'data-images-rendered="(\d+)"', dom).group(1))
    assert total == rendered == 3
    png = tmp_path / "shot.png"
    screenshot(chromium, run / "report.html", png)
    from PIL import Image

    img = np.asarray(Image.open(png).convert("L"), dtype=float)
    assert img.std() > 10, "screenshot is blank"
