"""``/v1/plans``: post a VROOM problem (checked before anything is stored), list, read, delete."""

from __future__ import annotations

import json
import math
from typing import Any

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse
from shipahead.service.http import json_body, json_body_doc, located, problem, shown
from shipahead.service.runtime import Runtime, RuntimeDep, api_router, plan_or_404
from shipahead.store import dispatch as db
from starlette.concurrency import run_in_threadpool

__all__ = ["PROBLEM_BODY", "check_problem", "router"]

router = api_router()

PROBLEM_BODY = json_body_doc(
    "A VROOM problem (jobs, vehicles, optional matrices; shipahead's knobs in `options`: "
    "time_limit_s, engine, seed, date, depart).",
    {
        "type": "object",
        "required": ["jobs", "vehicles"],
        "properties": {
            "jobs": {"type": "array", "items": {"type": "object"}},
            "vehicles": {"type": "array", "items": {"type": "object"}},
            "matrices": {"type": "object"},
            "options": {"type": "object"},
        },
    },
)


def summary(plan: db.DispatchPlan) -> dict[str, Any]:
    """A plan without its solution (what ``GET /v1/plans`` lists)."""
    return {
        "id": plan.id,
        "status": plan.status,
        "revision": plan.revision,
        "error": plan.error,
        "jobs": plan.n_jobs,
        "vehicles": plan.n_vehicles,
        "created_at": plan.created_at,
        "updated_at": plan.updated_at,
    }


def check_problem(runtime: Runtime, doc: Any) -> tuple[int, int]:
    """Validate a VROOM problem before anything is stored; returns (jobs, vehicles)."""
    if not isinstance(doc, dict):
        raise problem(422, "request body: expected a JSON object (a VROOM problem)")
    from shipahead.routing.vroom import parse_vroom

    from shipahead import routing

    limits = runtime.settings.limits
    jobs, vehicles = doc.get("jobs"), doc.get("vehicles")
    for name, value, most, env in (
        ("jobs", jobs, limits.plan_jobs, "SHIPAHEAD_MAX_PLAN_JOBS"),
        ("vehicles", vehicles, limits.plan_vehicles, "SHIPAHEAD_MAX_PLAN_VEHICLES"),
    ):
        if isinstance(value, list) and len(value) > most:
            raise problem(
                422,
                f"{name}: {len(value):,} {name} is above the limit of {most:,}; split the "
                f"problem (or raise the limit with {env}=N)",
            )
    if "matrices" not in doc and runtime.network is None:
        raise problem(
            422,
            "matrices: this server has no road network (started without --roads), so a "
            "problem must carry matrices; send matrices or start the server with --roads",
        )
    try:
        parse_vroom(doc)
    except routing.InputError as exc:
        raise problem(422, located(exc)) from None
    if "matrices" not in doc:
        _check_locations(runtime, doc)
    return (len(jobs) if isinstance(jobs, list) else 0), (
        len(vehicles) if isinstance(vehicles, list) else 0
    )


def _bbox_text(network: Any) -> str:
    x0, y0, x1, y1 = network.bbox()
    return f"{x0:.4f},{y0:.4f} to {x1:.4f},{y1:.4f}"


def _check_locations(runtime: Runtime, doc: dict[str, Any]) -> None:
    """Every location must be within ``max_snap_m`` of the served road network."""
    from shipahead.routing.network import snap_points

    from shipahead import routing

    paths: list[str] = []
    lon: list[float] = []
    lat: list[float] = []
    for kind, keys in (("jobs", ("location",)), ("vehicles", ("start", "end"))):
        for i, item in enumerate(doc.get(kind) or []):
            for key in keys:
                loc = item.get(key) if isinstance(item, dict) else None
                if isinstance(loc, list) and len(loc) == 2:
                    paths.append(f"{kind}[{i}].{key}")
                    lon.append(float(loc[0]))
                    lat.append(float(loc[1]))
    if not paths:
        return
    default = runtime.settings.max_snap_m
    max_snap = (doc.get("options") or {}).get("max_snap_m", default)
    if not isinstance(max_snap, int | float) or not math.isfinite(max_snap):
        max_snap = default
    try:
        snap_points(runtime.network, lon, lat, paths, max_snap_m=float(max_snap))
    except routing.InputError as exc:
        # the message starts with the JSON path (passed as the point's id)
        text = located(exc).replace("`max_snap_m`", "options.max_snap_m")
        covers = _bbox_text(runtime.network)
        raise problem(422, f"{text} (the served road network covers lon/lat {covers})") from None


@router.post("/v1/plans", status_code=202, tags=["plans"], openapi_extra=PROBLEM_BODY)
async def post_plan(request: Request, runtime: RuntimeDep) -> JSONResponse:
    """Accept a VROOM problem: stored and queued before the answer (202 ``{id, status}``)."""
    doc = json_body(await request.body())
    n_jobs, n_vehicles = await run_in_threadpool(check_problem, runtime, doc)
    limits = runtime.settings.limits

    def store_it() -> str:
        if db.queue_depth(runtime.db) >= limits.queued_plans:
            raise problem(
                429,
                f"queue: {limits.queued_plans:,} plans are already waiting for a solver; "
                "retry later (or raise SHIPAHEAD_MAX_QUEUED_PLANS)",
            )
        return db.create_plan(runtime.db, doc, n_jobs=n_jobs, n_vehicles=n_vehicles)

    plan_id = await run_in_threadpool(store_it)
    runtime.dispatcher.wake()
    return JSONResponse(
        status_code=202,
        content={"id": plan_id, "status": "queued"},
        headers={"Location": f"/v1/plans/{plan_id}"},
    )


@router.get("/v1/plans", tags=["plans"])
def get_plans(
    runtime: RuntimeDep,
    status: str | None = Query(None, description="only plans with this status"),
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> dict[str, Any]:
    """Plans, newest first (without their solutions)."""
    if status is not None and status not in db.STATUSES:
        raise problem(422, f"status: {shown(status)} is not one of {', '.join(db.STATUSES)}")
    plans = db.list_plans(runtime.db, status=status, limit=limit, offset=offset)
    return {"plans": [summary(p) for p in plans], "limit": limit, "offset": offset}


@router.get("/v1/plans/{plan_id}", tags=["plans"], response_model=None)
def get_plan(plan_id: str, runtime: RuntimeDep) -> Response:
    """``{id, status, revision, solution, error}``: the latest finished revision's output."""
    plan = plan_or_404(runtime, plan_id)
    output = db.revision_output(runtime.db, plan.id, plan.revision) if plan.revision else None
    # the stored output is JSON text already: sent as it is, not parsed and re-encoded
    head = json.dumps(summary(plan), separators=(",", ":"))[:-1]
    return Response(f'{head},"solution":{output or "null"}}}', media_type="application/json")


@router.get("/v1/plans/{plan_id}/problem", tags=["plans"])
def get_problem(plan_id: str, runtime: RuntimeDep) -> dict[str, Any]:
    """The problem as it was posted (the console reads time windows and addresses here)."""
    return json.loads(plan_or_404(runtime, plan_id).problem)


@router.delete("/v1/plans/{plan_id}", status_code=204, tags=["plans"], response_model=None)
def delete_plan(plan_id: str, runtime: RuntimeDep) -> Response:
    """Delete a plan with its events and revisions (a solve under way is discarded)."""
    if not db.delete_plan(runtime.db, plan_id):
        raise problem(404, f"plan_id: no plan {shown(plan_id)}")
    return Response(status_code=204)
