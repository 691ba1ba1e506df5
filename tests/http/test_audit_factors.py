"""Audit events of the second-factor, invite and access-rule flows, read back with the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from signin.accounts.factors import totp
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


async def test_factor_invite_and_access_events(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES, encoding="utf-8")
    settings = {
        "access_rules": str(rules),
        "trusted_proxies": "203.0.113.7",
        "allowed_redirect_hosts": "app.example.com",
    }
    async with mail_app(tmp_path, None, **settings) as (client, services):
        await sign_up(client, "alice")
        alice = await services.users.by_canon("alice")
        assert alice is not None
        await services.two_factor.begin(alice)  # what /account/two-factor/begin calls
        status = await services.two_factor.status(alice)
        assert status.enrolment is not None
        secret = status.enrolment.secret
        codes = await services.two_factor.confirm(  # two_factor_enabled
            alice, totp.code_at(secret, totp.step_at(services.clock()))
        )
        body = {"username": "alice", "password": PASSWORD}
        pending = await client.post("/api/v1/session", json=body)  # two_factor_required
        assert pending.status_code == 202
        step = {"challenge": pending.json()["challenge"]}
        wrong = await client.post(
            "/api/v1/session/two-factor", json={**step, "code": "00000-00000"}
        )
        assert wrong.status_code == 401  # sign_in_failed, step=two_factor
        done = await client.post("/api/v1/session/two-factor", json={**step, "code": codes[0]})
        assert done.status_code == 201  # recovery_code_used, sign_in
        token = done.json()["token"]
        forwarded = {
            "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "app.example.com",
            "X-Forwarded-Uri": "/books?token=secret-in-query",
            "Authorization": f"Bearer {token}",
        }
        assert (await client.get("/api/v1/verify", headers=forwarded)).status_code == 403
    cli(data_dir, "users", "two-factor", "reset", "alice")  # two_factor_disabled, by cli
    cli(data_dir, "invites", "create", "--group", "staff")  # invite_created, by cli

    events = [json.loads(line) for line in cli(data_dir, "audit", "--json").splitlines()]
    kinds = [event["type"] for event in events]
    for kind in (
        "two_factor_enabled",
        "two_factor_required",
        "recovery_code_used",
        "access_denied",
        "two_factor_disabled",
        "invite_created",
    ):
        assert kind in kinds, kind
    by_type = {event["type"]: event for event in events}
    assert by_type["recovery_code_used"]["details"] == {"left": 9}
    assert by_type["access_denied"]["details"] == {"host": "app.example.com", "path": "/books"}
    assert by_type["access_denied"]["username"] == "alice"
    assert by_type["two_factor_disabled"]["details"] == {"by": "cli"}
    assert by_type["invite_created"]["details"]["groups"] == "staff"
    assert {"type": "sign_in_failed", "details": {"step": "two_factor"}}.items() <= next(
        e for e in events if e["type"] == "sign_in_failed"
    ).items()
    assert events[-1]["type"] == "invite_created"
    assert codes[0] not in json.dumps(events)
    assert "secret-in-query" not in json.dumps(events)
    assert secret not in json.dumps(events)
