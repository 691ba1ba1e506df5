"""The quickest way to run one point lookup on the engine at hand, or None: use SQLAlchemy.

SQLite in a file: `fastread.FastReader` (plain sqlite3 on the event loop). PostgreSQL through
asyncpg: `pgread.PgReader` (plain asyncpg connections). Either answers `MISS` when the caller
should take its ordinary path through SQLAlchemy instead.
"""

from __future__ import annotations

from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.fastread import MISS, FastReader
from signin.stores.sql.pgread import PgReader, PgReads

__all__ = ["MISS", "PointReader", "point_reader"]


class PointReader(Protocol):
    async def read(self, **params: Any) -> Any: ...


def point_reader(engine: AsyncEngine, statement: sa.Select[Any]) -> PointReader | None:
    if FastReader.usable(engine):
        return FastReader(engine, statement)
    reads = PgReads.shared(engine)
    return PgReader(reads, engine, statement) if reads is not None else None
