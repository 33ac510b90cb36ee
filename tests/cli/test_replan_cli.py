"""`shipahead route replan` and `validate` as the dispatcher uses them (tiny network)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from shipahead.cli.app import app
from typer.testing import CliRunner

from tests.routing._netfix import TINY_OSM, tiny_fleet, tiny_stops

runner = CliRunner()


def _run(args):
    return runner.invoke(app, ["--quiet", *map(str, args)])


@pytest.fixture(autouse=True)
def _cache(tmp_path_factory, monkeypatch):
    monkeypatch.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))


@pytest.fixture(scope="module")
def plan_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("plan")
    stops = tiny_stops(6, seed=11)
    stops["tw_start"] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops["tw_start"]]
    stops["tw_end"] = [f"{m // 60:02d}:{m % 60:02d}" for m in stops["tw_end"]]
    stops.to_csv(d / "stops.csv", index=False)
    tiny_fleet(2).to_csv(d / "fleet.csv", index=False)
    mp = pytest.MonkeyPatch()
    mp.setenv("SHIPAHEAD_CACHE_DIR", str(tmp_path_factory.getbasetemp() / "cache"))
    args = ["route", "--stops", d / "stops.csv", "--fleet", d / "fleet.csv", "--roads", TINY_OSM]
    r = _run([*args, "--time-limit", "1", "--engine", "ortools", "--out", d / "plan"])
    mp.undo()
    assert r.exit_code == 0, r.output
    return d / "plan"


def _events(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "events.csv"
    p.write_text(text)
    return p


def test_events_file_with_only_the_columns_it_uses(plan_dir, tmp_path):
    ev = _events(tmp_path, "type,vehicle_id,delay_min\ndelay,V1,30\n")
    r = _run(
        [
            "route",
            "replan",
            "--plan",
            plan_dir,
            "--at",
            "09:00",
            "--events",
            ev,
            "--out",
            tmp_path / "rp",
        ]
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rp" / "routes.csv").exists()


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("inf", "delay_min is missing or not a finite number"),
        ("-5", "delay_min = -5 is outside 0–2880"),
        ("1e300", "delay_min = 1e+300 is outside 0–2880"),
    ],
)
def test_event_numbers_must_be_finite_and_in_range(plan_dir, tmp_path, value, needle):
    ev = _events(tmp_path, f"type,vehicle_id,delay_min\ndelay,V1,{value}\n")
    out = tmp_path / "rp"
    r = _run(["route", "replan", "--plan", plan_dir, "--at", "09:00", "--events", ev, "--out", out])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and needle in lines[0], r.output
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("at", ["24:30", "48:00", "25:00", "05:00", "47:59"])
def test_at_outside_the_plans_day_is_refused(plan_dir, tmp_path, at):
    out = tmp_path / "rp"
    r = _run(["route", "replan", "--plan", plan_dir, "--at", at, "--out", out])
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and "--at" in lines[0] and "Traceback" not in r.output
    assert not out.exists() or not any(out.iterdir())


def test_incidents_are_kept_for_later_replans(plan_dir, tmp_path):
    ev = _events(
        tmp_path,
        "type,area_lat,area_lon,area_radius_m,factor\nincident,45.521,-122.68,3000,0.3\n",
    )
    rp1, rp2 = tmp_path / "rp1", tmp_path / "rp2"
    r = _run(["route", "replan", "--plan", plan_dir, "--at", "08:30", "--events", ev, "--out", rp1])
    assert r.exit_code == 0, r.output
    state = json.loads((rp1 / "plan.json").read_text())
    assert len(state["incidents"]) == 1 and state["incidents"][0]["start"] == "08:30"
    r = _run(["route", "replan", "--plan", rp1, "--at", "09:00", "--out", rp2])
    assert r.exit_code == 0, r.output
    s2 = json.loads((rp2 / "summary.json").read_text())
    assert s2["replan"]["incidents"] == 1
    assert len(json.loads((rp2 / "plan.json").read_text())["incidents"]) == 1
    # a re-plan of a re-plan cannot go back before it
    r = _run(["route", "replan", "--plan", rp2, "--at", "08:45", "--out", tmp_path / "rp3"])
    assert r.exit_code == 2 and "--at 08:45" in r.output


def test_depart_help_says_what_the_code_does():
    r = runner.invoke(app, ["route", "--help"], terminal_width=200)
    assert "for every vehicle (default: shift start)" not in r.output
    assert "latest" in r.output


def test_validate_picks_the_replan_events_kind(tmp_path):
    ev = _events(tmp_path, "type,vehicle_id,delay_min\ndelay,V1,30\n")
    r = _run(["validate", ev])
    assert r.exit_code == 0, r.output
    bad = _events(tmp_path, "type,stop_id,tw_end\nexplode,S1,24:30\n")
    r = _run(["validate", bad])
    assert r.exit_code == 2 and "explode" in r.output and "tw_end" not in r.output
    r = _run(["validate", "--kind", "replan-events", bad])
    assert r.exit_code == 2
    promo = tmp_path / "events.csv"
    pd.DataFrame({"ds": ["2022-11-25"], "promo": [1]}).to_csv(promo, index=False)
    assert _run(["validate", promo]).exit_code == 0  # the promotions kind keeps its name


def test_what_route_writes_validate_accepts(plan_dir, tmp_path):
    # past midnight: a night shift ending at 24:00 slowed down, and an added stop with an
    # open window; every routes.csv written passes `validate --kind routes`
    d = tmp_path
    stops = pd.read_csv(plan_dir.parent / "stops.csv")
    stops["tw_start"], stops["tw_end"] = "23:00", "24:00"
    fleet = pd.read_csv(plan_dir.parent / "fleet.csv")
    fleet["shift_start"], fleet["shift_end"] = "22:00", "24:00"
    stops.to_csv(d / "s.csv", index=False)
    fleet.to_csv(d / "f.csv", index=False)
    pd.DataFrame({"hour": range(24), "speed_factor": [0.1] * 24}).to_csv(d / "t.csv", index=False)
    r = _run(
        [
            "route",
            "--stops",
            d / "s.csv",
            "--fleet",
            d / "f.csv",
            "--roads",
            TINY_OSM,
            "--traffic",
            d / "t.csv",
            "--time-limit",
            "1",
            "--engine",
            "ortools",
            "--out",
            d / "night",
        ]
    )
    assert r.exit_code == 0, r.output
    ev = _events(d, "type,stop_id,lat,lon,demand_units,tw_start\nadd,NEW1,45.52,-122.68,1,23:00\n")
    r = _run(
        [
            "route",
            "replan",
            "--plan",
            d / "night",
            "--at",
            "23:00",
            "--events",
            ev,
            "--out",
            d / "rp",
        ]
    )
    assert r.exit_code == 0, r.output
    for f in (d / "night" / "routes.csv", d / "rp" / "routes.csv"):
        v = _run(["validate", "--kind", "routes", f])
        assert v.exit_code == 0, v.output
        assert "48:00" not in f.read_text()
