"""A relying party for the integration tests: authlib's httpx client, and a no-JS browser that
signs in through signin's real /sign-in form (plaintext password) and answers the consent page."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from signin.accounts.oidc.clients import hash_secret
from tests.support import csrf_of

if TYPE_CHECKING:
    from authlib.integrations.httpx_client import AsyncOAuth2Client

SECRET = "rp-secret-" + "k" * 40
CALLBACK = "http://127.0.0.1:9/callback"  # never opened: the browser stops at the redirect
LOGOUT_RETURN = "http://127.0.0.1:9/signed-out"
PASSWORD = "correct horse battery"


def clients_toml() -> str:
    return f"""
[[client]]
id = "rp"
name = "Relying Party"
redirect_uris = ["{CALLBACK}"]
post_logout_redirect_uris = ["{LOGOUT_RETURN}"]
secret_hash = "{hash_secret(SECRET)}"
"""


def rp_client(scope: str = "openid profile email groups offline_access") -> AsyncOAuth2Client:
    with warnings.catch_warnings():
        # authlib 1.9 warns that its httpx client will move to the `httpx2` fork; httpx is what
        # this project uses, and the client works the same on it.
        warnings.filterwarnings("ignore", "The httpx module is deprecated")
        from authlib.integrations.httpx_client import AsyncOAuth2Client
    return AsyncOAuth2Client(
        client_id="rp",
        client_secret=SECRET,
        redirect_uri=CALLBACK,
        scope=scope,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    )


def query_of(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


async def browser_sign_in(browser: httpx.AsyncClient, authorize_url: str, username: str) -> str:
    """Open the authorization URL, sign in on the real page, consent; the callback URL."""
    first = await browser.get(authorize_url)
    assert first.status_code == 303, first.text
    # The link names SIGNIN_PUBLIC_URL; behind a load balancer that is any instance: stay on
    # the one the flow started on.
    sign_in_url = urljoin(authorize_url, "/" + first.headers["location"].split("/", 3)[3])
    assert "/sign-in?next=" in sign_in_url
    page = await browser.get(sign_in_url)
    fields = query_of(sign_in_url)
    signed_in = await browser.post(
        sign_in_url.split("?")[0],
        data={
            "csrf_token": csrf_of(page.text),
            "username": username,
            "password": PASSWORD,  # plaintext: the no-JS path
            "next": fields["next"],
            "sig": fields["sig"],
        },
    )
    assert signed_in.status_code == 303, signed_in.text
    back = await browser.get(urljoin(sign_in_url, signed_in.headers["location"]))
    if back.status_code == 200:  # the consent page
        blob = back.text.split('name="request" value="')[1].split('"')[0]
        base = sign_in_url.split("/sign-in")[0]
        back = await browser.post(
            base + "/oidc/consent",
            data={"csrf_token": csrf_of(back.text), "request": blob, "answer": "allow"},
        )
    assert back.status_code == 303, back.text
    location = back.headers["location"]
    assert location.startswith(CALLBACK), location
    return location


def urljoin(base: str, location: str) -> str:
    if location.startswith("/"):
        parts = urlsplit(base)
        return f"{parts.scheme}://{parts.netloc}{location}"
    return location


def verified_claims(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])  # type: ignore[arg-type]
    return dict(decoded.claims)
