"""`signin passkeys ...`: see and remove a user's passkeys (a lost or stolen device)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import command_group, out, run_with_services, shown, when

if TYPE_CHECKING:
    from signin.services import Services

passkeys_app = command_group("List and remove users' passkeys.")


@passkeys_app.command("list")
def passkeys_list(username: Annotated[str, typer.Argument(help="The account.")]) -> None:
    """List a user's passkeys: id, name, added, last used."""
    from rich.table import Table

    async def work(services: Services) -> None:
        user = await services.registration.find(username)
        table = Table("id", "name", "added", "last used")
        for record in await services.passkeys.list(user.id):
            last = when(record.last_used_at) if record.last_used_at is not None else "never"
            table.add_row(str(record.id), shown(record.name), when(record.created_at), last)
        out.print(table)

    run_with_services(work)


@passkeys_app.command("remove")
def passkeys_remove(
    username: Annotated[str, typer.Argument(help="The account.")],
    passkey_id: Annotated[int, typer.Argument(metavar="ID", help="An id from `passkeys list`.")],
) -> None:
    """Remove one passkey of a user; it signs in no more."""

    async def work(services: Services) -> None:
        user = await services.registration.find(username)
        removed = await services.passkeys.remove(user.id, passkey_id)
        out.print(f"removed passkey {removed.id} ({shown(removed.name)}) of {shown(user.username)}")

    run_with_services(work)
