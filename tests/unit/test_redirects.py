"""RedirectPolicy (SPEC 6): hostile targets refused even when signed; signatures; rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from typer.testing import CliRunner

from signin.accounts.redirects import RedirectPolicy, UnsafeRedirect
from signin.cli import app as cli_app
from signin.crypto.keys import KeyRing
from signin.crypto.signing import RedirectSigner

KEY = "k" * 40
OLD_KEY = "o" * 40
ALLOWED = ["app.example.com", "*.apps.example.org", "ops.example.net:8443"]

HOSTILE = [
    # another host by slashes and backslashes
    "//evil.com",
    "///evil.com",
    "//evil.com/welcome",
    "/\\evil.com",
    "\\\\evil.com",
    "/\\/evil.com",
    "https://evil.com\\@app.example.com/",
    # hosts that are not allowed, or look allowed
    "https://evil.com/",
    "https://evilapp.example.com/",
    "https://app.example.com.evil.com/",
    "https://apps.example.org/",
    "https://ops.example.net/",
    "https://ops.example.net:9443/",
    "https://app.example.com:99999/",
    "https://evil.com#@app.example.com",
    "https://evil.com?.app.example.com",
    "http://[::1]/",
    "https://2130706433/",
    # userinfo tricks
    "http://app.example.com@evil.com/",
    "https://app.example.com:443@evil.com",
    "https://user:pass@app.example.com/",
    "https://app.example.com%2F@evil.com",
    "https://app.example.com%2Eevil.com/",
    # schemes
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "ftp://app.example.com/",
    "https:evil.com",
    "https:/evil.com",
    "https:///evil.com",
    "welcome",
    "evil.com/welcome",
    "",
    # control characters, CRLF, whitespace
    "/welcome\r\nSet-Cookie: x=1",
    "/welcome\nLocation: https://evil.com",
    "/\t/evil.com",
    "/welcome\x00",
    " /welcome",
    "/welcome ",
    "\x0b//evil.com",
    "https://app.example.com/x\x7f",
    # percent-encoded tricks
    "/%2F%2Fevil.com",
    "/%2f%2fevil.com",
    "/%252F%252Fevil.com",
    "/%25252F%25252Fevil.com",
    "/%5Cevil.com",
    "/%5C%5Cevil.com",
    "/.%2F/evil.com",
    "/%09/evil.com",
    "/%E2%80%AE/moc.live",
    "/%E3%80%80%2F/evil.com",
    "/welcome%0d%0aSet-Cookie:x=1",
    "/welcome?next=%0d%0aSet-Cookie:x=1",
    "https://app.example.com/%2F%2Fevil.com",
    "/%C0%AFevil.com",
    # Unicode look-alikes and invisible characters
    "/\uff0fevil.com",
    "/\uff3cevil.com",
    "https://app.example.com\uff0eevil.com/",
    "https://app.example.com\u3002evil.com/",
    "https://\u0430pp.example.com/",
    "/\u202e/moc.live",
    "/\u200b/evil.com",
    "/welcome\u2028",
    "\u3000/welcome",
    # length
    "/" + "a" * 3000,
]

GOOD = [
    "/",
    "/welcome",
    "/welcome?tab=1&x=%2F",
    "/files/a%2Fb",
    "/docs/My%20File.pdf",
    "/wiki/Zo\u00eb",
    "/a/b#section-2",
    "/search?q=https://example.com/x",
    "https://auth.example.com/account",
    "https://auth.example.com:443/account",
    "https://AUTH.example.com/x",
    "https://app.example.com",
    "https://app.example.com/",
    "http://app.example.com:8080/x?y=1",
    "https://app.example.com./x",
    "https://a.apps.example.org/x",
    "https://a.b.apps.example.org/",
    "https://ops.example.net:8443/",
    "HTTPS://app.example.com/Case",
]


def policy(current: str = KEY, fallbacks: tuple[str, ...] = ()) -> RedirectPolicy:
    return RedirectPolicy(
        RedirectSigner(KeyRing(current, fallbacks)), "https://auth.example.com", ALLOWED
    )


def test_hostile_table_is_large() -> None:
    assert len(HOSTILE) >= 25


@pytest.mark.parametrize("target", HOSTILE)
def test_hostile_targets_are_refused_even_when_signed(target: str) -> None:
    redirects = policy()
    assert redirects.refusal(target) is not None
    with pytest.raises(UnsafeRedirect):
        redirects.sign(target)
    # A valid HMAC made by a leaked key or by mistake must not help.
    forged = redirects.signer.sign(target)
    assert redirects.verified(target, forged, "/welcome") == "/welcome"


@pytest.mark.parametrize("target", GOOD)
def test_good_targets_sign_and_verify(target: str) -> None:
    redirects = policy()
    assert redirects.refusal(target) is None, redirects.refusal(target)
    assert redirects.verified(target, redirects.sign(target), "/welcome") == target


def test_signature_is_unpadded_base64url_hmac_sha256_of_next() -> None:
    keys = KeyRing(KEY)
    mac = hmac.new(keys.derive("redirect"), b"/welcome", hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    assert policy().sign("/welcome") == expected
    assert "=" not in expected


@pytest.mark.parametrize(
    ("target", "signature"),
    [
        ("/welcome", None),
        ("/welcome", ""),
        ("/welcome", "not-a-signature"),
        ("/welcome", "\u00e9\u00e9\u00e9"),
        ("/account", "SIG_OF_WELCOME"),
        (None, "SIG_OF_WELCOME"),
    ],
)
def test_missing_or_wrong_signature_gives_the_default(
    target: str | None, signature: str | None
) -> None:
    redirects = policy()
    if signature == "SIG_OF_WELCOME":
        signature = redirects.sign("/welcome")
    assert redirects.verified(target, signature, "/default") == "/default"


def test_foreign_key_signature_gives_the_default() -> None:
    foreign = policy("f" * 40).sign("/welcome")
    assert policy().verified("/welcome", foreign, "/default") == "/default"


def test_fallback_keys_verify_and_the_current_key_signs() -> None:
    old_signature = policy(OLD_KEY).sign("/welcome")
    rotated = policy(KEY, (OLD_KEY,))
    assert rotated.verified("/welcome", old_signature, "/default") == "/welcome"
    assert rotated.sign("/welcome") == policy(KEY).sign("/welcome")
    assert policy(KEY).verified("/welcome", old_signature, "/default") == "/default"


def test_query_and_sign_in_link_keep_paths_readable() -> None:
    redirects = policy()
    assert redirects.query("/welcome") == f"next=/welcome&sig={redirects.sign('/welcome')}"
    link = redirects.sign_in_link("https://app.example.com/x?a=1&b=%2F")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "auth.example.com", "/sign-in")
    query = parse_qs(parts.query)
    assert query["next"] == ["https://app.example.com/x?a=1&b=%2F"]
    assert redirects.verified(query["next"][0], query["sig"][0], "/") == query["next"][0]


def test_refusal_reasons_name_the_problem() -> None:
    redirects = policy()
    assert "SIGNIN_ALLOWED_REDIRECT_HOSTS" in (redirects.refusal("https://evil.com/") or "")
    assert "user information" in (redirects.refusal("https://a@app.example.com/") or "")
    assert "//" in (redirects.refusal("//evil.com") or "")


def test_csp_sources_cover_allowed_hosts_and_ports() -> None:
    assert policy().csp_sources() == [
        "https://app.example.com:*",
        "http://app.example.com:*",
        "https://*.apps.example.org:*",
        "http://*.apps.example.org:*",
        "https://ops.example.net:8443",
        "http://ops.example.net:8443",
    ]


def test_own_ipv6_origin_is_same_origin() -> None:
    redirects = RedirectPolicy(RedirectSigner(KeyRing(KEY)), "http://[::1]:8000", [])
    assert redirects.is_safe("http://[::1]:8000/welcome")
    assert not redirects.is_safe("http://[::1]:8001/welcome")


# -- signin sign-url ----------------------------------------------------------------------


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {
        "SIGNIN_DATA_DIR": str(tmp_path / "data"),
        "SIGNIN_SECRET_KEY": KEY,
        "SIGNIN_PUBLIC_URL": "https://auth.example.com",
        "SIGNIN_ALLOWED_REDIRECT_HOSTS": ",".join(ALLOWED),
    }


@pytest.mark.parametrize("target", ["/welcome", "https://a.apps.example.org/x?y=1"])
def test_sign_url_prints_a_signed_sign_in_link(tmp_path: Path, target: str) -> None:
    result = CliRunner().invoke(cli_app, ["sign-url", target], env=cli_env(tmp_path))
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://auth.example.com/sign-in?next=")
    query = parse_qs(urlsplit(link).query)
    assert query["next"] == [target]
    assert policy().verified(target, query["sig"][0], "/default") == target


@pytest.mark.parametrize("target", ["https://evil.com/", "//evil.com", "javascript:alert(1)"])
def test_sign_url_refuses_with_one_line(tmp_path: Path, target: str) -> None:
    result = CliRunner().invoke(cli_app, ["sign-url", target], env=cli_env(tmp_path))
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: refused")
