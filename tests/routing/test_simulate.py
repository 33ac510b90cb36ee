"""Time-dependent simulation: FIFO, exact piecewise travel, waiting, lateness."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shipahead.routing.problem import RoutingProblem, Vehicle
from shipahead.routing.simulate import Simulator
from shipahead.routing.traffic import N_CLASSES, Incident, SpeedModel

from ._netfix import tiny_network

factors = st.lists(st.floats(0.2, 1.5), min_size=24, max_size=24)


@settings(max_examples=40, deadline=None)
@given(
    f=factors,
    t1=st.floats(0, 30 * 3600),
    dt=st.floats(0, 4 * 3600),
    seed=st.integers(0, 10_000),
)
def test_fifo(f, t1, dt, seed):
    net = tiny_network()
    hourly = np.repeat(np.asarray(f)[:, None], N_CLASSES, axis=1)
    rng = np.random.default_rng(seed)
    inc = Incident(
        arcs=rng.random(net.n_arcs) < 0.3, factor=0.3, start_s=9 * 3600, end_s=9.5 * 3600
    )
    for sm in (SpeedModel(hourly), SpeedModel(hourly, (inc,))):
        sim = Simulator(net, sm, np.arange(net.n_nodes))
        u, v = (int(x) for x in rng.choice(net.n_nodes, 2, replace=False))
        _, arcs = sim.path(u, v, 0.0)
        a1, _, _ = sim.drive(arcs, t1)
        a2, _, _ = sim.drive(arcs, t1 + dt)
        assert a2 >= a1 - 1e-6
        assert a1 >= t1
        # with a driver break due at 10:00 (taken at once if already due): still FIFO
        e, d = 10 * 3600.0, 1800.0
        b1, _, _ = sim.drive(arcs, t1, (max(t1, e), d))
        b2, _, _ = sim.drive(arcs, t1 + dt, (max(t1 + dt, e), d))
        assert b2 >= b1 - 1e-6
        assert b1 >= a1 - 1e-6


def test_piecewise_speed_is_exact():
    net = tiny_network()
    hourly = np.ones((24, N_CLASSES))
    hourly[8] = 0.5
    sim = Simulator(net, SpeedModel(hourly), np.arange(net.n_nodes))
    arcs = [0]
    ff = float(net.arc_time_s[0])
    # start ff/4 s before 08:00 at full speed: covers a quarter, then half speed for the rest
    t0 = 8 * 3600 - ff / 4
    arr, _, metres = sim.drive(arcs, t0)
    assert arr == pytest.approx(8 * 3600 + 0.75 * ff / 0.5)
    assert metres == pytest.approx(float(net.arc_length_m[0]))


def _problem(net, nodes, tw, service):
    n = len(nodes)
    z = np.zeros((n, n), dtype=np.int64)
    return RoutingProblem(
        node_ids=tuple(f"n{i}" for i in range(n)),
        stops=tuple(range(1, n)),
        distance_m=z,
        duration_s=z,
        demand=np.ones((n, 1), dtype=np.int64),
        tw_s=np.asarray(tw, dtype=np.int64),
        service_s=np.asarray(service, dtype=np.int64),
        vehicles=(Vehicle("v", 0, 0, (100,), 8 * 3600, 18 * 3600),),
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 6))
def test_route_waits_for_windows_and_reports_lateness(seed, k):
    net = tiny_network()
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, k + 1, replace=False)
    tw = [[0, 2 * 86400]]
    for _ in range(k):
        a = int(rng.integers(8 * 3600, 9 * 3600))
        tw.append([a, a + int(rng.integers(0, 900))])
    service = [0, *rng.integers(0, 600, k).tolist()]
    p = _problem(net, nodes, tw, service)
    sim = Simulator(net, SpeedModel(np.full((24, N_CLASSES), 0.6)), nodes)
    r = sim.route(p, 0, list(range(1, k + 1)), depart_s=8 * 3600)
    t = 8 * 3600
    for x in r.visits:
        lo, hi = tw[x.node]
        assert x.arrival_s >= t - 1e-6
        assert x.start_s == pytest.approx(max(x.arrival_s, lo))
        assert x.late_s == pytest.approx(max(0.0, x.arrival_s - hi))
        assert x.departure_s == pytest.approx(x.start_s + service[x.node])
        t = x.departure_s
    assert r.end_arrival_s >= t
    assert [v.load_after[0] for v in r.visits] == list(range(k - 1, -1, -1))


def test_delay_departure_keeps_service_starts():
    net = tiny_network()
    nodes = np.array([0, 40, 80])
    tw = [[0, 2 * 86400], [10 * 3600, 11 * 3600], [10 * 3600, 12 * 3600]]
    p = _problem(net, nodes, tw, [0, 300, 300])
    hourly = np.ones((24, N_CLASSES))
    hourly[9] = 0.4
    sim = Simulator(net, SpeedModel(hourly), nodes)
    early = sim.route(p, 0, [1, 2], depart_s=8 * 3600)
    late = sim.route(p, 0, [1, 2], depart_s=8 * 3600, delay_departure=True)
    assert early.visits[0].wait_s > 3600
    assert late.depart_s > early.depart_s and late.depart_s % 60 == 0
    for a, b in zip(early.visits, late.visits, strict=True):
        assert b.start_s <= a.start_s + 0.5
    assert late.visits[0].wait_s < 60 or late.depart_s == 8 * 3600 + 60 * (
        early.visits[0].wait_s // 60
    )


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 5),
    e=st.integers(8 * 3600, 10 * 3600),
    width=st.integers(0, 1800),
    dur=st.integers(0, 3600),
)
def test_simulated_break_follows_the_checker(seed, k, e, width, dur):
    # free flow: the simulation must reproduce the static schedule of the checker, the
    # break included (same leg, same start, service starts equal up to rounding)
    from shipahead.routing.check import route_schedule
    from shipahead.routing.problem import Break

    net = tiny_network()
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, k + 1, replace=False)
    sim = Simulator(net, SpeedModel.free_flow(), nodes)
    n = k + 1
    dur_m = np.array([[sim.travel(i, j, 0.0)[0] for j in range(n)] for i in range(n)])
    tw = [[0, 2 * 86400]]
    for _ in range(k):
        a = int(rng.integers(8 * 3600, 11 * 3600))
        tw.append([a, a + int(rng.integers(0, 3600))])
    service = [0, *rng.integers(0, 600, k).tolist()]
    p = RoutingProblem(
        node_ids=tuple(f"n{i}" for i in range(n)),
        stops=tuple(range(1, n)),
        distance_m=np.zeros((n, n), dtype=np.int64),
        duration_s=np.round(dur_m).astype(np.int64),
        demand=np.ones((n, 1), dtype=np.int64),
        tw_s=np.asarray(tw, dtype=np.int64),
        service_s=np.asarray(service, dtype=np.int64),
        vehicles=(
            Vehicle("v", 0, 0, (100,), 8 * 3600, 18 * 3600, break_=Break(e, e + width, dur)),
        ),
    )
    route = tuple(range(1, n))
    sch = route_schedule(p, 0, route)
    gap = -1 if sch.break_gap is None else sch.break_gap
    r = sim.route(p, 0, route, depart_s=sch.departure_s, break_gap=gap)
    tol = k + 2  # integer matrix vs exact seconds
    assert [x.start_s for x in r.visits] == pytest.approx(sch.start_s, abs=tol)
    assert r.end_arrival_s == pytest.approx(sch.end_s, abs=tol)
    if sch.break_start_s is None:
        assert r.break_start_s is None
    else:
        assert r.break_start_s == pytest.approx(sch.break_start_s, abs=tol)
    if not sch.violations:
        assert all(x.late_s <= tol for x in r.visits) and r.break_late_s <= tol
    # time accounting: driving + service + waiting + break = duration
    brk = dur if r.break_start_s is not None else 0
    total = r.driving_s + r.service_s + r.wait_s + brk
    assert total == pytest.approx(r.duration_s, abs=1e-6)
