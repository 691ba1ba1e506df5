"""/api/docs: Swagger UI from this origin only (no CDN), no inline script, the schema it shows."""

from __future__ import annotations

import re

import httpx

ASSET_RE = re.compile(r'(?:src|href)="([^"]+)"')


async def test_docs_page_uses_only_same_origin_assets(client: httpx.AsyncClient) -> None:
    page = await client.get("/api/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assets = ASSET_RE.findall(page.text)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/"), asset
        assert not asset.startswith("//"), asset
        fetched = await client.get(asset)
        assert fetched.status_code == 200, asset
        assert len(fetched.content) > 100
    # Every <script> has a src: the CSP allows no inline script, and this page needs none.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.S)
    assert scripts
    assert all('src="' in attrs and not body.strip() for attrs, body in scripts)
    assert 'data-openapi-url="/api/openapi.json"' in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe" not in csp


async def test_docs_assets_are_cacheable_and_typed(client: httpx.AsyncClient) -> None:
    js = await client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert js.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert js.headers.get("cache-control") != "no-store"
    assert js.headers["x-content-type-options"] == "nosniff"
    init = await client.get("/static/js/api-docs.js")
    assert init.status_code == 200
    assert "SwaggerUIBundle" in init.text


async def test_openapi_lists_every_api_route(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/api/openapi.json")).json()
    assert schema["openapi"].startswith("3.")
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert {
        ("/api/v1/users", "post"),
        ("/api/v1/session", "post"),
        ("/api/v1/session", "get"),
        ("/api/v1/session", "delete"),
        ("/api/v1/session/two-factor", "post"),
        ("/healthz", "get"),
    } <= operations
    second_step = schema["paths"]["/api/v1/session"]["post"]["responses"]["202"]
    assert "two_factor_required" in str(schema["components"]["schemas"]["TwoFactorRequired"])
    assert second_step["description"].startswith("A second factor is due")
    assert all(not path.startswith(("/sign-", "/welcome", "/static")) for path, _ in operations)
    # Error answers are documented as problem+json.
    conflict = schema["paths"]["/api/v1/users"]["post"]["responses"]["409"]
    assert "application/problem+json" in conflict["content"]
