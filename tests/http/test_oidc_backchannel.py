"""Back-channel logout: a sign-out makes signin POST a signed logout token to the app's
registered address (a real HTTP server here), naming the session the app's ID token named."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.jwk import KeySet

from signin.accounts.oidc.backchannel import EVENT
from signin.accounts.oidc.clients import hash_secret
from tests.http.oidcflows import CALLBACK, SECRET, code_for, exchange, oidc_app, sign_up
from tests.support import csrf_of, free_port


@contextmanager
def receiver() -> Iterator[tuple[str, list[dict[str, list[str]]]]]:
    """A loopback HTTP server that keeps every form body POSTed to it."""
    received: list[dict[str, list[str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(parse_qs(self.rfile.read(length).decode()))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}/backchannel", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def wait_for(received: list[dict[str, list[str]]], count: int) -> None:
    deadline = time.monotonic() + 10
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(received) >= count


async def test_sign_out_sends_a_logout_token_to_the_app(tmp_path: Path) -> None:
    with receiver() as (address, received):
        clients = tmp_path / "bc.toml"
        clients.write_text(
            f'[[client]]\nid = "bc"\nredirect_uris = ["{CALLBACK}"]\nconsent = "skip"\n'
            f'secret_hash = "{hash_secret(SECRET)}"\nbackchannel_logout_uri = "{address}"\n',
            encoding="utf-8",
        )
        async with oidc_app(tmp_path, oidc_clients=clients) as (client, services):
            doc = (await client.get("/.well-known/openid-configuration")).json()
            assert doc["backchannel_logout_supported"] is True
            await sign_up(client)
            body = (await exchange(client, await code_for(client, "bc"), "bc")).json()
            jwks = KeySet.import_key_set((await client.get("/oidc/jwks")).json())
            id_claims = jwt.decode(body["id_token"], jwks, algorithms=["RS256"]).claims
            page = await client.get("/sign-out")
            await client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
            await services.oidc.backchannel.drain()
            wait_for(received, 1)
            token = received[0]["logout_token"][0]
            decoded = jwt.decode(token, jwks, algorithms=["RS256"])
            assert decoded.header["typ"] == "logout+jwt"
            claims = decoded.claims
            assert claims["aud"] == "bc"
            assert claims["sub"] == id_claims["sub"]
            assert claims["sid"] == id_claims["sid"]
            assert EVENT in claims["events"]
            assert "nonce" not in claims
            # Ending every session of the user tells the app too, and ends its tokens.
            await sign_up_again(client)
            await exchange(client, await code_for(client, "bc"), "bc")
            user = await services.users.by_canon("alice")
            assert user is not None
            await services.sessions.end_all(user.id)
            await services.oidc.backchannel.drain()
            wait_for(received, 2)


async def sign_up_again(client) -> None:  # type: ignore[no-untyped-def]
    from tests.http.oidcflows import PASSWORD

    page = await client.get("/sign-in")
    signed = await client.post(
        "/sign-in",
        data={"csrf_token": csrf_of(page.text), "username": "alice", "password": PASSWORD},
    )
    assert signed.status_code == 303
