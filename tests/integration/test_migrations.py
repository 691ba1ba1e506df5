"""The Alembic migrations on SQLite and PostgreSQL: the schema they build, and concurrent starts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from signin.stores import migrate
from signin.stores.sql.engine import create_engine
from signin.stores.sql.schema import metadata
from tests.backends import fresh_database, need_postgres


def head_revision() -> str:
    head = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


async def schema_differences(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            return [row[0] for row in rows]
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_migrations_build_exactly_the_declared_schema(kind: str, tmp_path: Path) -> None:
    """Tables, columns, types, indexes and constraints of schema.py, nothing more or less."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        await asyncio.to_thread(migrate.upgrade, url)
        assert await schema_differences(url) == []
        return
    with fresh_database(need_postgres()) as plain:
        url = "postgresql+asyncpg://" + plain.split("://", 1)[1]
        await asyncio.to_thread(migrate.upgrade, url)
        await asyncio.to_thread(migrate.upgrade, url)  # a second run finds nothing to do
        assert await schema_differences(url) == []
        assert await versions(url) == [head_revision()]


# What `signin serve` and `signin db upgrade` run first, without the rest of the CLI's imports.
UPGRADE = "import sys; from signin.stores import migrate; migrate.upgrade(sys.argv[1])"


def upgrade_processes(url: str, count: int) -> list[subprocess.CompletedProcess[str]]:
    full_env = {**os.environ, "PYTHONWARNINGS": "error"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", UPGRADE, url],
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, err))
    return results


@pytest.mark.postgres
def test_concurrent_upgrades_on_postgresql_all_succeed() -> None:
    """Four upgrades at once on an empty database (as N instances starting together):
    the advisory lock lets one migrate while the others wait and then find nothing to do."""
    with fresh_database(need_postgres()) as plain:
        url = "postgresql+asyncpg://" + plain.split("://", 1)[1]
        results = upgrade_processes(url, 4)
        assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
        assert asyncio.run(versions(url)) == [head_revision()]
        assert asyncio.run(schema_differences(url)) == []


def test_concurrent_upgrades_on_sqlite_all_succeed(tmp_path: Path) -> None:
    """The same on one SQLite file: BEGIN IMMEDIATE serialises the migrations."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'signin.db'}"
    results = upgrade_processes(url, 4)
    assert [r.returncode for r in results] == [0, 0, 0, 0], [r.stderr for r in results]
    assert asyncio.run(versions(url)) == [head_revision()]
