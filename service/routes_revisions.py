"""``/v1/plans/{id}/revisions/{n}`` (what changed per vehicle) and ``/v1/plans/{id}/stream``
(server-sent events when the plan's status changes or a revision lands)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import StreamingResponse
from shipahead.service.http import problem
from shipahead.service.runtime import Runtime, RuntimeDep, api_router, plan_or_404
from shipahead.store import dispatch as db
from starlette.concurrency import run_in_threadpool

__all__ = ["router", "vehicle_changes"]

router = api_router()


def _sequences(output: dict[str, Any]) -> dict[str, list[Any]]:
    """Vehicle id -> its job ids in visiting order, from a VROOM output."""
    seqs: dict[str, list[Any]] = {}
    for route in output.get("routes") or []:
        vehicle = str(route.get("vehicle"))
        seqs[vehicle] = [
            step["id"]
            for step in route.get("steps") or []
            if step.get("type") in ("job", "pickup", "delivery") and "id" in step
        ]
    return seqs


def vehicle_changes(before: dict[str, Any] | None, after: dict[str, Any]) -> dict[str, Any]:
    """Per vehicle whose stops changed: ``before``/``after`` sequences, ``added``, ``removed``.

    ``added``/``removed``: job ids that joined or left this vehicle's route; ``reordered``: the
    stops it kept are visited in another order.
    """
    old = _sequences(before or {})
    new = _sequences(after)
    changed: dict[str, Any] = {}
    for vehicle in sorted(set(old) | set(new)):
        a, b = old.get(vehicle, []), new.get(vehicle, [])
        if a == b:
            continue
        in_a, in_b = set(a), set(b)
        kept_a = [j for j in a if j in in_b]
        kept_b = [j for j in b if j in in_a]
        changed[vehicle] = {
            "before": a,
            "after": b,
            "added": [j for j in b if j not in in_a],
            "removed": [j for j in a if j not in in_b],
            "reordered": kept_a != kept_b,
        }
    return changed


@router.get("/v1/plans/{plan_id}/revisions/{n}", tags=["revisions"])
def get_revision(plan_id: str, n: int, runtime: RuntimeDep) -> dict[str, Any]:
    """Revision ``n``: its solution, the events it applied, what changed per vehicle and
    the road geometry of each route (vehicle id -> ``[[lon, lat], ...]``)."""
    plan = plan_or_404(runtime, plan_id)
    revision = db.get_revision(runtime.db, plan.id, n)
    if revision is None:
        raise problem(404, f"n: plan {plan.id} has no revision {n} (latest: {plan.revision})")
    output = json.loads(revision.output)
    previous = db.previous_revision(runtime.db, plan.id, n)
    return {
        "plan_id": plan.id,
        "revision": n,
        "created_at": revision.created_at,
        "solve_s": revision.solve_s,
        "events": json.loads(revision.events),
        "previous": None if previous is None else previous.n,
        "changes": json.loads(revision.changes),
        "geometry": json.loads(revision.geometry),
        "vehicles": vehicle_changes(
            None if previous is None else json.loads(previous.output), output
        ),
        "solution": output,
    }


@router.get("/v1/plans/{plan_id}/stream", tags=["revisions"], response_class=StreamingResponse)
async def stream(plan_id: str, request: Request, runtime: RuntimeDep) -> StreamingResponse:
    """Server-sent events: ``plan`` now, then ``status`` on each change and ``revision``
    when a new revision lands (data: ``{id, status, revision, error}``); ``deleted`` ends it.
    """
    await run_in_threadpool(plan_or_404, runtime, plan_id)
    return StreamingResponse(
        _events_stream(runtime, plan_id, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _events_stream(
    runtime: Runtime, plan_id: str, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """Poll the plan row and emit server-sent events when its status or revision changes."""
    settings = runtime.settings
    last: tuple[str, int, str | None] | None = None
    quiet_since = time.monotonic()
    yield "retry: 2000\n\n"
    while True:
        if await disconnected():
            return
        try:
            plan = await run_in_threadpool(db.get_plan, runtime.db, plan_id)
        except HTTPException:
            return  # the service is stopping
        if plan is None:
            yield f"event: deleted\ndata: {json.dumps({'id': plan_id})}\n\n"
            return
        now = (plan.status, plan.revision, plan.error)
        data = json.dumps(
            {"id": plan.id, "status": plan.status, "revision": plan.revision, "error": plan.error}
        )
        if last is None:
            yield f"id: {plan.revision}\nevent: plan\ndata: {data}\n\n"
            quiet_since = time.monotonic()
        elif now != last:
            if plan.revision != last[1]:
                yield f"id: {plan.revision}\nevent: revision\ndata: {data}\n\n"
            if plan.status != last[0] or plan.error != last[2]:
                yield f"id: {plan.revision}\nevent: status\ndata: {data}\n\n"
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since > 15:
            yield ": keep-alive\n\n"
            quiet_since = time.monotonic()
        last = now
        await asyncio.sleep(settings.poll_s)
