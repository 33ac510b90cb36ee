"""Re-planning rules: done stays done, restart where the vehicle is, events, changes."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shipahead.routing.traffic import SpeedModel

from shipahead import routing

from ._netfix import FAST, rush_profile, tiny_fleet, tiny_network, tiny_stops
from ._netfix import seconds as _s


def _replan(base, events, at):
    stops, fleet, speed, plan = base
    return routing.replan_routes(
        stops,
        fleet,
        plan.routes,
        pd.DataFrame(events),
        tiny_network(),
        at_s=at,
        speed=speed,
        settings=FAST,
    )


def test_done_stops_stay_done_and_vehicles_restart_where_they_are(base):
    _, _, _, plan = base
    r = plan.routes[plan.routes["kind"] == "stop"]
    at = _s(r["arrival"].iloc[2]) + 60  # a moment after some stops were reached
    done_expected = set(r.loc[r["arrival"].map(_s) <= at, "stop_id"])
    res = _replan(base, [], at)
    new = res.plan.routes
    assert done_expected and done_expected <= set(res.done)
    assert not (set(new.loc[new["kind"] == "stop", "stop_id"]) & set(res.done))
    ch = dict(zip(res.changes["stop_id"], res.changes["change"], strict=True))
    assert all(ch[s] == "done" for s in done_expected)
    # no remaining stop is reached before `at` (legs under way keep their timing)
    assert (new.loc[new["kind"] == "stop", "arrival"].map(_s) >= at - 60).all()
    # every remaining stop is planned or unassigned
    remaining = set(base[0]["stop_id"]) - set(res.done)
    assert (
        set(new.loc[new["kind"] == "stop", "stop_id"]) | set(res.plan.unassigned["stop_id"])
        == remaining
    )


def test_explicit_done_position_delay_and_incident(base):
    _, _, _, plan = base
    r = plan.routes[plan.routes["kind"] == "stop"]
    first = r.iloc[0]
    net = tiny_network()
    events = [
        {"type": "done", "stop_id": first["stop_id"], "vehicle_id": first["vehicle_id"]},
        {
            "type": "position",
            "vehicle_id": first["vehicle_id"],
            "lat": float(net.lat[5]),
            "lon": float(net.lon[5]),
        },
        {"type": "delay", "vehicle_id": first["vehicle_id"], "delay_min": 30},
        {"type": "incident", "factor": 0.3, "road_class": "residential"},
    ]
    at = 9 * 3600
    res = _replan(base, events, at)
    new = res.plan.routes
    g = new[new["vehicle_id"] == first["vehicle_id"]]
    if len(g):
        start = g.iloc[0]
        assert start["stop_id"] == "@" + first["vehicle_id"]
        assert _s(start["arrival"]) >= at + 30 * 60 - 60
    assert res.plan.summary["replan"]["incidents"] == 1
    assert first["stop_id"] in res.done


@pytest.mark.parametrize(
    "event, column",
    [
        ({"type": "teleport"}, "type"),
        ({"type": "cancel", "stop_id": "NOPE"}, "stop_id"),
        ({"type": "delay", "vehicle_id": "V9", "delay_min": 5}, "vehicle_id"),
        ({"type": "incident", "factor": 2.0, "road_class": "primary"}, "factor"),
        (
            {"type": "add", "stop_id": "S01", "lat": 45.52, "lon": -122.68, "demand_units": 1},
            "stop_id",
        ),
    ],
)
def test_bad_events(base, event, column):
    with pytest.raises(routing.InputError) as ei:
        _replan(base, [event], 9 * 3600)
    assert ei.value.column == column and ei.value.row == 0


def test_far_position_and_far_depot_are_named(base):
    with pytest.raises(routing.InputError, match="position of vehicle 'V1'") as ei:
        _replan(
            base, [{"type": "position", "vehicle_id": "V1", "lat": 45.7, "lon": -122.68}], 9 * 3600
        )
    assert ei.value.table == "events"
    stops, fleet = tiny_stops(3), tiny_fleet(2)
    fleet.loc[1, "depot_id"], fleet.loc[1, "depot_lat"] = "D2", 45.7
    with pytest.raises(routing.InputError, match="depot 'D2'") as ei:
        routing.plan_routes(stops, fleet, tiny_network(), settings=FAST)
    assert (ei.value.table, ei.value.row, ei.value.column) == ("fleet", 1, "depot_lat")


@pytest.fixture(scope="module")
def with_breaks():
    # one vehicle, stops due 08:00-08:30, 09:00-09:30 and 10:00-10:30: the break window
    # 09:00-09:40 falls inside the route
    stops, fleet = tiny_stops(9, seed=21), tiny_fleet(1)
    stops["tw_end"] = stops["tw_start"] + 30
    fleet["break_start"], fleet["break_end"], fleet["break_min"] = "09:00", "09:40", 20
    speed = SpeedModel.from_tables(rush_profile())
    plan = routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=FAST)
    assert (plan.routes["break_min"] > 0).sum() >= 1
    return stops, fleet, speed, plan


@settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck))
@given(frac=st.floats(0.0, 1.0))
def test_replan_with_breaks_property(with_breaks, frac):
    stops, _, _, plan = with_breaks
    r = plan.routes
    t = r["arrival"].map(_s)
    at = int(t.min() + frac * (t.max() - t.min()))
    res = _replan(with_breaks, [], at)
    new = res.plan.routes
    old_stops = r[r["kind"] == "stop"]
    done_expected = set(old_stops.loc[old_stops["arrival"].map(_s) <= at, "stop_id"])
    assert done_expected <= set(res.done)
    served = new.loc[new["kind"] == "stop", "stop_id"].tolist()
    assert len(served) == len(set(served)) and not set(served) & set(res.done)
    assert set(served) | set(res.plan.unassigned["stop_id"]) == set(stops["stop_id"]) - set(
        res.done
    )
    assert (new.loc[new["kind"] == "stop", "arrival"].map(_s) >= at - 60).all()
    for vid, g in new.groupby("vehicle_id"):
        assert (g["break_min"] > 0).sum() <= 1
        old = r[(r["vehicle_id"] == vid) & (r["break_min"] > 0)]
        if len(old) and _s(old["break_start"].iloc[0]) <= at:
            assert (g["break_min"] > 0).sum() == 0  # a break begun is not owed again
    # the re-plan's routes.csv re-simulates to the same times (vehicles out on the road too)
    reread = pd.read_csv(
        io.StringIO(new.to_csv(index=False)), dtype={"stop_id": str, "vehicle_id": str}
    )
    again = routing.resimulate(res.plan, reread)
    cols = ["vehicle_id", "seq", "stop_id", "arrival", "departure", "break_start"]
    assert again[cols].fillna("").equals(new[cols].fillna(""))


def test_rounds_of_a_replan_count_moves_against_the_previous_plan():
    """The plan/simulate rounds of a re-plan compare moves with the plan being changed (not
    with the round before), and a stop added since is no move."""
    from shipahead.routing.iterate import _moved

    before = ((3, 4), (5,))
    assert _moved(before, ((3,), (5, 4))) == 1
    assert _moved(before, ((5, 3, 4), ())) == 1
    assert _moved(before, ((3, 4, 9), (5,))) == 0
    assert _moved(None, ((5,), (3, 4))) == 0
