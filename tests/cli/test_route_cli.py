"""`shipahead route` (plan, replan, benchmark mode) and its error paths."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from tests.routing._netfix import TINY_OSM, tiny_fleet, tiny_stops

runner = CliRunner()
BENCH = Path("/work/shared/benchmarks/routing")


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


def _inputs(tmp_path, n=6, stop_changes=None):
    stops = tiny_stops(n, seed=11)
    stops["tw_start"] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops["tw_start"]]
    stops["tw_end"] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops["tw_end"]]
    for (row, col), v in (stop_changes or {}).items():
        stops.loc[row, col] = v
    s, f = tmp_path / "stops.csv", tmp_path / "fleet.csv"
    stops.to_csv(s, index=False)
    tiny_fleet(2).to_csv(f, index=False)
    return s, f


def _run(args):
    return runner.invoke(app, ["--quiet", *map(str, args)])


def _files(d: Path):
    return (
        sorted(p.relative_to(d).as_posix() for p in d.rglob("*") if p.is_file())
        if d.exists()
        else []
    )


def test_route_writes_every_output_and_replans(tmp_path):
    s, f = _inputs(tmp_path)
    out = tmp_path / "plan"
    r = _run(
        [
            "route",
            "--stops",
            s,
            "--fleet",
            f,
            "--roads",
            TINY_OSM,
            "--time-limit",
            "1",
            "--engine",
            "ortools",
            "--deterministic",
            "--out",
            out,
        ]
    )
    assert r.exit_code == 0, r.output
    files = _files(out)
    for name in (
        "routes.csv",
        "unassigned.csv",
        "routes.geojson",
        "routes.html",
        "summary.json",
        "plan.json",
    ):
        assert name in files
    routes = pd.read_csv(out / "routes.csv")
    assert list(routes.columns[:8]) == [
        "vehicle_id",
        "seq",
        "stop_id",
        "arrival",
        "departure",
        "load_units",
        "leg_km",
        "leg_min",
    ]
    used = sorted(routes["vehicle_id"].unique())
    assert [p for p in files if p.startswith("drivers/")] == [f"drivers/{v}.md" for v in used]
    gj = json.loads((out / "routes.geojson").read_text())
    assert {ft["geometry"]["type"] for ft in gj["features"]} == {"LineString"}
    assert len(gj["features"]) == len(used)
    assert all(len(ft["geometry"]["coordinates"]) >= 2 for ft in gj["features"])
    html = (out / "routes.html").read_text()
    assert "openstreetmap.org/copyright" in html and "ETA" in html
    # re-run is byte-identical (deterministic mode)
    out2 = tmp_path / "plan2"
    r = _run(
        [
            "route",
            "--stops",
            s,
            "--fleet",
            f,
            "--roads",
            TINY_OSM,
            "--time-limit",
            "1",
            "--engine",
            "ortools",
            "--deterministic",
            "--out",
            out2,
        ]
    )
    assert r.exit_code == 0
    for name in ("routes.csv", "routes.geojson", "routes.html", "summary.json", "unassigned.csv"):
        assert (out / name).read_bytes() == (out2 / name).read_bytes(), name

    # replan: cancel one stop, add one, delay a vehicle
    first = routes[routes["kind"] == "stop"].iloc[0]
    ev = tmp_path / "events.csv"
    pd.DataFrame(
        [
            {"type": "cancel", "stop_id": first["stop_id"]},
            {
                "type": "add",
                "stop_id": "NEW",
                "lat": first["lat"],
                "lon": first["lon"],
                "demand_units": 5,
                "tw_start": "09:00",
                "tw_end": "17:00",
                "service_min": 5,
            },
            {"type": "delay", "vehicle_id": "V1", "delay_min": 15},
        ]
    ).to_csv(ev, index=False)
    rp = tmp_path / "replan"
    r = _run(
        [
            "route",
            "replan",
            "--plan",
            out,
            "--at",
            "08:00",
            "--events",
            ev,
            "--out",
            rp,
            "--time-limit",
            "1",
        ]
    )
    assert r.exit_code == 0, r.output
    ch = pd.read_csv(rp / "changes.csv")
    kinds = dict(zip(ch["stop_id"], ch["change"], strict=True))
    assert kinds[first["stop_id"]] == "cancelled"
    assert kinds["NEW"] in ("added", "added_unassigned")
    new_routes = pd.read_csv(rp / "routes.csv")
    assert first["stop_id"] not in set(new_routes["stop_id"])
    # everything that is not cancelled is in the new plan or unassigned
    un = pd.read_csv(rp / "unassigned.csv")
    remaining = set(pd.read_csv(s)["stop_id"]) - {first["stop_id"]} | {"NEW"}
    assert (
        set(new_routes.loc[new_routes["kind"] == "stop", "stop_id"]) | set(un["stop_id"])
        == remaining
    )


def _one_line_exit2(r, out):
    assert r.exit_code == 2, r.output
    lines = [ln for ln in r.output.strip().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), r.output
    assert _files(out) == []
    return lines[0]


def test_stop_too_far_from_road(tmp_path):
    s, f = _inputs(tmp_path, stop_changes={(2, "lat"): 45.60})
    out = tmp_path / "o"
    r = _run(
        [
            "route",
            "--stops",
            s,
            "--fleet",
            f,
            "--roads",
            TINY_OSM,
            "--out",
            out,
            "--time-limit",
            "1",
        ]
    )
    line = _one_line_exit2(r, out)
    assert "S02" in line and "--max-snap-m" in line


def test_bad_time_window(tmp_path):
    s, f = _inputs(tmp_path, stop_changes={(1, "tw_end"): "06:00"})
    out = tmp_path / "o"
    r = _run(["route", "--stops", s, "--fleet", f, "--roads", TINY_OSM, "--out", out])
    line = _one_line_exit2(r, out)
    assert "stops.csv" in line


def test_unknown_road_file_type(tmp_path):
    s, f = _inputs(tmp_path)
    roads = tmp_path / "roads.shp"
    roads.write_text("x")
    out = tmp_path / "o"
    r = _run(["route", "--stops", s, "--fleet", f, "--roads", roads, "--out", out])
    line = _one_line_exit2(r, out)
    assert "roads.shp" in line and "unknown road network file type" in line


def test_replan_bad_event_type(tmp_path):
    s, f = _inputs(tmp_path)
    out = tmp_path / "plan"
    assert (
        _run(
            [
                "route",
                "--stops",
                s,
                "--fleet",
                f,
                "--roads",
                TINY_OSM,
                "--time-limit",
                "1",
                "--engine",
                "ortools",
                "--out",
                out,
            ]
        ).exit_code
        == 0
    )
    ev = tmp_path / "ev.csv"
    pd.DataFrame([{"type": "explode", "stop_id": "S01"}]).to_csv(ev, index=False)
    rp = tmp_path / "rp"
    line = _one_line_exit2(
        _run(["route", "replan", "--plan", out, "--at", "09:00", "--events", ev, "--out", rp]), rp
    )
    assert "ev.csv" in line and "explode" in line


@pytest.mark.skipif(
    not (BENCH / "cvrplib" / "A-n32-k5.vrp").exists(), reason="benchmarks not present"
)
def test_benchmark_mode_writes_vrplib_solution(tmp_path):
    sol = tmp_path / "a.sol"
    r = _run(
        [
            "route",
            "--instance",
            BENCH / "cvrplib" / "A-n32-k5.vrp",
            "--time-limit",
            "1",
            "--sol-out",
            sol,
            "--engine",
            "ortools",
        ]
    )
    assert r.exit_code == 0, r.output
    text = sol.read_text()
    assert text.startswith("Route #1:") and "Cost" in text
    visited = [
        int(x)
        for ln in text.splitlines()
        if ln.startswith("Route")
        for x in ln.split(":")[1].split()
    ]
    assert sorted(visited) == list(range(1, 32))


SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.mark.slow
@pytest.mark.skipif(
    not (SAMPLE / "roads" / "columbus_oh.osm.pbf").exists(), reason="no sample data"
)
def test_sample_scenario_end_to_end(tmp_path):
    out = tmp_path / "routes"
    r = _run(
        [
            "route",
            "--stops",
            SAMPLE / "stops.csv",
            "--fleet",
            SAMPLE / "fleet.csv",
            "--roads",
            SAMPLE / "roads" / "columbus_oh.osm.pbf",
            "--traffic",
            SAMPLE / "traffic.csv",
            "--weather",
            SAMPLE / "weather.csv",
            "--date",
            "2022-11-01",
            "--time-limit",
            "5",
            "--out",
            out,
        ]
    )
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert (
        summary["served"] + summary["unassigned"]
        == summary["stops"]
        == len(pd.read_csv(SAMPLE / "stops.csv"))
    )
    assert summary["on_time_share"] is not None and summary["on_time_share"] >= 0.9
    assert summary["iterations"][0]["eta_max_abs_error_min"] >= 0


def test_traffic_and_weather_options(tmp_path):
    s, f = _inputs(tmp_path)
    traffic = tmp_path / "traffic.csv"
    pd.DataFrame(
        {
            "hour": list(range(24)) * 2,
            "road_class": ["all"] * 24 + ["primary"] * 24,
            "speed_factor": [0.6] * 24 + [0.8] * 24,
        }
    ).to_csv(traffic, index=False)
    weather = tmp_path / "weather.csv"
    pd.DataFrame(
        {
            "region_id": ["r1"],
            "ds": ["2022-11-01"],
            "precip_mm": [12.0],
            "snow_cm": [0.0],
            "temp_c": [8.0],
        }
    ).to_csv(weather, index=False)
    out = tmp_path / "o"
    base = [
        "route",
        "--stops",
        s,
        "--fleet",
        f,
        "--roads",
        TINY_OSM,
        "--traffic",
        traffic,
        "--weather",
        weather,
        "--time-limit",
        "1",
        "--engine",
        "ortools",
    ]
    line = _one_line_exit2(_run([*base, "--out", out]), out)  # weather without --date
    assert "--date" in line
    r = _run([*base, "--date", "2022-11-01", "--out", out])
    assert r.exit_code == 0, r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["served"] + summary["unassigned"] == 6
    assert summary["matrix_dijkstra_runs"] >= 2  # class-dependent factors: own Dijkstra runs


@pytest.mark.parametrize(
    "extra, fleet_changes, expect",
    [
        (["--max-snap-m", "-1"], {}, "--max-snap-m"),
        (["--time-limit", "0"], {}, "time limit"),
        (["--time-limit", "nan"], {}, "--time-limit (time limit, s) = nan is not a finite number"),
        (["--time-limit", "1e9"], {}, "is above the limit of 3600"),
        (["--seed", "-1"], {}, "--seed = -1 must be >= 0"),
        (["--max-snap-m", "inf"], {}, "--max-snap-m = inf is not a finite number"),
        (["--engine", "gurobi"], {}, "gurobi"),
        (["--depart", "8am"], {}, "8am"),
        (["--date", "2022-13-01"], {}, "--date"),
        (["--weather", "stops.csv"], {}, "--date"),
        ([], {"break_start": "10:00", "break_end": "09:00", "break_min": 30}, "break_end"),
        ([], {"break_start": "10:00", "break_end": "11:00", "break_min": -5}, "break_min"),
        ([], {"capacity_units": "abc"}, "capacity_units"),
    ],
)
def test_route_error_paths_exit_2_one_line_no_outputs(tmp_path, extra, fleet_changes, expect):
    s, f = _inputs(tmp_path)
    if fleet_changes:
        fl = pd.read_csv(f).astype(object)
        for c, v in fleet_changes.items():
            fl[c] = v
        fl.to_csv(f, index=False)
    extra = [str(tmp_path / x) if x.endswith(".csv") else x for x in extra]
    out = tmp_path / "o"
    r = _run(["route", "--stops", s, "--fleet", f, "--roads", TINY_OSM, "--out", out, *extra])
    assert expect in _one_line_exit2(r, out)


def test_instance_mode_refuses_plan_inputs(tmp_path):
    s, _ = _inputs(tmp_path)
    inst = tmp_path / "a.vrp"
    inst.write_text("NAME : a\n")
    sol = tmp_path / "out" / "a.sol"
    r = _run(["route", "--instance", inst, "--sol-out", sol, "--stops", s])
    assert "--stops" in _one_line_exit2(r, tmp_path / "out")
