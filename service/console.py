"""Pages served from the package, offline: the dispatcher console (``GET /``) and the API
docs (``/docs``, Swagger UI from swagger-ui-py's files)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from fastapi import FastAPI, Response
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["STATIC_DIR", "mount_console", "mount_docs"]

STATIC_DIR = Path(__file__).with_name("static")


def _swagger_folder() -> Path | None:
    """swagger-ui-py's folder of Swagger UI files, or None if it is not installed."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "static"
        if (candidate / "swagger-ui-bundle.js").is_file():
            return candidate
    return None


def mount_docs(app: FastAPI) -> None:
    """``/docs``: Swagger UI from the package's files (swagger-ui-py), no CDN."""
    folder = _swagger_folder()
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


def mount_console(app: FastAPI) -> None:
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
