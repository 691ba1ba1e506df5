"""Audit events of the invite and access-rule flows (SPEC 12), read back with the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.http.mailflows import PASSWORD, mail_app, sign_up
from tests.support import run_signin

RULES = """
[[rule]]
hosts = ["app.example.com"]
policy = "signed_in"
groups = ["staff"]
"""


def cli(data_dir: Path, *args: str) -> str:
    result = run_signin({"SIGNIN_DATA_DIR": str(data_dir)}, *args, cwd=data_dir.parent)
    assert result.returncode == 0, result.stderr
    return result.stdout


async def test_invite_and_access_events(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    settings = {
        "access_rules": str(rules),
        "trusted_proxies": "203.0.113.7",
        "allowed_redirect_hosts": "app.example.com",
    }
    async with mail_app(tmp_path, None, **settings) as (client, _):
        await sign_up(client, "alice")
        body = {"username": "alice", "password": PASSWORD}
        token = (await client.post("/api/v1/session", json=body)).json()["token"]
        forwarded = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "app.example.com",
            "X-Forwarded-Uri": "/books?token=secret-in-query",
            "Authorization": f"Bearer {token}",
        }
        assert (await client.get("/api/v1/verify", headers=forwarded)).status_code == 403
    cli(data_dir, "invites", "create", "--group", "staff")  # invite_created, by cli

    events = [json.loads(line) for line in cli(data_dir, "audit", "--json").splitlines()]
    by_type = {event["type"]: event for event in events}
    denied = by_type["access_denied"]
    assert denied["username"] == "alice"
    assert denied["details"] == {"host": "app.example.com", "path": "/books"}
    assert denied["ip"] == "203.0.113.7"
    invite = by_type["invite_created"]
    assert invite["details"]["groups"] == "staff"
    assert invite["details"]["by"] == "cli"
    assert events[-1]["type"] == "invite_created"
    assert "secret-in-query" not in json.dumps(events)
