"""VROOM's JSON in and out (`routing.vroom`): parsing, solving, costs, re-planning."""

from __future__ import annotations

import copy
import functools
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shipahead.routing.vroom import (
    VroomLimits,
    parse_events,
    parse_vroom,
    replan_vroom,
    solve_vroom,
)

from shipahead import routing

DATA = Path(__file__).parent / "data" / "vroom"
FAST = {"time_limit_s": 1, "engine": "ortools", "deterministic": True}


def example(name: str) -> dict:
    return json.loads((DATA / f"{name}.json").read_text())


def with_options(doc: dict, **extra) -> dict:
    doc = copy.deepcopy(doc)
    doc["options"] = {**FAST, **extra}
    return doc


def haversine_m(a, b) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_000 * math.asin(math.sqrt(h))


@functools.lru_cache(maxsize=4)
def _complete_network(points: tuple[tuple[float, float], ...]):
    """A road between every two points (primary roads), so every location snaps exactly."""
    ways = [
        (k + 1, [(a + 1, *points[a]), (b + 1, *points[b])], {"highway": "primary"})
        for k, (a, b) in enumerate(itertools.combinations(range(len(points)), 2))
    ]
    return routing.prepare_graph(routing.graph_from_ways(ways))


def network_for(doc: dict):
    pts = {tuple(j["location"]) for j in doc["jobs"]}
    for v in doc["vehicles"]:
        pts |= {tuple(v[k]) for k in ("start", "end") if k in v}
    return _complete_network(tuple(sorted(pts)))


def to_matrices(doc: dict, speed_mps: float = 10.0) -> dict:
    """The same problem with haversine matrices (location_index per location)."""
    doc = copy.deepcopy(doc)
    pts: list[tuple[float, float]] = []

    def idx(c) -> int:
        c = tuple(c)
        if c not in pts:
            pts.append(c)
        return pts.index(c)

    for j in doc["jobs"]:
        j["location_index"] = idx(j["location"])
    for v in doc["vehicles"]:
        for k in ("start", "end"):
            if k in v:
                v[f"{k}_index"] = idx(v[k])
    dist = [[round(haversine_m(a, b)) for b in pts] for a in pts]
    dur = [[round(d / speed_mps) for d in row] for row in dist]
    doc["matrices"] = {"car": {"durations": dur, "distances": dist}}
    return doc


def served_and_unassigned(out: dict) -> tuple[list[int], list[int]]:
    served = [s["id"] for r in out["routes"] for s in r["steps"] if s["type"] == "job"]
    return served, [u["id"] for u in out["unassigned"]]


def check_partition(doc: dict, out: dict) -> None:
    served, un = served_and_unassigned(out)
    ids = sorted(j["id"] for j in doc["jobs"])
    assert sorted(served + un) == ids, "every job exactly once: in one route or unassigned"


# ---- VROOM's documented examples ---------------------------------------------------------


def test_example_2_matches_vroom_solution():
    out = solve_vroom(parse_vroom(with_options(example("example_2")))).output
    ref = example("example_2_sol")
    assert out["code"] == 0
    for k in ("cost", "routes", "unassigned", "service", "duration", "waiting_time"):
        assert out["summary"][k] == ref["summary"][k], k
    got = [(s["type"], s.get("id"), s["arrival"], s["duration"]) for s in out["routes"][0]["steps"]]
    want = [
        (s["type"], s.get("id"), s["arrival"], s["duration"]) for s in ref["routes"][0]["steps"]
    ]
    assert got == want
    assert [s["location_index"] for s in out["routes"][0]["steps"]] == [0, 1, 2, 3]


