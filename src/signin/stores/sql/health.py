"""The write probe behind `/healthz`: can the database, and the data directory, take a write?

A `SELECT 1` answered while every sign-up failed on a full disk, so `/healthz` said 200 to a
service that could take no write. The probe commits one tiny row (an upsert of its own key in
`fail_locks`, upper case so no sign-in key can meet it) and writes, syncs and removes a small
file in the data directory (SQLite's file, `secret.key` and the mail outbox live there).
SQLite may reuse WAL space for a one-row write even on a full disk; the file catches that case.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from signin.stores.sql.engine import upsert, write_engine
from signin.stores.sql.schema import fail_locks

PROBE_KEY = "HEALTH:write-probe"
PROBE_BYTES = 64 * 1024  # a few pages: what a sign-up's transaction needs, give or take


async def probe_write(engine: AsyncEngine, data_dir: Path, now: float) -> None:
    """Raise (any exception) when the database or the data directory cannot take a write."""
    statement = (
        upsert(engine.dialect.name, fail_locks)
        .values(key=PROBE_KEY, failures=0, last_attempt=now)
        .on_conflict_do_update(index_elements=[fail_locks.c.key], set_={"last_attempt": now})
    )
    async with write_engine(engine).begin() as conn:
        await conn.execute(statement)
    await asyncio.to_thread(_probe_file, data_dir)


def _probe_file(data_dir: Path) -> None:
    handle, name = tempfile.mkstemp(prefix=".healthz-", dir=data_dir)
    try:
        os.write(handle, os.urandom(PROBE_BYTES))  # random: no file system can compress it away
        os.fsync(handle)
    finally:
        os.close(handle)
        os.unlink(name)
