"""`/api/openapi.json` made exact: every status and media type the API really answers (SPEC 16).

FastAPI documents what the routes declare, plus a 422 as `application/json`. The edge answers
more than that, for every operation: 431 for a head over 16 KiB, 503 when a store does not
answer; and for every body: 400 (not JSON), 413 (over 64 KiB), 415 (not `application/json`),
422 (not the schema, or the rules). Every error is `application/problem+json` (RFC 9457).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Problem details (RFC 9457)",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
    },
    "additionalProperties": True,
}
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
EVERY_OPERATION = {
    431: "The request head is larger than 16 KiB",
    503: "A backing store does not answer, or the server is busy (see Retry-After)",
}
WITH_BODY = {
    400: "The body is not valid JSON",
    413: "The body is larger than 64 KiB",
    415: "The body is not application/json",
    422: "The body does not match the schema, or breaks a rule (each one listed in `errors`)",
}


def make_exact(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema FastAPI generated, with the edge's answers added and every error a problem."""
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422 body: never sent
        schemas.pop(name, None)
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            responses: dict[str, Any] = operation["responses"]
            added = {**EVERY_OPERATION, **(WITH_BODY if "requestBody" in operation else {})}
            for status, description in added.items():
                responses.setdefault(str(status), {"description": description})
            for code, response in responses.items():
                if code[0] in "45":
                    response["content"] = {"application/problem+json": {"schema": PROBLEM_REF}}
    return schema


def install(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = make_exact(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
