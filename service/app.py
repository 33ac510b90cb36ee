"""The dispatch service's HTTP API (FastAPI): plans, events, revisions, streams, exports.

:func:`create_app` builds the application for one :class:`ServiceSettings`; ``shipahead
serve`` runs it under uvicorn. Every write is committed to the store before the answer goes
out; solves run in solver processes (:mod:`shipahead.service.dispatcher`), never on the event
loop. Errors are JSON ``{"detail": "<one line naming the field>"}`` with a 4xx status, and
nothing is stored for a refused request.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hmac
import importlib.util
import json
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPBearer
from fastapi.staticfiles import StaticFiles
from shipahead.service.settings import ServiceSettings
from shipahead.store import Store, StoreError, open_store
from shipahead.store import dispatch as db
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ServiceError", "create_app"]

log = logging.getLogger("shipahead.service")

STATIC_DIR = Path(__file__).with_name("static")
#: paths served without the token: the console's files and the API description hold no data
PUBLIC_PREFIXES = ("/static/", "/docs-assets/")
PUBLIC_PATHS = ("/", "/docs", "/openapi.json", "/favicon.ico")


class ServiceError(Exception):
    """The service cannot start (one line; ``shipahead serve`` exits 2)."""


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _shown(value: Any, most: int = 60) -> str:
    """An id from a request as it may appear in a message (quoted, shortened)."""
    text = repr(value)
    return text if len(text) <= most else text[: most - 3] + "..."


def _problem(status: int, detail: str) -> HTTPException:
    return HTTPException(status_code=status, detail=_one_line(detail))


# --- middleware --------------------------------------------------------------------------------


class _GuardMiddleware:
    """Bearer-token check and request-body size limit, before any route runs (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, token: str | None, max_bytes: int) -> None:
        self.app = app
        self.token = token
        self.max_bytes = max_bytes

    async def _deny(
        self, send: Send, status: int, detail: str, headers: list | None = None
    ) -> None:
        body = json.dumps({"detail": detail}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *(headers or []),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _authorised(self, scope: Scope) -> bool:
        if self.token is None:
            return True
        path = scope.get("path", "")
        if path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES):
            return True
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, given = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer" and hmac.compare_digest(
                    given.strip().encode(), self.token.encode()
                ):
                    return True
        return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._authorised(scope):
            await self._deny(
                send,
                401,
                "Authorization: this server needs 'Authorization: Bearer <token>' (the --token "
                "it was started with)",
                [(b"www-authenticate", b"Bearer")],
            )
            return
        length = None
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                with contextlib.suppress(ValueError):
                    length = int(value)
        if length is not None and length > self.max_bytes:
            await self._deny(send, 413, self._too_big(length))
            return
        seen = 0
        limit = self.max_bytes
        too_big = self._too_big

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _BodyTooLarge(too_big(seen))
            return message

        try:
            await self.app(scope, counted, send)
        except _BodyTooLarge as exc:
            await self._deny(send, 413, str(exc))

    def _too_big(self, size: int) -> str:
        mb = self.max_bytes / 2**20
        return (
            f"request body: {size:,} bytes is above the limit of {mb:g} MB; send a smaller "
            "problem (or raise the limit with SHIPAHEAD_MAX_REQUEST_MB)"
        )


class _BodyTooLarge(Exception):
    pass


# --- request parsing ---------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_body(raw: bytes) -> Any:
    """The request body as JSON, or a 400 naming where it is malformed."""
    if not raw.strip():
        raise _problem(400, "request body: empty; send a JSON document")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise _problem(400, "request body: not UTF-8 text; send JSON in UTF-8") from None
    except json.JSONDecodeError as exc:
        raise _problem(
            400,
            f"request body: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
        ) from None
    except (ValueError, RecursionError) as exc:
        raise _problem(400, f"request body: malformed JSON: {exc}") from None


