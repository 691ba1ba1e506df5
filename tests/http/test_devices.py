"""SPEC section 5a against a real `signin serve` process and a real SMTP catcher: the owner gets
in, strangers stay out, on the pages and the API.

One server trusts 127.0.0.1 as a proxy, so each browser in a case is its own client by its
`X-Forwarded-For` address; every case uses fresh usernames and addresses.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections.abc import Iterator

import httpx
import pytest

from signin.accounts.usernames import canon
from tests.mailcatcher import MailCatcher, mail_catcher
from tests.support import ServerProcess, csrf_of, run_signin

pytestmark = pytest.mark.slow

PASSWORD = "Lattice-Quarry-Ember-58"
WRONG = "not-the-password-at-all"
LOCK = 60  # long enough to stay locked through a case
DEVICE_SECONDS = 3600
ADDRESSES = (f"198.18.{n // 250}.{n % 250 + 1}" for n in itertools.count())


class Site:
    def __init__(self, process: ServerProcess, catcher: MailCatcher) -> None:
        self.process, self.catcher = process, catcher

    def browser(self) -> httpx.AsyncClient:
        """A new browser (own cookie jar) at its own client address."""
        return httpx.AsyncClient(
            base_url=self.process.url, headers={"X-Forwarded-For": next(ADDRESSES)}, timeout=30
        )

    def cli(self, *args: str) -> tuple[int, str]:
        settings = {k: v for k, v in self.process.env.items() if k.startswith("SIGNIN_")}
        done = run_signin(settings, *args, timeout=60)
        return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("devices") / "data"
    with mail_catcher() as catcher:
        env = {
            "SIGNIN_DATA_DIR": str(data),
            "SIGNIN_LOCK_MAX_FAILURES": "3",
            "SIGNIN_LOCK_SECONDS": str(LOCK),
            "SIGNIN_IP_LOCK_MAX_FAILURES": "5",
            "SIGNIN_DEVICE_SECONDS": str(DEVICE_SECONDS),
            "SIGNIN_TRUSTED_PROXIES": "127.0.0.1",
            "SIGNIN_SMTP_URL": catcher.url,
            "SIGNIN_COOKIE_SECURE": "false",
        }
        process = ServerProcess(env).start()
        try:
            yield Site(process, catcher)
        finally:
            process.stop()


def fresh(stem: str) -> str:
    return f"{stem}_{secrets.token_hex(3)}"


async def sign_up(site: Site, username: str, email: str = "") -> None:
    async with site.browser() as http:
        body = {"username": username, "password": PASSWORD, **({"email": email} if email else {})}
        created = await http.post("/api/v1/users", json=body)
        assert created.status_code == 201, created.text


async def page_sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    form = await http.get("/sign-in")
    return await http.post(
        "/sign-in",
        data={"csrf_token": csrf_of(form.text), "username": username, "password": password},
    )


async def api_sign_in(
    http: httpx.AsyncClient, username: str, password: str, device_token: str | None = None
) -> httpx.Response:
    body: dict[str, str] = {"username": username, "password": password}
    if device_token is not None:
        body["device_token"] = device_token
    return await http.post("/api/v1/session", json=body)


async def lock_out(site: Site, username: str) -> None:
    """A stranger, from fresh addresses, locks `username` for every untrusted client."""
    for _ in range(3):
        async with site.browser() as stranger:
            assert (await api_sign_in(stranger, username, WRONG)).status_code == 401
    async with site.browser() as stranger:
        refused = await api_sign_in(stranger, username, PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(LOCK)


def device_cookie_of(response: httpx.Response) -> str:
    found = [c for c in response.headers.get_list("set-cookie") if c.startswith("device=")]
    assert len(found) == 1, response.headers.get_list("set-cookie")
    return found[0]


# -- owner in, stranger out --------------------------------------------------------------------


async def test_pages_owner_gets_in_while_a_stranger_keeps_the_name_locked(site: Site) -> None:
    name = fresh("ada")
    await sign_up(site, name)
    async with site.browser() as owner, site.browser() as new_browser:
        first = await page_sign_in(owner, name, PASSWORD)
        assert first.status_code == 303
        cookie = device_cookie_of(first)
        for attribute in ("HttpOnly", "SameSite=Lax", "Path=/", f"Max-Age={DEVICE_SECONDS}"):
            assert attribute in cookie
        await lock_out(site, name)
        # The stranger keeps going; the owner's browser gets in every time, with no 429.
        for _ in range(3):
            async with site.browser() as stranger:
                assert (await page_sign_in(stranger, name, WRONG)).status_code == 429
            again = await page_sign_in(owner, name.upper(), PASSWORD)
            assert again.status_code == 303
            assert (await owner.get("/welcome")).status_code == 200
        # A browser the account never used is an untrusted client like any other.
        refused = await page_sign_in(new_browser, name, PASSWORD)
        assert refused.status_code == 429
        assert "device" not in refused.cookies


async def test_api_gives_a_device_token_and_takes_it_back(site: Site) -> None:
    name = fresh("bea")
    await sign_up(site, name)
    async with site.browser() as program:
        created = await api_sign_in(program, name, PASSWORD)
        assert created.status_code == 201
        token = created.json()["device_token"]
        assert device_cookie_of(created).startswith(f"device={token}")
    await lock_out(site, name)
    async with site.browser() as program:  # no cookies: the token in the body alone
        assert (await api_sign_in(program, name, PASSWORD)).status_code == 429
        trusted = await api_sign_in(program, name, PASSWORD, token)
        assert trusted.status_code == 201
        assert trusted.json()["device_token"] != token  # a fresh proof every time
    async with site.browser() as browser:  # the cookie alone
        browser.cookies.set("device", token)
        assert (await api_sign_in(browser, name, PASSWORD)).status_code == 201


async def test_forged_and_foreign_proofs_are_untrusted(site: Site) -> None:
    victim, other = fresh("cyd"), fresh("dee")
    await sign_up(site, victim)
    await sign_up(site, other)
    async with site.browser() as http:
        mine = (await api_sign_in(http, victim, PASSWORD)).json()["device_token"]
        foreign = (await api_sign_in(http, other, PASSWORD)).json()["device_token"]
    await lock_out(site, victim)
    forged = mine[:-4] + ("AAAA" if not mine.endswith("AAAA") else "BBBB")
    for token in (foreign, forged, "garbage", "x" * 4000):
        async with site.browser() as http:
            refused = await api_sign_in(http, victim, PASSWORD, token)
            assert refused.status_code == 429, token
    async with site.browser() as http:
        http.cookies.set("device", foreign)
        assert (await page_sign_in(http, victim, PASSWORD)).status_code == 429


async def test_answers_do_not_tell_trusted_from_untrusted_or_known_from_unknown(
    site: Site,
) -> None:
    name = fresh("eve")
    await sign_up(site, name)
    async with site.browser() as http:
        token = (await api_sign_in(http, name, PASSWORD)).json()["device_token"]
    answers = []
    for username, proof in ((name, token), (name, None), (fresh("nobody"), None)):
        async with site.browser() as http:
            answers.append(await api_sign_in(http, username, WRONG, proof))
    first = answers[0]
    for answer in answers:
        assert answer.status_code == 401
        assert answer.content == first.content
        assert sorted(k for k in answer.headers if k != "date") == sorted(
            k for k in first.headers if k != "date"
        )
        assert "set-cookie" not in answer.headers


# -- the device's own lock ----------------------------------------------------------------------


async def test_a_device_locks_itself_and_the_cli_shows_and_clears_it(site: Site) -> None:
    name = fresh("fay")
    await sign_up(site, name)
    async with site.browser() as http:
        token = (await api_sign_in(http, name, PASSWORD)).json()["device_token"]
    await lock_out(site, name)
    async with site.browser() as http:
        assert [(await api_sign_in(http, name, WRONG, token)).status_code for _ in range(3)] == [
            401
        ] * 3
        # Locked proof: untrusted now, and the username is locked for untrusted clients.
        assert (await api_sign_in(http, name, PASSWORD, token)).status_code == 429
    status, listed = await asyncio.to_thread(site.cli, "locks", "list", "--locked")
    assert status == 0, listed
    shown = [
        cell.strip()
        for line in listed.splitlines()
        for cell in line.split("│")
        if cell.strip().startswith(f"device:{canon(name)}:")
    ]
    assert len(shown) == 1, listed
    assert canon(name) in listed  # the username's own (untrusted) lock is listed too
    status, cleared = await asyncio.to_thread(site.cli, "locks", "clear", shown[0])
    assert status == 0, cleared
    assert f"cleared {shown[0]}" in cleared
    async with site.browser() as http:
        assert (await api_sign_in(http, name, PASSWORD, token)).status_code == 201
    status, refused = await asyncio.to_thread(site.cli, "locks", "clear", f"device:{name}")
    assert status == 1
    assert refused.strip() == f"error: bad key 'device:{name}': a device key is device:USERNAME:ID"


async def test_a_trusted_browser_passes_its_locked_ip(site: Site) -> None:
    name = fresh("gus")
    await sign_up(site, name)
    async with site.browser() as owner:
        assert (await page_sign_in(owner, name, PASSWORD)).status_code == 303
        for n in range(5):
            assert (await api_sign_in(owner, fresh(f"x{n}"), WRONG)).status_code == 401
        owner_cookies = dict(owner.cookies)
        owner.cookies.clear()
        assert (await api_sign_in(owner, name, PASSWORD)).status_code == 429  # the IP is locked
        owner.cookies.update(owner_cookies)
        assert (await page_sign_in(owner, name, PASSWORD)).status_code == 303


# -- the lock mail ------------------------------------------------------------------------------


async def verified(site: Site, name: str) -> str:
    email = f"{name}@example.org"
    before = site.catcher.count()
    await sign_up(site, name, email)
    mail = site.catcher.wait_for(before + 1)[-1]
    async with site.browser() as http:
        confirmed = await http.get("/verify-email", params={"token": mail.token("/verify-email")})
        assert confirmed.status_code == 200
    return email


async def test_the_lock_mail_link_makes_the_browser_trusted_without_signing_in(
    site: Site,
) -> None:
    name = fresh("hal")
    email = await verified(site, name)
    before = len(site.catcher.to(email))
    await lock_out(site, name)
    for _ in range(100):  # sent in the background: at most 10 s
        if len(site.catcher.to(email)) > before:
            break
        await asyncio.sleep(0.1)
    mails = site.catcher.to(email)
    assert len(mails) == before + 1
    mail = mails[-1]
    assert mail.subject == "Sign-in attempts on your account were blocked"
    token = mail.token("/unlock")
    async with site.browser() as owner:
        # A mail scanner (or the owner) opening the link uses nothing up and sets no cookie.
        for _ in range(2):
            page = await owner.get("/unlock", params={"token": token})
            assert page.status_code == 200
            assert "set-cookie" not in page.headers or "device=" not in page.headers["set-cookie"]
            assert page.headers["referrer-policy"] == "no-referrer"
            assert 'action="/unlock"' in page.text
        no_csrf = await owner.post("/unlock", data={"token": token})
        assert no_csrf.status_code == 403
        confirmed = await owner.post(
            "/unlock", data={"csrf_token": csrf_of(page.text), "token": token}
        )
        assert confirmed.status_code == 200
        device_cookie_of(confirmed)
        assert (await owner.get("/api/v1/session")).status_code == 401  # not signed in
        used = await owner.post("/unlock", data={"csrf_token": csrf_of(page.text), "token": token})
        assert used.status_code == 400
        assert (await page_sign_in(owner, name, PASSWORD)).status_code == 303
    async with site.browser() as stranger:
        assert (await page_sign_in(stranger, name, PASSWORD)).status_code == 429
    # The lock runs on (and was only extended): no second mail.
    await lock_out_again(site, name)
    await asyncio.sleep(0.5)
    assert len(site.catcher.to(email)) == before + 1
    # The audit log (written by the server within a quarter-second) has the unlock.
    code, out = site.cli("audit", "--json", "--type", "device_unlocked", "--user", name)
    assert code == 0
    assert [json.loads(line)["username"] for line in out.splitlines()] == [name]


async def lock_out_again(site: Site, name: str) -> None:
    for _ in range(3):
        async with site.browser() as stranger:
            assert (await api_sign_in(stranger, name, WRONG)).status_code == 429


async def test_bad_unlock_links_answer_400(site: Site) -> None:
    async with site.browser() as http:
        for token in ("", "nonsense", "x" * 500):
            assert (await http.get("/unlock", params={"token": token})).status_code == 400


async def test_a_completed_reset_gives_the_browser_a_proof(site: Site) -> None:
    name = fresh("ivy")
    email = await verified(site, name)
    before = len(site.catcher.to(email))
    await lock_out(site, name)  # its lock mail is one more mail to this address
    async with site.browser() as owner:
        form = await owner.get("/forgot-password")
        asked = await owner.post(
            "/forgot-password", data={"csrf_token": csrf_of(form.text), "login": name}
        )
        assert asked.status_code == 200
        for _ in range(100):  # at most 10 s
            if any("/reset-password?" in mail.text() for mail in site.catcher.to(email)[before:]):
                break
            await asyncio.sleep(0.1)
        reset_mail = [m for m in site.catcher.to(email) if "/reset-password?" in m.text()][-1]
        opened = await owner.get(
            "/reset-password", params={"token": reset_mail.token("/reset-password")}
        )
        assert opened.status_code == 303
        form = await owner.get("/reset-password?basic=1")
        new_password = "Brand-New-Quarry-77"
        done = await owner.post(
            "/reset-password",
            data={
                "csrf_token": csrf_of(form.text),
                "token": reset_mail.token("/reset-password"),
                "password": new_password,
                "basic": "1",
            },
        )
        assert done.status_code == 303
        device_cookie_of(done)
        # The reset cleared the username's lock; the proof is what keeps a stranger's next
        # lock from shutting this browser out.
        await lock_out(site, name)
        assert (await page_sign_in(owner, name, new_password)).status_code == 303
