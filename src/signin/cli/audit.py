"""`signin audit`: read the audit log (SPEC section 15), as a table or as JSON lines.

Usernames, addresses, user agents and details were typed by clients: they are printed as plain
text with control characters escaped, never read as rich markup (`[red]` stays `[red]`).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from signin.cli.common import fail, out, run_with_services, when

if TYPE_CHECKING:
    from signin.accounts.audit import AuditEvent
    from signin.services import Services

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def plain(text: str) -> str:
    """Control characters as escapes (a user agent cannot move the cursor or forge a line)."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def parse_since(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--since {text!r} is not an ISO date or time (e.g. 2026-12-01 or 2026-12-01T08:00)")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def as_json(event: AuditEvent) -> str:
    return json.dumps(
        {
            "time": datetime.fromtimestamp(event.at, UTC).isoformat(),
            "type": event.type,
            "username": event.username,
            "ip": event.ip,
            "user_agent": event.user_agent,
            "details": event.details,
        },
        ensure_ascii=True,  # control characters and all non-ASCII escaped: one line each
    )


def audit(
    user: Annotated[str | None, typer.Option("--user", help="Only this username.")] = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only this event type (repeatable), e.g. sign_in_failed."),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only from this ISO time on (UTC if no zone).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1_000_000, help="At most this many.")] = 1000,
    as_lines: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the audit log, oldest first: time, event, username, IP, browser, details."""
    from signin.accounts.audit import EVENT_TYPES, AuditQuery
    from signin.accounts.usernames import canon

    unknown = sorted(set(types or ()) - set(EVENT_TYPES))
    if unknown:
        fail(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    query = AuditQuery(
        username=canon(user.strip()) if user else None,
        types=tuple(types or ()),
        since=parse_since(since) if since else None,
        limit=limit,
    )

    async def work(services: Services) -> list[AuditEvent]:
        return await services.audit.query(query)

    events = list(reversed(run_with_services(work)))
    if as_lines:
        for event in events:
            print(as_json(event))
        return
    if not events:
        out.print("no audit events match")
        return
    from rich.table import Table
    from rich.text import Text

    table = Table("time", "event", "username", "ip", "user agent", "details")
    for event in events:
        details = " ".join(f"{key}={value}" for key, value in event.details.items())
        table.add_row(
            when(event.at),
            event.type,
            Text(plain(event.username or "")),
            Text(plain(event.ip or "")),
            Text(plain(event.user_agent or "")),
            Text(plain(details)),
        )
    out.print(table)
