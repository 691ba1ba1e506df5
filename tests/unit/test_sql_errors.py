"""Which database faults count as "unavailable" (503 + Retry-After) rather than bugs (500)."""

from __future__ import annotations

import sqlalchemy as sa

from signin.stores.sql.base import is_unavailable


def test_pool_timeout_counts_as_unavailable() -> None:
    assert is_unavailable(sa.exc.TimeoutError("QueuePool limit of size 8 overflow 8 reached"))


def test_locked_database_counts_as_unavailable() -> None:
    locked = sa.exc.OperationalError("INSERT ...", {}, Exception("database is locked"))
    assert is_unavailable(locked)


def test_bugs_and_conflicts_are_not_unavailable() -> None:
    assert not is_unavailable(ValueError("a bug"))
    duplicate = sa.exc.IntegrityError("INSERT ...", {}, Exception("UNIQUE constraint failed"))
    assert not is_unavailable(duplicate)
