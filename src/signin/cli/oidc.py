"""`signin oidc ...`: the OpenID Connect clients file and the signing keys.

The clients commands edit the TOML file `SIGNIN_OIDC_CLIENTS` names, changing only the lines of
the client concerned (`accounts/oidc/clients_file.py`); a running server reads it at start, so
restart it afterwards. A new secret is printed once; the file keeps only its SHA-256.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from signin.cli.common import command_group, fail, out, settings_or_exit, shown, when

if TYPE_CHECKING:  # the CLI starts fast: the OIDC modules load only for these commands
    from signin.accounts.oidc.clients import Client
    from signin.accounts.oidc.keys import ProviderKeys

oidc_app = command_group("OpenID Connect provider: clients and signing keys.")
clients_app = command_group("Clients (applications) in the SIGNIN_OIDC_CLIENTS file.")
keys_app = command_group("Signing keys (published at /oidc/jwks).")
oidc_app.add_typer(clients_app, name="clients")
oidc_app.add_typer(keys_app, name="keys")


def _path() -> Path:
    settings = settings_or_exit()
    if settings.oidc_clients is None:
        fail("SIGNIN_OIDC_CLIENTS is not set: name the clients file there first")
    return settings.oidc_clients


def _read(path: Path) -> dict[str, Client]:
    from signin.accounts.oidc.clients import ClientsError, load_clients

    if not path.exists():
        return {}
    try:
        return dict(load_clients(path))
    except ClientsError as exc:
        fail(str(exc))


def _edit(path: Path, edit: Callable[[str], str]) -> None:
    """Apply `edit` to the file's text and write the result, if `serve` would accept it."""
    import tomllib

    from signin.accounts.oidc.clients import ClientsError, parse_clients

    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        new = edit(text)
        parse_clients(tomllib.loads(new), str(path))  # never write a file serve would refuse
    except ClientsError as exc:
        fail(str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}")
    try:
        _replace(path, new)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}")


def _replace(path: Path, text: str) -> None:
    """Write `text` to `path` at once (a temporary file renamed over it), keeping the file's mode
    and owner: the file holds only hashes, and the server (often another user, as with
    `DynamicUser=` in signin.service) must still read it after root edits it."""
    import contextlib

    old = path.stat() if path.exists() else None
    temp = path.with_name(f".{path.name}.new")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            if old is not None:
                os.fchmod(file.fileno(), stat.S_IMODE(old.st_mode))
                with contextlib.suppress(PermissionError):  # only root may give it away
                    os.fchown(file.fileno(), old.st_uid, old.st_gid)
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


