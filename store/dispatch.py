"""The dispatch service's tables and the durable work queue over them.

Three tables (Alembic branch ``dispatch``, migration ``dispatch_0001``):

- ``dispatch_plans``: one row per plan — the VROOM problem as posted (JSON text), its status
  (``queued`` → ``solving`` → ``finished`` | ``failed``), the latest finished revision, and the
  queue columns: ``open_revision`` (the revision new events join), ``not_before`` (a re-plan
  waits this long so a burst of events becomes one re-plan), and the lease of the API process
  solving it (``lease_owner``, ``lease_expires``, ``attempts``).
- ``dispatch_events``: every accepted event, unique per ``(plan_id, event_id)`` — a repeat is
  acknowledged and ignored — with the revision it joins.
- ``dispatch_revisions``: every finished solve or re-plan: VROOM output, the day state needed to
  re-plan (JSON), route geometry, what changed, the event ids it applied.

Every function here is one unit of work that commits before it returns, so what an API call
was told is stored. Work is claimed by a compare-and-set on the plan row (``UPDATE … WHERE
status = 'queued'``); on PostgreSQL the candidate is picked with ``SELECT … FOR UPDATE SKIP
LOCKED`` so several API processes sharing one database never take the same plan. A lease that
is not renewed (its process was killed) expires and the plan is queued again, up to
``max_attempts`` times when its solver process died (``RESTART_FACTOR`` times as many when the
whole server stopped: that is rarely the plan's fault), then failed with the reason — never
left "solving".

All times are Unix epoch seconds (float). Nothing is pickled: every value is JSON text.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from shipahead.store.engine import Store
from shipahead.store.schema import Base
from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, Session, defer, mapped_column

__all__ = [
    "STATUSES",
    "Claim",
    "DispatchEvent",
    "DispatchPlan",
    "DispatchRevision",
    "EventConflict",
    "add_events",
    "claim_next",
    "count_events",
    "create_plan",
    "delete_plan",
    "dumps",
    "event_rows",
    "fail_solve",
    "finish_solve",
    "get_plan",
    "get_revision",
    "known_event_ids",
    "latest_revision",
    "list_plans",
    "plan_events",
    "previous_revision",
    "queue_depth",
    "release",
    "renew_leases",
    "requeue_stale",
    "revision_output",
]

#: The statuses a plan can have (``GET /v1/plans/{id}``).
STATUSES = ("queued", "solving", "finished", "failed")


def dumps(value: Any) -> str:
    """Compact JSON text (NaN and infinities refused: they are not JSON)."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


class DispatchPlan(Base):
    """One posted problem and its place in the work queue."""

    __tablename__ = "dispatch_plans"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    problem: Mapped[str] = mapped_column(Text)
    n_jobs: Mapped[int] = mapped_column(sa.Integer, default=0)
    n_vehicles: Mapped[int] = mapped_column(sa.Integer, default=0)
    created_at: Mapped[float] = mapped_column(sa.Float)
    updated_at: Mapped[float] = mapped_column(sa.Float)
    #: latest finished revision (0: none yet)
    revision: Mapped[int] = mapped_column(sa.Integer, default=0)
    #: the revision that events accepted now will be part of
    open_revision: Mapped[int] = mapped_column(sa.Integer, default=1)
    #: the revision being solved under the current lease
    solving_revision: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    #: not claimed before this time (events coalesce meanwhile)
    not_before: Mapped[float] = mapped_column(sa.Float, default=0.0)
    lease_owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lease_expires: Mapped[float | None] = mapped_column(sa.Float, nullable=True)
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_dispatch_plans_status_not_before", "status", "not_before"),)


class DispatchEvent(Base):
    """One accepted event (unique per plan and ``event_id``)."""

    __tablename__ = "dispatch_events"

    seq: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("dispatch_plans.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    #: the revision this event is (or will be) applied in
    revision: Mapped[int] = mapped_column(sa.Integer)
    received_at: Mapped[float] = mapped_column(sa.Float)

    __table_args__ = (UniqueConstraint("plan_id", "event_id"),)


class DispatchRevision(Base):
    """One finished solve (revision 1) or re-plan (2, 3, …) of a plan."""

    __tablename__ = "dispatch_revisions"

    plan_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("dispatch_plans.id", ondelete="CASCADE"), primary_key=True
    )
    n: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    created_at: Mapped[float] = mapped_column(sa.Float)
    output: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(Text)
    geometry: Mapped[str] = mapped_column(Text)
    changes: Mapped[str] = mapped_column(Text)
    events: Mapped[str] = mapped_column(Text)
    solve_s: Mapped[float] = mapped_column(sa.Float)


