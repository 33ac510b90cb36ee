"""`shipahead plan` with hostile ids and names in every input: nothing runs, nothing breaks.

The tiny scenario of test_plan_tiny with its region, SKU, FC, supply-node, stop and vehicle ids,
the stop and FC names and the scenario name replaced by script/HTML/Markdown/formula payloads.
The run must finish; the CSV outputs are formula-guarded and read back exactly (placement
reads the forecast's scenarios.csv through that guard); report.html, routes.html and the driver
sheets hold only escaped text (also checked in headless Chromium).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from shipahead.cli.io import read_table
from typer.testing import CliRunner

from .browser import dump_dom, find_chromium
from .test_csv_guard import assert_csv_guarded
from .test_plan_tiny import _scenario
from .test_route_outputs_escape import _fragment, check_page, check_sheet

PWN = "document.body.setAttribute('data-pwned','1')"
IDS = {
    # region ids
    "R1": f"=1+1</script><script>{PWN}</script>",
    "R2": f'<img src=x onerror="{PWN}">|R2',
    # SKU ids
    "A": '=HYPERLINK("http://x","A")',
    "B": "-B `tick` *b* [l](javascript:alert(1))",
    # FC ids (F1 is the depot)
    "F1": "@F1<b>|x",
    "F2": "+F2\"'",
    # supply node
    "V1": "-V1<svg onload=alert(1)>",
}


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _hostile_scenario(root: Path) -> Path:
    toml = _scenario(root)
    fleet_ids = {"V1": f"<script>{PWN}</script>", "V2": "=V2|b"}
    for name, cols in (
        ("history.csv", ("region_id", "sku_id")),
        ("weather.csv", ("region_id",)),
        ("fcs.csv", ("fc_id",)),
        ("skus.csv", ("sku_id",)),
        ("inventory.csv", ("fc_id", "sku_id")),
        ("supply.csv", ("node_id", "sku_id")),
        ("fleet.csv", ("depot_id",)),
    ):
        df = pd.read_csv(root / name, dtype={c: str for c in (*cols, "vehicle_id")})
        for c in cols:
            df[c] = df[c].map(lambda v: IDS.get(v, v))
        if name == "fcs.csv":
            df["name"] = ["Down<b onmouseover=x>town|</b>", "East\nside"]
        if name == "fleet.csv":
            df["vehicle_id"] = df["vehicle_id"].map(fleet_ids)
        df.to_parquet(root / name.replace(".csv", ".parquet"), index=False)
    stops = pd.read_csv(root / "stops.csv", dtype={"stop_id": str, "tw_start": str, "tw_end": str})
    stops["stop_id"] = [f"{IDS['R2']}{i}" if i % 2 else f"=S{i}|<i>" for i in range(len(stops))]
    stops["name"] = [f'<img src=y onerror="{PWN}">{i}' for i in range(len(stops))]
    stops.to_parquet(root / "stops.parquet", index=False)
    import geopandas as gpd

    g = gpd.read_file(root / "regions.geojson")
    g["region_id"] = g["region_id"].map(IDS)
    g["name"] = ["<script>alert(1)</script>", "$x_1$ & |b|"]
    g.to_file(root / "regions.geojson", driver="GeoJSON")
    text = toml.read_text()
    for name in ("history", "weather", "fcs", "skus", "inventory", "supply", "stops", "fleet"):
        text = text.replace(f'"{name}.csv"', f'"{name}.parquet"')
    text = text.replace('name = "tiny"', "name = \"<script>alert('n')</script>\"")
    text = text.replace('depot_fc = "F1"', f"depot_fc = {json.dumps(IDS['F1'])}")
    toml.write_text(text)
    return toml


def test_plan_with_hostile_ids_escapes_every_output(tmp_path: Path) -> None:
    toml = _hostile_scenario(tmp_path / "scn")
    out = tmp_path / "run"
    res = CliRunner().invoke(app, ["--quiet", "plan", str(toml), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # CSV: guarded for spreadsheets, and exact when read back
    csvs = sorted(out.rglob("*.csv"))
    assert {p.name for p in csvs} >= {
        "scenarios.csv",
        "placement_orders.csv",
        "stock_targets.csv",
        "routes.csv",
    }
    for p in csvs:
        assert_csv_guarded(p)
    targets = read_table(out / "placement" / "stock_targets.csv")
    assert set(targets["sku_id"]) <= {IDS["A"], IDS["B"]} and set(targets["fc_id"]) <= {
        IDS["F1"],
        IDS["F2"],
    }
    scen = read_table(out / "forecast" / "scenarios.csv")
    assert set(scen["region_id"]) == {IDS["R1"], IDS["R2"]}
    # HTML and Markdown: no payload survives as markup
    check_page((out / "routes" / "routes.html").read_text())
    sheets = sorted((out / "routes" / "drivers").glob("*.md"))
    assert sheets
    for p in sheets:
        check_sheet(p.read_text(), [])
    assert (
        "Down&lt;b onmouseover=x&gt;town\\|&lt;/b&gt; (@F1&lt;b&gt;\\|x)" in sheets[0].read_text()
    )
    report = (out / "report.html").read_text()
    doc = _fragment(report)
    tags = [t for t, _ in doc.tags]
    assert tags.count("script") == 1  # the report's own
    assert not {"svg", "iframe", "i"} & set(tags)
    for t, attrs in doc.tags:
        assert not [a for a, _ in attrs if a.lower().startswith("on")], (t, attrs)
        if t == "img":
            assert dict(attrs)["src"].startswith("data:image/png;base64,")
    assert "&lt;script&gt;alert(&#x27;n&#x27;)&lt;/script&gt;" in report  # the scenario name
    # the vehicle table counts stops, not the depot rows
    routes = read_table(out / "routes" / "routes.csv")
    n_stops = routes[routes["kind"] == "stop"].groupby("vehicle_id").size()
    for vid, n in n_stops.items():
        sheet_rows = [ln for ln in "".join(p.read_text() for p in sheets).splitlines()]
        assert sheet_rows
        cells = re.findall(r"<tr>\s*<td>([^<]*)</td>\s*<td>(\d+)</td>", report)
        assert any(int(c) == n for _, c in cells), (vid, n, cells)
    binary = find_chromium()
    if binary is not None:
        for page in (out / "report.html", out / "routes" / "routes.html"):
            dom, errors = dump_dom(binary, page)
            assert errors == [], (page.name, errors)
            assert "data-pwned" not in re.findall(r"<body[^>]*>", dom)[0], page.name
