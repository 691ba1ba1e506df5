"""The command line: `signin serve`, admin commands, and the demo's old scripts.

Each group of commands lives in its own module and is registered here.
"""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer
from rich.table import Table

from signin.cli.common import err, fail, migrate_schema, out, settings_or_exit, shown
from signin.cli.data import register as register_data_commands
from signin.cli.locks import locks_app
from signin.cli.redirects import sign_url
from signin.cli.sessions import sessions_app
from signin.cli.users import users_app
from signin.crypto.keys import SecretKeyError
from signin.settings import unknown_variables_warning

app = typer.Typer(
    help="signin: self-hosted sign-up / sign-in service.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema and data.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
register_data_commands(app, db_app)  # import-legacy, dump, db reset, db backup
app.add_typer(sessions_app, name="sessions")
app.add_typer(locks_app, name="locks")
app.command("sign-url")(sign_url)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
) -> None:
    """Serve pages, API and forward-auth. Creates data dir, schema and secret key on first start."""
    import uvicorn

    from signin.services import key_ring
    from signin.web.serverproto import GuardedHttpToolsProtocol

    settings = settings_or_exit()
    warning = unknown_variables_warning()
    if warning is not None:
        err.print(f"warning: {shown(warning)}", soft_wrap=True)
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
        access_log=False,  # ours (web/accesslog.py) leaves out query strings and their tokens
        server_header=False,
        log_level=settings.log_level,
        timeout_graceful_shutdown=10,
        # Slow or silent clients are cut off, heads and open connections bounded: signin can
        # face the internet without a proxy in front (web/serverproto.py, SPEC section 16).
        http=GuardedHttpToolsProtocol,
        timeout_keep_alive=5,
    )


@app.command()
def config() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    shown = settings.masked()
    if not out.is_terminal:
        # Piped: `NAME=value` lines, never wrapped, so the output can be grepped or sourced.
        for name, value in shown.items():
            print(f"{name}={value}")
        return
    table = Table("variable", "value", box=None)
    for name, value in shown.items():
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


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    app()
