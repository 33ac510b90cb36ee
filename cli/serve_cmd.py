"""``shipahead serve``: the dispatch service (FastAPI under uvicorn).

Checks everything it can before it listens — the database opens and migrates, the road,
traffic and weather files read, the address is free, a non-loopback address has a token —
so a bad start is one line and exit 2, never a traceback. Then it serves until Ctrl-C or
SIGTERM (exit 0); plans being solved then are put back in the queue, and a killed server
(``kill -9``) re-queues them when it starts again.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from pathlib import Path
from typing import Annotated

import typer
from shipahead.cli.errors import STATE, CliInputError, command, register_file, require_file
from shipahead.cli.settings import file_option

__all__ = ["command", "is_loopback"]

log = logging.getLogger("shipahead.cli.serve")


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host.strip("[]"), port))
        except OSError as exc:
            raise CliInputError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                fix="choose another --port or --host, or stop the program using it",
            ) from None


def _check_sqlite_free(store) -> None:
    from shipahead.service.runtime import ServiceError, lock_sqlite

    try:
        handle = lock_sqlite(store)
    except ServiceError as exc:
        raise CliInputError(str(exc)) from None
    if handle is not None:
        handle.close()


@command
def command(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (non-loopback needs --token).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Store URL: sqlite:///path/file.db or postgresql://user@host/db "
            "(${VAR} expanded). Default: sqlite:///$XDG_DATA_HOME/shipahead/dispatch.db "
            "(~/.local/share/shipahead/dispatch.db).",
        ),
    ] = None,
    roads: file_option(
        "--roads",
        "Road network (.osm.pbf/.osm/.osm.bz2/.graphml). Without it only problems with "
        "matrices are accepted.",
    ) = None,
    traffic: file_option(
        "--traffic", "Traffic profile: hour, opt. weekday and road_class, speed_factor."
    ) = None,
    weather: file_option(
        "--weather", "Weather table: ds, precip_mm, snow_cm (a plan's options.date picks a row)."
    ) = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", help="Solver processes (with --scheduler: solves in flight at once)."
        ),
    ] = 2,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="Dask scheduler address: solve on that cluster."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="SHIPAHEAD_TOKEN",
            help="Every request needs 'Authorization: Bearer TOKEN' (or set SHIPAHEAD_TOKEN).",
        ),
    ] = None,
    tiles: Annotated[
        str | None,
        typer.Option(
            "--tiles",
            help="Tile URL template for the console's map ({z}/{x}/{y}); default: the console "
            "draws the road network itself.",
        ),
    ] = None,
) -> None:
    """Run the dispatch service: post VROOM problems and events, get revised routes."""
    import uvicorn
    from shipahead.cli.limits import check_option
    from shipahead.service import ServiceLimits, ServiceSettings, create_app, default_db_url
    from shipahead.store import StoreError, open_store, redact_url

    check_option(port, "--port", ge=1, example="8080")
    if port > 65535:
        raise CliInputError(f"--port = {port} is not a port (1-65535)", fix="e.g. --port 8080")
    check_option(workers, "--workers", ge=1, example="2")
    if token is not None and not token.strip():
        raise CliInputError(
            "--token is empty", fix="give a secret, e.g. --token $(openssl rand -hex 16)"
        )
    if token is None and not is_loopback(host):
        raise CliInputError(
            f"--host {host} is not a loopback address and no --token is set: anyone who can "
            "reach it could read and change plans",
            fix="pass --token TOKEN (or SHIPAHEAD_TOKEN) or listen on 127.0.0.1",
        )
    if tiles is not None and not tiles.startswith(("http://", "https://", "/")):
        raise CliInputError(
            f"--tiles {tiles!r} is not a URL",
            fix="e.g. --tiles http://localhost:8081/{z}/{x}/{y}.png",
        )
    files: dict[str, Path | None] = {"roads": roads, "traffic": traffic, "weather": weather}
    for name, path in files.items():
        if path is not None:
            files[name] = require_file(path, name).resolve()
            register_file(name, path)
    limits = ServiceLimits.from_env()
    url = db or default_db_url()
    try:
        store = open_store(url)
    except StoreError as exc:  # one line, password redacted
        raise CliInputError(str(exc), fix="check --db (and that the database is running)") from None
    try:
        if store.backend == "sqlite":
            _check_sqlite_free(store)
    finally:
        store.close()
    if files["roads"] is not None or files["traffic"] or files["weather"]:
        from shipahead.cli.progress import step
        from shipahead.service.solver import resources

        with step("Loading road network and tables…"):
            resources(*(None if p is None else str(p) for p in files.values()))
    _check_port(host, port)
    settings = ServiceSettings(
        db=url,
        **files,  # roads, traffic, weather: resolved paths or None
        workers=workers,
        scheduler=scheduler,
        token=token,
        tiles=tiles,
        limits=limits,
    )
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"shipahead serve: http://{shown}:{port}/ (API docs /docs) · store {redact_url(url)} · "
        + (f"Dask scheduler {scheduler}" if scheduler else f"{workers} solver process(es)")
        + ("" if files["roads"] else " · no road network: problems must carry matrices")
        + (" · token required" if token else ""),
        err=True,
    )
    uvicorn.run(
        create_app(settings),
        host=host.strip("[]"),
        port=port,
        log_level="warning" if STATE.quiet else "info",
        access_log=not STATE.quiet,
        timeout_graceful_shutdown=10,
    )
