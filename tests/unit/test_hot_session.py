"""The session check's hot path reads and writes exactly what the framework would (W1 work).

`cookie_value` stands in for Starlette's `request.cookies`, `scope_token` for
`request.headers` + cookies, and `session_json` for FastAPI's serialization of `SessionOut`:
each is held to the framework's own answer here, for any input.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.requests import Request, cookie_parser

from signin.settings import Settings
from signin.stores.base import SessionRecord, SessionUser
from signin.web.api import SessionOut, session_json
from signin.web.auth import scope_token
from signin.web.cookies import cookie_value
from tests.support import make_settings

NAMES = ["session", "__Host-session", "__Secure-session", "csrf", ""]
# Cookie text as browsers and strangers send it: quotes, `=`, spaces, empty names and values.
PIECE = st.lists(st.sampled_from([*'ab =";\\\t', "session", "x"]), max_size=8).map("".join)
HEADER = st.one_of(
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60),
    st.lists(st.tuples(st.sampled_from(NAMES), st.sampled_from(["=", "= ", " = ", ""]), PIECE)).map(
        lambda parts: ";".join(f"{name}{sep}{value}" for name, sep, value in parts)
    ),
)


@settings(max_examples=400, deadline=None)
@given(header=HEADER, name=st.sampled_from(NAMES[:3]))
def test_cookie_value_reads_as_starlette_does(header: str, name: str) -> None:
    assert cookie_value(header, name) == cookie_parser(header).get(name)


def _found(username: str, created: float, expires: float, two_factor: bool) -> SessionUser:
    record = SessionRecord(
        id="s1",
        user_id=1,
        created_at=created,
        last_seen=created,
        expires_at=expires,
        idle_seconds=None,
        remember=True,
        ip=None,
        user_agent=None,
        two_factor=two_factor,
    )
    return SessionUser(
        session=record, username=username, email=None, email_verified=False, disabled=False
    )


MOMENT = st.one_of(
    st.floats(min_value=0, max_value=4_000_000_000, allow_nan=False),
    st.integers(min_value=0, max_value=4_000_000_000).map(float),  # whole seconds: no fraction
)


@settings(max_examples=400, deadline=None)
@given(username=st.text(max_size=40), created=MOMENT, expires=MOMENT, two_factor=st.booleans())
def test_session_json_is_what_fastapi_would_send(
    username: str, created: float, expires: float, two_factor: bool
) -> None:
    model = SessionOut(
        username=username,
        created_at=datetime.fromtimestamp(created, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        two_factor=two_factor,
    )
    found = _found(username, created, expires, two_factor)
    assert session_json(found, expires) == model.model_dump_json().encode()


def _scope(headers: list[tuple[bytes, bytes]], scheme: str = "http") -> dict[str, object]:
    return {"type": "http", "scheme": scheme, "headers": headers}


def _framework_token(scope: dict[str, object], name: str) -> str | None:
    """What `presented_token` read through `Request` before the hot path had its own."""
    request = Request(scope)
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.cookies.get(name)


def test_scope_token_reads_bearer_then_the_first_cookie_header(tmp_path: Path) -> None:
    plain: Settings = make_settings(tmp_path / "a", cookie_secure="auto")
    cases = [
        [(b"authorization", b"Bearer  tok "), (b"cookie", b"session=c")],
        [(b"authorization", b"Basic abc"), (b"cookie", b"session=c")],
        [(b"authorization", b"bearer "), (b"cookie", b"a=1; session=c; session=d")],
        [(b"cookie", b"x=1"), (b"cookie", b"session=second")],
        [(b"cookie", b"session=first"), (b"cookie", b"x=1"), (b"cookie", b"session=last; y")],
        [(b"authorization", b"Bearer one"), (b"authorization", b"Bearer two")],
        [(b"cookie", b'session="quoted\\073"')],
        [(b"cookie", b"__Host-session=h; session=p")],
        [],
    ]
    for headers in cases:
        for scheme, name in (("http", "session"), ("https", "__Host-session")):
            scope = _scope(headers, scheme)
            assert scope_token(scope, plain) == _framework_token(scope, name), (headers, scheme)
    assert scope_token(_scope([(b"cookie", b"session=c")]), plain) == "c"
