"""The command line: `signin serve`, admin commands, and the demo's old scripts.

Each group of commands lives in its own module and is registered here.

Start-up time is part of the interface: an operator lifting a lock during an attack should not
wait for SQLAlchemy, webauthn or uvicorn to load before `signin --help` answers (bench/
cli_startup.py measures it; tests/unit/test_cli_imports.py keeps it so). Hence, in this package:

- At module top, import only typer, the standard library, `signin.cli.common` and light
  constants a signature needs (a default value shown by `--help`). Everything else - the
  services, settings, SQLAlchemy, rich tables, the domain modules, uvicorn, alembic, any new
  library - is imported inside the command function that uses it, and types for annotations
  come in under `if TYPE_CHECKING:` (every module has `from __future__ import annotations`).
- A new group is one module, e.g. `cli/oidc.py` with `oidc_app = command_group("...")` and its
  commands written that way, then one `app.add_typer(oidc_app, name="oidc")` line below and
  its name in `common.COMMAND_ORDER`; add the library's top-level package to the forbidden list
  in tests/unit/test_cli_imports.py.
- Commands reach the database through `run_with_services`, which imports and builds the
  services only when the command runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from signin.cli.access import access_app
from signin.cli.audit import audit
from signin.cli.common import (
    command_group,
    err,
    error_line,
    fail,
    migrate_schema,
    out,
    settings_or_exit,
    shown,
)
from signin.cli.data import register as register_data_commands
from signin.cli.invites import invites_app
from signin.cli.locks import locks_app
from signin.cli.oidc import oidc_app
from signin.cli.passkeys import passkeys_app
from signin.cli.redirects import sign_url
from signin.cli.serving import check_port, check_tls
from signin.cli.sessions import sessions_app
from signin.cli.users import users_app

HELP = """signin: self-hosted sign-up / sign-in service.

Settings come from SIGNIN_* environment variables, or from a .env file in the directory you
run signin from; `signin config` prints the effective ones (secrets masked). The README lists
them all."""

app = command_group(HELP)
db_app = command_group("Database schema and data.")


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes.")] = 1,
    certfile: Annotated[
        Path | None, typer.Option(help="TLS certificate chain (PEM): serve https directly.")
    ] = None,
    keyfile: Annotated[
        Path | None, typer.Option(help="TLS private key (PEM), unless it is in --certfile.")
    ] = None,
) -> None:
    """Serve pages, API and forward-auth. Creates data dir, schema and secret key on first start."""
    import logging

    import uvicorn

    from signin.accounts.access.rules import RulesError
    from signin.accounts.oidc import read_clients
    from signin.accounts.oidc.clients import ClientsError
    from signin.accounts.oidc.keys import KeysError
    from signin.boot import build_gate, key_ring
    from signin.crypto.keys import SecretKeyError
    from signin.oidc_services import provider_keys
    from signin.unknown_settings import unknown_variables_warning
    from signin.web.serverproto import GuardedHttpToolsProtocol

    settings = settings_or_exit()
    warning = unknown_variables_warning()
    if warning is not None:
        err.print(f"warning: {shown(warning)}", soft_wrap=True)
    tls = check_tls(certfile, keyfile)
    try:
        key_ring(settings)
        gate = build_gate(settings)
        read_clients(settings.oidc_clients)  # a bad clients file: one line naming the client
        provider_keys(settings).load()  # made on first start, like secret.key
    except (SecretKeyError, RulesError, ClientsError, KeysError) as exc:
        fail(str(exc), 2)
    check_port(host, port)
    migrate_schema(settings)
    if workers > 1:  # each worker counts into its own file there; a scrape sums them
        from signin.telemetry import prepare_multiprocess_dir

        prepare_multiprocess_dir(settings.data_dir / "metrics")
    guarded = gate.protects_hosts() and bool(
        settings.access_rules or settings.allowed_redirect_hosts
    )
    if settings.signup == "open" and guarded:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        logging.getLogger("signin").warning(
            "SIGNIN_SIGNUP=open: anyone can make an account and pass forward-auth to the "
            "protected hosts; set SIGNIN_SIGNUP=invite or closed, or restrict the rules"
        )
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
        **tls,
    )


def config() -> None:
    """Print the effective settings, secrets masked."""
    settings = settings_or_exit()
    shown = settings.masked()
    if not out.is_terminal:
        # Piped: `NAME=value` lines, never wrapped, so the output can be grepped or sourced.
        for name, value in shown.items():
            print(f"{name}={value}")
        return
    from rich.table import Table

    table = Table("variable", "value", box=None)
    for name, value in shown.items():
        table.add_row(name, value)
    out.print(table)


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


def db_upgrade() -> None:
    """Apply pending schema migrations: says whether it created, upgraded or found it current."""
    settings = settings_or_exit()
    print(migrate_schema(settings).describe())


# The order `signin --help` lists them in: running it first, then people, then data.
app.command("serve")(serve)
app.command("config")(config)
app.add_typer(users_app, name="users")
app.add_typer(invites_app, name="invites")
app.add_typer(sessions_app, name="sessions")
app.add_typer(locks_app, name="locks")
app.add_typer(passkeys_app, name="passkeys")
app.add_typer(access_app, name="access")
app.add_typer(oidc_app, name="oidc")
app.command("audit")(audit)
app.command("sign-url")(sign_url)
app.add_typer(db_app, name="db")
db_app.command("upgrade")(db_upgrade)
register_data_commands(app, db_app)  # import-legacy, dump, db reset, db backup
app.command("prehash")(prehash)


def main() -> None:
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    # click (typer's own copy of it, in recent typer) prints usage, a hint and the error on
    # four lines for a mistyped command line; the contract is one line, as for every error.
    click_error: type[Exception] = next(
        c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException"
    )
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("Aborted.\n")
        sys.exit(1)
    except click_error as exc:
        error: Any = exc
        if type(exc).__name__ == "NoArgsIsHelpError":  # `signin users`: its help, as before
            error.show()
        else:
            context = getattr(exc, "ctx", None)
            hint = f" (see {context.command_path} --help)" if context is not None else ""
            error_line(error.format_message() + hint)
        sys.exit(int(error.exit_code))
    sys.exit(code if isinstance(code, int) else 0)
