"""The quickest way to run one point lookup on the engine at hand, or None: use SQLAlchemy.

SQLite in a file: `fastread.FastReader` (plain sqlite3 on the event loop). PostgreSQL through
asyncpg: `pgread.PgReader` (plain asyncpg connections). Either answers `MISS` when the caller
should take its ordinary path through SQLAlchemy instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.engine import on_asyncpg
from signin.stores.sql.fastread import MISS, FastReader

__all__ = ["MISS", "PointReader", "point_reader", "point_reads_closer"]


class PointReader(Protocol):
    async def read(self, **params: Any) -> Any: ...


def point_reader(engine: AsyncEngine, statement: sa.Select[Any]) -> PointReader | None:
    if FastReader.usable(engine):
        return FastReader(engine, statement)
    if not on_asyncpg(engine):
        return None
    # Imported here: asyncpg takes 0.15-0.2 s to import, which SQLite (and the CLI) never need.
    from signin.stores.sql.pgread import PgReader, PgReads

    reads = PgReads.shared(engine)
    return PgReader(reads, engine, statement) if reads is not None else None


def point_reads_closer(engine: AsyncEngine) -> Callable[[], Awaitable[None]] | None:
    """What ends `engine`'s plain PostgreSQL connections politely (services.close), if any."""
    if not on_asyncpg(engine):
        return None
    from signin.stores.sql.pgread import PgReads

    reads = PgReads.shared(engine)
    return reads.close if reads is not None else None
