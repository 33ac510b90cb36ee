"""plan_routes on the tiny network: invariants, simulated ETAs, routes.csv replay."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shipahead.routing import hhmm, to_seconds
from shipahead.routing.traffic import SpeedModel

from shipahead import routing

from ._netfix import rush_profile, tiny_fleet, tiny_network, tiny_stops

FAST = routing.PlanSettings(
    engine="ortools", time_limit_s=1.0, deterministic=True, max_iterations=2
)


def _plan(stops, fleet, speed=None, s=FAST):
    return routing.plan_routes(stops, fleet, tiny_network(), speed=speed, settings=s)


def _check_invariants(plan, stops, fleet):
    r = plan.routes
    served = r.loc[r["kind"] == "stop", "stop_id"].tolist()
    un = plan.unassigned["stop_id"].tolist()
    # every stop served exactly once or listed unassigned (with a reason)
    assert sorted(served + un) == sorted(stops["stop_id"])
    assert len(set(served)) == len(served)
    assert plan.unassigned["reason"].str.len().gt(0).all()
    cap = dict(zip(fleet["vehicle_id"], fleet["capacity_units"], strict=True))
    dem = dict(zip(stops["stop_id"], stops["demand_units"], strict=True))
    for vid, g in r.groupby("vehicle_id"):
        g = g.sort_values("seq")
        assert g["kind"].iloc[0] == "start" and g["kind"].iloc[-1] == "end"
        stops_v = g[g["kind"] == "stop"]
        assert stops_v["stop_id"].map(dem).sum() <= cap[vid]  # loads never exceed capacity
        assert g["load_units"].iloc[0] <= cap[vid]
        # simulated arrivals: wait for the window, lateness reported, times increase
        for x in stops_v.itertuples():
            a, d = (
                to_seconds(x.arrival, what="", row=0, column="", table=""),
                to_seconds(x.departure, what="", row=0, column="", table=""),
            )
            lo, hi = (
                to_seconds(x.tw_start, what="", row=0, column="", table=""),
                to_seconds(x.tw_end, what="", row=0, column="", table=""),
            )
            assert d >= max(a, lo) - 60
            if x.on_time:
                assert a <= hi + 60
            else:
                assert x.late_min > 0 and a >= hi - 60
        # back at the depot: lateness against the shift end is reported, never hidden
        end = g.iloc[-1]
        shift_end = to_seconds(
            fleet.set_index("vehicle_id").at[vid, "shift_end"], what="", row=0, column="", table=""
        )
        back = to_seconds(end["arrival"], what="", row=0, column="", table="")
        assert end["late_min"] == pytest.approx(max(0.0, back - shift_end) / 60.0, abs=1.0)
    s = plan.summary
    assert s["served"] + s["unassigned"] == len(stops)
    assert 0.0 <= (s["on_time_share"] or 0.0) <= 1.0


def test_plan_free_flow_and_replay_from_csv():
    stops, fleet = tiny_stops(8, seed=3), tiny_fleet(2)
    plan = _plan(stops, fleet)
    _check_invariants(plan, stops, fleet)
    assert plan.summary["unassigned"] == 0
    buf = io.StringIO()
    plan.routes.to_csv(buf, index=False)
    reread = pd.read_csv(io.StringIO(buf.getvalue()), dtype={"stop_id": str, "vehicle_id": str})
    again = routing.resimulate(plan, reread)
    assert again[["vehicle_id", "seq", "stop_id", "arrival", "departure"]].equals(
        plan.routes[["vehicle_id", "seq", "stop_id", "arrival", "departure"]]
    )


def test_time_dependent_plan_replays_and_iterates():
    stops, fleet = tiny_stops(10, seed=5), tiny_fleet(2)
    speed = SpeedModel.from_tables(rush_profile())
    plan = _plan(stops, fleet, speed)
    _check_invariants(plan, stops, fleet)
    assert 1 <= len(plan.iterations) <= 2
    reread = pd.read_csv(io.StringIO(plan.routes.to_csv(index=False)), dtype={"stop_id": str})
    again = routing.resimulate(plan, reread)
    assert (again["arrival"] == plan.routes["arrival"]).all()
    # rush hour makes the same routes slower than free flow
    free = routing.Simulator(plan.net, SpeedModel.free_flow(), plan.node_graph)
    for sim in plan.sims:
        stops_ = [v.node for v in sim.visits]
        ff = free.route(plan.problem, sim.vehicle, stops_, depart_s=sim.depart_s)
        assert ff.end_arrival_s <= sim.end_arrival_s + 1e-6


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), n=st.integers(2, 9), cap=st.integers(40, 200))
def test_plan_invariants_property(seed, n, cap):
    stops, fleet = tiny_stops(n, seed=seed), tiny_fleet(2, capacity=cap)
    plan = _plan(stops, fleet, SpeedModel.from_tables(rush_profile()))
    _check_invariants(plan, stops, fleet)


def test_too_big_demand_and_unreachable_window_are_unassigned():
    stops, fleet = tiny_stops(5, seed=1), tiny_fleet(1, capacity=100)
    stops.loc[0, "demand_units"] = 500
    stops.loc[1, "tw_start"], stops.loc[1, "tw_end"] = 300, 310  # 05:00-05:10, before the shift
    plan = _plan(stops, fleet)
    reasons = dict(zip(plan.unassigned["stop_id"], plan.unassigned["reason"], strict=True))
    assert reasons["S00"].startswith("capacity")
    assert "S01" in reasons
    _check_invariants(plan, stops, fleet)


@pytest.mark.parametrize(
    "mutate, column",
    [
        (lambda s, f: s.__setitem__("stop_id", ["A"] * len(s)), "stop_id"),
        (lambda s, f: s.loc.__setitem__((2, "tw_end"), "07:00"), "tw_end"),
        (lambda s, f: s.loc.__setitem__((1, "demand_units"), -3), "demand_units"),
        (lambda s, f: s.loc.__setitem__((1, "service_min"), -1), "service_min"),
        (lambda s, f: f.drop(columns=["depot_lat", "depot_lon"], inplace=True), "depot_id"),
        (lambda s, f: f.loc.__setitem__((0, "shift_end"), "07:00"), "shift_end"),
    ],
)
def test_bad_inputs_name_the_row(mutate, column):
    stops, fleet = tiny_stops(4, seed=2), tiny_fleet(1)
    stops["tw_start"] = stops["tw_start"].map(lambda m: hhmm(m * 60))
    stops["tw_end"] = stops["tw_end"].map(lambda m: hhmm(m * 60))
    mutate(stops, fleet)
    with pytest.raises(routing.InputError) as ei:
        _plan(stops, fleet)
    assert ei.value.column == column
    assert ei.value.row is not None


def test_breaks_are_taken_and_reported():
    stops, fleet = tiny_stops(6, seed=7), tiny_fleet(1)
    # half the stops early, half late: the route spans the whole break window
    stops["tw_start"] = [480, 480, 480, 600, 600, 600]
    stops["tw_end"] = [500, 500, 500, 630, 630, 630]
    fleet["break_start"], fleet["break_end"], fleet["break_min"] = "08:30", "09:30", 30
    plan = _plan(stops, fleet)
    assert plan.routes["break_min"].sum() == pytest.approx(30)
    assert plan.summary["breaks_late"] == 0
    again = routing.resimulate(plan, pd.read_csv(io.StringIO(plan.routes.to_csv(index=False))))
    assert (again["arrival"] == plan.routes["arrival"]).all()


def test_hhmm_round_trip():
    for t in (0, 59, 60, 8 * 3600 + 29, 25 * 3600):
        assert abs(to_seconds(hhmm(t), what="", row=0, column="", table="") - t) <= 30
    assert np.isclose(to_seconds(480.0, what="", row=0, column="", table=""), 8 * 3600)


def test_depot_coordinates_from_depot_table_and_default_depot():
    stops, fleet = tiny_stops(4, seed=9), tiny_fleet(2)
    depots = pd.DataFrame(
        {"fc_id": ["D1"], "lat": [fleet.at[0, "depot_lat"]], "lon": [fleet.at[0, "depot_lon"]]}
    )
    fleet = fleet.drop(columns=["depot_lat", "depot_lon"])
    fleet["depot_id"] = [None, "D1"]
    plan = routing.plan_routes(
        stops, fleet, tiny_network(), settings=FAST, depots=depots, default_depot="D1"
    )
    assert set(plan.routes.loc[plan.routes["kind"] == "start", "stop_id"]) <= {"D1"}
    _check_invariants(plan, stops, fleet.assign(depot_id="D1"))


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 1000),
    n=st.integers(2, 8),
    b0=st.integers(8 * 60, 11 * 60),
    width=st.integers(0, 90),
    bmin=st.integers(1, 45),
    rush=st.booleans(),
)
def test_plan_with_breaks_property(seed, n, b0, width, bmin, rush):
    stops, fleet = tiny_stops(n, seed=seed), tiny_fleet(2)
    fleet["break_start"], fleet["break_end"] = hhmm(b0 * 60), hhmm((b0 + width) * 60)
    fleet["break_min"] = bmin
    speed = SpeedModel.from_tables(rush_profile()) if rush else SpeedModel.free_flow()
    plan = _plan(stops, fleet, speed)
    _check_invariants(plan, stops, fleet)
    r = plan.routes
    for _, g in r.groupby("vehicle_id"):
        taken = g[g["break_min"] > 0]
        assert len(taken) <= 1  # one break per route at most, on the leg it belongs to
        if len(taken):
            assert taken["break_min"].iloc[0] == pytest.approx(bmin)
            assert taken["kind"].iloc[0] in ("start", "stop")
            start = to_seconds(taken["break_start"].iloc[0], what="", row=0, column="", table="")
            assert start >= b0 * 60 - 60
    if not rush:  # static plan == simulation up to rounding: nothing late, breaks in time
        assert plan.summary["late_stops"] == 0
        assert plan.summary["breaks_late"] == 0
    # a plan re-read from routes.csv re-simulates to the same times, breaks included
    reread = pd.read_csv(
        io.StringIO(r.to_csv(index=False)), dtype={"stop_id": str, "vehicle_id": str}
    )
    again = routing.resimulate(plan, reread)
    cols = ["vehicle_id", "seq", "stop_id", "arrival", "departure", "break_min", "break_start"]
    assert again[cols].fillna("").equals(r[cols].fillna(""))
