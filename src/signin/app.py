"""The app factory: `create_app(settings)` wires every service from one `Settings`."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from signin import __version__
from signin.services import Services, build_services, services_of
from signin.settings import Settings, load_settings
from signin.stores import migrate
from signin.stores.sql.health import probe_write
from signin.web import (
    account,
    activity,
    admin,
    api,
    docs,
    errors,
    forward_auth,
    metrics,
    oidc,
    oidc_logout,
    oidc_tokens,
    openapi,
    pages,
    passkeys,
    two_factor,
)
from signin.web.edge import Dispatcher, build_edge, hot_table, quiet_pairs
from signin.web.errors import problem
from signin.web.lastresort import guard, refusal_app
from signin.web.security import content_security_policy
from signin.web.serverproto import GuardedHttpToolsProtocol
from signin.web.templating import make_templates

log = logging.getLogger("signin")
STATIC = Path(__file__).parent / "web" / "static"


class SigninApp(FastAPI):
    """FastAPI behind the one edge (web/edge.py); the app has no middleware of its own.

    Lifespan events go to FastAPI; every request goes through `edge`, which `create_app` builds
    once around a dispatcher that answers the hot routes itself and hands the rest to FastAPI.
    """

    edge: ASGIApp
    refusals: ASGIApp  # lastresort.refusal_app inside the same edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await super().__call__(scope, receive, send)
        elif scope["type"] == "http":
            # Nothing escapes to the ASGI server bare; heads over 16 KiB get 431 (SPEC 16).
            await guard(self.edge, self.refusals, scope, receive, send)
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
    settle_heap: bool = False,
) -> SigninApp:
    """The app; `fast_paths=False` sends every request through FastAPI's router (tests).

    `settle_heap` (a server process's one app, `serve_app`): once started, set what start-up
    made aside from the garbage collector (`settle`).
    """
    services = services or build_services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await asyncio.to_thread(migrate.upgrade, settings.sqlalchemy_url)
        services.audit.start()  # writes batches, prunes old events hourly (no cron)
        if settle_heap:
            settle()
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
        # The router's trailing-slash redirect builds its Location from the Host header
        # (`Host: evil.example` sent a 307 there): a path with a stray slash is a 404 instead.
        redirect_slashes=False,
    )
    app.state.services = services
    app.state.templates = make_templates()
    errors.install(app)
    routers = [pages.router, api.router, account.router, forward_auth.router]
    routers += [activity.router, metrics.router, admin.router]
    routers += [two_factor.router, two_factor.api_router]
    routers += [passkeys.router, passkeys.pages]
    routers += [oidc.router, oidc_tokens.router, oidc_logout.router]
    for router in routers:
        app.include_router(router)
    docs.install(app)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)

    # form-action must admit where a sign-in may redirect to (browsers check the redirect too).
    # The OIDC clients' return addresses too: a sign-in or consent post ends there.
    csp = content_security_policy(services.redirects.csp_sources() + services.oidc.form_targets())
    hot = hot_table(routers)
    app.edge = build_edge(
        Dispatcher(app, hot if fast_paths else {}, app.routed),
        trusted=settings.trusted_proxies,
        csp=csp,
        quiet=quiet_pairs(hot),
        metrics=services.metrics,
    )
    app.refusals = build_edge(refusal_app, trusted=settings.trusted_proxies, csp=csp)
    return app


async def favicon(request: Request) -> Response:
    """Browsers ask for it on every first page view; a 404 there filled logs with noise."""
    return FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "public, max-age=86400"})


async def healthz(request: Request) -> Response:
    """200 when the database takes a write (and Redis, when configured, answers); else 503."""
    services = services_of(request)
    checks: dict[str, str] = {}
    try:
        async with asyncio.timeout(3):
            await probe_write(services.engine, services.settings.data_dir, services.clock())
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


def settle() -> None:
    """Keep the garbage collector's pauses out of the request path (bench/FINDINGS-scaleout.md, S8).

    CPython's full collection walks every object it tracks. Imports, services and templates
    leave about 180,000 that live as long as the process; walking them took 150-250 ms on
    the bench machine, a pause for every request in flight. `gc.freeze` moves them to a
    generation the collector never visits.

    A young collection runs whenever 700 more tracked objects exist than before (CPython's
    default). A check that awaits Redis keeps its coroutine, request and future alive across
    the await, so 32 checks in flight pass that mark many times a second and every collection
    promotes them to an older generation, which then fills and is walked in full. The checks
    make no reference cycles, so the mark is raised to 20,000: cycles made elsewhere are
    still collected, after a few MB instead of a few hundred KB.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000)


def serve_app() -> FastAPI:
    """Factory for uvicorn workers: settings from the environment, schema already migrated."""
    settings = load_settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosqlite logs every call with its SQL parameters at DEBUG: password hashes, token hashes.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    log.debug("settings: %s", " ".join(f"{k}={v}" for k, v in settings.masked().items()))
    GuardedHttpToolsProtocol.head_seconds = float(settings.head_timeout_seconds)
    GuardedHttpToolsProtocol.max_connections = settings.max_connections
    return create_app(settings, settle_heap=True)
