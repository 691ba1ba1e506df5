"""Shared plumbing for CLI commands: settings, services, one-line errors.

Only typer and the standard library at the top: every command imports this module, `--help`
included (see the package docstring). The rest is imported where it is used.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from signin.escape import escape_text

if TYPE_CHECKING:
    from rich.console import Console

    from signin.services import Services
    from signin.settings import Settings
    from signin.stores.migrate import Upgrade
    from signin.stores.sql.lite import SqliteReads

T = TypeVar("T")


class LazyConsole:
    """A rich `Console`, made on first use: rich costs a command that prints no table nothing."""

    def __init__(self, *, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    @property
    def console(self) -> Console:
        if self._console is None:
            from rich.console import Console

            # Usernames, emails, IPs and user agents in this output come from strangers: never
            # read any of it as rich markup (`[/x]` crashed, `[link=...]` made a link) or emoji
            # codes (SPEC section 16).
            self._console = Console(stderr=self._stderr, markup=False, emoji=False, highlight=False)
        return self._console

    @property
    def is_terminal(self) -> bool:
        return self.console.is_terminal

    def print(self, *objects: Any, **options: Any) -> None:
        self.console.print(*objects, **options)


out = LazyConsole()
err = LazyConsole(stderr=True)


def shown(text: str) -> str:
    """Client-supplied text as the CLI prints it: control characters escaped (see escape.py)."""
    return escape_text(text)


# How `signin --help` lists the commands: serving first, then people and access, then data.
COMMAND_ORDER = (
    "serve",
    "config",
    "users",
    "passkeys",
    "invites",
    "sessions",
    "locks",
    "access",
    "oidc",
    "audit",
    "sign-url",
    "db",
    "import-legacy",
    "dump",
    "prehash",
)


class OrderedGroup(TyperGroup):
    def list_commands(self, ctx: Any) -> list[str]:  # typer's own (vendored) click Context
        names = super().list_commands(ctx)
        rank = {name: index for index, name in enumerate(COMMAND_ORDER)}
        return sorted(names, key=lambda name: rank.get(name, len(rank)))


def command_group(help: str) -> typer.Typer:
    """A group of commands. Plain help (no rich boxes): it reads the same in a terminal, a pipe
    and a log, and flags show without a `<bool>` type."""
    return typer.Typer(
        cls=OrderedGroup,
        help=help,
        no_args_is_help=True,
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
        add_completion=False,
    )


def fail(message: str, code: int = 1) -> NoReturn:
    error_line(message)
    raise typer.Exit(code)


def error_line(message: str) -> None:
    # Plain write, not rich: rich wraps at the terminal width (80 columns when piped), and the
    # contract is ONE line that scripts and log collectors can match.
    text = " ".join(escape_text(message).split())
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()


def settings_or_exit() -> Settings:
    from signin.settings import SettingsError, load_settings

    try:
        return load_settings()
    except SettingsError as exc:
        fail(str(exc), 2)


def run_with_services(
    work: Callable[[Services], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Build the services, migrate the schema, run `work`, close; errors become one line."""
    import asyncio

    from signin.accounts.audit import ORIGIN, Origin
    from signin.accounts.errors import SigninError
    from signin.crypto.keys import SecretKeyError
    from signin.services import build_services
    from signin.stores.base import StoreUnavailable

    settings = settings or settings_or_exit()

    async def main() -> T:
        ORIGIN.set(Origin(actor="cli"))  # audited actions name the command line as their actor
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


def read_with(
    work: Callable[[Services], Awaitable[T]], lite: Callable[[SqliteReads, Settings], T]
) -> T:
    """`run_with_services(work)`, or for a SQLite file without Redis `lite`, which reads the
    same rows with plain sqlite3 (stores/sql/lite.py): SQLAlchemy is then never imported.

    The settings, the schema, the secret key and the access rules are checked first, as for
    the services. Should sqlite3 fail (a damaged file, busy too long), the services read
    instead, so every error is still theirs.
    """
    settings = settings_or_exit()
    from signin.stores.sql.lite import SqliteReads

    reads = SqliteReads.of(settings.sqlalchemy_url) if settings.redis_url is None else None
    if reads is None:
        return run_with_services(work, settings=settings)
    migrate_schema(settings)
    from signin.accounts.errors import SigninError
    from signin.boot import build_gate, key_ring
    from signin.crypto.keys import SecretKeyError

    try:
        key_ring(settings)
        build_gate(settings)
    except (SigninError, SecretKeyError) as exc:
        fail(str(exc))
    try:
        return lite(reads, settings)
    except sqlite3.Error:
        return run_with_services(work, settings=settings)


def migrate_schema(settings: Settings) -> Upgrade:
    from signin.stores import migrate

    try:
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        fail(f"cannot create SIGNIN_DATA_DIR {settings.data_dir}: {exc.strerror or exc}")
    try:
        return migrate.upgrade(settings.sqlalchemy_url)
    except Exception as exc:  # driver errors vary; say it in one line
        first = (str(exc).splitlines() or [""])[0]
        fail(f"cannot migrate the database: {type(exc).__name__}: {first}")


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
