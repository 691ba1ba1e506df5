"""The forward-auth rules (SPEC section 12): file checks, first match, hosts, paths, methods."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from signin.accounts.access.gate import Gate, Outcome, Target, normalize_path
from signin.accounts.access.rules import RulesError, load_rules
from signin.stores.base import SessionRecord, SessionUser

RULES = """
[[rule]]
hosts = ["public.example.com"]
policy = "bypass"

[[rule]]
hosts = ["*.example.com"]
paths = ["/admin(/|$)"]
policy = "signed_in"
groups = ["admins"]

[[rule]]
hosts = ["*.example.com"]
paths = ["/api/", "/hooks/"]
methods = ["POST", "delete"]
policy = "signed_in"
users = ["Zoë"]

[[rule]]
hosts = ["vault.example.com", "vault.example.com:8443"]
policy = "two_factor"

[[rule]]
hosts = ["*"]
paths = ["/\\\\.git"]
policy = "deny"

[[rule]]
hosts = ["closed.example.com"]
policy = "deny"
"""


def gate_from(tmp_path: Path, text: str, default: str = "signed_in") -> Gate:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    return Gate(load_rules(path), default)


def user(name: str = "bob", *groups: str) -> SessionUser:
    session = SessionRecord("s", 1, 0.0, 0.0, 1e12, None, False, None, None)
    return SessionUser(session, name, None, False, False, tuple(sorted(groups)))


@pytest.fixture
def gate(tmp_path: Path) -> Gate:
    return gate_from(tmp_path, RULES)


def number(gate: Gate, host: str, path: str | None, method: str = "GET") -> int | None:
    rule = gate.match(Target(host, path, method))
    return rule.number if rule is not None else None


def test_first_match_in_file_order(gate: Gate) -> None:
    assert number(gate, "public.example.com", "/admin") == 1  # rule 1 comes before rule 2
    assert number(gate, "app.example.com", "/admin") == 2
    assert number(gate, "app.example.com", "/.git/config") == 5


def test_wildcards_cover_subdomains_only(gate: Gate) -> None:
    assert number(gate, "a.b.example.com", "/admin/x") == 2
    assert number(gate, "example.com", "/admin") is None  # `*.example.com` is not the apex
    assert number(gate, "badexample.com", "/admin") is None
    assert number(gate, "APP.Example.COM", "/admin") == 2  # hosts are case-insensitive
    assert number(gate, "other.org", "/.git") == 5  # `*`: any host


def test_ports(gate: Gate) -> None:
    assert number(gate, "vault.example.com:8443", "/") == 4
    assert number(gate, "vault.example.com:9000", "/") == 4  # a rule without port: any port
    assert number(gate, "app.example.com:8080", "/admin") == 2


def test_paths_are_anchored_at_the_start(gate: Gate) -> None:
    assert number(gate, "app.example.com", "/admin") == 2
    assert number(gate, "app.example.com", "/administrator") is None  # `(/|$)` in the rule
    assert number(gate, "app.example.com", "/x/admin") is None  # not a search anywhere
    assert number(gate, "app.example.com", "/admin?q=1") == 2  # the query is not the path


def test_paths_are_normalized_before_matching(gate: Gate) -> None:
    assert number(gate, "public.example.com", "/anything") == 1
    assert number(gate, "app.example.com", "/public/../admin/") == 2
    assert number(gate, "app.example.com", "/%61dmin") == 2
    assert number(gate, "app.example.com", "//admin") == 2
    assert normalize_path("/a/./b/../c/") == "/a/c/"
    assert normalize_path("/../..") == "/"


def test_unknown_path_matches_only_rules_without_paths(gate: Gate) -> None:
    assert number(gate, "app.example.com", None) is None
    assert number(gate, "vault.example.com", None) == 4


def test_methods(gate: Gate) -> None:
    assert number(gate, "app.example.com", "/api/x", "POST") == 3
    assert number(gate, "app.example.com", "/hooks/y", "DELETE") == 3  # listed in lower case
    assert number(gate, "app.example.com", "/api/x", "GET") is None


def test_outcomes(gate: Gate) -> None:
    def decide(host: str, path: str, who: SessionUser | None, method: str = "GET") -> Outcome:
        return gate.decide(Target(host, path, method), who, two_factor=False).outcome

    assert decide("public.example.com", "/", None) is Outcome.BYPASS
    assert decide("closed.example.com", "/", user()) is Outcome.FORBIDDEN
    assert decide("app.example.com", "/admin", None) is Outcome.SIGN_IN
    assert decide("app.example.com", "/admin", user("bob")) is Outcome.FORBIDDEN
    assert decide("app.example.com", "/admin", user("bob", "admins", "x")) is Outcome.ALLOW
    assert decide("app.example.com", "/api/x", user("ZOË"), "POST") is Outcome.ALLOW  # canon
    assert decide("app.example.com", "/api/x", user("zoe"), "POST") is Outcome.FORBIDDEN
    assert decide("vault.example.com", "/", user()) is Outcome.STEP_UP
    two = gate.decide(Target("vault.example.com", "/"), user(), two_factor=True)
    assert two.outcome is Outcome.ALLOW
    assert two.rule is not None
    assert two.rule.number == 4
    default = gate.decide(Target("elsewhere.org", "/"), user(), two_factor=False)
    assert default.rule is None
    assert default.outcome is Outcome.ALLOW


@pytest.mark.parametrize(
    ("default", "anonymous", "signed_in"),
    [
        ("signed_in", Outcome.SIGN_IN, Outcome.ALLOW),
        ("deny", Outcome.FORBIDDEN, Outcome.FORBIDDEN),
        ("bypass", Outcome.BYPASS, Outcome.BYPASS),
        ("two_factor", Outcome.SIGN_IN, Outcome.STEP_UP),
    ],
)
def test_default_policy(
    tmp_path: Path, default: str, anonymous: Outcome, signed_in: Outcome
) -> None:
    gate = gate_from(tmp_path, "", default)
    target = Target("x.org", "/")
    assert gate.decide(target, None, two_factor=False).outcome is anonymous
    assert gate.decide(target, user(), two_factor=False).outcome is signed_in
    assert gate.trivial is (default == "signed_in")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[rule]\n", "not valid TOML"),
        ("policy = 'deny'\n", "unknown top-level key 'policy'"),
        ("rule = 1\n", "'rule' must be an array of tables"),
        ("[[rule]]\npolicy = 'deny'\n", "rule 1: hosts is required"),
        ("[[rule]]\nhosts = 'a.org'\npolicy = 'deny'\n", "rule 1: hosts must be a non-empty"),
        ("[[rule]]\nhosts = []\npolicy = 'deny'\n", "rule 1: hosts must be a non-empty"),
        ("[[rule]]\nhosts = ['a b']\npolicy = 'deny'\n", "rule 1: hosts: 'a b' is not a host"),
        ("[[rule]]\nhosts = ['*.*.org']\npolicy = 'deny'\n", "rule 1: hosts: '*.*.org'"),
        (
            "[[rule]]\nhosts = ['a.org']\npolicy = 'deny'\n[[rule]]\nhosts = ['a.org']\n"
            "paths = ['(']\npolicy = 'bypass'\n",
            "rule 2: paths: not a regular expression",
        ),
        ("[[rule]]\nhosts = ['a.org']\npolicy = 'allow'\n", "rule 1: policy must be one of"),
        ("[[rule]]\nhosts = ['a.org']\n", "rule 1: policy must be one of"),
        (
            "[[rule]]\nhosts = ['a.org']\nmethods = ['FETCH']\npolicy = 'deny'\n",
            "rule 1: methods: unknown method 'FETCH'",
        ),
        (
            "[[rule]]\nhosts = ['a.org']\ngroups = ['Admins']\npolicy = 'signed_in'\n",
            "rule 1: groups: 'Admins' is not a group name",
        ),
        (
            "[[rule]]\nhosts = ['a.org']\ngroups = ['a']\npolicy = 'bypass'\n",
            "rule 1: groups and users have no meaning with policy 'bypass'",
        ),
        ("[[rule]]\nhosts = ['a.org']\npolicy = 'deny'\npath = ['/']\n", "unknown key 'path'"),
    ],
)
def test_bad_files_name_the_file_and_the_rule(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    line = str(caught.value)
    assert line.startswith(f"{path}: ")
    assert message in line
    assert "\n" not in line


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path / "nope.toml")


def test_host_memo_is_bounded(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("signin.accounts.access.gate.HOST_CACHE_MAX", 4)
    for index in range(10):
        gate.match(Target(f"h{index}.example.com", "/admin"))
    assert len(gate._plans) <= 4
    assert number(gate, "h1.example.com", "/admin") == 2


def test_joined_expression_agrees_with_one_rule_at_a_time(gate: Gate) -> None:
    """The plan's one expression picks the same first rule as testing each rule in order."""
    paths = ["/admin", "/admin/x", "/administrator", "/api/v", "/hooks/", "/.git", "/", "/x"]
    for host in ["app.example.com", "a.b.example.com", "public.example.com", "other.org"]:
        for method in ["GET", "POST", "DELETE"]:
            plan = gate.plan(host, method)
            assert plan.joined is not None
            for path in paths:
                looped = next((r for r in plan.rules if r.matches_path(path)), None)
                assert gate.match(Target(host, path, method)) is looped, (host, method, path)


