"""`/api/docs`: Swagger UI for `/api/openapi.json`, served from this origin (SPEC section 8).

The Swagger UI files come from the `fastapi-offline` package (MIT; it ships the swagger-ui dist
build), so the docs need no CDN and work offline. The page is our own template: it loads the
bundle and an external init script, because the CSP forbids inline script. Redoc is left out:
it injects `<style>` elements and starts a worker from a blob URL, both of which the CSP
forbids, and weakening the CSP for a docs page is not worth it.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from fastapi import APIRouter, FastAPI
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

ASSETS = "/api/docs/assets"
router = APIRouter(include_in_schema=False)


def swagger_dist() -> Path:
    """The directory holding swagger-ui-bundle.js and swagger-ui.css."""
    return Path(str(resources.files("fastapi_offline").joinpath("static")))


@router.get("/api/docs")
async def api_docs(request: Request) -> Response:
    templates = request.app.state.templates
    response: Response = templates.TemplateResponse(
        request,
        "api_docs.html",
        {"assets": ASSETS, "openapi_url": request.app.openapi_url},
    )
    return response


def install(app: FastAPI) -> None:
    """Add the docs page and its assets (the assets before any catch-all mount)."""
    app.include_router(router)
    app.mount(ASSETS, StaticFiles(directory=swagger_dist()), name="api-docs-assets")
