"""`signin users ...`: manage accounts."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import (
    command_group,
    fail,
    out,
    read_with,
    run_with_services,
    shown,
    when,
)
from signin.cli.two_factor import two_factor_app

if TYPE_CHECKING:
    from signin.services import Services
    from signin.settings import Settings
    from signin.stores.base import UserRecord
    from signin.stores.sql.lite import SqliteReads

users_app = command_group("Manage accounts.")
users_app.add_typer(two_factor_app, name="two-factor")


@users_app.command("list")
def users_list() -> None:
    """List accounts."""
    from rich.table import Table

    async def work(services: Services) -> list[UserRecord]:
        found: list[UserRecord] = []
        while batch := await services.users.list(limit=1000, offset=len(found)):
            found.extend(batch)
        return found

    def lite(reads: SqliteReads, settings: Settings) -> list[UserRecord]:
        found: list[UserRecord] = []
        while batch := reads.users(limit=1000, offset=len(found)):
            found.extend(batch)
        return found

    table = Table("id", "username", "email", "verified", "created", "disabled")
    for user in read_with(work, lite):
        table.add_row(
            str(user.id),
            shown(user.username),
            shown(user.email or ""),
            "yes" if user.email_verified else "no",
            when(user.created_at),
            "yes" if user.disabled else "no",
        )
    out.print(table)


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
        user = await services.registration.sign_up(username, password, email, admin=True)
        out.print(f"created {shown(user.username)}")

    run_with_services(work)


@users_app.command("disable")
def users_disable(
    username: str, enable: Annotated[bool, typer.Option("--enable", help="Re-enable.")] = False
) -> None:
    """Disable an account (ends its sessions), or re-enable it with --enable."""

    async def work(services: Services) -> None:
        user = await services.registration.set_disabled(username, not enable)
        out.print(f"{'enabled' if enable else 'disabled'} {shown(user.username)}")

    run_with_services(work)


@users_app.command("delete")
def users_delete(
    username: str, yes: Annotated[bool, typer.Option("--yes", help="Do not ask.")] = False
) -> None:
    """Delete an account and end its sessions."""

    async def work(services: Services) -> None:
        found = await services.registration.find(username)  # no question about a missing one
        if not yes and not typer.confirm(f"Delete {found.username}?"):
            fail("not deleted")
        user = await services.registration.delete(username)
        out.print(f"deleted {shown(user.username)}")

    run_with_services(work)


@users_app.command("reset-link")
def users_reset_link(username: str) -> None:
    """Print a one-time password-reset link for USERNAME (no mail is sent)."""

    async def work(services: Services) -> None:
        token = await services.resets.link_for(username)
        print(services.letters.link("/reset-password", token))

    run_with_services(work)


@users_app.command("groups")
def users_groups(
    username: str,
    add: Annotated[list[str] | None, typer.Option("--add", help="Group to add.")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="Group to remove.")] = None,
) -> None:
    """Show USERNAME's groups, or change them (counts from the next forward-auth check)."""

    async def work(services: Services) -> None:
        groups = await services.groups.change(username, add or (), remove or ())
        print(f"{username}: {','.join(groups) if groups else '(no groups)'}")

    run_with_services(work)
