"""`signin sessions ...`: see and end sessions while the server runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import command_group, fail, out, run_with_services, shown, when

if TYPE_CHECKING:
    from signin.services import Services

sessions_app = command_group("List and end sessions.")


@sessions_app.command("list")
def sessions_list(
    username: Annotated[str | None, typer.Argument(help="Only this user's sessions.")] = None,
) -> None:
    """List live sessions (all users, or one)."""
    from rich.table import Table

    from signin.web.useragent import describe_user_agent

    async def work(services: Services) -> None:
        if username is not None:
            user = await services.registration.find(username)
            records = await services.sessions.list_for_user(user.id)
            names = {user.id: user.username}
        else:
            now = services.clock()
            records = [
                record
                for record in await services.session_store.list_all()
                if now < record.expires_at
                and (record.idle_seconds is None or now < record.last_seen + record.idle_seconds)
            ]
            names = {}
            for record in records:
                if record.user_id not in names:
                    found = await services.users.by_id(record.user_id)
                    names[record.user_id] = found.username if found else f"#{record.user_id}"
        table = Table("id", "user", "created", "last seen", "expires", "ip", "browser")
        for record in records:
            table.add_row(
                record.id,
                shown(names.get(record.user_id, "")),
                when(record.created_at),
                when(record.last_seen),
                when(services.sessions.expires_at(record)),
                shown(record.ip or ""),
                shown(describe_user_agent(record.user_agent)),
            )
        out.print(table)

    run_with_services(work)


@sessions_app.command("end")
def sessions_end(
    session_id: Annotated[str | None, typer.Argument(metavar="ID", help="A session id.")] = None,
    user: Annotated[str | None, typer.Option("--user", help="End every session of a user.")] = None,
) -> None:
    """End one session by its id, or every session of a user with --user NAME."""
    if (session_id is None) == (user is None):
        fail("give a session ID or --user NAME (one of them)")

    async def work(services: Services) -> None:
        if user is not None:
            found = await services.registration.find(user)
            ended = await services.sessions.end_all(found.id)
            plural = "s" if ended != 1 else ""
            out.print(f"ended {ended} session{plural} of {shown(found.username)}")
            return
        for record in await services.session_store.list_all():
            if record.id == session_id:
                await services.sessions.end_by_id(record.user_id, record.id)
                out.print(f"ended session {record.id}")
                return
        fail(f"no session with id {session_id!r}")

    run_with_services(work)
