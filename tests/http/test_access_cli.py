"""`signin access check`, and `serve` with a rules file: checked at start, warned when open."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.http.test_invites import subprocess_create
from tests.support import free_port, run_signin, server

pytestmark = pytest.mark.slow

RULES = """
[[rule]]
hosts = ["wiki.example.com"]
paths = ["^/public/"]
policy = "bypass"

[[rule]]
hosts = ["*.example.com"]
paths = ["^/admin"]
methods = ["POST"]
policy = "signed_in"
groups = ["admins"]
"""


def env_with(tmp_path: Path, rules: str, **extra: str) -> dict[str, str]:
    path = tmp_path / "rules.toml"
    path.write_text(rules, encoding="utf-8")
    return {"SIGNIN_DATA_DIR": str(tmp_path / "data"), "SIGNIN_ACCESS_RULES": str(path), **extra}


def test_access_check_prints_rule_and_decision(tmp_path: Path) -> None:
    env = env_with(tmp_path, RULES)
    assert subprocess_create(env, "alice").returncode == 0
    bypass = run_signin(env, "access", "check", "https://wiki.example.com/public/a")
    assert bypass.returncode == 0, bypass.stderr
    assert bypass.stdout.splitlines() == [
        "rule 1: hosts=['wiki.example.com'] paths=['^/public/'] policy=bypass",
        "decision: bypass (200 without identity headers)",
    ]
    url = "https://app.example.com/admin/x"
    refused = run_signin(env, "access", "check", url, "--user", "alice", "--method", "post")
    assert refused.stdout.splitlines()[0].startswith("rule 2: hosts=['*.example.com']")
    assert refused.stdout.splitlines()[1] == "decision: forbidden (403)"
    run_signin(env, "users", "groups", "alice", "--add", "admins")
    allowed = run_signin(env, "access", "check", url, "--user", "alice", "--method", "POST")
    assert allowed.stdout.splitlines()[1] == "decision: allow (200 with Remote-User)"
    default = run_signin(env, "access", "check", url, "--user", "alice")  # GET: no rule
    assert default.stdout.splitlines() == [
        "no rule matched: default signed_in",
        "decision: allow (200 with Remote-User)",
    ]
    anonymous = run_signin(env, "access", "check", url)
    assert anonymous.stdout.splitlines()[1] == "decision: sign_in (401, or 302 to the sign-in page)"
    nobody = run_signin(env, "access", "check", url, "--user", "nobody")
    assert (nobody.returncode, nobody.stderr) == (1, "error: No account named 'nobody'.\n")
    bad = run_signin(env, "access", "check", "wiki.example.com/x")
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: not an absolute http(s) URL")
    method = run_signin(env, "access", "check", url, "--method", "FOO BAR")
    assert (method.returncode, method.stderr) == (1, "error: not an HTTP method: 'FOO BAR'\n")


def test_bad_rules_file_stops_serve_in_one_line(tmp_path: Path) -> None:
    env = env_with(tmp_path, RULES + "\n[[rule]]\nhosts = ['x.org']\npolicy = 'maybe'\n")
    started = run_signin(env, "serve", "--port", str(free_port()), timeout=60)
    assert started.returncode == 2
    path = tmp_path / "rules.toml"
    assert started.stderr == (
        f"error: {path}: rule 3: policy must be one of bypass, signed_in, two_factor, deny "
        "(got 'maybe')\n"
    )
    check = run_signin(env, "access", "check", "https://x.org/")
    assert check.returncode == 1
    assert "rule 3" in check.stderr


def test_serve_warns_when_sign_up_is_open_behind_forward_auth(tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with server(env_with(tmp_path, RULES), log_path=log):
        pass
    assert "SIGNIN_SIGNUP=open: anyone can make an account" in log.read_text()
    quiet = tmp_path / "quiet.log"
    with server(env_with(tmp_path, RULES, SIGNIN_SIGNUP="invite"), log_path=quiet):
        pass
    assert "SIGNIN_SIGNUP=open" not in quiet.read_text()
