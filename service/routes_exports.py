"""Exports of a plan's latest revision (routing/exports.py): GPX and KML per vehicle, and the
print-all driver sheets."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastapi import Response
from fastapi.responses import HTMLResponse
from shipahead.service.http import problem, shown
from shipahead.service.runtime import Runtime, RuntimeDep, api_router, plan_or_404
from shipahead.store import dispatch as db

__all__ = ["router"]

router = api_router()


def _finished_revision(
    runtime: Runtime, plan_id: str
) -> tuple[db.DispatchPlan, db.DispatchRevision]:
    """The plan and its latest revision, or a 409 if it has no solution yet."""
    plan = plan_or_404(runtime, plan_id)
    latest = db.get_revision(runtime.db, plan.id, plan.revision) if plan.revision else None
    if latest is None:
        raise problem(409, f"plan_id: plan {plan.id} has no solution yet (status {plan.status})")
    return plan, latest


def _safe(name: str) -> str:
    """A file name for Content-Disposition (letters, digits, ``-_.``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "route"


def _route_file(
    runtime: Runtime,
    plan_id: str,
    vehicle_id: str,
    render: Callable[..., str | bytes],
    media_type: str,
    suffix: str,
) -> Response:
    """One vehicle's route drawn by ``render`` (a routing.exports writer) as an attachment."""
    plan, latest = _finished_revision(runtime, plan_id)
    output = json.loads(latest.output)
    vehicles = {str(r.get("vehicle")) for r in output.get("routes") or []}
    if vehicle_id not in vehicles:
        raise problem(
            404, f"vehicle_id: plan {plan.id} has no route for vehicle {shown(vehicle_id)}"
        )
    doc = json.loads(plan.problem)
    options: dict[str, Any] = doc.get("options") or {}
    geometry = json.loads(latest.geometry).get(vehicle_id)
    body = render(
        output,
        vehicle_id,
        geometry or None,
        problem=doc,
        date=options.get("date"),
        tz=options.get("tz"),
    )
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{_safe(vehicle_id)}.{suffix}"'},
    )


@router.get("/v1/plans/{plan_id}/routes/{vehicle_id}.gpx", tags=["exports"])
def route_gpx(plan_id: str, vehicle_id: str, runtime: RuntimeDep) -> Response:
    """The vehicle's route as GPX 1.1 (track along the roads, waypoints at the stops)."""
    from shipahead.routing.exports import route_gpx as to_gpx

    return _route_file(runtime, plan_id, vehicle_id, to_gpx, "application/gpx+xml", "gpx")


@router.get("/v1/plans/{plan_id}/routes/{vehicle_id}.kml", tags=["exports"])
def route_kml(plan_id: str, vehicle_id: str, runtime: RuntimeDep) -> Response:
    """The vehicle's route as KML 2.2 (the road line, one placemark per stop)."""
    from shipahead.routing.exports import route_kml as to_kml

    kml = "application/vnd.google-earth.kml+xml"
    return _route_file(runtime, plan_id, vehicle_id, to_kml, kml, "kml")


@router.get("/v1/plans/{plan_id}/sheets", tags=["exports"], response_class=HTMLResponse)
def sheets(plan_id: str, runtime: RuntimeDep) -> HTMLResponse:
    """Print-all driver sheets (HTML): one page per driver, no stop split across pages."""
    from shipahead.routing.exports import driver_sheets_html

    plan, latest = _finished_revision(runtime, plan_id)
    return HTMLResponse(
        driver_sheets_html(
            json.loads(latest.output),
            json.loads(plan.problem),
            title=f"Driver sheets — plan {plan.id} revision {latest.n}",
        )
    )