def test_example_3_on_a_road_network():
    doc = with_options(example("example_3"))
    res = solve_vroom(parse_vroom(doc), network=network_for(doc))
    out = res.output
    check_partition(doc, out)
    # 9 units of deliveries for 2 x 4 capacity: one job cannot be carried
    assert out["summary"]["unassigned"] == 1
    assert out["unassigned"][0]["reason"].startswith("no capacity left")
    assert out["summary"]["delivery"] == [sum(j["delivery"][0] for j in doc["jobs"]) - 3]
    for r in out["routes"]:
        steps = r["steps"]
        assert steps[0]["type"] == "start" and steps[-1]["type"] == "end"
        assert all(
            {"type", "location", "arrival", "duration", "service", "waiting_time", "load"} <= set(s)
            for s in steps
        )
        # absolute timestamps in, absolute timestamps out; ETAs increase along the route
        arr = [s["arrival"] for s in steps]
        assert arr == sorted(arr) and arr[0] >= 1600416000
        assert all(max(s["load"]) <= 4 for s in steps)
        assert steps[-1]["distance"] == r["distance"] > 0
    json.dumps(res.state)
    assert set(res.geometry) == {str(r["vehicle"]) for r in out["routes"]}
    assert all(len(g) >= 2 for g in res.geometry.values())


def test_example_1_shipments_are_refused_by_name():
    with pytest.raises(routing.InputError) as e:
        parse_vroom(example("example_1"))
    assert e.value.message.startswith("shipments: not supported")
    assert e.value.column == "shipments"


def test_example_1_jobs_with_skills_and_break_on_matrices():
    doc = example("example_1")
    del doc["shipments"]
    # without matrices: skills that not every vehicle has cannot be honoured on the roads
    with pytest.raises(routing.InputError, match=r"jobs\[0\]\.skills"):
        parse_vroom(doc)
    mdoc = with_options(to_matrices(doc))
    out = solve_vroom(parse_vroom(mdoc)).output
    check_partition(mdoc, out)
    skills = {v["id"]: set(v["skills"]) for v in doc["vehicles"]}
    jobs = {j["id"]: j for j in doc["jobs"]}
    for r in out["routes"]:
        for s in r["steps"]:
            if s["type"] == "job":
                assert set(jobs[s["id"]].get("skills", [])) <= skills[r["vehicle"]]
    # vehicle 2 (skills 2, 14) has its break when it drives
    for r in out["routes"]:
        if r["vehicle"] == 2:
            br = [s for s in r["steps"] if s["type"] == "break"]
            assert len(br) == 1 and br[0]["id"] == 2 and br[0]["service"] == 300
            assert 1600423200 <= br[0]["arrival"] <= 1600425000


# ---- costs and output format -------------------------------------------------------------


def line_problem(**vehicle) -> dict:
    """Depot 0, jobs at 1..3 on a line (100 s, 1000 m apart)."""
    n = 4
    dur = [[100 * abs(i - j) for j in range(n)] for i in range(n)]
    dist = [[1000 * abs(i - j) for j in range(n)] for i in range(n)]
    return {
        "vehicles": [{"id": 7, "start_index": 0, "end_index": 0, **vehicle}],
        "jobs": [{"id": 10 + k, "location_index": k, "service": 60} for k in (1, 2, 3)],
        "matrices": {"car": {"durations": dur, "distances": dist}},
        "options": dict(FAST),
    }


def test_cost_without_costs_is_travel_seconds():
    out = solve_vroom(parse_vroom(line_problem())).output
    r = out["routes"][0]
    assert r["duration"] == 600 and r["distance"] == 6000 and r["service"] == 180
    assert r["cost"] == 600 == out["summary"]["cost"]


def test_cost_follows_vroom_rule():
    doc = line_problem(costs={"fixed": 1000, "per_hour": 7200, "per_km": 3})
    out = solve_vroom(parse_vroom(doc)).output
    r = out["routes"][0]
    assert r["cost"] == round(1000 + 7200 * 600 / 3600 + 3 * 6000 / 1000)
    assert out["summary"]["cost"] == r["cost"]
    # out along the line and back (either direction is optimal)
    order = [s.get("id") for s in r["steps"]]
    assert order in ([None, 11, 12, 13, None], [None, 13, 12, 11, None])
    first = 100 if order[1] == 11 else 300
    assert [s["duration"] for s in r["steps"]] == [0, first, first + 100, first + 200, 600]
    assert [s["arrival"] for s in r["steps"]] == [0, first, first + 160, first + 320, 780]