def _located(exc: Exception) -> str:
    """One line from a shipahead error (its message, and its fix when it adds one)."""
    message = getattr(exc, "message", None) or str(exc)
    fix = getattr(exc, "fix", None)
    if fix and fix not in message:
        message = f"{message}; {fix}"
    return _one_line(message)


# --- revisions: what changed -------------------------------------------------------------------


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


# --- the application ---------------------------------------------------------------------------


class _Runtime:
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
        if self.store is None:
            raise _problem(503, "the service is starting; try again in a moment")
        return self.store


def _lock_sqlite(store: Store) -> Any:
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


def _network_geojson(network: Any) -> bytes:
    """The road network as GeoJSON (routing.exports.network_geojson) for the console."""
    from shipahead.routing.exports import network_geojson

    return json.dumps(network_geojson(network), separators=(",", ":")).encode()


def create_app(settings: ServiceSettings) -> FastAPI:
    """The FastAPI application for ``settings`` (the store opens when the app starts)."""
    runtime = _Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from shipahead.service.dispatcher import Dispatcher

        store = await run_in_threadpool(open_store, settings.db)
        try:
            if store.backend == "sqlite":
                runtime.lock_file = _lock_sqlite(store)
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

    app = FastAPI(
        title="shipahead dispatch",
        summary="Route plans as a service that adapts through the day.",
        description=(
            "Post a VROOM problem, get routes with time-dependent ETAs; post events through "
            'the day and get new revisions. Errors: `{"detail": "<one line naming the '
            'field>"}`.'
        ),
        version=_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.add_middleware(
        _GuardMiddleware, token=settings.token, max_bytes=settings.limits.request_bytes
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            status_code=422, content={"detail": _one_line(f"{where}: {first.get('msg')}")}
        )

    @app.exception_handler(Exception)
    async def _internal(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error")
        first = _one_line(str(exc))[:200]
        return JSONResponse(
            status_code=500, content={"detail": f"internal error: {type(exc).__name__}: {first}"}
        )

    @app.exception_handler(StoreError)
    async def _store_down(_request: Request, exc: StoreError) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": _one_line(str(exc))})

    _mount_docs(app)
    _mount_console(app, runtime)
    app.include_router(_api(runtime))
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("shipahead")
    except PackageNotFoundError:
        return "0+unknown"


def _mount_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the package's files (swagger-ui-py), no CDN."""
    spec = importlib.util.find_spec("swagger_ui")
    folder = None
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "static"
        if (candidate / "swagger-ui-bundle.js").is_file():
            folder = candidate
    if folder is not None:
        app.mount("/docs-assets", StaticFiles(directory=folder), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        if folder is None:  # the package is missing: a plain page that still works offline
            return HTMLResponse(
                "<!doctype html><title>shipahead dispatch API</title><h1>shipahead dispatch "
                'API</h1><p>The API description: <a href="/openapi.json">/openapi.json</a>.</p>'
            )
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="shipahead dispatch API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )


def _mount_console(app: FastAPI, runtime: _Runtime) -> None:
    """``GET /``: the dispatcher console from ``service/static`` (no CDN)."""
    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    @app.get("/", include_in_schema=False, response_model=None)
    async def console() -> Response:
        index = STATIC_DIR / "index.html"
        if index.is_file():
            return FileResponse(index, media_type="text/html; charset=utf-8")
        return HTMLResponse(
            "<!doctype html><title>shipahead dispatch</title><h1>shipahead dispatch</h1>"
            '<p>API: <a href="/docs">/docs</a> · <a href="/openapi.json">/openapi.json</a></p>'
        )


def _api(runtime: _Runtime) -> APIRouter:
    settings = runtime.settings
    limits = settings.limits
    router = APIRouter(dependencies=[Depends(HTTPBearer(auto_error=False))])

    def plan_or_404(plan_id: str) -> db.DispatchPlan:
        plan = db.get_plan(runtime.db, plan_id)
        if plan is None:
            raise _problem(404, f"plan_id: no plan {_shown(plan_id)}")
        return plan

    def summary(plan: db.DispatchPlan) -> dict[str, Any]:
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

    @router.get("/health", tags=["service"])
    def health() -> dict[str, Any]:
        """Liveness and readiness: the store answers; queue depth and solver capacity."""
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
    def config() -> dict[str, Any]:
        """What the console needs: tile URL (or null: draw ``/v1/network``), the map's bounds."""
        network = runtime.network
        return {
            "tiles": settings.tiles,
            "road_network": network is not None,
            "bbox": None if network is None else list(network.bbox()),
            "auth": settings.token is not None,
        }

    @router.get("/v1/network", tags=["service"], response_model=None)
    async def network_lines() -> Response:
        """The served road network as GeoJSON lines (the console's base map without tiles)."""
        if runtime.network is None:
            raise _problem(404, "road network: this server was started without --roads")
        if runtime.network_geojson is None:
            runtime.network_geojson = await run_in_threadpool(_network_geojson, runtime.network)
        return Response(runtime.network_geojson, media_type="application/geo+json")

    # --- plans ------------------------------------------------------------------------------

    def check_problem(doc: Any) -> tuple[int, int]:
        """Validate a VROOM problem before anything is stored; returns (jobs, vehicles)."""
        if not isinstance(doc, dict):
            raise _problem(422, "request body: expected a JSON object (a VROOM problem)")
        from shipahead.routing.vroom import parse_vroom

        from shipahead import routing

        jobs, vehicles = doc.get("jobs"), doc.get("vehicles")
        for name, value, most, env in (
            ("jobs", jobs, limits.plan_jobs, "SHIPAHEAD_MAX_PLAN_JOBS"),
            ("vehicles", vehicles, limits.plan_vehicles, "SHIPAHEAD_MAX_PLAN_VEHICLES"),
        ):
            if isinstance(value, list) and len(value) > most:
                raise _problem(
                    422,
                    f"{name}: {len(value):,} {name} is above the limit of {most:,}; split the "
                    f"problem (or raise the limit with {env}=N)",
                )
        if "matrices" not in doc and runtime.network is None:
            raise _problem(
                422,
                "matrices: this server has no road network (started without --roads), so a "
                "problem must carry matrices; send matrices or start the server with --roads",
            )
        try:
            parse_vroom(doc)
        except routing.InputError as exc:
            raise _problem(422, _located(exc)) from None
        if "matrices" not in doc:
            check_locations(doc)
        return (len(jobs) if isinstance(jobs, list) else 0), (
            len(vehicles) if isinstance(vehicles, list) else 0
        )

    def check_locations(doc: dict[str, Any]) -> None:
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
        options = doc.get("options") or {}
        max_snap = options.get("max_snap_m", settings.max_snap_m)
        if not isinstance(max_snap, int | float) or not math.isfinite(max_snap):
            max_snap = settings.max_snap_m
        try:
            snap_points(runtime.network, lon, lat, paths, max_snap_m=float(max_snap))
        except routing.InputError as exc:
            # the message starts with the JSON path (passed as the point's id)
            text = _located(exc).replace("`max_snap_m`", "options.max_snap_m")
            covers = _bbox_text(runtime.network)
            raise _problem(
                422, f"{text} (the served road network covers lon/lat {covers})"
            ) from None

    @router.post("/v1/plans", status_code=202, tags=["plans"], openapi_extra=_PROBLEM_BODY)
    async def post_plan(request: Request) -> JSONResponse:
        """Accept a VROOM problem: stored and queued before the answer (202 ``{id, status}``)."""
        doc = _json_body(await request.body())
        n_jobs, n_vehicles = await run_in_threadpool(check_problem, doc)

        def store_it() -> str:
            if db.queue_depth(runtime.db) >= limits.queued_plans:
                raise _problem(
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
        status: str | None = Query(None, description="only plans with this status"),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0),
    ) -> dict[str, Any]:
        """Plans, newest first (without their solutions)."""
        if status is not None and status not in db.STATUSES:
            raise _problem(422, f"status: {_shown(status)} is not one of {', '.join(db.STATUSES)}")
        plans = db.list_plans(runtime.db, status=status, limit=limit, offset=offset)
        return {"plans": [summary(p) for p in plans], "limit": limit, "offset": offset}

    @router.get("/v1/plans/{plan_id}", tags=["plans"], response_model=None)
    def get_plan(plan_id: str) -> Response:
        """``{id, status, revision, solution, error}``: the latest finished revision's output."""
        plan = plan_or_404(plan_id)
        output = db.revision_output(runtime.db, plan.id, plan.revision) if plan.revision else None
        # the stored output is JSON text already: sent as it is, not parsed and re-encoded
        head = json.dumps(summary(plan), separators=(",", ":"))[:-1]
        return Response(f'{head},"solution":{output or "null"}}}', media_type="application/json")

    @router.get("/v1/plans/{plan_id}/problem", tags=["plans"])
    def get_problem(plan_id: str) -> dict[str, Any]:
        """The problem as it was posted (the console reads time windows and addresses here)."""
        return json.loads(plan_or_404(plan_id).problem)

    @router.delete("/v1/plans/{plan_id}", status_code=204, tags=["plans"], response_model=None)
    def delete_plan(plan_id: str) -> Response:
        """Delete a plan with its events and revisions (a solve under way is discarded)."""
        if not db.delete_plan(runtime.db, plan_id):
            raise _problem(404, f"plan_id: no plan {_shown(plan_id)}")
        return Response(status_code=204)

    # --- events -----------------------------------------------------------------------------

    def check_events(plan: db.DispatchPlan, events: Any) -> list[dict[str, Any]]:
        from shipahead.routing.vroom import parse_events, parse_vroom

        from shipahead import routing

        if isinstance(events, dict) and isinstance(events.get("events"), list):
            events = events["events"]
        if not isinstance(events, list):
            raise _problem(422, "request body: expected a JSON list of events")
        if not events:
            raise _problem(422, "request body: the list of events is empty")
        if len(events) > limits.request_events:
            raise _problem(
                422,
                f"request body: {len(events):,} events is above the limit of "
                f"{limits.request_events:,} per request; send them in smaller batches (or "
                "raise SHIPAHEAD_MAX_REQUEST_EVENTS)",
            )
        for i, event in enumerate(events):
            if not isinstance(event, dict):
                raise _problem(422, f"events[{i}]: expected a JSON object")
            event_id = event.get("event_id")
            if not isinstance(event_id, str | int) or isinstance(event_id, bool):
                raise _problem(422, f"events[{i}].event_id: missing; give every event an id")
            if not str(event_id).strip() or len(str(event_id)) > 200:
                raise _problem(422, f"events[{i}].event_id: must be 1 to 200 characters, not blank")
        if plan.status == "failed" or not plan.revision:
            raise _problem(
                409,
                f"plan_id: plan {plan.id} has no solution to re-plan yet (status {plan.status})"
                "; post events once it has finished",
            )
        latest = db.get_revision(runtime.db, plan.id, plan.revision)
        assert latest is not None
        pending = db.plan_events(runtime.db, plan.id, after_revision=plan.revision)
        problem = parse_vroom(json.loads(plan.problem))
        state = json.loads(latest.state)
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
                    raise _problem(
                        409,
                        f"events[{i}].event_id: {event_id!r} appears twice in this request "
                        "with different fields; give each event its own event_id",
                    )
                continue
            first[event_id] = i
            fresh.append(event)
        if not fresh:
            return events
        try:
            parse_events(problem, state, [*pending, *fresh])
        except routing.InputError as exc:
            raise _problem(422, _renumber(_located(exc), len(pending), fresh, events)) from None
        return events

    @router.post(
        "/v1/plans/{plan_id}/events", status_code=202, tags=["events"], openapi_extra=_EVENTS_BODY
    )
    async def post_events(plan_id: str, request: Request) -> JSONResponse:
        """Accept events (a list): stored before the answer; 202 ``{revision}`` they join.

        A repeated ``event_id`` is acknowledged and ignored; a burst of events becomes one
        re-plan (the plan waits ``coalesce`` seconds after the burst's first event).
        """
        body = _json_body(await request.body())

        def accept() -> tuple[int, int, int]:
            plan = plan_or_404(plan_id)
            events = check_events(plan, body)
            total = db.count_events(runtime.db, plan.id)
            if total + len(events) > limits.plan_events:
                raise _problem(
                    422,
                    f"events: plan {plan.id} would have more than {limits.plan_events:,} events; "
                    "post a new plan (or raise SHIPAHEAD_MAX_PLAN_EVENTS)",
                )
            try:
                added = db.add_events(runtime.db, plan.id, events, coalesce_s=settings.coalesce_s)
            except db.EventConflict as exc:
                raise _problem(409, str(exc)) from None
            if added is None:
                raise _problem(404, f"plan_id: no plan {_shown(plan_id)}")
            return added[0], added[1], len(events)

        revision, new, total = await run_in_threadpool(accept)
        if new:
            runtime.dispatcher.wake(settings.coalesce_s + 0.01)
        return JSONResponse(
            status_code=202,
            content={"revision": revision, "accepted": new, "ignored": total - new},
        )

    @router.get("/v1/plans/{plan_id}/events", tags=["events"])
    def get_events(plan_id: str) -> dict[str, Any]:
        """Every accepted event of the plan in arrival order, with the revision it is in
        (``applied``: that revision has finished; a negative revision: its re-plan failed).
        """
        plan = plan_or_404(plan_id)
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

    # --- revisions and the stream -----------------------------------------------------------

    @router.get("/v1/plans/{plan_id}/revisions/{n}", tags=["revisions"])
    def get_revision(plan_id: str, n: int) -> dict[str, Any]:
        """Revision ``n``: its solution, the events it applied, what changed per vehicle and
        the road geometry of each route (vehicle id -> ``[[lon, lat], ...]``)."""
        plan = plan_or_404(plan_id)
        revision = db.get_revision(runtime.db, plan.id, n)
        if revision is None:
            raise _problem(404, f"n: plan {plan.id} has no revision {n} (latest: {plan.revision})")
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
    async def stream(plan_id: str, request: Request) -> StreamingResponse:
        """Server-sent events: ``plan`` now, then ``status`` on each change and ``revision``
        when a new revision lands (data: ``{id, status, revision, error}``); ``deleted`` ends it.
        """
        await run_in_threadpool(plan_or_404, plan_id)
        return StreamingResponse(
            _events_stream(runtime, plan_id, request.is_disconnected),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    # --- exports (routing/exports.py) -------------------------------------------------------

    def finished_revision(plan_id: str) -> tuple[db.DispatchPlan, db.DispatchRevision]:
        plan = plan_or_404(plan_id)
        latest = db.get_revision(runtime.db, plan.id, plan.revision) if plan.revision else None
        if latest is None:
            raise _problem(
                409, f"plan_id: plan {plan.id} has no solution yet (status {plan.status})"
            )
        return plan, latest

    _exports(router, finished_revision)
    return router


def _exports(
    router: APIRouter,
    finished_revision: Callable[[str], tuple[db.DispatchPlan, db.DispatchRevision]],
) -> None:
    """GPX/KML per vehicle and the driver sheets (routing/exports.py)."""

    def route_doc(plan_id: str, vehicle_id: str) -> dict[str, Any]:
        plan, latest = finished_revision(plan_id)
        output = json.loads(latest.output)
        vehicles = {str(r.get("vehicle")) for r in output.get("routes") or []}
        if vehicle_id not in vehicles:
            raise _problem(
                404, f"vehicle_id: plan {plan.id} has no route for vehicle {_shown(vehicle_id)}"
            )
        problem = json.loads(plan.problem)
        options = problem.get("options") or {}
        geometry = json.loads(latest.geometry).get(vehicle_id)
        return {
            "output": output,
            "vehicle_id": vehicle_id,
            "geometry": geometry or None,
            "problem": problem,
            "date": options.get("date"),
            "tz": options.get("tz"),
        }

    @router.get("/v1/plans/{plan_id}/routes/{vehicle_id}.gpx", tags=["exports"])
    def route_gpx(plan_id: str, vehicle_id: str) -> Response:
        """The vehicle's route as GPX 1.1 (track along the roads, waypoints at the stops)."""
        from shipahead.routing.exports import route_gpx as to_gpx

        doc = route_doc(plan_id, vehicle_id)
        return Response(
            to_gpx(
                doc["output"],
                vehicle_id,
                doc["geometry"],
                problem=doc["problem"],
                date=doc["date"],
                tz=doc["tz"],
            ),
            media_type="application/gpx+xml",
            headers={"Content-Disposition": f'attachment; filename="{_safe(vehicle_id)}.gpx"'},
        )

    @router.get("/v1/plans/{plan_id}/routes/{vehicle_id}.kml", tags=["exports"])
    def route_kml(plan_id: str, vehicle_id: str) -> Response:
        """The vehicle's route as KML 2.2 (the road line, one placemark per stop)."""
        from shipahead.routing.exports import route_kml as to_kml

        doc = route_doc(plan_id, vehicle_id)
        return Response(
            to_kml(
                doc["output"],
                vehicle_id,
                doc["geometry"],
                problem=doc["problem"],
                date=doc["date"],
                tz=doc["tz"],
            ),
            media_type="application/vnd.google-earth.kml+xml",
            headers={"Content-Disposition": f'attachment; filename="{_safe(vehicle_id)}.kml"'},
        )

    @router.get("/v1/plans/{plan_id}/sheets", tags=["exports"], response_class=HTMLResponse)
    def sheets(plan_id: str) -> HTMLResponse:
        """Print-all driver sheets (HTML): one page per driver, no stop split across pages."""
        from shipahead.routing.exports import driver_sheets_html

        plan, latest = finished_revision(plan_id)
        return HTMLResponse(
            driver_sheets_html(
                json.loads(latest.output),
                json.loads(plan.problem),
                title=f"Driver sheets — plan {plan.id} revision {latest.n}",
            )
        )


def _safe(name: str) -> str:
    """A file name for Content-Disposition (letters, digits, ``-_.``)."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80] or "route"


def _bbox_text(network: Any) -> str:
    x0, y0, x1, y1 = network.bbox()
    return f"{x0:.4f},{y0:.4f} to {x1:.4f},{y1:.4f}"


def _renumber(message: str, offset: int, fresh: list[dict], events: list[dict]) -> str:
    """Map ``events[k]`` in a message about pending + fresh events to this request's index."""
    import re

    def fix(match: re.Match[str]) -> str:
        k = int(match.group(1))
        if k < offset:  # an event accepted earlier, not yet applied
            return f"accepted event {k + 1} of {offset} waiting for the re-plan"
        event = fresh[k - offset]
        return f"events[{events.index(event)}]"

    return re.sub(r"events\[(\d+)\]", fix, message)


async def _events_stream(
    runtime: _Runtime, plan_id: str, disconnected: Callable[[], Awaitable[bool]]
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


_PROBLEM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A VROOM problem (jobs, vehicles, optional matrices; shipahead's knobs in"
        " `options`: time_limit_s, engine, seed, date, depart).",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["jobs", "vehicles"],
                    "properties": {
                        "jobs": {"type": "array", "items": {"type": "object"}},
                        "vehicles": {"type": "array", "items": {"type": "object"}},
                        "matrices": {"type": "object"},
                        "options": {"type": "object"},
                    },
                }
            }
        },
    }
}

_EVENTS_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A list of events: each with event_id, type (stop_arrived, stop_done, "
        "stop_added, stop_cancelled, vehicle_position, vehicle_delay, vehicle_down, incident), "
        "at (s), job_id or vehicle_id, and the fields of its type.",
        "content": {
            "application/json": {
                "schema": {
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
                }
            }
        },
    }
}
