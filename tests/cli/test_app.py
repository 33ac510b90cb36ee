"""The root app: help, version, validate."""

from __future__ import annotations

from pathlib import Path

import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

runner = CliRunner()


def test_help_lists_every_command_group() -> None:
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for name in ("forecast", "place", "route", "plan", "demo", "validate"):
        assert name in res.output


def test_version() -> None:
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.startswith("shipahead ")


BROKEN = {
    "history": (
        "region_id,sku_id,ds,y\nR1,A,2022-01-03,5\nR1,A,2022-01-03,6\n"
        "R1,B,2022-02-30,1\nR1,C,2022-01-03,-4\n",
        ["duplicate key", "not a date", "out of range"],
    ),
    "fcs": ("fc_id,name,lat,lon\nF1,a,91,-83\n", ["one of the columns", "out of range"]),
    "skus": (
        "sku_id,unit_volume_m3,holding_cost_per_unit_day\nA,0,0.1\n",
        ["'stockout_cost_per_unit'", "out of range"],
    ),
    "inventory": ("fc_id,sku_id,on_hand_units\nF1,A,ten\n", ["not a number"]),
    "stops": (
        "stop_id,lat,lon,demand_units,tw_start,tw_end,service_min\n"
        "S1,40,-83,5,12:00,08:00,5\nS2,40,-183,5,8:00,48:00,-1\n",
        ["ends before it starts", "not a time of day", "out of range"],
    ),
    "fleet": (
        "vehicle_id,depot_id,capacity_units,shift_start,shift_end,cost_per_km,"
        "cost_per_hour\nV1,D,0,08:00,07:00,1,1\nV1,D,10,08:00,17:00,1,1\n",
        ["duplicate key", "shift ends before it starts", "out of range"],
    ),
    "traffic": ("hour,speed_factor\n24,1\n3,0\n", ["out of range"]),
}


@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_validate_reports_every_problem_one_line_each(tmp_path: Path, kind: str) -> None:
    text, expected = BROKEN[kind]
    p = tmp_path / f"{kind}.csv"
    p.write_text(text)
    res = runner.invoke(app, ["validate", str(p), "--kind", kind])
    assert res.exit_code == 2, res.output
    errors = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(errors) >= len(expected)
    for needle in expected:
        assert any(needle in ln for ln in errors), (needle, res.output)
    assert all(str(p) in ln for ln in errors)


def test_validate_regions_needs_polygons(tmp_path: Path) -> None:
    p = tmp_path / "regions.geojson"
    p.write_text(
        '{"type":"FeatureCollection","features":[{"type":"Feature","properties":'
        '{"region_id":"1","name":"x"},"geometry":{"type":"Point","coordinates":[0,0]}}]}'
    )
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 2
    assert "is not a polygon" in res.output


def test_validate_ok_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "traffic.csv"
    p.write_text("hour,speed_factor\n0,1\n1,0.9\n")
    res = runner.invoke(app, ["validate", str(p)])
    assert res.exit_code == 0 and "OK" in res.output
    res = runner.invoke(app, ["validate", str(tmp_path / "nope.csv"), "--kind", "history"])
    assert res.exit_code == 2
    assert "file not found" in res.output
    assert "Traceback" not in res.output


def test_docs_data_formats_is_rendered_from_contracts() -> None:
    from shipahead.cli.contracts import contracts_markdown

    doc = (Path(__file__).parents[2] / "docs" / "data-formats.md").read_text()
    assert contracts_markdown() in doc, (
        "regenerate: python -m shipahead.cli.contracts > … (see docs)"
    )


def test_global_flags_may_follow_the_command() -> None:
    from shipahead.cli.app import hoist_global_flags

    argv = ["forecast", "h.csv", "--horizon", "4", "--quiet", "--debug"]
    assert hoist_global_flags(argv) == ["--quiet", "--debug", "forecast", "h.csv", "--horizon", "4"]
    assert hoist_global_flags(["route", "--", "-q"]) == ["route", "--", "-q"]


def test_the_command_starts_worker_pools_from_a_fork_server() -> None:
    """The CLI forks no pool worker from a process that runs threads (a worker could hang)."""
    import subprocess
    import sys

    code = (
        "import multiprocessing\n"
        "from shipahead.cli.app import _use_forkserver\n"
        "_use_forkserver()\n"
        "print(multiprocessing.get_start_method())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "forkserver"