def test_time_windows_waiting_and_violations_empty():
    doc = line_problem()
    doc["jobs"][2]["time_windows"] = [[1000, 2000]]
    out = solve_vroom(parse_vroom(doc)).output
    job = {s["id"]: s for s in out["routes"][0]["steps"] if s["type"] == "job"}
    assert 1000 <= job[13]["arrival"] + job[13]["waiting_time"] <= 2000
    assert out["summary"]["violations"] == []


def test_priority_keeps_the_important_job():
    doc = line_problem(capacity=[1])
    for j in doc["jobs"]:
        j["delivery"] = [1]
    doc["jobs"][2]["priority"] = 100
    out = solve_vroom(parse_vroom(doc)).output
    served, un = served_and_unassigned(out)
    assert served == [13] and sorted(un) == [11, 12]
    assert out["summary"]["delivery"] == [1] and out["summary"]["pickup"] == [0]


def test_pickup_and_delivery_loads():
    doc = line_problem(capacity=[5])
    doc["jobs"][0]["delivery"] = [2]
    doc["jobs"][1]["pickup"] = [3]
    doc["jobs"][2]["delivery"] = [0]
    out = solve_vroom(parse_vroom(doc)).output
    steps = out["routes"][0]["steps"]
    assert steps[0]["load"] == [2]  # deliveries loaded at the start
    assert max(max(s["load"]) for s in steps) <= 5
    assert steps[-1]["load"] == [3]  # pickups brought back


def test_open_end_and_speed_factor():
    doc = line_problem(speed_factor=2.0)
    del doc["vehicles"][0]["end_index"]
    out = solve_vroom(parse_vroom(doc)).output
    steps = out["routes"][0]["steps"]
    assert steps[-1]["type"] == "end" and steps[-1]["location_index"] == 3
    assert out["routes"][0]["duration"] == 150  # 300 s of driving at twice the speed


# ---- bad input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda d: d["jobs"][1].update(setup_per_type={"a": 1}), "jobs[1].setup_per_type"),
        (lambda d: d["vehicles"][0].update(max_tasks=3), "vehicles[0].max_tasks"),
        (lambda d: d["matrices"]["car"].update(costs=[[0]]), "matrices.car.costs"),
        (lambda d: d.update(foo=1), "foo"),
        (lambda d: d["options"].update(solver="x"), "options.solver"),
        (lambda d: d["jobs"][0].update(time_windows=[[0, 1], [5, 9]]), "jobs[0].time_windows"),
        (lambda d: d["vehicles"][0].update(costs={"per_task_hour": 5}), "vehicles[0].costs"),
    ],
)
def test_unsupported_field_is_named(mutate, path):
    doc = line_problem()
    mutate(doc)
    with pytest.raises(routing.InputError) as e:
        parse_vroom(doc)
    assert e.value.message.startswith(path)
    assert "not supported" in e.value.message


@pytest.mark.parametrize(
    ("mutate", "path", "words"),
    [
        (
            lambda d: d["jobs"][0].update(time_windows=[[7200, 3600]]),
            "jobs[0].time_windows[0]",
            "before",
        ),
        (lambda d: d["jobs"][1].update(id=11), "jobs[1].id", "repeats"),
        (lambda d: d["jobs"][0].update(location_index=9), "jobs[0].location_index", "outside"),
        (lambda d: d["jobs"][0].update(service=float("nan")), "jobs[0].service", "integer"),
        (
            lambda d: d["matrices"]["car"]["durations"][1].__setitem__(2, -1),
            "matrices.car.durations[1][2]",
            "integer",
        ),
        (lambda d: d["vehicles"][0].update(profile="bike"), "vehicles[0].profile", "no matrices"),
        (lambda d: d["jobs"][0].update(priority=101), "jobs[0].priority", "outside"),
        (
            lambda d: (d["vehicles"][0].update(capacity=[1, 2]), d["jobs"][0].update(delivery=[1])),
            "jobs[0].delivery",
            "values",
        ),
    ],
)
def test_bad_values_are_named(mutate, path, words):
    doc = line_problem()
    mutate(doc)
    with pytest.raises(routing.InputError) as e:
        parse_vroom(doc)
    assert e.value.message.startswith(path + ":"), e.value.message
    assert e.value.column == path
    assert words in e.value.message


