"""The OIDC clients file (each mistake one line naming file and client) and the signing keys
(created once with 0600, rotated with the old keys published while their tokens live)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from signin.accounts.clock import FrozenClock
from signin.accounts.oidc.clients import (
    ClientsError,
    load_clients,
    parse_clients,
)
from signin.accounts.oidc.keys import KeysError, ProviderKeys

GOOD = 'id = "wiki"\nredirect_uris = ["https://wiki.example/cb"]\n'


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('redirect_uris = ["https://*.example/cb"]', "wildcard"),
        ('redirect_uris = ["https://wiki.example/cb#x"]', "fragment"),
        ('redirect_uris = ["javascript:alert(1)"]', "absolute http(s)"),
        ('redirect_uris = ["data:text/html,hi"]', "private-use scheme"),
        ('redirect_uris = ["myapp:/callback"]', "private-use scheme"),  # no reverse domain name
        ('redirect_uris = ["file:///etc/passwd"]', "absolute http(s)"),
        ('backchannel_logout_uri = "app.immich:///logout"', "absolute http(s) URL"),
        ("redirect_uris = []", "at least one"),
        ('secret_hash = "plain-secret"', "sha256"),
        ('scopes = ["profile"]', "openid"),
        ('consent = "never"', "consent"),
        ('groups = ["Staff!"]', "groups"),
        ('groups = ["staff\\n"]', "groups"),  # the same rule as `signin users groups`
        ("require_two_factor = 1", "require_two_factor"),
        ('token_endpoint_auth_method = "client_secret_basic"', "none"),
        ('colour = "blue"', "unknown key 'colour'"),
    ],
)
def test_each_mistake_names_the_file_and_the_client(
    tmp_path: Path, extra: str, message: str
) -> None:
    path = tmp_path / "clients.toml"
    lines = [line for line in GOOD.splitlines() if line.split(" =")[0] not in extra]
    path.write_text("[[client]]\n" + "\n".join([*lines, extra]) + "\n", encoding="utf-8")
    with pytest.raises(ClientsError) as caught:
        load_clients(path)
    text = str(caught.value)
    assert text.startswith(f"{path}: client 'wiki': ")
    assert message in text
    assert "\n" not in text


def test_native_apps_may_register_their_private_use_scheme() -> None:
    """RFC 8252 7.1: Immich's mobile app comes back to `app.immich:///oauth-callback`."""
    clients = parse_clients(
        tomllib.loads(
            '[[client]]\nid = "immich"\nredirect_uris = ["https://photos.example/auth/login",'
            ' "app.immich:///oauth-callback", "com.example.app:/cb"]\n'
        ),
        "f.toml",
    )
    assert clients["immich"].redirect_uris[1:] == (
        "app.immich:///oauth-callback",
        "com.example.app:/cb",
    )


def test_duplicate_ids_bad_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ClientsError, match="used twice"):
        parse_clients(tomllib.loads(f"[[client]]\n{GOOD}\n[[client]]\n{GOOD}"), "f.toml")
    path = tmp_path / "clients.toml"
    path.write_text("[[client]\n", encoding="utf-8")
    with pytest.raises(ClientsError, match="not valid TOML"):
        load_clients(path)
    with pytest.raises(ClientsError, match="cannot read"):
        load_clients(tmp_path / "absent.toml")


def test_keys_made_once_private_and_rotated_with_a_publish_window(tmp_path: Path) -> None:
    clock = FrozenClock()
    path = tmp_path / "keys.json"
    keys = ProviderKeys(path, publish_seconds=3600, clock=clock)
    first = {item.kid for item in keys.load()}
    assert len(first) == 3
    assert path.stat().st_mode & 0o777 == 0o600
    assert {
        item.kid for item in ProviderKeys(path, publish_seconds=3600, clock=clock).load()
    } == first
    token = keys.sign({"sub": "x"}, "ES256")
    keys.rotate()
    published = {key["kid"] for key in keys.jwks()["keys"]}
    assert first < published
    assert keys.verify(token) == {"sub": "x"}  # an old key's token still checks
    clock.advance(3601)
    assert {key["kid"] for key in keys.jwks()["keys"]}.isdisjoint(first)
    assert keys.verify(token) is None
    keys.rotate()  # drops the keys past their window from the file
    assert len(keys.load()) == 6


def test_keys_refuse_a_file_others_can_read_and_unsigned_tokens(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    keys = ProviderKeys(path, publish_seconds=60, clock=FrozenClock())
    keys.load()
    assert keys.verify("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.") is None
    assert keys.verify("not a token") is None
    path.chmod(0o644)
    with pytest.raises(KeysError, match="readable by others"):
        ProviderKeys(path, publish_seconds=60, clock=FrozenClock()).load()
