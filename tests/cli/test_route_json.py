"""`shipahead route --json problem.json --out DIR`: VROOM's format from the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from tests.routing._netfix import TINY_OSM, tiny_fleet, tiny_stops

runner = CliRunner()
VROOM = Path(__file__).parents[1] / "routing" / "data" / "vroom"


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _run(args):
    return runner.invoke(app, ["--quiet", *map(str, args)])


def _write(tmp_path: Path, doc: dict, name: str = "problem.json") -> Path:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return p


def tiny_problem() -> dict:
    """Six jobs on the downtown-Portland test network, two vans from one depot (08:00-18:00)."""
    stops = tiny_stops(6, seed=11)
    fleet = tiny_fleet(2)
    depot = [float(fleet.at[0, "depot_lon"]), float(fleet.at[0, "depot_lat"])]
    return {
        "vehicles": [
            {
                "id": k + 1,
                "start": depot,
                "end": depot,
                "capacity": [100],
                "time_window": [8 * 3600, 18 * 3600],
                "costs": {"fixed": 10, "per_km": 1},
            }
            for k in range(2)
        ],
        "jobs": [
            {
                "id": 1000 + i,
                "location": [float(r.lon), float(r.lat)],
                "delivery": [int(r.demand_units)],
                "service": int(r.service_min) * 60,
                "time_windows": [[int(r.tw_start) * 60, int(r.tw_end) * 60]],
                "description": f"stop {r.stop_id}",
            }
            for i, r in enumerate(stops.itertuples())
        ],
        "options": {"time_limit_s": 1, "engine": "ortools", "deterministic": True},
    }


def test_json_on_roads_writes_route_outputs_and_solution(tmp_path):
    doc = tiny_problem()
    out = tmp_path / "out"
    r = _run(["route", "--json", _write(tmp_path, doc), "--roads", TINY_OSM, "--out", out])
    assert r.exit_code == 0, r.output
    for name in (
        "routes.csv",
        "unassigned.csv",
        "routes.geojson",
        "routes.html",
        "summary.json",
        "plan.json",
        "solution.json",
    ):
        assert (out / name).is_file(), name
    assert list((out / "drivers").glob("*.md"))
    sol = json.loads((out / "solution.json").read_text())
    assert sol["code"] == 0
    served = [s["id"] for rt in sol["routes"] for s in rt["steps"] if s["type"] == "job"]
    un = [u["id"] for u in sol["unassigned"]]
    assert sorted(served + un) == sorted(j["id"] for j in doc["jobs"])
    for rt in sol["routes"]:
        # per_hour defaults to 3600 (VROOM): travel seconds count too
        assert rt["cost"] == round(10 + rt["duration"] + rt["distance"] / 1000)
        jobs = [s for s in rt["steps"] if s["type"] == "job"]
        assert all(s["arrival"] >= 8 * 3600 for s in jobs)
    state = json.loads((out / "plan.json").read_text())
    assert state["kind"] == "shipahead-vroom-state"


def test_json_with_matrices_needs_no_roads(tmp_path):
    doc = json.loads((VROOM / "example_2.json").read_text())
    doc["options"] = {"time_limit_s": 1, "deterministic": True}
    out = tmp_path / "out"
    r = _run(["route", "--json", _write(tmp_path, doc), "--out", out])
    assert r.exit_code == 0, r.output
    sol = json.loads((out / "solution.json").read_text())
    assert sol["summary"]["cost"] == 5461
    assert (out / "unassigned.csv").is_file() and (out / "plan.json").is_file()


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"jobs": [}', "is not valid JSON"),
        (
            json.dumps(
                {
                    "vehicles": [{"id": 1, "start_index": 0}],
                    "jobs": [{"id": 1, "location_index": 0, "setup_per_type": {}}],
                    "matrices": {"car": {"durations": [[0]]}},
                }
            ),
            "jobs[0].setup_per_type: per-vehicle-type setup times are not supported",
        ),
        (
            json.dumps({"vehicles": [{"id": 1, "start": [0, 0]}], "jobs": [{"id": 1}]}),
            "jobs[0].location: missing",
        ),
    ],
)
def test_bad_json_is_one_line_naming_file_and_field(tmp_path, text, words):
    p = tmp_path / "bad.json"
    p.write_text(text)
    out = tmp_path / "out"
    r = _run(["route", "--json", p, "--roads", TINY_OSM, "--out", out])
    assert r.exit_code == 2
    line = r.output.strip()
    assert len(line.splitlines()) == 1, line
    assert "bad.json" in line and words in line
    assert not out.exists()  # nothing written


def test_json_without_matrices_needs_roads(tmp_path):
    r = _run(["route", "--json", _write(tmp_path, tiny_problem()), "--out", tmp_path / "o"])
    assert r.exit_code == 2 and "--roads" in r.output
    r = _run(
        [
            "route",
            "--json",
            _write(tmp_path, tiny_problem()),
            "--out",
            tmp_path / "o",
            "--roads",
            TINY_OSM,
            "--engine",
            "pyvrp",
        ]
    )
    assert r.exit_code == 2 and "options" in r.output