class EventConflict(ValueError):
    """An ``event_id`` was accepted before with a different body (the message names it)."""


@dataclass(frozen=True)
class Claim:
    """A plan claimed for solving by one API process."""

    plan_id: str
    revision: int  # the revision this solve will write
    problem: dict[str, Any]
    state: dict[str, Any] | None  # day state of the previous revision (None: first solve)
    events: list[dict[str, Any]]  # events to apply (empty: first solve)
    event_ids: list[str]


def _now() -> float:
    return time.time()


# --- plans -----------------------------------------------------------------------------------


def create_plan(store: Store, problem: dict[str, Any], *, n_jobs: int, n_vehicles: int) -> str:
    """Store a new queued plan; returns its id (committed when this returns)."""
    plan_id = uuid.uuid4().hex
    now = _now()
    with store.session() as session:
        session.add(
            DispatchPlan(
                id=plan_id,
                status="queued",
                problem=dumps(problem),
                n_jobs=n_jobs,
                n_vehicles=n_vehicles,
                created_at=now,
                updated_at=now,
                revision=0,
                open_revision=1,
                not_before=0.0,
                attempts=0,
            )
        )
    return plan_id


def get_plan(store: Store, plan_id: str) -> DispatchPlan | None:
    """The plan row (detached), or None."""
    with store.session() as session:
        return session.get(DispatchPlan, plan_id)


def list_plans(
    store: Store, *, status: str | None = None, limit: int = 100, offset: int = 0
) -> list[DispatchPlan]:
    """Plans, newest first (detached rows without their problem text)."""
    with store.session() as session:
        query = (
            select(DispatchPlan)
            .options(defer(DispatchPlan.problem))
            .order_by(DispatchPlan.created_at.desc(), DispatchPlan.id.desc())
        )
        if status is not None:
            query = query.where(DispatchPlan.status == status)
        return list(session.scalars(query.limit(limit).offset(offset)))


def queue_depth(store: Store) -> int:
    """How many plans wait for a solver (``queued``) or are being solved."""
    with store.session() as session:
        return int(
            session.scalar(
                select(sa.func.count())
                .select_from(DispatchPlan)
                .where(DispatchPlan.status.in_(("queued", "solving")))
            )
            or 0
        )


def delete_plan(store: Store, plan_id: str) -> bool:
    """Delete a plan with its events and revisions; False when there is no such plan."""
    with store.session() as session:
        # children first: SQLite enforces ON DELETE CASCADE only with foreign keys on, and a
        # store opened by another tool might not have them
        session.execute(sa.delete(DispatchEvent).where(DispatchEvent.plan_id == plan_id))
        session.execute(sa.delete(DispatchRevision).where(DispatchRevision.plan_id == plan_id))
        result = session.execute(sa.delete(DispatchPlan).where(DispatchPlan.id == plan_id))
        return bool(result.rowcount)


# --- events ----------------------------------------------------------------------------------


def _lock_plan(session: Session, plan_id: str) -> DispatchPlan | None:
    """Take the plan row's write lock (a touch), then read it; None when it does not exist.

    The UPDATE takes SQLite's database write lock or PostgreSQL's row lock before anything
    is read, so an events post and a claim of the same plan are serialised.
    """
    touched = session.execute(
        update(DispatchPlan).where(DispatchPlan.id == plan_id).values(updated_at=_now())
    )
    if not touched.rowcount:
        return None
    session.expire_all()
    return session.get(DispatchPlan, plan_id)


def plan_events(
    store: Store, plan_id: str, *, after_revision: int | None = None
) -> list[dict[str, Any]]:
    """Event bodies of a plan in arrival order (optionally only those after a revision)."""
    with store.session() as session:
        query = select(DispatchEvent.body).where(DispatchEvent.plan_id == plan_id)
        if after_revision is not None:
            query = query.where(DispatchEvent.revision > after_revision)
        return [json.loads(body) for body in session.scalars(query.order_by(DispatchEvent.seq))]


def event_rows(store: Store, plan_id: str) -> list[DispatchEvent]:
    """A plan's event rows (detached) in arrival order."""
    with store.session() as session:
        return list(
            session.scalars(
                select(DispatchEvent)
                .where(DispatchEvent.plan_id == plan_id)
                .order_by(DispatchEvent.seq)
            )
        )


