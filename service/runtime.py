"""What the routes share, kept on ``app.state.runtime``: the store, the dispatcher, the road
network; and the FastAPI dependencies that hand it (and a plan) to a route."""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPBearer
from shipahead.service.http import problem, shown
from shipahead.service.settings import ServiceSettings
from shipahead.store import Store
from shipahead.store import dispatch as db

__all__ = [
    "Runtime",
    "RuntimeDep",
    "ServiceError",
    "api_router",
    "get_runtime",
    "lock_sqlite",
    "plan_or_404",
]


class ServiceError(Exception):
    """The service cannot start (one line; ``shipahead serve`` exits 2)."""


class Runtime:
    """What the routes share: the store, the dispatcher, the road network (or None)."""

    def __init__(self, settings: ServiceSettings) -> None:
        self.settings = settings
        self.store: Store | None = None
        self.dispatcher: Any = None
        self.network: Any = None
        self.network_geojson: bytes | None = None
        self.lock_file: Any = None
        self.started = time.time()

    @property
    def db(self) -> Store:
        """The open store (503 while the service starts or stops)."""
        if self.store is None:
            raise problem(503, "the service is starting; try again in a moment")
        return self.store


async def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the application's :class:`Runtime`."""
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def api_router() -> APIRouter:
    """A router of the API (documented as needing the bearer token when one is set)."""
    return APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])


def plan_or_404(runtime: Runtime, plan_id: str) -> db.DispatchPlan:
    """The plan ``plan_id``, or a 404 naming it."""
    plan = db.get_plan(runtime.db, plan_id)
    if plan is None:
        raise problem(404, f"plan_id: no plan {shown(plan_id)}")
    return plan


def lock_sqlite(store: Store) -> Any:
    """Hold a lock beside a SQLite store: one ``shipahead serve`` per SQLite file."""
    database = store.engine.url.database
    if not database or database == ":memory:":
        return None
    path = Path(database).with_name(Path(database).name + ".serve-lock")
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise ServiceError(
            f"{store.shown_url} is in use by another shipahead serve ({holder}); a SQLite store "
            "serves one process — stop it, use another --db file, or share a PostgreSQL --db"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle
