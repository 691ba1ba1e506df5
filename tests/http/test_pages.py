"""SPEC section 3 pages: every route and status of /, /sign-up, /sign-in, /sign-out, /welcome."""

from __future__ import annotations

from pathlib import Path

import httpx
import sqlalchemy as sa

from signin.crypto.prehash import prehash_v1
from signin.settings import Settings
from tests.http.markup import alert_box, assert_field_problem, attributes
from tests.support import csrf_of, form_post, make_settings, running_app

PASSWORD = "correct horse battery"
GENERIC = "Wrong username or password."


async def sign_up(client: httpx.AsyncClient, username: str, **extra: str) -> httpx.Response:
    return await form_post(
        client, "/sign-up", {"username": username, "password": PASSWORD, **extra}
    )


async def sign_in(
    client: httpx.AsyncClient, username: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return await form_post(
        client, "/sign-in", {"username": username, "password": password, **extra}
    )


async def count_users(settings: Settings) -> int:
    engine = sa.create_engine(f"sqlite:///{settings.data_dir / 'signin.db'}")
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM users")).scalar_one())
    finally:
        engine.dispose()


async def test_home_redirects_by_state(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/sign-in"
    await sign_up(client, "alice")
    signed_in = await client.get("/")
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == "/welcome"


async def test_sign_up_form_fields(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-up")
    assert page.status_code == 200
    html = page.text
    for field in ('name="username"', 'name="email"', 'name="password"', 'name="csrf_token"'):
        assert field in html
    assert 'autocomplete="username"' in html
    assert 'autocomplete="new-password"' in html
    # The typed password inputs have no name: only the hidden pre-hash field is submitted.
    assert html.count('type="password"') == 2
    assert 'type="password" id="password-new" autocomplete' in html
    assert "<script>" not in html  # no inline script
    assert csrf_of(html)


async def test_sign_in_form_fields(client: httpx.AsyncClient) -> None:
    html = (await client.get("/sign-in")).text
    for field in ('name="username"', 'name="password"', 'name="remember"', 'name="csrf_token"'):
        assert field in html
    assert 'autocomplete="current-password"' in html
    assert "<script>" not in html


async def test_sign_up_success_signs_in(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await sign_up(client, "Zoë")
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"
    assert "session=" in response.headers["set-cookie"]
    welcome = await client.get("/welcome")
    assert welcome.status_code == 200
    assert "Welcome, Zoë!" in welcome.text
    assert await count_users(settings) == 1


async def test_sign_up_follows_signed_next(client: httpx.AsyncClient) -> None:
    query = client.app.state.services.redirects.query("/account")  # type: ignore[attr-defined]
    response = await form_post(
        client,
        f"/sign-up?{query}",
        {
            "username": "bob",
            "password": PASSWORD,
            "next": "/account",
            "sig": query.split("sig=")[1],
        },
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/account"


async def test_sign_up_ignores_unsigned_next(client: httpx.AsyncClient) -> None:
    response = await sign_up(client, "bob", next="/account", sig="forged")
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"


async def test_username_taken_is_409_also_by_canon(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await sign_up(client, "Straße")).status_code == 303
    client.cookies.clear()
    for other in ("Straße", "STRASSE", "strasse", "ＳＴＲＡＳＳＥ"):
        taken = await sign_up(client, other)
        assert taken.status_code == 409, other
        assert "username is taken" in taken.text
        assert f'value="{other}"' in taken.text  # typed username kept
    assert await count_users(settings) == 1


async def test_email_taken_is_409(client: httpx.AsyncClient) -> None:
    assert (await sign_up(client, "alice", email="a@example.com")).status_code == 303
    client.cookies.clear()
    taken = await sign_up(client, "bob", email="A@Example.com")
    assert taken.status_code == 409
    assert "already used" in taken.text


async def test_invalid_fields_are_422_with_every_problem(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await form_post(
        client, "/sign-up", {"username": "a b", "email": "not-an-email", "password": "short"}
    )
    assert response.status_code == 422
    html = response.text
    assert "Username may contain only" in html
    assert "Email address is not valid" in html
    assert "at least 8 characters" in html
    assert 'value="a b"' in html  # the typed username is kept
    assert 'value="not-an-email"' in html
    assert await count_users(settings) == 0


async def test_several_problems_of_one_field_are_all_shown(client: httpx.AsyncClient) -> None:
    response = await form_post(client, "/sign-up", {"username": "x!", "password": PASSWORD})
    assert response.status_code == 422
    assert "3 to 32 characters" in response.text
    assert "may contain only" in response.text


async def test_refused_passwords_are_422_on_both_paths(client: httpx.AsyncClient) -> None:
    for password in (
        "password",
        "Password",
        prehash_v1("carol", "password"),
        "carol",
        prehash_v1("carol", "Carol"),
    ):
        response = await form_post(client, "/sign-up", {"username": "Carol", "password": password})
        assert response.status_code == 422, password
        assert "too common" in response.text or "must not be the username" in response.text


async def test_typed_username_is_html_escaped(client: httpx.AsyncClient) -> None:
    response = await form_post(
        client, "/sign-up", {"username": '"><script>x</script>', "password": PASSWORD}
    )
    assert response.status_code == 422
    assert "<script>x</script>" not in response.text
    assert "&lt;script&gt;" in response.text or "&#34;&gt;&lt;script" in response.text


async def test_sign_in_success_and_other_case(client: httpx.AsyncClient) -> None:
    await sign_up(client, "Alice")
    client.cookies.clear()
    response = await sign_in(client, "ALICE")
    assert response.status_code == 303
    assert response.headers["location"] == "/welcome"
    assert "Welcome, Alice!" in (await client.get("/welcome")).text


async def test_plaintext_and_prehash_reach_the_same_account(client: httpx.AsyncClient) -> None:
    await sign_up(client, "dora")  # plaintext path: the server pre-hashes
    client.cookies.clear()
    by_prehash = await sign_in(client, "Dora", prehash_v1("DORA", PASSWORD))
    assert by_prehash.status_code == 303
    client.cookies.clear()
    # And the other way round: signed up with a pre-hash, signed in with the plaintext.
    await form_post(
        client, "/sign-up", {"username": "Emil", "password": prehash_v1("emil", PASSWORD)}
    )
    client.cookies.clear()
    assert (await sign_in(client, "emil", PASSWORD)).status_code == 303


async def test_wrong_password_and_unknown_user_are_the_same_401(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    client.cookies.clear()
    wrong = await sign_in(client, "alice", "not the password")
    unknown = await sign_in(client, "nobody", "not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert GENERIC in wrong.text
    assert GENERIC in unknown.text
    assert wrong.text.replace("alice", "X") == unknown.text.replace("nobody", "X").replace(
        csrf_of(unknown.text), csrf_of(wrong.text)
    )
    assert 'value="alice"' in wrong.text  # typed username kept
    assert "session" not in wrong.headers.get("set-cookie", "")


async def test_sign_out_get_confirms_and_post_ends_session(client: httpx.AsyncClient) -> None:
    await sign_up(client, "alice")
    confirm = await client.get("/sign-out")
    assert confirm.status_code == 200
    assert "Signed in as <strong>alice</strong>" in confirm.text
    assert 'action="/sign-out"' in confirm.text
    # GET changed nothing.
    assert (await client.get("/welcome")).status_code == 200
    old = client.cookies["session"]
    out = await client.post("/sign-out", data={"csrf_token": csrf_of(confirm.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/sign-in"
    assert 'session=""' in out.headers["set-cookie"] or "Max-Age=0" in out.headers["set-cookie"]
    # Replaying the old cookie after sign-out is anonymous.
    client.cookies.clear()
    client.cookies.set("session", old)
    replay = await client.get("/welcome")
    assert replay.status_code == 303
    assert replay.headers["location"].startswith("/sign-in?next=/welcome&sig=")
    me = await client.get("/api/v1/session", headers={"Authorization": f"Bearer {old}"})
    assert me.status_code == 401


async def test_sign_out_when_anonymous(client: httpx.AsyncClient) -> None:
    page = await client.get("/sign-out")
    assert "not signed in" in page.text
    out = await client.post("/sign-out", data={"csrf_token": csrf_of(page.text)})
    assert out.status_code == 303
    assert out.headers["location"] == "/sign-in"


async def test_welcome_anonymous_redirects_with_signed_next(client: httpx.AsyncClient) -> None:
    response = await client.get("/welcome")
    assert response.status_code == 303
    location = response.headers["location"]
    assert location.startswith("/sign-in?next=/welcome&sig=")
    # The signature is the server's own: following it and signing in lands on /welcome.
    await sign_up(client, "alice")
    client.cookies.clear()
    page = await client.get(location)
    assert 'name="next" value="/welcome"' in page.text
    sig = location.split("sig=")[1]
    back = await client.post(
        "/sign-in",
        data={
            "csrf_token": csrf_of(page.text),
            "username": "alice",
            "password": PASSWORD,
            "next": "/welcome",
            "sig": sig,
        },
    )
    assert back.status_code == 303
    assert back.headers["location"] == "/welcome"


async def test_welcome_escapes_username(tmp_path: Path) -> None:
    # Names are restricted, so escaping is checked with the closest legal character set.
    settings = make_settings(tmp_path / "d")
    async with running_app(settings) as client:
        await sign_up(client, "a.b_c-d")
        assert "Welcome, a.b_c-d!" in (await client.get("/welcome")).text


async def test_require_email_setting(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "d", require_email=True)
    async with running_app(settings) as client:
        missing = await sign_up(client, "alice")
        assert missing.status_code == 422
        assert "Email address is required" in missing.text
        assert (await sign_up(client, "alice", email="a@example.com")).status_code == 303


async def test_surrounding_spaces_are_refused_at_sign_up_not_at_sign_in(
    client: httpx.AsyncClient,
) -> None:
    """The browser pre-hashes the name as typed: silently storing "bob" for "bob " would make
    an account whose password never matches. So sign-up refuses; sign-in tolerates spaces."""
    refused = await form_post(
        client, "/sign-up", {"username": "bob ", "password": prehash_v1("bob ", PASSWORD)}
    )
    assert refused.status_code == 422
    assert 'value="bob "' in refused.text
    assert (await sign_up(client, "bob")).status_code == 303
    client.cookies.clear()
    assert (await sign_in(client, " bob ", PASSWORD)).status_code == 303


async def test_long_username_at_sign_in_fits_the_lock_table(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """fail_locks.key is VARCHAR(200): PostgreSQL refuses longer values (that was a 500)."""
    response = await client.post(
        "/api/v1/session", json={"username": "é" * 250, "password": "whatever"}
    )
    assert response.status_code == 401
    assert (await sign_in(client, "Ⅻ" * 3000, "whatever")).status_code == 401
    engine = sa.create_engine(f"sqlite:///{settings.data_dir / 'signin.db'}")
    try:
        with engine.connect() as conn:
            longest = conn.execute(sa.text("SELECT max(length(key)) FROM fail_locks")).scalar()
    finally:
        engine.dispose()
    assert longest is not None
    assert longest <= 128


async def test_an_empty_username_is_a_422_and_locks_nothing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    """Nothing typed is a mistake to point at, not a sign-in on the name "" (it locked "")."""
    for _ in range(4):
        page = await sign_in(client, "  ", "whatever")
        assert page.status_code == 422
        assert "Enter your username." in page.text
    api = await client.post("/api/v1/session", json={"username": "", "password": "whatever"})
    assert api.status_code == 422
    engine = sa.create_engine(f"sqlite:///{settings.data_dir / 'signin.db'}")
    try:
        with engine.connect() as conn:
            keys = conn.execute(sa.text("SELECT key FROM fail_locks")).scalars().all()
    finally:
        engine.dispose()
    assert [key for key in keys if not key.startswith("ip:")] == []


async def test_refused_fields_are_tied_to_their_inputs_and_announced(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/sign-up?basic=1")
    response = await form_post(
        client, "/sign-up", {"username": "x y", "password": "short", "basic": "1"}
    )
    assert response.status_code == 422
    html = response.text
    assert_field_problem(html, "username", "username", "Username may contain only")
    assert_field_problem(html, "password-new", "password", "at least 8 characters")
    # The first problem's input takes the focus; the others are left alone.
    assert "autofocus" in attributes(html, "username")
    assert "autofocus" not in attributes(html, "password-new")
    assert "aria-invalid" not in attributes(html, "email")
    # A first visit says nothing and marks nothing.
    fresh = (await client.get("/sign-up?basic=1")).text
    assert alert_box(fresh) is None
    assert "aria-invalid" not in attributes(fresh, "username")


async def test_a_refused_email_alone_takes_the_focus(client: httpx.AsyncClient) -> None:
    response = await form_post(
        client, "/sign-up", {"username": "zoe", "email": "not-an-email", "password": PASSWORD}
    )
    assert response.status_code == 422
    assert_field_problem(response.text, "email", "email", "Email address is not valid")
    assert "autofocus" in attributes(response.text, "email")
    assert "aria-invalid" not in attributes(response.text, "username")
