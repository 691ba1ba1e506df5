"""The audit log in SQL: batches appended in one statement, read newest first."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from signin.accounts.audit import AuditEvent, AuditQuery, Detail
from signin.stores.sql.base import SqlStore
from signin.stores.sql.schema import audit_events as events


def _event(row: Any) -> AuditEvent:
    try:
        details: dict[str, Detail] = json.loads(row.details)
    except ValueError:
        details = {}
    return AuditEvent(
        at=row.at,
        type=row.type,
        username=row.username,
        ip=row.ip,
        user_agent=row.user_agent,
        details=details if isinstance(details, dict) else {},
        id=row.id,
    )


class SqlAuditStore(SqlStore):
    async def append(self, batch: Sequence[AuditEvent]) -> None:
        if not batch:
            return
        rows = [
            {
                "at": event.at,
                "type": event.type,
                "username": event.username,
                "ip": event.ip,
                "user_agent": event.user_agent,
                "details": json.dumps(event.details, ensure_ascii=True, separators=(",", ":")),
            }
            for event in batch
        ]
        async with self.write() as conn:
            await conn.execute(events.insert(), rows)

    async def query(self, query: AuditQuery) -> list[AuditEvent]:
        statement = sa.select(events).order_by(events.c.at.desc(), events.c.id.desc())
        if query.username is not None:
            statement = statement.where(events.c.username == query.username)
        if query.types:
            statement = statement.where(events.c.type.in_(query.types))
        if query.since is not None:
            statement = statement.where(events.c.at >= query.since)
        if query.until is not None:
            statement = statement.where(events.c.at < query.until)
        async with self.read() as conn:
            rows = (await conn.execute(statement.limit(query.limit))).all()
        return [_event(row) for row in rows]

    async def hourly(self, types: Sequence[str], since: float) -> dict[tuple[str, int], int]:
        bucket = events.c.at / 3600
        # CAST truncates on SQLite (times are positive: a floor) but rounds on PostgreSQL.
        floor = bucket if self.dialect == "sqlite" else sa.func.floor(bucket)
        hour = sa.cast(floor, sa.Integer).label("hour")
        statement = (
            sa.select(events.c.type, hour, sa.func.count().label("n"))
            .where(events.c.at >= since, events.c.type.in_(list(types)))
            .group_by(events.c.type, hour)
        )
        async with self.read() as conn:
            rows = (await conn.execute(statement)).all()
        return {(row.type, int(row.hour)): int(row.n) for row in rows}

    async def prune(self, before: float) -> int:
        async with self.write() as conn:
            result = await conn.execute(events.delete().where(events.c.at < before))
        return result.rowcount
