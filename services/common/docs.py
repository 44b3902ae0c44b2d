"""`/docs` (Swagger UI) and `/redoc` served from files installed with the project, never a CDN.

FastAPI's own pages load Swagger UI, Redoc, a favicon and Google's fonts from public hosts, so on
a network without them (a government intranet) they stay blank. The assets here come from the
`fastapi-offline` package (MIT; it ships swagger-ui-dist 5 — Apache-2.0 — and Redoc 2's
standalone bundle — MIT — as released, with their licence headers), served under
`/docs/assets/`; the pages name only same-origin paths: the assets and the process's
`/openapi.json`. Swagger UI's validator badge, which calls a public validator, is off.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS = Path(fastapi_offline.__file__).parent / "static"
ASSETS_URL = "/docs/assets"
SWAGGER_PARAMETERS = {
    "validatorUrl": None,  # else a badge image from validator.swagger.io
    "persistAuthorization": True,
    "displayRequestDuration": True,
}


def install_docs(app: FastAPI, title: str, openapi_url: str = "/openapi.json") -> None:
    """Add `/docs`, `/redoc` and their assets to `app` (its FastAPI pages must be off)."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} — Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_URL}/favicon.png",
            swagger_ui_parameters=SWAGGER_PARAMETERS,
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} — ReDoc",
            redoc_js_url=f"{ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