@clients_app.command("add")
def clients_add(
    client_id: Annotated[str, typer.Argument(help="The client_id the application will send.")],
    redirect_uri: Annotated[
        list[str], typer.Option("--redirect-uri", help="Exact callback URL (repeatable).")
    ],
    name: Annotated[str, typer.Option(help="Shown on the consent page.")] = "",
    post_logout_uri: Annotated[
        list[str] | None, typer.Option("--post-logout-uri", help="Exact URL after logout.")
    ] = None,
    public: Annotated[bool, typer.Option(help="No secret (PKCE instead): SPAs, apps.")] = False,
    auth_method: Annotated[
        Literal["client_secret_basic", "client_secret_post"] | None,
        typer.Option(
            help="How a confidential client sends its secret [default: client_secret_basic]."
        ),
    ] = None,
    group: Annotated[
        list[str] | None, typer.Option("--group", help="Only members of these groups.")
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope", help="Allowed scopes.")] = None,
    require_two_factor: Annotated[bool, typer.Option(help="Ask for a second factor.")] = False,
    consent: Annotated[
        Literal["remember", "skip"], typer.Option(help="skip: first-party apps, no page.")
    ] = "remember",
    offline_access: Annotated[
        bool, typer.Option(help="Refresh tokens without the offline_access scope.")
    ] = False,
    backchannel_logout_uri: Annotated[
        str, typer.Option(help="Where signin POSTs a logout token when a session ends.")
    ] = "",
) -> None:
    """Register a client; a confidential client's secret is printed once."""
    from signin.accounts.oidc.clients import SCOPES, Client, hash_secret, new_secret

    if public and auth_method is not None:
        fail("a --public client sends no secret: leave out --auth-method")
    path = _path()
    clients = _read(path)
    if client_id in clients:
        fail(f"client {shown(client_id)} exists already (signin oidc clients remove it first)")
    secret = None if public else new_secret()
    client = Client(
        id=client_id,
        name=name or client_id,
        redirect_uris=tuple(redirect_uri),
        post_logout_redirect_uris=tuple(post_logout_uri or ()),
        secret_hash=hash_secret(secret) if secret else None,
        scopes=tuple(scope) if scope else SCOPES,
        groups=frozenset(group) if group else None,
        require_two_factor=require_two_factor,
        consent=consent,
        offline_access=offline_access,
        token_endpoint_auth_method="none" if public else auth_method or "client_secret_basic",
        backchannel_logout_uri=backchannel_logout_uri or None,
    )
    from signin.accounts.oidc.clients_file import add_client

    _edit(path, lambda text: add_client(text, client, str(path)))
    out.print(f"added client {shown(client_id)} to {path}; restart signin to use it")
    if secret:
        print(f"client_secret: {secret}")
        out.print("This secret is shown once; only its hash is stored.")


@clients_app.command("list")
def clients_list() -> None:
    """List the registered clients (never a secret)."""
    from rich.table import Table

    table = Table("id", "name", "type", "redirect URIs", "groups", "2FA", "consent")
    for client in _read(_path()).values():
        table.add_row(
            shown(client.id),
            shown(client.name),
            "confidential" if client.confidential else "public",
            shown(" ".join(client.redirect_uris)),
            ",".join(sorted(client.groups)) if client.groups is not None else "everyone",
            "yes" if client.require_two_factor else "no",
            client.consent,
        )
    out.print(table)


@clients_app.command("remove")
def clients_remove(client_id: str) -> None:
    """Remove a client from the file (its tokens stop working once signin restarts)."""
    path = _path()
    clients = _read(path)
    if client_id not in clients:
        fail(f"no client {shown(client_id)} in {path}")
    from signin.accounts.oidc.clients_file import remove_client

    _edit(path, lambda text: remove_client(text, client_id, str(path)))
    out.print(f"removed client {shown(client_id)}; restart signin to apply it")


@clients_app.command("secret")
def clients_secret(client_id: str) -> None:
    """Give a confidential client a new secret (printed once); the old one stops working."""
    from signin.accounts.oidc.clients import hash_secret, new_secret

    path = _path()
    clients = _read(path)
    client = clients.get(client_id)
    if client is None:
        fail(f"no client {shown(client_id)} in {path}")
    if not client.confidential:
        fail(f"client {shown(client_id)} is public: it has no secret")
    from signin.accounts.oidc.clients_file import set_secret_hash

    secret = new_secret()
    _edit(path, lambda text: set_secret_hash(text, client_id, hash_secret(secret), str(path)))
    print(f"client_secret: {secret}")
    out.print("This secret is shown once; restart signin to use it.")


def _keys() -> ProviderKeys:
    from signin.oidc_services import provider_keys

    return provider_keys(settings_or_exit())


@keys_app.command("rotate")
def keys_rotate() -> None:
    """New signing keys; the old ones stay published until the tokens they signed expire."""
    from signin.accounts.oidc.keys import KeysError

    try:
        keys = _keys().rotate()
    except KeysError as exc:
        fail(str(exc))
    for item in keys:
        if item.retired_at is None:
            out.print(f"new {item.alg} key {item.kid}")


@keys_app.command("list")
def keys_list() -> None:
    """The signing keys: current ones sign, retired ones are still published for a while."""
    from signin.accounts.oidc.keys import KeysError

    provider = _keys()
    if not provider.path.exists():  # listing makes nothing: a mistyped path is not a new key set
        fail(
            f"no signing keys at {provider.path} yet: signin serve makes them on first start "
            "(or run signin oidc keys rotate)"
        )
    try:
        keys = provider.load()
    except KeysError as exc:
        fail(str(exc))
    from rich.table import Table

    table = Table("kid", "alg", "created", "state")
    for item in keys:
        if item.retired_at is None:
            state = "signing"
        else:
            state = f"retired, published until {when(item.retired_at + provider.publish_seconds)}"
        table.add_row(item.kid, item.alg, when(item.created_at), state)
    out.print(table)
