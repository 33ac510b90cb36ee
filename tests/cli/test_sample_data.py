"""The bundled sample scenario passes every contract and is coherent across files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from shipahead.cli.scenario import INPUT_KINDS, load_scenario
from typer.testing import CliRunner

SAMPLE = Path(__file__).parents[2] / "sample_data"


@pytest.mark.parametrize("name", [*sorted(p.name for p in SAMPLE.glob("*.csv")), "regions.geojson"])
def test_sample_file_passes_validate(name: str) -> None:
    kind = name.split(".")[0]
    res = CliRunner().invoke(app, ["validate", str(SAMPLE / name), "--kind", kind])
    assert res.exit_code == 0, res.output


def test_sample_scenario_is_coherent() -> None:
    from shipahead.cli.io import read_geo, read_table

    scenario, files = load_scenario(SAMPLE / "scenario.toml")
    assert set(files) <= set(INPUT_KINDS)
    hist = read_table(files["history"], "history")
    keys = hist.groupby(["region_id", "sku_id"]).size()
    assert len(keys) >= 200
    weeks = hist["ds"].nunique()
    assert weeks >= 104
    regions = read_geo(files["regions"], "regions")
    assert len(regions) >= 10
    assert set(hist["region_id"]) <= set(regions["region_id"])
    skus = read_table(files["skus"], "skus")
    assert set(skus["sku_id"]) == set(hist["sku_id"])
    inv = read_table(files["inventory"], "inventory")
    fcs = read_table(files["fcs"], "fcs")
    assert len(fcs) >= 3
    assert set(inv["fc_id"]) <= set(fcs["fc_id"]) and set(inv["sku_id"]) <= set(skus["sku_id"])
    stops = read_table(files["stops"], "stops")
    fleet = read_table(files["fleet"], "fleet")
    assert len(stops) >= 40 and len(fleet) >= 3
    assert scenario.routing is not None
    assert scenario.routing.depot_fc in set(fcs["fc_id"])
    weather = read_table(files["weather"], "weather")
    assert weather["ds"].max() >= hist["ds"].max() + pd.Timedelta(weeks=8)
    assert (weather["ds"] == pd.Timestamp(scenario.routing.delivery_date)).any()