def test_size_bounds_checked_first():
    doc = line_problem()
    with pytest.raises(routing.InputError, match=r"^jobs: 3 jobs exceed the limit of 2"):
        parse_vroom(doc, limits=VroomLimits(jobs=2))
    with pytest.raises(routing.InputError, match=r"4 rows exceed the limit of 3"):
        parse_vroom(doc, limits=VroomLimits(matrix_size=3))
    with pytest.raises(routing.InputError, match=r"options.time_limit_s"):
        parse_vroom({**doc, "options": {"time_limit_s": 10}}, limits=VroomLimits(time_limit_s=5))


def test_locations_need_a_network():
    doc = with_options(example("example_3"))
    with pytest.raises(routing.InputError, match="no road network"):
        solve_vroom(parse_vroom(doc))


def test_deterministic_output():
    doc = with_options(to_matrices(example("example_3")))
    a = solve_vroom(parse_vroom(doc))
    b = solve_vroom(parse_vroom(doc))
    assert json.dumps(a.output) == json.dumps(b.output)
    assert json.dumps(a.state, sort_keys=True) == json.dumps(b.state, sort_keys=True)
    np.testing.assert_equal(len(a.output["routes"]), len(b.output["routes"]))


# ---- events and re-planning -------------------------------------------------------------


def grid_matrices(size: int, step_s: int, m_per_s: int) -> tuple[list, list]:
    """Durations (s) and distances (m) between the points of a size x size grid."""
    pts = [(x, y) for x in range(size) for y in range(size)]
    dur = [[step_s * (abs(a[0] - b[0]) + abs(a[1] - b[1])) for b in pts] for a in pts]
    return dur, [[m_per_s * d for d in row] for row in dur]


def van(vid: int, depot: int, **extra) -> dict:
    """A vehicle leaving from and returning to matrix row ``depot``, 08:00-18:00."""
    return {
        "id": vid,
        "start_index": depot,
        "end_index": depot,
        "time_window": [28800, 64800],
        **extra,
    }


def three_vans() -> dict:
    """A depot, 8 jobs on a 3 x 3 grid of locations 300 s apart, 3 vans (matrices)."""
    dur, dist = grid_matrices(3, 300, 10)
    return {
        "vehicles": [van(v, 0, capacity=[4]) for v in (1, 2, 3)],
        "jobs": [
            {"id": 100 + k, "location_index": k, "service": 120, "delivery": [1]}
            for k in range(1, 9)
        ],
        "matrices": {"car": {"durations": dur, "distances": dist}},
        "options": dict(FAST),
    }


def route_jobs(out: dict) -> dict[int, list[int]]:
    return {
        r["vehicle"]: [s["id"] for s in r["steps"] if s["type"] == "job"] for r in out["routes"]
    }


