"""The independent checker catches every kind of violation; reasons for drops."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from shipahead.routing.check import check_solution, evaluate, explain_unassigned, route_schedule
from shipahead.routing.problem import Break, RoutingProblem, Solution, Vehicle

H = 3600


def _problem(**kw) -> RoutingProblem:
    # depot 0; stops 1..3 on a line 1 km apart; 100 s per km
    n = 4
    x = np.arange(n) * 1000
    dist = np.abs(x[:, None] - x[None, :]).astype(np.int64)
    base = dict(
        node_ids=("depot", "a", "b", "c"),
        stops=(1, 2, 3),
        distance_m=dist,
        duration_s=dist // 10,
        demand=np.array([[0], [3], [3], [3]]),
        tw_s=np.tile(np.array([0, 24 * H]), (n, 1)),
        service_s=np.array([0, 60, 60, 60]),
        vehicles=(Vehicle("v0", 0, 0, (10,), 8 * H, 17 * H),),
        drop_penalty=np.full(n, 100.0),
    )
    base.update(kw)
    return RoutingProblem(**base)


def _sol(routes, unassigned=(), reasons=None) -> Solution:
    return Solution(tuple(routes), tuple(unassigned), reasons or {}, 0.0, 0, "test", "test")


def test_valid_plan_passes_and_schedule_is_exact():
    p = _problem()
    assert check_solution(p, _sol([(1, 2, 3)])) == []
    s = route_schedule(p, 0, (1, 2, 3))
    # no windows: the route can leave at the latest departure that still ends by 17:00
    assert s.end_s == 17 * H
    assert s.duration_s == 3 * 100 + 3 * 60 + 300
    assert list(np.diff(s.arrival_s)) == [160, 160]


def test_capacity_duplicates_missing_and_reasons():
    p = _problem()
    errs = check_solution(p, _sol([(1, 2, 3, 1)]))
    assert any("visited 2 times" in e for e in errs)
    assert any("load 12 > capacity 10" in e for e in errs)
    errs = check_solution(p, _sol([(1, 2)]))
    assert any("neither served nor unassigned" in e for e in errs)
    errs = check_solution(p, _sol([(1, 2)], unassigned=(3,)))
    assert any("has no reason" in e for e in errs)
    must = replace(p, drop_penalty=None)
    errs = check_solution(must, _sol([(1, 2)], unassigned=(3,), reasons={3: "x"}))
    assert any("must be served" in e for e in errs)
    assert check_solution(p, _sol([(1, 2)], unassigned=(3,), reasons={3: "x"})) == []
    assert "2 routes for 1 vehicles" in check_solution(p, _sol([(1,), (2, 3)]))[0]


def test_windows_shift_max_duration_and_pins():
    tw = np.tile(np.array([0, 24 * H]), (4, 1))
    tw[3] = (8 * H, 8 * H + 400)  # c must be served by 08:06:40
    p = _problem(tw_s=tw)
    assert check_solution(p, _sol([(3, 1, 2)])) == []  # 300 s drive: ok
    # via a and b: 3 x 100 s driving + 2 x 60 s service = 420 s: too late
    errs = check_solution(p, _sol([(1, 2, 3)]))
    assert any("after its window end" in e and "'c'" in e for e in errs)
    short = _problem(vehicles=(Vehicle("v0", 0, 0, (10,), 8 * H, 8 * H + 600),))
    assert any("after its shift end" in e for e in check_solution(short, _sol([(1, 2, 3)])))
    md = _problem(vehicles=(Vehicle("v0", 0, 0, (10,), 8 * H, 17 * H, max_duration_s=600),))
    assert any("over its maximum" in e for e in check_solution(md, _sol([(1, 2, 3)])))
    pinned = _problem(pinned={"v0": (2,)})
    assert any("pinned" in e for e in check_solution(pinned, _sol([(1, 2, 3)])))
    assert check_solution(pinned, _sol([(2, 1, 3)])) == []


def test_break_placement_is_searched():
    # service 1 h at each stop; break 30 min must start in [09:00, 09:10]
    brk = Break(9 * H, 9 * H + 600, 1800)
    v = Vehicle("v0", 0, 0, (10,), 8 * H, 8 * H + 4 * H, break_=brk)
    p = _problem(vehicles=(v,), service_s=np.array([0, H, H, H]))
    tw = p.tw_s.copy()
    tw[:, 0] = 0
    # 3 h of service + 600 s driving + the break fill the 4 h shift: the break must be
    # taken during the route, after stop a
    s = route_schedule(p, 0, (1, 2, 3))
    assert s.violations == ()
    assert 9 * H <= s.break_start_s <= 9 * H + 600
    assert s.start_s[0] < s.break_start_s < s.start_s[1]
    # a shift too short for 3 h of service + the break + driving
    tight = replace(v, shift_end_s=8 * H + 3 * H + 1800)
    assert check_solution(replace(p, vehicles=(tight,)), _sol([(1, 2, 3)]))


def test_explain_unassigned_reasons():
    tw = np.tile(np.array([0, 24 * H]), (5, 1))
    tw[2] = (0, 7 * H)  # closes before the shift starts
    x = np.array([0, 1000, 2000, 3000, 4000])
    dist = np.abs(x[:, None] - x[None, :]).astype(np.int64)
    p = RoutingProblem(
        node_ids=("depot", "big", "early", "long", "ok"),
        stops=(1, 2, 3, 4),
        distance_m=dist,
        duration_s=dist // 10,
        demand=np.array([[0], [50], [1], [1], [1]]),
        tw_s=tw,
        service_s=np.array([0, 0, 0, 10 * H, 0]),
        vehicles=(Vehicle("v0", 0, 0, (10,), 8 * H, 17 * H),),
        drop_penalty=np.full(5, 1.0),
    )
    r = explain_unassigned(p, [1, 2, 3, 4])
    assert r[1].startswith("capacity") and "50" in r[1] and "10" in r[1]
    assert r[2].startswith("window unreachable") and "07:00" in r[2]
    assert r[3].startswith("shift")
    assert r[4].startswith("penalty cheaper")
    # with a plan that fills the vehicle, the free stop's reason is capacity left
    full = replace(p, demand=np.array([[0], [50], [1], [1], [10]]))
    r = explain_unassigned(full, [4], solution=_sol([(3,)]))
    assert r[4].startswith("no capacity left")


def test_evaluate_objectives():
    p = _problem(
        vehicles=(
            Vehicle(
                "v0",
                0,
                0,
                (10,),
                8 * H,
                17 * H,
                fixed_cost=10.0,
                cost_per_km=2.0,
                cost_per_hour=36.0,
            ),
        )
    )
    ev = evaluate(p, ((1, 2, 3),))
    # 6 km there and back, 600 s drive + 180 s service = 780 s: 10 + 12 + 36 * 780 / 3600
    assert ev["objective"] == 10 + 12 + 36 * 780 / 3600
    ev = evaluate(p, ((1, 2),))
    assert ev["unassigned"] == (3,)
    assert ev["objective"] == 10 + 8 + 36 * 520 / 3600 + 100
    d = replace(p, objective="distance")
    assert evaluate(d, ((1, 2, 3),))["objective"] == 6000
    h = replace(p, objective="hierarchical")
    assert evaluate(h, ((1, 2, 3),))["key"][1] == 1


def test_break_on_a_leg_starts_when_due_wherever_the_vehicle_is():
    # depot -> a (100 s) -> b (100 s) -> depot (200 s), service 60 s, break 1800 s; a is
    # served at 08:01:40 sharp, so the vehicle leaves the depot at 08:00 and a at 08:02:40
    tw = np.tile(np.array([0, 24 * H]), (4, 1))
    tw[1] = (8 * H + 100, 8 * H + 100)
    base = _problem(tw_s=tw)
    leave_a = 8 * H + 100 + 60

    def sched(e, l_, tw_b_end=24 * H):
        v = replace(base.vehicles[0], break_=Break(e, l_, 1800))
        tw2 = tw.copy()
        tw2[2, 1] = tw_b_end
        return route_schedule(replace(base, vehicles=(v,), tw_s=tw2), 0, (1, 2))

    # due during the service at a: taken at a when it ends, then the whole leg
    s = sched(8 * H + 120, leave_a + 10)
    assert s.violations == () and s.break_gap == 1 and s.break_start_s == leave_a
    assert s.arrival_s[1] == s.start_s[1] == leave_a + 1800 + 100
    # due 40 s after leaving a and over by then: on the road; b is reached leg + break later
    s = sched(leave_a + 40, leave_a + 40)
    assert s.violations == () and s.break_gap == 1 and s.break_start_s == leave_a + 40
    assert s.arrival_s[1] == s.start_s[1] == leave_a + 100 + 1800
    # the same with b's window closing one second earlier: no placement works
    s = sched(leave_a + 40, leave_a + 40, tw_b_end=leave_a + 100 + 1800 - 1)
    assert any("after its window end" in v or "break starts" in v for v in s.violations)
    # due on the way back (b left at leave_a + 160, 200 s drive): on the road again
    s = sched(leave_a + 300, leave_a + 300)
    assert s.violations == () and s.break_gap == 2 and s.break_start_s == leave_a + 300
    assert s.end_s == leave_a + 160 + 200 + 1800
    # due once the vehicle is back (leave_a + 360): no break needed on this route
    assert sched(leave_a + 400, leave_a + 400).break_gap is None


def test_departing_after_the_break_needs_no_break():
    # a route that cannot hold the break (window closes at a) but can leave after it
    tw = np.tile(np.array([0, 24 * H]), (4, 1))
    tw[1] = (10 * H, 10 * H + 60)
    v = Vehicle("v0", 0, 0, (10,), 8 * H, 17 * H, break_=Break(8 * H, 8 * H, 3600))
    p = _problem(tw_s=tw, vehicles=(v,))
    s = route_schedule(p, 0, (1,))
    assert s.violations == () and s.break_gap is None and s.break_start_s is None
    assert s.departure_s >= 9 * H