def known_event_ids(store: Store, plan_id: str, event_ids: list[str]) -> set[str]:
    """Which of ``event_ids`` the plan has accepted before."""
    if not event_ids:
        return set()
    with store.session() as session:
        return set(
            session.scalars(
                select(DispatchEvent.event_id).where(
                    DispatchEvent.plan_id == plan_id, DispatchEvent.event_id.in_(event_ids)
                )
            )
        )


def count_events(store: Store, plan_id: str) -> int:
    """How many events a plan has accepted."""
    with store.session() as session:
        return int(
            session.scalar(
                select(sa.func.count())
                .select_from(DispatchEvent)
                .where(DispatchEvent.plan_id == plan_id)
            )
            or 0
        )


def add_events(
    store: Store, plan_id: str, events: list[dict[str, Any]], *, coalesce_s: float
) -> tuple[int, int] | None:
    """Store new events of a plan; returns ``(revision they join, how many were new)``.

    An event whose ``event_id`` was accepted before with the same body is ignored (idempotent
    retries); with a different body it raises :class:`EventConflict`. New events queue the
    plan for a re-plan no sooner than ``coalesce_s`` seconds after the first event of a burst.
    Returns None when the plan does not exist. Callers validate events first.
    """
    with store.session() as session:
        plan = _lock_plan(session, plan_id)
        if plan is None:
            return None
        ids = [str(e["event_id"]) for e in events]
        known = {
            row.event_id: row
            for row in session.scalars(
                select(DispatchEvent).where(
                    DispatchEvent.plan_id == plan_id, DispatchEvent.event_id.in_(ids)
                )
            )
        }
        fresh: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        repeat_revision = 0
        for i, event in enumerate(events):
            event_id = str(event["event_id"])
            body = dumps(event)
            if event_id in known:
                if json.loads(known[event_id].body) != event:
                    raise EventConflict(
                        f"events[{i}].event_id: {event_id!r} was accepted before with different "
                        "fields; send a new event_id for a new event"
                    )
                repeat_revision = max(repeat_revision, known[event_id].revision)
                continue
            if event_id in seen:
                if seen[event_id] != body:
                    raise EventConflict(
                        f"events[{i}].event_id: {event_id!r} appears twice in this request with "
                        "different fields; give each event its own event_id"
                    )
                continue
            seen[event_id] = body
            fresh.append(event)
        if not fresh:
            return (repeat_revision or plan.open_revision), 0
        now = _now()
        for event in fresh:
            session.add(
                DispatchEvent(
                    plan_id=plan_id,
                    event_id=str(event["event_id"]),
                    type=str(event.get("type", "")),
                    body=dumps(event),
                    revision=plan.open_revision,
                    received_at=now,
                )
            )
        if plan.status == "finished":
            plan.status = "queued"
            plan.not_before = now + coalesce_s
            plan.attempts = 0
        return plan.open_revision, len(fresh)


# --- the work queue --------------------------------------------------------------------------


def claim_next(store: Store, owner: str, *, lease_s: float) -> Claim | None:
    """Claim the next queued plan for ``owner`` (a lease of ``lease_s`` seconds).

    Re-plans of plans already solved go first, then plans in the order their work became due.

    Returns what the solver needs, or None when nothing is claimable now.
    """
    now = _now()
    with store.session() as session:
        candidate = (
            select(DispatchPlan.id)
            .where(DispatchPlan.status == "queued", DispatchPlan.not_before <= now)
            # re-plans first (drivers are on the road), then by when the work became due
            .order_by(
                sa.case((DispatchPlan.revision > 0, 0), else_=1),
                DispatchPlan.not_before,
                DispatchPlan.created_at,
                DispatchPlan.id,
            )
            .limit(1)
        )
        if store.backend == "postgresql":
            candidate = candidate.with_for_update(skip_locked=True)
        plan_id = session.scalar(candidate)
        if plan_id is None:
            return None
        took = session.execute(
            update(DispatchPlan)
            .where(DispatchPlan.id == plan_id, DispatchPlan.status == "queued")
            .values(
                status="solving",
                lease_owner=owner,
                lease_expires=now + lease_s,
                updated_at=now,
                attempts=DispatchPlan.attempts + 1,
            )
        )
        if not took.rowcount:
            return None  # another process took it between the pick and the update
        session.expire_all()
        plan = session.get(DispatchPlan, plan_id)
        assert plan is not None
        target = plan.revision + 1
        rows = list(
            session.scalars(
                select(DispatchEvent)
                .where(DispatchEvent.plan_id == plan_id, DispatchEvent.revision > plan.revision)
                .order_by(DispatchEvent.seq)
            )
        )
        for row in rows:  # every waiting event (also those of an interrupted attempt)
            row.revision = target
        plan.solving_revision = target
        plan.open_revision = target + 1
        state = None
        if plan.revision:
            previous = session.get(DispatchRevision, (plan_id, plan.revision))
            state = None if previous is None else json.loads(previous.state)
        return Claim(
            plan_id=plan_id,
            revision=target,
            problem=json.loads(plan.problem),
            state=state,
            events=[json.loads(r.body) for r in rows],
            event_ids=[r.event_id for r in rows],
        )