def test_replan_keeps_done_stops_and_drops_cancelled():
    doc = three_vans()
    p = parse_vroom(doc)
    base = solve_vroom(p)
    check_partition(doc, base.output)
    r = next(r for r in base.output["routes"] if sum(s["type"] == "job" for s in r["steps"]) >= 3)
    jobs = [s for s in r["steps"] if s["type"] == "job"]
    first, last = jobs[0], jobs[-1]
    at = first["arrival"] + 200
    events = [
        {
            "event_id": "a",
            "type": "stop_done",
            "job_id": first["id"],
            "vehicle_id": r["vehicle"],
            "at": at,
            "arrival": first["arrival"] + 30,
            "departure": at,
        },
        {"event_id": "b", "type": "stop_cancelled", "job_id": last["id"], "at": at},
    ]
    res = replan_vroom(p, base.state, events)
    out = res.output
    json.dumps(res.state)
    check_partition(doc, out)
    served = route_jobs(out)
    # the done stop stays first on its vehicle with its actual arrival
    assert served[r["vehicle"]][0] == first["id"]
    step = None
    for rr in out["routes"]:
        for s in rr["steps"]:
            if s.get("id") == first["id"] and s["type"] == "job":
                step = s
    assert step is not None and step["arrival"] == first["arrival"] + 30
    # the cancelled stop is in no route, and unassigned as cancelled
    assert all(last["id"] not in v for v in served.values())
    assert {u["id"]: u["reason"] for u in out["unassigned"]}[last["id"]] == "cancelled"
    ch = {c["job_id"]: c for c in res.changes}
    assert ch[first["id"]]["change"] == "done"
    assert ch[last["id"]] == {
        "job_id": last["id"],
        "change": "cancelled",
        "from_vehicle": r["vehicle"],
        "to_vehicle": None,
    }
    # a later re-plan keeps it done
    later = replan_vroom(
        p,
        res.state,
        [{"event_id": "c", "type": "vehicle_delay", "vehicle_id": 1, "delay": 600, "at": at + 60}],
    )
    assert first["id"] in later.state["done"]
    assert route_jobs(later.output)[r["vehicle"]][0] == first["id"]
    check_partition(doc, later.output)


def test_vehicle_down_moves_its_open_jobs_and_added_job_is_planned():
    doc = three_vans()
    p = parse_vroom(doc)
    base = solve_vroom(p)
    before = route_jobs(base.output)
    down = next(v for v, js in before.items() if len(js) >= 2)
    at = 28800 + 60
    res = replan_vroom(
        p,
        base.state,
        [
            {"event_id": "d", "type": "vehicle_down", "vehicle_id": down, "at": at},
            {
                "event_id": "n",
                "type": "stop_added",
                "job_id": 500,
                "location_index": 4,
                "delivery": [1],
                "service": 60,
                "at": at,
            },
        ],
    )
    after = route_jobs(res.output)
    assert not after.get(down)  # nothing done yet: the down van keeps no route
    assert 500 in {j for js in after.values() for j in js}
    moved = {c["job_id"] for c in res.changes if c["change"] == "moved"}
    assert moved == set(before[down]) - {u["id"] for u in res.output["unassigned"]}
    doc2 = copy.deepcopy(doc)
    doc2["jobs"].append({"id": 500})
    check_partition(doc2, res.output)


@pytest.mark.parametrize(
    ("event", "path", "words"),
    [
        ({"type": "stop_done", "job_id": 999}, "events[0].job_id", "not in the plan"),
        ({"type": "stop_teleported"}, "events[0].type", "unknown"),
        (
            {"type": "vehicle_delay", "vehicle_id": 1, "delay": float("inf")},
            "events[0].delay",
            "integer",
        ),
        (
            {"type": "vehicle_delay", "vehicle_id": 9, "delay": 5},
            "events[0].vehicle_id",
            "not in the plan",
        ),
        (
            {"type": "stop_cancelled", "job_id": 101, "colour": "red"},
            "events[0].colour",
            "not supported",
        ),
        (
            {"type": "incident", "factor": 0.5, "road_class": "primary"},
            "events[0].type",
            "road network",
        ),
        ({"type": "stop_added", "job_id": 101, "location_index": 1}, "events[0].job_id", "exists"),
        ({"type": "stop_added", "job_id": 7}, "events[0].location_index", "missing"),
    ],
)
def test_bad_events_are_named(event, path, words):
    p = parse_vroom(three_vans())
    base = solve_vroom(p)
    with pytest.raises(routing.InputError) as e:
        parse_events(p, base.state, [{"event_id": "x", "at": 30000, **event}])
    assert e.value.message.startswith(path + ":"), e.value.message
    assert words in e.value.message


