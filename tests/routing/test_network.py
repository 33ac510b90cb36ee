"""Road network: OSM ways -> prepared graph, speeds, SCC, snapping, cache."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from shipahead.routing.network import haversine_m, parse_maxspeed

from shipahead import routing

from ._netfix import tiny_network


def _way(wid, pts, **tags):
    return (wid, [(n, x, y) for n, x, y in pts], tags)


def test_parse_maxspeed():
    assert parse_maxspeed("50") == 50.0
    assert parse_maxspeed("30 mph") == pytest.approx(48.28, abs=0.01)
    assert parse_maxspeed("50;70") == 50.0
    assert parse_maxspeed(["40", "25 mph"]) == pytest.approx(40.0)
    assert parse_maxspeed("none") is None
    assert parse_maxspeed("RU:urban") is None
    assert parse_maxspeed(None) is None


def test_graph_from_ways_oneway_access_and_simplification():
    a, b, c, d, e = (
        (1, 0.0, 0.0),
        (2, 0.001, 0.0),
        (3, 0.002, 0.0),
        (4, 0.002, 0.001),
        (5, 0.0, 0.001),
    )
    ways = [
        _way(10, [a, b, c], highway="residential"),  # b is interior: not a graph node
        _way(11, [c, d], highway="primary", oneway="yes", maxspeed="30 mph"),
        _way(12, [d, e], highway="motorway"),  # implied one-way
        _way(13, [e, a], highway="residential", oneway="-1"),  # reverse: a -> e
        _way(14, [a, d], highway="footway"),  # not drivable
        _way(15, [c, e], highway="service", access="private"),  # not drivable class anyway
        _way(16, [b, e], highway="residential", access="private"),  # blocked
    ]
    G = routing.graph_from_ways(ways)
    assert set(G.nodes) == {1, 3, 4, 5}  # 2 is only inside way 10 (way 16 is blocked)
    assert G.has_edge(1, 3) and G.has_edge(3, 1)
    assert G.has_edge(3, 4) and not G.has_edge(4, 3)
    assert G.has_edge(4, 5) and not G.has_edge(5, 4)
    assert G.has_edge(1, 5) and not G.has_edge(5, 1)
    length = G.edges[1, 3, 0]["length"]
    assert length == pytest.approx(float(haversine_m(0, 0, 0.002, 0)), rel=1e-9)
    net = routing.prepare_graph(G)
    # 1->3->4->5->? 5 has no way out: only {1,3} is strongly connected
    assert net.n_nodes == 2
    assert net.report.dropped_outside_scc > 0


def test_prepare_graph_tiny_fixture():
    net = tiny_network()
    G = net.graph
    assert nx.is_strongly_connected(G)
    assert net.n_nodes == G.number_of_nodes() > 200
    for _, _, d in list(G.edges(data=True))[:200]:
        assert d["road_class"] in routing.ROAD_CLASSES
        assert d["travel_time_s"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6), rel=1e-6)
    assert 0.0 <= net.report.imputed_speed_share <= 1.0
    # arcs are sorted in CSR order and the fastest of parallel edges
    assert np.all(np.diff(net.arc_tail.astype(np.int64) * net.n_nodes + net.arc_head) > 0)
    assert np.all(net.arc_time_s > 0)


def test_default_speed_used_without_maxspeed():
    ways = [_way(1, [(1, 0, 0), (2, 0.01, 0)], highway="tertiary")]
    net = routing.prepare_graph(routing.graph_from_ways(ways))
    d = next(iter(net.graph.edges(data=True)))[2]
    assert d["speed_kph"] == routing.DEFAULT_SPEEDS_KPH["tertiary"]
    assert net.report.imputed_speed_share == 1.0


def test_no_drivable_roads_is_input_error():
    ways = [_way(1, [(1, 0, 0), (2, 0.01, 0)], highway="footway")]
    with pytest.raises(routing.InputError, match="no drivable roads"):
        routing.prepare_graph(routing.graph_from_ways(ways))


def test_snap_points_and_far_stop_named():
    net = tiny_network()
    sn = routing.snap_points(net, net.lon[:3], net.lat[:3] + 1e-5, ["a", "b", "c"])
    assert np.all(sn.distance_m < 5)
    with pytest.raises(routing.InputError, match=r"FAR.*from the nearest road") as ei:
        routing.snap_points(
            net,
            [net.lon[0], net.lon[0] + 0.1],
            [net.lat[0], net.lat[0]],
            ["ok", "FAR"],
            max_snap_m=500,
        )
    assert ei.value.row == 1


def test_snap_to_the_middle_of_a_long_road():
    # a 2.2 km two-way road with no vertex in between; a point 11 m beside its middle
    net = routing.prepare_graph(
        routing.graph_from_ways([_way(1, [(1, 0.0, 0.0), (2, 0.02, 0.0)], highway="primary")])
    )
    sn = routing.snap_points(net, [0.011], [0.0001], ["mid"], max_snap_m=50)
    assert sn.distance_m[0] == pytest.approx(11.1, abs=10.0)
    assert net.node_osmid[sn.node[0]] == 2  # the nearer end along the road


# ---- one-way trap: a stop down a one-way dead end ---------------------------------------


def _trap_network():
    """A two-way square (~445 m sides) and a 400 m one-way dead end leaving its corner 2."""
    sq = [(1, 0.0, 0.0), (2, 0.004, 0.0), (3, 0.004, 0.004), (4, 0.0, 0.004)]
    ways = [_way(10 + i, [sq[i], sq[(i + 1) % 4]], highway="residential") for i in range(4)]
    ways.append(_way(20, [sq[1], (5, 0.0076, 0.0)], highway="residential", oneway="yes"))
    return routing.prepare_graph(routing.graph_from_ways(ways))


def _trap_tables():
    import pandas as pd

    stops = pd.DataFrame(
        {
            "stop_id": ["TRAP", "OK", "FAR"],
            "lat": [0.0, 0.004, 0.002],
            "lon": [0.0076, 0.004, 0.0055],  # FAR: ~167 m beside a two-way road
            "demand_units": [1, 1, 1],
            "tw_start": ["08:00", "08:00", "08:00"],
            "tw_end": ["18:00", "18:00", "18:00"],
            "service_min": [2, 2, 2],
        }
    )
    fleet = pd.DataFrame(
        {
            "vehicle_id": ["V1"],
            "depot_id": ["D"],
            "depot_lat": [0.0],
            "depot_lon": [0.0],
            "capacity_units": [10],
            "shift_start": ["08:00"],
            "shift_end": ["18:00"],
            "cost_per_km": [0.5],
            "cost_per_hour": [20.0],
        }
    )
    return stops, fleet


def test_snap_reports_a_stop_on_a_one_way_dead_end():
    net = _trap_network()
    assert net.n_nodes == 4 and len(net.cut_geometry) == 1  # the dead end is not kept
    sn = routing.snap_points(net, [0.0076, 0.004], [0.0, 0.004], ["TRAP", "OK"], max_snap_m=500)
    assert sn.distance_m[0] == pytest.approx(400, abs=15) and sn.cut_m[0] < 1
    assert sn.trapped(0) and not sn.trapped(1)
    # every snapped node can reach the depot's node and be reached from it
    G = net.graph
    for n in net.node_osmid[sn.node]:
        assert nx.has_path(G, 1, int(n)) and nx.has_path(G, int(n), 1)
    with pytest.raises(routing.InputError, match="one-way or cut off"):
        routing.snap_points(net, [0.0076], [0.0], ["TRAP"], max_snap_m=300)


def test_plan_notes_a_far_snap_and_unassigns_beyond_max_snap(caplog):
    import logging

    net = _trap_network()
    stops, fleet = _trap_tables()
    with caplog.at_level(logging.WARNING, logger="routing"):
        plan = routing.plan_routes(
            stops, fleet, net, settings=routing.PlanSettings(time_limit_s=1, max_snap_m=500)
        )
    note = plan.summary["snap_far"]["TRAP"]
    assert "one-way" in note and "moved 400 m" in note
    assert "OK" not in plan.summary["snap_far"]
    assert plan.summary["snap_far"]["FAR"].startswith("moved 1")  # ~167 m, not a trap
    assert "TRAP" in caplog.text and "one-way" in caplog.text
    assert "1 stop(s) are more than 100 m" in caplog.text

    plan = routing.plan_routes(
        stops, fleet, net, settings=routing.PlanSettings(time_limit_s=1, max_snap_m=300)
    )
    un = plan.unassigned.set_index("stop_id")
    assert list(un.index) == ["TRAP"]
    why = un.loc["TRAP", "reason"]
    assert why.startswith("unreachable:") and "one-way" in why and "--max-snap-m 300" in why
    served = set(plan.routes.loc[plan.routes["kind"] == "stop", "stop_id"])
    assert served == {"OK", "FAR"}
