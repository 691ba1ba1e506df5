"""Data commands: `import-legacy`, `dump`, `db reset`, `db backup` (the demo's scripts, grown)."""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import (
    err,
    fail,
    migrate_schema,
    out,
    run_with_services,
    settings_or_exit,
    shown,
)

if TYPE_CHECKING:
    from signin.accounts.legacy_import import ImportReport
    from signin.services import Services
    from signin.settings import Settings

SHOW_SKIPPED = 20


def import_legacy(
    path: Annotated[Path, typer.Argument(help="The demo's users.database.")],
    workers: Annotated[
        int, typer.Option(min=0, max=256, help="Hashing threads (0: SIGNIN_HASH_WORKERS or cores).")
    ] = 0,
    batch: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 500,
) -> None:
    """Import the original demo's users; each keeps signing in with the same password."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from signin.accounts.legacy_import import LegacyImporter
    from signin.stores.legacy import DemoFile, DemoFileError, SqlAccountWriter

    settings = settings_or_exit()
    try:  # check the file before anything else, so a wrong file changes nothing
        demo = DemoFile(path)
        total = demo.count()
    except DemoFileError as exc:
        fail(str(exc))

    async def work(services: Services) -> ImportReport:
        importer = LegacyImporter(
            SqlAccountWriter(services.engine),
            services.hasher,
            clock=services.clock,
            workers=workers or services.hasher.workers,
            batch_size=batch,
        )
        columns = (
            TextColumn("importing"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
        )
        with demo, Progress(*columns, console=err.console, transient=False) as bar:
            task = bar.add_task("import", total=total)
            try:
                return await importer.run(demo, lambda done: bar.advance(task, done))
            except DemoFileError as exc:
                fail(str(exc))

    try:
        report = run_with_services(work, settings=settings)
    except KeyboardInterrupt:
        fail("interrupted: the batches written so far stay; run the same command to carry on", 130)
    _summary(path, report)


def _summary(path: Path, report: ImportReport) -> None:
    from rich.table import Table

    from signin.accounts.legacy import REASONS

    reasons = report.reasons()
    if report.imported == 0:
        say(f"nothing imported from {path}: {report.rows} rows, {reasons['exists']} already here")
    else:
        say(f"imported {report.imported} of {report.rows} rows from {path}")
        say(
            f"  {report.page_ready} sign in through the page as before (if their password is ASCII)"
        )
        say(
            f"  {report.imported - report.page_ready} have capitals or non-ASCII letters in the "
            "username: they sign in once through the basic form /sign-in?basic=1"
        )
        say("  (non-ASCII passwords too; see docs/data-tools.md)")
    if report.skipped:
        counts = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items()))
        say(f"skipped {len(report.skipped)}: {counts}")
        table = Table("row id", "username", "reason", box=None)
        for item in [s for s in report.skipped if s.reason != "exists"][:SHOW_SKIPPED]:
            table.add_row(str(item.row_id), shown(item.username), REASONS[item.reason])
        if table.row_count:
            out.print(table)
        hidden = len(report.skipped) - reasons["exists"] - table.row_count
        if hidden > 0:
            say(f"... and {hidden} more")


def dump() -> None:
    """Write the SQLite database as SQL to stdout (for PostgreSQL, says which pg_dump to run)."""
    from signin.stores.sql.lite import SQLITE_BUSY_MS

    settings = settings_or_exit()
    db_file = _sqlite_file(settings, "dump", "> signin.sql")
    conn = sqlite3.connect(db_file, timeout=SQLITE_BUSY_MS / 1000, isolation_level=None)
    try:
        # One read transaction: every line comes from the same snapshot while the server writes.
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        for line in conn.iterdump():
            sys.stdout.write(line + "\n")
        sys.stdout.flush()
        conn.execute("ROLLBACK")
    except BrokenPipeError:  # `signin dump | head`: the reader left; so do we, quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise typer.Exit(1) from None
    except sqlite3.DatabaseError as exc:
        fail(f"cannot read {db_file}: {exc}")
    finally:
        conn.close()


def db_reset(
    yes: Annotated[bool, typer.Option("--yes", help="Really drop every table.")] = False,
) -> None:
    """Drop every table and recreate the schema: an empty database."""
    import asyncio

    import sqlalchemy as sa

    from signin.stores.base import StoreUnavailable

    if not yes:
        fail("refusing to erase every account and session: add --yes")
    settings = settings_or_exit()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        dropped = asyncio.run(_drop_all(settings.sqlalchemy_url))
    except sa.exc.SQLAlchemyError as exc:
        fail(f"cannot reset the database: {str(exc).splitlines()[0]}")
    migrate_schema(settings)
    say(f"database reset: dropped {dropped} tables, schema recreated empty")
    if settings.redis_url:
        from signin.stores.redis import forget_accounts

        try:
            forgotten = asyncio.run(forget_accounts(settings.redis_url))
        except StoreUnavailable as exc:
            fail(f"database reset, but Redis did not answer: {exc}; run it again")
        say(f"Redis: {forgotten} session and user keys deleted (fail locks kept)")


async def _drop_all(url: str) -> int:
    import sqlalchemy as sa

    from signin.stores.sql.engine import create_engine, write_engine

    engine = create_engine(url, pool_size=1)
    try:
        async with write_engine(engine).begin() as conn:

            def drop(sync_conn: sa.Connection) -> int:
                tables = sa.MetaData()
                tables.reflect(sync_conn)
                tables.drop_all(sync_conn)
                return len(tables.tables)

            return await conn.run_sync(drop)
    finally:
        await engine.dispose()


def db_backup(
    path: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Copy the SQLite database to PATH, consistently, while the server keeps running."""
    settings = settings_or_exit()
    db_file = _sqlite_file(settings, "db backup", "-Fc -f PATH")
    if path.is_dir():
        fail(f"{path} is a directory; give a file name")
    if path.exists() and not force:
        fail(f"{path} exists; add --force to overwrite it")
    if not path.parent.is_dir():
        fail(f"{path.parent}: no such directory")
    # Write beside the target and rename: PATH is either the old file or a whole new copy.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # hashes inside
        accounts = _copy(db_file, tmp)  # the copy's commit is fsynced (synchronous=FULL)
        os.replace(tmp, path)
    except (OSError, sqlite3.DatabaseError) as exc:
        fail(f"backup failed: {exc}")
    finally:
        tmp.unlink(missing_ok=True)
    size = path.stat().st_size / 1e6
    say(f"backup written to {path} ({accounts} accounts, {size:.1f} MB)")


