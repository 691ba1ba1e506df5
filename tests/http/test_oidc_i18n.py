"""The OpenID Connect pages a person reads (refusals, expired consent) in the reader's language;
what goes to the client application (redirect errors, JSON) stays as the RFCs name it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http.oidcflows import auth_params, oidc_app
from tests.support import form_post

GERMAN = {"Accept-Language": "de"}
NOT_REGISTERED = "Diese Anwendung ist bei diesem Anmeldedienst nicht registriert."


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        ("/oidc/authorize", {"client_id": "x", "redirect_uri": "http://x/"}, NOT_REGISTERED),
        (
            "/oidc/authorize",
            auth_params("app", redirect_uri="https://evil.example/callback"),
            "Diese Anwendung wollte zu einer Adresse zurückkehren, die sie nicht registriert hat.",
        ),
        ("/oidc/logout", {"client_id": "nope"}, NOT_REGISTERED),
    ],
    ids=["unknown-client", "foreign-redirect", "logout-unknown-client"],
)
async def test_refusal_pages_speak_the_readers_language(
    tmp_path: Path, path: str, params: dict[str, str], expected: str
) -> None:
    async with oidc_app(tmp_path) as (client, _):
        response = await client.get(path, params=params, headers=GERMAN)
        assert response.status_code == 400
        assert '<html lang="de" dir="ltr">' in response.text
        assert expected in response.text
        assert "not registered" not in response.text
        assert "asked to return" not in response.text


async def test_expired_consent_page_speaks_the_readers_language(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, _):
        client.headers["Accept-Language"] = "ar"
        response = await form_post(client, "/sign-in", {"request": "garbage"}, "/oidc/consent")
        assert response.status_code == 400
        assert '<html lang="ar" dir="rtl">' in response.text
        assert "expired" not in response.text
        assert "انتهت" in response.text