def test_replan_on_a_road_network_with_an_incident():
    doc = with_options(example("example_3"))
    net = network_for(doc)
    p = parse_vroom(doc)
    base = solve_vroom(p, network=net)
    r = base.output["routes"][0]
    jobs = [s for s in r["steps"] if s["type"] == "job"]
    at = jobs[0]["arrival"] + 400
    res = replan_vroom(
        p,
        base.state,
        [
            {"event_id": "1", "type": "stop_done", "job_id": jobs[0]["id"], "at": at},
            {"event_id": "2", "type": "stop_cancelled", "job_id": jobs[-1]["id"], "at": at},
            {"event_id": "3", "type": "incident", "factor": 0.5, "road_class": "primary", "at": at},
        ],
        network=net,
    )
    check_partition(doc, res.output)
    served = route_jobs(res.output)
    assert served[r["vehicle"]][0] == jobs[0]["id"]
    assert all(jobs[-1]["id"] not in v for v in served.values())
    assert res.state["incidents"] and json.dumps(res.state)
    assert res.state["at"] == at


# ---- matrices path on a Solomon instance; invariants -------------------------------------

SOLOMON = Path("/work/shared/benchmarks/routing/solomon/C101.txt")


@pytest.mark.skipif(not SOLOMON.exists(), reason="benchmark instances not present")
def test_solomon_as_matrices_matches_route_instance():
    """C101's first 25 customers as a VROOM problem (DIMACS x10 distances as both matrices):
    the same cost as ``route --instance`` (routing.solve on the instance) at the same limit."""
    import vrplib
    from shipahead.routing.instances import problem_from_vrplib, reported_cost

    inst = vrplib.read_instance(str(SOLOMON), instance_format="solomon")
    n = 26
    for k in ("demand", "node_coord", "time_window", "service_time"):
        inst[k] = inst[k][:n]
    inst["vehicles"] = 5
    p = problem_from_vrplib(inst, "solomon", objective="distance")
    ref = routing.solve(
        p, routing.SolveSettings(engine="pyvrp", time_limit_s=1, seed=1, deterministic=True)
    )
    d = np.asarray(p.distance_m).tolist()
    tw = np.asarray(p.tw_s)
    doc = {
        "vehicles": [
            {
                "id": k,
                "start_index": 0,
                "end_index": 0,
                "capacity": [200],
                "time_window": [int(tw[0, 0]), int(tw[0, 1])],
            }
            for k in range(5)
        ],
        "jobs": [
            {
                "id": i,
                "location_index": i,
                "delivery": [int(p.demand[i, 0])],
                "service": int(p.service_s[i]),
                "time_windows": [[int(tw[i, 0]), int(tw[i, 1])]],
            }
            for i in range(1, n)
        ],
        "matrices": {"car": {"durations": d, "distances": d}},
        "options": {"time_limit_s": 1, "engine": "pyvrp", "seed": 1, "deterministic": True},
    }
    out = solve_vroom(parse_vroom(doc)).output
    assert out["summary"]["unassigned"] == 0
    # without costs a route costs its travel time: here the x10 distance
    assert out["summary"]["cost"] == out["summary"]["distance"] == out["summary"]["duration"]
    assert out["summary"]["cost"] / 10 == pytest.approx(reported_cost(p, ref.routes), rel=0.01)
    assert out["summary"]["cost"] / 10 == pytest.approx(191.3, rel=0.02)  # C101.25 optimum