def test_backreferences_and_inline_flags_are_tried_rule_by_rule(tmp_path: Path) -> None:
    gate = gate_from(
        tmp_path,
        """
[[rule]]
hosts = ["a.org"]
paths = ["/(x)y\\\\1$"]
policy = "deny"

[[rule]]
hosts = ["b.org"]
paths = ["(?i)/caps"]
policy = "deny"

[[rule]]
hosts = ["a.org", "b.org"]
paths = ["/(?P<name>z)"]
policy = "bypass"
""",
    )
    assert gate.plan("a.org", "GET").joined is None
    assert gate.match(Target("a.org", "/xyx")).number == 1  # type: ignore[union-attr]
    assert gate.match(Target("a.org", "/xyy")) is None
    assert gate.match(Target("a.org", "/z")).number == 3  # type: ignore[union-attr]
    assert gate.plan("b.org", "GET").joined is None
    assert gate.match(Target("b.org", "/CAPS")).number == 1 + 1  # type: ignore[union-attr]
    assert gate.match(Target("b.org", "/z")).number == 3  # type: ignore[union-attr]


async def test_check_reads_the_session_only_when_the_rule_needs_it(gate: Gate) -> None:
    reads: list[str] = []

    async def who() -> SessionUser | None:
        reads.append("read")
        return user("bob", "admins")

    assert await gate.check(Target("public.example.com", "/"), who) == (Outcome.BYPASS, None)
    assert await gate.check(Target("x.org", "/.git/HEAD"), who) == (Outcome.FORBIDDEN, None)
    assert reads == []
    answer, found = await gate.check(Target("app.example.com", "/admin"), who)
    assert (answer, reads) == (Outcome.ALLOW, ["read"])
    assert found is not None
    assert (await gate.check(Target("vault.example.com", "/"), who))[0] is Outcome.STEP_UP
    assert (await gate.check(None, who))[0] is Outcome.ALLOW  # no target: the default only


def test_shipped_and_documented_rules_load() -> None:
    """docs/examples/access.toml (the deploy steps install it) is what docs/deploy.md shows."""
    examples = Path(__file__).resolve().parents[2] / "docs"
    rules = load_rules(examples / "examples" / "access.toml")
    assert [rule.policy for rule in rules] == [
        "bypass",
        "signed_in",
        "signed_in",
        "two_factor",
        "deny",
    ]
    shown = (examples / "deploy.md").read_text(encoding="utf-8").split("```toml\n")[1]
    assert tomllib.loads(shown.split("```")[0]) == tomllib.loads(
        (examples / "examples" / "access.toml").read_text(encoding="utf-8")
    )
    gate = Gate(rules, "signed_in")
    assert gate.match(Target("app.example.com", "/static/app.css")) is rules[0]
    assert gate.match(Target("x.org", "/.git/config")) is rules[4]
