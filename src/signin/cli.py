"""The command line: `signin serve`, admin commands, and the demo's old scripts."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from signin.accounts.errors import SigninError
from signin.crypto.keys import SecretKeyError
from signin.services import Services, build_services
from signin.settings import Settings, SettingsError, load_settings
from signin.stores.base import StoreUnavailable

T = TypeVar("T")
app = typer.Typer(
    help="signin: self-hosted sign-up / sign-in service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema and data.", no_args_is_help=True)
users_app = typer.Typer(help="Manage accounts.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"error: {message}", markup=False, highlight=False)
    raise typer.Exit(code)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def run_with_services(
    work: Callable[[Services], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Build the services, migrate the schema, run `work`, close; errors become one line."""
    settings = settings or settings_or_exit()

    async def main() -> T:
        services = build_services(settings)
        try:
            return await work(services)
        finally:
            await services.close()

    try:
        migrate_schema(settings)
        return asyncio.run(main())
    except (SigninError, SecretKeyError) as exc:
        fail(str(exc))
    except StoreUnavailable as exc:
        fail(f"database unavailable: {exc}")


def migrate_schema(settings: Settings) -> None:
    from signin.stores import migrate

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        migrate.upgrade(settings.sqlalchemy_url)
    except Exception as exc:  # driver errors vary; say it in one line
        fail(f"cannot migrate the database: {type(exc).__name__}: {str(exc).splitlines()[0]}")


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve pages, API and forward-auth. Creates data dir, schema and secret key on first start."""
    import uvicorn

    from signin.services import key_ring

    settings = settings_or_exit()
    try:
        key_ring(settings)
    except SecretKeyError as exc:
        fail(str(exc), 2)
    migrate_schema(settings)
    uvicorn.run(
        "signin.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=False,
        server_header=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
    )


@app.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    table = Table("variable", "value", box=None)
    for name, value in settings.masked().items():
        table.add_row(name, value)
    out.print(table)


@app.command()
def prehash(username: str) -> None:
    """Read a password (one line) from stdin and print its v1 pre-hash."""
    from signin.crypto.prehash import prehash_v1

    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    if password.endswith("\r"):
        password = password[:-1]
    if not password:
        fail("no password on standard input")
    print(prehash_v1(username, password))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply pending schema migrations."""
    settings = settings_or_exit()
    migrate_schema(settings)
    out.print("database schema is up to date")


@users_app.command("list")
def users_list() -> None:
    """List accounts."""

    async def work(services: Services) -> None:
        table = Table("id", "username", "email", "verified", "created", "disabled")
        offset = 0
        while batch := await services.users.list(limit=1000, offset=offset):
            for user in batch:
                table.add_row(
                    str(user.id),
                    user.username,
                    user.email or "",
                    "yes" if user.email_verified else "no",
                    when(user.created_at),
                    "yes" if user.disabled else "no",
                )
            offset += len(batch)
        out.print(table)

    run_with_services(work)


@users_app.command("create")
def users_create(
    username: str,
    email: Annotated[str, typer.Option(help="Email address.")] = "",
) -> None:
    """Create an account; the password is read from stdin (one line) or prompted for."""
    if sys.stdin.isatty():
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\r\n")

    async def work(services: Services) -> None:
        user = await services.registration.sign_up(username, password, email)
        out.print(f"created {user.username}")

    run_with_services(work)


@users_app.command("disable")
def users_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="Re-enable.")] = False
) -> None:
    """Disable an account (ends its sessions), or re-enable it with --enable."""

    async def work(services: Services) -> None:
        user = await services.registration.set_disabled(username, not enable)
        out.print(f"{'enabled' if enable else 'disabled'} {user.username}")

    run_with_services(work)


@users_app.command("delete")
def users_delete(
    username: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
) -> None:
    """Delete an account and end its sessions."""
    if not yes and not typer.confirm(f"Delete {username}?"):
        fail("not deleted")

    async def work(services: Services) -> None:
        user = await services.registration.delete(username)
        out.print(f"deleted {user.username}")

    run_with_services(work)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
