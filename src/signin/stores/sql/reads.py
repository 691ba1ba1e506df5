"""The quickest way to run one point lookup on the engine at hand, or None: use SQLAlchemy.

SQLite in a file: `fastread.FastReader` (plain sqlite3 on the event loop). PostgreSQL through
asyncpg: `pgread.PgReader` (plain asyncpg connections). Either answers `MISS` when the caller
should take its ordinary path through SQLAlchemy instead.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.engine import on_asyncpg
from signin.stores.sql.fastread import MISS, FastReader

if TYPE_CHECKING:
    from signin.stores.sql.pgread import PgReads

__all__ = ["MISS", "PointReader", "point_reader", "point_reads_closer"]


class PointReader(Protocol):
    async def read(self, **params: Any) -> Any: ...


def point_reader(engine: AsyncEngine, statement: sa.Select[Any]) -> PointReader | None:
    if FastReader.usable(engine):
        return FastReader(engine, statement)
    reads = _pg_reads(engine)
    if reads is None:
        return None
    from signin.stores.sql.pgread import PgReader

    return PgReader(reads, engine, statement)


def point_reads_closer(engine: AsyncEngine) -> Callable[[], Awaitable[None]] | None:
    """What ends `engine`'s plain PostgreSQL connections politely (services.close), if any:
    the readers' and the writers' (pgwrite.py)."""
    reads = _pg_reads(engine)
    if reads is None:
        return None
    from signin.stores.sql.pgwrite import PgWrites

    writes = PgWrites.shared(engine)

    async def close() -> None:
        await reads.close()
        if writes is not None:
            await writes.close()

    return close


def _pg_reads(engine: AsyncEngine) -> PgReads | None:
    if not on_asyncpg(engine):
        return None
    # Imported here: asyncpg takes 0.15-0.2 s to import, which SQLite (and the CLI) never need.
    from signin.stores.sql.pgread import PgReads

    return PgReads.shared(engine)
