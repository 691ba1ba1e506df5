"""Settings for several instances: database and Redis URLs, checked at start in one line."""

from __future__ import annotations

import pytest

from signin.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            "postgresql://u:p@db.example:5432/signin",
            "postgresql+asyncpg://u:p@db.example:5432/signin",
        ),
        ("postgres://db.example/signin", "postgresql+asyncpg://db.example/signin"),
        ("postgresql+asyncpg://db.example/signin", "postgresql+asyncpg://db.example/signin"),
        ("sqlite:////var/lib/signin/s.db", "sqlite+aiosqlite:////var/lib/signin/s.db"),
    ],
)
def test_database_urls_get_the_async_driver(given: str, expected: str) -> None:
    settings = load_settings(_env_file=None, database_url=given)
    assert settings.sqlalchemy_url == expected
    assert settings.is_sqlite is given.startswith("sqlite")


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/0", "redis://cache", "rediss://:secret@cache:6380/2"]
)
def test_redis_urls_accepted(url: str) -> None:
    assert load_settings(_env_file=None, redis_url=url).redis_url == url


def test_empty_redis_url_means_no_redis() -> None:
    assert load_settings(_env_file=None, redis_url="").redis_url is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cache:6379", "must look like redis://"),
        ("redis://", "must look like redis://"),
        ("redis://cache/sessions", "must be a number"),
    ],
)
def test_bad_redis_url_is_one_line_naming_the_variable(url: str, reason: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(_env_file=None, redis_url=url)
    message = str(caught.value)
    assert message.startswith("SIGNIN_REDIS_URL: ")
    assert reason in message
    assert "\n" not in message


def test_bad_database_url_names_the_variable() -> None:
    with pytest.raises(SettingsError, match=r"^SIGNIN_DATABASE_URL: must start with"):
        load_settings(_env_file=None, database_url="mysql://db/signin")


def test_redis_password_is_masked() -> None:
    shown = load_settings(_env_file=None, redis_url="redis://:hunter22@cache:6379/0").masked()
    assert "hunter22" not in shown["SIGNIN_REDIS_URL"]
    assert "cache:6379" in shown["SIGNIN_REDIS_URL"]
