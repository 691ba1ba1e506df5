"""The forward-auth decision: compiled rules, first match decides (SPEC section 12).

The rules are indexed by host once, at start: exact hosts in a dict, `*.domain` suffixes and `*`
in short lists. On the first request for a host and method, the rules that can match it (in file
order) are picked and their paths joined into one regular expression, `(?P<r0>...)|(?P<r1>...)`:
Python's `re` tries the alternatives in order, so the first group that matches names the first
rule that matches, found in one call into C however many rules the host has. That plan is kept
(a bounded memo), so a check costs one dict lookup, one regex match and the path's normalization.
Patterns with backreferences (whose group numbers would shift when joined) or inline flags are
tried one rule at a time instead, with the same result.
"""

from __future__ import annotations

import enum
import posixpath
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import unquote

from signin.accounts.access.rules import Rule
from signin.accounts.usernames import canon
from signin.stores.base import SessionUser

HOST_CACHE_MAX = 4096  # distinct (host, method) plans remembered; past this the memo starts again


class Who(Protocol):
    """A signed-in user as the rules see them (a `SessionUser`, or a `UserRecord` in the CLI)."""

    @property
    def username(self) -> str: ...
    @property
    def groups(self) -> tuple[str, ...]: ...


class Outcome(enum.Enum):
    ALLOW = "allow"  # 200 with the identity headers
    BYPASS = "bypass"  # 200 without them
    SIGN_IN = "sign_in"  # anonymous: 401, or 302 to the sign-in page
    STEP_UP = "step_up"  # signed in without the second factor the rule asks for
    FORBIDDEN = "forbidden"  # 403


@dataclass(frozen=True, slots=True)
class Target:
    """What the proxy is about to forward: host (maybe with a port), path, method."""

    host: str
    path: str | None  # None when the proxy did not say: only rules without `paths` match
    method: str = "GET"


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    rule: Rule | None  # None: no rule matched, the default policy decided
    policy: str


@dataclass(frozen=True, slots=True)
class Plan:
    """The rules that can match one host and method, and their paths as one expression."""

    rules: tuple[Rule, ...]
    joined: re.Pattern[str] | None  # None: try the rules one at a time


_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")


def join_paths(rules: tuple[Rule, ...]) -> re.Pattern[str] | None:
    parts = []
    for index, rule in enumerate(rules):
        if any(_BACKREFERENCE.search(regex.pattern) for regex in rule.path_res):
            return None
        body = "|".join(f"(?:{regex.pattern})" for regex in rule.path_res)
        parts.append(f"(?P<r{index}>{body})")
    try:
        return re.compile("|".join(parts)) if parts else None
    except re.error:  # inline flags, say, which may only open a whole expression
        return None


def normalize_path(raw: str) -> str:
    """The path as the app will see it: query dropped, %-escapes decoded, `.`/`..`/`//` resolved.

    Matching the raw path would let `/public/../admin` pass a `bypass` rule for `^/public/`.
    """
    path = raw.partition("?")[0].partition("#")[0]
    if path.startswith("/") and "%" not in path and "/." not in path and "//" not in path:
        return path  # nothing to resolve (the common case, kept cheap)
    path = unquote(path)
    if not path.startswith("/"):
        path = "/" + path
    normal = posixpath.normpath(path)
    normal = "/" + normal.lstrip("/")
    if path.endswith("/") and normal != "/":
        normal += "/"
    return normal


class Gate:
    def __init__(self, rules: list[Rule], default: str) -> None:
        self.rules = rules
        self.default = default
        self.exact: dict[str, list[Rule]] = {}
        self.suffixes: list[tuple[str, Rule]] = []
        self.anywhere: list[Rule] = []
        for rule in rules:
            for host in rule.hosts:
                if host == "*":
                    self.anywhere.append(rule)
                elif host.startswith("*."):
                    self.suffixes.append((host[1:], rule))
                else:
                    self.exact.setdefault(host, []).append(rule)
        self._plans: dict[tuple[str, str], Plan] = {}

    @property
    def trivial(self) -> bool:
        """No rules and the default of old: a check needs no target at all."""
        return not self.rules and self.default == "signed_in"

    def protects_hosts(self) -> bool:
        return any(rule.policy != "bypass" for rule in self.rules) or self.default != "bypass"

    def plan(self, host: str, method: str) -> Plan:
        found = self._plans.get((host, method))
        if found is None:
            rules = tuple(
                rule
                for rule in self._candidates(host.lower())
                if not rule.methods or method in rule.methods
            )
            found = Plan(rules, join_paths(rules))
            if len(self._plans) >= HOST_CACHE_MAX:
                self._plans.clear()
            self._plans[host, method] = found
        return found

    def _candidates(self, host: str) -> tuple[Rule, ...]:
        bare = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        names = {host, bare}
        chosen: set[int] = set()
        picked: list[Rule] = []
        matches = [rule for name in names for rule in self.exact.get(name, ())]
        matches += [
            rule for suffix, rule in self.suffixes if any(n.endswith(suffix) for n in names)
        ]
        matches += self.anywhere
        for rule in sorted(matches, key=lambda r: r.number):
            if rule.number not in chosen:
                chosen.add(rule.number)
                picked.append(rule)
        return tuple(picked)

    def match(self, target: Target) -> Rule | None:
        """The first rule for this request, or None."""
        plan = self.plan(target.host, target.method)
        if target.path is not None and plan.joined is not None:
            found = plan.joined.match(normalize_path(target.path))
            # The outer group closes last, so `lastgroup` is the rule's own `r<index>`.
            return plan.rules[int(found.lastgroup[1:])] if found and found.lastgroup else None
        path = normalize_path(target.path) if target.path is not None else None
        return next((rule for rule in plan.rules if rule.matches_path(path)), None)

    async def check(
        self, target: Target | None, who: Callable[[], Awaitable[SessionUser | None]]
    ) -> tuple[Outcome, SessionUser | None]:
        """A forward-auth check: the outcome, and the session when one was read.

        `target` None: the rules are not consulted (`trivial`), only the default. `who` reads
        the session; a `bypass` or `deny` rule answers without it, saving the lookup.
        """
        rule = self.match(target) if target is not None else None
        policy = rule.policy if rule is not None else self.default
        if policy in ("bypass", "deny"):
            return outcome(policy, rule, None, two_factor=False), None
        found = await who()
        strong = found is not None and second_factor(found)
        return outcome(policy, rule, found, two_factor=strong), found

    def decide(self, target: Target, user: Who | None, *, two_factor: bool) -> Decision:
        """The answer for `user` (None: anonymous); `two_factor`: the session has one."""
        rule = self.match(target)
        policy = rule.policy if rule is not None else self.default
        return Decision(outcome(policy, rule, user, two_factor), rule, policy)


def second_factor(found: SessionUser) -> bool:
    """Whether the session passed a second factor (a TOTP or recovery code, or a passkey)."""
    return found.session.two_factor


def outcome(policy: str, rule: Rule | None, user: Who | None, two_factor: bool) -> Outcome:
    if policy == "bypass":
        return Outcome.BYPASS
    if policy == "deny":
        return Outcome.FORBIDDEN
    if user is None:
        return Outcome.SIGN_IN
    if rule is not None and rule.restricted and not admitted(rule, user):
        return Outcome.FORBIDDEN
    if policy == "two_factor" and not two_factor:
        return Outcome.STEP_UP
    return Outcome.ALLOW


def admitted(rule: Rule, user: Who) -> bool:
    if rule.groups and not rule.groups.isdisjoint(user.groups):
        return True
    return bool(rule.users) and canon(user.username) in rule.users
