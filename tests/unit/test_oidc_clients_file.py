"""`signin oidc clients add|remove|secret` change only their client's lines of a file."""

from __future__ import annotations

import tomllib
from dataclasses import replace

import pytest

from signin.accounts.oidc.clients import ClientsError, hash_secret, parse_clients
from signin.accounts.oidc.clients_file import (
    add_client,
    client_block,
    remove_client,
    set_secret_hash,
)

OLD_HASH = "sha256:" + "b" * 64
NEW_HASH = "sha256:" + "a" * 64
HAND_WRITTEN = f"""\
# OIDC clients of the team box.

[[client]]
# the dashboards
id = "grafana"
name = "Grafana"   # shown on consent
redirect_uris = ["https://grafana.example/cb"]
secret_hash = '{OLD_HASH}'  # rotated in May

# keep this one for the wiki
[[client]]
id = "wiki"
redirect_uris = ["https://wiki.example/cb"]
token_endpoint_auth_method = "none"

# photos
[[client]]
id = "photos"
redirect_uris = ["app.immich:///oauth-callback"]
token_endpoint_auth_method = "none"
# no groups yet: everyone

# end of the clients
"""


def ids(text: str) -> list[str]:
    return list(parse_clients(tomllib.loads(text), "f"))


def test_a_block_reads_back_as_the_same_client() -> None:
    text = (
        f'[[client]]\nid = "wiki"\nredirect_uris = ["https://wiki.example/cb"]\n'
        f'secret_hash = "{hash_secret("s")}"\ngroups = ["staff"]\n'
        'name = "Wiki \\"quoted\\" Zoë"\nconsent = "skip"\nid_token_signed_response_alg = "ES256"\n'
    )
    clients = parse_clients(tomllib.loads(text), "f")
    again = parse_clients(tomllib.loads(client_block(clients["wiki"])), "f")
    assert again == clients
    assert again["wiki"].check_secret("s")


def test_add_appends_after_a_blank_line_and_keeps_everything_else() -> None:
    wiki = parse_clients(tomllib.loads(HAND_WRITTEN), "f")["wiki"]
    new = add_client(HAND_WRITTEN, replace(wiki, id="notes"), "f")
    assert new.startswith(HAND_WRITTEN + '\n[[client]]\nid = "notes"\n')
    assert ids(new) == ["grafana", "wiki", "photos", "notes"]
    assert add_client("", wiki, "f") == client_block(wiki)
    assert add_client("# clients", wiki, "f") == "# clients\n\n" + client_block(wiki)


def test_remove_the_first_takes_its_comments_and_keeps_the_next_ones() -> None:
    new = remove_client(HAND_WRITTEN, "grafana", "f")
    assert new == HAND_WRITTEN.replace(
        f"""[[client]]
# the dashboards
id = "grafana"
name = "Grafana"   # shown on consent
redirect_uris = ["https://grafana.example/cb"]
secret_hash = '{OLD_HASH}'  # rotated in May

""",
        "",
    )
    assert ids(new) == ["wiki", "photos"]


def test_remove_one_in_the_middle_takes_the_comment_just_above_its_header() -> None:
    new = remove_client(HAND_WRITTEN, "wiki", "f")
    assert "keep this one for the wiki" not in new
    assert "# the dashboards" in new
    assert "\n\n# photos\n[[client]]\n" in new
    assert "\n\n\n" not in new
    assert ids(new) == ["grafana", "photos"]


def test_remove_the_last_keeps_what_follows_a_blank_line() -> None:
    new = remove_client(HAND_WRITTEN, "photos", "f")
    assert "# photos" not in new
    assert "no groups yet" not in new  # its own comment, right after its keys
    assert new.endswith('token_endpoint_auth_method = "none"\n\n# end of the clients\n')
    assert ids(new) == ["grafana", "wiki"]


def test_remove_every_client_leaves_the_file_header() -> None:
    text = HAND_WRITTEN
    for client_id in ("photos", "grafana", "wiki"):
        text = remove_client(text, client_id, "f")
    assert text == "# OIDC clients of the team box.\n\n# end of the clients\n"
    assert "client" not in tomllib.loads(text)


def test_secret_replaces_the_value_only() -> None:
    new = set_secret_hash(HAND_WRITTEN, "grafana", NEW_HASH, "f")
    assert new == HAND_WRITTEN.replace(f"'{OLD_HASH}'", f'"{NEW_HASH}"')
    assert "# rotated in May" in new


@pytest.mark.parametrize(
    "text",
    [
        'client = [{id = "wiki", redirect_uris = ["https://wiki.example/cb"]}]\n',
        '[[client]]\nid = "wiki"\nredirect_uris = ["https://wiki.example/cb"]\n'
        'name = """\n[[client]]\n"""\n',
    ],
)
def test_a_layout_the_line_edit_does_not_follow_is_refused(text: str) -> None:
    with pytest.raises(ClientsError, match="cannot edit this layout"):
        remove_client(text, "wiki", "f")
    with pytest.raises(ClientsError, match="cannot edit this layout"):
        set_secret_hash(text, "wiki", NEW_HASH, "f")


def test_add_to_an_inline_array_is_refused() -> None:
    text = 'client = [{id = "wiki", redirect_uris = ["https://wiki.example/cb"]}]\n'
    wiki = parse_clients(tomllib.loads(text), "f")["wiki"]
    with pytest.raises(ClientsError, match="cannot edit this layout"):
        add_client(text, replace(wiki, id="notes"), "f")


def test_an_absent_client_is_named() -> None:
    with pytest.raises(ClientsError, match="no client 'nope'"):
        remove_client(HAND_WRITTEN, "nope", "f")