def renew_leases(store: Store, owner: str, plan_ids: list[str], *, lease_s: float) -> None:
    """Extend ``owner``'s leases on ``plan_ids`` by ``lease_s`` seconds from now."""
    if not plan_ids:
        return
    with store.session() as session:
        session.execute(
            update(DispatchPlan)
            .where(
                DispatchPlan.id.in_(plan_ids),
                DispatchPlan.lease_owner == owner,
                DispatchPlan.status == "solving",
            )
            .values(lease_expires=_now() + lease_s)
        )


def _owned(session: Session, claim: Claim, owner: str) -> DispatchPlan | None:
    plan = _lock_plan(session, claim.plan_id)
    if plan is None or plan.status != "solving" or plan.lease_owner != owner:
        return None  # deleted, or the lease expired and another process took the plan
    if plan.solving_revision != claim.revision:
        return None
    return plan


def _after_solve(session: Session, plan: DispatchPlan, now: float) -> None:
    """Queue the plan again if events arrived while it was being solved, else settle it."""
    waiting = session.scalar(
        select(sa.func.count())
        .select_from(DispatchEvent)
        .where(DispatchEvent.plan_id == plan.id, DispatchEvent.revision > plan.revision)
    )
    plan.lease_owner = None
    plan.lease_expires = None
    plan.solving_revision = None
    plan.updated_at = now
    if waiting:
        plan.status = "queued"
        plan.not_before = now
        plan.attempts = 0
    else:
        plan.status = "finished"


def finish_solve(
    store: Store,
    claim: Claim,
    owner: str,
    *,
    output: dict[str, Any],
    state: dict[str, Any],
    geometry: dict[str, Any],
    changes: list[dict[str, Any]],
    solve_s: float,
) -> bool:
    """Store the revision a solve produced; False when the claim was lost (nothing written)."""
    now = _now()
    with store.session() as session:
        plan = _owned(session, claim, owner)
        if plan is None:
            return False
        session.add(
            DispatchRevision(
                plan_id=claim.plan_id,
                n=claim.revision,
                created_at=now,
                output=dumps(output),
                state=dumps(state),
                geometry=dumps(geometry),
                changes=dumps(changes),
                events=dumps(claim.event_ids),
                solve_s=round(solve_s, 3),
            )
        )
        plan.revision = claim.revision
        plan.error = None
        _after_solve(session, plan, now)
        return True


def fail_solve(
    store: Store, claim: Claim, owner: str, reason: str, *, retry: bool, max_attempts: int
) -> bool:
    """Record a failed solve.

    ``retry``: the solver process died (not the problem's fault) — queue again unless the plan
    has used ``max_attempts``. Otherwise the problem or its events cannot be solved: a first
    solve marks the plan failed with ``reason``; a failed re-plan drops its events' revision
    (the events stay stored) and keeps the last good revision, with ``error`` saying why.
    """
    now = _now()
    with store.session() as session:
        plan = _owned(session, claim, owner)
        if plan is None:
            return False
        plan.error = reason
        if retry and plan.attempts < max_attempts:
            plan.status = "queued"
            plan.lease_owner = None
            plan.lease_expires = None
            plan.solving_revision = None
            plan.open_revision = plan.revision + 1
            plan.updated_at = now
            plan.not_before = now
            return True
        if retry:
            plan.error = f"{reason} (gave up after {plan.attempts} attempts)"
        if plan.revision == 0:
            plan.status = "failed"
            plan.lease_owner = None
            plan.lease_expires = None
            plan.solving_revision = None
            plan.updated_at = now
            return True
        # a re-plan that cannot be done: its events are marked as not applied (revision -1)
        session.execute(
            update(DispatchEvent)
            .where(
                DispatchEvent.plan_id == plan.id,
                DispatchEvent.revision == claim.revision,
            )
            .values(revision=-claim.revision)
        )
        plan.open_revision = plan.revision + 1
        _after_solve(session, plan, now)
        plan.error = reason
        return True