@st.composite
def small_problems(draw):
    n_loc = draw(st.integers(3, 7))
    xy = draw(
        st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=n_loc, max_size=n_loc)
    )
    dur = [[60 * (abs(a[0] - b[0]) + abs(a[1] - b[1])) for b in xy] for a in xy]
    n_veh = draw(st.integers(1, 3))
    vehicles = []
    for v in range(n_veh):
        veh = {
            "id": v,
            "start_index": 0,
            "end_index": draw(st.integers(0, n_loc - 1)),
            "capacity": [draw(st.integers(0, 8))],
            "skills": draw(st.lists(st.integers(1, 2), max_size=2)),
        }
        if draw(st.booleans()):
            veh["time_window"] = [0, draw(st.integers(600, 20_000))]
        vehicles.append(veh)
    jobs = []
    for j in range(draw(st.integers(1, 8))):
        job = {
            "id": 10 + j,
            "location_index": draw(st.integers(1, n_loc - 1)),
            "service": draw(st.integers(0, 300)),
            "delivery": [draw(st.integers(0, 4))],
            "pickup": [draw(st.integers(0, 3))],
            "priority": draw(st.integers(0, 100)),
        }
        if draw(st.booleans()):
            a = draw(st.integers(0, 10_000))
            job["time_windows"] = [[a, a + draw(st.integers(0, 5000))]]
        if draw(st.booleans()):
            job["skills"] = [draw(st.integers(1, 2))]
        jobs.append(job)
    return {
        "vehicles": vehicles,
        "jobs": jobs,
        "matrices": {"car": {"durations": dur, "distances": [[10 * x for x in r] for r in dur]}},
        # deterministic: a solution count, never the clock (the suite may run under load)
        "options": {"time_limit_s": 0.2, "engine": "ortools", "deterministic": True},
    }


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(doc=small_problems())
def test_every_job_once_and_constraints_hold(doc):
    out = solve_vroom(parse_vroom(doc)).output
    check_partition(doc, out)
    veh = {v["id"]: v for v in doc["vehicles"]}
    jobs = {j["id"]: j for j in doc["jobs"]}
    for r in out["routes"]:
        v = veh[r["vehicle"]]
        steps = r["steps"]
        assert steps[0]["type"] == "start" and steps[-1]["type"] == "end"
        for s in steps:
            assert all(0 <= x <= c for x, c in zip(s["load"], v["capacity"], strict=True))
            if s["type"] != "job":
                continue
            j = jobs[s["id"]]
            assert set(j.get("skills", [])) <= set(v["skills"])
            for a, b in j.get("time_windows", []):
                assert a <= s["arrival"] + s["waiting_time"] <= b
        if "time_window" in v:
            assert v["time_window"][0] <= steps[0]["arrival"]
            assert steps[-1]["arrival"] <= v["time_window"][1]
        assert r["cost"] == r["duration"]  # no costs: travel seconds


def test_location_off_the_network_is_named():
    doc = with_options(example("example_3"))
    net = network_for(doc)
    bad = copy.deepcopy(doc)
    bad["jobs"][2]["location"] = [2.6, 49.5]  # 33 km from any road of the test network
    with pytest.raises(routing.InputError) as e:
        solve_vroom(parse_vroom(bad), network=net)
    assert e.value.message.startswith("jobs[2].location: job 3 is 33,")
    bad = copy.deepcopy(doc)
    bad["vehicles"][1]["start"] = bad["vehicles"][1]["end"] = [2.6, 49.5]
    with pytest.raises(routing.InputError, match=r"^vehicles\[1\]\.start: vehicle 2's start is"):
        solve_vroom(parse_vroom(bad), network=net)
    p = parse_vroom(doc)
    base = solve_vroom(p, network=net)
    event = {"event_id": "e", "type": "stop_added", "job_id": 77, "location": [2.6, 49.5]}
    with pytest.raises(routing.InputError, match=r"^events\[0\]\.location: is 33,"):
        replan_vroom(p, base.state, [{**event, "at": 1600417000}], network=net)


def test_vehicle_that_cannot_reach_its_end_in_time_is_left_unused():
    doc = line_problem()
    doc["vehicles"].append({"id": 8, "start_index": 0, "end_index": 3, "time_window": [0, 200]})
    out = solve_vroom(parse_vroom(doc)).output  # 0 -> 3 takes 300 s: vehicle 8 serves nothing
    assert [r["vehicle"] for r in out["routes"]] == [7]
    assert out["summary"]["unassigned"] == 0


# ---- re-plan churn: stops move between vehicles only when it pays -------------------------


def grid_fleet(seed: int = 3) -> dict:
    """24 jobs on a 5 x 5 grid of locations 240 s apart, 4 vans of 8 units (matrices), with
    VROOM costs: many plans cost nearly the same, so a re-plan is free to reshuffle them."""
    rng = np.random.default_rng(seed)
    dur, dist = grid_matrices(5, 240, 8)
    costs = {"fixed": 500, "per_hour": 3600, "per_km": 40}
    return {
        "vehicles": [van(v, 12, capacity=[8], costs=costs) for v in (1, 2, 3, 4)],
        "jobs": [
            {
                "id": 100 + k,
                "location_index": int(k),
                "service": 180,
                "delivery": [int(rng.integers(1, 3))],
            }
            for k in range(25)
            if k != 12
        ],
        "matrices": {"car": {"durations": dur, "distances": dist}},
        "options": {**FAST, "time_limit_s": 2},
    }


