"""The dispatch tables and work queue (store/dispatch.py) on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from shipahead.store import Store, open_store
from shipahead.store import dispatch as db
from shipahead.store.migrate import current_heads, head_revisions

PROBLEM = {"jobs": [{"id": 1}], "vehicles": [{"id": 1}], "matrices": {}}


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'dispatch.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    opened = open_store(url)
    yield opened
    opened.close()


def _solved(store: Store, plan_id: str, owner: str = "a") -> db.Claim:
    """Claim and finish the first solve of ``plan_id`` (revision 1)."""
    claim = db.claim_next(store, owner, lease_s=30)
    assert claim is not None and claim.plan_id == plan_id
    assert db.finish_solve(
        store,
        claim,
        owner,
        output={"routes": [], "code": 0},
        state={"done": []},
        geometry={},
        changes=[],
        solve_s=0.1,
    )
    return claim


def test_migration_creates_the_dispatch_tables(store: Store) -> None:
    assert "dispatch_0001" in current_heads(store.engine)
    assert current_heads(store.engine) == head_revisions()
    names = set(sa.inspect(store.engine).get_table_names())
    assert {"dispatch_plans", "dispatch_events", "dispatch_revisions"} <= names


def test_plan_round_trip_and_delete(store: Store) -> None:
    first = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    second = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    plan = db.get_plan(store, first)
    assert plan is not None and plan.status == "queued" and plan.revision == 0
    assert [p.id for p in db.list_plans(store)] == [second, first]
    assert [p.id for p in db.list_plans(store, status="finished")] == []
    assert db.queue_depth(store) == 2
    _solved(store, first)
    db.add_events(store, first, [{"event_id": "e1", "type": "x"}], coalesce_s=0)
    assert db.delete_plan(store, first)
    assert db.get_plan(store, first) is None
    assert db.get_revision(store, first, 1) is None
    assert db.plan_events(store, first) == []
    assert not db.delete_plan(store, first)


def test_claim_solve_finish(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    claim = db.claim_next(store, "a", lease_s=30)
    assert claim is not None
    assert (claim.plan_id, claim.revision, claim.state, claim.events) == (plan_id, 1, None, [])
    assert claim.problem == PROBLEM
    assert db.claim_next(store, "b", lease_s=30) is None  # nothing else queued
    assert db.get_plan(store, plan_id).status == "solving"
    assert db.finish_solve(
        store, claim, "a", output={"code": 0}, state={"s": 1}, geometry={}, changes=[], solve_s=1
    )
    plan = db.get_plan(store, plan_id)
    assert (plan.status, plan.revision, plan.lease_owner) == ("finished", 1, None)
    revision = db.get_revision(store, plan_id, 1)
    assert revision is not None and revision.output == '{"code":0}'
    assert db.latest_revision(store, plan_id).n == 1


def test_events_are_idempotent_and_a_burst_is_one_replan(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    _solved(store, plan_id)
    e1 = {"event_id": "e1", "type": "stop_cancelled", "at": 10, "job_id": 1}
    assert db.add_events(store, plan_id, [e1], coalesce_s=0.4) == (2, 1)
    assert db.add_events(store, plan_id, [e1], coalesce_s=0.4) == (2, 0)  # repeat: ignored
    with pytest.raises(db.EventConflict, match=r"events\[0\]\.event_id: 'e1'"):
        db.add_events(store, plan_id, [{**e1, "at": 11}], coalesce_s=0.4)
    e2 = {"event_id": "e2", "type": "vehicle_delay", "at": 20, "vehicle_id": 1}
    e3 = {"event_id": "e3", "type": "vehicle_delay", "at": 30, "vehicle_id": 1}
    assert db.add_events(store, plan_id, [e2, e3, e2], coalesce_s=0.4) == (2, 2)
    assert db.claim_next(store, "a", lease_s=30) is None  # the burst is still coalescing
    time.sleep(0.5)
    claim = db.claim_next(store, "a", lease_s=30)
    assert claim is not None and claim.revision == 2
    assert claim.event_ids == ["e1", "e2", "e3"] and claim.state == {"done": []}
    assert db.count_events(store, plan_id) == 3


def test_events_posted_while_solving_join_the_next_revision(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    _solved(store, plan_id)
    db.add_events(store, plan_id, [{"event_id": "a", "type": "t"}], coalesce_s=0)
    claim = db.claim_next(store, "w", lease_s=30)
    assert claim is not None and claim.revision == 2
    assert db.add_events(store, plan_id, [{"event_id": "b", "type": "t"}], coalesce_s=0) == (3, 1)
    assert db.get_plan(store, plan_id).status == "solving"
    db.finish_solve(store, claim, "w", output={}, state={}, geometry={}, changes=[], solve_s=0)
    plan = db.get_plan(store, plan_id)
    assert (plan.status, plan.revision) == ("queued", 2)  # "b" still waits
    again = db.claim_next(store, "w", lease_s=30)
    assert again is not None and (again.revision, again.event_ids) == (3, ["b"])
    assert db.previous_revision(store, plan_id, 3).n == 2


def test_an_expired_lease_is_requeued_then_failed(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    tries = db.RESTART_FACTOR  # with max_attempts=1: a stopped server is retried this often
    for attempt in range(1, tries + 1):
        claim = db.claim_next(store, f"dead{attempt}", lease_s=0.01)
        assert claim is not None
        time.sleep(0.05)
        assert db.requeue_stale(store, max_attempts=1) == [plan_id]
        plan = db.get_plan(store, plan_id)
        expected = "queued" if attempt < tries else "failed"
        assert (plan.status, plan.attempts) == (expected, attempt)
        # the dead owner's late answer is not stored
        assert not db.finish_solve(
            store,
            claim,
            f"dead{attempt}",
            output={},
            state={},
            geometry={},
            changes=[],
            solve_s=0,
        )
    plan = db.get_plan(store, plan_id)
    assert "interrupted" in plan.error and f"gave up after {tries} attempts" in plan.error


def test_a_dead_solver_process_is_retried_max_attempts_times(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    for attempt in (1, 2):
        claim = db.claim_next(store, "a", lease_s=30)
        assert db.fail_solve(store, claim, "a", "solver died", retry=True, max_attempts=2)
        expected = "queued" if attempt == 1 else "failed"
        assert db.get_plan(store, plan_id).status == expected
    assert "gave up after 2 attempts" in db.get_plan(store, plan_id).error


def test_restart_requeues_everything_solving(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    assert db.claim_next(store, "killed", lease_s=3600) is not None
    assert db.requeue_stale(store, max_attempts=3) == []  # lease still valid
    assert db.requeue_stale(store, max_attempts=3, everything=True) == [plan_id]
    assert db.get_plan(store, plan_id).status == "queued"


def test_release_and_failures(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    claim = db.claim_next(store, "a", lease_s=30)
    assert db.release(store, "a") == 1
    plan = db.get_plan(store, plan_id)
    assert (plan.status, plan.attempts) == ("queued", 0)  # a clean stop does not count
    claim = db.claim_next(store, "a", lease_s=30)
    assert db.fail_solve(store, claim, "a", "jobs[0]: bad", retry=False, max_attempts=3)
    plan = db.get_plan(store, plan_id)
    assert (plan.status, plan.error) == ("failed", "jobs[0]: bad")


def test_a_failed_replan_keeps_the_last_revision(store: Store) -> None:
    plan_id = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    _solved(store, plan_id)
    db.add_events(store, plan_id, [{"event_id": "x", "type": "t"}], coalesce_s=0)
    claim = db.claim_next(store, "a", lease_s=30)
    assert db.fail_solve(store, claim, "a", "cannot", retry=False, max_attempts=3)
    plan = db.get_plan(store, plan_id)
    assert (plan.status, plan.revision, plan.error) == ("finished", 1, "cannot")
    assert db.claim_next(store, "a", lease_s=30) is None  # the failed events are not retried


def test_concurrent_claims_never_share_a_plan(store: Store) -> None:
    ids = {db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1) for _ in range(12)}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(owner: str) -> None:
        while True:
            claim = db.claim_next(store, owner, lease_s=30)
            if claim is None:
                if db.queue_depth(store) and any(
                    p.status == "queued" for p in db.list_plans(store)
                ):
                    continue
                return
            with lock:
                claimed.append(claim.plan_id)

    threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(claimed) == sorted(ids)  # each plan once


def test_replans_are_claimed_before_new_plans(store: Store) -> None:
    solved = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    _solved(store, solved)
    fresh = db.create_plan(store, PROBLEM, n_jobs=1, n_vehicles=1)
    db.add_events(store, solved, [{"event_id": "e", "type": "t"}], coalesce_s=0)
    assert db.claim_next(store, "a", lease_s=30).plan_id == solved
    assert db.claim_next(store, "a", lease_s=30).plan_id == fresh
