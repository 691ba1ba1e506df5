"""Property tests (hypothesis) of the headers signin parses: cookies and forwarded headers.

Any Cookie header, and any X-Forwarded-For/-Proto/-Host/-Uri from a trusted proxy, gets an
answer below 500 with the security headers, from the fast path and from the router alike.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support import make_settings, running_app

# Header values as a client may send them: visible latin-1, no CR/LF (the server splits there).
VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=120,
)
COOKIE = st.one_of(
    VALUE,
    st.lists(st.tuples(st.sampled_from(["session", "__Host-session", "csrf", "x"]), VALUE)).map(
        lambda pairs: "; ".join(f"{name}={value}" for name, value in pairs)
    ),
)
PATHS = ["/api/v1/session", "/api/v1/verify", "/welcome", "/sign-in", "/account"]


@pytest.fixture(scope="module")
def app_client(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[asyncio.AbstractEventLoop, httpx.AsyncClient]]:
    loop = asyncio.new_event_loop()
    data: Path = tmp_path_factory.mktemp("headers") / "data"
    trusted = [ipaddress.ip_network("203.0.113.0/24")]  # the test client's address
    context: AbstractAsyncContextManager[httpx.AsyncClient] = running_app(
        make_settings(data, trusted_proxies=trusted)
    )
    client = loop.run_until_complete(context.__aenter__())
    try:
        yield loop, client
    finally:
        loop.run_until_complete(context.__aexit__(None, None, None))
        loop.close()


def check(answer: httpx.Response) -> None:
    assert answer.status_code < 500, answer.text[:300]
    assert "default-src 'self'" in answer.headers["content-security-policy"]


PROPERTY = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY
@given(cookie=COOKIE, path=st.sampled_from(PATHS))
def test_any_cookie_header_is_answered_below_500(
    app_client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient], cookie: str, path: str
) -> None:
    loop, client = app_client
    headers = {"cookie": cookie.encode("latin-1")}
    answer = loop.run_until_complete(client.get(path, headers=headers))
    check(answer)


@PROPERTY
@given(
    forwarded=st.fixed_dictionaries(
        {},
        optional={
            "x-forwarded-for": VALUE,
            "x-forwarded-proto": st.one_of(VALUE, st.sampled_from(["http", "https"])),
            "x-forwarded-host": VALUE,
            "x-forwarded-uri": VALUE,
        },
    ),
    path=st.sampled_from(PATHS),
)
def test_any_forwarded_headers_from_a_trusted_proxy_are_answered_below_500(
    app_client: tuple[asyncio.AbstractEventLoop, httpx.AsyncClient],
    forwarded: dict[str, str],
    path: str,
) -> None:
    loop, client = app_client
    headers = {name: value.encode("latin-1") for name, value in forwarded.items()}
    answer = loop.run_until_complete(client.get(path, headers=headers))
    check(answer)
    # Redirects go to this service's own sign-in page, whatever the forwarded host says.
    location = answer.headers.get("location", "")
    assert urlsplit(location).hostname in (
        None,
        urlsplit(client.app.state.services.settings.public_url).hostname,
    )  # type: ignore[attr-defined]
