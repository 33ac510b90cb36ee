"""The dispatch service's HTTP API (FastAPI): plans, events, revisions, streams, exports.

:func:`create_app` builds the application for one :class:`ServiceSettings`; ``shipahead
serve`` runs it under uvicorn. The endpoints live in routers by job (``routes_service``,
``routes_plans``, ``routes_events``, ``routes_revisions``, ``routes_exports``) and reach the
store, the dispatcher and the road network through ``app.state.runtime``
(:mod:`shipahead.service.runtime`). Every write is committed to the store before the answer
goes out; solves run in solver processes (:mod:`shipahead.service.dispatcher`), never on the
event loop. Errors are JSON ``{"detail": "<one line naming the field>"}`` with a 4xx status,
and nothing is stored for a refused request.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from shipahead.service import (
    routes_events,
    routes_exports,
    routes_plans,
    routes_revisions,
    routes_service,
)
from shipahead.service.console import mount_console, mount_docs
from shipahead.service.guard import GuardMiddleware
from shipahead.service.http import one_line
from shipahead.service.routes_revisions import vehicle_changes
from shipahead.service.runtime import Runtime, ServiceError, lock_sqlite
from shipahead.service.settings import ServiceSettings
from shipahead.store import StoreError, open_store
from starlette.concurrency import run_in_threadpool

__all__ = ["ServiceError", "create_app", "vehicle_changes"]

log = logging.getLogger("shipahead.service")

ROUTERS = (routes_service, routes_plans, routes_events, routes_revisions, routes_exports)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the store (and the road network), start the dispatcher; undo it all at the end."""
    from shipahead.service.dispatcher import Dispatcher

    runtime: Runtime = app.state.runtime
    settings = runtime.settings
    store = await run_in_threadpool(open_store, settings.db)
    try:
        if store.backend == "sqlite":
            runtime.lock_file = lock_sqlite(store)
        if settings.roads is not None:
            from shipahead.service.solver import resources

            res = await run_in_threadpool(
                resources,
                str(settings.roads),
                None if settings.traffic is None else str(settings.traffic),
                None if settings.weather is None else str(settings.weather),
            )
            runtime.network = res.network
        # the problem and event checks need the routing stack: import it now, not on the
        # first request (seconds: OR-Tools, PyVRP, pandas)
        await run_in_threadpool(importlib.import_module, "shipahead.routing.vroom")
        runtime.store = store
        runtime.dispatcher = Dispatcher(store, settings)
        await runtime.dispatcher.start()
        yield
    finally:
        if runtime.dispatcher is not None:
            await runtime.dispatcher.stop()
        store.close()
        runtime.store = None
        if runtime.lock_file is not None:
            runtime.lock_file.close()


async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
    first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
    where = ".".join(str(p) for p in first.get("loc", ()))
    return JSONResponse(
        status_code=422, content={"detail": one_line(f"{where}: {first.get('msg')}")}
    )


async def _internal(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("internal error")
    first = one_line(str(exc))[:200]
    return JSONResponse(
        status_code=500, content={"detail": f"internal error: {type(exc).__name__}: {first}"}
    )


async def _store_down(_request: Request, exc: StoreError) -> JSONResponse:
    return JSONResponse(status_code=503, content={"detail": one_line(str(exc))})


def create_app(settings: ServiceSettings) -> FastAPI:
    """The FastAPI application for ``settings`` (the store opens when the app starts)."""
    app = FastAPI(
        title="shipahead dispatch",
        summary="Route plans as a service that adapts through the day.",
        description=(
            "Post a VROOM problem, get routes with time-dependent ETAs; post events through "
            'the day and get new revisions. Errors: `{"detail": "<one line naming the '
            'field>"}`.'
        ),
        version=_version(),
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = Runtime(settings)
    app.add_middleware(
        GuardMiddleware, token=settings.token, max_bytes=settings.limits.request_bytes
    )
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(Exception, _internal)
    app.add_exception_handler(StoreError, _store_down)
    mount_docs(app)
    mount_console(app)
    for module in ROUTERS:
        app.include_router(module.router)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shipahead")
    except PackageNotFoundError:
        return "0+unknown"
