"""The W1 floor: a bare FastAPI endpoint, served by the same uvicorn settings as `signin serve`.

It answers the session-check URL with a small JSON body and touches no database, cookie parser
or middleware: what is left is the cost of uvicorn + Starlette + FastAPI routing + JSON.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/api/v1/session")
async def session() -> dict[str, str]:
    return {"username": "floor", "created_at": "2026-01-01T00:00:00Z"}
