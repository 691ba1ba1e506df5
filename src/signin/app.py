"""The app factory: `create_app(settings)` wires every service from one `Settings`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from signin import __version__
from signin.services import Services, build_services
from signin.settings import Settings, load_settings
from signin.stores import migrate
from signin.stores.sql.health import probe_write
from signin.web import account, api, docs, errors, forward_auth, openapi, pages
from signin.web.accesslog import AccessLogMiddleware
from signin.web.errors import problem
from signin.web.fastpath import CHECKS, answer, is_fast, prepare
from signin.web.lastresort import guard, refusal_app
from signin.web.proxy import ProxyHeadersMiddleware
from signin.web.security import SecurityMiddleware, content_security_policy
from signin.web.serverproto import GuardedHttpToolsProtocol
from signin.web.templating import make_templates, services_of

log = logging.getLogger("signin")
STATIC = Path(__file__).parent / "web" / "static"


class SigninApp(FastAPI):
    """FastAPI, with session checks, forward-auth and sign-ins answered ahead of its stack.

    `fast` is `web/fastpath.answer` wrapped in the same outer layers (proxy headers, access
    log, security headers) as every other request; `create_app` builds both from one list.
    For those requests Starlette's error middleware, FastAPI's body-limit and telemetry hooks
    and the router are skipped (bench/FINDINGS.md), so they are not traced when OpenTelemetry
    is configured. A request `fastpath.prepare` turns down goes to FastAPI as usual.
    """

    fast: ASGIApp | None = None
    refusals: ASGIApp | None = None  # lastresort.refusal_app inside the edge

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.refusals is not None:
            await guard(self._dispatch, self.refusals, scope, receive, send)
        else:
            await self._dispatch(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast is not None and is_fast(scope):
            taken, receive = await prepare(scope, receive)
            if taken:
                scope["app"] = self  # as Starlette sets it: handlers find services and state here
                await self.fast(scope, receive, send)
                return
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
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(account.router)
    app.include_router(forward_auth.router)
    for extra_router in services.extras.get("routers", []):
        app.include_router(extra_router)
    docs.install(app)
    openapi.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_api_route("/healthz", healthz, methods=["GET"], tags=["ops"])
    app.add_api_route("/favicon.ico", favicon, methods=["GET"], include_in_schema=False)

    # form-action must admit where a sign-in may redirect to (browsers check the redirect too).
    csp = content_security_policy(services.redirects.csp_sources())
    # Outermost first: the proxy layer settles the client address the log shows.
    edge = [
        Middleware(ProxyHeadersMiddleware, trusted=settings.trusted_proxies),
        Middleware(AccessLogMiddleware, quiet=CHECKS),
        Middleware(SecurityMiddleware, csp=csp),
    ]
    app.user_middleware = list(edge)

    def inside_edge(inner: ASGIApp) -> ASGIApp:
        for cls, args, kwargs in reversed(edge):  # as Starlette builds its stack
            inner = cls(inner, *args, **kwargs)
        return inner

    app.refusals = inside_edge(refusal_app)
    if fast_paths:
        app.fast = inside_edge(answer)
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
    for name, probe in services.extras.get("health", {}).items():
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
    GuardedHttpToolsProtocol.head_seconds = float(settings.head_timeout_seconds)
    GuardedHttpToolsProtocol.max_connections = settings.max_connections
    return create_app(settings)
