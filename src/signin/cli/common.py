"""Shared plumbing for CLI commands: settings, services, one-line errors."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from signin.accounts.audit import ORIGIN, Origin
from signin.accounts.errors import SigninError
from signin.crypto.keys import SecretKeyError
from signin.escape import escape_text
from signin.services import Services, build_services
from signin.settings import Settings, SettingsError, load_settings
from signin.stores.base import StoreUnavailable

if TYPE_CHECKING:
    from signin.stores.migrate import Upgrade

T = TypeVar("T")
# Usernames, emails, IPs and user agents in this output come from strangers: never read any of
# it as rich markup (`[/x]` crashed, `[link=...]` made a link) or emoji codes (SPEC section 16).
out = Console(markup=False, emoji=False, highlight=False)
err = Console(stderr=True, markup=False, emoji=False, highlight=False)


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
    # Plain write, not rich: rich wraps at the terminal width (80 columns when piped), and the
    # contract is ONE line that scripts and log collectors can match.
    text = " ".join(escape_text(message).split())
    sys.stderr.write(f"error: {text}\n")
    sys.stderr.flush()
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
