"""`GET /metrics` (SPEC section 15): Prometheus text, for allowed networks or a bearer token.

Anyone else gets the plain 404 of an unknown page: the endpoint does not admit it exists.
"""

from __future__ import annotations

import hmac
import ipaddress

from fastapi import APIRouter
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from signin.services import services_of
from signin.settings import Settings
from signin.telemetry import CONTENT_TYPE
from signin.web.auth import client_ip

router = APIRouter(include_in_schema=False)


def allowed(settings: Settings, ip: str | None, authorization: str) -> bool:
    scheme, _, credentials = authorization.partition(" ")
    token = settings.metrics_token
    if (
        token
        and scheme.lower() == "bearer"
        and hmac.compare_digest(credentials.strip().encode(), token.encode())
    ):
        return True
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in settings.metrics_allow)


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    services = services_of(request)
    if not allowed(services.settings, client_ip(request), request.headers.get("authorization", "")):
        raise HTTPException(404)
    locks = await services.lockout.locks(locked_only=True)
    body = services.metrics.render(locks)
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