def release(store: Store, owner: str, plan_ids: list[str] | None = None) -> int:
    """Put ``owner``'s solving plans back in the queue (a clean shutdown); returns how many."""
    with store.session() as session:
        query = update(DispatchPlan).where(
            DispatchPlan.status == "solving", DispatchPlan.lease_owner == owner
        )
        if plan_ids is not None:
            query = query.where(DispatchPlan.id.in_(plan_ids))
        result = session.execute(
            query.values(
                status="queued",
                lease_owner=None,
                lease_expires=None,
                solving_revision=None,
                open_revision=DispatchPlan.revision + 1,
                attempts=sa.case((DispatchPlan.attempts > 0, DispatchPlan.attempts - 1), else_=0),
                not_before=0.0,
                updated_at=_now(),
            )
        )
        return int(result.rowcount or 0)


#: a solve interrupted by its server stopping (kill -9, a lease that expired) is retried this
#: many times as often as one whose solver process died under a running server
RESTART_FACTOR = 3


def requeue_stale(store: Store, *, max_attempts: int, everything: bool = False) -> list[str]:
    """Queue again the plans whose solver lease expired (their process died).

    ``everything``: every solving plan, lease or not (a single-process SQLite store at start,
    where no other process can hold a lease). A plan that has used ``max_attempts`` ×
    :data:`RESTART_FACTOR` attempts is failed
    with the reason. Returns the ids of the plans touched.
    """
    now = _now()
    touched: list[str] = []
    with store.session() as session:
        query = select(DispatchPlan).where(DispatchPlan.status == "solving")
        if not everything:
            query = query.where(DispatchPlan.lease_expires < now)
        if store.backend == "postgresql":
            query = query.with_for_update(skip_locked=True)
        for plan in session.scalars(query):
            touched.append(plan.id)
            reason = (
                f"the solve of revision {plan.solving_revision} was interrupted (its server "
                "process stopped or stopped renewing its lease)"
            )
            plan.lease_owner = None
            plan.lease_expires = None
            plan.solving_revision = None
            plan.open_revision = plan.revision + 1
            plan.updated_at = now
            if plan.attempts < max_attempts * RESTART_FACTOR:
                plan.status = "queued"
                plan.not_before = 0.0
                continue
            plan.error = f"{reason}; gave up after {plan.attempts} attempts"
            if plan.revision == 0:
                plan.status = "failed"
            else:
                session.execute(
                    update(DispatchEvent)
                    .where(DispatchEvent.plan_id == plan.id, DispatchEvent.revision > plan.revision)
                    .values(revision=-(plan.revision + 1))
                )
                plan.status = "finished"
    return touched


# --- revisions -------------------------------------------------------------------------------


def get_revision(store: Store, plan_id: str, n: int) -> DispatchRevision | None:
    """Revision ``n`` of a plan (detached), or None."""
    with store.session() as session:
        return session.get(DispatchRevision, (plan_id, n))


def revision_output(store: Store, plan_id: str, n: int) -> str | None:
    """The VROOM output of revision ``n`` as stored (JSON text), or None."""
    with store.session() as session:
        return session.scalar(
            select(DispatchRevision.output).where(
                DispatchRevision.plan_id == plan_id, DispatchRevision.n == n
            )
        )


def previous_revision(store: Store, plan_id: str, n: int) -> DispatchRevision | None:
    """The revision before ``n`` (the highest number below it), or None."""
    with store.session() as session:
        return session.scalar(
            select(DispatchRevision)
            .where(DispatchRevision.plan_id == plan_id, DispatchRevision.n < n)
            .order_by(DispatchRevision.n.desc())
            .limit(1)
        )


def latest_revision(store: Store, plan_id: str) -> DispatchRevision | None:
    """The plan's latest finished revision, or None."""
    with store.session() as session:
        plan = session.get(DispatchPlan, plan_id)
        if plan is None or not plan.revision:
            return None
        return session.get(DispatchRevision, (plan_id, plan.revision))
