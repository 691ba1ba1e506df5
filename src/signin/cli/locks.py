"""`signin locks ...`: see and lift fail locks (SPEC 5, 5a), also while the server runs.

The lock state lives in the database (or Redis), so these commands act on the same keys every
server process uses; no restart or signal is needed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import command_group, fail, out, read_with, run_with_services, shown

if TYPE_CHECKING:
    from signin.accounts.lockout import LockInfo
    from signin.services import Services
    from signin.settings import Settings
    from signin.stores.sql.lite import SqliteReads

locks_app = command_group("List and lift fail locks.")


def _left(seconds: int) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m {rest:02d}s" if minutes else f"{rest}s"


@locks_app.command("list")
def locks_list(
    locked: Annotated[
        bool, typer.Option("--locked", help="Only keys that are locked now.")
    ] = False,
) -> None:
    """Failure counters still in their window (usernames, ip:ADDRESS, device:USERNAME:ID):
    key, failures, locked?, time left."""

    async def work(services: Services) -> list[LockInfo]:
        return await services.lockout.locks(locked_only=locked)

    def lite(reads: SqliteReads, settings: Settings) -> list[LockInfo]:
        from signin.accounts.clock import system_clock
        from signin.accounts.lockout import lock_infos

        now = system_clock()
        return lock_infos(  # the policy build_services gives `Lockout`
            reads.locks(now, settings.lock_seconds),
            now,
            max_failures=settings.lock_max_failures,
            ip_max_failures=settings.ip_lock_max_failures,
            lock_seconds=settings.lock_seconds,
            locked_only=locked,
        )

    infos = read_with(work, lite)
    if not infos:
        out.print("no locked keys" if locked else "no failure counters")
        return
    from rich.table import Table

    table = Table("key", "failures", "locked", "time left")
    for info in infos:
        table.add_row(
            shown(info.key),
            str(info.failures),
            "yes" if info.locked else "no",
            _left(info.seconds_left),
        )
    out.print(table)


@locks_app.command("clear")
def locks_clear(
    key: Annotated[
        str,
        typer.Argument(
            metavar="KEY", help="A username (canon applied), ip:ADDRESS or device:USERNAME:ID."
        ),
    ],
) -> None:
    """Lift one lock: a username's, an IP's (ip:ADDRESS) or a device's (device:USERNAME:ID)."""
    from signin.accounts.lockout import parse_key, shown_key

    try:
        stored = parse_key(key)
    except ValueError as exc:
        fail(f"bad key {shown(key)!r}: {exc}")

    async def work(services: Services) -> bool:
        return await services.lockout.lift(stored)

    if not run_with_services(work):
        fail(f"no lock or failure count for {shown_key(stored)!r}")
    out.print(f"cleared {shown(shown_key(stored))}")
