"""The scale-out stretch bar: a raw ASGI app, no framework at all, under `signin serve`'s uvicorn.

It answers every request with the small JSON body of a session check, reading nothing: what is
left is uvicorn's own cost (httptools parsing, uvloop, the ASGI calls) per request, the least a
Python session check served this way can cost.
"""

from __future__ import annotations

from typing import Any

BODY = b'{"username":"raw","created_at":"2026-01-01T00:00:00Z","expires_at":null}'
START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(BODY))],
}
END = {"type": "http.response.body", "body": BODY}


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":  # nothing to start or stop
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send(START)
    await send(END)
