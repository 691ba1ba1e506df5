"""Edits of the clients file by `signin oidc clients add|remove|secret`, keeping what else it holds.

The file is often written by hand, so an edit changes only the lines of the client it is about:
the other clients, comments, blank lines and key order stay as they were. Each edit works on the
file's lines and is then checked by reading both texts with tomllib: the new file must hold
exactly the old clients with this one change, or the edit is refused (`ClientsError`, one line)
and the file is left alone. A layout the line edit does not understand (say, clients written as
an inline array) is refused this way instead of being rewritten.

A client's block is its `[[client]]` header, the comment lines just above it (no blank line
between) and its keys with the comments that follow them. After a blank line, trailing comments
are about what follows, so removing a client leaves them, as it leaves a comment just above the
next header.
"""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

from signin.accounts.oidc.clients import Client, ClientsError

HEADER = re.compile(r"[ \t]*\[\[[ \t]*client[ \t]*\]\][ \t]*(#.*)?\r?\n?")
SECRET_HASH = re.compile(r"""([ \t]*secret_hash[ \t]*=[ \t]*)("[^"\n]*"|'[^'\n]*')""")


def client_fields(client: Client) -> dict[str, Any]:
    """The keys of one `[[client]]` table, in the order docs/oidc.md lists them."""
    fields: dict[str, Any] = {
        "id": client.id,
        "name": client.name,
        "redirect_uris": list(client.redirect_uris),
    }
    if client.post_logout_redirect_uris:
        fields["post_logout_redirect_uris"] = list(client.post_logout_redirect_uris)
    if client.secret_hash:
        fields["secret_hash"] = client.secret_hash
    fields["token_endpoint_auth_method"] = client.token_endpoint_auth_method
    fields["scopes"] = list(client.scopes)
    if client.groups is not None:
        fields["groups"] = sorted(client.groups)
    fields["require_two_factor"] = client.require_two_factor
    fields["consent"] = client.consent
    fields["offline_access"] = client.offline_access
    if client.id_token_signed_response_alg != "RS256":  # noqa: S105
        fields["id_token_signed_response_alg"] = client.id_token_signed_response_alg
    if client.backchannel_logout_uri:
        fields["backchannel_logout_uri"] = client.backchannel_logout_uri
    return fields


def client_block(client: Client) -> str:
    """One `[[client]]` table as text."""
    # JSON strings are TOML basic strings (same escapes); booleans are spelled the same.
    fields = client_fields(client).items()
    lines = [f"{key} = {json.dumps(value, ensure_ascii=False)}" for key, value in fields]
    return "[[client]]\n" + "\n".join(lines) + "\n"


def add_client(text: str, client: Client, where: str) -> str:
    """`text` with `client` appended as a new `[[client]]` table after a blank line."""
    data = _loads(text, where)
    head = text if not text.strip() or text.endswith("\n") else text + "\n"
    if head.strip() and not head.endswith("\n\n"):
        head += "\n"
    new = (head if head.strip() else "") + client_block(client)
    return _checked(new, {**data, "client": [*_clients(data), client_fields(client)]}, where)


def remove_client(text: str, client_id: str, where: str) -> str:
    """`text` without the client `client_id`'s block (see the module's note)."""
    data, clients, index, lines, headers, end = _locate(text, client_id, where)
    start = headers[index]
    while start and _comment(lines[start - 1]):
        start -= 1
    run = end
    while run > headers[index] + 1 and (_comment(lines[run - 1]) or not lines[run - 1].strip()):
        run -= 1
    blank = next((n for n in range(run, end) if not lines[n].strip()), None)
    if blank is not None:
        kept = lines[blank:end]
    elif end < len(lines):  # only the comments just above the next header
        kept = lines[run:end]
    else:
        kept = []
    before = lines[:start]
    if kept and not kept[0].strip() and (not before or not before[-1].strip()):
        kept = kept[1:]  # one blank line where the block was, not two
    if end == len(lines) and not kept:
        while before and not before[-1].strip():
            before.pop()  # the file ends with its last line, not a blank one
    expected = {key: value for key, value in data.items() if key != "client"}
    rest = [table for n, table in enumerate(clients) if n != index]
    if rest:
        expected["client"] = rest
    return _checked("".join(before + kept + lines[end:]), expected, where)


def set_secret_hash(text: str, client_id: str, secret_hash: str, where: str) -> str:
    """`text` with the client's `secret_hash` value replaced, nothing else touched."""
    data, clients, index, lines, headers, end = _locate(text, client_id, where)
    for n in range(headers[index] + 1, end):
        found = SECRET_HASH.match(lines[n])
        if found:
            lines[n] = f"{found.group(1)}{json.dumps(secret_hash)}{lines[n][found.end() :]}"
            break
    else:
        raise ClientsError(f"{where}: client {client_id!r} has no secret_hash line to replace")
    changed = [dict(table) for table in clients]
    changed[index]["secret_hash"] = secret_hash
    return _checked("".join(lines), {**data, "client": changed}, where)


def _locate(
    text: str, client_id: str, where: str
) -> tuple[dict[str, Any], list[Any], int, list[str], list[int], int]:
    """The file read, its clients, the index of `client_id`, its lines, the line of each
    `[[client]]` header, and the line where the client's block ends."""
    data = _loads(text, where)
    clients = _clients(data)
    index = _index(clients, client_id, where)
    lines = text.splitlines(keepends=True)
    headers = [n for n, line in enumerate(lines) if HEADER.fullmatch(line)]
    if len(headers) != len(clients):
        raise _layout(where)
    end = headers[index + 1] if index + 1 < len(headers) else len(lines)
    return data, clients, index, lines, headers, end


def _loads(text: str, where: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClientsError(f"{where}: not valid TOML: {exc}") from None


def _clients(data: dict[str, Any]) -> list[Any]:
    found = data.get("client", [])
    return list(found) if isinstance(found, list) else [found]


def _index(clients: list[Any], client_id: str, where: str) -> int:
    for index, table in enumerate(clients):
        if isinstance(table, dict) and table.get("id") == client_id:
            return index
    raise ClientsError(f"{where}: no client {client_id!r}")


def _comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _layout(where: str) -> ClientsError:
    return ClientsError(
        f"{where}: cannot edit this layout line by line (write each client as a [[client]] "
        "table); the file is unchanged"
    )


def _checked(new: str, expected: dict[str, Any], where: str) -> str:
    """`new`, if it reads back as exactly `expected`; else the edit is refused."""
    try:
        same = tomllib.loads(new) == expected
    except tomllib.TOMLDecodeError:
        same = False
    if not same:
        raise _layout(where)
    return new