def _copy(source: Path, target: Path) -> int:
    from signin.stores.sql.lite import SQLITE_BUSY_MS

    src = sqlite3.connect(source, timeout=SQLITE_BUSY_MS / 1000)
    dst = sqlite3.connect(target)
    try:
        # pages=-1: one step under one read transaction, so the copy is a single snapshot;
        # in WAL mode the server's writers are not blocked meanwhile.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        check = dst.execute("PRAGMA quick_check").fetchone()[0]
        if check != "ok":
            raise sqlite3.DatabaseError(f"the copy fails its integrity check: {check}")
        return int(dst.execute("SELECT count(*) FROM users").fetchone()[0])
    finally:
        dst.close()
        src.close()


def _sqlite_file(settings: Settings, command: str, pg_args: str) -> Path:
    """The SQLite file behind the settings; on PostgreSQL, one line naming pg_dump instead."""
    import sqlalchemy as sa

    url = sa.engine.make_url(settings.sqlalchemy_url)
    if url.get_backend_name() != "sqlite":
        target = sa.engine.URL.create(  # no password: it would end up in shell history
            "postgresql", url.username, None, url.host, url.port, url.database, url.query
        )
        fail(
            f"signin {command} handles SQLite only; for PostgreSQL run: pg_dump --no-owner "
            f"--dbname='{target.render_as_string(hide_password=False)}' {pg_args} "
            "(password from PGPASSWORD or ~/.pgpass)",
            2,
        )
    if not url.database or url.database == ":memory:":
        fail(f"signin {command} needs a database file, not {url.database or 'memory'}")
    db_file = Path(url.database)
    if not db_file.is_file():
        fail(f"no database at {db_file} (run `signin db upgrade` or `signin serve` first)")
    return db_file


def say(line: str) -> None:
    """One plain line: no markup, no wrapping, so scripts can read it."""
    out.print(line, markup=False, highlight=False, soft_wrap=True)


def register(app: typer.Typer, db_app: typer.Typer) -> None:
    app.command("import-legacy")(import_legacy)
    app.command("dump")(dump)
    db_app.command("reset")(db_reset)
    db_app.command("backup")(db_backup)
