"""The app factory: `create_app(settings)` wires every service from one `Settings`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import sqlalchemy as sa
from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from signin import __version__
from signin.services import Services, build_services, services_of
from signin.settings import Settings, load_settings
from signin.stores import migrate
from signin.web import (
    account,
    activity,
    admin,
    api,
    docs,
    errors,
    forward_auth,
    metrics,
    pages,
    passkeys,
    two_factor,
)
from signin.web.edge import Dispatcher, build_edge, hot_table, quiet_pairs
from signin.web.errors import problem
from signin.web.security import content_security_policy
from signin.web.templating import make_templates

log = logging.getLogger("signin")
STATIC = Path(__file__).parent / "web" / "static"


class SigninApp(FastAPI):
    """FastAPI behind the one edge (web/edge.py); the app has no middleware of its own.

    Lifespan events go to FastAPI; every request goes through `edge`, which `create_app` builds
    once around a dispatcher that answers the hot routes itself and hands the rest to FastAPI.
    """

    edge: ASGIApp

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        else:
            await self.edge(scope, receive, send)

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        # Starlette's outermost layer answers a crash and then raises it again, past the edge;
        # the edge's security layer answers crashes itself, with the security headers.
        return stack.app if isinstance(stack, ServerErrorMiddleware) else stack

    async def routed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """FastAPI's own stack and router: where the dispatcher sends all but the hot routes."""
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings,
    *,
    services: Services | None = None,
    migrate_on_start: bool = False,
    fast_paths: bool = True,
) -> SigninApp:
    """The app; `fast_paths=False` sends every request through FastAPI's router (tests)."""
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
        services.audit.start()  # writes batches, prunes old events hourly (no cron)
        try:
            yield
        finally:
            await services.close()

    app = SigninApp(
        title="signin",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        description="Sign-up, sign-in, sessions and forward-auth. Errors are RFC 9457 problems.",
    )
    app.state.services = services
    app.state.templates = make_templates()
    errors.install(app)
    routers = [pages.router, api.router, account.router, forward_auth.router]
    routers += [activity.router, metrics.router, admin.router]
    routers += [two_factor.router, two_factor.api_router]
    routers += [passkeys.router, passkeys.pages]
    for router in routers:
        app.include_router(router)
    docs.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])

    # form-action must admit where a sign-in may redirect to (browsers check the redirect too).
    csp = content_security_policy(services.redirects.csp_sources())
    hot = hot_table(routers)
    app.edge = build_edge(
        Dispatcher(app, hot if fast_paths else {}, app.routed),
        trusted=settings.trusted_proxies,
        csp=csp,
        quiet=quiet_pairs(hot),
        metrics=services.metrics,
    )
    return app


async def healthz(request: Request) -> Response:
    """200 when the database (and Redis, when configured) answer; 503 otherwise."""
    services = services_of(request)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            async with services.engine.connect() as conn:
                await conn.execute(sa.text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure is "not healthy", never a 500
        checks["database"] = f"error: {type(exc).__name__}"
    for name, probe in services.health.items():
        try:
            async with asyncio.timeout(3):
                await probe()
            checks[name] = "ok"
        except Exception as exc:
            checks[name] = f"error: {type(exc).__name__}"
    if all(value == "ok" for value in checks.values()):
        return JSONResponse({"status": "ok", **checks})
    return problem(503, "A backing store does not answer.", code="unhealthy", checks=checks)


def serve_app() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment, schema already migrated."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosqlite logs every call with its SQL parameters at DEBUG: password hashes, token hashes.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    log.debug("settings: %s", " ".join(f"{k}={v}" for k, v in settings.masked().items()))
    return create_app(settings)
