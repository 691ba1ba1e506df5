"""Parallel test workers (pytest-xdist) each get a Redis database of their own."""

from __future__ import annotations

import pytest

from tests.backends import worker_redis_db

BASE = "redis://127.0.0.1:6379/12"


def test_without_xdist_the_base_database_is_used() -> None:
    assert worker_redis_db(BASE, None) == BASE
    assert worker_redis_db(BASE, "master") == BASE


def test_each_worker_gets_its_own_neighbouring_database() -> None:
    assert worker_redis_db(BASE, "gw0") == BASE
    assert worker_redis_db(BASE, "gw1") == "redis://127.0.0.1:6379/13"
    assert worker_redis_db(BASE, "gw2") == "redis://127.0.0.1:6379/14"


def test_from_the_last_database_workers_count_down() -> None:
    url = "redis://:pw@cache:6380/15"
    assert worker_redis_db(url, "gw0") == url
    assert worker_redis_db(url, "gw1") == "redis://:pw@cache:6380/14"


def test_a_url_without_a_database_starts_at_zero() -> None:
    assert worker_redis_db("redis://127.0.0.1:6379", "gw1") == "redis://127.0.0.1:6379/1"


def test_no_database_left_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no Redis database left for xdist worker gw16"):
        worker_redis_db("redis://127.0.0.1:6379/0", "gw16")
