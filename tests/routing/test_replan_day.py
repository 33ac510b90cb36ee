"""The dispatcher's day: re-plans that lose nothing, times after midnight, one time rule."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipahead.cli.contracts import CONTRACTS, _parse, check_table
from shipahead.routing.outputs import driver_sheets
from shipahead.routing.traffic import SpeedModel

from shipahead import routing

from ._netfix import FAST, rush_profile, tiny_fleet, tiny_network, tiny_stops
from ._netfix import seconds as _s


def _replan(base, events, at, fleet=None, routes=None):
    stops, fleet0, speed, plan = base
    return routing.replan_routes(
        stops,
        fleet0 if fleet is None else fleet,
        plan.routes if routes is None else routes,
        pd.DataFrame(events),
        tiny_network(),
        at_s=at,
        speed=speed,
        settings=FAST,
    )


def _driving(plan, min_left=1):
    """(vehicle, at, next stop, stops left): `at` while a vehicle drives between stops."""
    r = plan.routes
    for vid, g in r.groupby("vehicle_id", sort=True):
        g = g.sort_values("seq").reset_index(drop=True)
        for k in range(1, len(g) - 1):
            if g.at[k, "kind"] != "stop" or g.at[k + 1, "kind"] != "stop":
                continue
            dep, arr = _s(g.at[k, "departure"]), _s(g.at[k + 1, "arrival"])
            left = (g["kind"] == "stop").iloc[k + 1 :].sum()
            if arr - dep >= 120 and left >= min_left:
                later = list(g.loc[k + 1 :, "stop_id"][g.loc[k + 1 :, "kind"] == "stop"])
                return vid, dep + 60, g.at[k + 1, "stop_id"], later, int(g.at[k, "seq"])
    pytest.skip("no leg of two minutes or more in the fixture plan")


# --- the time rule --------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(t=st.integers(0, 2 * 86_400 - 31))
def test_clock_round_trip(t):
    from shipahead.timeofday import format_clock, parse_clock

    text = format_clock(t)
    back = parse_clock(text)
    assert abs(back - t) <= 30
    assert format_clock(back) == text
    # the contracts accept exactly what the outputs write
    df = pd.DataFrame({"arrival": [text]})
    parsed, bad = _parse(CONTRACTS["routes"].column("arrival"), df["arrival"])
    assert not bad.any() and parsed.iloc[0] * 60 == back


@pytest.mark.parametrize("text", ["48:00", "24:60", "99:00", "7", "08:5", "-1:00", "ab:cd"])
def test_clock_rejects(text):
    from shipahead.timeofday import parse_clock

    with pytest.raises(ValueError):
        parse_clock(text)


def test_routes_after_midnight_validate_and_blank_window_ends_stay_blank():
    # a night shift 23:00-25:00 with windows after midnight: times past 24:00 in every output
    stops = tiny_stops(5, seed=3, tw=False)
    stops["tw_start"] = "24:00"
    stops["tw_end"] = ["24:50", "24:50", None, "24:50", None]
    fleet = tiny_fleet(1)
    fleet["shift_start"], fleet["shift_end"] = "23:00", "25:30"
    plan = routing.plan_routes(
        stops, fleet, tiny_network(), speed=SpeedModel.from_tables(rush_profile()), settings=FAST
    )
    r = plan.routes
    assert (r.loc[r["kind"] == "stop", "arrival"].map(_s) >= 24 * 3600).all()
    assert "48:00" not in r.to_csv(index=False)
    open_ends = r.loc[r["stop_id"].isin(["S02", "S04"]), "tw_end"]
    assert len(open_ends) and (open_ends == "").all()
    assert check_table(r, CONTRACTS["routes"]) == []
    sheet = "\n".join(driver_sheets(plan).values())
    assert "48:00" not in sheet and "24:" in sheet
    assert "| 24:00–24:50 |" in sheet and "| from 24:00 |" in sheet


def test_base_plan_without_windows_writes_blank_window_ends(base):
    r = base[3].routes
    assert (r["tw_end"] == "").all() and check_table(r, CONTRACTS["routes"]) == []


def test_unassigned_reason_quotes_the_users_window():
    # windows that close a minute after the shift starts: nobody gets there in time; the
    # solver sees them 2 min shorter (late margin), the reason quotes the real end
    stops = tiny_stops(6, seed=5, tw=False)
    stops["tw_start"], stops["tw_end"] = "07:00", "08:01"
    fleet = tiny_fleet(1)
    plan = routing.plan_routes(
        stops, fleet, tiny_network(), speed=SpeedModel.from_tables(rush_profile()), settings=FAST
    )
    why = plan.unassigned.loc[
        plan.unassigned["reason"].str.startswith("window unreachable"), "reason"
    ]
    assert len(why)
    assert why.str.contains("closes at 08:01").all(), list(why)


# --- re-planning ------------------------------------------------------------------------


def test_events_with_only_the_columns_used(base):
    vid = base[3].routes["vehicle_id"].iloc[0]
    ev = pd.DataFrame({"type": ["delay"], "vehicle_id": [vid], "delay_min": [5]})
    res = routing.replan_routes(
        base[0],
        base[1],
        base[3].routes,
        ev,
        tiny_network(),
        at_s=8 * 3600,
        speed=base[2],
        settings=FAST,
    )
    assert res.plan.summary["replan"]["done"] == 0


def test_vehicle_delayed_past_its_shift_drops_what_cannot_be_served():
    stops, fleet = tiny_stops(6, seed=21, tw=False), tiny_fleet(1)
    speed = SpeedModel.from_tables(rush_profile())
    plan = routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=FAST)
    b = (stops, fleet, speed, plan)
    vid, at, nxt, left, _ = _driving(plan)
    res = _replan(b, [{"type": "delay", "vehicle_id": vid, "delay_min": 600}], at)
    un = res.plan.unassigned
    # nothing left can be served by a vehicle ready after its shift end: all listed, reasons
    assert set(left) <= set(un["stop_id"])
    assert un["reason"].str.match(r"(shift|window unreachable)").all()
    assert any(repr(vid) in w and ("too late" in w or nxt in w) for w in res.warnings)
    assert set(res.changes.loc[res.changes["stop_id"].isin(left), "change"]) == {"dropped"}


def test_cancel_of_a_done_stop_is_reported(base):
    plan = base[3]
    r = plan.routes[plan.routes["kind"] == "stop"]
    first = r.iloc[0]
    at = _s(first["departure"]) + 60
    res = _replan(base, [{"type": "cancel", "stop_id": first["stop_id"]}], at)
    ch = res.changes.set_index("stop_id")
    assert ch.at[first["stop_id"], "change"] == "done"
    assert ch.at[first["stop_id"], "note"] == "cancel ignored: already done"
    assert any("cancel" in w and repr(first["stop_id"]) in w for w in res.warnings)
    assert res.plan.summary["replan"]["cancelled"] == 0


def test_vehicle_with_no_stops_left_drives_home(base):
    plan = base[3]
    vid, at, _, left, _ = _driving(plan)
    res = _replan(base, [{"type": "cancel", "stop_id": s} for s in left], at)
    g = res.plan.routes[res.plan.routes["vehicle_id"] == vid]
    assert list(g["kind"]) == ["start", "end"]
    assert _s(g["arrival"].iloc[-1]) >= at - 60
    assert vid in driver_sheets(res.plan)
    assert res.plan.summary["replan"]["returning_empty"] == [vid]


def test_vehicle_at_depot_with_no_stops_left_is_listed(base):
    plan = base[3]
    r = plan.routes
    ends = r[r["kind"] == "end"]
    at = int(ends["arrival"].map(_s).max()) + 60  # everyone is back
    res = _replan(base, [], at)
    used = sorted(set(r["vehicle_id"]))
    assert sorted(res.plan.summary["replan"]["idle"]) == used


def test_numbering_continues_the_days_sequence(base):
    plan = base[3]
    vid, at, _, left, seq_done = _driving(plan)
    res = _replan(base, [], at)
    new = res.plan.routes
    g = new[new["vehicle_id"] == vid].sort_values("seq")
    assert int(g["seq"].iloc[0]) == seq_done  # start row: the last done stop's number
    assert list(g.loc[g["kind"] == "stop", "seq"]) == list(
        range(seq_done + 1, seq_done + 1 + len(left))
    )
    # a second re-plan from the first one's routes keeps counting
    at2 = int(g.loc[g["kind"] == "stop", "departure"].map(_s).iloc[0]) + 30
    res2 = _replan(base, [], max(at2, at + 60), routes=new)
    g2 = res2.plan.routes[res2.plan.routes["vehicle_id"] == vid]
    if (g2["kind"] == "stop").any():
        assert int(g2.loc[g2["kind"] == "stop", "seq"].min()) > seq_done + 1


def test_newly_dispatched_vehicle_is_reported():
    # three close stops: one vehicle serves them all; then it breaks down (delay past its
    # shift) before leaving and the spare vehicle is sent out
    stops, fleet = tiny_stops(3, seed=4, tw=False), tiny_fleet(2)
    fleet["fixed_cost"] = [10.0, 500.0]
    speed = SpeedModel.free_flow()
    plan = routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=FAST)
    used = set(plan.routes["vehicle_id"])
    assert used == {"V1"}
    b = (stops, fleet, speed, plan)
    res = _replan(b, [{"type": "delay", "vehicle_id": "V1", "delay_min": 900}], 8 * 3600)
    assert res.plan.summary["replan"]["dispatched"] == {"V2": 3}
    notes = set(res.changes["note"])
    assert "vehicle V2 newly dispatched with 3 stops" in notes


def test_vehicle_out_on_the_road_delayed_past_its_shift_drives_home():
    # the vehicle is serving a stop (not driving) when it is delayed past its shift end:
    # it cannot serve anything more, the rest is dropped, and it still gets home
    stops, fleet = tiny_stops(6, seed=21, tw=False), tiny_fleet(1)
    speed = SpeedModel.from_tables(rush_profile())
    plan = routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=FAST)
    r = plan.routes[plan.routes["kind"] == "stop"]
    vid = r["vehicle_id"].iloc[0]
    at = _s(r["arrival"].iloc[1]) + 30  # serving its second stop
    b = (stops, fleet, speed, plan)
    res = _replan(b, [{"type": "delay", "vehicle_id": vid, "delay_min": 600}], at)
    left = set(r["stop_id"].iloc[2:])
    assert left and left <= set(res.plan.unassigned["stop_id"])
    g = res.plan.routes[res.plan.routes["vehicle_id"] == vid]
    assert list(g["kind"]) == ["start", "end"]
    assert _s(g["arrival"].iloc[0]) >= at + 600 * 60 - 60  # leaves when it is ready
    assert any(vid in w and "shift" in w for w in res.warnings)