def moved_between_vehicles(res) -> set[int]:
    return {
        c["job_id"]
        for c in res.changes
        if c["from_vehicle"] is not None
        and c["to_vehicle"] is not None
        and c["from_vehicle"] != c["to_vehicle"]
    }


def test_small_events_move_few_stops_and_a_down_vehicle_moves_its_own():
    doc = grid_fleet()
    p = parse_vroom(doc)
    base = solve_vroom(p)
    before = route_jobs(base.output)
    at = 28800 + 60  # the vans are on their way to their first jobs (240 s or more away)
    add = {
        "event_id": "a",
        "type": "stop_added",
        "job_id": 900,
        "location_index": 12,
        "delivery": [1],
        "service": 120,
        "at": at,
    }
    cancel = {"event_id": "c", "type": "stop_cancelled", "job_id": 106, "at": at}
    for event in (add, cancel):
        res = replan_vroom(p, base.state, [event])
        assert len(moved_between_vehicles(res)) <= 2, (event["type"], res.changes)
    # the default penalty is an hour of driving at the fleet's costs (problem units)
    assert routing.vroom.reassign_penalty_of(p) == 3600 + 40 * 30
    down = max(before, key=lambda v: len(before[v]))
    res = replan_vroom(
        p, base.state, [{"event_id": "d", "type": "vehicle_down", "vehicle_id": down, "at": at}]
    )
    after = route_jobs(res.output)
    assert not after.get(down)
    unassigned = {u["id"] for u in res.output["unassigned"]}
    assert set(before[down]) - unassigned <= moved_between_vehicles(res)
    assert len(set(before[down]) - unassigned) >= len(before[down]) - 1
    check_partition(doc, res.output)


def test_reassign_penalty_option_is_read_and_checked():
    doc = grid_fleet()
    doc["options"]["reassign_penalty"] = 250
    assert routing.vroom.reassign_penalty_of(parse_vroom(doc)) == 250
    doc["options"]["reassign_penalty"] = -1
    with pytest.raises(routing.InputError) as e:
        parse_vroom(doc)
    assert e.value.message.startswith("options.reassign_penalty:")


def test_a_move_that_saves_less_than_the_penalty_is_not_made():
    """Van 1's morning plan serves the west and one stop on van 2's way east (a dispatcher's
    choice, made here with skills). Handing that stop to van 2 saves 3,000 s of driving,
    less than the default penalty (an hour of driving per moved stop), so a cancel elsewhere
    leaves it on van 1; with a penalty of 50 (VROOM cost units: 50 s) it moves."""
    xs = [0, -1, -2, -3, 5, 4, 6]  # depot, west, the stop east, van 2's (300 s apart)
    dur = [[300 * abs(a - b) for b in xs] for a in xs]
    fixed = {
        "vehicles": [van(v, 0, skills=[v]) for v in (1, 2)],
        "jobs": [
            {"id": k, "location_index": k, "service": 60, "skills": [1 if k <= 4 else 2]}
            for k in range(1, 7)
        ],
        "matrices": {"car": {"durations": dur}},
        "options": dict(FAST),
    }
    base = solve_vroom(parse_vroom(fixed))
    assert 4 in route_jobs(base.output)[1]
    free = copy.deepcopy(fixed)
    for x in (*free["vehicles"], *free["jobs"]):
        x.pop("skills")
    p = parse_vroom(free)
    cancel = [{"event_id": "c", "type": "stop_cancelled", "job_id": 3, "at": 28700}]
    assert moved_between_vehicles(replan_vroom(p, base.state, cancel)) == set()
    assert moved_between_vehicles(replan_vroom(p, base.state, cancel, reassign_penalty=50)) == {4}
