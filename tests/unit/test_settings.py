"""Settings: a bad value is one line naming the variable; `masked()` hides every secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from signin.settings import SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("SIGNIN_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SIGNIN_LOCK_MAX_FAILURES", "0"),
        ("SIGNIN_LOCK_MAX_FAILURES", "three"),
        ("SIGNIN_LOCK_SECONDS", "-5"),
        ("SIGNIN_LOCK_SECONDS", "1.5"),
        ("SIGNIN_LOCK_SECONDS", "99999999999999999999999"),
        ("SIGNIN_OIDC_REFRESH_TOKEN_SECONDS", str(10 * 366 * 86400 + 1)),
        ("SIGNIN_IP_LOCK_MAX_FAILURES", "0"),
        ("SIGNIN_SESSION_IDLE_SECONDS", "0"),
        ("SIGNIN_REMEMBER_SECONDS", "soon"),
        ("SIGNIN_COOKIE_SECURE", "maybe"),
        ("SIGNIN_SECRET_KEY", "too-short"),
        ("SIGNIN_SECRET_KEY_FALLBACKS", "x" * 40 + ",short"),
        ("SIGNIN_TRUSTED_PROXIES", "garbage"),
        ("SIGNIN_TRUSTED_PROXIES", "10.0.0.0/8,300.1.1.1"),
        ("SIGNIN_PUBLIC_URL", "ftp://example.com"),
        ("SIGNIN_PUBLIC_URL", "https://id.example.com/?x=1"),
        ("SIGNIN_PUBLIC_URL", "https://id.example.com/#top"),
        ("SIGNIN_PUBLIC_URL", "https://admin@id.example.com"),
        ("SIGNIN_DATABASE_URL", "mysql://x/y"),
        ("SIGNIN_ARGON2_MEMORY_KIB", "1"),
        ("SIGNIN_PASSWORD_MIN_LENGTH", "0"),
        ("SIGNIN_REQUIRE_EMAIL", "perhaps"),
        ("SIGNIN_ALLOWED_REDIRECT_HOSTS", "evil.com/path"),
        ("SIGNIN_LOG_LEVEL", "loud"),
        ("SIGNIN_DEFAULT_LANGUAGE", "tlh"),
    ],
)
def test_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    message = str(caught.value)
    assert message.startswith(variable + ": ")
    assert "\n" not in message
    assert "pydantic" not in message.lower()
    assert "errors.pydantic" not in message
    if variable.startswith("SIGNIN_SECRET"):
        assert value not in message  # never echo a secret


def test_idle_longer_than_max_names_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNIN_SESSION_IDLE_SECONDS", "100")
    monkeypatch.setenv("SIGNIN_SESSION_MAX_SECONDS", "50")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "SIGNIN_SESSION_IDLE_SECONDS must not exceed SIGNIN_SESSION_MAX_SECONDS"
    )


def test_defaults_match_the_spec() -> None:
    s = load_settings()
    assert s.data_dir == Path("data")
    assert s.database_url is None
    assert s.redis_url is None
    assert s.secret_key is None
    assert s.public_url == "http://127.0.0.1:8000"
    assert s.cookie_secure == "auto"
    assert s.trusted_proxies == []
    assert (s.lock_max_failures, s.lock_seconds, s.ip_lock_max_failures) == (3, 600, 20)
    assert (s.session_idle_seconds, s.session_max_seconds) == (7200, 43200)
    assert s.remember_seconds == 2592000
    assert (s.argon2_time_cost, s.argon2_memory_kib, s.argon2_parallelism) == (2, 19456, 1)
    assert s.mail_from == "signin@localhost"
    assert s.password_min_length == 8
    assert s.allowed_redirect_hosts == []
    assert s.require_email is False
    assert s.reset_token_seconds == 1800
    assert s.hash_queue >= 64


def test_values_are_parsed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNIN_TRUSTED_PROXIES", "10.0.0.1, 192.168.0.0/16,::1")
    monkeypatch.setenv("SIGNIN_COOKIE_SECURE", "TRUE")
    monkeypatch.setenv("SIGNIN_ALLOWED_REDIRECT_HOSTS", "App.Example.com,*.example.org")
    monkeypatch.setenv("SIGNIN_PUBLIC_URL", "https://id.example.com/")
    s = load_settings()
    assert [str(n) for n in s.trusted_proxies] == ["10.0.0.1/32", "192.168.0.0/16", "::1/128"]
    assert s.cookie_secure == "true"
    assert s.allowed_redirect_hosts == ["app.example.com", "*.example.org"]
    assert s.public_url == "https://id.example.com"


def test_dotenv_file_is_read(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("SIGNIN_LOCK_SECONDS=42\n")
    assert load_settings().lock_seconds == 42


def test_masked_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNIN_SECRET_KEY", "s3cr3t-" + "k" * 30)
    monkeypatch.setenv("SIGNIN_SECRET_KEY_FALLBACKS", "0ld-" + "f" * 30)
    monkeypatch.setenv("SIGNIN_DATABASE_URL", "postgresql://app:dbpass@db.example:5432/signin")
    monkeypatch.setenv("SIGNIN_REDIS_URL", "redis://:redispass@cache:6379/0")
    shown = load_settings().masked()
    text = repr(shown)
    for secret in ("s3cr3t-", "0ld-", "dbpass", "redispass"):
        assert secret not in text
    assert shown["SIGNIN_SECRET_KEY"] == "********"
    assert shown["SIGNIN_DATABASE_URL"] == "postgresql://app:****@db.example:5432/signin"
    assert "cache:6379" in shown["SIGNIN_REDIS_URL"]
    assert shown["SIGNIN_LOCK_MAX_FAILURES"] == "3"


def test_empty_secret_key_means_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNIN_SECRET_KEY", "")
    assert load_settings().secret_key is None
    monkeypatch.setenv("SIGNIN_DATABASE_URL", "")
    assert load_settings().database_url is None


def test_argon2_memory_must_cover_the_lanes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIGNIN_ARGON2_PARALLELISM", "4")
    monkeypatch.setenv("SIGNIN_ARGON2_MEMORY_KIB", "16")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("SIGNIN_ARGON2_MEMORY_KIB must be at least 8 x")
    monkeypatch.setenv("SIGNIN_ARGON2_MEMORY_KIB", "32")
    assert load_settings().argon2_memory_kib == 32


def test_unknown_signin_variables_are_named_in_one_line() -> None:
    from signin.unknown_settings import unknown_variables_warning

    environ = {
        "SIGNIN_LOCK_SECOND": "5",
        "SIGNIN_FROBNICATE": "1",
        "SIGNIN_LOCK_SECONDS": "5",
        "SIGNIN_TEST_REDIS_URL": "redis://x/1",
        "HOME": "/root",
    }
    line = unknown_variables_warning(environ)
    assert line == (
        "unknown setting ignored: SIGNIN_FROBNICATE, "
        "SIGNIN_LOCK_SECOND (did you mean SIGNIN_LOCK_SECONDS?)"
    )
    assert unknown_variables_warning({"SIGNIN_SIGNUP_LIMIT_PER_IP": "5"}) is None
