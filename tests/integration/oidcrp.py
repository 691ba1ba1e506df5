"""The world tests/integration/test_oidc_rp.py runs in: clients, people, the provider, the RP run.

A `signin serve` on SQLite with a clients file (one client added by `signin oidc clients add`,
the rest written as TOML), three people (verified email and groups; unverified, no groups; a
second factor with recovery codes), and `run_rp`, which runs the Node relying party
(`oidc_rp/rp.mjs`, npm openid-client) for one client and person and returns its report.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from signin.accounts.factors import totp
from tests.integration.test_two_instances_users import verification_path
from tests.support import ServerProcess, csrf_of, free_port, need, run_signin

RP_DIR = Path(__file__).parent / "oidc_rp"
OPENID_CLIENT = RP_DIR / "node_modules" / "openid-client" / "package.json"
PASSWORD = "a long passphrase for oidc"
RP = "https://rp.example.test"
ALL_SCOPES = "openid profile email groups offline_access"
FULL_FLOW = ["discovery", "code", "jwks", "userinfo", "refresh", "reuse", "silent", "revoke"]
FULL_FLOW += ["prompt_login", "logout"]


@dataclass(frozen=True)
class RpClient:
    """One `[[client]]` of the clients file and how the RP authenticates as it."""

    id: str
    auth: str  # client_secret_basic, client_secret_post or none
    consent: str = "skip"
    groups: tuple[str, ...] | None = None
    alg: str = "RS256"
    secret: str | None = None
    two_factor: bool = False
    by_cli: bool = False  # made by `signin oidc clients add`, which prints the secret once

    @property
    def redirect_uri(self) -> str:
        return f"{RP}/{self.id}/callback"

    @property
    def post_logout_redirect_uri(self) -> str:
        return f"{RP}/{self.id}/signed-out"

    def cli(self) -> list[str]:
        """`signin oidc clients add` arguments for this client (confidential, RS256)."""
        args = ["oidc", "clients", "add", self.id, "--name", f"Test app {self.id}"]
        args += ["--redirect-uri", self.redirect_uri]
        args += ["--post-logout-uri", self.post_logout_redirect_uri]
        args += ["--auth-method", self.auth, "--consent", self.consent, "--offline-access"]
        return args

    def toml(self) -> str:
        lines = [
            "[[client]]",
            f'id = "{self.id}"',
            f'name = "Test app {self.id}"',
            f'redirect_uris = ["{self.redirect_uri}"]',
            f'post_logout_redirect_uris = ["{self.post_logout_redirect_uri}"]',
            f'token_endpoint_auth_method = "{self.auth}"',
            f'consent = "{self.consent}"',
            "offline_access = true",
        ]
        if self.secret is not None:
            # The format `signin oidc clients add` writes: SHA-256 of the generated secret.
            digest = hashlib.sha256(self.secret.encode()).hexdigest()
            lines.append(f'secret_hash = "sha256:{digest}"')
        if self.groups is not None:
            lines.append(f"groups = {json.dumps(list(self.groups))}")
        if self.two_factor:
            lines.append("require_two_factor = true")
        if self.alg != "RS256":
            lines.append(f'id_token_signed_response_alg = "{self.alg}"')
        return "\n".join(lines) + "\n"


BASIC = RpClient("wiki", "client_secret_basic", consent="remember", by_cli=True)
POST = RpClient("grafana", "client_secret_post", alg="ES256", secret=secrets.token_urlsafe(32))
PUBLIC = RpClient("spa", "none", consent="remember")
ADMINS_ONLY = RpClient("backup", "client_secret_basic", groups=("admins",), secret="s" * 43)
SECURE = RpClient("vault", "client_secret_basic", secret=secrets.token_urlsafe(32), two_factor=True)
CLIENTS = (BASIC, POST, PUBLIC, ADMINS_ONLY, SECURE)
SECRET_RE = re.compile(r"data-totp-secret>([A-Z2-7]+)<")
RECOVERY_RE = re.compile(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>")


@dataclass(frozen=True)
class Provider:
    server: ServerProcess
    issuer: str
    emails: dict[str, str]
    recovery_codes: list[str]
    secrets: dict[str, str]


def enrol_second_factor(issuer: str, username: str) -> list[str]:
    """Sign in through the pages, turn TOTP on at /account/two-factor; the recovery codes."""
    with httpx.Client(base_url=issuer) as http:
        signed_in = form_post_sync(http, "/sign-in", {"username": username, "password": PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        page = http.get("/account/two-factor")
        began = http.post("/account/two-factor/begin", data={"csrf_token": csrf_of(page.text)})
        assert began.status_code == 303
        page = http.get("/account/two-factor")
        match = SECRET_RE.search(page.text)
        assert match, page.text
        code = totp.code_at(match.group(1), totp.step_at(time.time()))
        done = http.post(
            "/account/two-factor/confirm", data={"csrf_token": csrf_of(page.text), "code": code}
        )
        assert done.status_code == 200, done.text
        codes = RECOVERY_RE.findall(done.text)
        assert len(codes) == 10
        return codes


def form_post_sync(http: httpx.Client, page: str, data: dict[str, str]) -> httpx.Response:
    got = http.get(page)
    return http.post(page, data={"csrf_token": csrf_of(got.text), **data})


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    need(shutil.which("node") is not None, "node (runs the openid-client relying party)")
    need(
        OPENID_CLIENT.exists(),
        "openid-client for the relying party (npm ci --prefix tests/integration/oidc_rp)",
    )
    folder = tmp_path_factory.mktemp("oidc-rp")
    clients = folder / "clients.toml"
    clients.write_text("\n".join(client.toml() for client in CLIENTS if not client.by_cli))
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        "SIGNIN_DATA_DIR": str(folder / "data"),
        "SIGNIN_PUBLIC_URL": issuer,
        "SIGNIN_OIDC_CLIENTS": str(clients),
        "SIGNIN_COOKIE_SECURE": "false",
    }
    cli_secrets = {c.id: add_by_cli(env, c) for c in CLIENTS if c.by_cli}
    server = ServerProcess(env, port=port, log_path=folder / "server.log").start()
    try:
        emails = {"alice": "alice@example.org", "bob": "bob@example.org", "carol": "c@example.org"}
        with httpx.Client(base_url=issuer) as http:
            for name, email in emails.items():
                made = http.post(
                    "/api/v1/users", json={"username": name, "password": PASSWORD, "email": email}
                )
                assert made.status_code == 201, made.text
            # alice and carol confirm their addresses; bob never does.
            for name in ("alice", "carol"):
                opened = http.get(verification_path(folder / "data", emails[name]))
                assert opened.status_code in (200, 303)
        grouped = run_signin(env, "users", "groups", "alice", "--add", "staff", "--add", "dev")
        assert grouped.returncode == 0, grouped.stderr
        yield Provider(server, issuer, emails, enrol_second_factor(issuer, "carol"), cli_secrets)
    finally:
        server.stop()


def add_by_cli(env: dict[str, str], client: RpClient) -> str:
    """Add `client` to the clients file with the CLI; the secret it prints (once)."""
    added = run_signin(env, *client.cli())
    assert added.returncode == 0, added.stderr
    found = re.search(r"^client_secret: (\S+)$", added.stdout, re.MULTILINE)
    assert found, added.stdout
    assert found.group(1) not in Path(env["SIGNIN_OIDC_CLIENTS"]).read_text()  # only a hash
    return found.group(1)


def run_rp(provider: Provider, client: RpClient, username: str, **extra: Any) -> dict[str, Any]:
    """Run rp.mjs for one client and one person; its JSON report."""
    secret = provider.secrets.get(client.id, client.secret)
    scenario = {
        "issuer": provider.issuer,
        "client": {"id": client.id, "secret": secret, "auth": client.auth},
        "redirect_uri": client.redirect_uri,
        "post_logout_redirect_uri": client.post_logout_redirect_uri,
        "scope": ALL_SCOPES,
        "username": username,
        "password": PASSWORD,
        **extra,
    }
    path = Path(provider.server.env["SIGNIN_DATA_DIR"]).parent / f"scenario-{client.id}.json"
    path.write_text(json.dumps(scenario))
    done = subprocess.run(
        ["node", "rp.mjs", str(path)], cwd=RP_DIR, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report
