"""`signin invites ...`: sign-up invites (SPEC section 12)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated
from urllib.parse import urlencode

import typer

from signin.cli.common import command_group, out, run_with_services, shown, when

if TYPE_CHECKING:
    from signin.services import Services

invites_app = command_group("Sign-up invites.")
# `accounts.access.invites.DEFAULT_SECONDS`, written out so that `--help` does not load the
# domain (tests/unit/test_cli_imports.py checks the two agree).
DEFAULT_SECONDS = 7 * 86400


@invites_app.command("create")
def invites_create(
    email: Annotated[str, typer.Option(help="Only this address may use it.")] = "",
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Group given to the new account.")
    ] = None,
    uses: Annotated[int, typer.Option(help="How many accounts it may make.")] = 1,
    expires: Annotated[int, typer.Option(help="Seconds it stays valid.")] = DEFAULT_SECONDS,
) -> None:
    """Create an invite and print its link (shown once: only a hash is stored)."""

    async def work(services: Services) -> None:
        token, record = await services.invites.create(
            email=email, groups=tuple(group or ()), uses=uses, expires_seconds=expires
        )
        link = f"{services.settings.public_url}/sign-up?{urlencode({'invite': token})}"
        print(link)
        out.print(f"invite {record.id}: {uses} use(s), valid until {when(record.expires_at)}")

    run_with_services(work)


@invites_app.command("list")
def invites_list() -> None:
    """List invites (never their tokens)."""
    from rich.table import Table

    from signin.accounts.access.invites import state

    async def work(services: Services) -> None:
        table = Table("id", "state", "email", "groups", "used", "expires")
        now = services.clock()
        for invite in await services.invites.all():
            table.add_row(
                invite.id,
                state(invite, now),
                shown(invite.email or ""),
                ",".join(invite.groups),
                f"{invite.uses}/{invite.max_uses}",
                when(invite.expires_at),
            )
        out.print(table)

    run_with_services(work)


@invites_app.command("revoke")
def invites_revoke(invite_id: str) -> None:
    """Revoke an invite: its link stops working at once."""

    async def work(services: Services) -> None:
        await services.invites.revoke(invite_id)
        out.print(f"revoked invite {invite_id}")

    run_with_services(work)
