"""`signin oidc clients ...` and `signin oidc keys ...`, run as an operator runs them, and
`serve` refusing a bad clients file in one line."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

from signin.accounts.oidc.clients import hash_secret
from tests.http.oidcflows import CALLBACK, oidc_app
from tests.support import free_port, run_signin

SECRET_LINE = re.compile(r"^client_secret: ([A-Za-z0-9_-]{43})$", re.MULTILINE)


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        "SIGNIN_DATA_DIR": str(tmp_path / "data"),
        "SIGNIN_OIDC_CLIENTS": str(tmp_path / "clients.toml"),
    }


def test_clients_add_list_secret_remove(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    added = run_signin(
        env,
        *("oidc", "clients", "add", "wiki", "--name", "Team Wiki"),
        *("--redirect-uri", CALLBACK, "--group", "staff", "--require-two-factor"),
    )
    assert added.returncode == 0, added.stderr
    secret = SECRET_LINE.search(added.stdout)
    assert secret is not None
    text = (tmp_path / "clients.toml").read_text()
    assert secret.group(1) not in text  # only the hash is written
    table = tomllib.loads(text)["client"][0]
    assert table["secret_hash"] == hash_secret(secret.group(1))
    assert table["groups"] == ["staff"]
    assert table["require_two_factor"] is True
    public = run_signin(
        env, "oidc", "clients", "add", "spa", "--public", "--redirect-uri", CALLBACK
    )
    assert public.returncode == 0
    assert "client_secret" not in public.stdout
    listed = run_signin(env, "oidc", "clients", "list")
    assert "wiki" in listed.stdout
    assert "public" in listed.stdout
    assert secret.group(1) not in listed.stdout
    again = run_signin(env, "oidc", "clients", "add", "wiki", "--redirect-uri", CALLBACK)
    assert again.returncode == 1
    assert "exists already" in again.stderr
    renewed = run_signin(env, "oidc", "clients", "secret", "wiki")
    new_secret = SECRET_LINE.search(renewed.stdout)
    assert new_secret is not None
    assert new_secret.group(1) != secret.group(1)
    assert hash_secret(new_secret.group(1)) in (tmp_path / "clients.toml").read_text()
    assert run_signin(env, "oidc", "clients", "secret", "spa").returncode == 1
    removed = run_signin(env, "oidc", "clients", "remove", "spa")
    assert removed.returncode == 0
    assert '"spa"' not in (tmp_path / "clients.toml").read_text()
    wildcard = run_signin(env, "oidc", "clients", "add", "x", "--redirect-uri", "https://a/*")
    assert wildcard.returncode == 1
    assert "wildcard" in wildcard.stderr


async def test_keys_rotate_keeps_the_old_keys_published(tmp_path: Path) -> None:
    async with oidc_app(tmp_path) as (client, services):
        before = {key["kid"] for key in (await client.get("/oidc/jwks")).json()["keys"]}
        assert len(before) == 3
        env = {"SIGNIN_DATA_DIR": str(services.settings.data_dir)}
        rotated = run_signin(env, "oidc", "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        after = {key["kid"] for key in (await client.get("/oidc/jwks")).json()["keys"]}
        assert before < after  # the running server sees the new file: old and new keys
        assert len(after) == 6
        listed = run_signin(env, "oidc", "keys", "list")
        assert listed.stdout.count("signing") == 3
        assert listed.stdout.count("retired") == 3
        mode = (services.settings.data_dir / "oidc-keys.json").stat().st_mode & 0o777
        assert mode == 0o600


def test_serve_refuses_a_bad_clients_file_in_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "clients.toml"
    bad.write_text('[[client]]\nid = "wiki"\nredirect_uris = ["not a url"]\n', encoding="utf-8")
    env = {**env_for(tmp_path)}
    served = run_signin(env, "serve", "--port", str(free_port()), timeout=60)
    assert served.returncode == 2
    lines = served.stderr.strip().splitlines()
    assert len(lines) == 1, served.stderr
    assert str(bad) in lines[0]
    assert "client 'wiki'" in lines[0]
    assert "Traceback" not in served.stderr


def test_clients_commands_keep_a_hand_written_file(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    path = tmp_path / "clients.toml"
    hand = (
        "# Clients of the team box; ask Sam before changing.\n\n"
        '[[client]]\nid = "grafana"   # dashboards\nredirect_uris = ["https://g.example/cb"]\n'
        f'secret_hash = "{hash_secret("old")}"\n\n'
        "# the wiki, public since March\n"
        '[[client]]\nid = "wiki"\nredirect_uris = ["https://w.example/cb"]\n'
        'token_endpoint_auth_method = "none"\n'
    )
    path.write_text(hand)
    assert (
        run_signin(
            env, "oidc", "clients", "add", "spa", "--public", "--redirect-uri", CALLBACK
        ).returncode
        == 0
    )
    text = path.read_text()
    assert text.startswith(hand + "\n[[client]]\n")
    renewed = run_signin(env, "oidc", "clients", "secret", "grafana")
    secret = SECRET_LINE.search(renewed.stdout)
    assert secret is not None
    text = path.read_text()
    assert f'secret_hash = "{hash_secret(secret.group(1))}"' in text
    assert 'id = "grafana"   # dashboards' in text
    assert run_signin(env, "oidc", "clients", "remove", "wiki").returncode == 0
    text = path.read_text()
    assert "the wiki" not in text
    assert text.startswith("# Clients of the team box; ask Sam before changing.\n\n[[client]]\n")
    assert [c["id"] for c in tomllib.loads(text)["client"]] == ["grafana", "spa"]
    inline = tmp_path / "inline.toml"
    inline.write_text('client = [{id = "a", redirect_uris = ["https://a.example/cb"]}]\n')
    refused = run_signin(
        {**env, "SIGNIN_OIDC_CLIENTS": str(inline)}, "oidc", "clients", "remove", "a"
    )
    assert refused.returncode == 1
    assert "cannot edit this layout" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "[{id" in inline.read_text()  # left alone


def test_an_edit_keeps_the_file_mode(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    path = tmp_path / "clients.toml"
    path.write_text("# read by the service user\n")
    path.chmod(0o640)
    added = run_signin(env, "oidc", "clients", "add", "spa", "--public", "--redirect-uri", CALLBACK)
    assert added.returncode == 0, added.stderr
    assert path.stat().st_mode & 0o777 == 0o640
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left


def one_line_error(done: subprocess.CompletedProcess[str], text: str) -> None:
    assert done.returncode == 1
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert text in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_mistakes_are_one_line(tmp_path: Path) -> None:
    env = env_for(tmp_path)
    add = ("oidc", "clients", "add", "x", "--redirect-uri", CALLBACK)
    missing_dir = {**env, "SIGNIN_OIDC_CLIENTS": str(tmp_path / "no" / "such" / "c.toml")}
    one_line_error(run_signin(missing_dir, *add, "--public"), "cannot write")
    directory = {**env, "SIGNIN_OIDC_CLIENTS": str(tmp_path)}
    one_line_error(run_signin(directory, *add, "--public"), "cannot read")
    public_with_method = run_signin(env, *add, "--public", "--auth-method", "client_secret_post")
    one_line_error(public_with_method, "leave out --auth-method")
    assert not (tmp_path / "clients.toml").exists()
    keys_file = tmp_path / "typo" / "keys.json"
    keys = {**env, "SIGNIN_OIDC_KEYS_FILE": str(keys_file)}
    one_line_error(run_signin(keys, "oidc", "keys", "list"), "no signing keys at")
    assert not keys_file.parent.exists()  # listing made nothing
    not_a_file = {**env, "SIGNIN_OIDC_KEYS_FILE": str(tmp_path)}
    one_line_error(run_signin(not_a_file, "oidc", "keys", "list"), "not a file")
