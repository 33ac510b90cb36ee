"""``/v1/plans/{id}/events``: accept events (checked against the plan, stored before the
answer, repeats acknowledged) and list the accepted ones."""

from __future__ import annotations

import json
import re
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from shipahead.service.http import json_body, json_body_doc, located, problem, shown
from shipahead.service.runtime import Runtime, RuntimeDep, api_router, plan_or_404
from shipahead.store import dispatch as db
from starlette.concurrency import run_in_threadpool

__all__ = ["EVENTS_BODY", "check_events", "router"]

router = api_router()

EVENTS_BODY = json_body_doc(
    "A list of events: each with event_id, type (stop_arrived, stop_done, stop_added, "
    "stop_cancelled, vehicle_position, vehicle_delay, vehicle_down, incident), at (s), job_id "
    "or vehicle_id, and the fields of its type.",
    {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["event_id", "type", "at"],
            "properties": {
                "event_id": {"type": "string"},
                "type": {"type": "string"},
                "at": {"type": "number"},
                "job_id": {},
                "vehicle_id": {},
            },
        },
    },
)


def _event_list(runtime: Runtime, events: Any) -> list[dict[str, Any]]:
    """The request's events as a list of objects with ids (their types are checked later)."""
    limits = runtime.settings.limits
    if isinstance(events, dict) and isinstance(events.get("events"), list):
        events = events["events"]
    if not isinstance(events, list):
        raise problem(422, "request body: expected a JSON list of events")
    if not events:
        raise problem(422, "request body: the list of events is empty")
    if len(events) > limits.request_events:
        raise problem(
            422,
            f"request body: {len(events):,} events is above the limit of "
            f"{limits.request_events:,} per request; send them in smaller batches (or "
            "raise SHIPAHEAD_MAX_REQUEST_EVENTS)",
        )
    for i, event in enumerate(events):
        if not isinstance(event, dict):
            raise problem(422, f"events[{i}]: expected a JSON object")
        event_id = event.get("event_id")
        if not isinstance(event_id, str | int) or isinstance(event_id, bool):
            raise problem(422, f"events[{i}].event_id: missing; give every event an id")
        if not str(event_id).strip() or len(str(event_id)) > 200:
            raise problem(422, f"events[{i}].event_id: must be 1 to 200 characters, not blank")
    return events


def _fresh(
    runtime: Runtime, plan: db.DispatchPlan, events: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The events not accepted before (a repeat within the request counts once)."""
    # a repeat of an accepted event is acknowledged, not checked again (its stop may be
    # done or cancelled by now); a repeat with other fields is refused by the store
    known = db.known_event_ids(runtime.db, plan.id, [str(e["event_id"]) for e in events])
    fresh: list[dict[str, Any]] = []
    first: dict[str, int] = {}
    for i, event in enumerate(events):
        event_id = str(event["event_id"])
        if event_id in known:
            continue
        if event_id in first:  # the same event twice in one request counts once
            if events[first[event_id]] != event:
                raise problem(
                    409,
                    f"events[{i}].event_id: {event_id!r} appears twice in this request "
                    "with different fields; give each event its own event_id",
                )
            continue
        first[event_id] = i
        fresh.append(event)
    return fresh


def check_events(runtime: Runtime, plan: db.DispatchPlan, body: Any) -> list[dict[str, Any]]:
    """The request's events, checked against the plan's latest state before any is stored."""
    from shipahead.routing.vroom import parse_events, parse_vroom

    from shipahead import routing

    events = _event_list(runtime, body)
    if plan.status == "failed" or not plan.revision:
        raise problem(
            409,
            f"plan_id: plan {plan.id} has no solution to re-plan yet (status {plan.status})"
            "; post events once it has finished",
        )
    latest = db.get_revision(runtime.db, plan.id, plan.revision)
    assert latest is not None
    pending = db.plan_events(runtime.db, plan.id, after_revision=plan.revision)
    parsed = parse_vroom(json.loads(plan.problem))
    state = json.loads(latest.state)
    fresh = _fresh(runtime, plan, events)
    if not fresh:
        return events
    try:
        parse_events(parsed, state, [*pending, *fresh])
    except routing.InputError as exc:
        raise problem(422, _renumber(located(exc), len(pending), fresh, events)) from None
    return events


def _renumber(message: str, offset: int, fresh: list[dict], events: list[dict]) -> str:
    """Map ``events[k]`` in a message about pending + fresh events to this request's index."""

    def fix(match: re.Match[str]) -> str:
        k = int(match.group(1))
        if k < offset:  # an event accepted earlier, not yet applied
            return f"accepted event {k + 1} of {offset} waiting for the re-plan"
        event = fresh[k - offset]
        return f"events[{events.index(event)}]"

    return re.sub(r"events\[(\d+)\]", fix, message)


def _accept(runtime: Runtime, plan_id: str, body: Any) -> tuple[int, int, int]:
    """Check and store the events: (revision they join, newly accepted, in the request)."""
    settings = runtime.settings
    most = settings.limits.plan_events
    plan = plan_or_404(runtime, plan_id)
    events = check_events(runtime, plan, body)
    total = db.count_events(runtime.db, plan.id)
    if total + len(events) > most:
        raise problem(
            422,
            f"events: plan {plan.id} would have more than {most:,} events; "
            "post a new plan (or raise SHIPAHEAD_MAX_PLAN_EVENTS)",
        )
    try:
        added = db.add_events(runtime.db, plan.id, events, coalesce_s=settings.coalesce_s)
    except db.EventConflict as exc:
        raise problem(409, str(exc)) from None
    if added is None:
        raise problem(404, f"plan_id: no plan {shown(plan_id)}")
    return added[0], added[1], len(events)


@router.post(
    "/v1/plans/{plan_id}/events", status_code=202, tags=["events"], openapi_extra=EVENTS_BODY
)
async def post_events(plan_id: str, request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Accept events (a list): stored before the answer; 202 ``{revision}`` they join.

    A repeated ``event_id`` is acknowledged and ignored; a burst of events becomes one
    re-plan (the plan waits ``coalesce`` seconds after the burst's first event).
    """
    body = json_body(await request.body())
    revision, new, total = await run_in_threadpool(_accept, runtime, plan_id, body)
    if new:
        runtime.dispatcher.wake(runtime.settings.coalesce_s + 0.01)
    return JSONResponse(
        status_code=202,
        content={"revision": revision, "accepted": new, "ignored": total - new},
    )


@router.get("/v1/plans/{plan_id}/events", tags=["events"])
def get_events(plan_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """Every accepted event of the plan in arrival order, with the revision it is in
    (``applied``: that revision has finished; a negative revision: its re-plan failed).
    """
    plan = plan_or_404(runtime, plan_id)
    rows = db.event_rows(runtime.db, plan.id)
    return {
        "plan_id": plan.id,
        "events": [
            {
                "event": json.loads(r.body),
                "revision": r.revision,
                "applied": 0 < r.revision <= plan.revision,
                "received_at": r.received_at,
            }
            for r in rows
        ],
    }
