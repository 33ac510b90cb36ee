"""``/health``, ``/v1/config`` and ``/v1/network``: the service itself and its road network."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import Response
from shipahead.service.http import problem
from shipahead.service.runtime import RuntimeDep, api_router
from shipahead.store import dispatch as db
from starlette.concurrency import run_in_threadpool

__all__ = ["router"]

router = api_router()


def _network_geojson(network: Any) -> bytes:
    """The road network as GeoJSON (routing.exports.network_geojson) for the console."""
    from shipahead.routing.exports import network_geojson

    return json.dumps(network_geojson(network), separators=(",", ":")).encode()


@router.get("/health", tags=["service"])
def health(runtime: RuntimeDep) -> dict[str, Any]:
    """Liveness and readiness: the store answers; queue depth and solver capacity."""
    settings = runtime.settings
    store = runtime.db
    depth = db.queue_depth(store)
    dispatcher = runtime.dispatcher
    return {
        "status": "ok",
        "database": store.backend,
        "road_network": runtime.network is not None,
        "workers": settings.workers,
        "scheduler": settings.scheduler,
        "queued_or_solving": depth,
        "solving_here": 0 if dispatcher is None else len(dispatcher.inflight),
        "uptime_s": round(time.time() - runtime.started, 1),
    }


@router.get("/v1/config", tags=["service"])
def config(runtime: RuntimeDep) -> dict[str, Any]:
    """What the console needs: tile URL (or null: draw ``/v1/network``), the map's bounds."""
    network = runtime.network
    return {
        "tiles": runtime.settings.tiles,
        "road_network": network is not None,
        "bbox": None if network is None else list(network.bbox()),
        "auth": runtime.settings.token is not None,
    }


@router.get("/v1/network", tags=["service"], response_model=None)
async def network_lines(runtime: RuntimeDep) -> Response:
    """The served road network as GeoJSON lines (the console's base map without tiles)."""
    if runtime.network is None:
        raise problem(404, "road network: this server was started without --roads")
    if runtime.network_geojson is None:
        runtime.network_geojson = await run_in_threadpool(_network_geojson, runtime.network)
    return Response(runtime.network_geojson, media_type="application/geo+json")
