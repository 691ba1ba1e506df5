"""`signin serve --certfile/--keyfile`: https straight from signin, for hosts without a proxy."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.proxies import self_signed
from tests.support import ServerProcess

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = self_signed(tmp)
    process = ServerProcess({"SIGNIN_DATA_DIR": str(tmp / "data")}, tls=(cert, key))
    process.env["SIGNIN_PUBLIC_URL"] = f"https://127.0.0.1:{process.port}"
    process.start()
    try:
        yield process
    finally:
        process.stop()


def test_sign_in_over_tls_sets_secure_host_cookie_and_hsts(server: ServerProcess) -> None:
    assert server.url.startswith("https://")
    with httpx.Client(base_url=server.url, verify=server.verify, timeout=15) as client:
        created = client.post("/api/v1/users", json={"username": "tls", "password": PASSWORD})
        assert created.status_code == 201
        assert created.headers["strict-transport-security"].startswith("max-age=")
        signed_in = client.post("/api/v1/session", json={"username": "tls", "password": PASSWORD})
        assert signed_in.status_code == 201
        cookie = signed_in.headers["set-cookie"]
        assert cookie.startswith("__Host-session=")
        assert "; secure" in cookie.lower()
        assert client.get("/api/v1/session").json()["username"] == "tls"


def test_plain_http_on_the_tls_port_gets_no_page(server: ServerProcess) -> None:
    with pytest.raises(httpx.HTTPError):
        httpx.get(server.url.replace("https://", "http://") + "/sign-in", timeout=5)


def test_a_client_that_does_not_trust_the_certificate_is_refused(server: ServerProcess) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/healthz", timeout=5)


def test_certificate_is_the_one_given(server: ServerProcess, tmp_path: Path) -> None:
    other, _ = self_signed(tmp_path)
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/healthz", verify=ssl.create_default_context(cafile=str(other)))
